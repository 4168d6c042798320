"""The subtle anomalies: each one's physics, where the evaluation puts them, and its figures."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxjepa import get_config, world
from jaxjepa.evaluation import anomaly
from jaxjepa.evaluation.settings import EvalSettings

CONFIG = get_config()
LENGTH = 48


def mid_air_case(kind: str, seed: int):
    """A trajectory with anomaly `kind` at a mid-air frame, the same trajectory left alone, and the frame."""
    key = jax.random.key(seed)
    untouched = world.trajectory(key, LENGTH, CONFIG, margin=CONFIG.eval_start_margin)
    t_a = int(anomaly.mid_air_frames(jax.random.key(100 + seed), untouched.velocities[None], 8, LENGTH - 8)[0])
    broken = world.trajectory(key, LENGTH, CONFIG, margin=CONFIG.eval_start_margin, anomaly_frame=t_a, anomaly=kind)
    return broken, untouched, t_a


def no_bounce_between(velocities: np.ndarray, first: int, last: int) -> bool:
    return bool(np.all(velocities[first : last + 1] == velocities[first]))


class AnomalyStateTest(chex.TestCase):
    """The state maps themselves, as pure functions."""

    position, velocity = jnp.array([6.0, 9.0]), jnp.array([0.75, -0.75])

    @chex.variants(with_jit=True, without_jit=True)
    def test_flip_reverses_velocity_in_place(self):
        p, v = self.variant(lambda p, v: world.velocity_flip(jax.random.key(0), p, v, CONFIG))(
            self.position, self.velocity
        )
        np.testing.assert_array_equal(p, self.position)
        np.testing.assert_array_equal(v, -self.velocity)

    @chex.variants(with_jit=True, without_jit=True)
    def test_speed_change_scales_speed_and_keeps_direction(self):
        change = self.variant(jax.vmap(lambda k: world.speed_change(k, self.position, self.velocity, CONFIG)))
        p, v = change(jax.random.split(jax.random.key(1), 64))
        factors = np.asarray(v / self.velocity)
        assert np.allclose(factors[:, 0], factors[:, 1])  # direction kept
        assert set(np.round(factors[:, 0], 6)) == set(world.SPEED_FACTORS)  # both factors occur, nothing else
        np.testing.assert_array_equal(p, np.broadcast_to(self.position, p.shape))

    @chex.variants(with_jit=True, without_jit=True)
    def test_freeze_zeroes_velocity(self):
        p, v = self.variant(lambda p, v: world.freeze(jax.random.key(0), p, v, CONFIG))(self.position, self.velocity)
        np.testing.assert_array_equal(v, 0.0)
        np.testing.assert_array_equal(p, self.position)

    @chex.variants(with_jit=True, without_jit=True)
    def test_small_jump_moves_one_to_two_px_and_keeps_velocity(self):
        jump = self.variant(jax.vmap(lambda k: world.small_jump(k, self.position, self.velocity, CONFIG)))
        p, v = jump(jax.random.split(jax.random.key(2), 256))
        distance = np.linalg.norm(np.asarray(p) - np.asarray(self.position), axis=-1)
        assert distance.min() >= world.JUMP_PX[0] - 1e-5 and distance.max() <= world.JUMP_PX[1] + 1e-5
        assert distance.max() - distance.min() > 0.5  # a range, not one length
        np.testing.assert_array_equal(v, np.broadcast_to(self.velocity, v.shape))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flip_in_a_trajectory_reverses_velocity_at_that_frame(seed):
    broken, untouched, t_a = mid_air_case("flip", seed)
    v, p = np.asarray(broken.velocities), np.asarray(broken.positions)
    np.testing.assert_array_equal(p[:t_a], np.asarray(untouched.positions)[:t_a])  # nothing before
    np.testing.assert_array_equal(v[t_a], -np.asarray(untouched.velocities)[t_a - 1])
    np.testing.assert_allclose(p[t_a], p[t_a - 1] + v[t_a], atol=1e-5)  # it turned back, mid-air
    assert no_bounce_between(
        np.asarray(untouched.velocities), t_a - anomaly.MID_AIR_FRAMES, t_a + anomaly.MID_AIR_FRAMES
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_speed_change_in_a_trajectory_scales_speed(seed):
    broken, untouched, t_a = mid_air_case("speed", seed)
    v, p = np.asarray(broken.velocities), np.asarray(broken.positions)
    ratio = np.abs(v[t_a]) / np.abs(np.asarray(untouched.velocities)[t_a])
    assert np.isclose(ratio[0], ratio[1]) and np.round(ratio[0], 6) in world.SPEED_FACTORS
    np.testing.assert_allclose(p[t_a] - p[t_a - 1], v[t_a], atol=1e-5)
    np.testing.assert_allclose(np.abs(v[t_a:]), np.abs(v[t_a]) * np.ones_like(v[t_a:]), atol=1e-6)  # for good


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_freeze_keeps_the_position_constant(seed):
    broken, untouched, t_a = mid_air_case("freeze", seed)
    p = np.asarray(broken.positions)
    np.testing.assert_array_equal(p[t_a - 1 :], np.broadcast_to(p[t_a - 1], p[t_a - 1 :].shape))
    frames = np.asarray(broken.frames)
    np.testing.assert_array_equal(frames[t_a:], np.broadcast_to(frames[t_a - 1], frames[t_a:].shape))
    assert not np.array_equal(frames[t_a - 1], frames[t_a - 2])  # it was moving before


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jump_moves_the_logo_one_to_two_px(seed):
    broken, untouched, t_a = mid_air_case("jump", seed)
    moved = np.linalg.norm(np.asarray(broken.positions)[t_a] - np.asarray(untouched.positions)[t_a])
    assert world.JUMP_PX[0] - 1e-4 <= moved <= world.JUMP_PX[1] + 1e-4
    np.testing.assert_array_equal(np.asarray(broken.velocities)[t_a], np.asarray(untouched.velocities)[t_a])


def test_default_anomaly_is_still_the_teleport():
    key = jax.random.key(5)
    chex.assert_trees_all_equal(
        world.trajectory(key, 30, CONFIG, anomaly_frame=12),
        world.trajectory(key, 30, CONFIG, anomaly_frame=12, anomaly="teleport"),
    )


def test_unknown_anomaly_is_refused_with_its_name():
    with pytest.raises(ValueError, match="wobble"):
        world.trajectory(jax.random.key(0), 10, CONFIG, anomaly_frame=3, anomaly="wobble")


def test_mid_air_frames_avoid_bounces_and_stay_in_range():
    traj = world.trajectories(jax.random.key(7), 64, LENGTH, CONFIG, margin=CONFIG.eval_start_margin)
    frames = np.asarray(anomaly.mid_air_frames(jax.random.key(8), traj.velocities, 8, LENGTH - 8))
    velocities = np.asarray(traj.velocities)
    assert frames.min() >= 8 and frames.max() < LENGTH - 8
    m = anomaly.MID_AIR_FRAMES
    assert all(no_bounce_between(velocities[i], f - m - 1, f + m) for i, f in enumerate(frames))
    assert len(set(frames.tolist())) > 10  # random, not one frame


@pytest.mark.parametrize("kind", anomaly.SUBTLE_KINDS)
def test_subtle_anomaly_evaluation_runs_and_counts_every_anomaly(kind, tiny, tiny_result):
    settings = EvalSettings(anomaly_trajectories=16, anomaly_length=24, anomaly_first_frame=6, examples=1)
    out = jax.jit(lambda p, k: anomaly.detect(p, k, tiny, settings, kind=kind))(tiny_result.params, jax.random.key(3))
    chex.assert_tree_all_finite({space: out[space]["roc_auc"] for space in ("latent", "pixel")})
    assert int(out["visible_count"]) == 16 and int(out["invisible_count"]) == 0
    assert 0.0 <= float(out["latent"]["roc_auc"]) <= 1.0
    assert float(out["displacement_px"]) > 0.3  # the anomaly moved the logo


# ---------- harder worlds (config fields whose defaults leave the reference world alone) ----------


def test_two_logos_move_independently_and_are_both_drawn():
    config = get_config("two_logos")
    traj = world.trajectory(jax.random.key(0), 20, config, margin=config.eval_start_margin)
    chex.assert_shape([traj.frames, traj.positions, traj.velocities], [(20, 16, 16), (20, 4), (20, 4)])
    p = np.asarray(traj.positions).reshape(20, 2, 2)
    assert not np.allclose(p[:, 0], p[:, 1])
    for logo in range(2):  # each logo's own blob peaks (value 1) at its pixel when on the grid
        frame = np.asarray(world.render(jnp.round(jnp.asarray(p[0])), config))
        y, x = np.round(p[0, logo]).astype(int)
        np.testing.assert_allclose(frame[y, x], 1.0, rtol=1e-6)
    assert float(traj.frames.max()) <= 1.0


def test_random_speed_varies_per_sequence_within_its_range():
    config = get_config("random_speed")
    traj = world.trajectories(jax.random.key(1), 64, 5, config)
    speed = np.abs(np.asarray(traj.velocities)[:, 0, 0])
    base = CONFIG.speed * (CONFIG.frame_size - 1)
    assert (
        speed.min() >= base * (1 - config.speed_jitter) - 1e-6
        and speed.max() <= base * (1 + config.speed_jitter) + 1e-6
    )
    assert speed.std() > 0.1 * base
    np.testing.assert_allclose(np.abs(np.asarray(traj.velocities)[:, 0, 1]), speed)  # still diagonal


def test_pixel_noise_changes_frames_not_motion():
    noisy, clean = get_config("noisy"), CONFIG
    a = world.trajectory(jax.random.key(2), 12, noisy)
    b = world.trajectory(jax.random.key(2), 12, clean)
    np.testing.assert_array_equal(a.positions, b.positions)
    residual = np.asarray(a.frames - b.frames)
    assert 0.5 * noisy.pixel_noise < residual.std() < 1.5 * noisy.pixel_noise
    assert float(a.frames.min()) >= 0.0 and float(a.frames.max()) <= 1.0


@pytest.mark.parametrize("name", ["world32", "world64"])
def test_larger_frames_keep_the_physics_in_their_box(name):
    config = get_config(name)
    traj = world.trajectory(jax.random.key(3), 80, config)
    H = config.frame_size
    chex.assert_shape(traj.frames, (80, H, H))
    p = np.asarray(traj.positions)
    assert p.min() >= 1.0 and p.max() <= H - 2.0
    np.testing.assert_allclose(np.abs(np.asarray(traj.velocities)), config.speed * (H - 1), rtol=1e-6)


def test_position_probe_reads_every_logo():
    from jaxjepa import models, probe
    from tests.conftest import tiny_config

    config = tiny_config(logos=2)
    # one compiled program: run op by op, the trajectories' scans and the fit cost many small compiles
    out = jax.jit(probe.probe_position, static_argnums=2)(
        models.init_params(jax.random.key(0), config), jax.random.key(1), config
    )
    chex.assert_shape(out["probe_rmse_yx"], (4,))
    chex.assert_tree_all_finite(out)

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxjepa import get_config, world

CONFIG = get_config()
H = CONFIG.frame_size
SPEED = CONFIG.speed * (H - 1)  # 0.75 px per frame


class StepTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_free_flight_moves_by_velocity(self):
        step = self.variant(lambda p, v: world.step(p, v, CONFIG))
        p, v = step(jnp.array([5.0, 7.0]), jnp.array([0.75, -0.75]))
        np.testing.assert_allclose(p, [5.75, 6.25])
        np.testing.assert_allclose(v, [0.75, -0.75])

    @chex.variants(with_jit=True, without_jit=True)
    def test_wall_reflects_and_clips(self):
        step = self.variant(lambda p, v: world.step(p, v, CONFIG))
        p, v = step(jnp.array([H - 2.5, 1.5]), jnp.array([0.75, -0.75]))
        np.testing.assert_allclose(p, [H - 2.0, 1.0])  # clipped to [1, H - 2]
        np.testing.assert_allclose(v, [-0.75, 0.75])  # both axes flipped

    @chex.variants(with_jit=True, without_jit=True)
    def test_render_peaks_at_position(self):
        render = self.variant(lambda p: world.render(p, CONFIG))
        frame = render(jnp.array([4.0, 11.0]))
        chex.assert_shape(frame, (H, H))
        chex.assert_type(frame, jnp.float32)
        assert np.unravel_index(np.argmax(frame), frame.shape) == (4, 11)
        np.testing.assert_allclose(frame[4, 11], 1.0, rtol=1e-6)
        # the Gaussian's width: one pixel away the value is exp(-1 / (2 sigma^2))
        np.testing.assert_allclose(frame[4, 12], np.exp(-1 / (2 * CONFIG.sigma**2)), rtol=1e-6)


def test_trajectories_stay_in_bounds_and_keep_speed():
    traj = world.trajectories(jax.random.key(1), 32, 200, CONFIG)
    chex.assert_shape(traj.frames, (32, 200, H, H))
    chex.assert_shape(traj.positions, (32, 200, 2))
    assert float(traj.positions.min()) >= 1.0 and float(traj.positions.max()) <= H - 2
    np.testing.assert_allclose(np.abs(traj.velocities), SPEED, rtol=1e-6)
    assert float(traj.frames.min()) >= 0.0 and float(traj.frames.max()) <= 1.0
    # 200 frames at 0.75 px/frame cross the 13 px box many times: every trajectory bounced
    flips = np.abs(np.diff(np.sign(np.asarray(traj.velocities)), axis=1)).sum(axis=(1, 2))
    assert (flips > 0).all()


def test_starts_respect_margins():
    for margin in (CONFIG.train_start_margin, CONFIG.eval_start_margin):
        starts = jax.vmap(lambda k, margin=margin: world.random_start(k, margin, CONFIG)[0])(
            jax.random.split(jax.random.key(2), 2000)
        )
        assert float(starts.min()) >= margin and float(starts.max()) < H - 1 - margin


def test_frame_zero_shows_one_step_of_motion():
    key = jax.random.key(3)
    start, velocity = world.random_start(jax.random.split(key)[0], CONFIG.train_start_margin, CONFIG)
    traj = world.trajectory(key, 5, CONFIG)
    np.testing.assert_allclose(traj.positions[0], start + velocity, rtol=1e-6)
    np.testing.assert_allclose(traj.frames[0], world.render(traj.positions[0], CONFIG), rtol=1e-6)


def test_teleport_moves_position_and_keeps_speed():
    key, t_a = jax.random.key(4), 20
    normal = world.trajectory(key, 40, CONFIG)
    jumped = world.trajectory(key, 40, CONFIG, anomaly_frame=t_a)
    np.testing.assert_array_equal(normal.frames[:t_a], jumped.frames[:t_a])  # identical until t_a
    assert not np.allclose(normal.positions[t_a], jumped.positions[t_a])
    np.testing.assert_allclose(np.abs(jumped.velocities), SPEED, rtol=1e-6)  # velocity magnitude kept


def test_teleport_keeps_the_current_velocity_not_the_starting_one():
    """Find a trajectory that bounced before the anomaly frame: after the jump it must fly on with the
    velocity it had just before (the reference keeps velocity), not the one it started with."""
    t_a = 30
    keys = jax.random.split(jax.random.key(7), 64)
    normal = jax.vmap(lambda k: world.trajectory(k, 40, CONFIG))(keys)
    bounced = np.flatnonzero(np.any(normal.velocities[:, t_a - 1] != normal.velocities[:, 0], axis=-1))
    assert bounced.size, "no trajectory bounced before the anomaly frame: pick another key"
    key = keys[bounced[0]]
    jumped = world.trajectory(key, 40, CONFIG, anomaly_frame=t_a)
    before = np.asarray(normal.velocities[bounced[0], t_a - 1])
    # the landing box [3, 12] is a step away from the walls [1, 14], so no bounce right after the jump
    np.testing.assert_array_equal(np.asarray(jumped.velocities[t_a]), before)


def test_same_key_same_world_other_key_other_world():
    a = world.trajectories(jax.random.key(5), 4, 30, CONFIG)
    b = world.trajectories(jax.random.key(5), 4, 30, CONFIG)
    c = world.trajectories(jax.random.key(6), 4, 30, CONFIG)
    chex.assert_trees_all_equal(a, b)
    assert not np.allclose(a.positions, c.positions)


def test_observations_stack_consecutive_frames():
    frames = jnp.arange(5 * 4 * 4, dtype=jnp.float32).reshape(5, 4, 4)
    obs = world.observations(frames)
    chex.assert_shape(obs, (4, 2, 4, 4))
    np.testing.assert_array_equal(obs[2, 0], frames[2])
    np.testing.assert_array_equal(obs[2, 1], frames[3])
    chex.assert_shape(world.flatten_observations(obs), (4, 32))


@pytest.mark.parametrize("size,speed", [(32, 0.05), (24, 0.02)])
def test_world_size_and_speed_are_configurable(size, speed):
    config = get_config(frame_size=size, speed=speed)
    traj = world.trajectories(jax.random.key(7), 3, 50, config)
    chex.assert_shape(traj.frames, (3, 50, size, size))
    np.testing.assert_allclose(np.abs(traj.velocities), speed * (size - 1), rtol=1e-6)
    assert float(traj.positions.max()) <= size - 2

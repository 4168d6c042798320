"""The controllable world's physics and data, and the action-conditioned predictor's training."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tiny_config, tiny_steer_config

from jaxjepa import get_config, make_train, models, seed_keys, steer, trainer
from jaxjepa.steer import SteerState


def steer_config(**overrides):
    return get_config("default", world="steer", action_dim=2, **overrides)


@pytest.fixture(scope="module")
def walks():
    """64 training-style trajectories of 64 frames, drawn by one compiled program for the tests below."""
    config = steer_config()
    return jax.jit(lambda k: steer.trajectories(k, 64, 64, config))(jax.random.key(1))


def test_actions_are_clipped_to_the_unit_box():
    config = steer_config()
    state = SteerState(jnp.array([7.0, 7.0]), jnp.zeros(2))
    huge = steer.step(state, jnp.array([50.0, -50.0]), config)
    unit = steer.step(state, jnp.array([1.0, -1.0]), config)
    np.testing.assert_array_equal(huge.velocity, unit.velocity)
    np.testing.assert_allclose(unit.velocity, [0.25, -0.25])
    np.testing.assert_allclose(unit.position, [7.25, 6.75])


def test_a_nan_action_pushes_nothing_along_its_axis():
    config = steer_config()
    state = SteerState(jnp.array([7.0, 7.0]), jnp.array([0.5, 0.5]))
    nan = steer.step(state, jnp.array([jnp.nan, 1.0]), config)
    np.testing.assert_array_equal(nan.position, steer.step(state, jnp.array([0.0, 1.0]), config).position)


def test_speed_is_clipped_per_axis_at_the_limit():
    config = steer_config()
    state = SteerState(jnp.array([7.0, 7.0]), jnp.array([1.4, -0.5]))
    nxt = steer.step(state, jnp.array([1.0, 1.0]), config)
    np.testing.assert_allclose(nxt.velocity, [1.5, -0.25])  # y clipped at the limit, x accelerated freely
    actions = jnp.ones((20, 2))
    traj = steer.rollout(SteerState(jnp.array([7.0, 7.0]), jnp.zeros(2)), actions, config)
    assert float(jnp.max(jnp.abs(traj.velocities))) == pytest.approx(1.5)


def test_the_logo_bounces_off_a_wall_and_stays_in_the_box(walks):
    config = steer_config()
    state = SteerState(jnp.array([13.5, 7.0]), jnp.array([1.0, 0.0]))  # wall at H - 2 = 14
    nxt = steer.step(state, jnp.zeros(2), config)
    np.testing.assert_allclose(nxt.position, [14.0, 7.0])
    np.testing.assert_allclose(nxt.velocity, [-1.0, 0.0])
    assert float(walks.positions.min()) >= 1.0 and float(walks.positions.max()) <= 14.0


def test_training_trajectories_cover_stops_fast_motion_and_bounces(walks):
    config, traj = steer_config(), walks
    chex.assert_shape((traj.frames, traj.actions), [(64, 64, 16, 16), (64, 64, 2)])
    assert float(jnp.abs(traj.actions).max()) <= 1.0
    cov = steer.coverage(traj, config)
    assert float(cov.speed_histogram.sum()) == pytest.approx(1.0)
    assert float(cov.slow) > 0.03 and float(cov.fast) > 0.1 and float(cov.bounces) > 0.05
    # the frames are those of the recorded positions: the physics drives what the encoder sees
    np.testing.assert_allclose(
        traj.frames[3, 5],
        steer.observe(
            SteerState(traj.positions[3, 4], traj.velocities[3, 4]),
            SteerState(traj.positions[3, 5], traj.velocities[3, 5]),
            config,
        ).reshape(2, 16, 16)[1],
        atol=1e-6,
    )


def test_window_actions_drive_the_window_observations():
    actions = jax.random.uniform(jax.random.key(2), (4, 12, 2))  # training_data's layout [N, T, 2]
    starts = jnp.array([0, 12 + 3, 3 * 12 + 7])
    got = trainer.window_actions(actions, starts, 3)
    flat = actions.reshape(-1, 2)
    np.testing.assert_array_equal(got, jnp.stack([flat[s + 2 : s + 5] for s in np.asarray(starts)]))


def test_action_conditioned_predictor_learns_and_keeps_the_default_shapes():
    config = tiny_steer_config()
    params = models.init_params(jax.random.key(0), config)
    assert params["predictor"]["params"]["layer0"]["kernel"].shape == (34, 64)
    assert models.init_params(jax.random.key(0), tiny_config())["predictor"]["params"]["layer0"]["kernel"].shape == (
        32,
        64,
    )
    result = jax.jit(make_train(config))(seed_keys(0)[0])
    chex.assert_tree_all_finite(result.params)
    # the trained predictor reads the actions: the true ones predict the next latents better than the
    # same actions given to other windows of the batch
    true_loss, rolled_loss = jax.jit(lambda params: action_losses(params, config))(result.params)
    assert float(true_loss) < float(rolled_loss)


def action_losses(params: dict, config) -> tuple[jax.Array, jax.Array]:
    """The 2-step prediction loss on fresh windows with their true actions, and with the batch's actions
    rolled by one window (each window driven by another's actions). One program: compiled once."""
    frames, actions = trainer.training_data(jax.random.key(9), config)  # fresh sequences
    starts = trainer.draw_starts(jax.random.key(10), frames, 256, 2)
    obs, future = trainer.windows_at(frames, starts, 2)
    online = {"encoder": params["encoder"], "predictor": params["predictor"]}
    true_actions = trainer.window_actions(actions, starts, 2)

    def pred_loss(window_actions):
        _, parts = trainer.multistep_loss(online, params["target"], obs, future, jnp.ones(2), config, window_actions)
        return parts["pred_loss"]

    return pred_loss(true_actions), pred_loss(jnp.roll(true_actions, 1, axis=0))


def test_bad_world_settings_are_refused():
    with pytest.raises(ValueError, match="action_dim"):
        get_config("default", world="steer")
    with pytest.raises(ValueError, match="world"):
        get_config("default", world="maze")

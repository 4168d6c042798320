"""The controllable world's physics and data, and the action-conditioned predictor's training."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tiny_config

from jaxjepa import get_config, make_train, models, seed_keys, steer, trainer
from jaxjepa.steer import SteerState


def steer_config(**overrides):
    return get_config("default", world="steer", action_dim=2, **overrides)


def test_actions_are_clipped_to_the_unit_box():
    config = steer_config()
    state = SteerState(jnp.array([7.0, 7.0]), jnp.zeros(2))
    huge = steer.step(state, jnp.array([50.0, -50.0]), config)
    unit = steer.step(state, jnp.array([1.0, -1.0]), config)
    np.testing.assert_array_equal(huge.velocity, unit.velocity)
    np.testing.assert_allclose(unit.velocity, [0.25, -0.25])
    np.testing.assert_allclose(unit.position, [7.25, 6.75])


def test_speed_is_clipped_per_axis_at_the_limit():
    config = steer_config()
    state = SteerState(jnp.array([7.0, 7.0]), jnp.array([1.4, -0.5]))
    nxt = steer.step(state, jnp.array([1.0, 1.0]), config)
    np.testing.assert_allclose(nxt.velocity, [1.5, -0.25])  # y clipped at the limit, x accelerated freely
    actions = jnp.ones((20, 2))
    traj = steer.rollout(SteerState(jnp.array([7.0, 7.0]), jnp.zeros(2)), actions, config)
    assert float(jnp.max(jnp.abs(traj.velocities))) == pytest.approx(1.5)


def test_the_logo_bounces_off_a_wall_and_stays_in_the_box():
    config = steer_config()
    state = SteerState(jnp.array([13.5, 7.0]), jnp.array([1.0, 0.0]))  # wall at H - 2 = 14
    nxt = steer.step(state, jnp.zeros(2), config)
    np.testing.assert_allclose(nxt.position, [14.0, 7.0])
    np.testing.assert_allclose(nxt.velocity, [-1.0, 0.0])
    traj = steer.trajectories(jax.random.key(0), 32, 40, config)
    assert float(traj.positions.min()) >= 1.0 and float(traj.positions.max()) <= 14.0


def test_training_trajectories_cover_stops_fast_motion_and_bounces():
    config = steer_config()
    traj = steer.trajectories(jax.random.key(1), 64, 64, config)
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
    config = steer_config()
    frames, actions = trainer.training_data(jax.random.key(2), config.replace(train_sequences=4, seq_len=12))
    starts = jnp.array([0, 12 + 3, 3 * 12 + 7])
    got = trainer.window_actions(actions, starts, 3)
    flat = actions.reshape(-1, 2)
    np.testing.assert_array_equal(got, jnp.stack([flat[s + 2 : s + 5] for s in np.asarray(starts)]))


def test_action_conditioned_predictor_learns_and_keeps_the_default_shapes():
    config = tiny_config(world="steer", action_dim=2, rollout_steps=2, steps=120, decoder_steps=5)
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
    frames, actions = trainer.training_data(jax.random.key(9), config)  # fresh sequences
    starts = trainer.draw_starts(jax.random.key(10), frames, 256, 2)
    obs, future = trainer.windows_at(frames, starts, 2)
    online = {"encoder": result.params["encoder"], "predictor": result.params["predictor"]}
    true_actions = trainer.window_actions(actions, starts, 2)

    def pred_loss(window_actions):
        return float(
            trainer.multistep_loss(online, result.params["target"], obs, future, jnp.ones(2), config, window_actions)[
                1
            ]["pred_loss"]
        )

    assert pred_loss(true_actions) < pred_loss(jnp.roll(true_actions, 1, axis=0))


def test_bad_world_settings_are_refused():
    with pytest.raises(ValueError, match="action_dim"):
        get_config("default", world="steer")
    with pytest.raises(ValueError, match="world"):
        get_config("default", world="maze")

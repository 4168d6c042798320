"""Planners on a problem with a known answer, vmapped episodes, and refused requests."""

import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import USERS_FUSION, tiny_config

from jaxjepa import get_config, planning, steer, two_rooms, two_rooms_planning
from jaxjepa.planning import Task, WorldModel
from jaxjepa.steer import SteerState

FAST = dict(plan_samples=32, plan_horizon=8, plan_iterations=2, episode_steps=40)


def steer_config(**overrides):
    return get_config("default", world="steer", action_dim=2, **{**FAST, **overrides})


def linear_model(config) -> WorldModel:
    """The latent IS the true (position, velocity), the predictor the true dynamics away from walls:
    v' = v + gain a, p' = p + v' (a linear map), so the planner's only job is to plan."""

    def predict(z, a):
        velocity = z[:, 2:] + config.steer_gain * jnp.clip(a, -1.0, 1.0)
        return jnp.concatenate([z[:, :2] + velocity, velocity], axis=-1)

    return WorldModel(planning.state_vector, lambda s: s, predict)


@pytest.mark.parametrize("planner", ["mppi", "cem"])
@pytest.mark.parametrize("cost", ["sum", "last"])
def test_known_answer_both_planners_reach_the_goal_with_the_true_linear_model(planner, cost):
    config = steer_config(planner=planner, plan_cost=cost)
    episodes = jax.jit(lambda k: planning.episodes(k, 16, linear_model(config), config))(jax.random.key(3))
    chex.assert_shape(episodes.positions, (16, 40, 2))
    chex.assert_tree_all_finite(episodes.positions)
    assert bool(episodes.success.all())
    assert float(jnp.abs(episodes.actions).max()) <= 1.0


def test_random_actions_do_not_reach_the_goal_as_often():
    config = steer_config()
    random = jax.jit(lambda k: planning.episodes(k, 32, linear_model(config), config, "random"))(jax.random.key(3))
    assert float(random.success.mean()) < 0.8


def test_a_vmapped_episode_equals_a_lone_one():
    config = steer_config(episode_steps=12)
    model = planning.simulator_model(config)
    key = jax.random.key(7)
    batch = jax.jit(lambda k: planning.episodes(k, 3, model, config), compiler_options=USERS_FUSION)(key)
    plan_keys, tasks = planning.draw_tasks(key, 3, config)
    lone_episode = jax.jit(  # compiled once
        lambda k, task: planning.episode(k, task, model, config), compiler_options=USERS_FUSION
    )
    for i in range(3):
        lone = lone_episode(plan_keys[i], jax.tree_util.tree_map(lambda x, i=i: x[i], tasks))
        for got, want in zip(jax.tree_util.tree_leaves(lone), jax.tree_util.tree_leaves(batch)):
            np.testing.assert_allclose(got, want[i], rtol=1e-6, atol=1e-6)


def test_the_warm_start_drops_the_applied_actions_and_repeats_the_last():
    plan = jnp.arange(10.0).reshape(5, 2)
    np.testing.assert_array_equal(planning.shifted(plan), jnp.concatenate([plan[1:], plan[-1:]]))
    np.testing.assert_array_equal(planning.shifted(plan, 3), jnp.concatenate([plan[3:], jnp.tile(plan[-1:], (3, 1))]))


def test_the_goal_is_shown_as_two_frames_of_the_logo_at_rest():
    config = steer_config()
    goal = jnp.array([4.0, 9.5])
    obs = steer.observe(steer.at_rest(goal), steer.at_rest(goal), config).reshape(2, 16, 16)
    np.testing.assert_array_equal(obs[0], obs[1])
    assert np.unravel_index(int(jnp.argmax(obs[0])), (16, 16)) in [(4, 9), (4, 10)]


def test_success_is_reaching_within_the_radius_at_any_step():
    config = steer_config(episode_steps=30)
    start = SteerState(jnp.array([7.0, 7.0]), jnp.zeros(2))
    # the goal 3 px away on y: even a planner that overshoots passes within 1 px of it on the way
    episode = planning.episode(
        jax.random.key(0), Task(start, jnp.array([10.0, 7.0])), planning.simulator_model(config), config
    )
    assert bool(episode.success) and 1 <= int(episode.steps_to_success) <= 30
    assert float(episode.distances[int(episode.steps_to_success) - 1]) <= 1.0


def test_refused_requests_say_why():
    with pytest.raises(planning.PlanningError, match="takes no actions"):
        planning.learned_model({}, tiny_config())  # refused from the config alone, before any parameter is read
    with pytest.raises(planning.PlanningError, match="world is 'two_rooms'; the steer planner plans steer runs"):
        planning.learned_model({}, get_config("two_rooms_ebjepa"))  # its encoder reads Two Rooms' observations
    with pytest.raises(planning.PlanningError, match="world is 'steer'; Two Rooms planning needs a Two Rooms run"):
        two_rooms_planning.learned_model({}, steer_config())
    rooms = get_config("two_rooms_ebjepa", plan_horizon=3)
    task = two_rooms.Task(jnp.array([20.0, 12.0]), jnp.array([20.0, 34.0]), two_rooms.Layout(24.0, 20.0))
    with pytest.raises(planning.PlanningError, match="a plan of 3 actions .* shorter than the 4 actions applied"):
        two_rooms_planning.episode(jax.random.key(0), task, two_rooms_planning.simulator_model(rooms), rooms, "mppi", 4)
    assert planning.too_few_samples(steer_config(plan_samples=2, plan_elites=2)) is None
    assert "the plan never changes" in planning.too_few_samples(steer_config(plan_samples=1, plan_elites=1))
    with pytest.raises(planning.PlanningError, match="outside the box"):
        planning.check_goal(jnp.array([[5.0, 5.0], [0.2, 7.0]]), steer_config())
    planning.check_goal(jnp.array([1.0, 14.0]), steer_config())
    with pytest.raises(ValueError, match="plan_samples must be positive"):
        steer_config(plan_samples=0)


def test_episodes_do_not_depend_on_how_many_are_vmapped_together():
    config = steer_config(episode_steps=8)
    model = planning.simulator_model(config)
    key = jax.random.key(11)
    # Batches of different widths round differently, and 8 steps of planning carry that on: float32's rounding
    # of a position (up to 16 px) is about 1e-6 of it, hence the tolerance in px.
    episodes = lambda batch: jax.jit(
        lambda k: planning.episodes(k, 5, model, config, batch=batch), compiler_options=USERS_FUSION
    )(key)
    at_once, in_twos = episodes(None), episodes(2)  # all 5 vmapped; 2 + 2 + a remainder of 1
    chex.assert_trees_all_close(at_once, in_twos, rtol=1e-5, atol=5e-5)
    chex.assert_shape(in_twos.positions, (5, 8, 2))


def test_batch_none_plans_every_episode_at_once_not_one_after_another():
    """`lax.map` without a batch size scans its items one by one; batch=None must vmap them: its program holds
    no scan over the 5 episodes at its top level, where batches of 1 do."""
    config = steer_config(episode_steps=8)
    model = planning.simulator_model(config)

    def top_level_scan_lengths(batch):
        jaxpr = jax.make_jaxpr(lambda k: planning.episodes(k, 5, model, config, batch=batch))(jax.random.key(0))
        return [eqn.params["length"] for eqn in jaxpr.jaxpr.eqns if eqn.primitive.name == "scan"]

    assert 5 in top_level_scan_lengths(1)
    assert 5 not in top_level_scan_lengths(None)


def test_episodes_take_the_goal_as_numbers_and_refuse_one_they_cannot_plan_to():
    config = steer_config(episode_steps=2)
    model = planning.simulator_model(config)
    key = jax.random.key(0)
    as_tuple = planning.episodes(key, 3, model, config, goal=(5.0, 9.0))  # as plan.py's --goal Y X reads
    np.testing.assert_allclose(as_tuple.distances, np.linalg.norm(as_tuple.positions - np.array([5.0, 9.0]), axis=-1))
    each = np.array([[5.0, 9.0], [2.0, 3.0], [14.0, 1.0]])
    one_per_task = planning.episodes(key, 3, model, config, goal=jnp.asarray(each))
    np.testing.assert_allclose(one_per_task.distances, np.linalg.norm(one_per_task.positions - each[:, None], axis=-1))
    for goal, why in [
        ((50.0, 9.0), "outside the box"),  # planned, it would fail every episode without a word
        ((float("nan"), 9.0), "outside the box"),
        (jnp.array([5.0]), r"last axis holds 2 numbers, got shape \[1\]"),  # not (5, 5): one number is no goal
        (jnp.ones((3,)) * 5, r"last axis holds 2 numbers, got shape \[3\]"),
        (jnp.ones((2, 2)) * 5, r"or \[3, 2\] for 3 episodes; got shape \[2, 2\]"),
        (("five", 9.0), "numbers"),
    ]:
        with pytest.raises(planning.PlanningError, match=why):
            planning.episodes(key, 3, model, config, goal=goal)


def test_check_goal_reads_the_goal_as_numbers_and_as_typed():
    config = steer_config()
    planning.check_goal([1, 14], config)  # a list, as argparse gives it
    for goal, why in [([5.0, 5.0, 5.0], "last axis holds 2 numbers"), ([1e40, 5.0], "outside the box")]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow warning from a cast to float32 before the refusal
            with pytest.raises(planning.PlanningError, match=why):
                planning.check_goal(goal, config)

"""Planning in Two Rooms: the simulator model reaches a goal through the door, vmapped episodes are lone ones."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxjepa import get_config
from jaxjepa import two_rooms as tr
from jaxjepa import two_rooms_planning as trp

CONFIG = get_config("two_rooms_ebjepa", plan_samples=16, plan_horizon=8, plan_iterations=1)
LAYOUT = tr.Layout(jnp.float32(24.0), jnp.float32(20.0))
THROUGH_THE_DOOR = tr.Episode(jnp.array([20.0, 12.0]), jnp.array([20.0, 34.0]), LAYOUT)


def test_the_simulator_model_walks_through_the_door_to_the_goal():
    run = jax.jit(lambda k: trp.episode(k, THROUGH_THE_DOOR, trp.simulator_model(CONFIG), CONFIG, "mppi", 2, 40))
    result = run(jax.random.key(0))
    assert bool(result.success), float(result.final_distance)
    assert np.all(np.abs(np.asarray(result.actions)) <= 1.0)
    assert np.all(np.asarray(tr.in_wall(result.positions, LAYOUT)) == 0)


def test_a_vmapped_episode_equals_a_lone_one():
    key, count, steps = jax.random.key(3), 2, 12
    factory = trp.simulator_model(CONFIG)
    batch = jax.jit(lambda k: trp.episodes(k, count, factory, CONFIG, "cem", 3, steps))(key)
    plan_keys, tasks = trp.draw_tasks(key, count, CONFIG)
    run_lone = jax.jit(lambda k, t: trp.episode(k, t, factory, CONFIG, "cem", 3, steps))  # compiled once
    for i in range(count):
        task = jax.tree.map(lambda a, i=i: a[i], tasks)
        lone = run_lone(plan_keys[i], task)
        for got, want in zip(jax.tree.leaves(jax.tree.map(lambda a, i=i: a[i], batch)), jax.tree.leaves(lone)):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)

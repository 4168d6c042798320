"""Planning in Two Rooms: the simulator model reaches a goal through the door, vmapped episodes are lone ones,
a dot a rounding error inside the wall is not stuck there, the path-length ceiling solves the suite's episodes,
the latent search goes round a far door where MPPI stops at the wall, and its memory of surprising moves finds a
door that a wall-blind model cannot see."""

import dataclasses
import json
import re
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxjepa import get_config, planning
from jaxjepa import two_rooms as tr
from jaxjepa import two_rooms_planning as trp
from jaxjepa.evaluation import two_rooms as two_rooms_suite
from jaxjepa.evaluation.suite import Evaluated
from tests.conftest import tiny_config, wall_blind

CONFIG = get_config("two_rooms_ebjepa", plan_samples=16, plan_horizon=8, plan_iterations=1)
LAYOUT = tr.Layout(jnp.float32(24.0), jnp.float32(20.0))
THROUGH_THE_DOOR = tr.Task(jnp.array([20.0, 12.0]), jnp.array([20.0, 34.0]), LAYOUT)
RECIPE = get_config("two_rooms_ebjepa")


def test_the_simulator_model_walks_through_the_door_to_the_goal():
    run = jax.jit(lambda k: trp.episode(k, THROUGH_THE_DOOR, trp.simulator_model(CONFIG), CONFIG, "mppi", 2, 40))
    result = run(jax.random.key(0))
    assert bool(result.success), float(result.final_distance)
    assert np.all(np.abs(np.asarray(result.actions)) <= 1.0)
    assert np.all(np.asarray(tr.in_wall(result.positions, LAYOUT)) == 0)
    chex.assert_shape(result.plans, (20, CONFIG.plan_horizon, 2))  # 40 steps, a plan every 2
    applied = np.clip(np.asarray(result.plans)[:, :2].reshape(-1, 2), -1.0, 1.0)  # each plan's first 2 actions
    np.testing.assert_allclose(np.asarray(result.actions), applied)


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


def test_a_vmapped_search_with_its_memory_and_kept_path_equals_a_lone_one():
    """The search's episode carries more than MPPI's and CEM's (a memory, a kept path, farthest-point beams chosen
    by argmax): vmapped over tasks, each episode is the lone one. The wall-blind model makes the memory count: the
    dot in the first task meets the wall at the goal's row, is remembered stopped there, and walks up along it."""
    config = RECIPE.replace(search_beams=8, search_depth=6, search_memory=4)
    layouts = tr.Layout(jnp.full(2, 24.0), jnp.full(2, 6.0))
    tasks = tr.Task(jnp.array([[40.0, 20.0], [30.0, 10.0]]), jnp.array([[40.0, 30.0], [12.0, 10.0]]), layouts)
    keys, factory = jax.random.split(jax.random.key(0), 2), wall_blind(trp.simulator_model(config))
    run = lambda k, t: trp.episode(k, t, factory, config, "search", 4, 16)
    batch, run_lone = jax.jit(jax.vmap(run))(keys, tasks), jax.jit(run)
    for i in range(2):
        lone = run_lone(keys[i], jax.tree.map(lambda a, i=i: a[i], tasks))
        for got, want in zip(jax.tree.leaves(jax.tree.map(lambda a, i=i: a[i], batch)), jax.tree.leaves(lone)):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
    stopped = np.asarray(batch.positions[0, :, 1]) == float(layouts.wall_x[0] - tr.WALL_HALF_WIDTH)
    assert stopped.any() and float(batch.positions[0, -1, 0]) < 40.0


def test_a_dot_a_rounding_error_inside_the_wall_still_moves_off_it():
    """Placed 1e-5 px inside the wall's left face (as a scaled latent can bring it back), the dot steps along
    and away from the face like a dot on it, and a step into the wall leaves it on the face."""
    inside = jnp.array([35.0, LAYOUT.wall_x - tr.WALL_HALF_WIDTH + 1e-5])
    on_face = float(LAYOUT.wall_x - tr.WALL_HALF_WIDTH)
    for action, want in (
        ([-1.0, -1.0], [34.0, on_face - 1.0]),
        ([-1.0, 0.0], [34.0, on_face]),
        ([0.0, 1.0], [35.0, on_face]),
    ):
        got = tr.move(inside, jnp.array(action), LAYOUT, RECIPE)
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-4, err_msg=str(action))


def test_the_path_length_ceiling_solves_the_suites_episodes():
    """The recipe's planner settings, the suite's 4 actions per plan, 32 episodes: with the true physics and
    the path length as its cost, MPPI reaches the goal in at least 31 of them."""
    run = jax.jit(lambda k: trp.episodes(k, 32, trp.path_oracle_model(RECIPE), RECIPE, "mppi", 4))
    assert int(np.sum(run(jax.random.key(0)).success)) >= 31


def test_the_suite_evaluates_every_ablation_row_and_draws_its_gif(tmp_path):
    """Each row of the ablation is a config of its own (the recipe with one change); a payload without a row
    shows it as not run; the GIF draws the frames it is given."""
    configs = two_rooms_suite.SUITE.configs("default", tiny_config())
    assert list(configs) == [two_rooms_suite.RECIPE, *two_rooms_suite.ABLATION]
    recipe = configs[two_rooms_suite.RECIPE]
    changed = {  # each ablation config is the recipe with its one anti-collapse field changed
        name: [f.name for f in dataclasses.fields(recipe) if getattr(config, f.name) != getattr(recipe, f.name)]
        for name, config in list(configs.items())[1:]
    }
    assert changed == {"two_rooms_ebjepa-no_inverse_dynamics": ["idm_weight"],
                       "two_rooms_ebjepa-no_variance": ["var_weight"], "two_rooms_ebjepa-no_covariance": ["cov_weight"],
                       "two_rooms_ebjepa-no_time_smoothness": ["time_smooth_weight"],
                       "two_rooms_ebjepa-sigreg_in_place_of_vicreg": ["regulariser"]}  # fmt: skip
    rows = two_rooms_suite.ablation_rows({two_rooms_suite.RECIPE: {"success_mppi": {"mean": 40.0, "std": 2.0}}})
    assert rows[0][1] == "40.0 ± 2.0" and all(r[1] == "not run" for r in rows[1:])
    search = {"success_search": {"mean": 98.5, "std": 0.5}, "episode_s_search": {"mean": 2.5, "std": None}}
    targets = two_rooms_suite.targets(search).splitlines()[2:]  # no training time: that target is missed too
    assert [row.rsplit(" | ", 1)[1] for row in targets] == ["yes |", "**no** |", "**no** |"]
    gif = {
        "positions": np.zeros((2, 3, 2)),
        "goals": np.full((2, 2), 5.0),
        "imagined": np.ones((2, 3, 4, 2)),
        "frames": np.random.default_rng(0).uniform(size=(2, 3, 10, 10)),
    }
    made = two_rooms_suite.draw(Evaluated({}, {"gif": gif}), tmp_path)
    with Image.open(made["two_rooms_gif"]) as image:
        assert image.n_frames == 3 and image.size == (2 * 40 + 8, 40 + 22)


def test_the_section_states_the_task_from_the_worlds_constants():
    payload = json.loads((Path(__file__).resolve().parents[1] / "results" / "two_rooms.json").read_text())
    text = two_rooms_suite.section_two_rooms(payload)
    rule = f"within {tr.SUCCESS_RADIUS_PX:g} px of the goal after all {tr.EVAL_MAX_STEPS} actions"
    assert rule in text and "Frames are 48x48" in text and "examples/ac_video_jepa" in text
    entry = payload["configs"][two_rooms_suite.RECIPE]
    small = {**payload, "configs": {two_rooms_suite.RECIPE: {**entry, "overrides": {}}}}
    assert "Frames are 16x16" in two_rooms_suite.section_two_rooms(small)


def test_the_pages_success_rates_are_the_suites():
    """The page quotes the suite's success rates by hand; a rerun of `eval.py --two-rooms` must carry them."""
    repo = Path(__file__).resolve().parents[1]
    figures = json.loads((repo / "results" / "two_rooms.json").read_text())["configs"][two_rooms_suite.RECIPE]
    text = " ".join((repo / "web" / "index.html").read_text().split())
    quoted = re.search(r"about (\d+)&nbsp;% of episodes .*? with the search .*?, (\d+)&nbsp;% with MPPI", text)
    assert quoted, "the page no longer quotes the Two Rooms success rates where this test looks"
    for figure, planner in zip(quoted.groups(), ("search", "mppi")):
        assert abs(int(figure) - figures[f"success_{planner}"]["mean"]) <= 1, (planner, figure)


# The door at the top, start and goal level with each other near the bottom: the straight line runs into the
# wall, and the way round is about three times longer.
DOOR_FAR_AWAY = tr.Task(
    jnp.array([38.0, 14.0]), jnp.array([38.0, 34.0]), tr.Layout(jnp.float32(24.0), jnp.float32(10.0))
)


def test_farthest_points_start_at_the_given_point_and_spread():
    points = jnp.array([[0.0], [1.0], [2.0], [10.0]])
    np.testing.assert_array_equal(planning.farthest_points(points, jnp.array(0), 3), [0, 3, 2])
    np.testing.assert_array_equal(planning.farthest_points(points, jnp.array(3), 2), [3, 0])
    allowed = jnp.array([True, True, True, False])  # 10 is farthest, but not allowed
    np.testing.assert_array_equal(planning.farthest_points(points, jnp.array(0), 3, allowed), [0, 2, 1])


def test_a_pruned_search_never_takes_a_move_right_after_its_reverse():
    """Known answer: a model that imagines a reward for undoing a move, as a learned model may imagine a way
    through the wall. Its latent is (y, x, the last action, undoings): each action moves (y, x) by itself and
    counts an undoing when it is the last action reversed. The goal is the start with one undoing, reached
    last by stepping down. Allowed, the best path is up then down, and reaches the goal; pruned, no path
    undoes a move, none reaches an undoing, and the best comes no nearer than 1."""
    chex.assert_trees_all_equal(planning.SEARCH_MOVES[planning.REVERSED[:-1]], -planning.SEARCH_MOVES)
    assert int(planning.REVERSED[planning.STAY]) == planning.STAY

    def predict(z, a):
        undoes = jnp.all(a == -z[:, 2:4], axis=-1) & jnp.any(a != 0, axis=-1)
        return jnp.concatenate([z[:, :2] + a, a, z[:, 4:] + undoes[:, None]], axis=-1)

    looping = planning.WorldModel(None, None, predict)
    z0, goal = jnp.zeros(5), jnp.array([0.0, 0.0, 1.0, 0.0, 1.0])
    up, down = 1, 6  # indices into SEARCH_MOVES
    chex.assert_trees_all_equal(planning.SEARCH_MOVES[jnp.array([up, down])], jnp.array([[-1.0, 0.0], [1.0, 0.0]]))
    small = RECIPE.replace(search_beams=8, search_depth=4)
    path, distance = planning.search_path(looping, z0, goal, small.replace(search_reversals="allowed"))
    chex.assert_trees_all_equal((path[:2], float(distance)), (jnp.array([up, down]), 0.0))
    _, distance = planning.search_path(looping, z0, goal, small.replace(search_reversals="pruned"))
    assert float(distance) >= 1.0


def test_the_search_stays_put_at_the_goal_and_steps_straight_at_a_free_goal():
    model = trp.simulator_model(RECIPE)(THROUGH_THE_DOOR)
    plan = jnp.zeros((RECIPE.plan_horizon, 2))
    at_goal = planning.search(None, model, THROUGH_THE_DOOR.goal, THROUGH_THE_DOOR.goal, plan, RECIPE)
    np.testing.assert_array_equal(np.asarray(at_goal), 0.0)
    above = planning.search(None, model, jnp.array([10.0, 34.0]), THROUGH_THE_DOOR.goal, plan, RECIPE)
    np.testing.assert_array_equal(
        np.asarray(above)[: RECIPE.search_move_steps], [[1.0, 0.0]] * RECIPE.search_move_steps
    )


def test_the_search_finds_a_far_door_that_mppi_misses_with_the_true_physics():
    """Known answer: with the true physics and the straight-line cost, MPPI walks to the wall at the goal's row
    and stays there; the search (the recipe's settings but 32 beams, to run faster) goes round through the door
    and reaches the goal."""
    factory, config = trp.simulator_model(RECIPE), RECIPE.replace(search_beams=32)
    for planner, reaches in (("search", True), ("mppi", False)):
        run = jax.jit(lambda k, p=planner: trp.episode(k, DOOR_FAR_AWAY, factory, config, p, 4, 120))
        result = run(jax.random.key(0))
        assert bool(result.success) == reaches, (planner, float(result.final_distance))
        assert np.all(np.asarray(tr.in_wall(result.positions, DOOR_FAR_AWAY.layout)) == 0)


def test_the_searchs_memory_finds_the_door_a_wall_blind_model_misses():
    """Known answer: with a model that does not see the wall, the search without memory pushes into the wall at
    the goal's row for the whole episode; with it, the moves the wall stopped are remembered, the search stops
    making them, walks along the wall and through the door to the goal. 32 beams, half the recipe's: enough
    here, and the test runs in half the time."""
    task = tr.Task(jnp.array([40.0, 12.0]), jnp.array([40.0, 34.0]), tr.Layout(jnp.float32(24.0), jnp.float32(6.0)))
    model = wall_blind(trp.simulator_model(RECIPE))
    for memory, reaches in ((0, False), (RECIPE.search_memory, True)):
        config = RECIPE.replace(search_memory=memory, search_beams=32)
        result = jax.jit(lambda k, c=config: trp.episode(k, task, model, c, "search", 4))(jax.random.key(0))
        assert bool(result.success) == reaches, (memory, float(result.final_distance))
        crossed = np.asarray(result.positions)[:, 1] > float(task.layout.wall_x)
        assert crossed.any() == reaches  # without memory the dot never leaves its room


def test_a_search_whose_memory_could_remember_no_whole_move_is_refused():
    """The memory keeps whole moves of search_move_steps actions: a search replanning afresh after each action
    (episode's default of 1 action per plan, under the recipe's 2-action moves) cuts every move short, and planned
    the wall-blind task above exactly as without a memory. It is refused before anything is traced; one whole move
    per plan, or no memory, is accepted."""
    fresh = RECIPE.replace(search_replan="fresh")
    factory = trp.simulator_model(fresh)
    with pytest.raises(planning.PlanningError, match="search_move_steps 2 actions, and 1 action.* never complete one"):
        trp.episode(jax.random.key(0), THROUGH_THE_DOOR, factory, fresh, "search")
    trp.check_episode("search", 2, 10, fresh)
    trp.check_episode("search", 1, 10, fresh.replace(search_memory=0))
    trp.check_episode("mppi", 1, 10, fresh)  # MPPI keeps no memory


def test_a_surprising_move_is_remembered_and_then_predicted_as_the_world_made_it():
    """remember() keeps a move that ended farther than half the predicted length from the predicted end (stopped
    at a wall at once or partway, or moved off the move's line), not one that ended near it; corrected() then
    moves the latent as the world did (per action: the move's displacement over its 2 actions) near where the
    nearest such move was remembered, and leaves the model's own prediction for another move or far away."""
    model = trp.simulator_model(RECIPE)(THROUGH_THE_DOOR)
    right, up, down_right = planning.SEARCH_MOVES[4], planning.SEARCH_MOVES[1], planning.SEARCH_MOVES[7]
    chex.assert_trees_all_equal(
        (right, up, down_right), (jnp.array([0.0, 1.0]), jnp.array([-1.0, 0.0]), jnp.array([1.0, 1.0]))
    )
    at, beside = jnp.array([10.0, 10.0]), jnp.array([13.0, 10.0])
    # each compiled whole, as inside the search's episode, rather than one operation at a time
    share = RECIPE.search_surprise_share
    remember = jax.jit(
        lambda memory, before, action, after: planning.remember(memory, model, before, action, after, 2, share)
    )
    memory = planning.empty_memory(4, 2)
    for ended in ([10.0, 12.0], [10.0, 11.5]):  # as predicted, or 0.5 short of a 2.0 move: nothing to remember
        memory = remember(memory, at, right, jnp.array(ended))
    assert int(memory.count) == 0
    memory = remember(memory, at, right, at + jnp.array([0.0, 0.5]))  # stopped after 0.5
    memory = remember(memory, beside, right, beside)  # stopped at once
    memory = remember(memory, at, down_right, at + jnp.array([2.0, 0.0]))  # moved off the move's line
    assert int(memory.count) == 3 and float(memory.squared_lengths[0]) == 4.0
    np.testing.assert_allclose(memory.displacements[:3], [[0.0, 0.25], [0.0, 0.0], [1.0, 0.0]])
    seen = jax.jit(lambda memory, z, a: planning.corrected(model, memory, radius=2.0).predict(z, a))
    starts = jnp.array([[10.0, 10.0], [12.0, 11.0], [11.0, 10.0], [10.0, 10.0], [20.0, 10.0]])
    moves = jnp.stack([right, right, down_right, up, right])
    np.testing.assert_allclose(
        seen(memory, starts, moves), [[10.0, 10.25], [12.0, 11.0], [12.0, 10.0], [9.0, 10.0], [20.0, 11.0]]
    )


def test_a_kept_path_stands_unless_a_new_search_ends_nearer_by_the_margin():
    """Known answer on free space (each action moves the latent by itself; moves of 2 px, so the move length is
    1 + sqrt 2 and the margin 0.5 of it): from 0 toward a goal at (0.6, 8), the search's best ends at (0, 8),
    0.6 away. A kept path ending 1.4 away stands (0.8 better is within the margin); one ending 2.09 away is
    replaced; a kept path that walks on past its nearest approach is cut there."""
    free = planning.WorldModel(None, None, lambda z, a: z + a)
    z0, goal = jnp.zeros(2), jnp.array([0.6, 8.0])
    length = planning.move_length(free, goal, RECIPE.search_move_steps)
    np.testing.assert_allclose(float(length), 1.0 + 2.0**0.5, rtol=1e-6)
    right, down_right, down = 4, 7, 6  # indices into SEARCH_MOVES
    chex.assert_trees_all_equal(
        planning.SEARCH_MOVES[jnp.array([right, down_right, down])], jnp.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    )

    def path(*moves):
        return jnp.array([*moves, *[planning.STAY] * (RECIPE.search_depth - len(moves))])

    def replanned(kept):
        return planning.replanned_path(free, z0, goal, kept, length, RECIPE)

    near = path(down_right, right, right, right)  # ends at (2, 8), 1.4 from the goal
    chex.assert_trees_all_equal(replanned(near), near)
    far = path(right, right, right)  # ends at (0, 6), 2.09 from the goal
    new = replanned(far)
    distance, _ = planning.nearest_approach(free, z0, goal, new, RECIPE.search_move_steps)
    np.testing.assert_allclose(float(distance), 0.6, rtol=1e-6)
    overshoot = path(down_right, right, right, right, right, down)  # nearest after 4 moves, then away
    distance, cut = planning.nearest_approach(free, z0, goal, overshoot, RECIPE.search_move_steps)
    np.testing.assert_allclose(float(distance), 1.4, rtol=1e-6)
    chex.assert_trees_all_equal(cut, near)
    chex.assert_trees_all_equal(replanned(overshoot), near)
    chex.assert_trees_all_equal(planning.advanced(near, 2), path(right, right))

"""Planning in Two Rooms: reach a goal in the other room, through the door, by planning in latent space.

The planners are planning.py's (MPPI, CEM, the search, the random baseline) and see the world only through
a `planning.WorldModel`. The search's episodes also keep a `planning.Memory` of the moves whose outcome
surprised the model (config `search_memory`), which corrects the model where the dot met a wall it did not
see, and (config `search_replan` "keep") the rest of their last path, which a new search replaces only when
it is plainly better (planning.replanned_path). What differs from the steer world is the layout: a wall and a
door drawn per episode, which the observation shows and the simulator obeys. So a model here is a factory,
layout -> WorldModel, called inside each (vmapped) episode. The learned model observes two rendered frames
(dot and walls) and encodes them with the trained target encoder; the ceiling observes the true position and
predicts with the true physics (two_rooms.move), walls included.

Protocol (EB-JEPA's): start and goal uniform in different rooms (two_rooms.tasks), the goal given
as the observation of the dot resting at the goal, two_rooms.EVAL_MAX_STEPS actions (all of them: reaching the
goal does not end an episode), success = the final position within two_rooms.SUCCESS_RADIUS_PX of the goal.
Actions are displacements clipped to [-1, 1] px per axis (planning.candidates' clip): the training walks' steps
(1 +- 0.4 px, at most 1.8), at most 1.41 px on a diagonal. The plan is refined every `actions_per_plan` steps,
its first actions applied, then warm-started from its tail.

Where EB-JEPA's planner differs (its `planning/mppi.yaml` and `MPPIPlanner`): actions clipped to
[-2.45, 2.45] px per axis; a horizon of 90 actions, 200 samples, 20 iterations refitting mean and std to
the 20 cheapest, a cold start from N(0, 2^2) at every step, one action applied per plan. A 90-step
imagined path crosses the whole box, so the straight-line cost can see that the way through the door
ends nearer the goal than the wall does; a short one (the default horizon, 10) cannot when the door is far,
which is why the recipe plans 48 ahead and searches in latent space (`planning.search`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxjepa import models, planning, two_rooms
from jaxjepa.config import Config, whole_number
from jaxjepa.planning import WorldModel
from jaxjepa.two_rooms import Layout

ModelFactory = Callable[[two_rooms.Task], WorldModel]  # the task -> a model whose observe reads positions
ACTIONS_PER_PLAN = 4  # the evaluation's protocol: each plan's first 4 actions run, then it is refined anew
DOOR_POINTS = 9  # points of the door's opening the path-length oracle tries
POSITION_SCALE = 1e-3  # the path-length oracle carries the position in its latent at this scale


class Episode(NamedTuple):
    positions: jax.Array  # [T, 2] the dot after each applied action
    actions: jax.Array  # [T, 2] applied
    plans: jax.Array  # [ceil(T / actions_per_plan), H, 2] each plan as refined, before its first actions ran
    distances: jax.Array  # [T] px to the goal
    success: jax.Array  # bool: the final distance is under SUCCESS_RADIUS_PX
    final_distance: jax.Array  # px


def clip_action(action: jax.Array) -> jax.Array:
    """The displacement the dot is given: [-1, 1] px per axis, as the planners' samples are."""
    return jnp.clip(action, -1.0, 1.0)


def observe(previous: jax.Array, current: jax.Array, layout: Layout, config: Config) -> jax.Array:
    """[4, H, W]: the frames (dot and walls each) of the dot at two positions, f_t's channels first, so that
    flattening it gives the training observation (f_t, f_t+1)."""
    return jnp.concatenate([two_rooms.render(previous, layout, config), two_rooms.render(current, layout, config)])


def flat_observation(previous: jax.Array, current: jax.Array, layout: Layout, config: Config) -> jax.Array:
    return observe(previous, current, layout, config).reshape(-1)


def learned_model(params: dict, config: Config) -> ModelFactory:
    """The trained JEPA: the target encoder on rendered frames of this layout, the action-conditioned predictor."""
    if config.action_dim == 0:
        raise planning.PlanningError("this run's predictor takes no actions; train one with --config two_rooms_ebjepa")
    if config.world != "two_rooms":  # its encoder reads another world's observations
        raise planning.PlanningError(f"this run's world is {config.world!r}; Two Rooms planning needs a Two Rooms run")
    encoder, predictor = models.encoder(config), models.predictor(config)

    def factory(task: two_rooms.Task) -> WorldModel:
        return WorldModel(
            observe=lambda prev, cur: flat_observation(prev, cur, task.layout, config),
            encode=lambda obs: encoder.apply(params["target"], obs),
            predict=lambda z, a: predictor.apply(params["predictor"], models.predictor_input(z, a)),
        )

    return factory


def simulator_model(config: Config) -> ModelFactory:
    """The ceiling: the planner's latent is the true position and its predictor the true physics."""

    def factory(task: two_rooms.Task) -> WorldModel:
        step = jax.vmap(lambda p, a: two_rooms.move(p, clip_action(a), task.layout, config))
        return WorldModel(observe=lambda prev, cur: cur, encode=lambda s: s, predict=step)

    return factory


def path_length(position: jax.Array, goal: jax.Array, layout: Layout) -> jax.Array:
    """Length of the shortest path from position to goal: straight within a room (or from inside the door),
    else through the best of DOOR_POINTS points across the door's opening."""
    offsets = jnp.linspace(-1.0, 1.0, DOOR_POINTS) * (two_rooms.DOOR_HALF_HEIGHT - 1)
    door = jnp.stack([layout.door_y + offsets, jnp.full(DOOR_POINTS, layout.wall_x)], axis=-1)
    via_door = jnp.linalg.norm(door - position, axis=-1) + jnp.linalg.norm(door - goal, axis=-1)
    in_door = (jnp.abs(position[1] - layout.wall_x) <= two_rooms.WALL_HALF_WIDTH) & (
        jnp.abs(position[0] - layout.door_y) <= two_rooms.DOOR_HALF_HEIGHT
    )
    same_side = (two_rooms.room(position, layout) == two_rooms.room(goal, layout)) | in_door
    return jnp.where(same_side, jnp.linalg.norm(position - goal), jnp.min(via_door))


def path_oracle_model(config: Config) -> ModelFactory:
    """The ceiling with a perfect cost too: the true physics, and a latent (POSITION_SCALE * position, path
    length to the goal), so ||z - z_goal|| is the distance left to walk around the wall (the position, scaled
    down to not count, only lets the predictor step). Beside `simulator_model`, it separates what the
    straight-line cost loses from what the learned model loses."""

    def factory(task: two_rooms.Task) -> WorldModel:
        def encode(position: jax.Array) -> jax.Array:
            length = path_length(position, task.goal, task.layout)
            return jnp.concatenate([POSITION_SCALE * position, length[None]])

        def predict(z: jax.Array, a: jax.Array) -> jax.Array:
            step = lambda zi, ai: encode(two_rooms.move(zi[:2] / POSITION_SCALE, clip_action(ai), task.layout, config))
            return jax.vmap(step)(z, a)

        return WorldModel(observe=lambda prev, cur: cur, encode=encode, predict=predict)

    return factory


def episode(
    key: jax.Array,
    task: two_rooms.Task,
    factory: ModelFactory,
    config: Config,
    planner: str | None = None,
    actions_per_plan: int = 1,
    steps: int = two_rooms.EVAL_MAX_STEPS,
) -> Episode:
    """One receding-horizon episode: ceil(steps / actions_per_plan) plans, each applying its first
    `actions_per_plan` actions in the true world, one `lax.scan`; the dot starts at rest. PlanningError where a plan
    is shorter than the actions applied from it (plan_horizon < actions_per_plan), and for a search that keeps its
    path (search_replan "keep") unless `actions_per_plan` is a multiple of search_move_steps (whole moves per plan),
    and for a search with a memory (search_memory > 0) that applies less than one whole move per plan."""
    planner = planner or config.planner
    check_episode(planner, actions_per_plan, steps, config)
    model = factory(task)
    z_goal = planning.goal_latent(model, task.goal)
    replan = replanning(model, z_goal, task.layout, planner, actions_per_plan, config)
    plans = math.ceil(steps / actions_per_plan)
    start = episode_start(task.start, z_goal, config)
    _, (positions, actions, refined) = jax.lax.scan(replan, start, jax.random.split(key, plans))
    return episode_record(positions, actions, refined, task.goal, steps)


def check_episode(planner: str, actions_per_plan: int, steps: int, config: Config) -> None:
    """The refusals of `episode`, before anything is traced: a planner there is not (PlanningError), counts that
    are not whole numbers, and the PlanningErrors its docstring names."""
    planning.planner_named(planner)
    whole_number(actions_per_plan, "actions_per_plan", least=1)
    whole_number(steps, "steps", least=1)
    if config.plan_horizon < actions_per_plan:
        raise planning.PlanningError(
            f"a plan of {config.plan_horizon} actions (plan_horizon) is shorter than the {actions_per_plan} actions "
            "applied from each plan; plan at least that far ahead"
        )
    problem = kept_path_problem(actions_per_plan, config) or memory_problem(actions_per_plan, config)
    if planner == "search" and problem:
        raise planning.PlanningError(problem)


def replanning(
    model: WorldModel, z_goal: jax.Array, layout: Layout, planner: str, actions_per_plan: int, config: Config
) -> Callable:
    """The step of an episode's scan, (carry, key) -> (carry, (positions, actions, plan)): the plan refined from
    the dot's last two positions, its first `actions_per_plan` actions applied, then shifted to warm-start the next.
    The carry is (previous, current, plan, memory, path); a search also corrects the model by its memory of
    surprising moves (search_memory) and keeps the rest of its last path (search_replan "keep")."""
    plan_fn, searching = planning.planner_named(planner), planner == "search"
    remembering, keeping = searching and config.search_memory > 0, searching and config.search_replan == "keep"
    hold = config.search_move_steps
    length = planning.move_length(model, z_goal, hold) if keeping else None

    def replan(carry, step_key):
        previous, current, plan, memory, path = carry
        z0 = model.encode(model.observe(previous, current))
        seen = planning.corrected(model, memory, config.search_memory_radius) if remembering else model
        if keeping:
            path = planning.replanned_path(seen, z0, z_goal, path, length, config)
            plan = planning.path_plan(path, hold, plan.shape[0])
            path = planning.advanced(path, actions_per_plan // hold)
        else:
            plan = plan_fn(step_key, seen, z0, z_goal, plan, config)
        trail = jnp.stack([previous, current])
        (previous, current), (positions, actions) = applied(previous, current, plan[:actions_per_plan], layout, config)
        if remembering:
            memory = remember_moves(memory, model, z0, jnp.concatenate([trail, positions]), plan, config)
        return (previous, current, planning.shifted(plan, actions_per_plan), memory, path), (positions, actions, plan)

    return replan


def applied(previous: jax.Array, current: jax.Array, actions: jax.Array, layout: Layout, config: Config) -> tuple:
    """The dot's last two positions after `actions` [A, 2] ran in the true world, and [A, 2] each: the position
    after each action, and the action as applied (clipped)."""

    def act(carry, action):
        previous, current = carry
        nxt = two_rooms.move(current, clip_action(action), layout, config)
        return (current, nxt), (nxt, clip_action(action))

    return jax.lax.scan(act, (previous, current), actions)


def episode_start(start: jax.Array, z_goal: jax.Array, config: Config) -> tuple:
    """The scan's first carry: the dot at rest at `start`, a plan of zeros, no remembered move, no kept path."""
    memory = planning.empty_memory(max(config.search_memory, 1), z_goal.shape[-1])
    no_path = jnp.full((config.search_depth,), planning.STAY)
    return (start, start, jnp.zeros((config.plan_horizon, planning.ACTION_DIM)), memory, no_path)


def episode_record(positions: jax.Array, actions: jax.Array, plans: jax.Array, goal: jax.Array, steps: int) -> Episode:
    """The episode from the scan's per-plan outputs: its first `steps` positions and actions, each position's
    distance to the goal, and whether the last is within reach of it."""
    positions, actions = positions.reshape(-1, 2)[:steps], actions.reshape(-1, 2)[:steps]
    distances = jnp.linalg.norm(positions - goal, axis=-1)
    success = two_rooms.success(positions[-1], goal)
    return Episode(positions, actions, plans, distances, success, distances[-1])


def kept_path_problem(actions_per_plan: int, config: Config) -> str | None:
    """Why a search that keeps its path (search_replan "keep") cannot apply `actions_per_plan` actions per plan,
    or None: the kept path advances by whole moves of search_move_steps actions."""
    if config.search_replan == "keep" and actions_per_plan % config.search_move_steps:
        return (
            f"a kept search path needs whole moves per plan: {actions_per_plan} actions per plan, "
            f"search_move_steps {config.search_move_steps}"
        )
    return None


def memory_problem(actions_per_plan: int, config: Config) -> str | None:
    """Why a search's memory of surprising moves (search_memory) would remember nothing with `actions_per_plan`
    actions per plan, or None: it remembers whole moves of search_move_steps actions (`remember_moves`), and a plan
    that applies fewer cuts every move short, so the memory would stay empty and the search never corrected."""
    if config.search_memory > 0 and actions_per_plan < config.search_move_steps:
        return (
            f"a search's memory of surprising moves (search_memory {config.search_memory}) remembers whole moves of "
            f"search_move_steps {config.search_move_steps} actions, and {actions_per_plan} action(s) per plan never "
            "complete one; apply at least a move's actions per plan, or give search_memory 0"
        )
    return None


def remember_moves(
    memory: planning.Memory, model: WorldModel, z0: jax.Array, trail: jax.Array, plan: jax.Array, config: Config
) -> planning.Memory:
    """Each whole move among the applied actions (`search_move_steps` actions of the plan each), remembered if
    its outcome surprised the model. `trail` [2 + A, 2]: the dot's previous and current positions, then after each
    applied action; the observation after the first k actions is (trail[k], trail[k + 1])."""
    hold, before = config.search_move_steps, z0
    for end in range(hold, trail.shape[0] - 1, hold):
        after = model.encode(model.observe(trail[end], trail[end + 1]))
        memory = planning.remember(memory, model, before, plan[end - hold], after, hold, config.search_surprise_share)
        before = after
    return memory


def draw_tasks(key: jax.Array, count: int, config: Config) -> tuple[jax.Array, two_rooms.Task]:
    """`count` planning keys and evaluation tasks [count, ...] (two_rooms.tasks), both from one key."""
    task_key, plan_key = jax.random.split(key)
    return jax.random.split(plan_key, count), two_rooms.tasks(task_key, count, config)


def episodes(
    key: jax.Array,
    count: int,
    factory: ModelFactory,
    config: Config,
    planner: str | None = None,
    actions_per_plan: int = 1,
    steps: int = two_rooms.EVAL_MAX_STEPS,
) -> Episode:
    """`count` evaluation tasks, each planned in its own episode, all vmapped: [count, ...] leaves."""
    plan_keys, tasks = draw_tasks(key, whole_number(count, "the number of episodes"), config)
    run = lambda k, t: episode(k, t, factory, config, planner, actions_per_plan, steps)
    return jax.vmap(run)(plan_keys, tasks)

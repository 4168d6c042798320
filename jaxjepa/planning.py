"""Planning in latent space: MPPI and CEM over action sequences, receding horizon in the true simulator.

A planner sees the world only through a `WorldModel`: `observe` turns the simulator's last two states
into an observation, `encode` turns an observation into a latent, `predict` steps a batch of latents
under a batch of actions. The learned model observes two rendered frames and encodes them with the
trained encoder; the ceiling's model observes the true (position, velocity) and predicts with the true
simulator; the known-answer test's observes the same state and predicts with linear dynamics.

Cost of an imagined sequence (EB-JEPA's best): sum over the horizon of ||z_k - z_goal||, z_goal the
encoding of the goal observation (two frames of the logo resting at the goal); or the last latent only.
MPPI: sample N sequences around the plan, weight them by softmax(-(cost - min) / (temperature * spread)),
spread = mean cost - min cost, and average them (`mppi` says why that scale). CEM: sample, keep the best
`plan_elites`, refit a mean and std. Both refine `plan_iterations` times per replanning step.
Search (`search`): no sampling and no cost over a path; a breadth-first search over imagined moves keeps
the latents that cover what the model says is reachable and returns the path that ends nearest the goal.
In Two Rooms its episodes also keep a `Memory` of the moves whose outcome surprised the model, which corrects it,
and the rest of their last path, which a new search replaces only when it is plainly better (`replanned_path`).
An episode is one `lax.scan` of plan -> apply the first action -> observe -> re-encode, warm-started
from the previous plan shifted by one step; `episodes` vmaps it over tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxjepa import models, steer, world
from jaxjepa.config import Config, whole_number
from jaxjepa.steer import SteerState

ACTION_DIM = 2
UNIFORM_STD = 3.0**0.5  # U(-1, 1) times this has unit standard deviation
# Episodes vmapped together. On a CPU, narrower batches leave the cores waiting between small products, and
# wider ones plan no faster per episode while holding more in memory; on an accelerator pass batch=None.
EPISODES_PER_BATCH = 128


class WorldModel(NamedTuple):
    observe: Callable[[SteerState, SteerState], jax.Array]  # (previous, current) -> observation
    encode: Callable[[jax.Array], jax.Array]  # observation -> latent [d]
    predict: Callable[[jax.Array, jax.Array], jax.Array]  # latents [N, d], actions [N, 2] -> [N, d]


class PlanningError(ValueError):
    """A planning request that cannot be served (no action-conditioned predictor, bad goal, ...)."""


class Episode(NamedTuple):
    positions: jax.Array  # [T, 2] the logo after each applied action
    actions: jax.Array  # [T, 2] applied
    plans: jax.Array  # [T, H, 2] the plan each action came from
    distances: jax.Array  # [T] px to the goal
    success: jax.Array  # bool: within success_px at some step
    steps_to_success: jax.Array  # 1-based step of the first success; episode_steps + 1 when never


class Task(NamedTuple):
    start: SteerState  # the state of the first observation's older frame
    goal: jax.Array  # [2] px


def learned_model(params: dict, config: Config) -> WorldModel:
    """The trained JEPA as a planning model: the target (EMA) encoder, whose latents the predictor learned
    to predict, and the action-conditioned predictor."""
    if config.action_dim == 0:
        raise PlanningError("this run's predictor takes no actions; train one with --config steer")
    if config.world != "steer":  # its encoder reads another world's observations
        raise PlanningError(
            f"this run's world is {config.world!r}; the steer planner plans steer runs (a Two Rooms run plans in "
            "python -m benchmarks.two_rooms_seconds RUN_DIR)"
        )
    encoder, predictor = models.encoder(config), models.predictor(config)
    return WorldModel(
        observe=lambda prev, cur: steer.observe(prev, cur, config),
        encode=lambda obs: encoder.apply(params["target"], obs),
        predict=lambda z, a: predictor.apply(params["predictor"], models.predictor_input(z, a)),
    )


def state_vector(previous: SteerState, current: SteerState) -> jax.Array:
    return jnp.concatenate([current.position, current.velocity])


def simulator_model(config: Config) -> WorldModel:
    """The ceiling: the planner is given the true state and the true simulator (walls included)."""

    def predict(z: jax.Array, a: jax.Array) -> jax.Array:
        nxt = jax.vmap(lambda s, act: steer.step(SteerState(s[:2], s[2:]), act, config))(z, a)
        return jnp.concatenate([nxt.position, nxt.velocity], axis=-1)

    return WorldModel(state_vector, lambda s: s, predict)


def imagine(model: WorldModel, z0: jax.Array, actions: jax.Array) -> jax.Array:
    """[N, H, 2] action sequences from one latent [d] -> imagined latents [N, H, d]."""

    def one(z, a):
        z = model.predict(z, a)
        return z, z

    _, latents = jax.lax.scan(one, jnp.broadcast_to(z0, (actions.shape[0], z0.shape[-1])), jnp.moveaxis(actions, 1, 0))
    return jnp.moveaxis(latents, 0, 1)


def sequence_costs(
    model: WorldModel, z0: jax.Array, z_goal: jax.Array, actions: jax.Array, config: Config
) -> jax.Array:
    """[N]: sum over the horizon of ||z_k - z_goal|| ("sum") or the last step's distance alone ("last")."""
    distances = jnp.linalg.norm(imagine(model, z0, actions) - z_goal, axis=-1)  # [N, H]
    return distances[:, -1] if config.plan_cost == "last" else jnp.sum(distances, axis=-1)


def candidates(key: jax.Array, mean: jax.Array, std: jax.Array | float, config: Config) -> jax.Array:
    """[N, H, 2]: the mean itself first (so the current plan is always scored and weighs in the update), then
    noisy copies.
    The noise is uniform with standard deviation `std`: on a CPU a normal draw (an inverse error
    function per number) costs several times a uniform one, and the draws are much of a replanning step."""
    noise = jax.random.uniform(key, (config.plan_samples, *mean.shape), minval=-1.0, maxval=1.0) * UNIFORM_STD * std
    return steer.clip_action(mean + noise.at[0].set(0.0))


def mppi(
    key: jax.Array, model: WorldModel, z0: jax.Array, z_goal: jax.Array, plan: jax.Array, config: Config
) -> jax.Array:
    """`plan_iterations` MPPI refinements of the plan [H, 2]: each the mean of the `candidates` weighted by
    softmax(-(cost - min) / (plan_temperature * spread)), spread = mean cost - min cost. Why that scale: the
    weights do not change when every cost is multiplied by one factor, so one temperature suits any latent's
    scale; a sequence as costly as the average weighs exp(-1 / plan_temperature) of the cheapest's (e^-20 at
    0.05), so the update leans on the few cheapest sequences."""

    def refine(mean, step_key):
        samples = candidates(step_key, mean, config.plan_noise, config)
        cost = sequence_costs(model, z0, z_goal, samples, config)
        spread = jnp.maximum(jnp.mean(cost) - jnp.min(cost), 1e-8)
        weights = jax.nn.softmax(-(cost - jnp.min(cost)) / (config.plan_temperature * spread))
        return jnp.einsum("n,nhc->hc", weights, samples), None

    plan, _ = jax.lax.scan(refine, plan, jax.random.split(key, config.plan_iterations))
    return plan


def cem(
    key: jax.Array, model: WorldModel, z0: jax.Array, z_goal: jax.Array, plan: jax.Array, config: Config
) -> jax.Array:
    """`plan_iterations` cross-entropy refinements: refit mean and std to the `plan_elites` cheapest. Only the mean
    is warm-started: the std starts at plan_noise again at every replanning step."""

    def refine(carry, step_key):
        mean, std = carry
        samples = candidates(step_key, mean, std, config)
        _, best = jax.lax.top_k(-sequence_costs(model, z0, z_goal, samples, config), config.plan_elites)
        elites = samples[best]
        return (elites.mean(axis=0), jnp.maximum(elites.std(axis=0), config.plan_min_std)), None

    (plan, _), _ = jax.lax.scan(
        refine, (plan, jnp.full_like(plan, config.plan_noise)), jax.random.split(key, config.plan_iterations)
    )
    return plan


def random_actions(
    key: jax.Array, model: WorldModel, z0: jax.Array, z_goal: jax.Array, plan: jax.Array, config: Config
) -> jax.Array:
    """The baseline: a plan of uniform random actions, whatever the goal."""
    return jax.random.uniform(key, plan.shape, minval=-1.0, maxval=1.0)


# The moves a search expands: the 8 corners and edge midpoints of the action box [-1, 1]^2.
_MOVES = [(dy, dx) for dy in (-1.0, 0.0, 1.0) for dx in (-1.0, 0.0, 1.0) if dy or dx]
SEARCH_MOVES = jnp.array(_MOVES)
STAY = len(SEARCH_MOVES)  # a path's index for "no move": a path shorter than the search's depth ends with it
PATH_ACTIONS = jnp.concatenate([SEARCH_MOVES, jnp.zeros((1, ACTION_DIM))])  # a path's indices -> actions
REVERSED = jnp.array([_MOVES.index((-dy, -dx)) for dy, dx in _MOVES] + [STAY])  # a path's index -> its reverse's


def farthest_points(points: jax.Array, first: jax.Array, count: int, allowed: jax.Array | None = None) -> jax.Array:
    """[count] indices into points [N, d]: `first`, then each time the point farthest from all chosen so far, among
    the `allowed` ones [N] (default: all) while any is left. Greedy farthest-point sampling: the chosen points
    cover the set as evenly as `count` points can."""

    def pick(carry, _):
        nearest, last = carry  # squared distance of each point to its nearest chosen one; the newest chosen
        nearest = jnp.minimum(nearest, jnp.sum((points - points[last]) ** 2, axis=-1))
        chosen = jnp.argmax(nearest)
        return (nearest, chosen), chosen

    unchosen = jnp.full(points.shape[0], jnp.inf) if allowed is None else jnp.where(allowed, jnp.inf, -jnp.inf)
    _, rest = jax.lax.scan(pick, (unchosen, first), None, length=count - 1)
    return jnp.concatenate([first[None], rest])


def search_path(model: WorldModel, z0: jax.Array, z_goal: jax.Array, config: Config) -> tuple[jax.Array, jax.Array]:
    """Breadth-first search in latent space: the best path [search_depth] of move indices (STAY after its
    end) and the distance to the goal of its nearest latent, the one it ends at.

    Why: MPPI and CEM sample paths near the last plan and score them by their distance to the goal, so
    when the straight way is blocked (Two Rooms' wall) every nearby path looks worse than standing at the
    wall, and a far door is never sampled. The search instead expands every beam by each of the 8
    SEARCH_MOVES (each held `search_move_steps` actions), keeps `search_beams` of the imagined latents
    spread by farthest-point sampling (so the beams cover what the model says is reachable, door
    included, rather than crowd where the goal looks nearest), and remembers the path whose latent
    came nearest the goal at any depth. Staying put is a path too, the one to beat: a path never waits
    then moves, so the search cannot put off reaching the goal. With search_reversals "pruned" no path takes a
    move right after its reverse (REVERSED), so no beam is spent going back where it was. The path is only as
    good as the predictor over `search_depth` * `search_move_steps` steps."""
    beams, depth, hold = config.search_beams, config.search_depth, config.search_move_steps
    moves, pruning = len(SEARCH_MOVES), config.search_reversals == "pruned"

    def expand(carry, level):
        latents, paths, best_distance, best_path = carry  # [B, d], [B, depth] move indices, [], [depth]
        latents = jnp.repeat(latents, moves, axis=0)  # [B * moves, d]: each beam once per move
        chosen = jnp.tile(jnp.arange(moves), beams)
        for _ in range(hold):
            latents = model.predict(latents, SEARCH_MOVES[chosen])
        # Each beam's last move is at level - 1 (at level 0 that is the end of a path of STAY, which reverses none).
        reverses = chosen == REVERSED[jnp.repeat(paths[:, level - 1], moves)]
        allowed = ~reverses if pruning else jnp.ones_like(reverses)
        paths = jnp.repeat(paths, moves, axis=0).at[:, level].set(chosen)
        distance = jnp.where(allowed, jnp.linalg.norm(latents - z_goal, axis=-1), jnp.inf)
        nearest = jnp.argmin(distance)
        better = distance[nearest] < best_distance
        best = (jnp.where(better, distance[nearest], best_distance), jnp.where(better, paths[nearest], best_path))
        kept = farthest_points(latents, nearest, beams, allowed)
        return (latents[kept], paths[kept], *best), None

    start = search_start(z0, z_goal, beams, depth)
    (*_, best_distance, best_path), _ = jax.lax.scan(expand, start, jnp.arange(depth))
    return best_path, best_distance


def search_start(z0: jax.Array, z_goal: jax.Array, beams: int, depth: int) -> tuple:
    """The search's first carry: every beam at z0 on the path that stays put, which is also the best path so far,
    at z0's distance to the goal."""
    stay = jnp.full((depth,), STAY)
    latents, paths = jnp.broadcast_to(z0, (beams, z0.shape[-1])), jnp.tile(stay, (beams, 1))
    return latents, paths, jnp.linalg.norm(z0 - z_goal), stay


def path_plan(path: jax.Array, hold: int, horizon: int) -> jax.Array:
    """[horizon, 2]: the path's actions, each move held `hold` steps, then staying put."""
    actions = jnp.repeat(PATH_ACTIONS[path], hold, axis=0)
    return jnp.concatenate([actions, jnp.zeros((max(horizon - len(actions), 0), ACTION_DIM))])[:horizon]


def search(
    key: jax.Array, model: WorldModel, z0: jax.Array, z_goal: jax.Array, plan: jax.Array, config: Config
) -> jax.Array:
    """The first `plan_horizon` actions of `search_path`'s path. Deterministic: `key` and `plan` are not read."""
    path, _ = search_path(model, z0, z_goal, config)
    return path_plan(path, config.search_move_steps, plan.shape[0])


def move_length(model: WorldModel, z_goal: jax.Array, hold: int) -> jax.Array:
    """The mean latent length of the SEARCH_MOVES from the goal: the scale of config.search_switch_margin."""
    moved = jnp.broadcast_to(z_goal, (len(SEARCH_MOVES), z_goal.shape[-1]))
    for _ in range(hold):
        moved = model.predict(moved, SEARCH_MOVES)
    return jnp.mean(jnp.linalg.norm(moved - z_goal, axis=-1))


def nearest_approach(
    model: WorldModel, z0: jax.Array, z_goal: jax.Array, path: jax.Array, hold: int
) -> tuple[jax.Array, jax.Array]:
    """(the distance to the goal of the path's nearest latent, z0 included; the path cut after it, STAY beyond):
    what the path is worth now, imagined from z0 by the model as it stands. Its STAY tail is not imagined."""

    def one(z, move):
        moved = z[None]
        for _ in range(hold):
            moved = model.predict(moved, PATH_ACTIONS[move][None])
        staying = move == STAY
        return jnp.where(staying, z, moved[0]), jnp.where(staying, jnp.inf, jnp.linalg.norm(moved[0] - z_goal))

    _, distances = jax.lax.scan(one, z0, path)
    distances = jnp.concatenate([jnp.linalg.norm(z0 - z_goal)[None], distances])
    nearest = jnp.argmin(distances)
    return distances[nearest], jnp.where(jnp.arange(path.shape[0]) < nearest, path, STAY)


def replanned_path(
    model: WorldModel, z0: jax.Array, z_goal: jax.Array, kept: jax.Array, length: jax.Array, config: Config
) -> jax.Array:
    """The path [search_depth] to follow from z0: the kept one (the rest of the last path), cut after its nearest
    approach, unless a new search's path ends nearer the goal by more than search_switch_margin * `length` (the
    move length). Starting from a path of STAY, the first search is taken unless staying is within the margin.
    Why keep a path at all: the learned model's imagined distances change from one observation to the next, so a
    fresh search each time can swap between ways round the wall and follow neither. Why a margin: with none, any
    new path a hair better replaced the kept one, and one of the two seeds tried planned worse than with a fresh
    search (docs/findings.md, Two Rooms)."""
    new, new_distance = search_path(model, z0, z_goal, config)
    old_distance, old = nearest_approach(model, z0, z_goal, kept, config.search_move_steps)
    return jnp.where(new_distance < old_distance - config.search_switch_margin * length, new, old)


def advanced(path: jax.Array, moves: int) -> jax.Array:
    """The path with its first `moves` moves done: the rest, then STAY."""
    return jnp.concatenate([path[moves:], jnp.full((moves,), STAY)])[: path.shape[0]]


class Memory(NamedTuple):
    """Moves whose outcome surprised the model during an episode, a ring of fixed size. Why: a predictor that has
    not learned a wall walks the search's paths through it, and the search then pushes into the wall for ever.
    What the world did instead (the dot stopped where it met the wall) is a fact about this episode;
    remembered, it corrects the model where it was seen (`corrected`), so the next search goes another way."""

    latents: jax.Array  # [M, d] where each remembered move started
    actions: jax.Array  # [M, 2] the move (one of SEARCH_MOVES); NaN in unused slots, so nothing matches
    # [M] the squared distance the model said the move would take the latent. Squared, so that the radius test
    # is exact for the lattice of positions in the tests, in float32 here and float64 in the browser.
    squared_lengths: jax.Array
    displacements: jax.Array  # [M, d] what the world did instead: the latent's displacement per action of the move
    count: jax.Array  # [] int32: moves remembered so far; the next one goes into slot count % M


def empty_memory(size: int, latent_dim: int) -> Memory:
    return Memory(
        jnp.zeros((size, latent_dim)),
        jnp.full((size, ACTION_DIM), jnp.nan),
        jnp.zeros(size),
        jnp.zeros((size, latent_dim)),
        jnp.zeros((), jnp.int32),
    )


def remember(
    memory: Memory, model: WorldModel, before: jax.Array, action: jax.Array, after: jax.Array, hold: int, share: float
) -> Memory:
    """The memory with the move (`action` held `hold` steps from latent `before`, observed to end at `after`)
    added if the world surprised the model: `after` lies farther than `share` (config.search_surprise_share) of the
    predicted length from where the model said the move would end. A wall does that (it stops the dot where they
    meet, at once or partway through the move), and so does a learned predictor's own error; either way, near a
    remembered move the search trusts what the world did over the model."""
    predicted = before[None]
    for _ in range(hold):
        predicted = model.predict(predicted, action[None])
    squared_length = jnp.sum((predicted[0] - before) ** 2)
    surprised = jnp.sum((after - predicted[0]) ** 2) > share**2 * squared_length
    slot = memory.count % memory.squared_lengths.shape[0]
    added = Memory(
        memory.latents.at[slot].set(before),
        memory.actions.at[slot].set(action),
        memory.squared_lengths.at[slot].set(squared_length),
        memory.displacements.at[slot].set((after - before) / hold),
        memory.count + 1,
    )
    return jax.tree_util.tree_map(lambda new, old: jnp.where(surprised, new, old), added, memory)


def corrected(model: WorldModel, memory: Memory, radius: float) -> WorldModel:
    """The model, except that a remembered move, made within `radius` of its lengths of where it was remembered,
    moves the latent as the world moved it there (the nearest such memory's displacements): not at all where the dot
    was stopped at once, only as far as it went where the wall stopped it partway."""

    def predict(z: jax.Array, a: jax.Array) -> jax.Array:
        # Squared distances as one matrix product: the [N, M, d] difference tensor would dominate the search.
        squared = (
            jnp.sum(z**2, axis=-1)[:, None] + jnp.sum(memory.latents**2, axis=-1)[None] - 2.0 * z @ memory.latents.T
        )
        near = squared < radius**2 * memory.squared_lengths  # [N, M]
        matched = near & jnp.all(a[:, None] == memory.actions, axis=-1)
        nearest = jnp.argmin(jnp.where(matched, squared, jnp.inf), axis=-1)
        remembered = z + memory.displacements[nearest]
        return jnp.where(jnp.any(matched, axis=-1, keepdims=True), remembered, model.predict(z, a))

    return model._replace(predict=predict)


PLANNERS = {"mppi": mppi, "cem": cem, "search": search, "random": random_actions}


def too_few_samples(config: Config) -> str | None:
    """Why MPPI and CEM cannot refine a plan with `config`'s budget, or None. They score the current plan and
    plan_samples - 1 noisy copies of it (`candidates`): with one sample no new sequence is ever tried, and a plan
    that starts at rest stays at rest. (The planning suite's budget curve keeps that point on purpose, as its
    floor.)"""
    if config.plan_samples >= 2:
        return None
    return (
        f"plan_samples {config.plan_samples}: MPPI and CEM score the current plan and plan_samples - 1 noisy copies "
        "of it, so with one sample the plan never changes; give 2 or more"
    )


def planner_named(name: str) -> Callable:
    """The planner called `name`; PlanningError naming the planners there are for any other name."""
    if name not in PLANNERS:
        raise PlanningError(f"no planner {name!r}: the planners are {', '.join(PLANNERS)}")
    return PLANNERS[name]


def shifted(plan: jax.Array, applied: int = 1) -> jax.Array:
    """The warm start, once the plan's first `applied` actions ran: its tail, its last action repeated `applied` times
    (web/steer.js: `shifted`)."""
    return jnp.concatenate([plan[applied:], jnp.repeat(plan[-1:], applied, axis=0)], axis=0)


def goal_latent(model: WorldModel, at_goal: Any) -> jax.Array:
    """The goal as the planner sees it: the observation of two frames with the logo (or dot) resting at the goal
    (`at_goal`, what the model's observe reads), encoded."""
    return model.encode(model.observe(at_goal, at_goal))


def episode(key: jax.Array, task: Task, model: WorldModel, config: Config, planner: str | None = None) -> Episode:
    """One receding-horizon episode of `episode_steps` replanning steps, one `lax.scan`."""
    plan_fn = planner_named(planner or config.planner)
    z_goal = goal_latent(model, steer.at_rest(task.goal))
    first = steer.step(task.start, jnp.zeros(ACTION_DIM), config)

    def replan(carry, step_key):
        previous, current, plan = carry
        plan = plan_fn(step_key, model, model.encode(model.observe(previous, current)), z_goal, plan, config)
        action = steer.clip_action(plan[0])
        nxt = steer.step(current, action, config)
        return (current, nxt, shifted(plan)), (nxt.position, action, plan)

    init = (task.start, first, jnp.zeros((config.plan_horizon, ACTION_DIM)))
    _, (positions, actions, plans) = jax.lax.scan(replan, init, jax.random.split(key, config.episode_steps))
    distances = jnp.linalg.norm(positions - task.goal, axis=-1)
    reached = distances <= config.success_px
    steps = jnp.where(reached.any(), jnp.argmax(reached) + 1, config.episode_steps + 1)
    return Episode(positions, actions, plans, distances, reached.any(), steps)


def random_task(key: jax.Array, config: Config) -> Task:
    """Start anywhere in the evaluation box at up to half the speed limit; goal anywhere in it."""
    start_key, goal_key = jax.random.split(key)
    start = steer.random_state(start_key, config.eval_start_margin, config, config.steer_max_speed / 2)
    goal = steer.random_state(goal_key, config.eval_start_margin, config, 0.0).position
    return Task(start, goal)


def check_goal(goal: Any, config: Config) -> None:
    """PlanningError unless every goal [..., 2] (an array or nested sequences of numbers) lies where the logo can
    rest: world.bounds per axis. Read as float64, so that a goal too large for float32 is refused as outside,
    without NumPy's warning of the overflow."""
    try:
        goal = np.asarray(goal, np.float64)
    except (TypeError, ValueError):
        if isinstance(goal, jax.core.Tracer):  # JAX's own error says why a traced value cannot be read
            raise
        raise PlanningError(f"a goal is (y, x) px, numbers; got {goal!r}") from None
    if goal.ndim == 0 or goal.shape[-1] != ACTION_DIM:
        raise PlanningError(f"a goal is (y, x) px: its last axis holds 2 numbers, got shape {list(goal.shape)}")
    lo, hi = world.bounds(config)
    if not np.all((goal >= lo) & (goal <= hi)):
        raise PlanningError(f"goal outside the box: every coordinate must be in [{lo:g}, {hi:g}] px")


def given_goals(goal: Any, count: int, config: Config) -> jax.Array:
    """[count, 2] float32 px: `goal` [2] for every task, or [count, 2] one per task. PlanningError for another
    shape, and (`check_goal`) for a goal outside the box where its value is known: a traced one is not."""
    if not isinstance(goal, jax.core.Tracer):
        check_goal(goal, config)
    goal = jnp.asarray(goal, jnp.float32)
    if goal.shape not in ((ACTION_DIM,), (count, ACTION_DIM)):
        raise PlanningError(f"the goal is [2] px, or [{count}, 2] for {count} episodes; got shape {list(goal.shape)}")
    return jnp.broadcast_to(goal, (count, ACTION_DIM))


def draw_tasks(key: jax.Array, count: int, config: Config) -> tuple[jax.Array, Task]:
    """`count` planning keys and random tasks [count, ...], both from one key."""
    task_keys, plan_keys = jnp.split(jax.random.split(key, 2 * count), 2)
    return plan_keys, jax.vmap(lambda k: random_task(k, config))(task_keys)


def episodes(
    key: jax.Array,
    count: int,
    model: WorldModel,
    config: Config,
    planner: str | None = None,
    batch: int | None = EPISODES_PER_BATCH,
    goal: jax.Array | None = None,
) -> Episode:
    """`count` random tasks, each planned in its own episode: [count, ...] leaves; with `goal` [2] px, every
    task's goal is that point (the starts stay random), or [count, 2], one per task (`given_goals`). Episodes are
    vmapped `batch` at a time (`lax.map`), all at once (`vmap`) with batch=None; the numbers depend on it only
    through float rounding. Why the branch: `lax.map` without a batch size runs its items one after another, not
    at once."""
    count = whole_number(count, "the number of episodes")
    if batch is not None:
        whole_number(batch, "batch", least=1)
    plan_keys, tasks = draw_tasks(key, count, config)
    if goal is not None:
        tasks = tasks._replace(goal=given_goals(goal, count, config))
    run = lambda kt: episode(*kt, model, config, planner)
    if batch is None:
        return jax.vmap(run)((plan_keys, tasks))
    return jax.lax.map(run, (plan_keys, tasks), batch_size=batch)

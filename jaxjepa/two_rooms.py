"""Two Rooms: a dot pushed by 2-D actions in a box split by a wall with a door, as pure JAX.

The world of PLDM and EB-JEPA's action-conditioned example, with their protocol's facts (their
`data_config.yaml`, for 65x65 frames): a border wall on pixel rows and columns 4 and H - 5; a vertical wall
3 px wide centred on a column drawn from [20, H - 20); a door, an opening 2 x 4 px high around a row drawn
from [10, H - 10); a fresh wall and door per trajectory. A frame has two channels: the dot (a Gaussian of
std `config.sigma`, 1.3 px) and the walls. Positions and actions are (y, x) in px, like the bounce world.

Motion: the dot is a point. A move p -> p + a stops at the first wall it touches (the border, a face of the
wall or an edge of the door's passage) and stays there: it never slides, and it passes the wall only
through the door. The contact is computed on the segment, not by testing the end point, so no step,
however long, tunnels through the wall. EB-JEPA (its `check_wall_intersect`) stops a blocked move at the
contact too, then adds N(0, 0.5 px) noise per axis, the normal part turned back towards the dot's side and
at least 0.3 px off the wall: its dot never rests on a wall, and each blocked step jitters it along the
wall. Here a dot on a face stays put under any action with a component into the face and moves freely
under one along or away from it, so a planner must learn to step along the wall. Training trajectories:
a random start and a von Mises random walk of directions with truncated normal step lengths; a share
`config.cross_wall_rate` of them is built backwards from a point in the door so that they pass it, and a
share `config.wall_bump_rate` of the others heads into the wall away from the door.
Evaluation episodes: start and goal uniform in different rooms (EB-JEPA keeps both 2 sigma = 2.6 px off
the walls; here they may lie on a face or the border).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxjepa import world
from jaxjepa.config import Config, whole_number

BORDER_PX = 4  # the border wall's row and column (and H - 1 - BORDER_PX)
WALL_HALF_WIDTH = 1  # the wall covers columns wall_x - 1 .. wall_x + 1
DOOR_HALF_HEIGHT = 4  # the door is open on rows door_y - 4 .. door_y + 4
WALL_PADDING = 20  # wall_x is drawn from [20, H - 20)
DOOR_PADDING = 10  # door_y is drawn from [10, H - 10)
STEP_MEAN, STEP_STD, STEP_MIN, STEP_MAX = 1.0, 0.4, 0.2, 1.8  # px per action, truncated normal
TURN_CONCENTRATION = 5.0  # von Mises kappa of each turn (EB-JEPA: 1 / action_angle_noise = 1 / 0.2)
WALL_BUMP_GAP_PX = (2.0, 12.0)  # a wall-bump walk starts this far from the face it heads at
SUCCESS_RADIUS_PX = 4.5
EVAL_MAX_STEPS = 200
VON_MISES_PROPOSALS = 32


class Layout(NamedTuple):
    wall_x: jax.Array  # [] float32: the wall's centre column
    door_y: jax.Array  # [] float32: the door's centre row


class Trajectory(NamedTuple):
    frames: jax.Array  # [T, 2, H, W] float32 in [0, 1]: the dot, the walls
    positions: jax.Array  # [T, 2] (y, x) px
    actions: jax.Array  # [T - 1, 2] (dy, dx) px: actions[t] moved positions[t] towards positions[t + 1]
    layout: Layout  # wall and door of this trajectory


class Task(NamedTuple):
    start: jax.Array  # [2] (y, x) px
    goal: jax.Array  # [2] (y, x) px, in the other room
    layout: Layout


def box(config: Config) -> tuple[float, float]:
    """The dot's centre stays in [lo, hi] on both axes: the border wall's pixel centres."""
    return float(BORDER_PX), float(config.frame_size - 1 - BORDER_PX)


def random_layout(key: jax.Array, config: Config) -> Layout:
    wall_key, door_key = jax.random.split(key)
    size = config.frame_size
    wall_x = jax.random.randint(wall_key, (), WALL_PADDING, size - WALL_PADDING)
    door_y = jax.random.randint(door_key, (), DOOR_PADDING, size - DOOR_PADDING)
    return Layout(wall_x.astype(jnp.float32), door_y.astype(jnp.float32))


def in_wall(position: jax.Array, layout: Layout) -> jax.Array:
    """True inside the wall's open interior (its faces and the door's edges are free)."""
    y, x = position[..., 0], position[..., 1]
    inside_x = jnp.abs(x - layout.wall_x) < WALL_HALF_WIDTH
    return inside_x & (jnp.abs(y - layout.door_y) > DOOR_HALF_HEIGHT)


def room(position: jax.Array, layout: Layout) -> jax.Array:
    """0 left of the wall's centre column, 1 right of it."""
    return (position[..., 1] > layout.wall_x).astype(jnp.int32)


def _safe(denominator: jax.Array) -> jax.Array:
    return jnp.where(denominator == 0, 1.0, denominator)


def _box_exit_time(position: jax.Array, action: jax.Array, config: Config) -> jax.Array:
    """The largest t in [0, 1] with position + t * action inside the box."""
    lo, hi = box(config)
    bound = jnp.where(action > 0, hi, lo)
    times = jnp.where(action == 0, jnp.inf, (bound - position) / _safe(action))
    return jnp.clip(jnp.min(times), 0.0, 1.0)


def _wall_contact(position: jax.Array, action: jax.Array, layout: Layout) -> tuple[jax.Array, jax.Array]:
    """(t, contact): the first t in [0, 1) at which position + t * action enters the wall's interior
    (inf if it never does), and the exact contact point on the face or door edge it meets."""
    (y, x), (dy, dx) = position, action
    left, right = layout.wall_x - WALL_HALF_WIDTH, layout.wall_x + WALL_HALF_WIDTH
    t_left, t_right = (left - x) / _safe(dx), (right - x) / _safe(dx)
    within = (x > left) & (x < right)  # strictly: a dot on a face may slide along it
    t_in = jnp.where(dx == 0, jnp.where(within, 0.0, jnp.inf), jnp.maximum(jnp.minimum(t_left, t_right), 0.0))
    t_out = jnp.where(dx == 0, jnp.where(within, jnp.inf, -jnp.inf), jnp.maximum(t_left, t_right))
    overlaps = t_in < jnp.minimum(t_out, 1.0)  # the segment spends time within the wall's columns
    y_in = y + jnp.minimum(t_in, 1.0) * dy
    door_edge = jnp.where(dy > 0, layout.door_y + DOOR_HALF_HEIGHT, layout.door_y - DOOR_HALF_HEIGHT)
    t_edge = jnp.where(dy == 0, jnp.inf, (door_edge - y) / _safe(dy))  # when it leaves the door's rows
    through_door = jnp.abs(y_in - layout.door_y) <= DOOR_HALF_HEIGHT
    hits_edge = through_door & (t_edge < jnp.minimum(t_out, 1.0))
    t_hit = jnp.where(through_door, jnp.where(hits_edge, t_edge, jnp.inf), t_in)
    face = jnp.where(dx > 0, left, jnp.where(dx < 0, right, x))
    contact = jnp.where(through_door, jnp.stack([door_edge, x + t_edge * dx]), jnp.stack([y_in, face]))
    return jnp.where(overlaps, t_hit, jnp.inf), contact


def onto_the_wall(position: jax.Array, layout: Layout) -> jax.Array:
    """A position inside the wall's interior moved onto the nearest face or door edge; others as they are.
    Why: `move` leaves the dot exactly on a face, but a position that went through arithmetic on its way
    back (a latent that carries it scaled, as the path-length ceiling's does) can come back a rounding
    error inside the wall, and from there every move, even away from the wall, starts in contact and
    is stopped at once: the dot would be stuck for good."""
    y, x = position[..., 0], position[..., 1]
    left, right = layout.wall_x - WALL_HALF_WIDTH, layout.wall_x + WALL_HALF_WIDTH
    face = jnp.where(x - left < right - x, left, right)
    edge = jnp.where(y > layout.door_y, layout.door_y + DOOR_HALF_HEIGHT, layout.door_y - DOOR_HALF_HEIGHT)
    to_face = jnp.abs(x - face) <= jnp.abs(y - edge)
    nearest = jnp.where(to_face[..., None], jnp.stack([y, face], axis=-1), jnp.stack([edge, x], axis=-1))
    return jnp.where(in_wall(position, layout)[..., None], nearest, position)


def move(position: jax.Array, action: jax.Array, layout: Layout, config: Config) -> jax.Array:
    """One step of physics: position + action, stopped at the first wall the segment touches. A NaN entry of the
    action moves nothing along its axis, and an infinite one runs into the wall, as a very long step does."""
    far = 4.0 * config.frame_size  # longer than any segment inside the box
    action = jnp.nan_to_num(action, nan=0.0, posinf=far, neginf=-far)
    position = onto_the_wall(position, layout)
    lo, hi = box(config)
    t_box = _box_exit_time(position, action, config)
    t_wall, contact = _wall_contact(position, action, layout)
    free = jnp.clip(position + t_box * action, lo, hi)
    return jnp.where(t_wall <= t_box, jnp.clip(contact, lo, hi), free)


def render(position: jax.Array, layout: Layout, config: Config) -> jax.Array:
    """[2, H, W]: the dot, drawn as the bouncing world draws its logo (world.render); the walls, 1 on wall pixels
    and 0 elsewhere."""
    grid = jnp.arange(config.frame_size, dtype=jnp.float32)
    rows, cols = grid[:, None], grid[None, :]
    lo, hi = box(config)
    border = (rows == lo) | (rows == hi) | (cols == lo) | (cols == hi)
    wall = (jnp.abs(cols - layout.wall_x) <= WALL_HALF_WIDTH) & (jnp.abs(rows - layout.door_y) > DOOR_HALF_HEIGHT)
    return jnp.stack([world.render(position, config), (border | wall).astype(jnp.float32)])


def von_mises(key: jax.Array, concentration: float, shape: tuple[int, ...] = ()) -> jax.Array:
    """Angles from the von Mises law of mean 0: Best and Fisher's (1979) rejection sampler with
    VON_MISES_PROPOSALS proposals drawn at once, the first accepted one kept. Why not a while loop: a fixed
    count compiles to plain array code, and with an acceptance rate of at least 0.66 per proposal (for any
    kappa) all of them are rejected with probability below 0.34 ** 32 ~ 1e-15 (then the last is kept)."""
    tau = 1.0 + jnp.sqrt(1.0 + 4.0 * concentration**2)
    rho = (tau - jnp.sqrt(2.0 * tau)) / (2.0 * concentration)
    r = (1.0 + rho**2) / (2.0 * rho)
    u1, u2, u3 = jax.random.uniform(key, (3, VON_MISES_PROPOSALS, *shape), minval=1e-7)
    f = (1.0 + r * jnp.cos(jnp.pi * u1)) / (r + jnp.cos(jnp.pi * u1))
    c = concentration * (r - f)
    accepted = (c * (2.0 - c) - u2 > 0) | (jnp.log(c / u2) + 1.0 - c >= 0)
    first = jnp.where(jnp.any(accepted, axis=0), jnp.argmax(accepted, axis=0), VON_MISES_PROPOSALS - 1)
    angles = jnp.sign(u3 - 0.5) * jnp.arccos(jnp.clip(f, -1.0, 1.0))
    return jnp.take_along_axis(angles, first[None], axis=0)[0]


def random_walk(key: jax.Array, steps: int, heading: jax.Array) -> jax.Array:
    """[steps, 2] (dy, dx) actions: directions a von Mises walk from `heading` (radians from +x),
    lengths truncated normal STEP_MEAN +- STEP_STD within [STEP_MIN, STEP_MAX]."""
    turn_key, length_key = jax.random.split(key)
    turns = von_mises(turn_key, TURN_CONCENTRATION, (steps,))
    angles = heading + jnp.cumsum(turns.at[0].set(0.0))
    lower, upper = (STEP_MIN - STEP_MEAN) / STEP_STD, (STEP_MAX - STEP_MEAN) / STEP_STD
    lengths = STEP_MEAN + STEP_STD * jax.random.truncated_normal(length_key, lower, upper, (steps,))
    return lengths[:, None] * jnp.stack([jnp.sin(angles), jnp.cos(angles)], axis=-1)


def uniform_in_room(key: jax.Array, side: jax.Array, layout: Layout, config: Config) -> jax.Array:
    """(y, x) uniform in the left (side 0) or right (side 1) room, off the wall's columns."""
    lo, hi = box(config)
    x_lo = jnp.where(side == 0, lo, layout.wall_x + WALL_HALF_WIDTH)
    x_hi = jnp.where(side == 0, layout.wall_x - WALL_HALF_WIDTH, hi)
    unit = jax.random.uniform(key, (2,))
    return jnp.stack([lo + unit[0] * (hi - lo), x_lo + unit[1] * (x_hi - x_lo)])


def random_start(key: jax.Array, layout: Layout, config: Config) -> jax.Array:
    """Uniform over the free box, the wall's columns left out (a room drawn by its width)."""
    side_key, position_key = jax.random.split(key)
    lo, hi = box(config)
    left_width = layout.wall_x - WALL_HALF_WIDTH - lo
    side = (jax.random.uniform(side_key) * (hi - lo - 2 * WALL_HALF_WIDTH) > left_width).astype(jnp.int32)
    return uniform_in_room(position_key, side, layout, config)


def door_crossing_plan(key: jax.Array, steps: int, layout: Layout, config: Config) -> tuple[jax.Array, jax.Array]:
    """(start, actions [steps, 2]) of a walk that is in the door at a random step: a walk heading away
    from the door on one side, reversed, then a walk heading away on the other side."""
    point_key, step_key, side_key, before_key, after_key, heading_key = jax.random.split(key, 6)
    offsets = jax.random.uniform(point_key, (2,), minval=-1.0, maxval=1.0)
    door_point = jnp.stack(
        [layout.door_y + offsets[0] * (DOOR_HALF_HEIGHT - 1), layout.wall_x + offsets[1] * WALL_HALF_WIDTH]
    )
    at_door = jax.random.randint(step_key, (), 1, steps)
    heading = jnp.where(jax.random.bernoulli(side_key), 0.0, jnp.pi)
    heading = heading + jax.random.uniform(heading_key, (), minval=-jnp.pi / 4, maxval=jnp.pi / 4)
    away_before = random_walk(before_key, steps, heading + jnp.pi)
    after = random_walk(after_key, steps, heading)
    index = jnp.arange(steps)
    actions = jnp.where(
        (index < at_door)[:, None],
        -away_before[jnp.clip(at_door - 1 - index, 0, steps - 1)],
        after[jnp.clip(index - at_door, 0, steps - 1)],
    )
    start = door_point - jnp.sum(jnp.where((index < at_door)[:, None], actions, 0.0), axis=0)
    lo, hi = box(config)
    return jnp.clip(start, lo, hi), actions


def wall_bump_plan(key: jax.Array, steps: int, layout: Layout, config: Config) -> tuple[jax.Array, jax.Array]:
    """(start, actions) of a walk into the wall away from the door (EB-JEPA's `wall_bump_rate` trajectories):
    a start on a row outside the door, WALL_BUMP_GAP_PX px from a face, and a walk heading at that face."""
    side_key, row_key, gap_key, walk_key = jax.random.split(key, 4)
    lo, hi = box(config)
    door_rows = 2.0 * DOOR_HALF_HEIGHT + 1.0
    row = jax.random.uniform(row_key, (), minval=lo, maxval=hi - door_rows)
    row = jnp.where(row < layout.door_y - DOOR_HALF_HEIGHT - 0.5, row, row + door_rows)
    gap = jax.random.uniform(gap_key, (), minval=WALL_BUMP_GAP_PX[0], maxval=WALL_BUMP_GAP_PX[1])
    from_right = jax.random.bernoulli(side_key)
    x = jnp.where(from_right, layout.wall_x + WALL_HALF_WIDTH + gap, layout.wall_x - WALL_HALF_WIDTH - gap)
    actions = random_walk(walk_key, steps, jnp.where(from_right, jnp.pi, 0.0))
    return jnp.clip(jnp.stack([row, x]), lo, hi), actions


def training_plan(key: jax.Array, steps: int, layout: Layout, config: Config) -> tuple[jax.Array, jax.Array]:
    """(start, actions): a door-crossing plan with probability cross_wall_rate, else a walk into the wall with
    probability wall_bump_rate, else a random start and walk."""
    cross_key, plan_key, start_key, walk_key, heading_key = jax.random.split(key, 5)
    cross_start, cross_actions = door_crossing_plan(plan_key, steps, layout, config)
    heading = jax.random.uniform(heading_key, (), maxval=2.0 * jnp.pi)
    start, actions = random_start(start_key, layout, config), random_walk(walk_key, steps, heading)
    # the bump's keys are folded in, not split off, so the other draws are the same whatever the bump's rate
    bump_key, bump_plan_key = jax.random.split(jax.random.fold_in(key, 1))
    bump_start, bump_actions = wall_bump_plan(bump_plan_key, steps, layout, config)
    use_bump = jax.random.bernoulli(bump_key, config.wall_bump_rate)
    start, actions = jnp.where(use_bump, bump_start, start), jnp.where(use_bump, bump_actions, actions)
    use_cross = jax.random.bernoulli(cross_key, config.cross_wall_rate) & ~in_wall(cross_start, layout)
    return jnp.where(use_cross, cross_start, start), jnp.where(use_cross, cross_actions, actions)


def rollout(start: jax.Array, actions: jax.Array, layout: Layout, config: Config) -> jax.Array:
    """[T + 1, 2] positions: the start, then after each action (a lax.scan of `move`)."""

    def one_step(position, action):
        position = move(position, action, layout, config)
        return position, position

    _, positions = jax.lax.scan(one_step, start, actions)
    return jnp.concatenate([start[None], positions])


def trajectory(key: jax.Array, length: int, config: Config) -> Trajectory:
    """One training trajectory of `length` frames (length - 1 actions) in a fresh layout."""
    layout_key, plan_key = jax.random.split(key)
    layout = random_layout(layout_key, config)
    start, actions = training_plan(plan_key, length - 1, layout, config)
    positions = rollout(start, actions, layout, config)
    frames = jax.vmap(lambda p: render(p, layout, config))(positions)
    return Trajectory(frames, positions, actions, layout)


# Jitted: called eagerly (the exporter, the probe, the tests) it would dispatch and compile op by op.
@functools.partial(jax.jit, static_argnames=("count", "length", "config"))
def trajectories(key: jax.Array, count: int, length: int, config: Config) -> Trajectory:
    """`count` independent trajectories, [count, length, ...]; a trajectory holds at least its start and one move."""
    count, length = whole_number(count, "count"), whole_number(length, "length", least=2)
    return jax.vmap(lambda k: trajectory(k, length, config))(jax.random.split(key, count))


def crossed(traj: Trajectory) -> jax.Array:
    """[...] bool: the dot changed rooms at some step of the trajectory."""
    sides = room(traj.positions, Layout(traj.layout.wall_x[..., None], traj.layout.door_y[..., None]))
    return jnp.any(sides != sides[..., :1], axis=-1)


def task(key: jax.Array, config: Config) -> Task:
    """An evaluation task: a fresh layout, start and goal uniform in different rooms."""
    layout_key, side_key, start_key, goal_key = jax.random.split(key, 4)
    layout = random_layout(layout_key, config)
    side = jax.random.bernoulli(side_key).astype(jnp.int32)
    return Task(
        uniform_in_room(start_key, side, layout, config), uniform_in_room(goal_key, 1 - side, layout, config), layout
    )


def tasks(key: jax.Array, count: int, config: Config) -> Task:
    return jax.vmap(lambda k: task(k, config))(jax.random.split(key, whole_number(count, "count")))


def success(final_position: jax.Array, goal: jax.Array) -> jax.Array:
    """[...] bool: the episode ends within SUCCESS_RADIUS_PX of its goal."""
    return jnp.linalg.norm(final_position - goal, axis=-1) < SUCCESS_RADIUS_PX

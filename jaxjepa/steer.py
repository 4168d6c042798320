"""The controllable world `steer`: the same logo, but every frame an action accelerates it.

Physics: an action a in [-1, 1]^2 (clipped there) changes the velocity, v <- clip(v + gain a, -max, max)
per axis (px/frame), then the logo moves and bounces off the walls exactly as in the bouncing world
(`world.step`), and the frame is rendered after the update. Pure JAX like world.py: `step` is one
frame, a trajectory is a `lax.scan` of it, a batch is a `vmap` over keys.

Training actions are an Ornstein-Uhlenbeck walk, a <- (1 - theta) a + sigma noise, clipped to [-1, 1].
Why a walk and not white noise: independent actions average out, so the speed would hover near its
start; a persistent push (about 1 / theta frames) drives the logo from rest to the speed limit and back,
so slow and fast motion, stops and wall bounces all appear in the data (`coverage` measures how often).
Sequences start at rest-to-full speed (uniform per axis) anywhere in the training box.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxjepa import world
from jaxjepa.config import Config, whole_number

SLOW_PX, FAST_PX = 0.25, 1.0  # coverage bins: a logo slower than SLOW_PX px/frame (per axis max) is "nearly
# stopped"; faster than FAST_PX it moves faster than the bouncing world's 0.75


class SteerState(NamedTuple):
    position: jax.Array  # [2] (y, x) px
    velocity: jax.Array  # [2] px / frame


class SteerTrajectory(NamedTuple):
    frames: jax.Array  # [T, H, W]
    positions: jax.Array  # [T, 2] after each frame's update
    velocities: jax.Array  # [T, 2]
    actions: jax.Array  # [T, 2]: actions[t] is applied before frame t is rendered


def clip_action(action: jax.Array) -> jax.Array:
    """The action within [-1, 1]^2; a NaN entry pushes nothing (it would otherwise poison the state for good)."""
    return jnp.clip(jnp.nan_to_num(action, nan=0.0), -1.0, 1.0)


def step(state: SteerState, action: jax.Array, config: Config) -> SteerState:
    """One frame: accelerate by the (clipped) action, clip the speed per axis, then move and bounce."""
    velocity = jnp.clip(
        state.velocity + config.steer_gain * clip_action(action), -config.steer_max_speed, config.steer_max_speed
    )
    return SteerState(*world.step(state.position, velocity, config))


def random_state(key: jax.Array, margin: int, config: Config, max_speed: float | None = None) -> SteerState:
    """Position uniform in [margin, H - 1 - margin) per axis, velocity uniform in [-max_speed, max_speed]
    (default: the speed limit)."""
    pos_key, vel_key = jax.random.split(key)
    limit = config.steer_max_speed if max_speed is None else max_speed
    position = jax.random.uniform(pos_key, (2,), minval=margin, maxval=config.frame_size - 1 - margin)
    return SteerState(position, jax.random.uniform(vel_key, (2,), minval=-limit, maxval=limit))


def action_walk(key: jax.Array, length: int, config: Config) -> jax.Array:
    """[length, 2] training actions: an Ornstein-Uhlenbeck walk from a uniform start, clipped to [-1, 1]."""
    start_key, noise_key = jax.random.split(key)
    noise = jax.random.normal(noise_key, (length, 2))

    def one(action, eps):
        action = clip_action((1.0 - config.action_theta) * action + config.action_sigma * eps)
        return action, action

    _, actions = jax.lax.scan(one, jax.random.uniform(start_key, (2,), minval=-1.0, maxval=1.0), noise)
    return actions


def rollout(state: SteerState, actions: jax.Array, config: Config) -> SteerTrajectory:
    """The trajectory that `actions` [T, 2] drive from `state`, one frame per action."""

    def one(state, action):
        state = step(state, action, config)
        return state, (world.render(state.position, config), state.position, state.velocity)

    _, (frames, positions, velocities) = jax.lax.scan(one, state, actions)
    return SteerTrajectory(frames, positions, velocities, clip_action(actions))


def damped_rollout(state: SteerState, walk: jax.Array, damping: jax.Array, config: Config) -> SteerTrajectory:
    """Training actions: the walk plus a brake, a_t = clip(walk_t - damping v_t). Why the brake: a walk
    alone leaves each axis's speed near uniform, so a logo at rest on both axes (every planning goal) is
    rare; a sequence with a strong brake hovers around rest, one without it roams up to the limit."""

    def one(state, push):
        action = clip_action(push - damping * state.velocity)
        state = step(state, action, config)
        return state, (world.render(state.position, config), state.position, state.velocity, action)

    _, (frames, positions, velocities, actions) = jax.lax.scan(one, state, walk)
    return SteerTrajectory(frames, positions, velocities, actions)


def trajectory(key: jax.Array, length: int, config: Config, *, margin: int | None = None) -> SteerTrajectory:
    """One training-style trajectory: a random start driven by a random action walk, braked by a damping
    drawn uniformly in [0, action_damping] per sequence."""
    state_key, action_key, damping_key = jax.random.split(key, 3)
    margin = config.train_start_margin if margin is None else margin
    damping = jax.random.uniform(damping_key, (), maxval=config.action_damping)
    return damped_rollout(
        random_state(state_key, margin, config), action_walk(action_key, length, config), damping, config
    )


# Jitted: called eagerly (the exporter, the probe, the tests) it would dispatch and compile op by op.
@functools.partial(jax.jit, static_argnames=("count", "length", "config", "margin"))
def trajectories(
    key: jax.Array, count: int, length: int, config: Config, *, margin: int | None = None
) -> SteerTrajectory:
    """`count` independent trajectories, [count, length, ...]."""
    count, length = whole_number(count, "count"), whole_number(length, "length")
    return jax.vmap(lambda k: trajectory(k, length, config, margin=margin))(jax.random.split(key, count))


def observe(previous: SteerState, current: SteerState, config: Config) -> jax.Array:
    """What the agent sees: the two newest frames, flattened [2 H W] as the encoder takes them."""
    frames = jnp.stack([world.render(previous.position, config), world.render(current.position, config)])
    return world.flatten_observations(frames)


def at_rest(position: jax.Array) -> SteerState:
    return SteerState(position, jnp.zeros_like(position))


class Coverage(NamedTuple):
    speed_histogram: jax.Array  # [bins] fraction of frames per speed bin (speed = max |v| over the axes)
    bin_edges: jax.Array  # [bins + 1] px / frame
    slow: jax.Array  # fraction of frames slower than SLOW_PX
    fast: jax.Array  # fraction of frames faster than FAST_PX
    at_speed_limit: jax.Array  # fraction of frames with some axis at the speed limit
    bounces: jax.Array  # fraction of frames in which the logo touches a wall


def coverage(traj: SteerTrajectory, config: Config, bins: int = 6) -> Coverage:
    """How much of the state space a batch of trajectories visits: speeds, stops, wall bounces."""
    speed = jnp.max(jnp.abs(traj.velocities), axis=-1).reshape(-1)
    edges = jnp.linspace(0.0, config.steer_max_speed, bins + 1)
    histogram, _ = jnp.histogram(speed, edges)
    lo, hi = world.bounds(config)
    touching = jnp.any((traj.positions <= lo) | (traj.positions >= hi), axis=-1)
    return Coverage(
        histogram / speed.size,
        edges,
        jnp.mean(speed < SLOW_PX),
        jnp.mean(speed > FAST_PX),
        jnp.mean(speed >= config.steer_max_speed),
        jnp.mean(touching),
    )

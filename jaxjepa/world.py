"""The world: a Gaussian logo bouncing in a box, as pure JAX.

Why pure JAX and not NumPy: the data set is built inside the same compiled program as training, so
`train(key)` is one function of one key and vmaps over seeds; evaluation draws thousands of fresh
trajectories the same way. One frame of physics is a pure `step`; a trajectory is a `lax.scan` of it;
a batch is a `vmap` over keys. Positions and velocities come back for evaluation only: training sees
frames alone.

Physics (REFERENCE.md): p <- p + v; on each axis, if p leaves [1, H - 2] that axis's velocity flips
and p is clipped back. The frame is rendered after the update, so frame 0 already shows one step.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxjepa.config import Config

NO_ANOMALY = -1  # anomaly_frame value meaning "nothing happens"


class Trajectory(NamedTuple):
    frames: jax.Array     # [T, H, W] float32 in [0, 1]
    positions: jax.Array  # [T, 2] (y, x) after each frame's update, px
    velocities: jax.Array  # [T, 2] px / frame


def bounds(config: Config) -> tuple[float, float]:
    """Where the logo's centre may be: [1, H - 2]."""
    return 1.0, float(config.frame_size - 2)


def step(position: jax.Array, velocity: jax.Array, config: Config) -> tuple[jax.Array, jax.Array]:
    """One frame of physics: move, reflect the velocity of any axis that left the box, clip."""
    lo, hi = bounds(config)
    position = position + velocity
    outside = (position > hi) | (position < lo)
    velocity = jnp.where(outside, -velocity, velocity)
    return jnp.clip(position, lo, hi), velocity


def render(position: jax.Array, config: Config) -> jax.Array:
    """exp(-((y - py)^2 + (x - px)^2) / (2 sigma^2)) on the integer grid, as an outer product."""
    grid = jnp.arange(config.frame_size, dtype=jnp.float32)
    gy, gx = (jnp.exp(-((grid - p) ** 2) / (2.0 * config.sigma**2)) for p in (position[0], position[1]))
    return gy[:, None] * gx[None, :]


def random_start(key: jax.Array, margin: int, config: Config) -> tuple[jax.Array, jax.Array]:
    """Position uniform in [margin, H - 1 - margin) per axis; diagonal velocity of random signs."""
    pos_key, sign_key = jax.random.split(key)
    position = jax.random.uniform(pos_key, (2,), minval=margin, maxval=config.frame_size - 1 - margin)
    signs = jnp.where(jax.random.bernoulli(sign_key, 0.5, (2,)), 1.0, -1.0)
    return position, signs * config.speed * (config.frame_size - 1)


def teleport(key: jax.Array, position: jax.Array, velocity: jax.Array, config: Config):
    """The reference's anomaly: re-draw the position uniformly in the evaluation box; keep velocity."""
    margin = config.eval_start_margin
    new = jax.random.uniform(key, (2,), minval=margin, maxval=config.frame_size - 1 - margin)
    return new, velocity


def trajectory(key: jax.Array, length: int, config: Config, *, margin: int | None = None,
               anomaly_frame: int | jax.Array = NO_ANOMALY) -> Trajectory:
    """One trajectory of `length` frames. At `anomaly_frame` (traceable), before that frame's update,
    the logo is teleported; NO_ANOMALY (-1) leaves the world alone."""
    margin = config.train_start_margin if margin is None else margin
    start_key, anomaly_key = jax.random.split(key)
    position, velocity = random_start(start_key, margin, config)
    jumped_position, jumped_velocity = teleport(anomaly_key, position, velocity, config)  # drawn once

    def one_frame(carry, t):
        position, velocity = carry
        hit = t == anomaly_frame
        position = jnp.where(hit, jumped_position, position)
        velocity = jnp.where(hit, jumped_velocity, velocity)
        position, velocity = step(position, velocity, config)
        return (position, velocity), (render(position, config), position, velocity)

    _, (frames, positions, velocities) = jax.lax.scan(one_frame, (position, velocity), jnp.arange(length))
    return Trajectory(frames, positions, velocities)


def trajectories(key: jax.Array, count: int, length: int, config: Config, *, margin: int | None = None,
                 anomaly_frames: jax.Array | int = NO_ANOMALY) -> Trajectory:
    """`count` independent trajectories, [count, length, ...]; anomaly_frames is a scalar or [count]."""
    keys = jax.random.split(key, count)
    anomaly_frames = jnp.broadcast_to(jnp.asarray(anomaly_frames), (count,))
    return jax.vmap(lambda k, a: trajectory(k, length, config, margin=margin, anomaly_frame=a))(keys, anomaly_frames)


def observations(frames: jax.Array) -> jax.Array:
    """[..., T, H, W] -> [..., T - 1, 2, H, W]: o_t = (f_t, f_{t+1}). Two frames carry the velocity."""
    return jnp.stack([frames[..., :-1, :, :], frames[..., 1:, :, :]], axis=-3)


def flatten_observations(obs: jax.Array) -> jax.Array:
    """[..., 2, H, W] -> [..., 2 H W], the encoder's input."""
    return obs.reshape(*obs.shape[:-3], -1)

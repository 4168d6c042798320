"""The world: a Gaussian logo bouncing in a box, as pure JAX.

Why pure JAX and not NumPy: the data set is built inside the same compiled program as training, so
`train(key)` is one function of one key and vmaps over seeds; evaluation draws thousands of fresh
trajectories the same way. One frame of physics is a pure `step`; a trajectory is a `lax.scan` of it;
a batch is a `vmap` over keys. Positions and velocities come back for evaluation only: training sees
frames alone.

Physics (REFERENCE.md): p <- p + v; on each axis, if p leaves [1, H - 2] that axis's velocity flips
and p is clipped back. The frame is rendered after the update, so frame 0 already shows one step.

Anomalies (`ANOMALIES`) change the state once, at a chosen frame: the reference's teleport, and the
subtle ones (mid-air velocity flip, speed change, freeze, small jump). Harder worlds are
config fields (`logos`, `speed_jitter`, `pixel_noise`, `frame_size`) whose defaults leave every
draw of the reference world untouched: their extra randomness comes from keys folded in apart.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxjepa.config import Config, whole_number

NO_ANOMALY = -1  # anomaly_frame value meaning "nothing happens"


class Trajectory(NamedTuple):
    frames: jax.Array  # [T, H, W] float32 in [0, 1]
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
    """exp(-((y - py)^2 + (x - px)^2) / (2 sigma^2)) on the integer grid, as an outer product.
    Several logos ([L, 2] positions) are drawn as the pixelwise max of their blobs, so frames stay in [0, 1]."""
    if position.ndim == 2:
        return jnp.max(jax.vmap(lambda p: render(p, config))(position), axis=0)
    grid = jnp.arange(config.frame_size, dtype=jnp.float32)
    gy, gx = (jnp.exp(-((grid - p) ** 2) / (2.0 * config.sigma**2)) for p in (position[0], position[1]))
    return gy[:, None] * gx[None, :]


def random_start(key: jax.Array, margin: int, config: Config) -> tuple[jax.Array, jax.Array]:
    """Position uniform in [margin, H - 1 - margin) per axis; diagonal velocity of random signs.
    With `logos` > 1: [L, 2] of each, independent per logo; with `speed_jitter`: a random speed."""
    if config.logos > 1:
        return jax.vmap(lambda k: random_start(k, margin, config.replace(logos=1)))(jax.random.split(key, config.logos))
    pos_key, sign_key = jax.random.split(key)
    position = jax.random.uniform(pos_key, (2,), minval=margin, maxval=config.frame_size - 1 - margin)
    signs = jnp.where(jax.random.bernoulli(sign_key, 0.5, (2,)), 1.0, -1.0)
    velocity = signs * config.speed * (config.frame_size - 1)
    if config.speed_jitter:  # a key of its own, so the positions and signs are those of the plain world
        velocity = velocity * jax.random.uniform(
            jax.random.fold_in(key, 1), (), minval=1.0 - config.speed_jitter, maxval=1.0 + config.speed_jitter
        )
    return position, velocity


def teleport(key: jax.Array, position: jax.Array, velocity: jax.Array, config: Config):
    """The reference's anomaly: re-draw the position uniformly in the evaluation box; keep velocity."""
    margin = config.eval_start_margin
    new = jax.random.uniform(key, position.shape, minval=margin, maxval=config.frame_size - 1 - margin)
    return new, velocity


# The subtle anomalies: each, like `teleport`, maps (key, position, velocity) at the anomaly
# frame, before that frame's update, to the new state; the physics then runs on from it.
SPEED_FACTORS = (0.5, 1.5)  # a speed change halves the speed or makes it 1.5 times, at random
JUMP_PX = (1.0, 2.0)  # a small jump moves the logo this far (uniform), in a random direction


def velocity_flip(key: jax.Array, position: jax.Array, velocity: jax.Array, config: Config):
    """Mid-air reversal: the logo turns back where it is, with no wall to bounce on."""
    return position, -velocity


def speed_change(key: jax.Array, position: jax.Array, velocity: jax.Array, config: Config):
    """Same direction, another speed: velocity times one of SPEED_FACTORS."""
    factor = jnp.where(jax.random.bernoulli(key, 0.5), SPEED_FACTORS[0], SPEED_FACTORS[1])
    return position, velocity * factor


def freeze(key: jax.Array, position: jax.Array, velocity: jax.Array, config: Config):
    """The logo stops where it is and stays (zero velocity never bounces)."""
    return position, jnp.zeros_like(velocity)


def small_jump(key: jax.Array, position: jax.Array, velocity: jax.Array, config: Config):
    """A jump of JUMP_PX[0]..JUMP_PX[1] px in a random direction; the velocity is kept."""
    length_key, angle_key = jax.random.split(key)
    length = jax.random.uniform(length_key, (), minval=JUMP_PX[0], maxval=JUMP_PX[1])
    angle = jax.random.uniform(angle_key, (), maxval=2.0 * jnp.pi)
    lo, hi = bounds(config)
    return jnp.clip(position + length * jnp.stack([jnp.sin(angle), jnp.cos(angle)]), lo, hi), velocity


ANOMALIES = {"teleport": teleport, "flip": velocity_flip, "speed": speed_change, "freeze": freeze, "jump": small_jump}


def anomaly_injector(kind: str):
    """The state change of anomaly `kind`; ValueError naming the known kinds for any other."""
    if kind not in ANOMALIES:
        raise ValueError(f"unknown anomaly {kind!r}; known: {', '.join(ANOMALIES)}")
    return ANOMALIES[kind]


def trajectory(
    key: jax.Array,
    length: int,
    config: Config,
    *,
    margin: int | None = None,
    anomaly_frame: int | jax.Array = NO_ANOMALY,
    anomaly: str = "teleport",
) -> Trajectory:
    """One trajectory of `length` frames. At `anomaly_frame` (traceable), before that frame's update,
    the anomaly `anomaly` (a key of ANOMALIES; the teleport by default) changes the logo's state;
    NO_ANOMALY (-1) leaves the world alone. With several logos, positions and velocities are [T, 2 L]
    (y, x of each logo in turn); with pixel noise, the frames are noisy and the positions are not."""
    inject = anomaly_injector(anomaly)
    margin = config.train_start_margin if margin is None else margin
    start_key, anomaly_key = jax.random.split(key)
    position, velocity = random_start(start_key, margin, config)

    def one_frame(carry, t):
        position, velocity = carry
        hit = t == anomaly_frame
        # every anomaly acts on the state at the anomaly frame (a teleport keeps the current velocity)
        jumped_position, jumped_velocity = inject(anomaly_key, position, velocity, config)
        position = jnp.where(hit, jumped_position, position)
        velocity = jnp.where(hit, jumped_velocity, velocity)
        position, velocity = step(position, velocity, config)
        return (position, velocity), (render(position, config), position.reshape(-1), velocity.reshape(-1))

    _, (frames, positions, velocities) = jax.lax.scan(one_frame, (position, velocity), jnp.arange(length))
    if config.pixel_noise:  # a key of its own: the motion is that of the noiseless world
        noise = jax.random.normal(jax.random.fold_in(key, 2), frames.shape)
        frames = jnp.clip(frames + config.pixel_noise * noise, 0.0, 1.0)
    return Trajectory(frames, positions, velocities)


# Jitted: called eagerly (the exporter, the probe, the tests) it would dispatch and compile op by op.
@functools.partial(jax.jit, static_argnames=("count", "length", "config", "margin", "anomaly"))
def trajectories(
    key: jax.Array,
    count: int,
    length: int,
    config: Config,
    *,
    margin: int | None = None,
    anomaly_frames: jax.Array | int = NO_ANOMALY,
    anomaly: str = "teleport",
) -> Trajectory:
    """`count` independent trajectories, [count, length, ...]; anomaly_frames is a scalar or [count]."""
    count, length = whole_number(count, "count"), whole_number(length, "length")
    keys = jax.random.split(key, count)
    anomaly_frames = jnp.broadcast_to(jnp.asarray(anomaly_frames), (count,))
    return jax.vmap(lambda k, a: trajectory(k, length, config, margin=margin, anomaly_frame=a, anomaly=anomaly))(
        keys, anomaly_frames
    )


def observations(frames: jax.Array) -> jax.Array:
    """[..., T, H, W] -> [..., T - 1, 2, H, W]: o_t = (f_t, f_{t+1}). Two frames carry the velocity."""
    return jnp.stack([frames[..., :-1, :, :], frames[..., 1:, :, :]], axis=-3)


def flatten_observations(obs: jax.Array) -> jax.Array:
    """[..., 2, H, W] -> [..., 2 H W], the encoder's input."""
    return obs.reshape(*obs.shape[:-3], -1)

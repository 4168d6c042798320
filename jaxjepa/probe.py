"""A closed-form linear probe: can a linear map read the logo's position out of the latent?

Why closed form: a probe trained by gradient descent can be under-fitted, and then reports the
optimiser's shortfall as the representation's (REFERENCE.md: the reference's Adam probe gives 0.86 px
where least squares on the same latents gives 0.64). Least squares with a bias is the best linear
readout, so its error belongs to the representation alone. Fit and test on fresh trajectories drawn
from the evaluation key, never from training data.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, TypedDict

import jax
import jax.numpy as jnp

from jaxjepa import models, two_rooms, world
from jaxjepa.config import Config


class Probe(NamedTuple):
    weights: jax.Array  # [d + 1, k]: the last row is the bias


def fit(features: jax.Array, targets: jax.Array) -> Probe:
    """Least squares of targets [n, k] on features [n, d] plus a constant."""
    design = jnp.concatenate([features, jnp.ones((features.shape[0], 1), features.dtype)], axis=1)
    weights, *_ = jnp.linalg.lstsq(design, targets)
    return Probe(weights)


def apply(probe: Probe, features: jax.Array) -> jax.Array:
    return features @ probe.weights[:-1] + probe.weights[-1]


def rmse_per_coordinate(predicted: jax.Array, targets: jax.Array) -> jax.Array:
    """[k]: root mean squared error of each coordinate over all samples."""
    return jnp.sqrt(jnp.mean((predicted - targets) ** 2, axis=tuple(range(predicted.ndim - 1))))


def rmse(predicted: jax.Array, targets: jax.Array) -> jax.Array:
    """One number: RMSE pooled over samples and coordinates (the px figure quoted everywhere)."""
    return jnp.sqrt(jnp.mean((predicted - targets) ** 2))


def encode_trajectories(params: dict, traj: world.Trajectory, config: Config):
    """Target-encoder latents of every observation o_t = (f_t, f_{t+1}) and the newest frame's
    position and velocity: ([n, T-1, d], [n, T-1, 2], [n, T-1, 2])."""
    obs = world.flatten_observations(world.observations(traj.frames))
    z = models.encoder(config).apply(params["target"], obs)
    return z, traj.positions[:, 1:], traj.velocities[:, 1:]


class Latents(NamedTuple):
    """Target-encoder latents of fresh trajectories with what a probe reads from them."""

    z: jax.Array  # [n, T - 1, d]
    positions: jax.Array  # [n, T - 1, k]: (y, x) of each logo's newest frame
    velocities: jax.Array  # [n, T - 1, k]


def fit_and_test_latents(params: dict, key: jax.Array, config: Config) -> tuple[Latents, Latents]:
    """The probe's protocol: `probe_sequences` fresh trajectories to fit on and as many others to test
    on, both drawn from `key`: the bouncing world's trajectories, started `eval_start_margin` px from the walls,
    for the steer world too (the logo coasting, no actions: the same probe for every 16x16 model); Two Rooms'
    trajectories as its training set draws them (two_rooms_latents). The planning evaluation fits its own probe
    on steer trajectories (evaluation/planning.py)."""
    n, length, margin = config.probe_sequences, config.probe_seq_len, config.eval_start_margin
    if config.world == "two_rooms":
        return tuple(two_rooms_latents(params, k, n, length, config) for k in jax.random.split(key))
    return tuple(
        Latents(*encode_trajectories(params, world.trajectories(k, n, length, config, margin=margin), config))
        for k in jax.random.split(key)
    )


@functools.partial(jax.jit, static_argnames=("n", "length", "config"))  # eager callers: the exporter
def two_rooms_latents(params: dict, key: jax.Array, n: int, length: int, config: Config) -> Latents:
    """Latents of `n` fresh Two Rooms training-protocol trajectories (each its own wall and door) with the
    dot's newest position and its last displacement as the velocity."""
    traj = two_rooms.trajectories(key, n, length, config)
    frames = traj.frames.reshape(n, length, -1)
    obs = jnp.concatenate([frames[:, :-1], frames[:, 1:]], axis=-1)
    z = models.encoder(config).apply(params["target"], obs)
    return Latents(z, traj.positions[:, 1:], jnp.diff(traj.positions, axis=1))


def flat(a: jax.Array) -> jax.Array:
    """[n, T, k] -> [n T, k]: samples of a probe."""
    return a.reshape(-1, a.shape[-1])


def fit_position(params: dict, key: jax.Array, config: Config) -> tuple[Probe, Latents]:
    """(the position probe fitted on `probe_sequences` fresh trajectories, the latents it is tested on)."""
    fitted, tested = fit_and_test_latents(params, key, config)
    return fit(flat(fitted.z), flat(fitted.positions)), tested


class ProbeFigures(TypedDict):
    """How far the position probe reads the logo off, on held-out trajectories, px. A saved run keeps them as
    FinalFigures' probe_rmse_px and probe_rmse_yx_px."""

    probe_rmse: jax.Array  # [] over both coordinates
    probe_rmse_yx: jax.Array  # [2 * logos]: y, x of each logo


def probe_position(params: dict, key: jax.Array, config: Config) -> ProbeFigures:
    """Fit on `probe_sequences` fresh trajectories, test on as many others."""
    position_probe, tested = fit_position(params, key, config)
    predicted = apply(position_probe, flat(tested.z))
    return ProbeFigures(
        probe_rmse=rmse(predicted, flat(tested.positions)),
        probe_rmse_yx=rmse_per_coordinate(predicted, flat(tested.positions)),
    )

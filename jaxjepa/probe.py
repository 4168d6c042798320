"""A closed-form linear probe: can a linear map read the logo's position out of the latent?

Why closed form: a probe trained by gradient descent can be under-fitted, and then reports the
optimiser's shortfall as the representation's (REFERENCE.md: the reference's Adam probe gives 0.86 px
where least squares on the same latents gives 0.64). Least squares with a bias is the best linear
readout, so its error belongs to the representation alone. Fit and test on fresh trajectories drawn
from the evaluation key, never from training data.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxjepa import models, world
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


def probe_position(params: dict, key: jax.Array, config: Config) -> dict:
    """Fit on `probe_sequences` fresh trajectories, test on as many others. Returns RMSE in px."""
    fit_key, test_key = jax.random.split(key)
    n, length, margin = config.probe_sequences, config.probe_seq_len, config.eval_start_margin
    z_fit, p_fit, _ = encode_trajectories(params, world.trajectories(fit_key, n, length, config, margin=margin), config)
    z_test, p_test, _ = encode_trajectories(params, world.trajectories(test_key, n, length, config, margin=margin), config)
    d = z_fit.shape[-1]
    k = p_fit.shape[-1]   # 2: (y, x); 2 L with L logos
    probe = fit(z_fit.reshape(-1, d), p_fit.reshape(-1, k))
    predicted = apply(probe, z_test.reshape(-1, d))
    return {"probe_rmse": rmse(predicted, p_test.reshape(-1, k)),
            "probe_rmse_yx": rmse_per_coordinate(predicted, p_test.reshape(-1, k))}

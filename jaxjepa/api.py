"""The small public API: `load_run(path)` and a `Run` that encodes, predicts, decodes and dreams.

Inputs and outputs are NumPy arrays with any leading batch shape: observations [..., 2, H, W],
latents [..., d], frames [..., H, W]. Encoding uses the target (EMA) encoder, the one whose latents
the predictor learned to predict and the one every evaluation probes.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxjepa import models, world
from jaxjepa.checkpoint import load_run_files
from jaxjepa.config import Config
from jaxjepa.rollout import rollout_latents


@functools.partial(jax.jit, static_argnums=0)
def _encode(config: Config, params: dict, obs: jax.Array) -> jax.Array:
    return models.encoder(config).apply(params["target"], world.flatten_observations(obs))


@functools.partial(jax.jit, static_argnums=0)
def _predict(config: Config, params: dict, z: jax.Array) -> jax.Array:
    return models.predictor(config).apply(params["predictor"], z)


@functools.partial(jax.jit, static_argnums=0)
def _decode(config: Config, params: dict, z: jax.Array) -> jax.Array:
    frames = models.decoder(config).apply(params["decoder"], z)
    return frames.reshape(*z.shape[:-1], config.frame_size, config.frame_size)


_rollout = jax.jit(rollout_latents, static_argnums=(0, 3))


@dataclasses.dataclass(frozen=True)
class Run:
    config: Config
    params: dict
    metrics: dict
    path: Path | None = None

    def _check(self, array, trailing: tuple[int, ...], what: str) -> jax.Array:
        array = np.asarray(array, dtype=np.float32)
        if array.shape[array.ndim - len(trailing):] != trailing or array.ndim < len(trailing):
            raise ValueError(f"{what} must have shape [..., {', '.join(map(str, trailing))}], got {array.shape}")
        return jnp.asarray(array)

    @property
    def obs_shape(self) -> tuple[int, int, int]:
        return (2, self.config.frame_size, self.config.frame_size)

    def encode(self, obs) -> np.ndarray:
        """Observations [..., 2, H, W] -> latents [..., d]."""
        return np.asarray(_encode(self.config, self.params, self._check(obs, self.obs_shape, "obs")))

    def predict(self, z) -> np.ndarray:
        """Latents [..., d] -> the predicted next latents [..., d]."""
        return np.asarray(_predict(self.config, self.params, self._check(z, (self.config.latent_dim,), "z")))

    def decode(self, z) -> np.ndarray:
        """Latents [..., d] -> rendered newest frames [..., H, W]."""
        return np.asarray(_decode(self.config, self.params, self._check(z, (self.config.latent_dim,), "z")))

    def rollout(self, obs, steps: int) -> np.ndarray:
        """Dream `steps` latents ahead of observations [..., 2, H, W] -> [..., steps, d]."""
        if int(steps) < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        z0 = _encode(self.config, self.params, self._check(obs, self.obs_shape, "obs"))
        return np.asarray(_rollout(self.config, self.params, z0, int(steps)))


def load_run(path: str | Path, expected: Config | None = None) -> Run:
    """Load a finished run directory written by train.py. Raises RunError if it is missing,
    half-written, corrupt, or (when `expected` is given) trained with another config."""
    config, params, metrics = load_run_files(path, expected)
    return Run(config, params, metrics, Path(path))

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


MAX_ROLLOUT_STEPS = 100_000  # far beyond any horizon measured here; a scan of 2e8 steps aborts the process
MAX_OUTPUT_FLOATS = 1 << 28  # 1 GiB of float32: a bigger answer is refused rather than exhausting memory


def real_floats(array, trailing: tuple[int, ...], what: str, accepted: str) -> np.ndarray:
    """`array` as float32 [..., *trailing], or ValueError (one line) unless it is a real floating-point
    array of that shape with finite entries. Integers are refused rather than cast: uint8 0-255 images
    would be read as intensities up to 255."""
    try:
        array = np.asarray(array)
    except (ValueError, TypeError):
        raise ValueError(
            f"{what} must be an array of {accepted}, got a ragged or mixed {type(array).__name__}"
        ) from None
    if array.dtype.kind != "f":
        raise ValueError(f"{what} must be a real floating-point array of {accepted}, got dtype {array.dtype}")
    if array.ndim < len(trailing) or array.shape[array.ndim - len(trailing) :] != trailing:
        raise ValueError(f"{what} must have shape [..., {', '.join(map(str, trailing))}], got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} holds NaN or inf; accepted: {accepted}")
    return array.astype(np.float32)


def checked_steps(steps, batch: int, latent_dim: int) -> int:
    """`steps` as an int in [1, MAX_ROLLOUT_STEPS] whose answer fits MAX_OUTPUT_FLOATS, or ValueError."""
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer)):
        raise ValueError(f"steps must be an integer, got {steps!r} ({type(steps).__name__})")
    if not 1 <= steps <= MAX_ROLLOUT_STEPS:
        raise ValueError(f"steps must be in [1, {MAX_ROLLOUT_STEPS}], got {steps}")
    if batch * int(steps) * latent_dim > MAX_OUTPUT_FLOATS:
        raise ValueError(
            f"a rollout of {steps} steps from {batch} observations would hold "
            f"{batch * int(steps) * latent_dim:,} floats (at most {MAX_OUTPUT_FLOATS:,}): dream fewer"
        )
    return int(steps)


@dataclasses.dataclass(frozen=True)
class Run:
    config: Config
    params: dict
    metrics: dict
    path: Path | None = None

    @property
    def obs_shape(self) -> tuple[int, int, int]:
        return (2, self.config.frame_size, self.config.frame_size)

    def _obs(self, obs) -> np.ndarray:
        obs = real_floats(obs, self.obs_shape, "obs", "observations in [0, 1]")
        if obs.size and not (obs.min() >= 0.0 and obs.max() <= 1.0):
            raise ValueError(f"obs must be pixel intensities in [0, 1], got values in [{obs.min()}, {obs.max()}]")
        return obs

    def _latents(self, z) -> np.ndarray:
        return real_floats(z, (self.config.latent_dim,), "z", "latents (any finite values)")

    def _apply(self, fn, inputs: np.ndarray, trailing_in: int, trailing_out: tuple[int, ...], *static) -> np.ndarray:
        """fn over a batch; an empty batch gets an empty answer of the right shape without compiling."""
        lead = inputs.shape[: inputs.ndim - trailing_in]
        if inputs.size == 0:
            return np.zeros((*lead, *trailing_out), np.float32)
        return np.asarray(fn(self.config, self.params, jnp.asarray(inputs), *static))

    def encode(self, obs) -> np.ndarray:
        """Observations [..., 2, H, W] (real floats in [0, 1]) -> latents [..., d]."""
        return self._apply(_encode, self._obs(obs), 3, (self.config.latent_dim,))

    def predict(self, z) -> np.ndarray:
        """Latents [..., d] (finite real floats) -> the predicted next latents [..., d]."""
        return self._apply(_predict, self._latents(z), 1, (self.config.latent_dim,))

    def decode(self, z) -> np.ndarray:
        """Latents [..., d] (finite real floats) -> rendered newest frames [..., H, W]."""
        return self._apply(_decode, self._latents(z), 1, (self.config.frame_size, self.config.frame_size))

    def rollout(self, obs, steps: int) -> np.ndarray:
        """Dream `steps` (an int in [1, MAX_ROLLOUT_STEPS]) latents ahead of observations [..., 2, H, W]
        -> [..., steps, d]."""
        obs = self._obs(obs)
        steps = checked_steps(steps, int(np.prod(obs.shape[:-3])), self.config.latent_dim)
        z0 = self.encode(obs)
        return self._apply(_rollout, z0, 1, (steps, self.config.latent_dim), steps)


def load_run(path: str | Path, expected: Config | None = None) -> Run:
    """Load a finished run directory written by train.py. Raises RunError if it is missing,
    half-written, corrupt, or (when `expected` is given) trained with another config (its planning fields aside)."""
    config, params, metrics = load_run_files(path, expected)
    return Run(config, params, metrics, Path(path))

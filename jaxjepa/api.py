"""The small public API: `load_run(path)` and a `Run` that encodes, predicts, decodes and dreams.

Inputs and outputs are NumPy arrays with any leading batch shape: observations [..., 2, H, W],
latents [..., d], frames [..., H, W], actions [..., a]. In Two Rooms a frame has two channels (the dot, the
walls): observations [..., 2, 2, H, W], frames [..., 2, H, W]. Encoding uses the target (EMA) encoder, the one
whose latents the predictor learned to predict and the one every evaluation probes.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxjepa import models
from jaxjepa.checkpoint import load_run_files
from jaxjepa.config import Config
from jaxjepa.rollout import rollout_latents


def frame_shape(config: Config) -> tuple[int, ...]:
    """One frame: [H, W], or [C, H, W] where a frame has several channels (Two Rooms)."""
    size = (config.frame_size, config.frame_size)
    return size if config.frame_channels == 1 else (config.frame_channels, *size)


@functools.partial(jax.jit, static_argnums=0)
def _encode(config: Config, params: dict, obs: jax.Array) -> jax.Array:
    lead = obs.shape[: obs.ndim - 1 - len(frame_shape(config))]
    return models.encoder(config).apply(params["target"], obs.reshape(*lead, -1))


@functools.partial(jax.jit, static_argnums=0)
def _predict(config: Config, params: dict, z: jax.Array, action: jax.Array | None) -> jax.Array:
    return models.predictor(config).apply(params["predictor"], models.predictor_input(z, action))


@functools.partial(jax.jit, static_argnums=0)
def _decode(config: Config, params: dict, z: jax.Array) -> jax.Array:
    frames = models.decoder(config).apply(params["decoder"], z)
    return frames.reshape(*z.shape[:-1], *frame_shape(config))


_rollout = jax.jit(rollout_latents, static_argnums=(0, 3))


MAX_ROLLOUT_STEPS = 100_000  # far beyond any horizon measured here; a scan of 2e8 steps aborts the process
MAX_OUTPUT_FLOATS = 1 << 28  # 1 GiB of float32: a bigger answer is refused rather than exhausting memory


def real_floats(array, trailing: tuple[int, ...], what: str, accepted: str) -> np.ndarray:
    """`array` as float32 [..., *trailing], or ValueError (one line) unless it is a real floating-point
    array of that shape with finite entries. Integers are refused rather than cast: uint8 0-255 images
    would be read as intensities up to 255."""
    if isinstance(array, jax.core.Tracer):
        raise ValueError(f"{what}: Run takes concrete arrays and is not for use inside jax.jit; jit the model itself")
    try:
        array = np.asarray(array)
    except (ValueError, TypeError):
        raise ValueError(
            f"{what} must be an array of {accepted}, got a ragged or mixed {type(array).__name__}"
        ) from None
    if not jnp.issubdtype(array.dtype, jnp.floating):  # bfloat16 included
        raise ValueError(f"{what} must be a real floating-point array of {accepted}, got dtype {array.dtype}")
    if array.ndim < len(trailing) or array.shape[array.ndim - len(trailing) :] != trailing:
        raise ValueError(f"{what} must have shape [..., {', '.join(map(str, trailing))}], got {array.shape}")
    with np.errstate(over="ignore"):  # a value beyond float32's range becomes inf, refused just below
        array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{what} holds NaN or inf; accepted: {accepted}, within float32's range")
    return array


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
    def obs_shape(self) -> tuple[int, ...]:
        """Two stacked frames: (2, H, W), or (2, C, H, W) in Two Rooms."""
        return (2, *frame_shape(self.config))

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

    def _actions(self, actions, lead: tuple[int, ...], what: str) -> np.ndarray | None:
        """The actions an action-conditioned predictor reads, [*lead, a]; None for an action-free one. ValueError
        where they are missing, not wanted, or of another shape."""
        a = self.config.action_dim
        if not a:
            if actions is not None:
                raise ValueError(f"this run's predictor takes no actions (world {self.config.world}); omit {what}")
            return None
        if actions is None:
            raise ValueError(f"this run's predictor takes actions: give {what} [..., {a}] (world {self.config.world})")
        actions = real_floats(actions, (a,), what, f"actions, {a} finite numbers each")
        if actions.shape[:-1] != lead:
            raise ValueError(f"{what} must have shape {(*lead, a)} to go with the latents, got {actions.shape}")
        return actions

    def encode(self, obs) -> np.ndarray:
        """Observations [..., 2, H, W] (real floats in [0, 1]) -> latents [..., d]."""
        return self._apply(_encode, self._obs(obs), len(self.obs_shape), (self.config.latent_dim,))

    def predict(self, z, action=None) -> np.ndarray:
        """Latents [..., d] (finite real floats), and for an action-conditioned run the actions [..., a] taken
        -> the predicted next latents [..., d]."""
        z = self._latents(z)
        action = self._actions(action, z.shape[:-1], "action")
        return self._apply(_predict, z, 1, (self.config.latent_dim,), None if action is None else jnp.asarray(action))

    def decode(self, z) -> np.ndarray:
        """Latents [..., d] (finite real floats) -> rendered newest frames [..., H, W]. ValueError for a run that
        trained no decoder (decoder_steps 0), whose decoder holds its untrained initial weights."""
        if not self.config.has_decoder:
            raise ValueError("this run trained no decoder (decoder_steps 0): it has nothing to render latents with")
        return self._apply(_decode, self._latents(z), 1, frame_shape(self.config))

    def rollout(self, obs, steps: int, actions=None) -> np.ndarray:
        """Dream `steps` (an int in [1, MAX_ROLLOUT_STEPS]) latents ahead of observations [..., 2, H, W]
        -> [..., steps, d]; an action-conditioned run takes the actions of each step, [..., steps, a]."""
        obs = self._obs(obs)
        lead = obs.shape[: obs.ndim - len(self.obs_shape)]
        steps = checked_steps(steps, int(np.prod(lead)), self.config.latent_dim)
        actions = self._actions(actions, (*lead, steps), "actions")
        z0 = self.encode(obs)
        given = None if actions is None else jnp.asarray(actions)
        return self._apply(_rollout, z0, 1, (steps, self.config.latent_dim), steps, given)


def load_run(path: str | Path, expected: Config | None = None) -> Run:
    """Load a finished run directory written by train.py. Raises RunError if it is missing,
    half-written, corrupt, or (when `expected` is given) trained with another config (its planning fields aside)."""
    config, params, metrics = load_run_files(path, expected)
    return Run(config, params, metrics, Path(path).absolute())

"""A lower bound on the memory one seed's training needs, so that an impossible size is refused in one
line before any compute instead of ending in RESOURCE_EXHAUSTED (or the OOM killer) minutes later.

Only the arrays that certainly exist are counted (float32 and int32, 4 bytes each): the training set,
the probe's trajectories, the parameters with their EMA copy, gradients and two Adam moments, one
batch of observation windows, every step's drawn window starts (drawn up front), and the decoder's
latents of the training set. XLA needs more than this, so a refusal is never wrong; a run that passes
may still not fit.
"""

from __future__ import annotations

import itertools
import os

from jaxjepa.config import Config

BYTES = 4
COPIES_OF_PARAMS = 5  # online, EMA target, gradients, two Adam moments


def mlp_params(sizes: list[int]) -> int:
    return sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(sizes))


def parameter_count(config: Config) -> int:
    """Parameters of the MLP encoder (0 for the keypoint and CNN encoders: a lower bound), predictor and
    decoder."""
    hw, d = config.frame_size**2, config.latent_dim
    encoder = mlp_params([2 * hw, *config.encoder_hidden, d]) if config.encoder_kind == "mlp" else 0
    return encoder + mlp_params([d, *config.predictor_hidden, d]) + mlp_params([d, *config.decoder_hidden, hw])


def minimum_bytes(config: Config) -> int:
    hw = config.frame_size**2
    floats = (
        config.train_sequences * config.seq_len * hw * config.logos  # training set, per logo
        + 2 * config.probe_sequences * config.probe_seq_len * hw  # probe fit + test frames
        + COPIES_OF_PARAMS * parameter_count(config)
        + config.batch_size * (config.rollout_steps + 1) * 2 * hw  # one batch of windows
        + config.steps * config.batch_size  # window starts, drawn up front
        + config.train_sequences * config.seq_len * config.latent_dim  # the decoder's latents
        + config.decoder_batch_size * hw
    )
    return BYTES * floats


def machine_bytes() -> int:
    """The machine's physical memory (what os.sysconf reports; 0 where it cannot tell)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 0


def memory_problem(config: Config, seeds: int = 1) -> str | None:
    """One line if `seeds` seeds of `config` trained in one program cannot fit in this machine's memory, else
    None. Each seed of a vmapped program holds its own copy of everything counted."""
    needed, available = seeds * minimum_bytes(config), machine_bytes()
    if available and needed > available:
        who = "one seed of this config needs" if seeds == 1 else f"{seeds} seeds of this config in one program need"
        fewer = "" if seeds == 1 else "; train fewer at once"
        return (
            f"{who} at least {needed / 2**30:,.1f} GiB (training set, batches, parameters), more than this "
            f"machine's {available / 2**30:,.1f} GiB{fewer}"
        )
    return None

"""The collapse ablation: take the defences against collapse away one at a time, on the same seeds.

A JEPA can win its prediction game by mapping every observation to the same latent. The reference
recipe has two defences: the target is a slowly trailing EMA copy behind a stop-gradient, and a
variance hinge keeps every latent dimension spread. The four variants (config.VARIANTS):
  default        EMA target + stop-gradient + variance hinge (the reference recipe)
  ema_only       EMA target + stop-gradient, no variance hinge
  stopgrad_only  stop-gradient copy of the online encoder (EMA decay 0), no variance hinge
  no_stopgrad    the target is the online encoder itself, with gradient, no variance hinge
For each we report the embedding std over training (the trainer's per-step curve) and, at the end,
the std of the target encoder's latents and the least-squares probe RMSE on fresh trajectories. A
collapsed encoder has std 0 and a probe no better than guessing the mean position.
Each variant's runs live where `train.py --config NAME` puts them: runs/NAME/seed{i}, and the
default's in runs/seed{i}.
"""
from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from jaxjepa import losses, probe, world
from jaxjepa.config import VARIANTS, Config

ABLATION_VARIANTS = ("default", "ema_only", "stopgrad_only", "no_stopgrad")
DESCRIPTIONS = {
    "default": "EMA target + stop-gradient + variance hinge (reference)",
    "ema_only": "EMA target + stop-gradient, no variance hinge",
    "stopgrad_only": "stop-gradient copy (EMA decay 0), no variance hinge",
    "no_stopgrad": "target = online encoder with gradient, no variance hinge",
}
CURVE_POINTS = 250   # training curves are thinned to this many points for metrics.json and the plot


def variant_config(base: Config, name: str) -> Config:
    """`base` (the reference recipe, perhaps with size overrides) with one variant's defences removed."""
    return base.replace(**VARIANTS[name])


def run_dir(root: str | Path, name: str, seed: int) -> Path:
    """Where train.py keeps a variant's seed: runs/seed{i} for the default, runs/NAME/seed{i} otherwise."""
    root = Path(root)
    return (root if name == "default" else root / name) / f"seed{seed}"


def collapse_figures(params: dict, eval_key: jax.Array, config: Config) -> dict:
    """Final embedding std of the target encoder and least-squares position probe RMSE, on the
    probe's fresh trajectories (the same keys as probe.probe_position)."""
    fit_key, test_key = jax.random.split(eval_key)
    n, length, margin = config.probe_sequences, config.probe_seq_len, config.eval_start_margin
    z_fit, p_fit, _ = probe.encode_trajectories(params, world.trajectories(fit_key, n, length, config, margin=margin), config)
    z_test, p_test, _ = probe.encode_trajectories(params, world.trajectories(test_key, n, length, config, margin=margin), config)
    d = z_fit.shape[-1]
    fitted = probe.fit(z_fit.reshape(-1, d), p_fit.reshape(-1, 2))
    predicted = probe.apply(fitted, z_test.reshape(-1, d))
    return {"embedding_std": jax.numpy.mean(losses.embedding_std(z_test.reshape(-1, d))),
            "probe_rmse": probe.rmse(predicted, p_test.reshape(-1, 2)),
            # what a probe that knows nothing scores: always the mean position
            "probe_rmse_of_mean": probe.rmse(jax.numpy.broadcast_to(p_fit.reshape(-1, 2).mean(0), predicted.shape),
                                             p_test.reshape(-1, 2))}


def thin_curves(curves: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """[n_seeds, steps] -> (step numbers [p], curves at those steps [n_seeds, p]); keeps the last step."""
    steps = curves.shape[-1]
    at = np.unique(np.linspace(0, steps - 1, min(points, steps)).round().astype(int))
    return at + 1, curves[:, at]


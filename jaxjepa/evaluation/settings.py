"""How we measure: the evaluation protocol's constants, its keys, and mean +- std over seeds.

Why a dataclass beside `Config`: `Config` holds what shapes a *run* and is saved with it, so a run directory is
reloaded only into the config it was trained with. How many trajectories we roll out, or where an anomaly detector
puts its threshold, shapes the *measurement* only: changing it must not turn every saved run into "a run of another
config". These constants are written into results/metrics.json beside the figures they produced.

Keys: every figure is computed on fresh trajectories drawn from the seed's evaluation key
(`trainer.seed_keys(seed)[1]`), which training never sees. Each purpose folds its own number into that key, so
adding a purpose never changes the trajectories of another.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np


@dataclasses.dataclass(frozen=True)
class EvalSettings:
    # forecast: roll the predictor this many steps from o_0 = (f_0, f_1), on this many trajectories
    forecast_steps: int = 100
    forecast_trajectories: int = 256
    horizon_px: float = 1.0  # a rollout has left the band once the position error exceeds this
    # anomaly: this many trajectories with an anomaly at a random frame, as many without, and as many
    # more without to calibrate the threshold (so false alarms are counted out of sample)
    anomaly_trajectories: int = 256
    anomaly_length: int = 64  # frames per anomaly trajectory
    anomaly_first_frame: int = 8  # anomaly frames are uniform in [first, length - first)
    threshold_mads: float = 5.0  # threshold = median + threshold_mads * MAD (raw, unscaled MAD)
    invisible_px: float = 1.0  # an anomaly moving the logo less than this is not one a viewer sees
    # the reference's published probe protocol (REFERENCE.md): Adam on training pairs, 80/20 time-major
    published_probe_steps: int = 800
    published_probe_lr: float = 1e-2
    published_probe_batch: int = 512
    published_probe_fit_fraction: float = 0.8
    # figures: how many trajectories per seed come back to the host for plotting
    examples: int = 4

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# One number per purpose, folded into the seed's evaluation key. The position probe keeps the
# evaluation key itself (as `probe.probe_position` does), so its RMSE equals train.py's.
PURPOSES = {"forecast": 1, "anomaly": 2, "published_probe": 3, "planning": 15, "two_rooms_planning": 16}


def purpose_key(eval_key: jax.Array, purpose: str) -> jax.Array:
    return jax.random.fold_in(eval_key, PURPOSES[purpose])


def stack_trees(trees: Sequence[Any]) -> Any:
    """Per-seed pytrees (params of each run) -> one pytree with a leading [n_seeds] axis, to vmap over."""
    return jax.tree_util.tree_map(lambda *leaves: jax.numpy.stack(leaves), *trees)


def over_seeds(measure, *per_seed: Any) -> Any:
    """`measure` of one seed, jit(vmap)ped over the leading [n_seeds] axis of every argument, on the host."""
    return jax.device_get(jax.jit(jax.vmap(measure))(*per_seed))


def rounded(curves: Any) -> list:
    """Per-seed curves as the JSON stores them: nested lists, 5 decimals."""
    return np.round(np.asarray(curves, dtype=float), 5).tolist()


def timed(fn, *args, repeats: int = 1) -> tuple[Any, float]:
    """(output, median wall seconds of `repeats` calls) of the jitted `fn(*args)`, compiled first, so that
    compilation is never timed; no warm-up call is needed on a CPU."""
    compiled, seconds = fn.lower(*args).compile(), []
    for _ in range(repeats):
        started = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        seconds.append(time.perf_counter() - started)
    return out, float(np.median(seconds))


class TooFewSeeds(ValueError):
    """A std over seeds was asked of fewer than two seeds."""


def summarise(per_seed: Any, *, need_std: bool = True) -> dict[str, Any]:
    """{'mean', 'std', 'per_seed', 'seeds_counted'} of one figure over seeds, the non-finite seeds left out; std is
    the sample std (ddof = 1). With one seed a std does not exist: raise (need_std) or report std None, never NaN."""
    values = np.asarray(per_seed, dtype=float).reshape(-1)
    if values.size == 0:
        raise TooFewSeeds("no seeds to summarise")
    if values.size < 2 and need_std:
        raise TooFewSeeds(f"a std over seeds needs at least 2 seeds, got {values.size}")
    finite = values[np.isfinite(values)]
    return {
        "mean": float(finite.mean()) if finite.size else None,
        "std": float(finite.std(ddof=1)) if finite.size > 1 else None,
        "per_seed": [float(v) if np.isfinite(v) else None for v in values],
        "seeds_counted": int(finite.size),
    }

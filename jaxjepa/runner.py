"""Running seeds: one compiled program trains and probes any number of seeds at once.

`train_and_probe(config)` is the pure function of (train key, eval key) that train.py, eval.py and
the benchmarks all run; a single seed is the same function on a batch of one, vmapped, so "seed i of
a vmapped run equals a lone run of seed i" holds by construction (and is tested).
"""
from __future__ import annotations

import os
import time
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from jaxjepa import probe
from jaxjepa.config import Config
from jaxjepa.trainer import TrainResult, make_train, seed_keys


def enable_compilation_cache(path: str | None = None) -> str:
    """Persist compiled programs so a second `train.py` skips XLA compilation."""
    path = path or os.environ.get("JAXJEPA_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "jaxjepa", "xla"))
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def make_train_and_probe(config: Config) -> Callable[[jax.Array, jax.Array], tuple[TrainResult, dict]]:
    train = make_train(config)

    def train_and_probe(train_key: jax.Array, eval_key: jax.Array):
        result = train(train_key)
        return result, probe.probe_position(result.params, eval_key, config)

    return train_and_probe


def stacked_keys(seeds: Sequence[int]) -> tuple[jax.Array, jax.Array]:
    train_keys, eval_keys = zip(*(seed_keys(s) for s in seeds))
    return jnp.stack(train_keys), jnp.stack(eval_keys)


class SeedsOutput(NamedTuple):
    result: TrainResult   # every leaf has a leading [n_seeds] axis
    probe: dict           # probe_rmse [n_seeds], probe_rmse_yx [n_seeds, 2]
    compile_s: float
    run_s: float


def train_seeds(config: Config, seeds: Sequence[int]) -> SeedsOutput:
    """Train and probe `seeds` in one vmapped program; compile and run timed apart."""
    train_keys, eval_keys = stacked_keys(seeds)
    program = jax.jit(jax.vmap(make_train_and_probe(config)))
    start = time.perf_counter()
    compiled = program.lower(train_keys, eval_keys).compile()
    compiled_at = time.perf_counter()
    result, probe_metrics = jax.block_until_ready(compiled(train_keys, eval_keys))
    return SeedsOutput(result, probe_metrics, compiled_at - start, time.perf_counter() - compiled_at)

"""Running seeds: one compiled program trains and probes any number of seeds at once.

`train_and_probe(config)` is the pure function of (train key, eval key) that train.py, eval.py and
the benchmarks all run; a single seed is the same function on a batch of one, vmapped, so "seed i of
a vmapped run equals a lone run of seed i" holds by construction (and is tested).

Scale: the stacked seeds are laid out over every available device (a 1-D mesh with a 'seeds' axis)
and each device trains its own slice with `shard_map`; seeds never talk to each other, so the program
needs no communication. With one device the mesh has one member and this is the plain vmapped run; on
several CPUs, a GPU or many accelerators it is the same code, and across processes or machines too
(`jaxjepa.distributed`: the mesh then spans every process's devices). The seed count is padded up to a multiple
of the device count (the padding repeats the last seed and is dropped from the results).
Why the probe runs one seed at a time (`lax.map`) while training is vmapped: on several CPU devices
(`--xla_force_host_platform_device_count`, jax 0.10.2) a least squares batched over seeds, an SVD
followed by products, never returned once a device held two or more seeds (the process sat at 0% CPU);
unbatched, it runs. The probe is a small share of a run, and each seed's numbers are unchanged (tested).
"""
from __future__ import annotations

import os
import time
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxjepa import distributed, probe
from jaxjepa.config import Config
from jaxjepa.trainer import TrainResult, make_train, seed_keys


def enable_compilation_cache(path: str | None = None) -> str:
    """Persist compiled programs so a second `train.py` skips XLA compilation."""
    path = path or os.environ.get("JAXJEPA_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "jaxjepa", "xla"))
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def stacked_keys(seeds: Sequence[int]) -> tuple[jax.Array, jax.Array]:
    train_keys, eval_keys = zip(*(seed_keys(s) for s in seeds))
    return jnp.stack(train_keys), jnp.stack(eval_keys)


class SeedsOutput(NamedTuple):
    result: TrainResult   # every leaf has a leading [n_seeds] axis; across processes, params are the
                          # global (padded) arrays, each process holding its own seeds' rows: see seed_params
    probe: dict           # probe_rmse [n_seeds], probe_rmse_yx [n_seeds, 2]
    compile_s: float
    run_s: float


def seeds_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh over `devices` (default: all of them) whose one axis, 'seeds', splits the seed batch."""
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(devices, ("seeds",))


def padded_seeds(seeds: Sequence[int], devices: int) -> list[int]:
    """`seeds` repeated at the end up to a multiple of `devices`, so every device gets as many seeds."""
    if not seeds:
        raise ValueError("no seeds to train")
    return [*seeds, *[seeds[-1]] * (-len(seeds) % devices)]


def seeds_program(config: Config, mesh: Mesh) -> Callable:
    """jit(shard_map(...)): each device trains its own seeds vmapped, then probes them one by one."""
    train = jax.vmap(make_train(config))

    def per_device(train_keys: jax.Array, eval_keys: jax.Array):
        result = train(train_keys)
        probes = jax.lax.map(lambda seed: probe.probe_position(seed[0], seed[1], config), (result.params, eval_keys))
        return result, probes

    by_seed = PartitionSpec("seeds")
    return jax.jit(jax.shard_map(per_device, mesh=mesh, in_specs=(by_seed, by_seed), out_specs=by_seed))


def train_seeds(config: Config, seeds: Sequence[int], devices: Sequence[jax.Device] | None = None) -> SeedsOutput:
    """Train and probe `seeds` in one vmapped program sharded over `devices` (default: all);
    compile and run timed apart."""
    mesh = seeds_mesh(devices)
    sharding = NamedSharding(mesh, PartitionSpec("seeds"))
    train_keys, eval_keys = (jax.make_array_from_callback(keys.shape, sharding, lambda index, keys=keys: keys[index])
                             for keys in stacked_keys(padded_seeds(seeds, mesh.size)))
    program = seeds_program(config, mesh)
    start = time.perf_counter()
    compiled = program.lower(train_keys, eval_keys).compile()
    compiled_at = time.perf_counter()
    outputs = jax.block_until_ready(compiled(train_keys, eval_keys))
    run_s = time.perf_counter() - compiled_at
    result, probe_metrics = outputs
    if distributed.is_multiprocess():   # other processes' rows cannot be read here: gather the small figures
        metrics, probe_metrics = distributed.gather((result.metrics, probe_metrics), len(seeds))
        result = TrainResult(result.params, metrics)
    elif len(seeds) < train_keys.shape[0]:   # drop the padding
        result, probe_metrics = jax.tree_util.tree_map(lambda x: x[:len(seeds)], (result, probe_metrics))
    return SeedsOutput(result, probe_metrics, compiled_at - start, run_s)


def seed_params(output: SeedsOutput, index: int) -> dict | None:
    """The parameters of the index-th seed as NumPy, or None when another process trained it."""
    return distributed.local_row(output.result.params, index)

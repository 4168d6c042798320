"""Running seeds: one compiled program trains and probes any number of seeds at once.

`seeds_program(config, mesh)` is the pure function of (train keys, eval keys) that train.py, eval.py and
the benchmarks all run (`train_seeds` calls it); a single seed is the same function on a batch of one,
vmapped, so "seed i of a vmapped run equals a lone run of seed i" holds by construction (and is tested).

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
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypedDict, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxjepa import cli, distributed, probe, program_cache
from jaxjepa.config import Config
from jaxjepa.trainer import TrainResult, make_train, seed_keys

T = TypeVar("T")


def enable_compilation_cache(path: str | None = None) -> str:
    """Persist compiled programs so a second `train.py` skips XLA compilation. A folder that cannot be written
    (JAXJEPA_CACHE naming a file or a read-only place) costs only the cache: one line on stderr, and the
    returned text says the cache is off."""
    default = os.path.join(os.path.expanduser("~"), ".cache", "jaxjepa", "xla")
    path = path or os.environ.get("JAXJEPA_CACHE") or default
    problem = cli.folder_problem(path)
    if problem:
        print(f"jaxjepa: the XLA cache at {path} cannot be used ({problem}); compiling without it", file=sys.stderr)
        return f"off ({path} cannot be written)"
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def stacked_keys(seeds: Sequence[int]) -> tuple[jax.Array, jax.Array]:
    train_keys, eval_keys = zip(*(seed_keys(s) for s in seeds))
    return jnp.stack(train_keys), jnp.stack(eval_keys)


class SeedsOutput(NamedTuple):
    result: TrainResult  # every leaf has a leading [n_seeds] axis; across processes, params are the
    # global (padded) arrays, each process holding its own seeds' rows: see seed_params
    probe: probe.ProbeFigures  # each with a leading [n_seeds] axis
    compile_s: float
    run_s: float


def seeds_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh over `devices` (default: all of them) whose one axis, 'seeds', splits the seed batch."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("no devices to train on: give at least one (default: every device JAX sees)")
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


# XLA's cheapest compilation on a CPU (config.compile_effort "quick"): no backend optimisation, no fusion emitters.
QUICK_COMPILE = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}


def compiler_options(config: Config) -> dict | None:
    """The seeds program's XLA options: XLA's defaults (None) unless the recipe asks for a quick compile and
    the program runs on a CPU (the options are the CPU backend's)."""
    return QUICK_COMPILE if config.compile_effort == "quick" and jax.default_backend() == "cpu" else None


def compile_program(program: Callable, args: tuple, config: Config, mesh: Mesh):
    """The seeds program compiled for `args`; on one device of one process its lowering is kept on disk
    (program_cache), the only layout where a stored program is sure to be called as it was exported."""
    options = compiler_options(config)
    if mesh.size == 1 and not distributed.is_multiprocess():
        return program_cache.compiled(program, args, f"seeds_program {config.to_json()}", options)
    return program.lower(*args).compile(compiler_options=options)


def seeds_runner(
    config: Config, per_program: int, devices: Sequence[jax.Device] | None = None
) -> Callable[[Sequence[int]], SeedsOutput]:
    """A function that trains and probes up to `per_program` seeds with one compiled program, compiled at
    its first call and reused by every later one (chunks of a long seed list); a shorter list is padded
    with its last seed and the padding dropped from the results. compile_s is 0 once compiled."""
    mesh = seeds_mesh(devices)
    sharding = NamedSharding(mesh, PartitionSpec("seeds"))
    width = len(padded_seeds(range(per_program), mesh.size))
    program = seeds_program(config, mesh)
    compiled: list[Callable] = []

    def run(seeds: Sequence[int]) -> SeedsOutput:
        if not 0 < len(seeds) <= width:
            raise ValueError(f"this program trains 1 to {width} seeds, got {len(seeds)}")
        padded = [*seeds, *[seeds[-1]] * (width - len(seeds))]
        # Built from a callback, so that across processes each one places only its own devices' rows.
        train_keys, eval_keys = (
            jax.make_array_from_callback(keys.shape, sharding, lambda index, keys=keys: keys[index])
            for keys in stacked_keys(padded)
        )
        compile_s = 0.0
        if not compiled:
            start = time.perf_counter()
            compiled.append(compile_program(program, (train_keys, eval_keys), config, mesh))
            compile_s = time.perf_counter() - start
        started = time.perf_counter()
        outputs = jax.block_until_ready(compiled[0](train_keys, eval_keys))
        run_s = time.perf_counter() - started
        result, probe_metrics = outputs
        if distributed.is_multiprocess():  # other processes' rows cannot be read here: gather the small figures
            metrics, probe_metrics = distributed.gather((result.metrics, probe_metrics), len(seeds))
            result = TrainResult(result.params, metrics)
        elif len(seeds) < width:  # drop the padding
            result, probe_metrics = jax.tree_util.tree_map(lambda x: x[: len(seeds)], (result, probe_metrics))
        return SeedsOutput(result, probe_metrics, compile_s, run_s)

    return run


def train_seeds(config: Config, seeds: Sequence[int], devices: Sequence[jax.Device] | None = None) -> SeedsOutput:
    """Train and probe `seeds` in one vmapped program sharded over `devices` (default: all);
    compile and run timed apart."""
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"seeds must be a list of whole numbers, got {seeds!r}")
    seeds = list(seeds)  # each is checked where it becomes a key (trainer.seed_keys)
    return seeds_runner(config, len(padded_seeds(seeds, 1)), devices)(seeds)


def interruptible(fn: Callable[..., T], *args) -> T:
    """fn(*args) in a worker thread, waited on from the calling (main) thread in short slices. While a
    compiled XLA call runs, the thread that made it does not get to handle SIGINT, so Ctrl-C would only
    land after training (and after a --force save); waiting here keeps KeyboardInterrupt prompt. The
    worker is a daemon that cannot be stopped: a caller that gives up on Ctrl-C should leave with os._exit."""
    box: dict = {}

    def work() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as err:  # noqa: BLE001 (handed to the waiting thread, which raises it)
            box["error"] = err

    worker = threading.Thread(target=work, name="jaxjepa-train", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
    if "error" in box:
        raise box["error"]
    return box["value"]


def per_seed_numpy(output: SeedsOutput) -> dict:
    """Training curves and probe figures as NumPy arrays, [n_seeds, ...]: what a saved run keeps."""
    curves = jax.device_get(output.result.metrics)
    return {
        **{k: np.asarray(v) for k, v in curves.items()},
        **{k: np.asarray(v) for k, v in jax.device_get(output.probe).items()},
    }


class FinalFigures(TypedDict):
    """The 'final' block of a saved run's metrics.json (train.py writes it; eval.py's suites read it)."""

    loss: float  # the JEPA loss at the last step, and its terms
    pred_loss: float
    var_loss: float
    emb_std: float  # embedding std of the online latents at the last step
    decoder_loss: float | None  # None: no decoder was trained
    probe_rmse_px: float  # the least-squares position probe on fresh trajectories
    probe_rmse_yx_px: list[float]
    compile_s: float  # of the program that trained the run, shared by the seeds in it
    run_s: float
    seeds_in_program: int
    seed: int  # the seed trained: checked against the folder's name (seed<i>), which evaluations read seeds from


def final_figures(m: dict, output: SeedsOutput, n_seeds: int, seed: int) -> FinalFigures:
    """The 'final' block of a saved run's metrics.json, from one seed's `per_seed_numpy` slice."""
    return FinalFigures(
        loss=float(m["loss"][-1]),
        pred_loss=float(m["pred_loss"][-1]),
        var_loss=float(m["var_loss"][-1]),
        emb_std=float(m["emb_std"][-1]),
        decoder_loss=float(m["decoder_loss"][-1]) if m["decoder_loss"].size else None,
        probe_rmse_px=float(m["probe_rmse"]),
        probe_rmse_yx_px=[float(v) for v in m["probe_rmse_yx"]],
        compile_s=output.compile_s,
        run_s=output.run_s,
        seeds_in_program=n_seeds,
        seed=seed,
    )


def run_metrics(output: SeedsOutput, seeds: Sequence[int]) -> list[dict]:
    """Per seed of `output`, in order, what its saved run's metrics.json holds: {"final": FinalFigures,
    "curves": {name: NumPy array}}."""
    per_seed = per_seed_numpy(output)
    metrics = []
    for i, seed in enumerate(seeds):
        curves = {k: v[i] for k, v in per_seed.items()}
        metrics.append({"final": final_figures(curves, output, len(seeds), seed), "curves": curves})
    return metrics


def local_rows(per_program: int, devices: Sequence[jax.Device] | None = None) -> set[int]:
    """The rows of a `per_program`-seed program that this process's devices train (all of them in a
    one-process run)."""
    mesh = seeds_mesh(devices)
    width = len(padded_seeds(range(per_program), mesh.size))
    index_map = NamedSharding(mesh, PartitionSpec("seeds")).addressable_devices_indices_map((width,))
    return {row for index in index_map.values() for row in range(*index[0].indices(width))}


def seed_params(output: SeedsOutput, index: int) -> dict | None:
    """The parameters of the index-th seed as NumPy, or None when another process trained it."""
    return distributed.local_row(output.result.params, index)

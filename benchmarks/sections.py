"""The benchmark's sections; each returns a JSON-ready dict. `__main__` runs and tabulates them.

Sizes come from a `Sizes` record so `--quick` (seconds, for development and the test) and the full
run (minutes, for the numbers in README.md) share every line of measuring code.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import gzip
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

from benchmarks import flops, peak, torch_baseline
from benchmarks.report import REPO
from jaxjepa import models, runner, trainer, world
from jaxjepa.config import Config, get_config
from jaxjepa.evaluation.reference import MEAN_FRESH_PROBE_PX

QUALITY_PX = round(MEAN_FRESH_PROBE_PX, 2)  # as REFERENCE.md quotes it, to 2 decimals


@dataclasses.dataclass(frozen=True)
class Sizes:
    matmul_size: int = 2048
    step_config: dict = dataclasses.field(default_factory=dict)  # overrides of "default"
    step_repeats: int = 3
    single_config: dict = dataclasses.field(default_factory=dict)
    seed_counts: tuple[int, ...] = (1, 2, 4, 8, 16)
    seeds_config: dict = dataclasses.field(default_factory=dict)
    torch_pairs: int = 5  # alternated pairs, their median ratio reported: one pair alone scatters on a shared machine
    torch_config: dict = dataclasses.field(default_factory=dict)
    torch_warmup: int = 100  # steps before PyTorch's ms per step is timed (torch.compile compiles in the first)
    process_pairs: int = 3
    quality_seeds: int = 8
    default_ladder: tuple[int, ...] = (25, 50, 100, 250, 500, 1000, 2500)
    fast_ladder: tuple[int, ...] = (25, 35, 50)
    quality_config: dict = dataclasses.field(default_factory=dict)  # overrides for both recipes


FULL = Sizes()
QUICK = Sizes(
    matmul_size=1024,
    step_config={"steps": 200},
    step_repeats=2,
    single_config={"steps": 100, "decoder_steps": 50, "train_sequences": 32},
    seed_counts=(1, 2, 4),
    seeds_config={"steps": 100, "decoder_steps": 50, "train_sequences": 32},
    torch_pairs=3,
    torch_config={"steps": 100},
    torch_warmup=20,
    process_pairs=2,
    quality_seeds=2,
    default_ladder=(25, 50),
    fast_ladder=(25, 50),
    quality_config={"probe_sequences": 32},
)


def machine() -> dict:
    info = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "device_kind": jax.devices()[0].device_kind,
    }
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        info["cpu_model"] = names[0] if names else None
    except OSError:
        info["cpu_model"] = None
    try:
        info["load_average_at_start"] = os.getloadavg()
    except OSError:
        pass
    return info


# --- the machine's limit -------------------------------------------------------------------------
def matmul_peak(sizes: Sizes) -> dict:
    return peak.measure(sizes.matmul_size)


# --- the train step ----------------------------------------------------------------------------------
class JepaProgram:
    """The JEPA phase of one seed as a compiled program on fixed frames and initial parameters: what a
    train step costs, without data generation, the decoder or the probe."""

    def __init__(self, config: Config, seed: int = 0):
        self.config = config
        keys = trainer.train_keys(trainer.seed_keys(seed)[0])
        self.key = keys.jepa
        self.frames = jax.jit(lambda k: trainer.training_frames(k, config))(keys.data)
        self.params = models.init_params(keys.init, config)
        start = time.perf_counter()
        self.compiled = jax.jit(trainer.make_jepa_phase(config)).lower(self.key, self.frames, self.params).compile()
        self.compile_s = time.perf_counter() - start

    def run_seconds(self) -> float:
        start = time.perf_counter()
        jax.block_until_ready(self.compiled(self.key, self.frames, self.params))
        return time.perf_counter() - start


def train_step(sizes: Sizes, peak_gflops: float | None) -> dict:
    config = get_config("default", **sizes.step_config)
    program = JepaProgram(config)
    best = min(program.run_seconds() for _ in range(sizes.step_repeats))
    step_s = best / config.steps
    step_flops = flops.jepa_step_flops(config)
    gflops = step_flops["total"] / step_s / 1e9
    return {
        "steps": config.steps,
        "batch_size": config.batch_size,
        "compile_s": program.compile_s,
        "best_run_s": best,
        "step_ms": 1e3 * step_s,
        "samples_per_s": config.batch_size / step_s,
        "flops_per_step": step_flops,
        "achieved_gflops": gflops,
        "fraction_of_peak": gflops / peak_gflops if peak_gflops else None,
        "profile": profile_step(program, step_flops["total"]),
    }


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of (start, end) intervals: wall time during which at least one of them ran."""
    total, reach = 0.0, float("-inf")
    for begin, end in sorted(intervals):
        if end > reach:
            total += end - max(begin, reach)
            reach = end
    return total


def profile_step(program: JepaProgram, step_flops: float, top: int = 12) -> dict:
    """Where a step's time goes: one run under `jax.profiler`, its XLA ops summed by name (per step).
    Ops named dot* or ynn_fusion* (XLA CPU's matrix-product kernels, alone or fused with their
    neighbours) count as matmul time; the rest is elementwise work, gathers, Adam, EMA, RNG and loop
    overhead. XLA runs independent ops side by side on the cores (the online and target encoders'
    forward passes, for one), so shares and rates use busy wall time, the union of the ops' intervals,
    not the sum of their durations."""
    with tempfile.TemporaryDirectory(prefix="jaxjepa-profile-") as trace_dir:
        with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
            traced_s = program.run_seconds()
        files = glob.glob(os.path.join(trace_dir, "**", "*perfetto_trace.json.gz"), recursive=True)
        if not files:
            return {"skipped": "jax.profiler wrote no perfetto trace"}
        with gzip.open(files[0]) as trace_file:
            trace = json.load(trace_file)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    steps = program.config.steps
    per_op, intervals = op_times(events, steps)
    ops_s, matmul_s = (busy_seconds(intervals[kind]) / steps for kind in ("ops", "matmul"))
    return {
        "traced_step_ms": 1e3 * traced_s / steps,
        "ops_step_ms": 1e3 * ops_s,
        "matmul_step_ms": 1e3 * matmul_s,
        "matmul_share": matmul_s / ops_s if ops_s else None,
        "matmul_gflops": step_flops / matmul_s / 1e9 if matmul_s else None,
        "summed_op_ms": 1e3 * sum(per_op.values()),
        "top_ops_ms_per_step": {name: 1e3 * t for name, t in per_op.most_common(top)},
    }


def op_times(events: list[dict], steps: int) -> tuple[collections.Counter, dict[str, list[tuple[float, float]]]]:
    """From a trace's events: each XLA op's seconds per step, by name (a Counter), and the (start, end) intervals
    of every op and of the matmul ones. Only complete events count, less the executor's own ("$...", ThunkExecutor)."""
    per_op = collections.Counter()
    intervals = {"ops": [], "matmul": []}
    for event in events:
        name = event.get("name", "")
        if event.get("ph") == "X" and not name.startswith(("$", "ThunkExecutor")):
            begin, duration = event.get("ts", 0) * 1e-6, event.get("dur", 0) * 1e-6  # us -> s
            per_op[name] += duration / steps
            intervals["ops"].append((begin, begin + duration))
            if name.startswith(("dot", "ynn_fusion")):
                intervals["matmul"].append((begin, begin + duration))
    return per_op, intervals


# --- subprocess runs -----------------------------------------------------------------------------------
def repo_on_path() -> dict[str, str]:
    """PYTHONPATH for a child process that imports this checkout's packages, ahead of any installed copy."""
    return {"PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def failure(done: subprocess.CompletedProcess, prog: str) -> str:
    """Why a process failed, as its last line on stderr says it (without its own `prog: ` prefix), or its exit
    status where it said nothing (killed by a signal, say)."""
    lines = done.stderr.strip().splitlines()
    return lines[-1].removeprefix(f"{prog}: ") if lines else f"exit status {done.returncode}, nothing on stderr"


def child(task: dict, extra_env: dict | None = None) -> dict:
    """Run one `benchmarks.child` task in a fresh interpreter; its wall time includes start-up."""
    env = {**os.environ, **repo_on_path(), **(extra_env or {})}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.child", json.dumps(task)], cwd=REPO, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {failure(done, 'python -m benchmarks.child')}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall_s": wall}


def single_seed(sizes: Sizes) -> dict:
    """train.py's program for one seed, cold (empty persistent cache, fresh process) then warm (a new
    process finding the cache); for the default recipe and the fast one."""
    figures = {}
    for name in ("default", "fast"):
        config = get_config(name, **(sizes.single_config if name == "default" else {}))
        with tempfile.TemporaryDirectory(prefix="jaxjepa-bench-cache-") as cache:
            task = {
                "task": "train",
                "config": config.to_dict(),
                "seeds": [0],
                "cache": cache,
                "breakdown": name == "default",
            }
            figures[name] = {"config": config.to_dict(), "cold": child(task), "warm": child(task)}
    return figures


HOST_DEVICES = 2  # the split row: XLA's CPU client made to show this many devices, each taking its share of the seeds


def host_devices_env(count: int) -> dict[str, str]:
    """The environment under which XLA's CPU client shows `count` devices (the last of two settings wins)."""
    flag = f"--xla_force_host_platform_device_count={count}"
    return {"XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()}


def seeds_row(config: Config, n: int, extra_env: dict | None = None) -> dict:
    out = child({"task": "train", "config": config.to_dict(), "seeds": list(range(n)), "cache": None}, extra_env)
    return {
        "seeds": n,
        **{k: out[k] for k in ("compile_s", "run_s", "wall_s", "peak_rss_mib", "devices", "device_kind")},
        "run_per_seed_s": out["run_s"] / n,
    }


def seeds_scaling(sizes: Sizes) -> dict:
    """Each seed count in one program on the default devices; on a CPU also the largest count that they
    divide evenly split over HOST_DEVICES devices of the CPU client (`split`), the same program sharded."""
    config = get_config("default", **sizes.seeds_config)
    rows = [seeds_row(config, n) for n in sizes.seed_counts]
    even = [n for n in sizes.seed_counts if n % HOST_DEVICES == 0]
    split = None
    if jax.default_backend() == "cpu" and even:
        split = seeds_row(config, max(even), host_devices_env(HOST_DEVICES))
    one = rows[0]["run_s"] if rows[0]["seeds"] == 1 else None
    for row in [*rows, split] if split else rows:
        row["run_vs_one_seed"] = row["run_s"] / one if one else None
    return {"config": config.to_dict(), "rows": rows, "split": split}


# --- jaxjepa against PyTorch, same recipe ------------------------------------------------------------
def torch_pairs(sizes: Sizes) -> dict:
    """The JEPA phase, compile excluded: jaxjepa against PyTorch eager (the reference's own loop) in
    alternating pairs, then every PyTorch variant's ms per step after warm-up beside jaxjepa's."""
    if not torch_baseline.available():
        return {"skipped": "torch is not installed (pip install -e '.[bench]' installs torch 2.13.0 CPU)"}
    config = get_config("default", **sizes.torch_config)
    program = JepaProgram(config)
    frames = np.asarray(program.frames)
    threads = torch_baseline.fastest_thread_count(frames, config)  # also warms up PyTorch's kernels
    pairs = []
    for i in range(sizes.torch_pairs):  # alternate which goes first, so drift hits both alike
        if i % 2 == 0:
            jax_s = program.run_seconds()
            torch_out = torch_baseline.train_jepa(frames, config, seed=i)
        else:
            torch_out = torch_baseline.train_jepa(frames, config, seed=i)
            jax_s = program.run_seconds()
        pairs.append(pair_figures(jax_s, torch_out, program.compile_s))
    variants = torch_variants(frames, config, sizes.torch_warmup, statistics.median(p["jaxjepa_s"] for p in pairs))
    return {
        "steps": config.steps,
        "batch_size": config.batch_size,
        "jax_compile_s": program.compile_s,
        "torch_threads": threads,
        "torch_threads_rule": "the faster of 1 and the default, timed first",
        "torch_version": torch_out["torch_version"],
        "pairs": pairs,
        "variants": variants,
        "median_jax_over_torch": statistics.median(p["jax_over_torch"] for p in pairs),
        "median_speedup": statistics.median(p["speedup"] for p in pairs),
        "median_speedup_with_compile": statistics.median(p["speedup_with_compile"] for p in pairs),
    }


def pair_figures(jax_s: float, torch_out: dict, compile_s: float) -> dict:
    """One pair's times and their ratios, with jaxjepa's compile counted or not, and PyTorch's final loss."""
    return {
        "jaxjepa_s": jax_s,
        "torch_s": torch_out["seconds"],
        "jax_over_torch": jax_s / torch_out["seconds"],
        "speedup": torch_out["seconds"] / jax_s,
        "speedup_with_compile": torch_out["seconds"] / (jax_s + compile_s),
        "torch_final_loss": torch_out["final_loss"],
    }


def torch_variants(frames: np.ndarray, config: Config, warmup: int, jax_run_s: float) -> dict:
    """ms per step after `warmup` steps of each PyTorch variant, and jaxjepa's speedup over the best one."""
    ms = {}
    for variant in torch_baseline.VARIANTS:
        out = torch_baseline.train_jepa(frames, config, variant=variant, warmup=warmup)
        ms[variant] = 1e3 * out["seconds"] / out["timed_steps"]
    best = min(ms, key=ms.get)
    jax_ms = 1e3 * jax_run_s / config.steps
    return {
        "warmup_steps": warmup,
        "ms_per_step": ms,
        "jaxjepa_ms_per_step": jax_ms,
        "best": best,
        "speedup_over_best": ms[best] / jax_ms,
    }


# --- whole processes, as a user runs them --------------------------------------------------------------
def world_file(config: Config, path: Path) -> Path:
    """Seed 0's training world (frames [N, T, H*W], positions [N, T, 2]) for the PyTorch process."""
    traj = world.trajectories(
        trainer.train_keys(trainer.seed_keys(0)[0]).data, config.train_sequences, config.seq_len, config
    )
    np.savez(
        path,
        frames=np.asarray(traj.frames).reshape(config.train_sequences, config.seq_len, -1),
        positions=np.asarray(traj.positions),
    )
    return path


def timed_process(argv: list[str], env: dict | None = None) -> tuple[float, str]:
    """Wall seconds of a whole process, start-up and imports included, and its last stdout line."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        command = shlex.join(["python", *argv[1 : 3 if argv[1] == "-m" else 2]])  # python train.py, python -m ...
        raise RuntimeError(f"{command} failed: {failure(done, '')}")
    lines = done.stdout.strip().splitlines()
    return wall, lines[-1] if lines else ""


def process_commands(config: Config, overrides: dict, tmp: str) -> tuple[list[str], list[str]]:
    """The two whole processes, as argv: `train.py` with `overrides` as its flags, writing its run under `tmp`,
    and the PyTorch process of the same recipe on seed 0's world, which this writes under `tmp` for it."""
    flags = [
        f"--{k.replace('_', '-')}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in overrides.items()
    ]
    train_py = [sys.executable, "train.py", "--seed", "0", "--out", os.path.join(tmp, "runs"), "--force", *flags]
    torch_py = [
        sys.executable,
        "-m",
        "benchmarks.torch_baseline",
        "--config",
        config.to_json(),
        "--world",
        str(world_file(config, Path(tmp) / "world.npz")),
    ]
    return train_py, torch_py


def whole_processes(sizes: Sizes) -> dict:
    """`python train.py --seed 0` against the PyTorch process of the same recipe (JEPA, decoder,
    published probe), alternating in pairs; jaxjepa once cold (empty XLA cache), then warm."""
    if not torch_baseline.available():
        return {"skipped": "torch is not installed (pip install -e '.[bench]' installs torch 2.13.0 CPU)"}
    config = get_config("default", **sizes.single_config)
    with tempfile.TemporaryDirectory(prefix="jaxjepa-bench-process-") as tmp:
        env = {"JAXJEPA_CACHE": os.path.join(tmp, "xla"), **repo_on_path()}
        train_py, torch_py = process_commands(config, sizes.single_config, tmp)
        cold_s, _ = timed_process(train_py, env)
        pairs = []
        for i in range(sizes.process_pairs):
            order = (train_py, torch_py) if i % 2 == 0 else (torch_py, train_py)
            timed = {id(argv): timed_process(argv, env) for argv in order}
            pairs.append(
                {
                    "jaxjepa_s": timed[id(train_py)][0],
                    "torch_s": timed[id(torch_py)][0],
                    "torch": json.loads(timed[id(torch_py)][1]),
                }
            )
    ratios = [p["torch_s"] / p["jaxjepa_s"] for p in pairs]
    return {
        "config": config.to_dict(),
        "jaxjepa_cold_s": cold_s,
        "pairs": pairs,
        "median_jaxjepa_s": statistics.median(p["jaxjepa_s"] for p in pairs),
        "median_torch_s": statistics.median(p["torch_s"] for p in pairs),
        "median_speedup": statistics.median(ratios),
    }


# --- time to quality -----------------------------------------------------------------------------------
def ladder(recipe: str, steps_list: tuple[int, ...], sizes: Sizes) -> dict:
    """Train the recipe at each step count: the probe of every seed (one vmapped program) and the wall
    time of a single-seed run (compile + run, in this process, no persistent cache). Per seed, the time
    to quality is the wall of the first step count whose probe <= QUALITY_PX."""
    seeds = list(range(sizes.quality_seeds))
    points = []
    for steps in steps_list:
        config = get_config(recipe, **{**sizes.quality_config, "steps": steps, "decoder_steps": 0})
        many = runner.train_seeds(config, seeds)
        probe = np.asarray(jax.device_get(many.probe["probe_rmse"]), dtype=float)
        one = runner.train_seeds(config, [0])
        points.append(
            {
                "steps": steps,
                "probe_rmse_px": probe.tolist(),
                "median_probe_px": float(np.median(probe)),
                "single_compile_s": one.compile_s,
                "single_run_s": one.run_s,
                "single_wall_s": one.compile_s + one.run_s,
            }
        )
    per_seed = []
    for i in range(len(seeds)):
        reached = [p for p in points if p["probe_rmse_px"][i] <= QUALITY_PX]
        per_seed.append(reached[0]["single_wall_s"] if reached else float("inf"))
    median = float(np.median(per_seed))
    return {
        "recipe": recipe,
        "decoder_steps": 0,
        "seeds": seeds,
        "points": points,
        "time_to_quality_per_seed_s": [t if np.isfinite(t) else None for t in per_seed],
        "median_time_to_quality_s": median if np.isfinite(median) else None,
    }


def time_to_quality(sizes: Sizes) -> dict:
    return {
        "quality_px": QUALITY_PX,
        "default": ladder("default", sizes.default_ladder, sizes),
        "fast": ladder("fast", sizes.fast_ladder, sizes),
    }

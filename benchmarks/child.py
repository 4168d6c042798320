"""One measurement in a fresh process: `python -m benchmarks.child '<json task>'` prints one JSON line.

Why a subprocess: peak resident memory (RSS) is a per-process high-water mark, so each seed count
needs its own process to report its own peak; and "cold" compilation means a process that has never
compiled the program, with an empty persistent cache, while "warm" means a new process that finds the
cache full. Tasks:
  {"task": "train", "config": {...}, "seeds": [0, ...], "cache": dir or null, "breakdown": bool}
"breakdown" adds each part of the run alone (JEPA, decoder, probe, save), after the whole run, and the
seconds it took (breakdown_s), which a process that only trains would not spend.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()
PROG = "python -m benchmarks.child"


class Failed(Exception):
    """A task that ran but whose figures must not be reported (a training that diverged, say): its one line."""


def peak_rss_mib() -> float:
    """This process's own peak resident memory. Linux's VmHWM belongs to the address space, which
    exec replaces; `ru_maxrss` is not used where VmHWM exists because it survives exec and would
    report the parent benchmark's peak instead of this child's."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB -> MiB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def compile_and_run(function, *args) -> tuple[float, float]:
    """(compile s, run s) of jit(function) on args, timed apart."""
    import jax

    start = time.perf_counter()
    compiled = jax.jit(function).lower(*args).compile()
    compiled_at = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    return compiled_at - start, time.perf_counter() - compiled_at


def phase_seconds(config, output, seed: int = 0) -> dict:
    """Each part of a default run alone, compile and run timed apart: the JEPA phase, the decoder phase and the
    probe, each from the initial parameters (the arithmetic per step does not depend on their values); then
    saving the run as train.py does."""
    import jax

    from jaxjepa import checkpoint, models, probe, runner, trainer

    train_key, eval_key = trainer.seed_keys(seed)
    data_key, init_key, jepa_key, decoder_key = trainer.train_keys(train_key)
    frames = jax.jit(lambda k: trainer.training_frames(k, config))(data_key)
    params = models.init_params(init_key, config)
    figures = {}
    for name, function, args in (
        ("jepa", trainer.make_jepa_phase(config), (jepa_key, frames, params)),
        ("decoder", trainer.make_decoder_phase(config), (decoder_key, frames, params)),
        ("probe", lambda p, k: probe.probe_position(p, k, config), (params, eval_key)),
    ):
        figures[f"{name}_compile_s"], figures[f"{name}_run_s"] = compile_and_run(function, *args)
    with tempfile.TemporaryDirectory(prefix="jaxjepa-bench-save-") as tmp:
        start = time.perf_counter()
        try:
            checkpoint.save_run(Path(tmp) / "seed0", config, runner.seed_params(output, 0), {"final": {}})
        except checkpoint.RunError as err:
            raise Failed(f"cannot time saving the run: {err}") from None
        figures["save_s"] = time.perf_counter() - start
    return figures


def check_trained(metrics: dict, probe_px) -> None:
    """Failed where training went NaN/inf (its JEPA loss, its decoder's, or the probe read off its encoder): a
    diverged run's seconds and probe are not the recipe's, and its parameters cannot be saved as train.py would."""
    import numpy as np

    from jaxjepa import trainer

    for curve, what in (("loss", "JEPA loss"), ("decoder_loss", "decoder loss")):
        step = trainer.first_nonfinite_step(metrics, curve) if curve in metrics else None
        if step is not None:
            raise Failed(f"training diverged: the {what} became NaN/inf at step {step}; no figures of a diverged run")
    if not np.isfinite(probe_px).all():
        raise Failed("training diverged: the probe's error is NaN/inf; no figures of a diverged run")


def train(task: dict) -> dict:
    import jax
    import numpy as np
    import tqdm  # noqa: F401  (train.py's imports, so import_s is what train.py pays)

    from jaxjepa import checkpoint, cli, runner  # noqa: F401
    from jaxjepa.config import Config

    imported = time.perf_counter()
    if task.get("cache"):
        runner.enable_compilation_cache(task["cache"])
    config = Config.from_dict(task["config"])
    output = runner.train_seeds(config, task["seeds"])
    probe = np.asarray(jax.device_get(output.probe["probe_rmse"]), dtype=float)
    check_trained(jax.device_get(output.result.metrics), probe)
    figures = {
        "compile_s": output.compile_s,
        "run_s": output.run_s,
        "probe_rmse_px": probe.tolist(),
        "import_s": imported - STARTED,
        "devices": jax.device_count(),
        "backend": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
    }
    if task.get("breakdown"):
        started = time.perf_counter()
        figures.update(phase_seconds(config, output))
        figures["breakdown_s"] = time.perf_counter() - started  # extra work, subtracted from the process's time
    figures["process_s"] = time.perf_counter() - STARTED
    figures["peak_rss_mib"] = peak_rss_mib()
    return figures


TASK_EXAMPLE = '{"task": "train", "config": {...}, "seeds": [0], "cache": null}'


def main() -> int:
    tasks = {"train": train}
    try:
        task = json.loads(sys.argv[1]) if len(sys.argv) == 2 else None
    except ValueError:
        task = None
    shaped = isinstance(task, dict) and isinstance(task.get("config"), dict) and isinstance(task.get("seeds"), list)
    if not shaped or task.get("task") not in tasks:
        print(f"{PROG}: takes one JSON task, such as {TASK_EXAMPLE}; python -m benchmarks "
              "starts it", file=sys.stderr)  # fmt: skip
        return 2
    try:
        print(json.dumps(tasks[task["task"]](task)))
    except (TypeError, ValueError) as err:  # a config or seeds its Config or runner refuses
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    except Failed as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

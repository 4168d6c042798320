"""One measurement in a fresh process: `python -m benchmarks.child '<json task>'` prints one JSON line.

Why a subprocess: peak resident memory (RSS) is a per-process high-water mark, so each seed count
needs its own process to report its own peak; and "cold" compilation means a process that has never
compiled the program, with an empty persistent cache, while "warm" means a new process that finds the
cache full. Tasks:
  {"task": "train", "config": {...}, "seeds": [0, ...], "cache": dir or null, "decoder_alone": bool}
"""
from __future__ import annotations

import json
import resource
import sys
import time

STARTED = time.perf_counter()


def peak_rss_mib() -> float:
    """This process's own peak resident memory. Linux's VmHWM belongs to the address space, which
    exec replaces; `ru_maxrss` is not used where VmHWM exists because it survives exec and would
    report the parent benchmark's peak instead of this child's."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0   # kB -> MiB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # KiB on Linux


def decoder_phase_seconds(config) -> dict:
    """The decoder phase alone (frames and a trained-shape parameter set as inputs), compile and run
    timed apart: how much of a default run the optional decoder costs."""
    import jax
    from jaxjepa import models, trainer
    data_key, init_key, decoder_key = jax.random.split(jax.random.key(0), 3)
    frames = jax.jit(lambda k: trainer.training_frames(k, config))(data_key)
    params = models.init_params(init_key, config)
    program = jax.jit(trainer.make_decoder_phase(config))
    start = time.perf_counter()
    compiled = program.lower(decoder_key, frames, params).compile()
    compiled_at = time.perf_counter()
    jax.block_until_ready(compiled(decoder_key, frames, params))
    return {"decoder_compile_s": compiled_at - start, "decoder_run_s": time.perf_counter() - compiled_at}


def train(task: dict) -> dict:
    import jax
    import numpy as np
    from jaxjepa import runner
    from jaxjepa.config import Config

    if task.get("cache"):
        runner.enable_compilation_cache(task["cache"])
    imported = time.perf_counter()
    config = Config.from_dict(task["config"])
    output = runner.train_seeds(config, task["seeds"])
    probe = np.asarray(jax.device_get(output.probe["probe_rmse"]), dtype=float)
    figures = {"compile_s": output.compile_s, "run_s": output.run_s, "probe_rmse_px": probe.tolist(),
               "import_s": imported - STARTED, "devices": jax.device_count(), "backend": jax.default_backend(),
               "device_kind": jax.devices()[0].device_kind}
    if task.get("decoder_alone") and config.decoder_steps > 0:
        figures.update(decoder_phase_seconds(config))
    figures["process_s"] = time.perf_counter() - STARTED
    figures["peak_rss_mib"] = peak_rss_mib()
    return figures


def main() -> int:
    task = json.loads(sys.argv[1])
    tasks = {"train": train}
    print(json.dumps(tasks[task["task"]](task)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train DVD-JEPA in JAX: `python train.py --seed 0`, or `--seeds 0-7` for many seeds in one program.

Writes one run directory per seed (checkpoint, config.json, metrics.json) and, for several seeds, a
summary.json with mean +- std. A finished run is never replaced unless --force is given.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path
from typing import NamedTuple

from jaxjepa import cli

with cli.starting("train.py"):  # Ctrl-C during the slow imports: one line, no traceback
    import numpy as np
    from tqdm import tqdm

    from jaxjepa import checkpoint, distributed, runner, trainer
    from jaxjepa.config import WORLD_FIELDS, Config, is_number, training_differences
    from jaxjepa.evaluation.reference import MEAN_FRESH_PROBE_PX, REFERENCE

SEEDS_PER_PROGRAM = 64  # more seeds train in chunks of this many, one compiled program reused for every chunk


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = cli.OneLineParser(prog="train.py", description=__doc__.splitlines()[0])
    cli.add_seed_flags(parser, " (default 0)")
    parser.add_argument("--out", default="runs", type=cli.output_dir, help="root directory of the runs (default runs/)")
    parser.add_argument("--force", action="store_true", help="replace finished runs")
    parser.add_argument(
        "--seeds-per-program",
        type=cli.plain_int,
        default=SEEDS_PER_PROGRAM,
        metavar="N",
        help=f"train at most N seeds at once; more go in chunks (default {SEEDS_PER_PROGRAM})",
    )
    cli.add_config_flags(parser)
    distributed.add_flags(parser)
    args = parser.parse_args(argv)
    if args.seeds_per_program < 1:
        cli.fail("train.py: --seeds-per-program must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    with (
        cli.stdout_checked("train.py", "; it prints after saving, so its runs and summary.json are saved"),
        cli.backend_checked("train.py"),
    ):
        try:
            return train(parse(argv))
        except KeyboardInterrupt:
            cli.interrupted("train.py: interrupted; runs saved before it are kept, nothing else was written")


def train(args: argparse.Namespace) -> int:
    seeds = cli.seeds_from(args)
    config = cli.config_from(args, "train.py", seeds=min(len(seeds), args.seeds_per_program))
    try:
        cluster = distributed.cluster_from(args)
    except ValueError as err:
        cli.fail(f"train.py: {err}")
    out = runs_root(args.out, args.config)
    run_dirs = [out / f"seed{s}" for s in seeds]
    if cluster:  # before any other JAX call: afterwards jax.devices() lists every process's devices
        try:
            distributed.initialize(cluster)
        except ConnectionError as err:
            cli.fail(f"train.py: {err}", cli.FAILED)
    per_program = min(len(seeds), args.seeds_per_program)
    mine = runner.local_rows(per_program)  # the rows of each chunk that this process trains and saves
    with contextlib.ExitStack() as held:  # the runs' locks, released when this call ends
        earlier = prepare_outputs(
            out,
            [d for i, d in enumerate(run_dirs) if i % per_program in mine],
            config,
            args.force,
            held,
            summary=distributed.is_main_process(),
            seeds=len(seeds),
        )
        cache = runner.enable_compilation_cache()
        saved, failed, timing = train_in_chunks(config, seeds, run_dirs, per_program, args.force)
        distributed.wait_for_all("runs saved")  # every process's runs are on disk before process 0 reports them
        if not distributed.is_main_process():
            return 0
        # saved before anything is printed: a stdout that cannot be written (cli.stdout_checked) loses no file
        summary_written = update_summary(out / "summary.json", config, saved, earlier, args.force and len(seeds) > 1)
        print_summary(config, seeds, saved, timing, cache)
        if summary_written:
            print(f"  wrote {summary_written}")
        if failed:
            cli.fail(f"train.py: {failures(failed)}; nothing saved for them", cli.FAILED)
        return 0


def runs_root(out: str, config_name: str) -> Path:
    """Where the runs go: --out, except that in runs/ (train.py's own root, however spelled) a named config's runs
    go under its name, where eval.py --seeds looks for them. One line and exit 2 for a place inside a finished run,
    where a forced save of that run would delete them with its checkpoint."""
    named = config_name != "default" and os.path.realpath(out) == os.path.realpath("runs")
    root = Path(out) / config_name if named else Path(out)
    if (problem := checkpoint.runs_root_problem(f"--out {out}", root)) is not None:
        cli.fail(f"train.py: {problem}")
    return root


def prepare_outputs(
    out: Path,
    run_dirs: list[Path],
    config,
    force: bool,
    held: contextlib.ExitStack,
    summary: bool = True,
    seeds: int = 1,
) -> dict:
    """Before any compute: take every run's lock until `held` closes, tidy what killed saves left, and refuse
    runs that may not or cannot be written (one line, exit 2; 1 for a run that another process holds).
    Returns the per-seed figures of an existing summary.json of the same config, which this run's seeds are
    merged into. `seeds`: how many the whole call trains (a process of a cluster holds only its own `run_dirs`): a
    call of several writes the summary, so one of another config is refused here, before training."""
    try:
        for run_dir in run_dirs:
            if checkpoint.lock_run(run_dir):  # False: this process held it already, and keeps it
                held.callback(checkpoint.release_run, run_dir)
            for note in checkpoint.tidy_leftovers(run_dir):
                print(f"train.py: {note}", file=sys.stderr)
            try:
                checkpoint.check_writable(run_dir, force)
            except checkpoint.RunError as err:
                hint = refusal_hint(run_dir, run_dirs, config) if not force and len(run_dirs) == seeds else ""
                raise checkpoint.RunError(f"{err}{hint}") from None
        if not summary:
            return {}
        if seeds > 1:
            return earlier_summary(out / "summary.json", config, force=force)
    except checkpoint.RunError as err:
        cli.fail(f"train.py: {err}", cli.FAILED if isinstance(err, checkpoint.RunLocked) else cli.USAGE)
    try:  # one seed joins a summary of its config, and leaves any other summary alone
        return earlier_summary(out / "summary.json", config, force=False)
    except checkpoint.RunError:
        return {}


def refusal_hint(refused: Path, run_dirs: list[Path], config) -> str:
    """For a finished run refused without --force: the seeds whose folders are still free, for a run of this config;
    for a run of another, that it is one, which --force would delete for this config's."""
    free = [d for d in run_dirs if not d.exists()]
    try:
        saved = checkpoint.load_config(refused)
    except checkpoint.RunError:
        return ""
    if differences := training_differences(saved, config):
        name = next((field for field in WORLD_FIELDS if field in differences), next(iter(differences)))
        there, here = differences[name]
        others = f", and {len(differences) - 1} more field(s)" if len(differences) > 1 else ""
        return (
            f"; but it is a run of another config ({name} {there!r} there, {here!r} here{others}): "
            "give this config its own --out"
        )
    if not free or saved != config:
        return ""
    flag = seeds_flag([int(d.name.removeprefix("seed")) for d in free])
    return f", or train only the seeds not trained yet: --seeds {flag} (summary.json then holds those)"


def seeds_flag(seeds: list[int]) -> str:
    """The --seeds value that names `seeds`: '1-7' for a range, '0,3,5' otherwise."""
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


class Timing(NamedTuple):
    compile_s: float
    run_s: float


def train_in_chunks(config, seeds: list[int], run_dirs: list[Path], per_program: int, force: bool):
    """Train and save the seeds in chunks of `per_program`, one compiled program for all chunks.
    Returns (saved [(seed, run_dir, final figures)], {what went NaN/inf: [(seed, first step)]}, Timing)."""
    run_chunk = runner.seeds_runner(config, per_program)
    saved, failed, compile_s, run_s = [], {}, 0.0, 0.0
    with tqdm(total=len(seeds), desc="train", unit="seed", leave=False, disable=None) as bar:
        for start in range(0, len(seeds), per_program):
            chunk = seeds[start : start + per_program]
            bar.set_postfix_str(f"{'compiling + ' if start == 0 else ''}training {len(chunk)} seed(s)")
            output = runner.interruptible(run_chunk, chunk)
            compile_s, run_s = compile_s + output.compile_s, run_s + output.run_s
            bar.set_postfix_str("saving")
            saved += save_chunk(config, output, chunk, run_dirs[start : start + per_program], force, failed)
            bar.update(len(chunk))
    return saved, failed, Timing(compile_s, run_s)


def save_chunk(config, output, seeds: list[int], run_dirs: list[Path], force: bool, failed: dict) -> list:
    """Save the seeds of one chunk whose figures and parameters are all finite; the saved (seed, run_dir, final
    figures). Each other seed is added to `failed` under what went NaN/inf."""
    saved = []
    for i, (seed, run_dir, metrics) in enumerate(zip(seeds, run_dirs, runner.run_metrics(output, seeds))):
        params = runner.seed_params(output, i)  # None: another process trained and saves this seed
        problem = nonfinite(metrics, params)
        if problem is not None:
            failed.setdefault(problem[0], []).append((seed, problem[1]))
            continue
        try:
            if params is not None:
                checkpoint.save_run(run_dir, config, params, metrics, force=force)
        except checkpoint.RunError as err:
            cli.fail(f"train.py: {err}", cli.FAILED)
        saved.append((seed, run_dir, metrics["final"]))
    return saved


def nonfinite(metrics: dict, params) -> tuple[str, int | None] | None:
    """What of a seed went NaN/inf and from which step, or None: its JEPA loss, else its decoder's loss (the JEPA loss
    stays finite when only the decoder diverges), else any other figure or parameter (no step). A run holding any of
    them would be saved only to be refused by load_run, which reads neither NaN in metrics.json nor such a parameter."""
    for curve, what in (("loss", "loss"), ("decoder_loss", "decoder loss")):
        step = trainer.first_nonfinite_step(metrics["curves"], curve)
        if step is not None:
            return what, step
    if not checkpoint.is_finite(params, metrics):
        return "a figure or a parameter", None
    return None


def failures(failed: dict[str, list[tuple[int, int | None]]]) -> str:
    """'loss became NaN/inf at step 12 for seed(s) [0, 3]': per thing that went NaN/inf, its first step (over its
    seeds) and its seeds."""
    said = []
    for what, seeds_steps in failed.items():
        steps = [step for _, step in seeds_steps if step is not None]
        at = f" at step {min(steps)}" if steps else ""
        said.append(f"{what} became NaN/inf{at} for seed(s) {[seed for seed, _ in seeds_steps]}")
    return "; ".join(said)


def mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f} +- {values.std(ddof=1):.3f}" if values.size > 1 else f"{values[0]:.3f}"


def print_summary(config, seeds, saved, timing, cache) -> None:
    changed = cli.overrides_of(config)
    print(
        f"jaxjepa: {len(seeds)} seed(s) {seeds if len(seeds) <= 8 else f'{seeds[0]}..{seeds[-1]}'}, "
        f"{config.steps} JEPA steps + {config.decoder_steps} decoder steps"
        + (f", overrides {changed}" if changed else ", reference recipe")
    )
    print(f"  wall time     compile {timing.compile_s:.1f} s + run {timing.run_s:.1f} s (XLA cache: {cache})")
    if not saved:
        return
    finals = [s for _, _, s in saved]
    loss, prediction = mean_std([f["loss"] for f in finals]), mean_std([f["pred_loss"] for f in finals])
    print(f"  final loss    {loss}  (prediction {prediction})")
    print(f"  embedding std {mean_std([f['emb_std'] for f in finals])}  (collapse would be 0)")
    print(
        f"  probe RMSE    {mean_std([f['probe_rmse_px'] for f in finals])} px  "
        f"(least squares, fresh trajectories{reference_probe(config)})"
    )
    for _, run_dir, _ in saved[:8]:
        print(f"  wrote {run_dir}")
    if len(saved) > 8:
        print(f"  ... and {len(saved) - 8} more")


def reference_probe(config) -> str:
    """The reference's probe figures, for a run in its world (the bouncing logo in a box of its size)."""
    if any(getattr(config, name) != getattr(Config, name) for name in WORLD_FIELDS):
        return ""
    published, seeds = REFERENCE["published"]["probe_px"], len(REFERENCE["measured"]["probe_lstsq_fresh_px"])
    return f"; reference: {published:.2f} published, {MEAN_FRESH_PROBE_PX:.2f} mean of {seeds} seeds"


SUMMARY_KEYS = ("loss", "pred_loss", "emb_std", "probe_rmse_px")


def earlier_summary(path: Path, config, force: bool) -> dict:
    """{seed: final figures} of an existing summary.json of the same config ({} if none): its seeds stay in the
    summary, forced or not, since --force replaces runs, not the record of others. One of another config, or
    unreadable, is never overwritten unasked: RunError, or {} with `force`. Something that is not a file there is
    never replaced: RunError."""
    if not path.exists() and not path.is_symlink():
        return {}
    if not path.is_file():
        raise checkpoint.RunError(f"{path} is not a file; move it away or choose another --out")
    try:
        earlier = cli.read_json(path)
        # as runs are compared (checkpoint.load_run_files): a field added since it was written takes its default
        same = not training_differences(Config.from_dict(earlier["config"]), config)
        per_seed = {
            int(seed): {k: earlier["figures"][k]["per_seed"][seed] for k in SUMMARY_KEYS}
            for seed in map(str, earlier["seeds"])
        }
        if not all(is_number(v) and math.isfinite(v) for figures in per_seed.values() for v in figures.values()):
            raise ValueError("a per-seed figure is not a finite number")  # it would be averaged after the training
    except (*cli.UNREADABLE_JSON, TypeError, KeyError) as err:
        if force:
            return {}
        raise checkpoint.RunError(f"{path} is unreadable ({type(err).__name__}); pass --force to replace it") from None
    if not same and not force:
        raise checkpoint.RunError(
            f"{path} summarises runs of another config; pass --force to replace it, or choose another --out"
        )
    return per_seed if same else {}


def update_summary(path: Path, config, saved, earlier: dict, force: bool) -> str | None:
    """summary.json written where several seeds were saved or a lone one joins `earlier`, the summary of its config
    (`force`: one of another config, or unreadable, is replaced); a lone seed beside a summary it may not join
    leaves it as it is, and says so. Returns what was written, for the report (None: nothing)."""
    if len(saved) > 1 or (saved and earlier):
        return write_seed_summary(path, config, saved, force)
    if saved and path.exists():
        print(f"train.py: {unjoined_summary(path, saved[0][0])}", file=sys.stderr)
    return None


def unjoined_summary(path: Path, seed: int) -> str:
    """What a one-seed run says of a summary.json it did not join (of another config, or unreadable): left as it
    is, and, where it lists this seed, that those figures are not this run's."""
    try:
        listed = seed in cli.read_json(path)["seeds"]
    except (*cli.UNREADABLE_JSON, TypeError, KeyError):
        listed = False
    stale = f"; the seed {seed} it lists is not this run" if listed else ""
    return f"{path} summarises other runs (another config, or unreadable): left as it is, without seed {seed}{stale}"


def write_seed_summary(path: Path, config, saved, force: bool) -> str:
    """summary.json: mean +- std over this call's seeds and those an existing summary of the same config
    holds (re-read under its lock, so that two processes writing other seeds both count). Returns what it wrote,
    in words."""
    with checkpoint.locked(path):
        try:
            per_seed = earlier_summary(path, config, force=force)
        except checkpoint.RunError as err:  # checked before training: another process wrote it since
            cli.fail(f"train.py: {err}; the runs are saved", cli.FAILED)
        per_seed.update({seed: {k: s[k] for k in SUMMARY_KEYS} for seed, _, s in saved})
        seeds = sorted(per_seed)
        table = {
            k: {
                "mean": float(np.mean([per_seed[s][k] for s in seeds])),
                "std": float(np.std([per_seed[s][k] for s in seeds], ddof=1)) if len(seeds) > 1 else None,
                "per_seed": {str(s): per_seed[s][k] for s in seeds},
            }
            for k in SUMMARY_KEYS
        }
        payload = {"config": config.to_dict(), "seeds": seeds, "figures": table}
        cli.write_text(path, json.dumps(payload, indent=2))
    return f"{path} ({len(seeds)} seeds)"


if __name__ == "__main__":
    sys.exit(main())

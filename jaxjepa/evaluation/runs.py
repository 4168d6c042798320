"""The runs a suite evaluates: found on disk where train.py keeps them, or trained and saved here.

A plan names, per config, the (seed, run directory) pairs to evaluate. Every finished run in it is loaded (and
refused with one line if it is half-written, corrupt or of another config) before any training starts; the missing
seeds are then trained and saved exactly as train.py saves them, so a later train.py or eval.py finds them.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any, NamedTuple

import jax

from jaxjepa import checkpoint, runner
from jaxjepa.config import Config, is_number
from jaxjepa.evaluation.settings import stack_trees


class PlannedRuns(NamedTuple):
    config: Config
    runs: list[tuple[int | None, Path]]  # (seed, run directory); seed None: read it off the directory name


class SeedRuns(NamedTuple):
    """One config's finished runs, ready to be evaluated with jit(vmap) over the seeds."""

    config: Config
    seeds: list[int]
    dirs: list[Path]
    params: Any  # every leaf has a leading [n_seeds] axis
    run_metrics: list[dict]  # each run's saved metrics.json

    def params_of(self, i: int) -> Any:
        """The params of the i-th seed (row i of every leaf)."""
        return jax.tree_util.tree_map(operator.itemgetter(i), self.params)


Plan = dict[str, PlannedRuns]
Found = dict[str, dict[Path, tuple[int, dict, dict]]]  # config name -> run dir -> (seed, params, metrics)


def run_dir(root: str | Path, name: str, seed: int) -> Path:
    """Where train.py keeps a config's seed: runs/seed{i} for the default, runs/NAME/seed{i} otherwise."""
    root = Path(root)
    return (root if name == "default" else root / name) / f"seed{seed}"


def seeds_plan(configs: dict[str, Config], seeds: list[int], root: str | Path) -> Plan:
    return {name: PlannedRuns(config, [(s, run_dir(root, name, s)) for s in seeds]) for name, config in configs.items()}


def seed_of(path: Path) -> int:
    """The seed of a saved run: train.py names its directories seed{i}."""
    name = path.absolute().name
    if name.startswith("seed") and name[4:].isdigit():
        return int(name[4:])
    raise checkpoint.RunError(f"{path}: cannot tell its seed (train.py names run directories seed<N>)")


def load_existing(plan: Plan, metrics_read: tuple[str, ...] = ()) -> Found:
    """Every finished run of the plan. RunError (one line, naming the directory) for one that is missing
    where it was named explicitly, half-written, corrupt or of another config, or whose metrics.json
    lacks a figure of `metrics_read`; a --seeds run directory that does not exist yet is simply not found."""
    found: Found = {}
    for name, (config, runs) in plan.items():
        found[name] = {}
        for seed, path in runs:
            if seed is not None and not path.exists():
                continue
            load_into(found[name], seed if seed is not None else seed_of(path), path, config)
            check_metrics(path, found[name][path][2], config, metrics_read)
    return found


def check_plan(plan: Plan, found: Found) -> None:
    """RunError unless every run the plan lacks can be saved where it goes, and the runs found hold each seed once
    (repeated_seed): checked before training."""
    for name, (_, runs) in plan.items():
        for _, path in runs:
            if path not in found[name]:
                checkpoint.check_writable(path, force=False)
    for name, (_, runs) in plan.items():
        loaded = [(found[name][path][0], path) for _, path in runs if path in found[name]]
        twice = repeated_seed([seed for seed, _ in loaded])
        if twice is not None:
            dirs = " and ".join([str(path) for seed, path in loaded if seed == twice][:2])
            raise checkpoint.RunError(f"seed {twice} is given twice ({dirs}); give each seed's run once")


def load_into(found: dict, seed: int, path: Path, config: Config) -> None:
    """The run at `path` as seed `seed` (RunError where it trained another: check_seed)."""
    _, params, run_metrics = checkpoint.load_run_files(path, expected=config)
    check_seed(path, seed, run_metrics)
    found[path] = (seed, params, run_metrics)


def repeated_seed(seeds: list[int]) -> int | None:
    """The first seed given more than once, or None: one run counted twice would pass for two seeds that agree."""
    return next((seed for seed in dict.fromkeys(seeds) if seeds.count(seed) > 1), None)


def check_seed(path: Path, seed: int, run_metrics: dict) -> None:
    """RunError where the run's metrics.json names another seed than `seed` (read off its folder's name): a renamed
    or copied run would be measured on that seed's fresh trajectories, and counted as a seed it is not."""
    final = run_metrics.get("final")
    trained = final.get("seed", seed) if isinstance(final, dict) else seed  # no seed recorded: as its folder names it
    if trained != seed:
        raise checkpoint.RunError(
            f"{path}: its metrics.json says it trained seed {trained!r}, not seed {seed}; name its folder "
            f"seed{trained}, or train seed {seed}"
        )


def check_metrics(path: Path, metrics: dict, config: Config, metrics_read: tuple[str, ...]) -> None:
    """RunError unless each "final.NAME" of `metrics_read` is a number in the run's metrics.json and each
    "curves.NAME" one number per training step: a run damaged or written by hand fails here, before any
    training, not in a KeyError after the evaluation."""
    for figure in metrics_read:
        block, name = figure.split(".")
        section = metrics.get(block)
        value = section.get(name) if isinstance(section, dict) else None
        if block == "curves":
            ok = isinstance(value, list) and len(value) == config.steps and all(map(is_number, value))
            expected = f"a list of {config.steps} numbers (one per training step)"
        else:
            ok, expected = is_number(value), "a number"
        if not ok:
            raise checkpoint.RunError(
                f"{path}/metrics.json: {figure} must be {expected}, as train.py writes it; retrain the run "
                "(train.py --force)"
            )


TRAIN_SECONDS_READ = ("final.run_s", "final.seeds_in_program")  # what train_seconds reads


def train_seconds(run_metrics: dict) -> float:
    """One seed's share of the run time of the training program that made it (compilation excluded)."""
    return run_metrics["final"]["run_s"] / run_metrics["final"]["seeds_in_program"]


def train_missing(plan: Plan, found: Found, progress=lambda text: None) -> dict[str, SeedRuns]:
    """Train what the plan lacks, then every config's runs stacked over seeds, in the plan's order. The missing seeds
    of a config train in one vmapped program, saved in train.py's layout; a seed that went NaN/inf is not saved
    and ends the command, as in train.py (train_into)."""
    loaded = {}
    for name, (config, runs) in plan.items():
        for seed, path in runs:  # finished since the plan was loaded: by an earlier suite of the same command
            if path not in found[name] and checkpoint.is_finished(path):
                load_into(found[name], seed, path, config)
        missing = [(seed, path) for seed, path in runs if path not in found[name]]
        if missing:
            progress(f"training {len(missing)} seed(s) of {name}")
            train_into(found[name], name, config, missing)
        seeds, params, run_metrics = zip(*(found[name][path] for _, path in runs))
        loaded[name] = SeedRuns(config, list(seeds), [path for _, path in runs], stack_trees(params), list(run_metrics))
    return loaded


def train_into(found: dict, name: str, config: Config, missing: list[tuple[int, Path]]) -> None:
    """Train the `missing` (seed, run directory) pairs of config `name` in one program, save them and load them into
    `found`, as train.py saves and eval.py finds them. RunError for seeds that diverged (a NaN/inf parameter or
    figure), after the others are saved: a run of them would not load again, and train.py saves none either."""
    seeds = [seed for seed, _ in missing]
    output = runner.train_seeds(config, seeds)
    diverged = []
    for i, ((seed, path), metrics) in enumerate(zip(missing, runner.run_metrics(output, seeds))):
        params = jax.tree_util.tree_map(operator.itemgetter(i), output.result.params)
        if checkpoint.is_finite(params, metrics):
            checkpoint.save_run(path, config, params, metrics)
        else:
            diverged.append(seed)
    if diverged:
        others = ", the other seeds' runs are saved" if len(diverged) < len(missing) else ""
        went = f"seed(s) {diverged} of {name} went NaN/inf in training"
        raise checkpoint.RunError(f"{went}; nothing saved for them{others}")
    for seed, path in missing:
        load_into(found, seed, path, config)

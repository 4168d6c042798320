"""The Two Rooms suite: EB-JEPA's planning benchmark on its own task, every figure beside EB-JEPA's.

Per seed: the linear probe of the dot's position, then planning episodes (two_rooms_planning: start and
goal in different rooms, a fresh wall and door each, at most 200 actions, success = final distance under
4.5 px) with MPPI, CEM, MPPI on the last latent's cost, the random baseline, and the simulator ceiling
(MPPI on the true position and physics, the same straight-line cost; and with the path length
through the door as its cost). Episodes are vmapped; the seconds per episode are
the wall time of one compiled batch divided by its episodes. The ablation drops one of EB-JEPA's terms at a
time; a term whose config was not evaluated shows as "not run". Its payload is results/two_rooms.json.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import numpy as np

from jaxjepa import probe, two_rooms_planning
from jaxjepa.config import Config, get_config
from jaxjepa.evaluation.report import fmt, made_by, table
from jaxjepa.evaluation.runs import SeedRuns
from jaxjepa.evaluation.settings import summarise
from jaxjepa.evaluation.suite import Context, Evaluated, Suite, overrides_json
from jaxjepa.runner import stacked_keys

RECIPE = "two_rooms_ebjepa"
EPISODES = 200  # per seed and planner (Context.trajectories lowers it)
ACTIONS_PER_PLAN = 4  # each plan's first 4 actions are applied, then it is refined from the new observation
# (name in the payload, planner, plan cost)
PLANNERS = (
    ("mppi", "mppi", "sum"),
    ("cem", "cem", "sum"),
    ("last_latent", "mppi", "last"),
    ("random", "random", "sum"),
)
# (row, the config changes that drop the term, EB-JEPA's success %, its std or None)
ABLATION = (
    ("no inverse dynamics", {"idm_weight": 0.0}, 1, 1),
    ("no variance", {"var_weight": 0.0}, 47, 3),
    ("no covariance", {"cov_weight": 0.0}, 46, 3),
    ("no time-smoothness", {"time_smooth_weight": 0.0}, 61, 2),
)
ABLATIONS_EVALUATED: tuple[str, ...] = ()  # rows of ABLATION whose configs this suite trains and evaluates
EBJEPA = {"mppi": (97, 2), "cem": (96, None), "last_latent": (89, None), "episode_s": 37}


def ablation_name(row: str) -> str:
    return f"{RECIPE}-{row.replace(' ', '_').replace('-', '_')}"


def suite_configs(*_) -> dict[str, Config]:
    """The recipe, and each evaluated ablation row as the recipe with one term removed."""
    configs = {RECIPE: get_config(RECIPE)}
    for row, changes, *_ in ABLATION:
        if row in ABLATIONS_EVALUATED:
            configs[ablation_name(row)] = get_config(RECIPE, **changes)
    return configs


def timed(fn, *args) -> tuple[dict, float]:
    """(host arrays of fn(*args), seconds of the compiled call alone: compilation is done first)."""
    compiled = fn.lower(*args).compile()
    start = time.perf_counter()
    out = jax.device_get(compiled(*args))
    return out, time.perf_counter() - start


def episode_programs(config: Config, count: int) -> dict:
    """Compiled episode batches per planner name: (params, key) -> Episode [count, ...]; plus the ceiling."""

    def learned(planner: str, cost: str):
        cfg = config.replace(plan_cost=cost)
        return jax.jit(
            lambda params, key: two_rooms_planning.episodes(
                key, count, two_rooms_planning.learned_model(params, cfg), cfg, planner, ACTIONS_PER_PLAN
            )
        )

    programs = {name: learned(planner, cost) for name, planner, cost in PLANNERS}
    ceiling = two_rooms_planning.simulator_model(config)
    oracle = two_rooms_planning.path_oracle_model(config)
    for name, factory in (("ceiling", ceiling), ("ceiling_path", oracle)):
        programs[name] = jax.jit(
            lambda params, key, factory=factory: two_rooms_planning.episodes(
                key, count, factory, config, "mppi", ACTIONS_PER_PLAN
            )
        )
    return programs


def seed_figures(params: dict, eval_key: jax.Array, config: Config, programs: dict) -> dict:
    """One seed: the probe's RMSE, and success rate, final distance and seconds per episode of each planner.
    Every planner sees the same tasks (one key)."""
    figures = {
        "probe_rmse": float(jax.jit(lambda p, k: probe.probe_position(p, k, config)["probe_rmse"])(params, eval_key))
    }
    plan_key = jax.random.fold_in(eval_key, 16)
    for name, program in programs.items():
        result, seconds = timed(program, params, plan_key)
        count = result.success.shape[0]
        figures[f"success_{name}"] = 100.0 * float(np.mean(result.success))
        figures[f"final_distance_{name}"] = float(np.mean(result.final_distance))
        figures[f"episode_s_{name}"] = seconds / count
    return figures


def training_seconds(runs: SeedRuns) -> list[float | None]:
    """Each run's training wall time as train.py stored it, where it did."""
    return [
        m.get("timing_s", {}).get("train") if isinstance(m.get("timing_s"), dict) else None for m in runs.run_metrics
    ]


def config_entry(runs: SeedRuns, count: int, need_std: bool) -> dict:
    _, eval_keys = stacked_keys(runs.seeds)
    programs = episode_programs(runs.config, count)
    per_seed = [
        seed_figures(jax.tree.map(lambda a, i=i: a[i], runs.params), eval_keys[i], runs.config, programs)
        for i in range(len(runs.seeds))
    ]
    figures = {k: summarise([s[k] for s in per_seed], need_std=need_std) for k in per_seed[0]}
    train_s = [t for t in training_seconds(runs) if t is not None]
    if train_s:
        figures["train_s"] = summarise(train_s, need_std=need_std and len(train_s) > 1)
    return {"overrides": overrides_json(runs.config), "episodes_per_seed": count, **figures}


def evaluate(loaded: dict[str, SeedRuns], context: Context) -> Evaluated:
    count = context.trajectories or EPISODES
    configs = {name: config_entry(runs, count, context.need_std) for name, runs in loaded.items()}
    return Evaluated({"configs": configs, "actions_per_plan": ACTIONS_PER_PLAN}, {})


def draw(evaluated: Evaluated, out: Path) -> dict[str, Path]:
    return {}


def ebjepa(value: int, std: int | None) -> str:
    return f"{value}" if std is None else f"{value} ± {std}"


def planner_rows(entry: dict) -> list[list[str]]:
    """(figure, ours, EB-JEPA's) for the probe, each planner and the episode time."""
    rows = [["probe RMSE of the dot, px", fmt(entry["probe_rmse"], 2), "-"]]
    names = {"mppi": "MPPI", "cem": "CEM", "last_latent": "MPPI, last-latent cost", "random": "random actions",
             "ceiling": "ceiling: MPPI on the true position and physics, straight-line cost",
             "ceiling_path": "ceiling: MPPI on the true physics, cost = path length through the door"}  # fmt: skip
    for key, label in names.items():
        theirs = ebjepa(*EBJEPA[key]) if key in EBJEPA else "-"
        rows.append([f"success %, {label}", fmt(entry[f"success_{key}"], 1), theirs])
    rows.append(["seconds per episode (MPPI, vmapped, this CPU)", fmt(entry["episode_s_mppi"], 3),
                 f"{EBJEPA['episode_s']} (one GPU)"])  # fmt: skip
    if "train_s" in entry:
        rows.append(["training seconds per seed (this CPU)", fmt(entry["train_s"], 0), "hours (GPU)"])
    return rows


def ablation_rows(configs: dict) -> list[list[str]]:
    rows = [["none (the recipe)", fmt(configs[RECIPE]["success_mppi"], 1) if RECIPE in configs else "not run",
             ebjepa(*EBJEPA["mppi"])]]  # fmt: skip
    for row, _, theirs, std in ABLATION:
        entry = configs.get(ablation_name(row))
        rows.append([row, fmt(entry["success_mppi"], 1) if entry else "not run", ebjepa(theirs, std)])
    return rows


def section_two_rooms(payload: dict) -> str | None:
    entry = payload["configs"].get(RECIPE)
    if entry is None:
        return None
    return "\n".join(
        [
            "## Two Rooms: EB-JEPA's planning benchmark",
            "",
            made_by(payload) + f" Recipe `{RECIPE}` ({', '.join(f'{k}={v}' for k, v in entry['overrides'].items())})"
            f"; {entry['episodes_per_seed']} episodes per seed and planner, a plan refined every "
            f"{payload['actions_per_plan']} actions, actions clipped to [-1, 1] px per axis. Frames are 48x48 "
            "(EB-JEPA: 65x65); EB-JEPA: 20 episodes x 3 seeds x 3 checkpoints, GPU training for hours.",
            "",
            table(["figure", "this run", "EB-JEPA"], planner_rows(entry)),
            "",
            "Ablation: MPPI success %, one term removed at a time:",
            "",
            table(["removed", "this run", "EB-JEPA"], ablation_rows(payload["configs"])),
        ]
    )


def summary(payload: dict) -> list[str]:
    return [
        f"  {name}: MPPI {fmt(e['success_mppi'], 1)} %, CEM {fmt(e['success_cem'], 1)} %, "
        f"ceiling {fmt(e['success_ceiling'], 1)} %, probe {fmt(e['probe_rmse'], 2)} px"
        for name, e in payload["configs"].items()
    ]


SUITE = Suite(
    name="two-rooms",
    result_file="two_rooms.json",
    configs=suite_configs,
    evaluate=evaluate,
    figures=draw,
    sections=(section_two_rooms,),
    description="EB-JEPA's Two Rooms planning benchmark (probe, MPPI, CEM, last-latent, random, ceiling, "
    "ablation): results/two_rooms.json",
    summary=summary,
)

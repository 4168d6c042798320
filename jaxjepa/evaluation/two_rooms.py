"""The Two Rooms suite: EB-JEPA's planning benchmark on its own task, every figure beside EB-JEPA's.

Per seed: the linear probe of the dot's position, then planning episodes (two_rooms_planning: start and goal in
different rooms, a fresh wall and door each, 200 actions each, success = final distance under 4.5 px) with MPPI,
CEM, MPPI on the last latent's cost, the latent search (planning.search: the suite's target), the random baseline
and the simulator ceilings (MPPI and the search on the true position and physics, the same straight-line cost; and
MPPI with the path length through the door as its cost). Episodes are vmapped; the seconds per episode are the wall
time of one compiled batch divided by its episodes. The ablation drops one of EB-JEPA's terms at a time; a term
whose config was not evaluated shows as "not run". Payload: results/two_rooms.json.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxjepa import planning, probe, two_rooms, two_rooms_planning
from jaxjepa.config import TWO_ROOMS, Config
from jaxjepa.evaluation import figures
from jaxjepa.evaluation.report import at_least, at_most, figure, fmt, made_by, table, targets_table
from jaxjepa.evaluation.runs import TRAIN_SECONDS_READ, SeedRuns, train_seconds
from jaxjepa.evaluation.settings import purpose_key, summarise, timed
from jaxjepa.evaluation.suite import Context, Evaluated, Suite, config_from_overrides, named_configs, overrides_json
from jaxjepa.runner import stacked_keys
from jaxjepa.two_rooms_planning import ACTIONS_PER_PLAN

RECIPE = TWO_ROOMS[0]
EPISODES = 200  # per seed and planner (--trajectories sets another count)
GIF_EPISODES = 4  # MPPI episodes of the first seed drawn in two_rooms.gif
# (name in the payload, planner, plan cost)
PLANNERS = (("mppi", "mppi", "sum"), ("cem", "cem", "sum"), ("last_latent", "mppi", "last"),
            ("search", "search", "sum"), ("random", "random", "sum"))  # fmt: skip
# The ceilings, each a planner given a true model (episode_programs): the simulator, or the path oracle for ceiling_path
CEILING_PLANNERS = {"ceiling": "mppi", "ceiling_search": "search", "ceiling_path": "mppi"}
# EB-JEPA's ablation, a config per row: {config: (row, EB-JEPA's success %, its std; None where it has none)}
ABLATION = {
    "two_rooms_ebjepa-no_inverse_dynamics": ("no inverse dynamics", 1, 1),
    "two_rooms_ebjepa-no_variance": ("no variance", 47, 3),
    "two_rooms_ebjepa-no_covariance": ("no covariance", 46, 3),
    "two_rooms_ebjepa-no_time_smoothness": ("no time-smoothness", 61, 2),
    "two_rooms_ebjepa-sigreg_in_place_of_vicreg": ("SIGReg in place of VICReg", None, None),
}
EBJEPA = {"mppi": (97, 2), "cem": (96, None), "last_latent": (89, None), "episode_s": 37}
# the targets: success %, seconds per vmapped episode (both of the latent search), training seconds per seed
TARGET_SUCCESS, TARGET_EPISODE_S, TARGET_TRAIN_S = 98.0, 2.0, 1800


def episode_programs(config: Config, count: int, full: bool = True) -> dict:
    """Episode batches per planner name: (params, key) -> Episode [count, ...]; with `full`, every planner
    and the ceilings, else MPPI alone (what an ablation row reports)."""

    def program(planner: str, cfg: Config, model=None):  # model None: the learned model of the params
        def run(params, key):
            factory = two_rooms_planning.learned_model(params, cfg) if model is None else model
            return two_rooms_planning.episodes(key, count, factory, cfg, planner, ACTIONS_PER_PLAN)

        return jax.jit(run)

    programs = {name: program(planner, config.replace(plan_cost=cost)) for name, planner, cost in PLANNERS}
    if not full:
        return {"mppi": programs["mppi"]}
    ceiling, oracle = two_rooms_planning.simulator_model(config), two_rooms_planning.path_oracle_model(config)
    models = {"ceiling": ceiling, "ceiling_search": ceiling, "ceiling_path": oracle}
    return programs | {name: program(CEILING_PLANNERS[name], config, model) for name, model in models.items()}


def seed_figures(params: dict, eval_key: jax.Array, config: Config, programs: dict) -> dict:
    """One seed: the probe's RMSE, and success rate, final distance and seconds per episode of each planner.
    Every planner sees the same tasks (one key)."""
    probe_rmse = jax.jit(lambda p, k: probe.probe_position(p, k, config)["probe_rmse"])(params, eval_key)
    measured = {"probe_rmse": float(probe_rmse)}
    tasks_key = purpose_key(eval_key, "two_rooms_planning")
    for name, program in programs.items():
        result, seconds = timed(program, params, tasks_key)
        measured[f"success_{name}"] = 100.0 * float(np.mean(result.success))
        measured[f"final_distance_{name}"] = float(np.mean(result.final_distance))
        measured[f"episode_s_{name}"] = seconds / result.success.shape[0]
    return measured


def config_entry(runs: SeedRuns, count: int, need_std: bool, full: bool) -> dict:
    _, eval_keys = stacked_keys(runs.seeds)
    programs = episode_programs(runs.config, count, full)
    per_seed = [seed_figures(runs.params_of(i), eval_keys[i], runs.config, programs) for i in range(len(runs.seeds))]
    summaries = {k: summarise([s[k] for s in per_seed], need_std=need_std) for k in per_seed[0]}
    summaries["train_s"] = summarise([train_seconds(m) for m in runs.run_metrics], need_std=need_std)
    return {"overrides": overrides_json(runs.config), "episodes_per_seed": count, **summaries}


def gif_arrays(params: dict, eval_key: jax.Array, config: Config) -> dict:
    """GIF_EPISODES MPPI episodes of one seed's model: the frames, the goals, and at each step the path that the plan in
    force imagined from the observation it was made at, read off the imagined latents by the suite's linear probe."""
    factory = two_rooms_planning.learned_model(params, config)
    plan_keys, tasks = two_rooms_planning.draw_tasks(jax.random.key(1), GIF_EPISODES, config)
    run = lambda k, t: two_rooms_planning.episode(k, t, factory, config, "mppi", ACTIONS_PER_PLAN)
    eps = jax.jit(jax.vmap(run))(plan_keys, tasks)
    position_probe, _ = probe.fit_position(params, eval_key, config)

    def imagined(task, positions, plans):  # [plans, H, 2]: each plan read from the observation it was made at
        history = jnp.concatenate([jnp.stack([task.start, task.start]), positions])  # the dot at steps -2, -1, 0 ..
        n, model = plans.shape[0], factory(task)
        previous, current = history[::ACTIONS_PER_PLAN][:n], history[1::ACTIONS_PER_PLAN][:n]
        z = jax.vmap(lambda prev, cur: model.encode(model.observe(prev, cur)))(previous, current)
        read = lambda zi, plan: probe.apply(position_probe, planning.imagine(model, zi, plan[None])[0])
        return jax.vmap(read)(z, plans)

    paths = jax.jit(jax.vmap(imagined))(tasks, eps.positions, eps.plans)
    render = lambda p, layout: two_rooms.render(p, layout, config)
    frames = jax.vmap(jax.vmap(render, (0, None)))(eps.positions, tasks.layout)
    steps = np.arange(eps.positions.shape[1]) // ACTIONS_PER_PLAN  # the plan in force at each step
    positions, goals, paths, frames = jax.device_get((eps.positions, tasks.goal, paths, frames))
    dot_over_walls = np.maximum(frames[:, :, 0], 0.4 * frames[:, :, 1])
    return {"positions": positions, "goals": goals, "imagined": paths[:, steps], "frames": dot_over_walls}


def evaluate(loaded: dict[str, SeedRuns], context: Context) -> Evaluated:
    count = context.trajectories or EPISODES
    configs = {name: config_entry(runs, count, context.need_std, name == RECIPE) for name, runs in loaded.items()}
    arrays = {}
    if runs := loaded.get(RECIPE):
        arrays["gif"] = gif_arrays(runs.params_of(0), stacked_keys(runs.seeds[:1])[1][0], runs.config)
    return Evaluated({"configs": configs, "actions_per_plan": ACTIONS_PER_PLAN}, arrays)


def draw(evaluated: Evaluated, out: Path) -> dict[str, Path]:
    if (gif := evaluated.arrays.get("gif")) is None:
        return {}
    return {"two_rooms_gif": figures.planning_gif(gif, out / "two_rooms.gif", 4, 60, "reality (dot, walls)")}


def ebjepa(value: int | None, std: int | None) -> str:
    if value is None:
        return "-"
    return f"{value}" if std is None else f"{value} ± {std}"


def planner_rows(entry: dict) -> list[list[str]]:
    """(figure, ours, EB-JEPA's) for the probe, each planner and the episode time."""
    rows = [["probe RMSE of the dot, px", fmt(entry["probe_rmse"], 2), "-"]]
    recipe = config_from_overrides(entry["overrides"])  # every search setting of the stored run, defaults too
    search = (f"{recipe.search_beams} farthest-point beams, {recipe.search_depth} moves of "
              f"{recipe.search_move_steps} actions, a memory of {recipe.search_memory} surprising moves, "
              f"replanning: {recipe.search_replan}, reversals: {recipe.search_reversals}")  # fmt: skip
    names = {"mppi": "MPPI", "cem": "CEM", "last_latent": "MPPI, last-latent cost",
             "search": f"latent search ({search})", "random": "random actions",
             "ceiling": "ceiling: MPPI on the true position and physics, straight-line cost",
             "ceiling_search": "ceiling: latent search on the true position and physics, straight-line cost",
             "ceiling_path": "ceiling: MPPI on the true physics, cost = path length through the door"}  # fmt: skip
    for key, label in names.items():  # a planner EB-JEPA did not report: "-"
        rows.append([f"success %, {label}", fmt(entry[f"success_{key}"], 1), ebjepa(*EBJEPA.get(key, (None, None)))])
    rows.append(["seconds per episode (MPPI, vmapped, this CPU)", fmt(entry["episode_s_mppi"], 3),
                 f"{EBJEPA['episode_s']} (one GPU)"])  # fmt: skip
    rows.append(["seconds per episode (latent search, vmapped, this CPU)", fmt(entry["episode_s_search"], 3), "-"])
    rows.append(["training seconds per seed (this CPU; its share of the vmapped program, compilation excluded)",
                 fmt(entry.get("train_s"), 0), "hours (GPU)"])  # fmt: skip
    return rows


def targets(entry: dict) -> str:
    search, seconds, train = entry["success_search"], entry["episode_s_search"], entry.get("train_s")
    return targets_table([
        (f"success, latent search, >= {TARGET_SUCCESS:g} % (EB-JEPA: {ebjepa(*EBJEPA['mppi'])} with MPPI)",
         fmt(search, 1), at_least(search, TARGET_SUCCESS)),
        (f"seconds per episode, latent search, vmapped, <= {TARGET_EPISODE_S:g}", fmt(seconds, 3),
         at_most(seconds, TARGET_EPISODE_S)),
        (f"training seconds per seed <= {TARGET_TRAIN_S} ({TARGET_TRAIN_S / 60:g} min)", fmt(train, 0),
         at_most(train, TARGET_TRAIN_S)),
    ])  # fmt: skip


def ablation_rows(configs: dict) -> list[list[str]]:
    """The recipe's row, then one per ablation config; a config not in this payload shows as "not run"."""
    ablation = {RECIPE: ("none (the recipe)", *EBJEPA["mppi"]), **ABLATION}
    return [
        [row, fmt(configs[name]["success_mppi"], 1) if name in configs else "not run", ebjepa(theirs, std)]
        for name, (row, theirs, std) in ablation.items()
    ]


def section_two_rooms(payload: dict) -> str | None:
    if (entry := payload["configs"].get(RECIPE)) is None:
        return None
    size = config_from_overrides(entry["overrides"]).frame_size
    gif = (f"Planned episodes, MPPI, seed {payload['seeds'][0]}: the dot and the walls, the goal (cross) and the path "
           "the plan in force imagined, read by the linear probe (dots)")  # fmt: skip
    return "\n\n".join(
        [
            "## Two Rooms: EB-JEPA's planning benchmark",
            made_by(payload) + f" Recipe `{RECIPE}` ({', '.join(f'{k}={v}' for k, v in entry['overrides'].items())})"
            f"; {entry['episodes_per_seed']} episodes per seed and planner, start and goal in different rooms; "
            f"success: the dot ends within {two_rooms.SUCCESS_RADIUS_PX:g} px of the goal after all "
            f"{two_rooms.EVAL_MAX_STEPS} actions (reaching it and drifting away fails). A plan is refined every "
            f"{payload['actions_per_plan']} actions, actions clipped to [-1, 1] px per axis. Frames are {size}x{size} "
            "(EB-JEPA: 65x65). The EB-JEPA column: the figures published for EB-JEPA's action-conditioned Two Rooms "
            "example (facebookresearch/eb_jepa, examples/ac_video_jepa): 20 episodes x 3 seeds x 3 checkpoints, GPU "
            "training for hours.",
            table(["figure", "this run", "EB-JEPA"], planner_rows(entry)),
            targets(entry),
            "Ablation: MPPI success %, one term removed (or replaced) at a time, each row trained and planned like "
            "the recipe:",
            table(["removed", "this run", "EB-JEPA"], ablation_rows(payload["configs"])),
            figure(payload, "two_rooms_gif", gif),
        ]
    )


def summary(payload: dict) -> list[str]:
    lines = []
    for name, e in payload["configs"].items():
        others = "".join(f", {label} {fmt(e[key], 1)} %" for key, label in (("success_cem", "CEM"),
                         ("success_ceiling", "ceiling")) if key in e)  # fmt: skip
        lines.append(f"  {name}: MPPI {fmt(e['success_mppi'], 1)} %{others}, probe {fmt(e['probe_rmse'], 2)} px")
    return lines


SUITE = Suite(
    name="two-rooms",
    result_file="two_rooms.json",
    configs=named_configs(TWO_ROOMS),
    evaluate=evaluate,
    figures=draw,
    sections=(section_two_rooms,),
    description="EB-JEPA's Two Rooms planning benchmark (probe, MPPI, CEM, last-latent, search, random, ceilings, "
    "ablation): results/two_rooms.json",
    summary=summary,
    metrics_read=TRAIN_SECONDS_READ,
    trajectories=f"--two-rooms' episodes per seed and planner (default {EPISODES})",
)

"""The planning suite: the steer model steers the logo to goals by latent planning, per seed.

For each seed of the `steer` run, `EPISODES` random tasks (start and goal anywhere in the evaluation box, the goal
given as two frames of the logo resting there) are planned in receding-horizon episodes, all vmapped, by MPPI and
CEM with the sum-over-horizon cost, MPPI with the last-latent cost, random actions (the floor) and MPPI given the
true simulator as its model (the ceiling); each anti-collapse variant (no EMA, no variance, no covariance) by MPPI.
Timing: one replanning step of one episode, and one episode when `EPISODES` of them plan in one vmapped call (its
wall time divided by their number), beside a lone episode. The budget curve replans with fewer or more samples x
iterations. Payload: results/planning.json; figures: results/planning.gif and results/planning_budget.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxjepa import models, planning, probe, steer, world
from jaxjepa.config import PLANNING, Config
from jaxjepa.evaluation import figures
from jaxjepa.evaluation.report import FINDINGS, at_least, at_most, figure, fmt, made_by, table, targets_table
from jaxjepa.evaluation.runs import TRAIN_SECONDS_READ, SeedRuns, train_seconds
from jaxjepa.evaluation.settings import purpose_key, summarise, timed
from jaxjepa.evaluation.suite import Context, Evaluated, Suite, config_from_overrides, named_configs, overrides_json
from jaxjepa.runner import stacked_keys

EPISODES = 256  # tasks per seed
# (samples, iterations) of the budget curve; 1 x 1 plans nothing new: the shifted plan of the step before
BUDGETS = ((1, 1), (2, 1), (4, 1), (8, 1), (16, 1), (32, 1), (64, 2))
BUDGET_EPISODES = 64  # tasks per seed and budget point: the curve's shape, at a quarter of the table's cost
TIMING_REPEATS = 20  # replanning steps timed, the median reported
TIMING_KEY = 0  # the timed episodes' tasks are drawn from jax.random.key(TIMING_KEY)
GIF_EPISODES = 4  # episodes drawn in planning.gif
PROBE_SEQUENCES, PROBE_LENGTH = 128, 32  # the linear probe that reads the imagined positions
# the targets: MPPI success (mean over seeds), the seconds of one replanning step, the speed-up of vmapped
# episodes over lone ones, the seconds of the whole 8-seed command and of training one seed
TARGET_SUCCESS, TARGET_STEP_S, TARGET_SPEEDUP, TARGET_COMMAND_S, TARGET_TRAIN_S = 0.99, 0.020, 50, 300, 120


class Outcome(NamedTuple):
    """One planner over one seed's tasks."""

    success: jax.Array  # fraction of episodes within success_px of the goal at some step
    median_steps: jax.Array  # median step of the first success over the successful episodes (NaN: none)


def planned(
    key: jax.Array, model: planning.WorldModel, config: Config, planner: str = "mppi", count: int | None = None
) -> Outcome:
    """`count` (default `EPISODES`) random tasks planned by `planner` with `model`."""
    episodes = planning.episodes(key, count or EPISODES, model, config, planner)
    steps = jnp.where(episodes.success, episodes.steps_to_success.astype(jnp.float32), jnp.nan)
    return Outcome(jnp.mean(episodes.success.astype(jnp.float32)), jnp.nanmedian(steps))


def planner_outcomes(params: dict, key: jax.Array, config: Config) -> dict[str, Outcome]:
    """Every planner of the table on the same tasks (one key): the learned model's and the baselines'."""
    learned, last = planning.learned_model(params, config), config.replace(plan_cost="last")
    return {
        "mppi": planned(key, learned, config, "mppi"),
        "cem": planned(key, learned, config, "cem"),
        "mppi_last_latent": planned(key, planning.learned_model(params, last), last, "mppi"),
        "random": planned(key, learned, config, "random"),
        "simulator_mppi": planned(key, planning.simulator_model(config), config, "mppi"),
    }


def budget_outcomes(params: dict, key: jax.Array, config: Config) -> list[Outcome]:
    """MPPI with the learned model at each (samples, iterations) of BUDGETS, on `BUDGET_EPISODES` tasks."""
    return [
        planned(key, planning.learned_model(params, c), c, count=BUDGET_EPISODES)
        for c in (config.planning_with(plan_samples=n, plan_iterations=i) for n, i in BUDGETS)
    ]


def per_seed(measure, runs: SeedRuns):
    """`measure(params, key, config)` of each seed of `runs`, one seed after another in one jitted program
    (`lax.map`: the episodes inside are already batched), on the host. The key is the seed's planning key."""
    _, eval_keys = stacked_keys(runs.seeds)
    keys = jax.vmap(lambda k: purpose_key(k, "planning"))(eval_keys)
    each_seed = jax.jit(lambda params, keys: jax.lax.map(lambda pk: measure(*pk, runs.config), (params, keys)))
    return jax.device_get(each_seed(runs.params, keys))


def summary_of(outcomes: Outcome, need_std: bool) -> dict:
    return {name: summarise(value, need_std=need_std) for name, value in outcomes._asdict().items()}


def timing_task(config: Config) -> tuple[jax.Array, planning.Task]:
    """The planning key and task of the timed lone episode and replanning step: the first timed task."""
    plan_keys, tasks = planning.draw_tasks(jax.random.key(TIMING_KEY), EPISODES, config)
    return plan_keys[0], jax.tree_util.tree_map(lambda x: x[0], tasks)


def lone_episode_s(model: planning.WorldModel, config: Config, plan_key: jax.Array, task: planning.Task) -> float:
    """Wall time of one episode (`task`, planned from `plan_key`) planned alone, median of a few calls."""
    return timed(jax.jit(lambda k: planning.episode(k, task, model, config)), plan_key, repeats=3)[1]


def timing(params: dict, config: Config) -> dict[str, float]:
    """Replanning-step and per-episode wall times of one seed's model on this machine, seconds."""
    model, plan_fn = planning.learned_model(params, config), planning.PLANNERS[config.planner]
    plan_key, task = timing_task(config)

    def replan_step(key, previous, current, z_goal, plan):  # as the episode's scan runs it: encode, then plan
        return plan_fn(key, model, model.encode(model.observe(previous, current)), z_goal, plan, config)

    z_goal = planning.goal_latent(model, steer.at_rest(task.goal))
    plan = jnp.zeros((config.plan_horizon, planning.ACTION_DIM))
    _, step_s = timed(jax.jit(replan_step), plan_key, task.start, task.start, z_goal, plan, repeats=TIMING_REPEATS)
    batch = jax.jit(lambda k: planning.episodes(k, EPISODES, model, config))
    batch_s, lone_s = timed(batch, jax.random.key(TIMING_KEY))[1], lone_episode_s(model, config, plan_key, task)
    return {
        "replan_step_s": step_s,  # one replanning step (encode, plan) of one episode, jitted, median
        "episode_vmapped_s": batch_s / EPISODES,  # EPISODES in one call (planning.episodes' batches), per episode
        "episode_lone_s": lone_s,  # one episode alone, median of a few
        "sequential_s": EPISODES * lone_s,  # EPISODES episodes one after another (extrapolated)
        "vmap_speedup": EPISODES * lone_s / batch_s,  # sequential_s over the vmapped call's wall time
    }


def gif_arrays(params: dict, config: Config) -> dict:
    """A few MPPI episodes of the first seed's model: the frames the world shows, and at each step the positions the
    rest of the plan imagines from the current observation, read off the imagined latents by a linear probe from
    the target encoder's latent to the position, fitted on steer trajectories."""
    model = planning.learned_model(params, config)
    plan_keys, tasks = planning.draw_tasks(jax.random.key(1), GIF_EPISODES, config)
    eps = jax.jit(jax.vmap(lambda k, t: planning.episode(k, t, model, config)))(plan_keys, tasks)
    traj = steer.trajectories(jax.random.key(2), PROBE_SEQUENCES, PROBE_LENGTH, config)
    z = models.encoder(config).apply(params["target"], world.flatten_observations(world.observations(traj.frames)))
    fitted = probe.fit(z.reshape(-1, z.shape[-1]), traj.positions[:, 1:].reshape(-1, 2))
    # [E, T, 2]: the logo's position one frame before each of the episodes' positions
    first = jax.vmap(lambda s: steer.step(s, jnp.zeros(planning.ACTION_DIM), config).position)(tasks.start)
    previous_positions = jnp.concatenate([first[:, None], eps.positions[:, :-1]], axis=1)

    def imagined_path(previous, current, plan):  # [H - 1, 2]: what the plan's remaining actions imagine from `current`
        z = model.encode(model.observe(steer.at_rest(previous), steer.at_rest(current)))
        return probe.apply(fitted, planning.imagine(model, z, plan[None, 1:])[0])

    imagined = jax.jit(jax.vmap(jax.vmap(imagined_path)))(previous_positions, eps.positions, eps.plans)
    frames = jax.jit(jax.vmap(jax.vmap(lambda p: world.render(p, config))))(eps.positions)
    arrays = {"frames": frames, "positions": eps.positions, "goals": tasks.goal, "imagined": imagined}
    return jax.device_get({**arrays, "steps": eps.steps_to_success})


def evaluate(loaded: dict[str, SeedRuns], context: Context) -> Evaluated:
    main, need = loaded[PLANNING[0]], context.need_std
    planners, budget = per_seed(planner_outcomes, main), per_seed(budget_outcomes, main)
    learned_mppi = lambda p, k, c: planned(k, planning.learned_model(p, c), c)
    ablation = {name: per_seed(learned_mppi, runs) for name, runs in loaded.items() if name != PLANNING[0]}
    params = main.params_of(0)
    payload = {
        "config": PLANNING[0],
        "overrides": overrides_json(main.config),
        "episodes": EPISODES,
        "budget_episodes": BUDGET_EPISODES,
        "episodes_per_batch": planning.EPISODES_PER_BATCH,
        "planner_budget": {key: getattr(main.config, f"plan_{key}") for key in ("samples", "horizon", "iterations")},
        "train_s_per_seed": summarise([train_seconds(m) for m in main.run_metrics], need_std=need),
        "probe_rmse_px": summarise([m["final"]["probe_rmse_px"] for m in main.run_metrics], need_std=need),
        "planners": {name: summary_of(o, need) for name, o in planners.items()},
        "ablation": {
            name: {"overrides": overrides_json(loaded[name].config), **summary_of(o, need)}
            for name, o in ablation.items()
        },
        "budget": [{"samples": n, "iterations": i, **summary_of(o, need)} for (n, i), o in zip(BUDGETS, budget)],
        "planning_time_s": timing(params, main.config),
    }
    return Evaluated(payload, {"gif": gif_arrays(params, main.config)})


def draw(evaluated: Evaluated, out: Path) -> dict[str, Path]:
    budget = evaluated.payload["budget"]
    return {
        "planning_gif": figures.planning_gif(evaluated.arrays["gif"], out / "planning.gif"),
        "planning_budget": figures.budget_curve(
            [b["samples"] * b["iterations"] for b in budget],
            np.array([b["success"]["per_seed"] for b in budget], dtype=float).T,
            [f"{b['samples']}x{b['iterations']}" for b in budget],
            out / "planning_budget.png",
        ),
    }


PLANNER_ROWS = (  # (row, key in payload["planners"])
    ("MPPI, learned model (sum cost)", "mppi"),
    ("CEM, learned model (sum cost)", "cem"),
    ("MPPI, learned model, last-latent cost", "mppi_last_latent"),
    ("random actions (floor)", "random"),
    ("MPPI, true simulator as model (ceiling)", "simulator_mppi"),
)
ABLATION_ROWS = {"steer_no_ema": "no EMA (stop-gradient copy)", "steer_no_var": "no variance term",
                 "steer_no_cov": "no covariance term"}  # fmt: skip


def outcome_row(label: str, entry: dict) -> list[str]:
    return [label, fmt(entry["success"], 1, scale=100), fmt(entry["median_steps"], 1)]


def method(payload: dict) -> str:
    n, b, config = payload["episodes"], payload["planner_budget"], config_from_overrides(payload["overrides"])
    return (
        made_by(payload) + f" Config `{payload['config']}`; {n} episodes per seed, start and goal "
        "uniform in the evaluation box, the goal given as two frames of the logo at rest; success: the centre within "
        f"{config.success_px:g} px of the goal at some step of {config.episode_steps}. MPPI and CEM plan "
        f"{b['samples']} sequences x {b['horizon']} actions x {b['iterations']} refinement(s) per replanning step. "
        f"The budget curve plans {payload['budget_episodes']} episodes per seed and point; at 1 x 1 no new sequence is "
        "tried (the one sample is the plan itself), so the logo coasts as it started."
    )


def cost_table(payload: dict) -> str:
    """Training, the probe and the planning times (the first seed's model, this machine)."""
    t, n = payload["planning_time_s"], payload["episodes"]
    header = f"training, probe and planning time (this machine; the times: seed {payload['seeds'][0]}'s model)"
    return table([header, "measured"], [
        ["training per seed, s (its share of the vmapped program)", fmt(payload["train_s_per_seed"], 0)],
        ["position probe, px", fmt(payload["probe_rmse_px"], 2)],
        ["one replanning step of one episode, ms", f"{1000 * t['replan_step_s']:.1f}"],
        [f"one episode, {n} planned in one call ({payload['episodes_per_batch']} vmapped at a time), ms",
         f"{1000 * t['episode_vmapped_s']:.1f}"],
        ["one episode planned alone, ms", f"{1000 * t['episode_lone_s']:.0f}"],
        [f"{n} lone episodes one after another (extrapolated from a few), s", f"{t['sequential_s']:.1f}"],
    ])  # fmt: skip


def targets(payload: dict) -> str:
    mppi, t, total = payload["planners"]["mppi"]["success"], payload["planning_time_s"], payload["timing_s"]["total"]
    return targets_table([
        (f"MPPI success with the learned model >= {100 * TARGET_SUCCESS:g} %", fmt(mppi, 1, scale=100),
         at_least(mppi, TARGET_SUCCESS)),
        (f"one replanning step <= {1000 * TARGET_STEP_S:g} ms", f"{1000 * t['replan_step_s']:.1f} ms",
         t["replan_step_s"] <= TARGET_STEP_S),
        (f"{payload['episodes']} episodes vmapped >= {TARGET_SPEEDUP}x faster than one after another",
         f"{t['vmap_speedup']:.1f}x", t["vmap_speedup"] >= TARGET_SPEEDUP),
        (f"the whole command ({len(payload['seeds'])} seeds) < {TARGET_COMMAND_S / 60:g} min", f"{total:.0f} s",
         total < TARGET_COMMAND_S),
        (f"training one seed <= {TARGET_TRAIN_S / 60:g} min", f"{fmt(payload['train_s_per_seed'], 0)} s",
         at_most(payload["train_s_per_seed"], TARGET_TRAIN_S)),
    ])  # fmt: skip


def section_planning(payload: dict) -> str:
    rows = [outcome_row(label, payload["planners"][key]) for label, key in PLANNER_ROWS]
    rows += [
        outcome_row(f"MPPI, `{name}`: {ABLATION_ROWS.get(name, name)}", e) for name, e in payload["ablation"].items()
    ]
    budget = [[f"{b['samples']} x {b['iterations']}", fmt(b["success"], 1, scale=100)] for b in payload["budget"]]
    gif = "Planned episodes: the logo, the goal (cross) and the imagined path read by a linear probe (dots)"
    return "\n\n".join(
        [
            "## Planning: steering the logo by latent planning",
            method(payload),
            table(["planner", "success, %", "median steps to success"], rows),
            table(["MPPI samples x iterations", "success, %"], budget),
            cost_table(payload),
            targets(payload),
            figure(payload, "planning_gif", gif),
            figure(payload, "planning_budget", "MPPI success against planning budget"),
            f"- What these rows say: [{FINDINGS}]({FINDINGS}#planning).",
        ]
    )


def summary(payload: dict) -> list[str]:
    planners, t = payload["planners"], payload["planning_time_s"]
    lines = [f"  {label}: success {fmt(planners[key]['success'], 1, scale=100)} %" for label, key in PLANNER_ROWS]
    lines += [f"  {name}: MPPI success {fmt(e['success'], 1, scale=100)} %" for name, e in payload["ablation"].items()]
    return lines + [
        f"  replanning step {1000 * t['replan_step_s']:.1f} ms, episode (vmapped) "
        f"{1000 * t['episode_vmapped_s']:.1f} ms, training {fmt(payload['train_s_per_seed'], 0)} s/seed"
    ]


SUITE = Suite(
    name="planning",
    result_file="planning.json",
    configs=named_configs(PLANNING),
    evaluate=evaluate,
    figures=draw,
    sections=(section_planning,),
    metrics_read=(*TRAIN_SECONDS_READ, "final.probe_rmse_px"),
    description="latent planning in the steer world: MPPI, CEM, baselines, the anti-collapse ablation, "
    "timing and budget: results/planning.json",
    summary=summary,
)

"""`python -m benchmarks.two_rooms_seconds RUN_DIR [RUN_DIR ...] [--planners mppi,search] [--horizon 48 ...]`

Two Rooms planning on whatever device JAX picks, over finished Two Rooms runs (train.py --config
two_rooms_ebjepa): each planner's success per run on the suite's own tasks (eval.py --two-rooms draws the
same ones from each seed's evaluation key), and its seconds per episode. Why apart from the suite: the suite
also trains its ablation rows, which a short session on a lent GPU has no time for; this times the planners
of runs trained elsewhere, on the machine at hand. Each planner is compiled once and called twice on the
first run, so the second call's time is free of any first-call cost; the other runs reuse the program. The
planners run with the recipe's planning settings, as the suite's do, whatever the runs were saved with;
`--samples`, `--iterations`, `--horizon` and `--noise` change those of MPPI and CEM; the search reads `--horizon`
alone (its plan's length, at least the 4 actions applied per plan).
"""

from __future__ import annotations

import sys
import time

from jaxjepa import cli

PROG = "python -m benchmarks.two_rooms_seconds"

with cli.starting(PROG):  # Ctrl-C during the slow imports: one line, no traceback
    import jax
    import numpy as np

    from jaxjepa import api, checkpoint, get_config, planning, runner, two_rooms, two_rooms_planning
    from jaxjepa.evaluation import two_rooms as suite
    from jaxjepa.evaluation.runs import check_seed, repeated_seed, seed_of
    from jaxjepa.evaluation.settings import purpose_key
    from jaxjepa.runner import stacked_keys


# the planner each of the suite's programs runs (suite.episode_programs: the suite's planners, then the ceilings)
PLANNER_OF = {name: planner for name, planner, _ in suite.PLANNERS} | suite.CEILING_PLANNERS


def parse(argv: list[str] | None):
    parser = cli.OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="finished runs of one Two Rooms config")
    parser.add_argument(
        "--episodes", type=cli.batch_count, default=suite.EPISODES, help=f"per run (default {suite.EPISODES})"
    )
    parser.add_argument("--planners", default="mppi,search", help="comma list of the suite's planners and ceilings")
    cli.add_planner_flags(parser, "the recipe's")
    return parser.parse_args(argv)


def load_runs(paths: list[str]) -> tuple[list[api.Run], list[int]]:
    """The runs and their seeds; one line and exit 2 for a run that is not a finished Two Rooms run of the
    others' config, or a seed given twice."""
    try:
        runs = [api.load_run(path) for path in paths]
        seeds = [seed_of(run.path) for run in runs]
        for run, seed in zip(runs, seeds, strict=True):
            check_seed(run.path, seed, run.metrics)
    except checkpoint.RunError as err:
        cli.fail(f"{PROG}: {err}")
    if runs[0].config.world != "two_rooms" or any(r.config != runs[0].config for r in runs):
        cli.fail(f"{PROG}: the runs must be Two Rooms runs of one config")
    twice = repeated_seed(seeds)
    if twice is not None:
        cli.fail(f"{PROG}: seed {twice} is given twice; give each seed's run once")
    return runs, seeds


def measure(name: str, program, runs: list[api.Run], plan_keys: list[jax.Array], episodes: int) -> str:
    """One planner's line: its success per run, its compile time, and its seconds per episode from the second
    call on the first run (free of any first-call cost; the other runs reuse the program)."""
    started = time.perf_counter()
    compiled = program.lower(runs[0].params, plan_keys[0]).compile()
    compile_s = time.perf_counter() - started
    calls, rates = [], []
    for i, run in enumerate(runs):
        for _ in range(2 if i == 0 else 1):
            started = time.perf_counter()
            result = jax.device_get(compiled(run.params, plan_keys[i]))
            calls.append(time.perf_counter() - started)
        rates.append(100.0 * float(np.mean(result.success)))
    spread = f" +- {np.std(rates, ddof=1):.1f}" if len(rates) > 1 else ""
    return (
        f"{name}: success {np.mean(rates):.1f}{spread} % (per run {', '.join(f'{r:.1f}' for r in rates)}); "
        f"compile {compile_s:.1f} s; {calls[1] / episodes:.4f} s per episode (second call on the first run)"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        recipe = get_config(suite.RECIPE).planning_with(**cli.planner_changes(args))  # CEM's elites follow --samples
    except (TypeError, ValueError) as err:
        cli.fail(f"{PROG}: {err}")
    asked, smaller = f"{args.episodes} episodes per run", "a smaller --horizon or --samples"
    refusals = cli.planning_refusals(PROG, (planning.PlanningError,), jax.errors.JaxRuntimeError, asked, smaller)
    with cli.stdout_checked(PROG), refusals:
        run_planners(args, recipe)
    return 0


def run_planners(args, recipe) -> None:
    """Each planner's line, on the runs the arguments name, planned as `recipe` plans."""
    runs, seeds = load_runs(args.runs)
    plan_keys = [purpose_key(k, "two_rooms_planning") for k in stacked_keys(seeds)[1]]
    config = runs[0].config.planning_as(recipe)
    programs = suite.episode_programs(config, args.episodes)
    planners = [p.strip() for p in args.planners.split(",") if p.strip()]
    if not planners or set(planners) - set(programs):
        cli.fail(f"{PROG}: --planners must name some of {', '.join(programs)}")
    if problem := planner_problem(planners, config):
        cli.fail(f"{PROG}: {problem}")
    settings = ", ".join(f"{field} {getattr(config, field)}" for field, _ in cli.PLANNER_FLAGS.values())
    print(f"{jax.device_count()} x {jax.devices()[0].device_kind}, {args.episodes} episodes per run; {settings}")
    for name in planners:  # Ctrl-C lands at once, not after the compiled call
        print(runner.interruptible(measure, name, programs[name], runs, plan_keys, args.episodes), flush=True)


def planner_problem(planners: list[str], config) -> str | None:
    """Why one of the named programs cannot plan as `config` says, or None: the refusals an episode would raise
    when traced, asked before the table's first line is printed."""
    for name in planners:
        planner = PLANNER_OF[name]
        if planner in ("mppi", "cem") and (problem := planning.too_few_samples(config)):
            return problem
        try:
            two_rooms_planning.check_episode(planner, suite.ACTIONS_PER_PLAN, two_rooms.EVAL_MAX_STEPS, config)
        except planning.PlanningError as err:
            return str(err)
    return None


if __name__ == "__main__":
    sys.exit(main())

"""Plan with a trained steer run: `python plan.py runs/steer/seed0 --episodes 256` plans random tasks.

`--goal Y X` plans episodes from random starts to that one goal (px, each in [1, H - 2]). Planner
settings default to the run's config; `--planner`, `--samples`, `--iterations`, `--horizon`, `--noise`
override them (the search samples nothing: of these it reads only `--horizon`, the length of the plan it
returns). Prints the success rate, the median steps to success and the planning time per episode.
"""

from __future__ import annotations

import argparse
import sys
import time

from jaxjepa import cli

with cli.starting("plan.py"):  # Ctrl-C during the slow imports: one line, no traceback
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxjepa import checkpoint, planning, runner
    from jaxjepa.config import CHOICES


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = cli.OneLineParser(prog="plan.py", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a finished run with an action-conditioned predictor")
    parser.add_argument("--episodes", type=cli.batch_count, default=256, help="episodes to plan, vmapped (default 256)")
    goal_help = "one goal for every episode, px"
    parser.add_argument("--goal", type=cli.plain_float, nargs=2, metavar=("Y", "X"), help=goal_help)
    parser.add_argument("--planner", choices=(*CHOICES["planner"], "random"), help="default: the run's planner")
    cli.add_planner_flags(parser, "the run's config")
    parser.add_argument("--seed", type=cli.one_seed, default=0, help="the tasks' and the planner's key (default 0)")
    return parser.parse_args(argv)


def planning_config(config, args: argparse.Namespace):
    """The run's config with the planner flags given on the command line."""
    changes = cli.planner_changes(args)
    if args.planner not in (None, "random"):  # the random baseline is no config's planner
        changes["planner"] = args.planner
    return config.planning_with(**changes)


def plan(args: argparse.Namespace):
    """The episodes the arguments ask for (`reported` of them), and their wall time (compilation excluded)."""
    config, params, _ = checkpoint.load_run_files(args.run_dir)
    model = planning.learned_model(params, config)
    try:
        config = planning_config(config, args)
    except ValueError as err:  # a planner flag outside its range: the command line's; any other is a bug's
        raise planning.PlanningError(str(err)) from None
    planner = args.planner or config.planner
    if planner in ("mppi", "cem") and (problem := planning.too_few_samples(config)):
        raise planning.PlanningError(problem)
    key = jax.random.key(args.seed)
    if args.goal is not None:  # checked as typed: float32 would turn 1e40 into inf, with NumPy's warning
        planning.check_goal(args.goal, config)
    goal = None if args.goal is None else jnp.asarray(args.goal, jnp.float32)
    run = jax.jit(lambda k: reported(planning.episodes(k, args.episodes, model, config, planner, goal=goal)))
    compiled = run.lower(key).compile()  # compiled apart, so that the episodes are planned once, and timed
    started = time.perf_counter()
    outcomes = jax.block_until_ready(compiled(key))
    return outcomes, time.perf_counter() - started


def reported(episodes: planning.Episode) -> tuple[jax.Array, jax.Array]:
    """Of each episode, what the report reads: its success and its steps to success. Only these leave the compiled
    program, which drops the rest: the plans alone ([episode_steps, plan_horizon, 2] floats an episode) grow with
    --episodes times --horizon, to gigabytes at the largest of each."""
    return episodes.success, episodes.steps_to_success


def main(argv: list[str] | None = None) -> int:
    # plan.py saves nothing: a stdout that cannot be written loses only the figures
    with cli.stdout_checked("plan.py"), cli.backend_checked("plan.py"):
        return plan_and_report(parse(sys.argv[1:] if argv is None else argv))


def plan_and_report(args: argparse.Namespace) -> int:
    """Plan the episodes the arguments ask for, and print what they achieved."""
    refused, asked = (checkpoint.RunError, planning.PlanningError), f"{args.episodes} episodes of this planner's budget"
    with cli.planning_refusals("plan.py", refused, jax.errors.JaxRuntimeError, asked, "fewer samples"):
        (success, steps), seconds = runner.interruptible(plan, args)  # Ctrl-C lands at once, not after the episodes
    success = np.asarray(success)
    steps = np.asarray(steps)[success]
    median = f"{np.median(steps):g}" if steps.size else "-"  # of an even count, half-way between two steps: 10.5
    print(
        f"success {100 * success.mean():.1f}% of {success.size} episode{'s' if success.size > 1 else ''}, "
        f"median steps to success {median}, "
        f"{1000 * seconds / success.size:.2f} ms per episode ({seconds:.2f} s for all, vmapped)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

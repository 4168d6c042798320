"""`python -m benchmarks.planning_batches RUN_DIR [--widths 16,32,64,128,all] [--repeats 3]`

How many steer episodes to vmap together: 256 episodes of a finished `steer` run (the planning suite's
count), planned with each width of `planning.episodes`' batches, the widths alternated over the repeats so
that drift hits all alike; beside them the suite's own timing of lone episodes, so each width reads as a
speed-up over 256 lone episodes one after another. Prints a table; the median of the repeats is reported.
Why a benchmark of its own: the best width depends on the device (a CPU's caches, an accelerator's width),
and `planning.EPISODES_PER_BATCH` is chosen from this table.
"""

from __future__ import annotations

import sys
import time

from jaxjepa import cli

PROG = "python -m benchmarks.planning_batches"

with cli.starting(PROG):  # Ctrl-C during the slow imports: one line, no traceback
    import jax
    import numpy as np

    from jaxjepa import api, checkpoint, planning
    from jaxjepa.evaluation import planning as suite


def parse_widths(text: str, episodes: int = suite.EPISODES) -> list[int | None]:
    """'16,64,all' -> [16, 64, None], each once; a width of `episodes` or more is all of them (None). ValueError on
    anything else."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not all(w == "all" or cli.PLAIN_INT.fullmatch(w) for w in words):  # int() would also read "1_6" and "\u0663"
        raise ValueError(text)
    widths = [None if w == "all" else int(w) for w in words]
    if not widths or any(w is not None and w < 1 for w in widths):
        raise ValueError(text)
    return list(dict.fromkeys(None if w is not None and w >= episodes else w for w in widths))


MAX_REPEATS = 1000  # timed calls per width: more is a typo, and would run for hours


def measure(model, config, key, widths: list, repeats: int) -> tuple[float, dict]:
    """One lone episode's seconds, and per width the seconds of `repeats` calls planning suite.EPISODES episodes,
    the widths alternated in order and reverse so that a drift of the machine's speed spreads over all of them."""
    lone_s = suite.lone_episode_s(model, config, *suite.timing_task(config))
    programs = {
        w: jax.jit(lambda k, w=w: planning.episodes(k, suite.EPISODES, model, config, batch=w)).lower(key).compile()
        for w in widths
    }
    seconds = {w: [] for w in widths}
    for r in range(repeats):
        for w in widths if r % 2 == 0 else widths[::-1]:
            started = time.perf_counter()
            jax.block_until_ready(programs[w](key))
            seconds[w].append(time.perf_counter() - started)
    return lone_s, seconds


def main(argv: list[str] | None = None) -> int:
    with cli.leaving_on_interrupt(f"{PROG}: interrupted; nothing was written"), cli.stdout_checked(PROG):
        return time_batches(argv)


def time_batches(argv: list[str] | None) -> int:
    parser = cli.OneLineParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("run", metavar="RUN_DIR", help="a finished steer run (train.py --config steer)")
    parser.add_argument("--widths", default="16,32,64,128,all", help="episodes per batch; 'all' = every one at once")
    parser.add_argument("--repeats", type=cli.plain_int, default=3, help="timed calls per width (median reported)")
    args = parser.parse_args(argv)
    try:
        widths = parse_widths(args.widths)
    except ValueError:
        cli.fail(f"{parser.prog}: --widths must be positive integers or 'all', comma-separated")
    if not 1 <= args.repeats <= MAX_REPEATS:
        cli.fail(f"{parser.prog}: --repeats must be from 1 to {MAX_REPEATS}")
    try:
        run = api.load_run(args.run)
    except checkpoint.RunError as err:
        cli.fail(f"{parser.prog}: {err}")
    try:
        model, key = planning.learned_model(run.params, run.config), jax.random.key(suite.TIMING_KEY)
    except planning.PlanningError as err:
        cli.fail(f"{parser.prog}: {args.run}: {err}")
    lone_s, seconds = measure(model, run.config, key, widths, args.repeats)  # Ctrl-C lands when a call returns
    print(
        f"{jax.device_count()} x {jax.devices()[0].device_kind}; {suite.EPISODES} episodes; one lone episode "
        f"{lone_s * 1e3:.1f} ms, so {suite.EPISODES * lone_s:.2f} s one after another"
    )
    print("| episodes vmapped at a time | seconds for all (median) | speed-up over lone episodes |")
    print("|---|---|---|")
    for w in widths:
        median = float(np.median(seconds[w]))
        label = f"all {suite.EPISODES}" if w is None else str(w)
        print(f"| {label} | {median:.3f} | {suite.EPISODES * lone_s / median:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

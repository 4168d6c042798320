"""`python -m export RUN [--out web/model] [--float16]`: a saved run -> the browser demo's model folder.

Why a command and not a notebook step: the committed default model must be reproducible from a run
directory by one line, and every failure (no run, a primitive we cannot lower, parity above 1e-5 of the output's scale)
must end in one plain sentence with a non-zero exit.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import os
import signal
import sys
import urllib.parse
import warnings
from pathlib import Path
from typing import NoReturn

from jaxjepa.cli import FAILED, OneLineParser, fail, interrupted, plain_int, starting, stdout_checked

with starting("python -m export"):  # Ctrl-C during the slow imports: one line, no traceback
    from export import REFERENCE_DOWNLOAD_MB, USER_TF_LOG_LEVEL
    from export.destination import ExportError, check_destination, check_saved_model_destination, listing
    from export.page import check_page_can_run
    from jaxjepa.config import ACTION_WORLDS, VARIANTS, Config, get_config
    from jaxjepa.planning import SEARCH_MOVES, too_few_samples


def parse_args(argv: list[str] | None):
    parser = OneLineParser(
        prog="python -m export", description="Export a trained run (train.py) to TF.js graph models for web/."
    )
    parser.add_argument("run", help="run directory written by train.py, e.g. runs/seed0")
    add_output_flags(parser)
    add_planning_flags(parser)
    args = parser.parse_args(argv)
    flags = (
        ("--plan-samples", args.plan_samples),
        ("--plan-iterations", args.plan_iterations),
        ("--search-beams", args.search_beams),
    )
    for flag, value in flags:
        if value is not None and value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    return args


def add_output_flags(parser) -> None:
    """The flags of what is written and where: the export folder (and whether it may replace an edited export),
    its weights' type, the SavedModels."""
    parser.add_argument(
        "--out",
        default="web/model",
        help="output folder (default web/model): new, empty, or a previous export holding only "
        "its own files; anything else is refused, --force or not",
    )
    parser.add_argument(
        "--float16", action="store_true", help="store weights as float16 (half the download); prints the error it costs"
    )
    parser.add_argument(
        "--saved-model",
        metavar="DIR",
        help="also keep the TF SavedModels in DIR, a new or empty folder outside the run",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace a previous export even where its files were edited since"
    )


def add_planning_flags(parser) -> None:
    """The flags of how the page plans, for runs whose predictor takes actions (PLANNING_FLAGS)."""
    parser.add_argument(
        "--plan-samples",
        type=plain_int,
        metavar="N",
        help="action-conditioned runs: sequences the page's planner samples (default: the run's)",
    )
    parser.add_argument(
        "--plan-iterations",
        type=plain_int,
        metavar="I",
        help="action-conditioned runs: the page's refinements per step (default: the run's)",
    )
    parser.add_argument(
        "--search-beams",
        type=plain_int,
        metavar="B",
        help="Two Rooms runs: beams of the page's latent search (default: the run's)",
    )
    parser.add_argument(
        "--planning",
        metavar="CONFIG",
        choices=sorted(VARIANTS),
        help="action-conditioned runs: plan in the page as this named config plans, as eval.py plans a recipe's "
        "runs (default: the run's own planning settings)",
    )


def plan_budget(args) -> dict[str, int]:
    budget = {"samples": args.plan_samples, "iterations": args.plan_iterations, "beams": args.search_beams}
    return {k: v for k, v in budget.items() if v is not None}


INTERRUPTED = "python -m export: interrupted; --out holds a whole export or none, never part of one"


def main(argv: list[str] | None = None) -> None:
    try:
        with stdout_checked("python -m export", "; --out holds a whole export or none, never part of one"):
            export(parse_args(argv))
    except KeyboardInterrupt:
        interrupted(INTERRUPTED)


def run_as_command(argv: list[str]) -> NoReturn:
    """main(argv), then the interpreter's exit, which a Ctrl-C also leaves in one line and status 130. After an
    export the exit takes seconds: TensorFlow's atexit handlers (a Ctrl-C there printed a traceback from inside
    one), then the teardown of its modules, during which Python has put back the default SIGINT action (a Ctrl-C
    there killed the process by the signal, status -2, with nothing said). So the atexit handlers run here, under a
    handler that leaves as `interrupted` does, and the process then exits without that teardown: every file is
    written and closed by then."""
    try:
        main(argv)
        code = 0
    except SystemExit as leaving:
        code = exit_status(leaving.code)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a background job's ignored Ctrl-C stays ignored
        signal.signal(signal.SIGINT, lambda *_: interrupted(INTERRUPTED))
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (| head) or stream: nothing more to say
            stream.flush()
    os._exit(code)


def exit_status(code) -> int:
    """The status Python gives `SystemExit(code)`: 0 for None, the number, else 1 with the message on stderr."""
    if code is None or isinstance(code, int):
        return code or 0
    print(code, file=sys.stderr)
    return 1


def export(args) -> None:
    from jaxjepa.api import load_run
    from jaxjepa.checkpoint import RunError

    try:
        run = load_run(args.run)
        run = dataclasses.replace(run, config=planned_as(args, run.config))
        check_before_tensorflow(args, run)
    except (RunError, ExportError) as err:
        fail(f"cannot export: {err}")
    except OSError as err:
        fail(f"cannot export: {err.strerror or err}: {err.filename or args.out}")
    with native_logs_hidden():
        with starting("python -m export"):  # TensorFlow's import takes seconds too
            problem = missing_dependency()
            if problem:
                fail(f"cannot export: {problem}")
            from export.build import export_run

        try:  # the run and the flags passed check_before_tensorflow: what fails here is the work's (FAILED)
            meta = export_run(
                run,
                args.out,
                float16=args.float16,
                force=args.force,
                saved_model_dir=args.saved_model,
                plan_budget=plan_budget(args),
            )
        except ExportError as err:
            fail(f"cannot export: {err}", FAILED)
        except OSError as err:
            fail(f"cannot export: {err.strerror or err}: {err.filename or args.out}", FAILED)
    report(args, meta)


PLANNING_FLAGS = ("--planning", "--plan-samples", "--plan-iterations", "--search-beams")
SEARCH_WORLD = "two_rooms"  # the one world the page plans by latent search too (export.build.planner_meta)


def planned_as(args, config: Config) -> Config:
    """The run's config with the planning settings the page gets. A planning flag the run cannot use is refused:
    the export would ignore it silently, or give the page another world's planner."""
    values = {flag: getattr(args, flag[2:].replace("-", "_")) for flag in PLANNING_FLAGS}
    given = [f"{flag} {value}" for flag, value in values.items() if value is not None]
    if given and not config.action_dim:
        raise ExportError(
            f"{given[0]} is for runs that plan, and this run cannot: its world {config.world} has no actions, its "
            f"predictor takes none (the page plans in the worlds {', '.join(ACTION_WORLDS)})"
        )
    if args.search_beams is not None and config.world != SEARCH_WORLD:
        raise ExportError(
            f"--search-beams sets the page's latent search, which only {SEARCH_WORLD} runs have; this run's world "
            f"is {config.world}: set its planner with --plan-samples and --plan-iterations"
        )
    if args.planning is not None:
        preset = get_config(args.planning)
        if preset.world != config.world:
            same_world = [name for name in VARIANTS if get_config(name).world == config.world]
            raise ExportError(
                f"--planning {args.planning} plans in the {preset.world} world; this run's world is {config.world}: "
                f"give a config of its world ({listing(same_world)})"
            )
        config = config.planning_as(preset)
    check_page_budget(config, plan_budget(args))
    return config


PAGE_MAX_SAMPLED_ACTIONS = 1_000_000  # samples x horizon: the page holds them at once, and plans each frame
# The page runs a whole plan in one frame, by either planner: the most predictor steps it takes each plan, MPPI's
# (iterations x samples x horizon, web/steer.js) as its latent search's (8 moves x beams x depth x move_steps,
# web/search.js). The search's beams: each move, farthest-point sampling measures the 8 x beams imagined latents
# against each beam it keeps, work that grows as beams squared; up to 256 beams it costs an imagined latent less
# than its prediction (the Two Rooms model in Chromium's cpu backend).
PAGE_MAX_PLAN_PREDICTIONS = 1_000_000
PAGE_MAX_SEARCH_BEAMS = 256


def check_page_budget(config: Config, budget: dict[str, int]) -> None:
    """ExportError unless the page's planner budget is one its config allows and the page can hold."""
    fields = {"samples": "plan_samples", "iterations": "plan_iterations", "beams": "search_beams"}
    changes = {fields[name]: value for name, value in budget.items()}
    try:
        planned = config.planning_with(**changes)
    except ValueError as err:
        raise ExportError(f"the page's planner: {err}") from None
    if config.action_dim:
        check_mppi_budget(planned)
    if config.world == SEARCH_WORLD:
        check_search_budget(planned)


def check_mppi_budget(planned: Config) -> None:
    """ExportError unless the page's MPPI moves its plan, holds its sampled actions (PAGE_MAX_SAMPLED_ACTIONS) and
    takes at most PAGE_MAX_PLAN_PREDICTIONS predictor steps each plan."""
    if problem := too_few_samples(planned):  # the page's MPPI would never move
        raise ExportError(f"the page's planner: {problem}")
    samples, horizon, iterations = planned.plan_samples, planned.plan_horizon, planned.plan_iterations
    if samples * horizon > PAGE_MAX_SAMPLED_ACTIONS:
        raise ExportError(
            f"the page's planner would sample {samples} sequences of {horizon} actions at once, more than the "
            f"{PAGE_MAX_SAMPLED_ACTIONS:,} a browser page can hold and plan with each frame; give fewer --plan-samples"
        )
    predictions = iterations * samples * horizon
    if predictions > PAGE_MAX_PLAN_PREDICTIONS:
        raise ExportError(
            f"the page's planner would take {predictions:,} predictor steps each plan ({iterations} refinements of "
            f"{samples} sequences of {horizon} actions), more than the {PAGE_MAX_PLAN_PREDICTIONS:,} a browser page "
            "can take each plan; give fewer --plan-iterations or --plan-samples"
        )


def check_search_budget(planned: Config) -> None:
    """ExportError unless the page's latent search fits PAGE_MAX_SEARCH_BEAMS and PAGE_MAX_PLAN_PREDICTIONS."""
    beams, depth, hold = planned.search_beams, planned.search_depth, planned.search_move_steps
    if beams > PAGE_MAX_SEARCH_BEAMS:
        raise ExportError(
            f"the page's search would keep {beams} beams, more than the {PAGE_MAX_SEARCH_BEAMS} a browser page can "
            "spread by farthest-point sampling each move; give fewer --search-beams"
        )
    predictions = len(SEARCH_MOVES) * beams * depth * hold
    if predictions > PAGE_MAX_PLAN_PREDICTIONS:
        raise ExportError(
            f"the page's search would take {predictions:,} predictor steps each plan ({len(SEARCH_MOVES)} moves of "
            f"{hold} actions from each of {beams} beams, {depth} moves deep), more than the "
            f"{PAGE_MAX_PLAN_PREDICTIONS:,} a browser page can take each plan; give fewer --search-beams, or a "
            "--planning config that searches less deep"
        )


def check_before_tensorflow(args, run) -> None:
    """Everything the run and the flags decide, refused before TensorFlow's slow import and the lowering and
    parity checks: what the page can show, where the export and the SavedModels go."""
    check_page_can_run(run.config)
    out = Path(args.out).absolute()
    check_destination(out, run.path, args.force)
    if args.saved_model is not None:
        check_saved_model_destination(Path(args.saved_model).absolute(), out, run.path)


@contextlib.contextmanager
def native_logs_hidden():
    """TensorFlow's and XLA's C++ code writes log lines to file descriptor 2 as it loads and works (duplicate
    cuDNN factories, no CUDA driver, Grappler sessions), many through absl, which TF_CPP_MIN_LOG_LEVEL does not
    reach: they would bury the one-line refusal or the summary. Meanwhile descriptor 2 goes to /dev/null and
    Python's sys.stderr (refusals, warnings, tracebacks) to the real stderr. A user who set TF_CPP_MIN_LOG_LEVEL
    asked for TensorFlow's logs and sees them; a sys.stderr that is not descriptor 2 (a test's capture) is left
    as it is. The price: a C++ abort inside TensorFlow exits non-zero without its message, which a rerun with
    TF_CPP_MIN_LOG_LEVEL=0 shows."""
    stream = sys.stderr
    try:
        on_descriptor_2 = stream.fileno() == 2
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both of the last two
        on_descriptor_2 = False
    if USER_TF_LOG_LEVEL is not None or not on_descriptor_2:
        yield
        return
    stream.flush()
    real_stderr = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    sys.stderr = open(real_stderr, "w", encoding=stream.encoding, errors=stream.errors, buffering=1, closefd=False)
    try:
        yield
    finally:
        sys.stderr.close()
        sys.stderr = stream
        os.dup2(real_stderr, 2)
        os.close(real_stderr)


def report(args, meta: dict) -> None:
    sizes = ", ".join(f"{k} {v / 1e3:.1f} kB" for k, v in meta["bytes"].items())
    print(
        f"wrote {args.out}: {meta['weights_dtype']} weights, download {meta['download_bytes'] / 1e6:.3f} MB "
        f"({sizes}); reference's base64 JSON: {REFERENCE_DOWNLOAD_MB} MB"
    )
    if args.float16:
        errors = ", ".join(f"{k} {v:.2e}" for k, v in meta["float16_error_max_abs"].items())
        print(f"float16 weights cost (max abs error vs float32, JAX on the parity observations): {errors}")
    print(page_hint(Path(args.out)))


def page_hint(out: Path) -> str:
    """How to see the export `out` in the page, which serves web/ and loads a folder under it by ?model=."""
    web = Path(__file__).resolve().parent.parent / "web"
    serve = "see it: python -m http.server -d web, then open http://localhost:8000/"
    if out.resolve() == web / "model":
        return serve
    if out.resolve().is_relative_to(web):  # the folder's name as an address spells it (a space: %20)
        return f"{serve}?model={urllib.parse.quote(out.resolve().relative_to(web).as_posix())}"
    return (
        f"the page serves web/ and loads only folders under it: export with --out web/NAME (or copy {out} there), "
        "then open http://localhost:8000/?model=NAME"
    )


def missing_dependency() -> str | None:
    """Why tensorflow / tensorflowjs cannot be imported, naming the real cause, or None if they can.
    tensorflow_hub (imported by tensorflowjs) needs pkg_resources, which setuptools>=81 does not ship:
    then the extra IS installed and reinstalling it would not help."""
    try:
        with warnings.catch_warnings():  # setuptools 80 warns on every pkg_resources import, on stderr
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
            import tensorflow  # noqa: F401
            import tensorflowjs  # noqa: F401
    except ImportError as err:
        if err.name == "pkg_resources":
            return (
                "tensorflowjs needs pkg_resources (through tensorflow_hub), which setuptools>=81 no longer "
                "ships; run: pip install 'setuptools<81'"
            )
        if err.name in ("tensorflow", "tensorflowjs"):
            return f"{err.name} is not installed; run: pip install -e '.[export]'"
        return f"tensorflow/tensorflowjs cannot be imported ({err}); run: pip install -e '.[export]'"
    return None


if __name__ == "__main__":
    run_as_command(sys.argv[1:])

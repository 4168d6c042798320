"""eval.py's command: plan the suites asked for, load or train their runs, evaluate, store, report.

`--seeds` runs the headline suite on the chosen config and, for the reference recipe, the collapse ablation;
RUN_DIRs run the headline suite on saved runs of one config; each of EXTRA_SUITES runs on its own named configs.
Every suite stores its payload as JSON under --out; RESULTS.md is then regenerated from every stored payload,
so suites run apart still share one report.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import jax
from tqdm import tqdm

from jaxjepa import checkpoint, cli, runner
from jaxjepa.evaluation import ablation, anomaly_kinds, figures, headline, planning, recipes, report, two_rooms, worlds
from jaxjepa.evaluation.runs import Found, Plan, PlannedRuns, check_plan, load_existing, seeds_plan, train_missing
from jaxjepa.evaluation.suite import Context, Suite

# The suites of their own named configs, each with its own --NAME flag
EXTRA_SUITES = (recipes.SUITE, anomaly_kinds.SUITE, worlds.SUITE, planning.SUITE, two_rooms.SUITE)
REPORT_ORDER = (headline.SUITE, ablation.SUITE, *EXTRA_SUITES)
FIGURE_SUFFIXES = (".png", ".gif")  # what a stored file may name as a figure that eval.py removes once stale
# The report's head while only the extra suites have stored results
NOT_RUN_YET = (
    f"{report.REPORT_TITLE}\n\nThe headline evaluation has not been run yet (`python eval.py --seeds 0-7`); "
    "the sections below come from the extra evaluations named in each. Do not edit by hand."
)


SMALLER = "give fewer --trajectories (the headline's and --two-rooms' count), or fewer runs at once"


class OutputError(Exception):
    """An output (a figure, a JSON file, the report) could not be written: a full disk, a vanished folder."""


@contextlib.contextmanager
def writing_outputs() -> Iterator[None]:
    try:
        yield
    except OSError as err:
        where = f" {err.filename}" if err.filename else ""
        raise OutputError(f"cannot write{where}: {err.strerror or err}") from err


class Job(NamedTuple):
    suite: Suite
    plan: Plan


class Outcome(NamedTuple):
    suite: Suite
    payload: dict
    made: dict[str, Path]  # figure name -> path
    timing_s: dict


def make_parser() -> argparse.ArgumentParser:
    parser = cli.OneLineParser(prog="eval.py", description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="finished runs of one config to evaluate")
    cli.add_seed_flags(parser)
    parser.add_argument(
        "--runs",
        default="runs",
        help="where --seeds finds and saves runs, as train.py keeps them: RUNS/seed<i> for the default config, "
        "RUNS/NAME/seed<i> for a named one (default runs/)",
    )
    parser.add_argument("--out", default="results", help="folder for the JSON results and figures (default results/)")
    parser.add_argument("--report", help="the report to write (default RESULTS.md; OUT/RESULTS.md with another --out)")
    parser.add_argument(
        "--readme",
        help="README whose eval.py block is rewritten (default README.md; none with another --out or a --report)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="evaluate nothing: write the report and README's block again from the JSON already under --out",
    )
    parser.add_argument(
        "--no-ablation",
        action="store_true",
        help="skip the collapse ablation with --seeds: the new metrics.json holds none, and RESULTS.md says so "
        "(its runs are kept, and a later run finds them)",
    )
    add_suite_flags(parser)
    cli.add_config_flags(parser)
    return parser


def add_suite_flags(parser: argparse.ArgumentParser) -> None:
    """What the headline measures, and one --NAME flag per suite of its own named configs."""
    parser.add_argument("--no-std", action="store_true", help="allow a single seed: report values without a std")
    parser.add_argument(
        "--trajectories",
        type=cli.batch_count,
        metavar="N",
        help="a count other than the default (fewer for a quick smoke run): "
        + "; ".join(suite.trajectories for suite in REPORT_ORDER if suite.trajectories),
    )
    extra = parser.add_argument_group(
        "suites of their own named configs: each writes its JSON under --out, "
        "then RESULTS.md is regenerated from every JSON that exists"
    )
    for suite in EXTRA_SUITES:
        extra.add_argument(f"--{suite.name}", action="store_true", help=suite.description)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = make_parser()
    args = parser.parse_args(argv)
    args.seeds = args.seeds or args.seed  # a list either way: --seed 3 is --seeds 3
    check_args(args)
    default_out = args.out == parser.get_default("out")
    if args.readme is None and default_out and args.report is None:  # results kept elsewhere leave README.md alone
        args.readme = "README.md"
    if args.report is None:
        args.report = "RESULTS.md" if default_out else str(Path(args.out) / "RESULTS.md")
    return args


def check_args(args: argparse.Namespace) -> None:
    if args.report_only:
        measuring = args.trajectories is not None or args.no_std or args.no_ablation
        if args.run_dirs or args.seeds or extra_suites(args) or config_flags_given(args) or measuring:
            cli.fail(
                "eval.py: --report-only evaluates nothing; give it no RUN_DIRs, seeds, suites, config flags or "
                "--trajectories, --no-std, --no-ablation"
            )
        return
    ignoring = [suite.name for suite in extra_suites(args) if suite.trajectories is None]
    if args.trajectories is not None and ignoring:
        cli.fail(f"eval.py: --trajectories sets no count of --{' --'.join(ignoring)}; leave it out")
    if extra_suites(args) and (args.run_dirs or config_flags_given(args)):
        cli.fail(
            f"eval.py: {'/'.join('--' + suite.name for suite in EXTRA_SUITES)} train and evaluate their own named "
            "configs; give them --seeds only, no RUN_DIRs or config flags"
        )
    if args.run_dirs and args.seeds:
        cli.fail("eval.py: give RUN_DIRs or --seeds/--seed, not both")
    if not args.run_dirs and not args.seeds:
        cli.fail("eval.py: nothing to evaluate: give RUN_DIRs, or --seeds 0-7 to train what is missing and evaluate")
    for run_dir in args.run_dirs:  # a mistyped path is named before the number of runs is judged
        problem = run_dir_problem(Path(run_dir))
        if problem:
            cli.fail(f"eval.py: {problem}")
    n_runs = len(args.run_dirs or args.seeds)
    if n_runs < 2 and not args.no_std:
        cli.fail(
            f"eval.py: every figure is a mean +- std over seeds, and a std needs at least 2 seeds; got {n_runs}. "
            "Give more seeds (--seeds 0-7), or pass --no-std to report one seed without a std"
        )


def run_dir_problem(run_dir: Path) -> str | None:
    """Why `run_dir` is not a finished run (None: it is); a folder that holds runs, such as runs/, says so."""
    try:
        checkpoint.load_config(run_dir)
    except checkpoint.RunError as err:
        held = sorted(str(p) for p in run_dir.glob("seed*") if checkpoint.is_finished(p)) if run_dir.is_dir() else []
        if held:
            return f"{err}; it holds runs: give those ({' '.join(held[:2])}{' ...' if len(held) > 2 else ''})"
        return str(err)
    return None


def extra_suites(args: argparse.Namespace) -> list[Suite]:
    return [suite for suite in EXTRA_SUITES if getattr(args, suite.name.replace("-", "_"))]


def config_flags_given(args: argparse.Namespace) -> bool:
    return args.config != "default" or any(v is not None for k, v in vars(args).items() if k.startswith("cfg_"))


def run_dirs_plan(args: argparse.Namespace) -> Plan:
    """The given runs, their config taken from the flags or else from the first run (check_args has loaded it once,
    but the run may have gone since: one line then too)."""
    try:
        config = (
            cli.config_from(args, "eval.py") if config_flags_given(args) else checkpoint.load_config(args.run_dirs[0])
        )
    except checkpoint.RunError as err:
        cli.fail(f"eval.py: {err}")
    return {args.config: PlannedRuns(config, [(None, Path(d)) for d in args.run_dirs])}


def jobs_of(args: argparse.Namespace) -> list[Job]:
    """Which suites run on which runs: the extra suites asked for, or the headline (and ablation)."""
    if args.run_dirs:
        return [Job(headline.SUITE, run_dirs_plan(args))]
    config = cli.config_from(args, "eval.py", seeds=len(args.seeds))
    suites = extra_suites(args) or [headline.SUITE] + (
        [ablation.SUITE] if args.config == "default" and not args.no_ablation else []
    )
    return [Job(suite, seeds_plan(suite.configs(args.config, config), args.seeds, args.runs)) for suite in suites]


def check_configs(jobs: list[Job]) -> None:
    """One line and exit 2 for a config that its suite cannot measure, before any output is made."""
    for job in jobs:
        for planned in job.plan.values():
            problem = job.suite.config_problem(planned.config)
            if problem:
                cli.fail(f"eval.py: {problem}")


def out_in_a_run(out: str, jobs: list[Job]) -> str | None:
    """Why the results may not go to `out`, or None: a folder at or inside a run (one the command evaluates or
    trains, or any finished one), where the stored metrics.json would replace the run's own, its training curves
    and final figures, and the figures would sit among its files."""
    planned = {os.path.realpath(path) for job in jobs for runs in job.plan.values() for _, path in runs.runs}
    where = Path(os.path.realpath(out))
    run = next((p for p in (where, *where.parents) if str(p) in planned), None) or checkpoint.enclosing_run(where)
    if run is None:
        return None
    return f"--out {out} lies in the run {run}, whose metrics.json the results would replace; choose another folder"


def check_outputs(args: argparse.Namespace) -> None:
    """Where the outputs go must be writable, and the plots extra installed, before anything is trained."""
    if figures.MISSING:
        cli.fail(f"eval.py: the figures need {figures.MISSING}, which is not installed; run: {figures.PLOTS_INSTALL}")
    problem = cli.output_file_problem(Path(args.out) / "metrics.json")  # creates --out, as the write would
    if problem:
        cli.fail(f"eval.py: cannot write the outputs: {problem}")
    check_report_path(args)


def check_report_path(args: argparse.Namespace) -> None:
    """The report must be a file (or nothing yet) in an existing folder this process can write."""
    if not Path(args.report).absolute().parent.is_dir():
        cli.fail(f"eval.py: cannot write the report: no directory for the report {args.report}")
    problem = cli.output_file_problem(args.report) or report.foreign_file_problem(args.report)
    if problem:
        cli.fail(f"eval.py: cannot write the report: {problem}")


def run_job(job: Job, found: Found, context: Context, out: Path, bar) -> Outcome:
    started = time.perf_counter()
    bar.set_postfix_str(f"{job.suite.name}: runs")
    loaded = train_missing(job.plan, found, progress=bar.set_postfix_str)
    trained = time.perf_counter()
    bar.set_postfix_str(f"{job.suite.name}: evaluating")
    evaluated = job.suite.evaluate(loaded, context)
    with writing_outputs():
        made = job.suite.figures(evaluated, out)
    bar.update(1)
    done = time.perf_counter()
    timing = {"train": trained - started, "evaluate": done - trained, "total": done - started}
    return Outcome(job.suite, {**evaluated.payload}, made, timing)


def main(argv: list[str] | None = None) -> int:
    with (
        cli.stdout_checked("eval.py", "; it prints after writing, so its runs, results and report are written"),
        cli.backend_checked("eval.py"),
    ):
        try:
            return evaluate(sys.argv[1:] if argv is None else argv)
        except KeyboardInterrupt:
            kept = "runs saved before it are kept, and the results under --out are whole"
            cli.interrupted(f"eval.py: interrupted; {kept}")


def evaluate(argv: list[str]) -> int:
    args = parse(argv)
    if args.report_only:
        return report_only(args)
    jobs = jobs_of(args)
    check_configs(jobs)
    run_folders = {path.parent for job in jobs for planned in job.plan.values() for _, path in planned.runs}
    with removed_if_left_empty(Path(args.out), *run_folders), contextlib.ExitStack() as held:
        found = check_before_work(args, jobs, held)
        context = Context(argv, args.config, not args.no_std, args.trajectories)
        outcomes, files = run_and_store(args, jobs, found, context)
        update_readme(args, files)
    print_summary(outcomes, files, args)
    return 0


@contextlib.contextmanager
def out_held(out: str | Path) -> Iterator[None]:
    """Hold the folder --out while inside (flock on the folder itself, so no lock file is left among the results
    or beside them): a second eval.py writing the same --out is refused in one line while the first runs, whose
    JSON would otherwise land beside the other's figures."""
    try:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as err:
        cli.fail(f"eval.py: cannot open --out {out}: {err.strerror or err}")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            cli.fail(
                f"eval.py: --out {out} is being written by another eval.py; wait for it or choose another --out",
                cli.FAILED,
            )
        except OSError as err:
            cli.fail(f"eval.py: cannot lock --out {out}: {err.strerror or err}", cli.FAILED)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def removed_if_left_empty(*folders: Path) -> Iterator[None]:
    """A command refused (or interrupted) after its checks made `folders` (--out, the runs' folders) leaves no
    empty folder behind: each of them, and each parent, that did not exist before is removed if it is empty."""
    made = sorted({p for f in folders for p in (f, *f.parents) if not p.exists()}, key=lambda p: -len(p.parts))
    try:
        yield
    except BaseException:
        for folder in made:  # the deepest first, so that a parent left empty goes too
            with contextlib.suppress(OSError):  # not empty, or gone: nothing to tidy
                folder.rmdir()
        raise


def check_before_work(args: argparse.Namespace, jobs: list[Job], held: contextlib.ExitStack) -> list[Found]:
    """Everything that can refuse the command, before any time is spent: outputs that cannot be written or that
    another eval.py is writing (--out is then held until `held` closes), a bad run directory or one that cannot
    be saved, a seed given twice, a stored payload the report keeps that does not render. Returns the runs found
    on disk, per job."""
    problem = out_in_a_run(args.out, jobs)
    if problem:
        cli.fail(f"eval.py: {problem}")
    if args.seeds and (problem := checkpoint.runs_root_problem(f"--runs {args.runs}", args.runs)):  # what it trains
        cli.fail(f"eval.py: {problem}")
    check_outputs(args)
    held.enter_context(out_held(args.out))
    runner.enable_compilation_cache()
    try:
        found = [load_existing(job.plan, job.suite.metrics_read) for job in jobs]
        for job, found_runs in zip(jobs, found, strict=True):
            check_plan(job.plan, found_runs)
    except checkpoint.RunError as err:
        cli.fail(f"eval.py: {err}")
    kept = {suite.result_file for suite in REPORT_ORDER} - {job.suite.result_file for job in jobs}
    stored_files(args.out, only=kept)
    return found


def run_and_store(
    args: argparse.Namespace, jobs: list[Job], found: list[Found], context: Context
) -> tuple[list[Outcome], dict[str, dict]]:
    """Each job trained (what is missing), evaluated and drawn, then every payload stored and the report
    written: (the outcomes, the stored files). The figures and the JSON files land together, once all are
    written; the report, read from them, follows."""
    out = Path(args.out)
    replaced = figures_named(out, {job.suite.result_file for job in jobs})
    try:
        with cli.held_outputs() as land, tqdm(total=len(jobs), desc="eval", unit="suite") as bar:
            outcomes = [runner.interruptible(run_job, job, runs, context, out, bar) for job, runs in zip(jobs, found)]
            with writing_outputs():
                files = store(outcomes, args, context)
                land()
        remove_stale_figures(replaced - figures_named(out, {suite.result_file for suite in REPORT_ORDER}))
    except checkpoint.RunError as err:  # a save that failed midway (a full disk): the runs saved before it stay
        cli.fail(f"eval.py: {err}", cli.FAILED)
    except OutputError as err:
        cli.fail(f"eval.py: {err}; {kept_as_they_were(out)}", cli.FAILED)
    except jax.errors.JaxRuntimeError as err:  # XLA refused the buffers of an evaluation too large for this machine
        if (xla_says := cli.out_of_memory(err)) is None:
            raise
        too_large = f"the evaluation needs more memory than this machine has ({xla_says}); {SMALLER}"
        cli.fail(f"eval.py: {too_large}; {kept_as_they_were(out)}", cli.FAILED)
    try:
        with writing_outputs():
            write_report(args)
    except OutputError as err:
        written = f"the results under {out} are written: eval.py --report-only writes the report"
        cli.fail(f"eval.py: {err}; {written}", cli.FAILED)
    return outcomes, files


def kept_as_they_were(out: Path) -> str:
    return f"runs saved before it are kept, and the results under {out} are as they were"


def relative(path: str | Path, beside: str | Path) -> str:
    """`path` as a link in the file `beside` (the report, the README) reaches it."""
    return os.path.relpath(Path(path).absolute(), Path(beside).absolute().parent)


def located(name: str, content: dict, figures: dict[str, Path], args: argparse.Namespace) -> dict:
    """The stored file `name` with its `figures` (figure name -> path) and its own path relative to the report."""
    return {
        **content,
        "figures": {figure: relative(path, args.report) for figure, path in figures.items()},
        "metrics_json": relative(Path(args.out) / name, args.report),
    }


def store(outcomes: list[Outcome], args: argparse.Namespace, context: Context) -> dict[str, dict]:
    """Each payload in its suite's JSON file under --out, with the command, seeds, timings and figures
    (paths relative to the report); a suite with a key goes into its file under that key."""
    files: dict[str, dict] = {}
    for outcome in outcomes:
        content = files.setdefault(outcome.suite.result_file, {})
        content.update(outcome.payload if outcome.suite.key is None else {outcome.suite.key: outcome.payload})
        content.setdefault("command", context.command)
        content.setdefault("seeds", args.seeds)
    for name, content in files.items():
        parts = [o for o in outcomes if o.suite.result_file == name]
        content["timing_s"] = {k: sum(o.timing_s[k] for o in parts) for k in ("train", "evaluate", "total")}
        files[name] = located(name, content, {figure: path for o in parts for figure, path in o.made.items()}, args)
        report.write_json(files[name], Path(args.out) / name)
    return files


def stored_files(out: str | Path, only: set[str] | None = None) -> dict[str, dict]:
    """Every suite's stored JSON that exists under `out` (or those of them named in `only`): {file name: content},
    in REPORT_ORDER. One that is not readable JSON, or not what eval.py stores, is refused in one line naming it."""
    files = {}
    for name in dict.fromkeys(suite.result_file for suite in REPORT_ORDER):
        path = Path(out) / name
        if (only is None or name in only) and path.exists():
            try:
                files[name] = cli.read_json(path)
            except cli.UNREADABLE_JSON as err:
                cli.fail(f"eval.py: {path} is unreadable ({type(err).__name__}: {err}); run its evaluation again")
    for name, content in files.items():
        if not report.is_payload(content):
            cli.fail(f"eval.py: {Path(out) / name} is not a result eval.py stores; run its evaluation again")
    return files


def figure_files(content: dict, out: str | Path) -> dict[str, Path]:
    """A stored file's figures where they are: every suite writes them under --out, so they are found there by
    name, wherever the report that stored their paths was."""
    return {figure: Path(out) / Path(path).name for figure, path in content.get("figures", {}).items()}


def figures_named(out: Path, names: set[str]) -> set[Path]:
    """The figures under `out` that the stored files `names` there name; a file that is missing, unreadable or not
    what eval.py stores names none."""
    named = set()
    for name in names:
        try:
            content = cli.read_json(out / name)
        except cli.UNREADABLE_JSON:
            continue
        if report.is_payload(content):
            named |= {path for path in figure_files(content, out).values() if path.suffix in FIGURE_SUFFIXES}
    return named


def remove_stale_figures(stale: set[Path]) -> None:
    """Figures that a stored file named before this command replaced it, and that no stored file names now (the
    collapse plot after a headline run without the ablation, say): eval.py drew them, and left alone they would
    sit beside the new results as if they were of them."""
    for path in sorted(stale):
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            print(f"eval.py: could not remove the stale figure {path}: {err.strerror or err}", file=sys.stderr)


def write_report(args: argparse.Namespace, files: dict[str, dict] | None = None) -> Path:
    """RESULTS.md from every suite's stored JSON under --out (`files`, when already read), in REPORT_ORDER."""
    files = stored_files(args.out) if files is None else files
    files = {name: located(name, content, figure_files(content, args.out), args) for name, content in files.items()}
    parts = [] if REPORT_ORDER[0].result_file in files else [NOT_RUN_YET]
    parts += [part for suite in REPORT_ORDER if suite.result_file in files for part in rendered(suite, files, args)]
    return report.write_text(args.report, "\n\n".join(p for p in parts if p) + "\n")


def rendered(suite: Suite, files: dict[str, dict], args: argparse.Namespace) -> list[str]:
    """A suite's report sections; one line naming its stored file where that lacks what they read (damaged, or
    written by hand)."""
    try:
        return [section(files[suite.result_file]) for section in suite.sections]
    except Exception as err:  # noqa: BLE001 (what the rendering of a damaged file raises is as varied as the damage)
        path = Path(args.out) / suite.result_file
        cli.fail(f"eval.py: {path} lacks what the {suite.name} report reads ({err!r}); run its evaluation again")


def update_readme(args: argparse.Namespace, files: dict[str, dict]) -> None:
    """README.md's generated block of each suite in `files` that has one; a README without the markers, or not
    UTF-8 text, is left alone and said so on stderr (the results are written by then)."""
    if args.readme is None:
        return
    figures = {name: path for content in files.values() for name, path in figure_files(content, args.out).items()}
    paths = {figure: relative(path, args.readme) for figure, path in figures.items()}
    for suite in REPORT_ORDER:
        if suite.readme_block is None or suite.result_file not in files:
            continue
        json_path = relative(Path(args.out) / suite.result_file, args.readme)
        block = suite.readme_block(files[suite.result_file], paths, relative(args.report, args.readme), json_path)
        try:
            report.replace_block(args.readme, report.README_BEGIN, report.README_END, block)
        except (OSError, ValueError) as err:  # ValueError: no markers (report.MissingMarkers), or not UTF-8
            print(f"eval.py: {args.readme} not updated: {err}", file=sys.stderr)


def report_only(args: argparse.Namespace) -> int:
    """The report and README's block again from the stored JSON, evaluating nothing: after an edit to the
    report code or to the findings it links. Its figures are those the stored JSON names."""
    no_results = f"eval.py: no stored results under {args.out}; run an evaluation first (python eval.py --seeds 0-7)"
    if not Path(args.out).is_dir():  # said first: the report's default folder, --out, is missing too
        cli.fail(no_results)
    if (run := checkpoint.enclosing_run(args.out)) is not None:  # whose metrics.json is the run's, not a result
        at_run = Path(os.path.realpath(args.out)) == run
        what = "is a run directory (train.py's)" if at_run else f"lies in the run {run}"
        cli.fail(f"eval.py: --out {args.out} {what}, not an evaluation's results; give the --out an evaluation wrote")
    check_report_path(args)
    with out_held(args.out):
        return report_from_stored(args, no_results)


def report_from_stored(args: argparse.Namespace, no_results: str) -> int:
    """report_only's work, once --out is held."""
    files = stored_files(args.out)
    if not files:
        cli.fail(no_results)
    try:
        with writing_outputs():
            write_report(args, files)
    except OutputError as err:  # a full disk: the report on disk is the one before (report.write_text is atomic)
        cli.fail(f"eval.py: {err}; {args.report} is as it was", cli.FAILED)
    update_readme(args, files)
    print(f"  wrote {args.report} from {', '.join(str(Path(args.out) / name) for name in files)}")
    return 0


def print_summary(outcomes: list[Outcome], files: dict[str, dict], args: argparse.Namespace) -> None:
    for o in outcomes:
        seconds = o.timing_s
        print(f"eval.py {o.suite.name}: {seconds['total']:.0f} s (runs loaded or trained in {seconds['train']:.0f} s)")
        print("\n".join(o.suite.summary(o.payload)))
    print(f"  wrote {', '.join(str(Path(args.out) / name) for name in files)} and {args.report}")

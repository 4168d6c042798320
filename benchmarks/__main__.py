"""`python -m benchmarks [--quick] [--sections peak,step,...,ttq] [--out PATH] [--update | --force]`

Runs the chosen sections (all by default) in one run, prints the table and writes the figures as
JSON (results/bench.json; results/bench-quick.json with --quick, so a development run never
overwrites the real figures). With --update the sections run replace theirs in the existing file and
the others are kept, each section stamped with the time it was measured. Without it, an existing --out is
replaced only where it holds this machine's figures of the same kind and sections; --force replaces
anything. `python -m benchmarks.report` turns bench.json into README.md's performance section.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import shlex
import sys
import time
from pathlib import Path

from jaxjepa import cli

with cli.starting("python -m benchmarks"):  # Ctrl-C during the slow imports: one line, no traceback
    from benchmarks.report import REPO, SECTIONS, shape_problem


def parse_args(argv):
    parser = cli.OneLineParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the benchmark, not the machine")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    parser.add_argument("--seed-counts", default=None, help="seed counts of the seeds section, e.g. 1,2,4,8,16")
    parser.add_argument("--out", default=None, help="JSON file (default results/bench.json, or bench-quick.json)")
    parser.add_argument("--update", action="store_true", help="keep the other sections already in --out")
    parser.add_argument(
        "--force", action="store_true", help="replace --out even where it holds another kind of run's figures"
    )
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown or not sections:
        cli.fail(f"python -m benchmarks: unknown section(s) {unknown or '(none given)'}; known: {', '.join(SECTIONS)}")
    seed_counts = None if args.seed_counts is None else parse_seed_counts(args.seed_counts)
    if seed_counts and "seeds" not in sections:
        cli.fail("python -m benchmarks: --seed-counts sets the seeds section, which --sections leaves out")
    if args.out == "":
        cli.fail("python -m benchmarks: --out is an empty path; name a JSON file")
    out = Path(args.out) if args.out else REPO / "results" / ("bench-quick.json" if args.quick else "bench.json")
    problem = cli.output_file_problem(out)
    if problem:
        cli.fail(f"python -m benchmarks: cannot write --out {out}: {problem}")
    held_machine = {} if args.update or args.force else check_out_replaceable(out, sections, args.quick)
    earlier = {}
    if args.update and out.exists():
        earlier, problem = held_figures(out)
        if problem:
            cli.fail(f"python -m benchmarks: --update: {out} {problem}; write a new file instead")
        if earlier.get("quick", args.quick) != args.quick:
            cli.fail(f"python -m benchmarks: --update: {out} is not a benchmark file of the same kind (--quick or not)")
    return args.quick, sections, seed_counts, out, earlier, held_machine


def parse_seed_counts(text: str) -> tuple[int, ...]:
    """--seed-counts as distinct counts, smallest first (the table's ratios are to its first row); one line and
    exit 2 for anything else."""
    if not all(cli.PLAIN_INT.fullmatch(n.strip()) for n in text.split(",")):  # int() would also read "1_0" and "\u0663"
        cli.fail(f"python -m benchmarks: --seed-counts wants integers like 1,2,4,8, got {text!r}")
    counts = [int(n) for n in text.split(",")]
    if min(counts) < 1 or max(counts) > cli.MAX_SEEDS:
        cli.fail(f"python -m benchmarks: --seed-counts must be from 1 to {cli.MAX_SEEDS}")
    if len(set(counts)) < len(counts):
        cli.fail(f"python -m benchmarks: --seed-counts names a count twice ({text}); give each once")
    return tuple(sorted(counts))


def held_figures(out: Path) -> tuple[object, str | None]:
    """The JSON at `out`, and why it is not a benchmark file as this command writes one (None: it is one)."""
    try:
        held = cli.read_json(out)
    except cli.UNREADABLE_JSON as err:
        return None, f"cannot be read as JSON ({err})"
    return held, shape_problem(held)


def check_out_replaceable(out: Path, sections: list[str], quick: bool) -> dict:
    """One line and exit 2 where --out holds what this run must not replace unasked (--force replaces it): a file
    that is not a benchmark file, a benchmark of the other kind (--quick or not), or figures of sections this run
    would drop (it writes only its own). Returns the machine block it holds ({}: nothing held), which `main`
    compares with this machine's once that is known."""
    if not out.is_file() or out.stat().st_size == 0:  # nothing there to lose
        return {}
    held, problem = held_figures(out)
    if problem:
        cli.fail(f"python -m benchmarks: {out} is not a benchmark file (it {problem}); --out another file, or --force")
    if held.get("quick", False) != quick:
        kind = "--quick" if held.get("quick") else "full-size"
        cli.fail(f"python -m benchmarks: {out} holds a {kind} run's figures; --out another file, or pass --force")
    dropped = [name for name in SECTIONS if name in held and name not in sections]
    if dropped:
        cli.fail(
            f"python -m benchmarks: {out} holds the {', '.join(dropped)} figures, which this run does not measure; "
            "pass --update to keep them beside the new ones, or --out another file"
        )
    return held["machine"]


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def same_machine(first: dict, now: dict) -> bool:
    """Whether two runs' machine blocks name the same CPU model, core count, jax and devices."""
    keys = ("cpu_model", "cpu_count", "jax", "backend", "device_kind")
    return all(first.get(k) == now.get(k) for k in keys)


def command_line(args: list[str]) -> str:
    """The command that made a benchmark file, as a user would type it again: each argument quoted for a shell."""
    return shlex.join(["python", "-m", "benchmarks", *args])


def main(argv: list[str] | None = None) -> int:
    with cli.stdout_checked("python -m benchmarks", "; it prints the table after writing --out, so the file is whole"):
        return measure(argv)


def measure(argv: list[str] | None) -> int:
    quick, sections, seed_counts, out, earlier, held_machine = parse_args(argv)
    with cli.starting("python -m benchmarks"):
        from benchmarks import report
        from benchmarks import sections as bench

        machine = bench.machine()  # where JAX's backend starts, which takes seconds too
    sizes = bench.QUICK if quick else bench.FULL
    if seed_counts:
        sizes = dataclasses.replace(sizes, seed_counts=seed_counts)
    machine = machine_to_record(machine, out, earlier, held_machine)
    command = command_line(sys.argv[1:] if argv is None else [])
    results = {
        **earlier,
        "command": f"{earlier['command']} && {command}" if "command" in earlier else command,
        "quick": quick,
        "out": str(out.absolute().relative_to(REPO)) if out.absolute().is_relative_to(REPO) else str(out),
        "started_utc": earlier.get("started_utc") or utc_now(),
        "machine": machine,
        "sizes": recorded_sizes(sizes, sections, earlier),
    }
    start = time.perf_counter()
    measure_sections(results, [name for name in SECTIONS if name in sections], section_runs(bench, sizes, results))
    results["total_s"] = time.perf_counter() - start
    try:
        table = report.markdown(results)
        cli.write_text(out, json.dumps(report.json_safe(results), indent=2, allow_nan=False))
    except OSError as err:
        print(table)  # the figures are on screen, though the file could not be written
        cli.fail(f"python -m benchmarks: cannot write {out}: {err}", cli.FAILED)
    except KeyboardInterrupt:  # the write is a rename of a whole file: the old one stays until the new one lands
        cli.interrupted(f"python -m benchmarks: interrupted while writing; {out} is whole, as it was or rewritten")
    # after the write: a standard output that cannot be written (cli.stdout_checked) costs no figure
    with cli.leaving_on_interrupt(f"python -m benchmarks: interrupted; {out} is written"):
        print(f"{table}\n\nwrote {out}")
    return 0


def recorded_sizes(sizes, sections: list[str], earlier: dict) -> dict:
    """The sizes the file's figures were measured at. An --update run is of the same kind (--quick or not) as the
    file, so only --seed-counts can differ: where this run leaves the seeds section as it was, so are its counts."""
    recorded = dataclasses.asdict(sizes)
    earlier_sizes = earlier.get("sizes") if isinstance(earlier.get("sizes"), dict) else {}
    if "seeds" not in sections and "seed_counts" in earlier_sizes:
        recorded["seed_counts"] = earlier_sizes["seed_counts"]
    return recorded


def machine_to_record(machine: dict, out: Path, earlier: dict, held_machine: dict) -> dict:
    """The machine block the results carry; one line and exit 2 where --out holds another machine's figures.
    With --update it is the first run's block, load average included, beside this run's load average."""
    if earlier:  # figures of one machine only
        if not same_machine(earlier.get("machine", {}), machine):
            cli.fail(f"python -m benchmarks: --update: {out} was measured on another machine; write a new file")
        return {**earlier["machine"], "load_average_at_update": machine.get("load_average_at_start")}
    if held_machine and not same_machine(held_machine, machine):
        cli.fail(
            f"python -m benchmarks: {out} holds figures of another machine or jax version; --out another file, or "
            "pass --force"
        )
    return machine


def section_runs(bench, sizes, results: dict) -> dict:
    """Each section's measurement, by name; the step's reads the peak that `results` holds by the time it runs."""
    return {
        "peak": lambda: bench.matmul_peak(sizes),
        "step": lambda: bench.train_step(sizes, results.get("peak", {}).get("peak_gflops")),
        "single": lambda: bench.single_seed(sizes),
        "process": lambda: bench.whole_processes(sizes),
        "seeds": lambda: bench.seeds_scaling(sizes),
        "torch": lambda: bench.torch_pairs(sizes),
        "ttq": lambda: bench.time_to_quality(sizes),
    }


def measure_sections(results: dict, ordered: list[str], runs: dict) -> None:
    """Each section of `ordered` measured in turn into `results`, stamped with the time it was measured.
    Ctrl-C, or a section that fails, ends the command in one line with nothing written."""
    for i, name in enumerate(ordered):
        began = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = runs[name]()  # in this thread, as measured: Ctrl-C lands when a compiled call returns
            results.setdefault("measured_utc", {})[name] = utc_now()
            print(f"[bench] {name} done in {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            cli.interrupted(f"python -m benchmarks: interrupted in the {name} section; nothing was written")
        except RuntimeError as err:  # a benchmark child that failed: its last line says why
            done = ", ".join(ordered[:i]) or "none"
            cli.fail(f"python -m benchmarks: the {name} section failed ({err}); nothing written (measured before it: "
                     f"{done})", cli.FAILED)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

"""`python -m export RUN [--out web/model] [--float16]`: a saved run -> the browser demo's model folder.

Why a command and not a notebook step: the committed default model must be reproducible from a run
directory by one line, and every failure (no run, a primitive we cannot lower, parity above 1e-5)
must end in one plain sentence with a non-zero exit.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from pathlib import Path

from export.destination import ExportError, check_destination
from jaxjepa.cli import OneLineParser, fail
from jaxjepa.config import VARIANTS, get_config


def parse_args(argv: list[str] | None):
    parser = OneLineParser(
        prog="python -m export", description="Export a trained run (train.py) to TF.js graph models for web/."
    )
    parser.add_argument("run", help="run directory written by train.py, e.g. runs/seed0")
    parser.add_argument(
        "--out",
        default="web/model",
        help="output folder (default web/model): new, empty, or a previous export holding only "
        "its own files; anything else is refused, --force or not",
    )
    parser.add_argument(
        "--float16", action="store_true", help="store weights as float16 (half the download); prints the error it costs"
    )
    parser.add_argument("--saved-model", metavar="DIR", help="also keep the TF SavedModels in DIR")
    parser.add_argument(
        "--force", action="store_true", help="replace a previous export even where its files were edited since"
    )
    parser.add_argument(
        "--plan-samples",
        type=int,
        metavar="N",
        help="action-conditioned runs: sequences the page's planner samples (default: the run's)",
    )
    parser.add_argument(
        "--plan-iterations",
        type=int,
        metavar="I",
        help="action-conditioned runs: the page's refinements per step (default: the run's)",
    )
    parser.add_argument(
        "--search-beams",
        type=int,
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


def plan_budget(args) -> dict[str, int]:
    budget = {"samples": args.plan_samples, "iterations": args.plan_iterations, "beams": args.search_beams}
    return {k: v for k, v in budget.items() if v is not None}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from jaxjepa.api import load_run
    from jaxjepa.checkpoint import RunError

    try:
        run = load_run(args.run)
        if args.planning:
            run = dataclasses.replace(run, config=run.config.planning_as(get_config(args.planning)))
        check_destination(Path(args.out).absolute(), run.path, args.force)  # before TensorFlow's slow import
    except (RunError, ExportError) as err:
        fail(f"cannot export: {err}")
    except OSError as err:
        fail(f"cannot export: {err.strerror or err}: {err.filename or args.out}")
    problem = missing_dependency()
    if problem:
        fail(f"cannot export: {problem}")
    from export.build import export_run

    try:
        meta = export_run(
            run,
            args.out,
            float16=args.float16,
            force=args.force,
            saved_model_dir=args.saved_model,
            plan_budget=plan_budget(args),
        )
    except ExportError as err:
        fail(f"cannot export: {err}")
    except OSError as err:
        fail(f"cannot export: {err.strerror or err}: {err.filename or args.out}")
    report(args, meta)


def report(args, meta: dict) -> None:
    sizes = ", ".join(f"{k} {v / 1e3:.1f} kB" for k, v in meta["bytes"].items())
    print(
        f"wrote {args.out}: {meta['weights_dtype']} weights, download {meta['download_bytes'] / 1e6:.3f} MB "
        f"({sizes}); reference's base64 JSON: 1.37 MB"
    )
    if args.float16:
        errors = ", ".join(f"{k} {v:.2e}" for k, v in meta["float16_error_max_abs"].items())
        print(f"float16 weights cost (max abs error vs float32, JAX on the parity observations): {errors}")
    if Path(args.out).resolve() == (Path(__file__).resolve().parent.parent / "web" / "model"):
        print("see it: python -m http.server -d web, then open http://localhost:8000/")
    else:
        print(
            "the page loads web/model (its switch also offers web/model-koopman, web/model-steer and "
            "web/model-two-rooms); index.html?model=PATH loads "
            "another export served under web/"
        )


def missing_dependency() -> str | None:
    """Why tensorflow / tensorflowjs cannot be imported, naming the real cause, or None if they can.
    tensorflow_hub (imported by tensorflowjs) needs pkg_resources, which setuptools 81 and later no longer
    ship: then the extra IS installed and reinstalling it would not help."""
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
    main(sys.argv[1:])

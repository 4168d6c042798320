"""`python -m export.measure`: what the browser demo costs and how exact it is, measured in headless Chromium.

Writes results/web.json and rewrites the block between the `export.measure` markers in README.md, so
every figure there comes from this command. Figures, for web/model (and any further export folders
given with --also, e.g. a float16 one):
- download: bytes the page actually fetched for the model (counted from the HTTP responses), and the
  vendored TF.js library beside it;
- parity: JAX vs TF SavedModel (recorded by `python -m export` in meta.json) and JAX vs TF.js (the
  stored JAX outputs of web/model/reference_outputs.npz against the page's), on each TF.js backend;
- time: median of one encode+predict+decode step (batch 1) and of a 30-step dream (predictor 30 times,
  then the 30 latents decoded; without a decoder, encode+predict and the predictor alone), per backend;
  for a planning export (web/model-steer, web/model-two-rooms) also one MPPI replanning step (encode the
  observation, then MPPI with meta.json's planner settings; the Two Rooms page's latent search is not timed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

from export import PARITY_OBSERVATIONS, REFERENCE_DOWNLOAD_MB, browser
from export.page import OUTPUT_OF, network_inputs
from jaxjepa.cli import (
    FAILED,
    UNREADABLE_JSON,
    OneLineParser,
    fail,
    interrupted,
    output_file_problem,
    plain_int,
    read_json,
    write_text,
)
from jaxjepa.evaluation.report import block_refusal_status, replace_block

REPO = Path(__file__).resolve().parent.parent
PROG = "python -m export.measure"
BEGIN, END = "<!-- export.measure:begin", "<!-- export.measure:end -->"
BACKENDS = ("webgl", "cpu")
DEFAULT_MODEL = "web/model"  # the page's own folder, as results/web.json names it (relative to the repo)
DEFAULT_REPEATS = 50
DEFAULT_OUT = str(REPO / "results" / "web.json")
TFJS = browser.WEB_DIR / "vendor" / "tfjs" / "tf.min.js"  # the TF.js the page loads


def read_export(given: str, folder: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """An export folder's meta.json and reference outputs, read before the browser starts: a damaged
    file is refused in one line, not met in the middle of the measurement."""
    remake = f"make it again: python -m export RUN --out {given}"
    if not (folder / "meta.json").is_file() or not (folder / "reference_outputs.npz").is_file():
        fail(f"{PROG}: cannot measure: {folder} is not an export folder (make it: python -m export RUN --out {given})")
    try:
        meta = read_json(folder / "meta.json")
    except UNREADABLE_JSON as err:
        fail(f"{PROG}: cannot measure: {folder / 'meta.json'} is not readable JSON ({err}); {remake}")
    if not isinstance(meta, dict) or "weights_dtype" not in meta or not meta.get("parity_jax_vs_tf_max_abs"):
        fail(f"{PROG}: cannot measure: {folder / 'meta.json'} lacks weights_dtype or the parity figures; {remake}")
    try:
        reference = load_reference(folder / "reference_outputs.npz")
    except ValueError as err:
        fail(f"{PROG}: cannot measure: {folder / 'reference_outputs.npz'} is damaged ({err}); {remake}")
    missing = [key for key in ("obs", "latent", "predicted") if key not in reference]
    if missing:
        fail(f"{PROG}: cannot measure: {folder / 'reference_outputs.npz'} lacks {', '.join(missing)}; {remake}")
    return meta, reference


def load_reference(path: Path) -> dict[str, np.ndarray]:
    """The stored JAX outputs; ValueError when the file is not an .npz archive or a member is damaged."""
    try:
        stored = np.load(path)
        if not isinstance(stored, np.lib.npyio.NpzFile):
            raise ValueError("a lone array, not an .npz archive")
        with stored:
            return dict(stored)
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(str(err)) from None


def measure_folder(chromium, url: str, mount: str, folder: Path, repeats: int, meta: dict, reference: dict) -> dict:
    fetched: dict[str, int] = {}

    def count(response):
        path = response.url.split("?", 1)[0]
        if f"/{mount}/" in path and response.ok:
            fetched[path.rsplit(f"/{mount}/", 1)[1]] = len(response.body())

    page = chromium.new_page()
    page.on("response", count)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}index.html?model={mount}&paused=1")
    browser.wait_ready(page)
    if not page.is_hidden("#error"):
        fail(f"{PROG}: the page could not load {folder}: {page.inner_text('#error')}", FAILED)
    calls = {"encode": "encoder", "predict": "predictor", "decode": "decoder"}  # window.jepa's, per network
    networks = {call: name for call, name in calls.items() if OUTPUT_OF[name] in reference}  # a decoder if any
    inputs = {call: network_inputs(name, reference) for call, name in networks.items()}
    outputs = {call: OUTPUT_OF[name] for call, name in networks.items()}
    default_backend = page.evaluate("window.jepa.backend")
    per_backend = backend_figures(page, inputs, outputs, reference, repeats)
    page.close()
    return {
        "folder": str(folder.relative_to(REPO)) if folder.is_relative_to(REPO) else str(folder),
        "weights_dtype": meta["weights_dtype"],
        "model_download_bytes": sum(fetched.values()),
        "files_fetched": len(fetched),
        "jax_vs_tf_max_abs": meta["parity_jax_vs_tf_max_abs"],
        "float16_error_max_abs": meta.get("float16_error_max_abs"),
        "reference_observations": int(len(reference["obs"])),
        "default_backend": default_backend,
        "backends": per_backend,
        "console_errors": console,
    }


def backend_figures(page, inputs: dict, outputs: dict, reference: dict, repeats: int) -> dict:
    """Per TF.js backend the page can switch to: the max abs difference of each network's output from JAX's,
    and the page's timings."""
    per_backend = {}
    for backend in BACKENDS:
        if not page.evaluate(f"tf.setBackend('{backend}')"):
            continue
        parity = {}
        for call, rows in inputs.items():
            got = np.asarray(page.evaluate(f"(rows) => window.jepa.{call}(rows)", rows.astype(np.float64).tolist()))
            parity[outputs[call]] = float(np.max(np.abs(got - reference[outputs[call]])))
        per_backend[backend] = {"jax_vs_tfjs_max_abs": parity, **page.evaluate(f"window.jepa.timings({repeats}, 30)")}
    return per_backend


def planning_lines(results: dict) -> list[str]:
    """One line per planning export and backend: what one replanning step of the page costs."""
    lines = []
    for model in results["models"]:
        for backend, figures in model["backends"].items():
            if "replan_ms" in figures:
                lines.append(
                    f"- `{model['folder']}`, {backend} backend: one replanning step (encode, then MPPI with "
                    f"{figures['samples']} sequences x {figures['horizon']} actions x {figures['iterations']} "
                    f"refinement{'' if figures['iterations'] == 1 else 's'}) takes {figures['replan_ms']:.1f} ms "
                    "(median)."
                )
    return ["", "Steer and Two Rooms modes, the planner in the page:", "", *lines] if lines else []


def measure_command(results: dict) -> str:
    """The command that measured `results`, from the folders and repeats it stored."""
    first, *others = (model["folder"] for model in results["models"])
    words = [PROG]
    if first != DEFAULT_MODEL:
        words += ["--model", first]
    if others:
        words += ["--also", *others]
    if results["repeats"] != DEFAULT_REPEATS:
        words += ["--repeats", str(results["repeats"])]
    return " ".join(words)


def readme_block(results: dict, json_path: str = "results/web.json") -> str:
    """README's browser block; `json_path`: where the numbers are, as the README links it."""
    lines = [
        f"{BEGIN} (generated by `python -m export.measure`; edits inside are overwritten) -->",
        "",
        f"Made by `{measure_command(results)}` in headless Chromium {results['chromium']} "
        f"(TF.js {results['tfjs']}, {results['cpus']} CPU cores, medians of {results['repeats']} runs; "
        f"1-minute load average {results['load_average']:.1f} when it started, so timings include whatever "
        f"else shared the cores; numbers: `{json_path}`).",
        "",
        "| model folder | weights | download (model files) | JAX vs TF max abs | TF.js backend | "
        "JAX vs TF.js max abs (latent / predicted / decoded) | encode+predict(+decode), ms | "
        "30-step dream (decoded where there is a decoder), ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in results["models"]:
        lines += model_rows(model)
    lines += [
        "",
        f"The reference ships its weights as {REFERENCE_DOWNLOAD_MB} MB of base64 JSON and runs hand-written "
        f"JavaScript; this page also loads the vendored TF.js library ({results['tfjs_bytes'] / 1e6:.2f} MB, "
        f"`{TFJS.relative_to(REPO)}`). JAX vs TF is the SavedModel check `python -m export` makes before it "
        f"writes (on {PARITY_OBSERVATIONS} observations); JAX vs TF.js compares the page's outputs with the JAX "
        "outputs stored in `reference_outputs.npz` (float32 weights), so for a float16 folder it is the error float16 "
        "costs.",
        *planning_lines(results),
        "",
        END,
    ]
    return "\n".join(lines)


def model_rows(model: dict) -> list[str]:
    """The browser table's rows of one export folder, one per TF.js backend it was measured on."""
    tf_parity = max(model["jax_vs_tf_max_abs"].values())
    rows = []
    for backend, figures in model["backends"].items():
        p = figures["jax_vs_tfjs_max_abs"]
        parity = " / ".join(f"{p[k]:.1e}" if k in p else "-" for k in ("latent", "predicted", "decoded"))
        backend_name = backend + (" (default)" if backend == model["default_backend"] else "")
        download_mb = model["model_download_bytes"] / 1e6
        rows.append(
            f"| `{model['folder']}` | {model['weights_dtype']} | {download_mb:.3f} MB "
            f"| {tf_parity:.1e} | {backend_name} "
            f"| {parity} "
            f"| {figures['step_ms']:.2f} | {figures['dream_ms']:.2f} |"
        )
    return rows


def update_readme(block: str, readme: Path) -> int | None:
    """README's block rewritten (None), or one line on stderr saying why not and the exit status that refusal
    earns (report.block_refusal_status): no markers, not text, not writable. As eval.py does, a measurement whose
    JSON is written exits 0 all the same; --report-only, whose one job the block is, exits with that status."""
    try:
        replace_block(readme, BEGIN, END, block)
    except (OSError, ValueError) as err:  # ValueError: no markers (MissingMarkers), or not UTF-8 text
        print(f"{PROG}: {readme} not updated: {err}", file=sys.stderr)
        return block_refusal_status(err, readme)
    return None


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(
        prog=PROG, description="Measure the browser demo (size, parity, speed) in headless Chromium."
    )
    parser.add_argument("--model", default=str(REPO / DEFAULT_MODEL), help=f"export folder (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--also", nargs="*", default=[], metavar="DIR", help="further export folders, e.g. a float16 one"
    )
    parser.add_argument(
        "--repeats", type=plain_int, default=DEFAULT_REPEATS, help="timed runs per figure (median reported)"
    )
    parser.add_argument("--out", default=DEFAULT_OUT, help="JSON output (default results/web.json)")
    parser.add_argument(
        "--readme",
        default=None,
        help="README whose browser block is rewritten (default: the repo's README.md, where --out is the default)",
    )
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite a README's block")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: rewrite the README's block from the JSON already at --out",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        fail(f"{PROG}: --repeats must be >= 1")
    if args.report_only and args.no_readme:
        fail(f"{PROG}: --report-only rewrites a README's block; --no-readme leaves nothing to do")
    given = [name for name in ("model", "also", "repeats") if getattr(args, name) != parser.get_default(name)]
    measuring = [f"--{name}" for name in given]
    if args.report_only and measuring:
        fail(f"{PROG}: --report-only measures nothing, so {', '.join(measuring)} would be ignored; drop them")
    return args


def readme_of(args: argparse.Namespace) -> Path | None:
    if args.no_readme:
        return None
    if args.readme:
        return Path(args.readme)
    # the repo's README shows the repo's figures: a measurement written elsewhere leaves it alone
    return REPO / "README.md" if args.out == DEFAULT_OUT else None


def measure(args: argparse.Namespace) -> dict:
    """Every figure of results/web.json, measured in one Chromium."""
    given_folders = [args.model, *args.also]
    folders = [Path(p).resolve() for p in given_folders]
    exports = [read_export(given, folder) for given, folder in zip(given_folders, folders, strict=True)]
    out = Path(args.out)
    problem = output_file_problem(out)
    if problem:
        fail(f"{PROG}: cannot write --out {out}: {problem}")
    reason = browser.missing_browser_reason()
    if reason:
        fail(f"{PROG}: cannot measure: {reason}")
    tfjs = tfjs_version()  # before the browser starts: a refusal then costs no measurement
    load_average = os.getloadavg()[0]
    mounts = {f"measured{i}": folder for i, folder in enumerate(folders)}
    with browser.serve(mounts=mounts) as url, browser.chromium() as chromium:
        models = [
            measure_folder(chromium, url, mount, folder, args.repeats, *export)
            for (mount, folder), export in zip(mounts.items(), exports, strict=True)
        ]
        version = chromium.version
    return {
        "chromium": version,
        "tfjs": tfjs,
        "cpus": _cpu_count(),
        "machine": platform.machine(),
        "repeats": args.repeats,
        "load_average": load_average,
        "tfjs_bytes": TFJS.stat().st_size,
        "reference_download_mb": REFERENCE_DOWNLOAD_MB,
        "models": models,
    }


def tfjs_version() -> str:
    """The version of the TF.js the page loads, as the library states it (its `tf.version.tfjs`)."""
    found = re.findall(r'\btfjs:"([^"]+)"', TFJS.read_text(encoding="utf-8"))
    if len(set(found)) != 1:
        fail(f"{PROG}: cannot tell the TF.js version from {TFJS} (its version object was not found); vendor it again")
    return found[0]


def stored_block(out: Path, json_path: str) -> str:
    """The README block of the figures stored at `out`, or one line saying why there is none."""
    try:
        return readme_block(read_json(out), json_path)
    except OSError as err:
        fail(f"{PROG}: --report-only: cannot read {out} ({err.strerror or err}); measure first: {PROG}")
    except (ValueError, RecursionError, KeyError, TypeError, AttributeError) as err:  # not JSON, or not its figures
        fail(f"{PROG}: --report-only: {out} does not hold this command's figures ({err!r}); measure again: {PROG}")


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    readme = readme_of(args)
    out = Path(args.out)
    json_path = os.path.relpath(out.absolute(), (readme or REPO / "README.md").absolute().parent)
    if args.report_only:
        if readme is None:
            fail(f"{PROG}: --report-only with another --out rewrites no README unless --readme names one")
        status = update_readme(stored_block(out, json_path), readme)
        if status is not None:
            raise SystemExit(status)
        print(f"rewrote {readme}'s browser block from {out}")
        return
    try:
        results = measure(args)  # minutes in a browser; what it measured is written only at the end
    except KeyboardInterrupt:
        interrupted(f"{PROG}: interrupted; nothing was written")
    block = readme_block(results, json_path)
    try:
        write_text(out, json.dumps(results, indent=2) + "\n")
    except OSError as err:
        print(block)  # the figures are on screen even though the file could not be written
        fail(f"{PROG}: cannot write {out}: {err}", FAILED)
    rewrote = readme is not None and update_readme(block, readme) is None
    print(block)
    print(f"wrote {out}" + (f" and {readme}'s browser block" if rewrote else ""))


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    main(sys.argv[1:])

"""Evaluate trained runs, as mean +- std over seeds: results/metrics.json, figures, RESULTS.md.

`python eval.py --seeds 0-7` trains what is missing and evaluates all; `python eval.py RUN_DIR
[RUN_DIR ...]` evaluates saved runs of one config.

Every figure is measured per seed on fresh trajectories from the seed's evaluation key (which
training never uses) and reported as mean +- std over seeds. The seeds' parameters are stacked into
one pytree with a leading seeds axis and every evaluation is `jit(vmap(...))` over it: no Python loop
over seeds, trajectories or steps on the hot path (Python loops over phases, variants, and, for the
figures and the report, seeds). With `--seeds` the collapse ablation runs too: the four variants of
config.VARIANTS trained on the same seeds, one vmapped program per variant, kept in runs/NAME/seed{i}.
"""
from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np

# Which anomalies to score, as (name in metrics.json, kind, fixed frame or None for random frames,
# description). More kinds are added here once the world knows them.
ANOMALY_CASES = [
    ("teleport", "teleport", None, "teleport at a random frame"),
    ("teleport@24", "teleport", 24, "teleport at frame 24 on every trajectory (the reference's protocol)"),
]


def parse(argv: list[str] | None):
    from jaxjepa import cli

    parser = cli.OneLineParser(prog="eval.py", description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="finished runs of one config to evaluate")
    cli.add_seed_flags(parser)
    parser.add_argument("--runs", default="runs", help="where --seeds finds and saves runs (default runs/)")
    parser.add_argument("--out", default="results", help="directory for metrics.json and figures (default results/)")
    parser.add_argument("--report", default="RESULTS.md", help="the markdown report to write (default RESULTS.md)")
    parser.add_argument("--readme", default="README.md",
                        help="README whose generated Results block (between eval.py's markers) is rewritten; "
                             "one without the markers is left alone (default README.md)")
    parser.add_argument("--no-ablation", action="store_true", help="skip the collapse ablation with --seeds")
    parser.add_argument("--no-std", action="store_true", help="allow a single seed: report values without a std")
    beyond = parser.add_argument_group("beyond the reference (issue 5): each writes its own JSON under --out, "
                                       "then RESULTS.md is regenerated from every JSON that exists")
    beyond.add_argument("--recipes", action="store_true",
                        help="horizon (300-step rollouts) and probe of every recipe tried: results/recipes.json")
    beyond.add_argument("--anomalies", action="store_true",
                        help="teleport, flip, speed change, freeze, jump; default and the best recipe (beyond.BEST_RECIPE): results/anomalies.json")
    beyond.add_argument("--worlds", action="store_true",
                        help="harder worlds (32x32, 64x64, two logos, random speeds, noise), default and "
                             "the best recipe: results/worlds.json")
    cli.add_config_flags(parser)
    args = parser.parse_args(argv)
    if (args.recipes or args.anomalies or args.worlds) and (args.run_dirs or _config_flags_given(args)):
        cli.fail("eval.py: --recipes/--anomalies/--worlds train and evaluate their own named configs; "
                 "give them --seeds only, no RUN_DIRs or config flags")
    if args.run_dirs and (args.seeds or args.seed):
        cli.fail("eval.py: give RUN_DIRs or --seeds/--seed, not both")
    if not args.run_dirs and not (args.seeds or args.seed):
        cli.fail("eval.py: nothing to evaluate: give RUN_DIRs, or --seeds 0-7 to train what is missing and evaluate")
    if args.seed and len(args.seed) != 1:
        cli.fail("eval.py: --seed takes one seed; use --seeds for several")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    from jaxjepa import cli

    started = time.perf_counter()
    n_runs = len(args.run_dirs) or len(args.seeds or args.seed)
    if args.recipes or args.anomalies or args.worlds:
        if n_runs < 2 and not args.no_std:
            cli.fail(f"eval.py: a std over seeds needs at least 2 seeds; got {n_runs} (or pass --no-std)")
        return run_beyond(args, argv)
    if n_runs < 2 and not args.no_std:
        cli.fail(f"eval.py: every figure is a mean +- std over seeds, and a std needs at least 2 seeds; got {n_runs}. "
                 "Give more seeds (--seeds 0-7), or pass --no-std to report one seed without a std")

    from tqdm import tqdm
    from jaxjepa import checkpoint, runner
    from jaxjepa.evaluation import ablation

    try:   # where the outputs go must be writable before anything is trained
        Path(args.out).mkdir(parents=True, exist_ok=True)
        if not Path(args.report).absolute().parent.is_dir():
            raise OSError(f"no directory for the report {args.report}")
    except OSError as err:
        cli.fail(f"eval.py: cannot write the outputs: {err}", 1)
    runner.enable_compilation_cache()
    config = cli.config_from(args)
    plan = build_plan(args, config)   # {variant: (config, [(seed, run_dir)])}; default first
    try:   # refuse a bad run directory before any time is spent (and before the progress bar)
        found = load_existing(plan)
    except checkpoint.RunError as err:
        cli.fail(f"eval.py: {err}", 1)
    phases = ["train missing runs", "probes", "forecast", "anomaly"] + (["ablation"] if len(plan) > 1 else []) + ["figures + report"]
    with tqdm(total=len(phases), desc="eval", unit="phase") as bar:
        bar.set_postfix_str(phases[0])
        loaded, train_s = train_missing(plan, found, bar)
        main_config, main_runs = loaded["default"]
        seeds = [seed for seed, _, _ in main_runs]
        evaluated = evaluate(main_config, main_runs, bar)
        if len(plan) > 1:
            bar.set_postfix_str("ablation")
            evaluated["ablation"] = evaluate_ablation(loaded, ablation)
            bar.update(1)
        bar.set_postfix_str("figures + report")
        metrics = assemble(args, argv, main_config, seeds, main_runs, evaluated)
        metrics["timing_s"] = {"train": train_s, "evaluate": time.perf_counter() - started - train_s,
                               "total": time.perf_counter() - started}
        write_outputs(metrics, evaluated, args)
        bar.update(1)
    print_summary(metrics, args)
    return 0


# ---------- which runs ----------

def build_plan(args, config) -> dict:
    """{variant name: (config, [(seed, run_dir)])}. RUN_DIR mode: the given runs as 'default', their
    config taken from the first one (or from the flags); --seeds mode: the chosen config's runs, plus
    the ablation's variants when the config is the (possibly resized) reference recipe."""
    from jaxjepa import checkpoint, cli
    from jaxjepa.evaluation import ablation

    if args.run_dirs:
        expected = config if _config_flags_given(args) else None
        if expected is None:
            try:
                expected = checkpoint.load_config(args.run_dirs[0])
            except checkpoint.RunError as err:
                cli.fail(f"eval.py: {err}", 1)
        return {"default": (expected, [(None, Path(d)) for d in args.run_dirs])}
    seeds = args.seeds or args.seed
    root = Path(args.runs)
    main_dirs = [(s, ablation.run_dir(root, args.config, s)) for s in seeds]
    plan = {"default": (config, main_dirs)}
    if args.config == "default" and not args.no_ablation:
        for name in ablation.ABLATION_VARIANTS[1:]:
            plan[name] = (ablation.variant_config(config, name), [(s, ablation.run_dir(root, name, s)) for s in seeds])
    return plan


def _config_flags_given(args) -> bool:
    return args.config != "default" or any(v is not None for k, v in vars(args).items() if k.startswith("cfg_"))


def load_existing(plan: dict) -> dict:
    """{variant: {run_dir: (seed, (params, metrics))}} of every finished run in the plan. RunError
    (one line, naming the directory) for one that is missing in RUN_DIR mode, half-written, corrupt
    or of another config; a --seeds run directory that does not exist yet is simply not found."""
    from jaxjepa import checkpoint

    found = {}
    for name, (config, runs) in plan.items():
        found[name] = {}
        for seed, run_dir in runs:
            if seed is not None and not run_dir.exists():
                continue                                   # --seeds: trained below
            _, params, run_metrics = checkpoint.load_run_files(run_dir, expected=config)
            found[name][run_dir] = (seed if seed is not None else _seed_of(run_dir), (params, run_metrics))
    return found


def train_missing(plan: dict, found: dict, bar) -> tuple[dict, float]:
    """Train the seeds of each variant that have no run yet, in one vmapped program per variant, save
    them as train.py does, and return {variant: (config, [(seed, run_dir, (params, metrics))])}."""
    from jaxjepa import checkpoint

    loaded, train_s = {}, 0.0
    for name, (config, runs) in plan.items():
        missing = [(seed, d) for seed, d in runs if d not in found[name]]
        if missing:
            bar.set_postfix_str(f"training {len(missing)} seed(s) of {name}")
            start = time.perf_counter()
            train_and_save(config, missing)
            train_s += time.perf_counter() - start
            for seed, run_dir in missing:
                _, params, run_metrics = checkpoint.load_run_files(run_dir, expected=config)
                found[name][run_dir] = (seed, (params, run_metrics))
        loaded[name] = (config, [(found[name][d][0], d, found[name][d][1]) for _, d in runs])
    bar.update(1)
    return loaded, train_s


def _seed_of(run_dir: Path) -> int:
    """The seed of a saved run: train.py names its directories seed{i}."""
    from jaxjepa import checkpoint

    name = run_dir.absolute().name
    if name.startswith("seed") and name[4:].isdigit():
        return int(name[4:])
    raise checkpoint.RunError(f"{run_dir}: cannot tell its seed (train.py names run directories seed<N>)")


def train_and_save(config, missing: list) -> None:
    """One vmapped program for the missing seeds; saved in train.py's layout (checkpoint, config.json,
    metrics.json with 'final' and 'curves'). A seed whose loss went NaN/inf is a result here, not an
    error: it is saved too, and its figures say so."""
    import jax
    from jaxjepa import checkpoint, runner

    import train as train_script   # train.py beside this file: the same 'final' figures it writes

    seeds = [s for s, _ in missing]
    output = runner.train_seeds(config, seeds)
    per_seed = train_script.jax_to_numpy(output)
    for i, (seed, run_dir) in enumerate(missing):
        seed_metrics = {k: v[i] for k, v in per_seed.items()}
        params = jax.tree_util.tree_map(lambda x: x[i], output.result.params)
        final = train_script.final_figures(seed_metrics, output, len(seeds))
        checkpoint.save_run(run_dir, config, params, {"final": final, "curves": seed_metrics})


# ---------- evaluation (vmapped over seeds) ----------

def evaluate(config, runs: list, bar) -> dict:
    """Every headline evaluation of one config's runs, each one jit(vmap) over the stacked seeds."""
    import jax
    from jaxjepa.evaluation import anomaly, forecast, probes
    from jaxjepa.evaluation.settings import EvalSettings, stack_trees, stacked_seed_keys

    settings = EvalSettings()
    seeds = [seed for seed, _, _ in runs]
    params = stack_trees([p for _, _, (p, _) in runs])
    train_keys, eval_keys = stacked_seed_keys(seeds)
    host = jax.device_get

    bar.set_postfix_str("probes")
    linear = host(jax.jit(jax.vmap(lambda p, k: probes.linear_probes(p, k, config, settings.examples)))(params, eval_keys))
    published = host(jax.jit(jax.vmap(lambda p, tk, ek: probes.published_probe(p, tk, ek, config, settings)))(
        params, train_keys, eval_keys))
    bar.update(1)
    bar.set_postfix_str("forecast")
    rollout = host(jax.jit(jax.vmap(lambda p, k, w: forecast.forecast(p, k, w, config, settings)))(
        params, eval_keys, linear["position_probe"]))
    bar.update(1)
    bar.set_postfix_str("anomaly")
    anomalies = {}
    for name, kind, frame, description in ANOMALY_CASES:
        program = jax.jit(jax.vmap(lambda p, k: anomaly.anomaly(p, k, config, settings, kind=kind, frame=frame)))
        anomalies[name] = {"description": description, **host(program(params, eval_keys))}
    bar.update(1)
    return {"settings": settings, "linear": linear, "published": published, "forecast": rollout,
            "anomaly": anomalies}


def evaluate_ablation(loaded: dict, ablation) -> dict:
    import jax
    from jaxjepa.evaluation.settings import stack_trees, stacked_seed_keys

    out = {}
    for name, (config, runs) in loaded.items():
        params = stack_trees([p for _, _, (p, _) in runs])
        _, eval_keys = stacked_seed_keys([seed for seed, _, _ in runs])
        figures = jax.device_get(jax.jit(jax.vmap(lambda p, k: ablation.collapse_figures(p, k, config)))(params, eval_keys))
        curves = np.stack([np.asarray(m["curves"]["emb_std"], dtype=float) for _, _, (_, m) in runs])
        out[name] = {"figures": figures, "emb_std_curves": curves}
    return out


# ---------- metrics.json ----------

def assemble(args, argv, config, seeds, runs, ev) -> dict:
    from jaxjepa import cli
    from jaxjepa.evaluation import ablation, forecast
    from jaxjepa.evaluation.settings import summarise

    need_std = not args.no_std
    s = lambda values: summarise(values, need_std=need_std)  # noqa: E731
    lin, pub, fc = ev["linear"], ev["published"], ev["forecast"]
    representation = {
        "position_rmse_px": s(lin["position_rmse"]),
        "position_rmse_y_px": s(lin["position_rmse_yx"][:, 0]), "position_rmse_x_px": s(lin["position_rmse_yx"][:, 1]),
        "velocity_rmse": s(lin["velocity_rmse"]),
        "velocity_rmse_y": s(lin["velocity_rmse_yx"][:, 0]), "velocity_rmse_x": s(lin["velocity_rmse_yx"][:, 1]),
        "velocity_rmse_of_mean": s(lin["velocity_rmse_of_mean"]),
        "embedding_std": s(lin["embedding_std"]),
        "published_adam_rmse_px": s(pub["adam_rmse"]),
        "published_adam_rmse_y_px": s(pub["adam_rmse_yx"][:, 0]), "published_adam_rmse_x_px": s(pub["adam_rmse_yx"][:, 1]),
        "published_lstsq_rmse_px": s(pub["lstsq_rmse"]),
    }
    curves = fc["curves"]
    reported = [k for k in forecast.REPORTED_STEPS if k <= curves["position_error"].shape[1]]
    forecast_metrics = {
        **{k: s(fc[k]) for k in ("probe_floor_mean", "horizon_mean", "horizon_median", "never_left_fraction", "horizon_of_mean_curve",
                                 "half_persistence_steps_mean", "half_persistence_steps_of_mean_curve")},
        "position_error_at": {str(k): s(curves["position_error"][:, k - 1]) for k in reported},
        "decoded_mse_at": {str(k): s(curves["decoded_mse"][:, k - 1]) for k in reported},
        "persistence_mse_at": {str(k): s(curves["persistence_mse"][:, k - 1]) for k in reported},
        "persistence_position_error_at": {str(k): s(curves["persistence_position_error"][:, k - 1]) for k in reported},
        "curves_per_seed": {k: np.round(v, 6).tolist() for k, v in curves.items()},
    }
    anomaly_metrics = {}
    for name, case in ev["anomaly"].items():
        spaces = {space: {k: s(v) for k, v in case[space].items()} for space in ("latent", "pixel", "latent_online_context")}
        anomaly_metrics[name] = {"description": case["description"], **spaces,
                                 "visible_count": s(case["visible_count"]), "invisible_count": s(case["invisible_count"])}
    metrics = {
        "command": "python eval.py " + " ".join(shlex.quote(a) for a in argv),
        "config_name": args.config, "overrides": cli.overrides_of(config), "config": config.to_dict(),
        "settings": ev["settings"].to_dict(), "seeds": seeds, "runs": [str(d) for _, d, _ in runs],
        "representation": representation, "forecast": forecast_metrics, "anomaly": anomaly_metrics,
    }
    if "ablation" in ev:
        metrics["ablation"] = {}
        for name, v in ev["ablation"].items():
            steps, thinned = ablation.thin_curves(v["emb_std_curves"])
            metrics["ablation"][name] = {
                "description": ablation.DESCRIPTIONS[name],
                "final_train_emb_std": s(v["emb_std_curves"][:, -1]),
                "embedding_std": s(v["figures"]["embedding_std"]),
                "probe_rmse_px": s(v["figures"]["probe_rmse"]),
                "probe_rmse_of_mean_px": s(v["figures"]["probe_rmse_of_mean"]),
                "curve": {"steps": steps.tolist(), "per_seed": np.round(thinned, 5).tolist()},
            }
    return metrics


# ---------- outputs ----------

def write_outputs(metrics: dict, ev: dict, args) -> None:
    from jaxjepa.evaluation import ablation, anomaly, figures, report

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report_dir = Path(args.report).absolute().parent
    rel = lambda p: os.path.relpath(Path(p).absolute(), report_dir)  # noqa: E731  figure paths as RESULTS.md sees them
    fc, lin, settings = ev["forecast"], ev["linear"], ev["settings"]
    made = {}
    errors0 = fc["example_position_error"][0, 0]
    made["dream_gif"] = figures.dream_gif(fc["example_true"][0, 0], fc["example_decoded"][0, 0], errors0, out / "dream.gif")
    made["dream_filmstrip"] = figures.dream_filmstrip(fc["example_true"][0, 0], fc["example_decoded"][0, 0], errors0,
                                                      out / "dream_filmstrip.png")
    reference_curve = {k: float(np.mean(v)) for k, v in report.REFERENCE["measured"]["position_error_at_px"].items()}
    made["horizon_curve"] = figures.horizon_curve(fc["curves"]["position_error"], fc["curves"]["decoded_mse"],
                                                  fc["curves"]["persistence_mse"], settings.horizon_px,
                                                  out / "horizon.png", reference=reference_curve,
                                                  probe_floor=fc["curves"]["probe_floor"],
                                                  persistence_error=fc["curves"]["persistence_position_error"])
    example = ev["anomaly"]["teleport"]["example"]
    shown = int(np.argmax(example["visible"][0])) if example["visible"][0].any() else 0
    made["surprise_trace"] = figures.surprise_trace(example["latent"][0, shown], example["pixel"][0, shown],
                                                    int(example["frame"][0, shown]), float(example["latent_threshold"][0]),
                                                    float(example["pixel_threshold"][0]), anomaly.FIRST_SCORED_FRAME,
                                                    out / "surprise.png")
    true, predicted = lin["example_true"][0].reshape(-1, 2), lin["example_predicted"][0].reshape(-1, 2)
    made["probe_scatter"] = figures.probe_scatter(true, predicted, lin["position_rmse_yx"],
                                                  out / "probe_scatter.png", metrics["config"]["frame_size"])
    if "ablation" in metrics:
        curves = {name: (np.asarray(v["curve"]["steps"]), np.asarray(v["curve"]["per_seed"]))
                  for name, v in metrics["ablation"].items()}
        made["collapse_curves"] = figures.collapse_curves(curves, out / "collapse.png", ablation.DESCRIPTIONS)
    metrics["figures"] = {name: rel(path) for name, path in made.items()}
    metrics["metrics_json"] = rel(out / "metrics.json")
    report.write_metrics(metrics, out / "metrics.json")
    from jaxjepa.evaluation import beyond
    report.write_report(metrics, args.report, extras=beyond.load_results(out))
    readme_dir = Path(args.readme).absolute().parent
    relative_to_readme = {name: os.path.relpath(Path(path).absolute(), readme_dir) for name, path in made.items()}
    report.update_readme(args.readme, report.readme_block(metrics, relative_to_readme,
                                                          os.path.relpath(Path(args.report).absolute(), readme_dir),
                                                          os.path.relpath((out / "metrics.json").absolute(), readme_dir)))


def print_summary(m: dict, args) -> None:
    from jaxjepa.evaluation.report import fmt

    r, f = m["representation"], m["forecast"]
    t = m["anomaly"]["teleport"]
    print(f"jaxjepa eval: {len(m['seeds'])} seed(s) {m['seeds']}, {m['timing_s']['total']:.0f} s "
          f"(training {m['timing_s']['train']:.0f} s)")
    print(f"  probe RMSE        {fmt(r['position_rmse_px'])} px (least squares); published protocol {fmt(r['published_adam_rmse_px'])} px")
    print(f"  velocity probe    {fmt(r['velocity_rmse'])} px/frame")
    print(f"  horizon           {fmt(f['horizon_mean'], 2)} steps per trajectory; mean curve {fmt(f['horizon_of_mean_curve'], 2)}")
    print(f"  teleport ROC-AUC  latent {fmt(t['latent']['roc_auc'], 4)}, pixel {fmt(t['pixel']['roc_auc'], 4)}; "
          f"hit rate latent {fmt(t['latent']['hit_rate'])}")
    for name, v in m.get("ablation", {}).items():
        print(f"  ablation {name:14s} emb std {fmt(v['final_train_emb_std'])}, probe {fmt(v['probe_rmse_px'])} px")
    print(f"  wrote {Path(args.out) / 'metrics.json'}, {args.report} and {len(m['figures'])} figures under {args.out}/")


# ---------- beyond the reference (issue 5): recipes, subtle anomalies, harder worlds ----------

def run_beyond(args, argv: list[str]) -> int:
    """Train the missing runs of each part's named configs (one vmapped program per config, saved in
    runs/NAME/seed{i} like train.py), evaluate them per seed, write results/PART.json and figures, and
    regenerate RESULTS.md from results/metrics.json (if any) and every PART.json that exists."""
    import jax
    from tqdm import tqdm
    from jaxjepa import checkpoint, cli, runner
    from jaxjepa.evaluation import ablation, beyond, figures
    from jaxjepa.evaluation.settings import EvalSettings

    runner.enable_compilation_cache()
    out, seeds = Path(args.out), args.seeds or args.seed
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        cli.fail(f"eval.py: cannot write the outputs: {err}", 1)
    parts = [p for p in ("recipes", "anomalies", "worlds") if getattr(args, p)]
    for part in parts:
        started = time.perf_counter()
        configs = beyond_configs(part, beyond)
        plan = {name: (config, [(s, ablation.run_dir(args.runs, name, s)) for s in seeds]) for name, config in configs.items()}
        try:
            found = load_existing(plan)
        except checkpoint.RunError as err:
            cli.fail(f"eval.py: {err}", 1)
        with tqdm(total=2, desc=f"eval --{part}", unit="phase") as bar:
            loaded, train_s = train_missing(plan, found, bar)
            bar.set_postfix_str("evaluating")
            payload = evaluate_beyond(part, loaded, beyond, jax, EvalSettings, need_std=not args.no_std)
            bar.update(1)
        payload.update({"command": "python eval.py " + " ".join(shlex.quote(a) for a in argv), "seeds": seeds,
                        "timing_s": {"train": train_s, "total": time.perf_counter() - started}})
        payload["figures"] = beyond_figures(part, payload, out, Path(args.report).absolute().parent, figures)
        path = beyond.write_result(out, part, payload)
        print(f"eval.py --{part}: {len(configs)} config(s) x {len(seeds)} seed(s) in {payload['timing_s']['total']:.0f} s "
              f"(training {train_s:.0f} s); wrote {path}")
    regenerate_report(args)
    return 0


def beyond_configs(part: str, beyond) -> dict:
    from jaxjepa.config import get_config

    if part == "recipes":
        return {name: get_config(name) for name in beyond.RECIPES}
    if part == "anomalies":
        return {name: get_config(name) for name in beyond.ANOMALY_RECIPES}
    return {beyond.combined_name(w, r): beyond.combined_config(w, r) for w in beyond.WORLDS for r in ("default", beyond.BEST_RECIPE)
            if not (r == beyond.BEST_RECIPE and w in beyond.BEST_RECIPE_SKIPPED_FOR)}


def evaluate_beyond(part: str, loaded: dict, beyond, jax, EvalSettings, need_std: bool) -> dict:
    """Per config: jit(vmap) of the part's per-seed figures over the stacked seeds (worlds: lax.map,
    so a 64x64 world's rollouts of one seed at a time fit in memory), summarised over seeds."""
    from jaxjepa.evaluation.settings import stack_trees, stacked_seed_keys, summarise

    s = lambda values: summarise(values, need_std=need_std)  # noqa: E731
    curves = lambda values: np.round(np.asarray(values, dtype=float), 5).tolist()  # noqa: E731
    result = {"configs": {}}
    for name, (config, runs) in loaded.items():
        params = stack_trees([p for _, _, (p, _) in runs])
        _, eval_keys = stacked_seed_keys([seed for seed, _, _ in runs])
        entry = {"overrides": _overrides(config)}
        if part == "recipes":
            settings = EvalSettings(forecast_steps=beyond.HORIZON_STEPS)
            fig = jax.device_get(jax.jit(jax.vmap(lambda p, k: beyond.horizon_figures(p, k, config, settings)))(params, eval_keys))
            entry.update({k: s(v) for k, v in fig.items() if not k.endswith("_curve")})
            entry["curves_per_seed"] = {k: curves(v) for k, v in fig.items() if k.endswith("_curve")}
            spectrum = beyond.predictor_spectrum(params, config)    # affine predictors only: is it a rotation?
            if spectrum:
                entry["predictor_spectrum"] = spectrum
        elif part == "anomalies":
            settings = EvalSettings()
            for kind in beyond.ANOMALY_KINDS:
                fig = jax.device_get(jax.jit(jax.vmap(lambda p, k: beyond.anomaly_figures(p, k, config, settings, kind)))(
                    params, eval_keys))
                entry[kind] = {**{space: {k: s(v) for k, v in fig[space].items()} for space in ("latent", "pixel")},
                               "displacement_px": s(fig["displacement_px"]), "count": s(fig["visible_count"]),
                               "roc_curve_per_seed": {sp: curves(v) for sp, v in fig["roc_curve"].items()}}
            settings_used = settings
        else:
            settings = EvalSettings(forecast_steps=100, forecast_trajectories=128, anomaly_trajectories=128)
            program = jax.jit(lambda ps, ks: jax.lax.map(lambda a: beyond.world_figures(a[0], a[1], config, settings), (ps, ks)))
            fig = jax.device_get(program(params, eval_keys))
            entry.update({k: s(v) for k, v in fig.items()})
        entry["settings"] = settings.to_dict()
        result["configs"][name] = entry
    if part == "anomalies":
        from jaxjepa.evaluation.anomaly import ROC_FALSE_POSITIVE_RATES
        result["roc_false_positive_rates"] = list(ROC_FALSE_POSITIVE_RATES)
        result["anomaly_settings"] = settings_used.to_dict()
    return result


def _overrides(config) -> dict:
    from jaxjepa import cli

    return {k: list(v) if isinstance(v, tuple) else v for k, v in cli.overrides_of(config).items()}


def beyond_figures(part: str, payload: dict, out: Path, report_dir: Path, figures) -> dict:
    rel = lambda p: os.path.relpath(Path(p).absolute(), report_dir)  # noqa: E731
    made = {}
    if part == "recipes":
        curves = {name: np.asarray(v["curves_per_seed"]["error_curve"]) for name, v in payload["configs"].items()}
        floors = {name: np.asarray(v["curves_per_seed"]["floor_curve"]) for name, v in payload["configs"].items()}
        made["horizon_recipes"] = figures.recipe_horizons(curves, floors, out / "horizon_recipes.png")
        for name, v in payload["configs"].items():
            if "predictor_spectrum" in v:
                made[f"spectrum_{name}"] = figures.predictor_spectrum(
                    np.asarray(v["predictor_spectrum"]["eigenvalues_per_seed"]),
                    v["predictor_spectrum"]["fundamental_rad_per_frame"][0], out / f"spectrum_{name}.png", title=name)
    if part == "anomalies":
        fpr = np.asarray(payload["roc_false_positive_rates"])
        for name, entry in payload["configs"].items():
            tpr = {kind: {sp: np.asarray(entry[kind]["roc_curve_per_seed"][sp]) for sp in ("latent", "pixel")}
                   for kind in entry if isinstance(entry[kind], dict) and "roc_curve_per_seed" in entry[kind]}
            made[f"roc_{name}"] = figures.roc_curves(fpr, tpr, out / f"roc_{name}.png", title=name)
    return {name: rel(path) for name, path in made.items()}


def regenerate_report(args) -> None:
    """RESULTS.md from results/metrics.json (the headline evaluation, if it was run) and every extra JSON."""
    import json
    from jaxjepa.evaluation import beyond, report

    main_path = Path(args.out) / "metrics.json"
    metrics = json.loads(main_path.read_text()) if main_path.is_file() else None
    report.write_report(metrics, args.report, extras=beyond.load_results(args.out))
    print(f"  regenerated {args.report} from {main_path if metrics else '(no headline metrics yet)'} and "
          f"{', '.join(beyond.load_results(args.out)) or 'no extra results'}")


if __name__ == "__main__":
    sys.exit(main())

"""Train DVD-JEPA in JAX: `python train.py --seed 0`, or `--seeds 0-7` for many seeds in one program.

Writes one run directory per seed (checkpoint, config.json, metrics.json) and, for several seeds, a
summary.json with mean +- std. A finished run is never replaced unless --force is given.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    from jaxjepa import cli, distributed

    parser = cli.OneLineParser(prog="train.py", description=__doc__.splitlines()[0])
    cli.add_seed_flags(parser)
    parser.add_argument("--out", default="runs", help="root directory of the runs (default runs/)")
    parser.add_argument("--force", action="store_true", help="replace finished runs")
    cli.add_config_flags(parser)
    distributed.add_flags(parser)
    args = parser.parse_args(argv)
    seeds, config = cli.seeds_from(args), cli.config_from(args)
    try:
        cluster = distributed.cluster_from(args)
    except ValueError as err:
        cli.fail(f"train.py: {err}")
    out = Path(args.out) if args.config == "default" or args.out != "runs" else Path("runs") / args.config
    run_dirs = [out / f"seed{s}" for s in seeds]

    from tqdm import tqdm
    from jaxjepa import checkpoint, runner, trainer

    for run_dir in run_dirs:  # refuse before spending any time training
        try:
            checkpoint.check_writable(run_dir, args.force)
        except checkpoint.RunError as err:
            cli.fail(f"train.py: {err}", 1)

    if cluster:
        distributed.initialize(cluster)
    cache = runner.enable_compilation_cache()
    with tqdm(total=3, desc="train", unit="phase", leave=False) as bar:
        bar.set_postfix_str(f"compiling + training {len(seeds)} seed(s)")
        output = runner.train_seeds(config, seeds)
        bar.update(2)
        bar.set_postfix_str("saving")
        metrics = jax_to_numpy(output)
        bad = trainer.first_nonfinite_step(output.result.metrics)
        saved, failed = [], []
        for i, (seed, run_dir) in enumerate(zip(seeds, run_dirs)):
            seed_metrics = {k: v[i] for k, v in metrics.items()}
            if not np.isfinite(seed_metrics["loss"]).all():
                failed.append(seed)
                continue
            params = runner.seed_params(output, i)   # None: another process trained and saves this seed
            summary = final_figures(seed_metrics, output, len(seeds))
            if params is not None:
                checkpoint.save_run(run_dir, config, params, {"final": summary, "curves": seed_metrics},
                                    force=args.force)
            saved.append((seed, run_dir, summary))
        bar.update(1)

    distributed.wait_for_all("runs saved")   # every process's runs are on disk before process 0 reports them
    if distributed.is_main_process():
        print_summary(config, seeds, saved, output, cache)
    if len(saved) > 1 and distributed.is_main_process():
        write_seed_summary(out / "summary.json", config, saved)
    if failed:
        cli.fail(f"train.py: loss became NaN/inf at step {bad} for seed(s) {failed}; nothing saved for them", 1)
    return 0


def jax_to_numpy(output) -> dict:
    """Per-seed curves and probe figures as NumPy arrays, [n_seeds, ...]."""
    import jax
    curves = jax.device_get(output.result.metrics)
    return {**{k: np.asarray(v) for k, v in curves.items()},
            **{k: np.asarray(v) for k, v in jax.device_get(output.probe).items()}}


def final_figures(m: dict, output, n_seeds: int) -> dict:
    return {
        "loss": float(m["loss"][-1]), "pred_loss": float(m["pred_loss"][-1]), "var_loss": float(m["var_loss"][-1]),
        "emb_std": float(m["emb_std"][-1]), "decoder_loss": float(m["decoder_loss"][-1]) if m["decoder_loss"].size else None,
        "probe_rmse_px": float(m["probe_rmse"]), "probe_rmse_yx_px": [float(v) for v in m["probe_rmse_yx"]],
        "compile_s": output.compile_s, "run_s": output.run_s, "seeds_in_program": n_seeds,
    }


def mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f} +- {values.std(ddof=1):.3f}" if values.size > 1 else f"{values[0]:.3f}"


def print_summary(config, seeds, saved, output, cache) -> None:
    from jaxjepa import cli
    changed = cli.overrides_of(config)
    print(f"jaxjepa: {len(seeds)} seed(s) {seeds if len(seeds) <= 8 else f'{seeds[0]}..{seeds[-1]}'}, "
          f"{config.steps} JEPA steps + {config.decoder_steps} decoder steps"
          + (f", overrides {changed}" if changed else ", reference recipe"))
    print(f"  wall time     compile {output.compile_s:.1f} s + run {output.run_s:.1f} s (XLA cache: {cache})")
    if not saved:
        return
    finals = [s for _, _, s in saved]
    print(f"  final loss    {mean_std([f['loss'] for f in finals])}  (prediction {mean_std([f['pred_loss'] for f in finals])})")
    print(f"  embedding std {mean_std([f['emb_std'] for f in finals])}  (collapse would be 0)")
    print(f"  probe RMSE    {mean_std([f['probe_rmse_px'] for f in finals])} px  "
          f"(least squares, fresh trajectories; reference: 0.73 published, 0.64 mean of 5 seeds)")
    for seed, run_dir, _ in saved[:8]:
        print(f"  wrote {run_dir}")
    if len(saved) > 8:
        print(f"  ... and {len(saved) - 8} more")


def write_seed_summary(path: Path, config, saved) -> None:
    keys = ["loss", "pred_loss", "emb_std", "probe_rmse_px"]
    table = {k: {"mean": float(np.mean([s[k] for _, _, s in saved])),
                 "std": float(np.std([s[k] for _, _, s in saved], ddof=1)),
                 "per_seed": {str(seed): s[k] for seed, _, s in saved}} for k in keys}
    path.write_text(json.dumps({"config": config.to_dict(), "seeds": [s for s, _, _ in saved], "figures": table}, indent=2))
    print(f"  wrote {path}")


if __name__ == "__main__":
    sys.exit(main())

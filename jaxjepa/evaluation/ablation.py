"""The collapse ablation: take the defences against collapse away one after another, on the same seeds.

A JEPA can win its prediction game by mapping every observation to the same latent. The reference recipe has two
defences: the target is a slowly trailing EMA copy behind a stop-gradient, and a variance hinge keeps every latent
dimension spread. Each variant (config.ABLATIONS, DESCRIPTIONS) removes more of them. We report the embedding std
over training (the trainer's per-step curve) and, at the end, the std of the target encoder's latents and the
least-squares probe RMSE on fresh trajectories: a collapsed encoder has std 0 and a probe no better than guessing
the mean position. Each variant's runs are where `train.py --config NAME` keeps them (runs.run_dir).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxjepa import losses, probe
from jaxjepa.config import ABLATIONS, VARIANTS, Config
from jaxjepa.evaluation import figures
from jaxjepa.evaluation.reference import REFERENCE
from jaxjepa.evaluation.report import FINDINGS, figure, fmt, table
from jaxjepa.evaluation.runs import SeedRuns
from jaxjepa.evaluation.settings import over_seeds, rounded, summarise
from jaxjepa.evaluation.suite import Context, Evaluated, Suite
from jaxjepa.runner import stacked_keys

DESCRIPTIONS = {
    "default": "EMA target + stop-gradient + variance hinge (reference)",
    "ema_only": "EMA target + stop-gradient, no variance hinge",
    "stopgrad_only": "stop-gradient copy (EMA decay 0), no variance hinge",
    "no_stopgrad": "target = online encoder with gradient, no variance hinge",
}
CURVE_POINTS = 250  # training curves are thinned to this many points for metrics.json and the plot


def variant_config(base: Config, name: str) -> Config:
    """`base` (the reference recipe, perhaps with size overrides) with one variant's defences removed."""
    return base.replace(**VARIANTS[name])


def collapse_figures(params: dict, eval_key: jax.Array, config: Config) -> dict:
    """Final embedding std of the target encoder and least-squares position probe RMSE, on the
    probe's fresh trajectories (probe.fit_and_test_latents, as train.py's probe)."""
    fitted, tested = probe.fit_and_test_latents(params, eval_key, config)
    fit_positions, test_positions = probe.flat(fitted.positions), probe.flat(tested.positions)
    predicted = probe.apply(probe.fit(probe.flat(fitted.z), fit_positions), probe.flat(tested.z))
    return {
        "embedding_std": jnp.mean(losses.embedding_std(probe.flat(tested.z))),
        "probe_rmse": probe.rmse(predicted, test_positions),
        # what a probe that knows nothing scores: always the mean position
        "probe_rmse_of_mean": probe.rmse(jnp.broadcast_to(fit_positions.mean(0), predicted.shape), test_positions),
    }


def thin_curves(curves: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """[n_seeds, steps] -> (step numbers [p], curves at those steps [n_seeds, p]); keeps the last step."""
    steps = curves.shape[-1]
    at = np.unique(np.linspace(0, steps - 1, min(points, steps)).round().astype(int))
    return at + 1, curves[:, at]


def variant_metrics(name: str, runs: SeedRuns, need_std: bool) -> dict:
    """One variant's figures over its seeds: training-curve std, then the fresh-trajectory measures."""
    _, eval_keys = stacked_keys(runs.seeds)
    measured = over_seeds(lambda p, k: collapse_figures(p, k, runs.config), runs.params, eval_keys)
    curves = np.stack([np.asarray(m["curves"]["emb_std"], dtype=float) for m in runs.run_metrics])
    s = lambda values: summarise(values, need_std=need_std)
    steps, thinned = thin_curves(curves)
    return {
        "description": DESCRIPTIONS[name],
        "final_train_emb_std": s(curves[:, -1]),
        "embedding_std": s(measured["embedding_std"]),
        "probe_rmse_px": s(measured["probe_rmse"]),
        "probe_rmse_of_mean_px": s(measured["probe_rmse_of_mean"]),
        "curve": {"steps": steps.tolist(), "per_seed": rounded(thinned)},
    }


def evaluate(loaded: dict[str, SeedRuns], context: Context) -> Evaluated:
    return Evaluated({name: variant_metrics(name, runs, context.need_std) for name, runs in loaded.items()}, {})


def draw(evaluated: Evaluated, out: Path) -> dict[str, Path]:
    curves = {
        name: (np.asarray(v["curve"]["steps"]), np.asarray(v["curve"]["per_seed"]))
        for name, v in evaluated.payload.items()
    }
    return {"collapse_curves": figures.collapse_curves(curves, out / "collapse.png", DESCRIPTIONS)}


COLLAPSED_STD = 0.01  # an embedding std at the end of training below this is a collapsed latent


def collapsed(variant: dict) -> str:
    std = (variant["final_train_emb_std"] or {}).get("mean")
    return "-" if std is None else "**yes**" if std < COLLAPSED_STD else "no"


# fmt: off
COLUMNS = (("emb. std, end of training", "final_train_emb_std", 3), ("emb. std, target, fresh", "embedding_std", 3),
           ("probe RMSE, px", "probe_rmse_px", 3), ("probe RMSE of the mean, px", "probe_rmse_of_mean_px", 2))
METHOD = ("Four variants trained on the same seeds (one vmapped program per variant). Embedding std: mean over latent "
          "dimensions of the per-dimension std; at the end of training (online latents of the last batch) and of the "
          "target encoder on fresh trajectories. A collapsed encoder has std 0 and a probe no better than always "
          "answering the mean position (last column).")
# fmt: on


def section_ablation(m: dict) -> str | None:
    ablation = m.get("ablation")
    if not ablation:
        return "## Collapse ablation\n\nNot run by this command (it runs with `--seeds` and the default config)."
    rows = [
        [f"`{name}`", v["description"], *(fmt(v[key], digits) for _, key, digits in COLUMNS), collapsed(v)]
        for name, v in ablation.items()
    ]
    header = ["variant", "defences", *(column for column, _, _ in COLUMNS), f"collapsed (std < {COLLAPSED_STD})"]
    caption = "Embedding std over training per variant; band = min to max over seeds"
    claims = f"Reference claims ({REFERENCE['source']}): {REFERENCE['ablation_claims']}."
    return "\n\n".join(
        ["## Collapse ablation", f"{METHOD}\n{claims}", table(header, rows), figure(m, "collapse_curves", caption),
         f"What the ablation shows, beside the reference's claims: [{FINDINGS}]({FINDINGS}#collapse-ablation)."]
    )  # fmt: skip


def summary_lines(payload: dict) -> list[str]:
    return [
        f"  ablation {name:14s} emb std {fmt(v['final_train_emb_std'])}, probe {fmt(v['probe_rmse_px'])} px"
        for name, v in payload.items()
    ]


SUITE = Suite(
    name="ablation", result_file="metrics.json", key="ablation", evaluate=evaluate, figures=draw,
    configs=lambda _, base: {name: variant_config(base, name) for name in ABLATIONS},
    sections=(section_ablation,), summary=summary_lines, metrics_read=("curves.emb_std",),
    description="the collapse ablation: the reference recipe with one defence removed at a time",
)  # fmt: skip

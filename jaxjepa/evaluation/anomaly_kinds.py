"""The anomaly-kinds suite: the teleport and the subtle anomalies, per-frame ROC, for chosen recipes.

The subtle kinds (a mid-air velocity flip, a speed change, a freeze, a 1-2 px jump) break the
world's physics far less visibly than a teleport; each is scored by latent and pixel surprise
(anomaly.detect) on fresh trajectories per seed. Its payload is results/anomalies.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jaxjepa.config import ANOMALY_RECIPES, BEST_RECIPE
from jaxjepa.evaluation import anomaly, figures
from jaxjepa.evaluation.report import at_least, figure, fmt, made_by, overrides_text, table, targets_table
from jaxjepa.evaluation.runs import SeedRuns
from jaxjepa.evaluation.settings import EvalSettings, over_seeds, rounded, summarise
from jaxjepa.evaluation.suite import Context, Evaluated, Suite, named_configs, overrides_json
from jaxjepa.runner import stacked_keys

KINDS = ("teleport",) + anomaly.SUBTLE_KINDS
TARGET_AUC = 0.99  # per-frame latent ROC-AUC to reach for flip, speed change and freeze
TARGETED_KINDS = ("flip", "speed", "freeze")
KIND_NAMES = {
    "teleport": "teleport (reference)",
    "flip": "velocity flip, mid-air",
    "speed": "speed change (x0.5 or x1.5)",
    "freeze": "freeze (logo stops)",
    "jump": "small jump (1-2 px)",
}
SPACES = ("latent", "pixel")


def kind_entry(runs: SeedRuns, settings: EvalSettings, kind: str, need_std: bool) -> dict:
    """One anomaly kind at random (for the subtle kinds: mid-air) frames, summarised over seeds."""
    _, eval_keys = stacked_keys(runs.seeds)
    detect = lambda p, k: anomaly.detect(p, k, runs.config, settings, kind=kind)
    measured = over_seeds(detect, runs.params, eval_keys)
    s = lambda values: summarise(values, need_std=need_std)
    return {
        **{space: {k: s(v) for k, v in measured[space].items()} for space in SPACES},
        "displacement_px": s(measured["displacement_px"]),
        "count": s(measured["visible_count"]),
        "roc_curve_per_seed": {space: rounded(v) for space, v in measured["roc_curve"].items()},
    }


def evaluate(loaded: dict[str, SeedRuns], context: Context) -> Evaluated:
    settings = EvalSettings()
    configs = {
        name: {
            "overrides": overrides_json(runs.config),
            **{kind: kind_entry(runs, settings, kind, context.need_std) for kind in KINDS},
            "settings": settings.to_dict(),
        }
        for name, runs in loaded.items()
    }
    payload = {
        "configs": configs,
        "roc_false_positive_rates": list(anomaly.ROC_FALSE_POSITIVE_RATES),
        "anomaly_settings": settings.to_dict(),
        "mid_air_frames": anomaly.MID_AIR_FRAMES,  # what the subtle kinds were injected with, for --report-only
    }
    return Evaluated(payload, {})


def draw(evaluated: Evaluated, out: Path) -> dict[str, Path]:
    fpr = np.asarray(evaluated.payload["roc_false_positive_rates"])
    made = {}
    for name, entry in evaluated.payload["configs"].items():
        tpr = {kind: {space: np.asarray(v) for space, v in entry[kind]["roc_curve_per_seed"].items()} for kind in KINDS}
        made[f"roc_{name}"] = figures.roc_curves(fpr, tpr, out / f"roc_{name}.png", title=name)
    return made


# (column after the space's name, key in a kind's figures of that space, digits)
SPACE_COLUMNS = (("ROC-AUC", "roc_auc_all", 4), ("hit rate", "hit_rate", 3), ("hit ±1", "hit_rate_within_1", 3))


def method(payload: dict) -> str:
    settings, mid_air = payload["anomaly_settings"], payload.get("mid_air_frames", anomaly.MID_AIR_FRAMES)
    return (
        made_by(payload) + f" Per seed and kind: {settings['anomaly_trajectories']} trajectories of "
        f"{settings['anomaly_length']} frames with the anomaly at a random frame, as many normal ones (the negatives), "
        f"as many more to set the median + {settings['threshold_mads']:g} MAD threshold. The subtle kinds are injected "
        f"mid-air: at a frame with no wall bounce within {mid_air} frames (a reversal at a wall is a "
        "bounce); every one of them counts, however small. The teleport's ROC-AUC counts every teleport too, "
        f"including the few that land within {settings['invisible_px']:g} px of where the logo would have been; "
        "its hit rates and ROC curves count the others, the visible ones. Per-frame ROC-AUC: the surprise at the "
        "frame where the anomaly first shows against every frame of the normal trajectories. Hit rate: the "
        "trajectory's largest surprise is on that frame (±1: within one frame of it). "
        "Latent surprise `||P(E_ema(o_t)) - E_ema(o_t+1)||^2` needs no decoder; pixel surprise goes through it."
    )


def config_table(entry: dict) -> str:
    header = ["anomaly", "moves the logo on its first frame, px"]
    header += [f"{space} {column}" for space in SPACES for column, _, _ in SPACE_COLUMNS]
    rows = [
        [name, fmt(entry[kind]["displacement_px"], 2)]
        + [fmt(entry[kind][space][key], digits) for space in SPACES for _, key, digits in SPACE_COLUMNS]
        for kind, name in KIND_NAMES.items()
        if kind in entry
    ]
    return table(header, rows)


def targets(best: dict) -> str:
    auc = {kind: best[kind]["latent"]["roc_auc_all"] for kind in TARGETED_KINDS if kind in best}
    name = lambda kind: f"`{BEST_RECIPE}`, {kind}: per-frame latent ROC-AUC >= {TARGET_AUC}"
    return targets_table([(name(kind), fmt(value, 4), at_least(value, TARGET_AUC)) for kind, value in auc.items()])


def summary(payload: dict) -> list[str]:
    """Console lines: each config's latent hit rate ±1 per anomaly kind."""
    return [
        f"  {name}: latent hit rate ±1 "
        + ", ".join(f"{kind} {fmt(entry[kind]['latent']['hit_rate_within_1'], 3)}" for kind in KINDS if kind in entry)
        for name, entry in payload["configs"].items()
    ]


def section_anomalies(payload: dict) -> str | None:
    text = ["## Beyond the reference: subtle anomalies", method(payload)]
    for name, entry in payload["configs"].items():
        caption = f"Per-frame ROC curves per anomaly kind, config {name}"
        text += [
            f"### config `{name}`: {overrides_text(entry)}",
            config_table(entry),
            figure(payload, f"roc_{name}", caption),
        ]
    best = payload["configs"].get(BEST_RECIPE)
    return "\n\n".join(text + ([targets(best)] if best else []))


SUITE = Suite(
    name="anomalies",
    result_file="anomalies.json",
    configs=named_configs(ANOMALY_RECIPES),
    evaluate=evaluate,
    figures=draw,
    sections=(section_anomalies,),
    summary=summary,
    description="teleport, flip, speed change, freeze, jump; the default and the best recipe "
    "(config.BEST_RECIPE): results/anomalies.json",
)

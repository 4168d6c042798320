"""The headline suite: one config's probes, forecast and teleport detection beside the reference's.

Every figure is measured per seed on fresh trajectories from the seed's evaluation key (which
training never uses) and reported as mean +- std over seeds. The seeds' parameters are stacked into
one pytree with a leading seeds axis and every measure is `jit(vmap(...))` over it: no Python loop
over seeds, trajectories or steps on the hot path. Its payload is results/metrics.json.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxjepa import cli
from jaxjepa.config import Config
from jaxjepa.evaluation import anomaly, figures, forecast, headline_report, representation
from jaxjepa.evaluation.reference import REFERENCE
from jaxjepa.evaluation.runs import SeedRuns
from jaxjepa.evaluation.settings import EvalSettings, over_seeds, summarise
from jaxjepa.evaluation.suite import Context, Evaluated, Suite
from jaxjepa.runner import stacked_keys

# Which teleports to score, as (name in metrics.json, fixed frame or -1 for random frames, description).
ANOMALY_CASES = (
    ("teleport", -1, "teleport at a random frame"),
    ("teleport@24", 24, "teleport at frame 24 on every trajectory (the reference's protocol)"),
)
SPACES = ("latent", "pixel", "latent_online_context")


def measure(runs: SeedRuns, settings: EvalSettings) -> dict:
    """Every headline measure of one config's runs, each one jit(vmap) over the stacked seeds."""
    config, params = runs.config, runs.params
    train_keys, eval_keys = stacked_keys(runs.seeds)
    linear = over_seeds(lambda p, k: representation.linear_probes(p, k, config, settings.examples), params, eval_keys)
    published = over_seeds(
        lambda p, tk, ek: representation.published_probe(p, tk, ek, config, settings), params, train_keys, eval_keys
    )
    probes = linear["position_probe"]  # each seed's forecast reads its dreams with its own probe
    rollout = over_seeds(lambda p, k, w: forecast.forecast(p, k, w, config, settings), params, eval_keys, probes)
    # the frame is an argument: one program serves every case
    detect = jax.jit(jax.vmap(lambda p, k, f: anomaly.detect(p, k, config, settings, frame=f), in_axes=(0, 0, None)))
    anomalies = {
        name: {"description": description, **jax.device_get(detect(params, eval_keys, jnp.int32(frame)))}
        for name, frame, description in ANOMALY_CASES
    }
    return {"linear": linear, "published": published, "forecast": rollout, "anomaly": anomalies}


def without_decoder(measured: dict) -> dict:
    """`measure`'s figures with those that read the decoder's output set to NaN, reported as missing ("-"): a
    run that trained no decoder (decoder_steps 0) keeps its random initial weights, whose pixel surprise, decoded
    MSE and dream measure nothing. The worlds suite leaves the same figures out."""
    nan_tree = lambda tree: jax.tree_util.tree_map(lambda v: np.full(np.shape(v), np.nan), tree)
    missing = lambda tree, keys: {**tree, **nan_tree({k: tree[k] for k in keys})}
    rollout = missing(measured["forecast"], forecast.DECODED_FIGURES)
    rollout["curves"] = missing(rollout["curves"], ["decoded_mse"])
    anomalies = {
        name: {**missing(case, ["pixel"]), "example": missing(case["example"], ["pixel", "pixel_threshold"])}
        for name, case in measured["anomaly"].items()
    }
    return {**measured, "forecast": rollout, "anomaly": anomalies}


def representation_metrics(s, linear: representation.LinearProbes, published: dict) -> dict:
    # {name_y{unit}, name_x{unit}}: one summary per coordinate of an [n_seeds, 2] figure
    by_coordinate = lambda name, yx, unit: {f"{name}_y{unit}": s(yx[:, 0]), f"{name}_x{unit}": s(yx[:, 1])}
    return {
        "position_rmse_px": s(linear["position_rmse"]),
        **by_coordinate("position_rmse", linear["position_rmse_yx"], "_px"),
        "velocity_rmse": s(linear["velocity_rmse"]),
        **by_coordinate("velocity_rmse", linear["velocity_rmse_yx"], ""),
        "velocity_rmse_of_mean": s(linear["velocity_rmse_of_mean"]),
        "embedding_std": s(linear["embedding_std"]),
        "published_adam_rmse_px": s(published["adam_rmse"]),
        **by_coordinate("published_adam_rmse", published["adam_rmse_yx"], "_px"),
        "published_lstsq_rmse_px": s(published["lstsq_rmse"]),
    }


def forecast_metrics(s, rollout: dict) -> dict:
    curves = rollout["curves"]
    reported = [k for k in forecast.REPORTED_STEPS if k <= curves["position_error"].shape[1]]
    at_steps = lambda curve: {str(k): s(curve[:, k - 1]) for k in reported}
    stepped = ("position_error", "decoded_mse", "persistence_mse", "persistence_position_error")
    return {
        **{k: s(rollout[k]) for k in forecast.SUMMARY_FIGURES},
        **{f"{k}_at": at_steps(curves[k]) for k in stepped},
        # null, not NaN, for a curve not measured (no decoder): strict JSON readers refuse NaN
        "curves_per_seed": {k: np.where(np.isfinite(v), np.round(v, 6), None).tolist() for k, v in curves.items()},
    }


def anomaly_metrics(s, cases: dict) -> dict:
    return {
        name: {
            "description": case["description"],
            **{space: {k: s(v) for k, v in case[space].items()} for space in SPACES},
            **{count: s(case[count]) for count in ("visible_count", "invisible_count")},
        }
        for name, case in cases.items()
    }


def evaluate(loaded: dict[str, SeedRuns], context: Context) -> Evaluated:
    (runs,) = loaded.values()
    n = context.trajectories  # recorded in the payload's settings, like every other constant of the measure
    settings = EvalSettings(forecast_trajectories=n, anomaly_trajectories=n) if n else EvalSettings()
    measured = measure(runs, settings)
    if not runs.config.has_decoder:
        measured = without_decoder(measured)
    s = lambda values: summarise(values, need_std=context.need_std)
    payload = {
        "command": context.command,
        "config_name": context.config_name,
        "overrides": cli.overrides_of(runs.config),
        "config": runs.config.to_dict(),
        "settings": settings.to_dict(),
        "seeds": runs.seeds,
        "runs": [str(d) for d in runs.dirs],
        "representation": representation_metrics(s, measured["linear"], measured["published"]),
        "forecast": forecast_metrics(s, measured["forecast"]),
        "anomaly": anomaly_metrics(s, measured["anomaly"]),
    }
    return Evaluated(payload, {**measured, "settings": settings})


def draw(evaluated: Evaluated, out: Path) -> dict[str, Path]:
    fc, lin, settings = evaluated.arrays["forecast"], evaluated.arrays["linear"], evaluated.arrays["settings"]
    config = Config.from_dict(evaluated.payload["config"])
    first_seed = evaluated.payload["seeds"][0]  # the seed whose examples are drawn
    made = {}
    if config.has_decoder:  # without one there is no dream to draw
        dream = fc["example_true"][0, 0], fc["example_decoded"][0, 0], fc["example_position_error"][0, 0]
        made["dream_gif"] = figures.dream_gif(*dream, out / "dream.gif")
        made["dream_filmstrip"] = figures.dream_filmstrip(*dream, out / "dream_filmstrip.png", first_seed)
    reference = {k: float(np.mean(v)) for k, v in REFERENCE["measured"]["position_error_at_px"].items()}
    made["horizon_curve"] = figures.horizon_curve(fc["curves"], settings.horizon_px, out / "horizon.png", reference)
    seed0 = {k: v[0] for k, v in evaluated.arrays["anomaly"]["teleport"]["example"].items()}
    mads = settings.threshold_mads
    made["surprise_trace"] = figures.surprise_trace(seed0, anomaly.FIRST_SCORED_FRAME, mads, out / "surprise.png")
    true, predicted = lin["example_true"][0].reshape(-1, 2), lin["example_predicted"][0].reshape(-1, 2)
    made["probe_scatter"] = figures.probe_scatter(
        true, predicted, lin["position_rmse_yx"], out / "probe_scatter.png", config.frame_size, first_seed
    )
    return made


def summary_lines(m: dict) -> list[str]:
    """The console summary of a headline payload."""
    fmt = headline_report.fmt
    r, f, t = m["representation"], m["forecast"], m["anomaly"]["teleport"]
    return [
        f"  probe RMSE        {fmt(r['position_rmse_px'])} px (least squares); "
        f"published protocol {fmt(r['published_adam_rmse_px'])} px",
        f"  velocity probe    {fmt(r['velocity_rmse'])} px/frame",
        f"  horizon           {fmt(f['horizon_mean'], 2)} steps per trajectory; "
        f"mean curve {fmt(f['horizon_of_mean_curve'], 2)}",
        f"  teleport ROC-AUC  latent {fmt(t['latent']['roc_auc'], 4)}, pixel {fmt(t['pixel']['roc_auc'], 4)}; "
        f"hit rate latent {fmt(t['latent']['hit_rate'])}",
    ]


def action_free_only(config: Config) -> str | None:
    """The headline's measures roll an action-free predictor through the bouncing logo's worlds."""
    if config.action_dim:
        return (
            f"the headline evaluation measures models without actions, and this config's predictor takes actions "
            f"(world {config.world!r}); steer and Two Rooms models are evaluated by --planning and --two-rooms, "
            "which train and evaluate their own named configs"
        )
    return None


SUITE = Suite(
    name="headline",
    result_file="metrics.json",
    configs=lambda name, config: {name: config},  # the command's --config itself
    evaluate=evaluate,
    figures=draw,
    sections=headline_report.SECTIONS,
    summary=summary_lines,
    readme_block=headline_report.readme_block,
    config_problem=action_free_only,
    description="probes, forecast horizon and teleport detection of the chosen config",
    trajectories="the headline's fresh trajectories per forecast and anomaly measure (default "
    f"{EvalSettings().forecast_trajectories})",
)

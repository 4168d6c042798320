"""Beyond the reference (issue 5): how far each recipe's dream stays on track, the subtle anomalies,
and the harder worlds, each as per-seed figures that eval.py vmaps over seeds.

Why a module of its own: these evaluations compare *several* configs (recipes, worlds) where the
headline evaluation reports one, and each writes its own JSON under results/ (recipes.json,
anomalies.json, worlds.json) so the three commands can be run apart and the report merges whatever
exists. Every function here is pure and takes one seed's params and evaluation key.

The horizon here rolls out `HORIZON_STEPS` = 300 steps (the headline forecast stops at 100), so a
mean horizon of 100 does not need every single trajectory to stay inside the band to the end. Beside
it we report the horizon a perfect world model would reach with the same probe ("floor horizon": the
probe read off the true latents): a 1 px band is as much a test of the probe as of the dream.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxjepa import world
from jaxjepa.config import VARIANTS, Config, get_config
from jaxjepa.evaluation import anomaly, forecast, probes
from jaxjepa.evaluation.settings import EvalSettings, purpose_key

HORIZON_STEPS = 300
# The recipes compared on one horizon plot: the reference's, those tried on the way, and the one shipped.
RECIPES = ("default", "koopman", "long_horizon", "multistep_k4", "long_horizon_k1")
BEST_RECIPE = "koopman"
ANOMALY_KINDS = ("teleport",) + anomaly.SUBTLE_KINDS
ANOMALY_RECIPES = ("default", BEST_RECIPE)
WORLDS = ("default", "world32", "world64", "two_logos", "random_speed", "noisy")   # "default": the reference world, to compare
# Worlds not trained with the best recipe, for compute (RESULTS.md says so when any are): none since `koopman`,
# whose affine predictor makes it cheap enough to train on 64x64 frames too (one seed).
BEST_RECIPE_SKIPPED_FOR: tuple[str, ...] = ()
RESULT_FILES = {"recipes": "recipes.json", "anomalies": "anomalies.json", "worlds": "worlds.json"}


def combined_config(world_name: str, recipe: str) -> Config:
    """A harder world (its VARIANTS entry) trained with a recipe (its VARIANTS entry on top)."""
    return get_config(world_name, **VARIANTS[recipe])


def combined_name(world_name: str, recipe: str) -> str:
    """The run's name (its directory under runs/): the reference world's runs are the recipes' own."""
    if world_name == "default":
        return recipe
    return world_name if recipe == "default" else f"{world_name}+{recipe}"


def horizon_figures(params: dict, eval_key: jax.Array, config: Config, settings: EvalSettings) -> dict:
    """Probe RMSE and the long rollout of one seed: per-trajectory horizon (mean, median, share that
    stays inside the band for 100 steps), the floor horizon, and the mean error curves [K]."""
    linear = probes.linear_probes(params, eval_key, config, 1)
    steps = settings.forecast_steps
    traj = world.trajectories(purpose_key(eval_key, "forecast"), settings.forecast_trajectories, steps + 2,
                              config, margin=config.eval_start_margin)   # the headline forecast's first 100 steps
    errors = forecast.rollout_errors(params, traj, linear["position_probe"], config, steps)
    horizon = forecast.steps_within(errors["position_error"], settings.horizon_px)
    floor = forecast.steps_within(errors["probe_floor"], settings.horizon_px)
    return {
        "probe_rmse": linear["position_rmse"], "velocity_rmse": linear["velocity_rmse"],
        "horizon_mean": horizon.mean(), "horizon_median": jnp.median(horizon),
        "within_100_fraction": jnp.mean(horizon >= min(100, steps)),
        "floor_horizon_mean": floor.mean(),
        "probe_floor_mean": errors["probe_floor"].mean(),
        "error_curve": errors["position_error"].mean(axis=0),
        "floor_curve": errors["probe_floor"].mean(axis=0),
    }


def anomaly_figures(params: dict, eval_key: jax.Array, config: Config, settings: EvalSettings, kind: str) -> dict:
    """One anomaly kind at random (for the subtle kinds: mid-air) frames: the detection figures of
    latent and pixel surprise, the ROC curves, and how far the anomaly moved the logo."""
    out = anomaly.anomaly(params, eval_key, config, settings, kind=kind)
    return {"latent": out["latent"], "pixel": out["pixel"], "roc_curve": out["roc_curve"],
            "displacement_px": out["displacement_px"], "visible_count": out["visible_count"]}


def world_figures(params: dict, eval_key: jax.Array, config: Config, settings: EvalSettings) -> dict:
    """A harder world: probe RMSE, horizon and teleport detection of one seed."""
    horizon = horizon_figures(params, eval_key, config, settings)
    teleport = anomaly.anomaly(params, eval_key, config, settings, kind="teleport")
    return {**{k: v for k, v in horizon.items() if not k.endswith("_curve")},
            "teleport_hit_rate_latent": teleport["latent"]["hit_rate_within_1"],
            "teleport_hit_rate_pixel": teleport["pixel"]["hit_rate_within_1"],
            "teleport_roc_auc_latent": teleport["latent"]["roc_auc"],
            "teleport_roc_auc_pixel": teleport["pixel"]["roc_auc"]}


PERSISTENT_MODULUS = 0.9    # an eigenvalue at least this large survives 100 steps (0.9^100 = 3e-5 would not; 0.999^100 = 0.9 does)


def bounce_frequency(config: Config) -> float:
    """One axis's bounce as a rotation, rad/frame: the logo crosses the H - 3 px between the walls (1 and
    H - 2) twice per period at v (H - 1) px/frame. The wall clipping (world.py) stretches the true period a
    little, since a logo clipped at a wall loses the rest of its step."""
    return 2 * math.pi * config.speed * (config.frame_size - 1) / (2 * (config.frame_size - 3))


def predictor_spectrum(stacked_params: dict, config: Config) -> dict | None:
    """Eigenvalues of an affine predictor's matrix per seed (None for a deep predictor), and how they sit:
    the persistent ones (|lambda| >= PERSISTENT_MODULUS) are the modes a long dream keeps. For a linear
    world model to be right they must be rotations at harmonics of the bounce: angle = n * fundamental.
    Per seed: moduli, the fundamental (smallest angle of a persistent mode, in units of the idealised
    `bounce_frequency`) and the largest distance of a persistent mode's angle from a harmonic of it."""
    if config.predictor_hidden:
        return None
    kernels = np.asarray(stacked_params["predictor"]["params"]["layer0"]["kernel"], np.float64)   # [seeds, d, d]
    eigenvalues = np.linalg.eigvals(kernels)
    modulus, angle = np.abs(eigenvalues), np.abs(np.angle(eigenvalues)) / bounce_frequency(config)
    persistent = modulus >= PERSISTENT_MODULUS
    fundamental = np.array([a[p & (a > 0.5)].min(initial=np.inf) for a, p in zip(angle, persistent)])
    harmonic = angle / fundamental[:, None]
    off_harmonic = np.where(persistent, np.abs(harmonic - np.round(harmonic)), 0.0)
    return {"persistent_count": persistent.sum(axis=1).tolist(), "latent_dim": config.latent_dim,
            "persistent_modulus_min": np.where(persistent, modulus, np.inf).min(axis=1).tolist(),
            "modulus_max": modulus.max(axis=1).tolist(), "fundamental_over_bounce": fundamental.tolist(),
            "fundamental_rad_per_frame": (fundamental * bounce_frequency(config)).tolist(),
            "highest_harmonic": np.where(persistent, np.round(harmonic), 0).max(axis=1).astype(int).tolist(),
            "off_harmonic_max": off_harmonic.max(axis=1).tolist(),
            "eigenvalues_per_seed": np.round(np.stack([eigenvalues.real, eigenvalues.imag], -1), 5).tolist()}


def write_result(out_dir: str | Path, part: str, payload: dict) -> Path:
    path = Path(out_dir) / RESULT_FILES[part]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(path)                     # atomic: a half-written file never replaces a good one
    return path


def load_results(out_dir: str | Path) -> dict:
    """{part: payload} of every extra result that exists under out_dir (the report merges them)."""
    found = {}
    for part, name in RESULT_FILES.items():
        path = Path(out_dir) / name
        if path.is_file():
            found[part] = json.loads(path.read_text())
    return found

"""The recipes suite: how far each recipe's dream stays on track, over 300-step rollouts (results/recipes.json).

The rollouts run `HORIZON_STEPS` = 300 steps (the headline forecast stops at 100), so a mean horizon of 100 does
not need every trajectory to stay inside the band to the end. Beside it we report the "floor horizon", that of a
perfect world model read by the same probe (the probe of the true latents): a 1 px band tests the probe as much as
the dream. For affine predictors the suite also reads the predictor's eigenvalues: is the dream a rotation?
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from jaxjepa.config import BEST_RECIPE, RECIPES, Config
from jaxjepa.evaluation import figures, forecast, report
from jaxjepa.evaluation.runs import SeedRuns
from jaxjepa.evaluation.settings import EvalSettings, over_seeds, rounded, summarise
from jaxjepa.evaluation.suite import Context, Evaluated, Suite, named_configs, overrides_json
from jaxjepa.runner import stacked_keys

HORIZON_STEPS = 300
TARGET_HORIZON = 100  # the best recipe's mean horizon to reach, 8 seeds, 256 trajectories
# An eigenvalue at least this large counts as persistent: a mode a long dream keeps (0.999^100 = 0.9), not one
# that dies within steps (0.5^10 = 1e-3). The cut sits well below 1 so that no slowly fading mode is missed;
# the report's "smallest persistent modulus" shows how near 1 the counted ones really are.
PERSISTENT_MODULUS = 0.9


def bounce_frequency(config: Config) -> float:
    """One axis's bounce as a rotation, rad/frame: the logo crosses the H - 3 px between the walls (1 and
    H - 2) twice per period at v (H - 1) px/frame. The wall clipping (world.py) stretches the true period a
    little, since a logo clipped at a wall loses the rest of its step."""
    return 2 * math.pi * config.speed * (config.frame_size - 1) / (2 * (config.frame_size - 3))


def predictor_spectrum(stacked_params: dict, config: Config) -> dict | None:
    """Eigenvalues of an affine predictor's matrix per seed (None for a deep predictor), and how they sit: the
    persistent ones are the modes a long dream keeps, and a right linear world model has them at harmonics of the
    bounce, angle = n * fundamental. Angles are in units of `bounce_frequency`; the fundamental is the smallest
    persistent angle above half the bounce's, which leaves out the real modes at angle 0."""
    if config.predictor_hidden:
        return None
    kernels = np.asarray(stacked_params["predictor"]["params"]["layer0"]["kernel"], np.float64)  # [seeds, d, d]
    eigenvalues = np.linalg.eigvals(kernels)
    modulus, angle = np.abs(eigenvalues), np.abs(np.angle(eigenvalues)) / bounce_frequency(config)
    persistent = modulus >= PERSISTENT_MODULUS
    fundamental = np.array([a[p & (a > 0.5)].min(initial=np.inf) for a, p in zip(angle, persistent)])
    harmonic = angle / fundamental[:, None]
    return {
        "persistent_count": persistent.sum(axis=1).tolist(),
        "latent_dim": config.latent_dim,
        "persistent_modulus_min": np.where(persistent, modulus, np.inf).min(axis=1).tolist(),
        "modulus_max": modulus.max(axis=1).tolist(),
        "fundamental_over_bounce": fundamental.tolist(),
        "fundamental_rad_per_frame": (fundamental * bounce_frequency(config)).tolist(),
        "highest_harmonic": np.where(persistent, np.round(harmonic), 0).max(axis=1).astype(int).tolist(),
        "off_harmonic_max": np.where(persistent, np.abs(harmonic - np.round(harmonic)), 0.0).max(axis=1).tolist(),
        "eigenvalues_per_seed": np.round(np.stack([eigenvalues.real, eigenvalues.imag], -1), 5).tolist(),
    }


def config_entry(runs: SeedRuns, settings: EvalSettings, need_std: bool) -> dict:
    _, eval_keys = stacked_keys(runs.seeds)
    measured = over_seeds(lambda p, k: forecast.horizon_figures(p, k, runs.config, settings), runs.params, eval_keys)
    spectrum = predictor_spectrum(runs.params, runs.config)
    return {
        "overrides": overrides_json(runs.config),
        **{k: summarise(v, need_std=need_std) for k, v in measured.items() if not k.endswith("_curve")},
        "curves_per_seed": {k: rounded(v) for k, v in measured.items() if k.endswith("_curve")},
        **({"predictor_spectrum": spectrum} if spectrum else {}),
        "settings": settings.to_dict(),
    }


def evaluate(loaded: dict[str, SeedRuns], context: Context) -> Evaluated:
    settings = EvalSettings(forecast_steps=HORIZON_STEPS)
    configs = {name: config_entry(runs, settings, context.need_std) for name, runs in loaded.items()}
    # persistent_modulus: what the spectra were counted with, for --report-only
    return Evaluated({"configs": configs, "persistent_modulus": PERSISTENT_MODULUS}, {})


def draw(evaluated: Evaluated, out: Path) -> dict[str, Path]:
    configs = evaluated.payload["configs"]
    curves = {name: np.asarray(v["curves_per_seed"]["error_curve"]) for name, v in configs.items()}
    floors = {name: np.asarray(v["curves_per_seed"]["floor_curve"]) for name, v in configs.items()}
    band = settings_of(evaluated.payload)["horizon_px"]
    made = {"horizon_recipes": figures.recipe_horizons(curves, floors, out / "horizon_recipes.png", band)}
    for name, v in configs.items():
        if "predictor_spectrum" in v:
            eigenvalues = np.asarray(v["predictor_spectrum"]["eigenvalues_per_seed"])
            fundamental = v["predictor_spectrum"]["fundamental_rad_per_frame"][0]
            path = out / f"spectrum_{name}.png"
            made[f"spectrum_{name}"] = figures.predictor_spectrum(eigenvalues, fundamental, path, title=name)
    return made


# fmt: off
# (column, key in a recipe's entry, digits)
COLUMNS = (("probe RMSE, px", "probe_rmse", 3), ("velocity RMSE, px/frame", "velocity_rmse", 3),
           ("horizon, mean", "horizon_mean", 1), ("horizon, median", "horizon_median", 1),
           (f"share inside {{horizon_px:g}} px for {forecast.WITHIN_STEPS} steps", "within_100_fraction", 3),
           ("floor horizon, mean", "floor_horizon_mean", 1),
           ("floor: mean probe error on true latents, px", "probe_floor_mean", 3))
ERROR_AT = (100, HORIZON_STEPS)  # rollout steps whose mean position error gets a column
# (column, key in an entry's predictor_spectrum, digits)
SPECTRUM_COLUMNS = (("persistent", "persistent_count", 1), ("smallest persistent modulus", "persistent_modulus_min", 4),
                    ("largest modulus", "modulus_max", 4), ("fundamental angle", "fundamental_over_bounce", 4),
                    ("highest harmonic", "highest_harmonic", 0),
                    ("farthest persistent angle from a harmonic, in fundamentals", "off_harmonic_max", 3))
# fmt: on


def settings_of(payload: dict) -> dict:
    """The measurement settings, which every recipe of one payload shares."""
    return next(iter(payload["configs"].values()))["settings"]


def method(payload: dict) -> str:
    settings = settings_of(payload)
    steps, trajectories = settings["forecast_steps"], settings["forecast_trajectories"]
    return (
        report.made_by(payload) + " Each recipe is a named config (`jaxjepa/config.py: VARIANTS`). Per seed: the "
        f"least-squares position probe on fresh trajectories, then {steps}-step latent rollouts from o_0 on "
        f"{trajectories} fresh trajectories (the headline forecast's trajectories, continued). Horizon = rollout steps "
        f"before the position error first exceeds {settings['horizon_px']:g} px, per trajectory (capped at {steps}). "
        "*Floor horizon*: the same count for the probe read off the true latents, i.e. what a perfect world model "
        "would reach with this encoder and probe. Mean error after k steps: the per-seed mean error curve at step k, "
        "mean ± std over seeds."
    )


def error_at(entry: dict, step: int) -> dict | None:
    """The per-seed mean error curves at `step` (their last step if shorter), over seeds; None without curves."""
    curves = entry.get("curves_per_seed", {}).get("error_curve")
    return summarise([c[min(step, len(c)) - 1] for c in curves], need_std=False) if curves else None


def targets(configs: dict) -> str:
    """The shipped best recipe's targets: a horizon of TARGET_HORIZON steps, a probe no worse than the default's."""
    best, default = configs.get(BEST_RECIPE), configs.get("default")
    if not (best and default):
        return ""
    horizon, probe, default_probe = best["horizon_mean"], best["probe_rmse"], default["probe_rmse"]
    return report.targets_table([
        (f"`{BEST_RECIPE}` mean horizon >= {TARGET_HORIZON} steps", report.fmt(horizon, 1),
         report.at_least(horizon, TARGET_HORIZON)),
        (f"`{BEST_RECIPE}` probe RMSE <= the default's ({report.fmt(default_probe)} px)", report.fmt(probe),
         report.at_most(probe, report.mean_of(default_probe))),
    ])  # fmt: skip


def spectrum_table(configs: dict) -> str:
    """Per affine recipe, how its predictor's eigenvalues sit (predictor_spectrum): mean (seeds min to max)."""
    spread = lambda values, d: f"{sum(values) / len(values):.{d}f} ({min(values):.{d}f} to {max(values):.{d}f})"
    rows = [
        [f"`{name}`", str(e["predictor_spectrum"]["latent_dim"])]
        + [spread(e["predictor_spectrum"][key], digits) for _, key, digits in SPECTRUM_COLUMNS]
        for name, e in configs.items()
        if "predictor_spectrum" in e
    ]
    return report.table(["recipe", "eigenvalues"] + [column for column, _, _ in SPECTRUM_COLUMNS], rows) if rows else ""


def section_recipes(payload: dict) -> str | None:
    configs = payload["configs"]
    header = ["recipe", "overrides", *(c.format(**settings_of(payload)) for c, _, _ in COLUMNS)]
    header += [f"mean error after {k} steps, px" for k in ERROR_AT]
    rows = [[f"`{name}`", report.overrides_text(e), *(report.fmt(e[key], digits) for _, key, digits in COLUMNS),
             *(report.fmt(error_at(e, step), 2) for step in ERROR_AT)] for name, e in configs.items()]  # fmt: skip
    modulus = payload.get("persistent_modulus", PERSISTENT_MODULUS)  # older payloads: the code's
    text = [
        "## Beyond the reference: the horizon of every recipe",
        method(payload),
        report.table(header, rows),
        report.figure(payload, "horizon_recipes", "Position error of the dream per rollout step, every recipe; "
                      "band = ± std over seeds"),
        targets(configs),
        "The eigenvalues of each affine predictor's matrix, from the same command: mean over seeds (seeds min to max). "
        f"Persistent: modulus >= {modulus}. Angles in units of the idealised bounce frequency "
        "2π v(H-1) / (2(H-3)) rad/frame; a harmonic is a whole multiple of the fundamental.",
        spectrum_table(configs),
        *(report.figure(payload, f"spectrum_{name}", f"Eigenvalues of the affine predictor of `{name}`, every seed")
          for name in configs),
        "What worked, what did not, and why the affine predictor works: "
        f"[{report.FINDINGS}]({report.FINDINGS}#recipes).",
    ]  # fmt: skip
    return "\n\n".join(part for part in text if part)


SUITE = Suite(
    name="recipes", result_file="recipes.json", configs=named_configs(RECIPES), evaluate=evaluate, figures=draw,
    sections=(section_recipes,), summary=report.configs_summary,
    description="horizon (300-step rollouts) and probe of every recipe tried: results/recipes.json",
)  # fmt: skip

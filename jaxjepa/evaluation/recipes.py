"""The recipes suite: how far each recipe's dream stays on track, over 300-step rollouts.

The horizon here rolls out `HORIZON_STEPS` = 300 steps (the headline forecast stops at 100), so a
mean horizon of 100 does not need every trajectory to stay inside the band to the end. Beside it we
report the horizon a perfect world model would reach with the same probe ("floor horizon": the probe
read off the true latents): a 1 px band is as much a test of the probe as of the dream. For affine
predictors the suite also reads the predictor's eigenvalues: is the dream a rotation?
Its payload is results/recipes.json.
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import numpy as np

from jaxjepa.config import BEST_RECIPE, RECIPES, Config
from jaxjepa.evaluation import figures, forecast
from jaxjepa.evaluation.report import FINDINGS, figure, fmt, made_by, mean_of, overrides_text, table
from jaxjepa.evaluation.runs import SeedRuns
from jaxjepa.evaluation.settings import EvalSettings, summarise
from jaxjepa.evaluation.suite import Context, Evaluated, Suite, named_configs, overrides_json
from jaxjepa.runner import stacked_keys

HORIZON_STEPS = 300
TARGET_HORIZON = 100  # the best recipe's mean horizon to reach, 8 seeds, 256 trajectories


PERSISTENT_MODULUS = (
    0.9  # an eigenvalue at least this large survives 100 steps (0.9^100 = 3e-5 would not; 0.999^100 = 0.9 does)
)


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
    kernels = np.asarray(stacked_params["predictor"]["params"]["layer0"]["kernel"], np.float64)  # [seeds, d, d]
    eigenvalues = np.linalg.eigvals(kernels)
    modulus, angle = np.abs(eigenvalues), np.abs(np.angle(eigenvalues)) / bounce_frequency(config)
    persistent = modulus >= PERSISTENT_MODULUS
    fundamental = np.array([a[p & (a > 0.5)].min(initial=np.inf) for a, p in zip(angle, persistent)])
    harmonic = angle / fundamental[:, None]
    off_harmonic = np.where(persistent, np.abs(harmonic - np.round(harmonic)), 0.0)
    return {
        "persistent_count": persistent.sum(axis=1).tolist(),
        "latent_dim": config.latent_dim,
        "persistent_modulus_min": np.where(persistent, modulus, np.inf).min(axis=1).tolist(),
        "modulus_max": modulus.max(axis=1).tolist(),
        "fundamental_over_bounce": fundamental.tolist(),
        "fundamental_rad_per_frame": (fundamental * bounce_frequency(config)).tolist(),
        "highest_harmonic": np.where(persistent, np.round(harmonic), 0).max(axis=1).astype(int).tolist(),
        "off_harmonic_max": off_harmonic.max(axis=1).tolist(),
        "eigenvalues_per_seed": np.round(np.stack([eigenvalues.real, eigenvalues.imag], -1), 5).tolist(),
    }


def config_entry(runs: SeedRuns, settings: EvalSettings, need_std: bool) -> dict:
    _, eval_keys = stacked_keys(runs.seeds)
    measured = jax.device_get(
        jax.jit(jax.vmap(lambda p, k: forecast.horizon_figures(p, k, runs.config, settings)))(runs.params, eval_keys)
    )
    curves = lambda values: np.round(np.asarray(values, dtype=float), 5).tolist()
    entry = {
        "overrides": overrides_json(runs.config),
        **{k: summarise(v, need_std=need_std) for k, v in measured.items() if not k.endswith("_curve")},
        "curves_per_seed": {k: curves(v) for k, v in measured.items() if k.endswith("_curve")},
    }
    spectrum = predictor_spectrum(runs.params, runs.config)
    if spectrum:
        entry["predictor_spectrum"] = spectrum
    return {**entry, "settings": settings.to_dict()}


def evaluate(loaded: dict[str, SeedRuns], context: Context) -> Evaluated:
    settings = EvalSettings(forecast_steps=HORIZON_STEPS)
    return Evaluated(
        {"configs": {name: config_entry(runs, settings, context.need_std) for name, runs in loaded.items()}}, {}
    )


def draw(evaluated: Evaluated, out: Path) -> dict[str, Path]:
    configs = evaluated.payload["configs"]
    curves = {name: np.asarray(v["curves_per_seed"]["error_curve"]) for name, v in configs.items()}
    floors = {name: np.asarray(v["curves_per_seed"]["floor_curve"]) for name, v in configs.items()}
    made = {"horizon_recipes": figures.recipe_horizons(curves, floors, out / "horizon_recipes.png")}
    for name, v in configs.items():
        if "predictor_spectrum" in v:
            made[f"spectrum_{name}"] = figures.predictor_spectrum(
                np.asarray(v["predictor_spectrum"]["eigenvalues_per_seed"]),
                v["predictor_spectrum"]["fundamental_rad_per_frame"][0],
                out / f"spectrum_{name}.png",
                title=name,
            )
    return made


# fmt: off
# (column, key in a recipe's entry, digits)
COLUMNS = (("probe RMSE, px", "probe_rmse", 3), ("velocity RMSE, px/frame", "velocity_rmse", 3),
           ("horizon, mean", "horizon_mean", 1), ("horizon, median", "horizon_median", 1),
           ("share inside 1 px for 100 steps", "within_100_fraction", 3),
           ("floor horizon, mean", "floor_horizon_mean", 1),
           ("floor: mean probe error on true latents, px", "probe_floor_mean", 3))
# fmt: on


def method(payload: dict) -> str:
    settings = next(iter(payload["configs"].values()))["settings"]
    steps, trajectories = settings["forecast_steps"], settings["forecast_trajectories"]
    return (
        made_by(payload) + " Each recipe is a named config (`jaxjepa/config.py: VARIANTS`). Per seed: the "
        f"least-squares position probe on fresh trajectories, then {steps}-step latent rollouts from o_0 on "
        f"{trajectories} fresh trajectories (the headline forecast's trajectories, continued). Horizon = rollout steps "
        f"before the position error first exceeds 1 px, per trajectory (capped at {steps}). *Floor horizon*: the same "
        "count for the probe read off the true latents, i.e. what a perfect world model would reach with this encoder "
        "and probe."
    )


def section_recipes(payload: dict) -> str | None:
    configs = payload["configs"]
    rows = [
        [f"`{name}`", overrides_text(e)] + [fmt(e[key], digits) for _, key, digits in COLUMNS]
        for name, e in configs.items()
    ]
    caption = "Position error of the dream per rollout step, every recipe; band = ± std over seeds"
    text = [
        "## Beyond the reference: the horizon of every recipe",
        "",
        method(payload),
        "",
        table(["recipe", "overrides"] + [column for column, _, _ in COLUMNS], rows),
        "",
        figure(payload, "horizon_recipes", caption),
        "",
        recipe_verdict(configs),
    ]
    for name, e in configs.items():
        if "predictor_spectrum" in e:
            text += [
                "",
                spectrum_finding(name, e["predictor_spectrum"]),
                "",
                figure(payload, f"spectrum_{name}", f"Eigenvalues of the affine predictor of `{name}`, every seed"),
            ]
    return "\n".join(text)


def spectrum_finding(name: str, spectrum: dict) -> str:
    """What the eigenvalues of an affine predictor measure (predictor_spectrum), in one paragraph of numbers."""
    spread = lambda values, digits: (
        f"{sum(values) / len(values):.{digits}f} (seeds {min(values):.{digits}f} to {max(values):.{digits}f})"
    )
    return (
        f"The spectrum of `{name}`'s predictor matrix (eigenvalues per seed, computed by the same command): "
        f"of its {spectrum['latent_dim']} eigenvalues, {spread(spectrum['persistent_count'], 1)} are persistent "
        f"(|λ| >= {PERSISTENT_MODULUS}): the smallest of those has |λ| = "
        f"{spread(spectrum['persistent_modulus_min'], 4)} and the largest eigenvalue "
        f"{spread(spectrum['modulus_max'], 4)}. Their angles are whole multiples, up to "
        f"{max(spectrum['highest_harmonic'])}, of one fundamental, {spread(spectrum['fundamental_over_bounce'], 4)} "
        "times the idealised bounce frequency 2π v(H-1) / (2(H-3)) rad/frame; the farthest persistent angle is "
        f"{max(spectrum['off_harmonic_max']):.3f} of a harmonic from its multiple. What this says about the "
        f"world model: [{FINDINGS}]({FINDINGS}#the-affine-predictors-spectrum)."
    )


def against_default(configs: dict, default: dict) -> list[str]:
    lines = []
    for name, e in configs.items():
        if name == "default":
            continue
        better_h = (mean_of(e["horizon_mean"]) or 0) > (mean_of(default["horizon_mean"]) or 0)
        better_p = (mean_of(e["probe_rmse"]) or 9) <= (mean_of(default["probe_rmse"]) or 0)
        lines.append(
            f"- `{name}` ({overrides_text(e)}): horizon {fmt(e['horizon_mean'], 1)} vs the default's "
            f"{fmt(default['horizon_mean'], 1)} ({'longer' if better_h else 'NOT longer'}); probe "
            f"{fmt(e['probe_rmse'])} vs {fmt(default['probe_rmse'])} px ({'no worse' if better_p else 'worse'})."
        )
    return lines


def best_recipe_lines(best: dict, default: dict) -> list[str]:
    h, p = mean_of(best["horizon_mean"]) or 0, mean_of(best["probe_rmse"]) or 9
    return [
        f"- The targets for the shipped `{BEST_RECIPE}`: horizon >= {TARGET_HORIZON} steps: "
        f"{'MET' if h >= TARGET_HORIZON else 'NOT MET'} ({fmt(best['horizon_mean'], 1)}); probe RMSE <= the "
        f"default's: {'MET' if p <= (mean_of(default['probe_rmse']) or 0) else 'NOT MET'} "
        f"({fmt(best['probe_rmse'])} vs {fmt(default['probe_rmse'])} px).",
        f"- A 1 px band tests the probe as much as the dream: even a perfect world model is read through the "
        f"linear probe, whose error on the true latents alone averages {fmt(best['probe_floor_mean'], 2)} px "
        f"(Euclidean) for `{BEST_RECIPE}` and {fmt(default['probe_floor_mean'], 2)} px for the default; the floor "
        f"horizon ({fmt(best['floor_horizon_mean'], 1)} and {fmt(default['floor_horizon_mean'], 1)} steps) bounds "
        "what any predictor on these encoders can score by this measure.",
    ]


def mean_error_at(entry: dict, step: int) -> float:
    """Mean over seeds of the per-seed mean error curve at `step` (its last step if shorter)."""
    curves = entry["curves_per_seed"]["error_curve"]
    return sum(c[min(step, len(c)) - 1] for c in curves) / len(curves)


def multistep_lines(deep: dict, k1: dict) -> list[str]:
    """The multi-step loss, measured on the deep predictor: `long_horizon` (k = 8) against its k = 1 twin."""
    helped = (mean_of(deep["horizon_mean"]) or 0) > (mean_of(k1["horizon_mean"]) or 0)
    last = len(deep["curves_per_seed"]["error_curve"][0])
    return [
        "- The multi-step loss itself, on these seeds: `long_horizon` against the very same recipe with k = 1: "
        f"horizon {fmt(deep['horizon_mean'], 1)} with k = 8 vs {fmt(k1['horizon_mean'], 1)} with k = 1: it "
        f"{'helped.' if helped else 'did NOT help by this measure.'}",
        "- But the multi-step loss is what keeps the dream stable far out: mean position error after 100 and "
        f"{last} steps, {mean_error_at(deep, 100):.2f} and {mean_error_at(deep, last):.2f} px with k = 8 against "
        f"{mean_error_at(k1, 100):.2f} and {mean_error_at(k1, last):.2f} px with k = 1 (mean over seeds of the "
        "per-seed mean curves; see the figure).",
    ]


def recipe_verdict(configs: dict) -> str:
    """What worked and what did not, against the default and the targets; numbers from `configs`."""
    default, best, deep = configs.get("default"), configs.get(BEST_RECIPE), configs.get("long_horizon")
    k1 = configs.get("long_horizon_k1")
    lines = against_default(configs, default) if default else []
    if best and default:
        lines += best_recipe_lines(best, default)
    if best and deep and best is not deep:
        lines.append(
            f"- What made the difference: `{BEST_RECIPE}` is `long_horizon` with an affine predictor (no hidden "
            f"layer) and the VICReg covariance term, trained twice as long: horizon {fmt(best['horizon_mean'], 1)} "
            f"against {fmt(deep['horizon_mean'], 1)}, floor horizon {fmt(best['floor_horizon_mean'], 1)} against "
            f"{fmt(deep['floor_horizon_mean'], 1)}."
        )
    if deep and k1:
        lines += multistep_lines(deep, k1)
    lines.append(
        f"- What was tried on one seed and not regenerated here, and why the affine predictor works: "
        f"[{FINDINGS}]({FINDINGS}#recipes)."
    )
    return "What worked, what did not (each against the default):\n\n" + "\n".join(lines)


SUITE = Suite(
    name="recipes",
    result_file="recipes.json",
    configs=named_configs(RECIPES),
    evaluate=evaluate,
    figures=draw,
    sections=(section_recipes,),
    description="horizon (300-step rollouts) and probe of every recipe tried: results/recipes.json",
)

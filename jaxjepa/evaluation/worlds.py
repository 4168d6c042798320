"""The worlds suite (results/worlds.json): harder worlds (32x32, 64x64, two logos, random speeds, pixel noise),
each trained with the reference recipe and with the best one (the convolutional encoder's worlds with the
reference recipe only: BEST_RECIPE_SKIPPED_FOR): probe, horizon and teleport detection per seed. The measures
run one seed at a time (`lax.map`, not vmap), so a 64x64 world's rollouts fit in memory.
"""

from __future__ import annotations

import jax

from jaxjepa.config import BEST_RECIPE, VARIANTS, WORLDS, Config, get_config
from jaxjepa.evaluation import anomaly, forecast
from jaxjepa.evaluation.report import FINDINGS, configs_summary, fmt, made_by, table
from jaxjepa.evaluation.runs import SeedRuns
from jaxjepa.evaluation.settings import EvalSettings, summarise
from jaxjepa.evaluation.suite import Context, Evaluated, Suite, overrides_json
from jaxjepa.runner import stacked_keys

# Worlds not trained with the best recipe, and why (the report says so when any are)
BEST_RECIPE_SKIPPED_FOR: tuple[str, ...] = ("world32_cnn", "world64_cnn")
CNN_WORLD_NOTE = ("a `_cnn` world is its namesake with the convolutional encoder, there to compare encoders under one "
                  "recipe; it has no decoder, so no pixel surprise")  # fmt: skip
SETTINGS = EvalSettings(forecast_steps=100, forecast_trajectories=128, anomaly_trajectories=128)


def combined_name(world_name: str, recipe: str) -> str:
    """The run's name (its directory under runs/): the reference world's runs are the recipes' own."""
    if world_name == "default":
        return recipe
    return world_name if recipe == "default" else f"{world_name}+{recipe}"


def world_configs(*_) -> dict[str, Config]:
    """Each harder world (its VARIANTS entry) trained with each recipe (its VARIANTS entry on top)."""
    return {
        combined_name(w, r): get_config(w, **VARIANTS[r])
        for w in WORLDS
        for r in ("default", BEST_RECIPE)
        if not (r == BEST_RECIPE and w in BEST_RECIPE_SKIPPED_FOR)
    }


def world_figures(params: dict, eval_key: jax.Array, config: Config, settings: EvalSettings) -> dict:
    """A harder world: probe RMSE, horizon and teleport detection of one seed. A run without a decoder
    (decoder_steps 0) has no pixel surprise: its untrained decoder's figures would be noise, so none are kept."""
    horizon = forecast.horizon_figures(params, eval_key, config, settings)
    teleport = anomaly.detect(params, eval_key, config, settings, kind="teleport")
    spaces = ("latent", "pixel") if config.has_decoder else ("latent",)
    return {
        **{k: v for k, v in horizon.items() if not k.endswith("_curve")},
        **{f"teleport_hit_rate_{space}": teleport[space]["hit_rate_within_1"] for space in spaces},
        **{f"teleport_roc_auc_{space}": teleport[space]["roc_auc"] for space in spaces},
    }


def config_entry(runs: SeedRuns, need_std: bool) -> dict:
    _, eval_keys = stacked_keys(runs.seeds)
    one_seed = lambda seed: world_figures(seed[0], seed[1], runs.config, SETTINGS)
    measured = jax.device_get(jax.jit(lambda ps, ks: jax.lax.map(one_seed, (ps, ks)))(runs.params, eval_keys))
    return {
        "overrides": overrides_json(runs.config),
        **{k: summarise(v, need_std=need_std) for k, v in measured.items()},
        "settings": SETTINGS.to_dict(),
    }


def evaluate(loaded: dict[str, SeedRuns], context: Context) -> Evaluated:
    return Evaluated({"configs": {name: config_entry(runs, context.need_std) for name, runs in loaded.items()}}, {})


# fmt: off
# (column, key in a config's entry, digits)
COLUMNS = (("probe RMSE, px", "probe_rmse", 3), ("floor: probe error on true latents, px", "probe_floor_mean", 2),
           ("horizon, mean", "horizon_mean", 1), ("floor horizon, mean", "floor_horizon_mean", 1),
           ("teleport hit rate ±1, latent", "teleport_hit_rate_latent", 3),
           ("teleport hit rate ±1, pixel", "teleport_hit_rate_pixel", 3),
           ("teleport ROC-AUC, latent", "teleport_roc_auc_latent", 4))
# fmt: on


def world_and_recipe(name: str) -> tuple[str, str]:
    """A run name as (world, recipe): the reference world's runs carry the recipe's name."""
    if name in ("default", BEST_RECIPE):
        return "default (16x16)", name
    world, _, recipe = name.partition("+")
    return world, recipe or "default"


def skipped_note(configs: dict) -> str:
    worlds = {name.partition("+")[0] for name in configs if name not in ("default", BEST_RECIPE)}
    skipped = sorted(w for w in worlds if not any(name.startswith(w + "+") for name in configs))
    if not skipped:
        return ""
    why = f" ({CNN_WORLD_NOTE})" if any(w.endswith("_cnn") for w in skipped) else ""
    return f" Trained with the reference recipe only: {', '.join(f'`{w}`' for w in skipped)}{why}."


def method(payload: dict) -> str:
    settings, n = next(iter(payload["configs"].values()))["settings"], len(payload["seeds"])
    few = f" {n} seed{'s' if n > 1 else ''} per config, not 8 (why: [{FINDINGS}]({FINDINGS}#harder-worlds))."
    return (
        made_by(payload) + (few if n < 8 else "") + " Each world is a named config; each is trained with the "
        f"reference recipe and with `{BEST_RECIPE}` on top. Horizon: {settings['forecast_steps']}-step rollouts on "
        f"{settings['forecast_trajectories']} trajectories; teleport: {settings['anomaly_trajectories']} "
        "trajectories, hit = the largest surprise within ±1 frame of it." + skipped_note(payload["configs"])
    )


def section_worlds(payload: dict) -> str | None:
    rows = [
        [f"`{part}`" for part in world_and_recipe(name)] + [fmt(e.get(key), digits) for _, key, digits in COLUMNS]
        for name, e in payload["configs"].items()
    ]
    header = ["world", "recipe"] + [column for column, _, _ in COLUMNS]
    findings = f"Where the toy domain stops telling the truth: [{FINDINGS}]({FINDINGS}#harder-worlds)."
    return "\n\n".join(["## Beyond the reference: harder worlds", method(payload), table(header, rows), findings])


SUITE = Suite(
    name="worlds", result_file="worlds.json", configs=world_configs, evaluate=evaluate,
    figures=lambda evaluated, out: {},  # the table is all it reports
    sections=(section_worlds,), summary=configs_summary,
    description="harder worlds (32x32, 64x64, two logos, random speeds, noise), default and the best recipe: "
    "results/worlds.json",
)  # fmt: skip

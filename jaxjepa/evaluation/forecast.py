"""How far ahead the world model stays on track: the latent rollout and its horizon.

From o_0 = (f_0, f_1), encoded once by the target encoder, the predictor is applied to its own output K
times (`rollout.rollout_latents`, one `lax.scan`). Dream k (k = 1..K), the predicted latent of
o_k = (f_k, f_{k+1}), is scored against the truth of its newest frame f_{k+1}:
- position error: px between the position probe's reading of the dream and the true position; beside it
  the floor, the same probe read off the true latent E_ema(o_k) (what a perfect world model would score),
  and the persistence baseline: the position f_1 showed;
- decoded-frame MSE of the decoder's rendering of the dream, beside persistence: f_1 held for ever.

Horizon: the rollout steps that stay within `horizon_px` before the error first exceeds it (0 when the
very first step is off; K, "never left", when it stays inside all K steps), as REFERENCE.md counts "steps
until position error > 1 px". Reported per trajectory and averaged (the headline), and also where the
mean error curve crosses the band (one curve per seed, as the reference measured).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxjepa import models, probe, world
from jaxjepa.config import Config
from jaxjepa.evaluation import representation
from jaxjepa.evaluation.settings import EvalSettings, purpose_key
from jaxjepa.rollout import rollout_latents

WITHIN_STEPS = 100  # within_100_fraction: the share of rollouts inside the band for this many steps
REPORTED_STEPS = (1, 10, 20, 30, 60, 100)  # REFERENCE.md quotes 1 / 10 / 20 / 60; its article 1 and 30
# The per-seed scalars of `forecast` that are summarised over seeds.
SUMMARY_FIGURES = ("probe_floor_mean", "horizon_mean", "horizon_median", "never_left_fraction", "horizon_of_mean_curve",
                   "half_persistence_steps_mean", "half_persistence_steps_of_mean_curve")  # fmt: skip

# The figures of `forecast` that read the decoder's output: missing where a run trained no decoder
# (headline.without_decoder), beside the "decoded_mse" curve.
DECODED_FIGURES = ("half_persistence_steps_mean", "half_persistence_steps_of_mean_curve", "example_decoded")


def steps_within(error: jax.Array, limit: float | jax.Array) -> jax.Array:
    """[..., K] -> [...]: how many leading entries are <= limit (K if all are): the horizon."""
    exceeded = error > limit
    return jnp.where(exceeded.any(axis=-1), jnp.argmax(exceeded, axis=-1), error.shape[-1])


def rollout_errors(
    params: dict, eval_key: jax.Array, position_probe: jax.Array, config: Config, settings: EvalSettings
) -> dict:
    """Per trajectory and step: position error, decoded MSE, persistence MSE ([n, K] each), and the decoded dream
    frames [n, K, H, W], on fresh trajectories of K + 2 frames (o_0 and the truths) from the seed's forecast key."""
    steps, n = settings.forecast_steps, settings.forecast_trajectories
    traj = world.trajectories(purpose_key(eval_key, "forecast"), n, steps + 2, config, margin=config.eval_start_margin)
    obs = world.flatten_observations(world.observations(traj.frames))  # o_0 .. o_K, [n, K + 1, 2 H W]
    encode = lambda o: models.encoder(config).apply(params["target"], o)
    dream = rollout_latents(config, params, encode(obs[:, 0]), steps)  # [n, K, d]
    true_frames, true_positions = traj.frames[:, 2:], traj.positions[:, 2:]  # of f_{k+1}, k = 1..K
    read = lambda z: probe.apply(probe.Probe(position_probe), z)
    distance = lambda positions: jnp.linalg.norm(positions - true_positions, axis=-1)
    mse = lambda frames: jnp.mean((frames - true_frames) ** 2, axis=(-2, -1))
    decoded = models.decoder(config).apply(params["decoder"], dream).reshape(true_frames.shape)
    return {
        "position_error": distance(read(dream)),
        # the floor: the same probe on the true latents E_ema(o_k) of the observations the dreams stand for
        "probe_floor": distance(read(encode(obs[:, 1:]))),
        "persistence_position_error": distance(traj.positions[:, 1:2]),  # where f_1 showed it, held for ever
        "decoded_mse": mse(decoded),
        "persistence_mse": mse(traj.frames[:, 1:2]),  # f_1, held for ever
        "decoded": decoded,
        "true_frames": true_frames,
    }


def forecast(
    params: dict, eval_key: jax.Array, position_probe: jax.Array, config: Config, settings: EvalSettings
) -> dict:
    """One seed's forecast figures on `forecast_trajectories` fresh trajectories."""
    errors = rollout_errors(params, eval_key, position_probe, config, settings)
    per_trajectory = steps_within(errors["position_error"], settings.horizon_px)
    curves = {
        k: errors[k].mean(axis=0)
        for k in ("position_error", "probe_floor", "persistence_position_error", "decoded_mse", "persistence_mse")
    }
    # the reference's second horizon: steps until decoded MSE > half the persistence baseline's
    half_persistence = lambda e: steps_within(e["decoded_mse"] - 0.5 * e["persistence_mse"], 0.0)
    return {
        "probe_floor_mean": errors["probe_floor"].mean(),
        "horizon_mean": per_trajectory.mean(),
        "horizon_median": jnp.median(per_trajectory),
        "never_left_fraction": jnp.mean(per_trajectory == settings.forecast_steps),
        "horizon_of_mean_curve": steps_within(curves["position_error"], settings.horizon_px),
        "half_persistence_steps_mean": half_persistence(errors).mean(),
        "half_persistence_steps_of_mean_curve": half_persistence(curves),
        "curves": curves,
        "example_decoded": errors["decoded"][: settings.examples],
        "example_true": errors["true_frames"][: settings.examples],
        "example_position_error": errors["position_error"][: settings.examples],
    }


def horizon_figures(params: dict, eval_key: jax.Array, config: Config, settings: EvalSettings) -> dict:
    """Probe RMSE and the long rollout of one seed, on the headline forecast's trajectories: per-trajectory horizon
    (mean, median, share that stays inside the band for 100 steps), the floor horizon, and the mean error curves [K]."""
    linear = representation.linear_probes(params, eval_key, config, 1)
    errors = rollout_errors(params, eval_key, linear["position_probe"], config, settings)
    horizon = steps_within(errors["position_error"], settings.horizon_px)
    floor = steps_within(errors["probe_floor"], settings.horizon_px)
    return {
        "probe_rmse": linear["position_rmse"],
        "velocity_rmse": linear["velocity_rmse"],
        "horizon_mean": horizon.mean(),
        "horizon_median": jnp.median(horizon),
        "within_100_fraction": jnp.mean(horizon >= min(WITHIN_STEPS, settings.forecast_steps)),
        "floor_horizon_mean": floor.mean(),
        "probe_floor_mean": errors["probe_floor"].mean(),
        "error_curve": errors["position_error"].mean(axis=0),
        "floor_curve": errors["probe_floor"].mean(axis=0),
    }

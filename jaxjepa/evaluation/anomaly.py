"""Anomaly detection by surprise: the world model is surprised where the world breaks its physics.

Surprise of the step o_t -> o_{t+1}, for t = 0 .. T - 3:
- latent (a pure JEPA, no decoder):  ||P(E_ema(o_t)) - E_ema(o_{t+1})||^2
- pixel (through the decoder):       mean over pixels of (D(P(E_ema(o_t))) - f_{t+2})^2
The context is encoded by the *target* encoder E_ema, like the target: the decoder and the probe were
trained on it, `jaxjepa.api` encodes with it, and so does the reference's pixel surprise. (The online
encoder E, which the predictor saw in training, is within an EMA of it; the latent ROC-AUC with the
literal formula P(E(o_t)) is reported too.)

Each surprise is indexed by the frame it scores, the newest frame f_{t+2} of o_{t+1}: an anomaly at frame
t_a first shows in f_{t_a}, so it must be caught AT frame t_a. (The reference indexed by t and reported its
detections "2 frames early": bookkeeping, not foresight.) Frames 0 and 1, the first context, are never scored.

Per seed: `anomaly_trajectories` trajectories with an anomaly at a random frame, as many normal ones, and
as many more normal ones that only set the threshold (median + k MAD of their frames' surprise), so false
alarms are counted on frames the threshold never saw.

Kinds: "teleport" is the reference's; the subtle ones are `world.ANOMALIES`' "flip" (mid-air reversal),
"speed" (x0.5 or x1.5), "freeze" and "jump" (1-2 px), injected at a frame with no wall bounce within
`MID_AIR_FRAMES` frames of it in the untouched trajectory: a reversal next to a wall is a bounce, and a
detector must not get credit for a wall. A teleport that moves the logo less than `invisible_px` from where
it would have been is reported apart (a viewer could not see it either); the subtle ones all count, however
small: being small is their point (a speed change moves the logo 0.53 px on its first frame).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxjepa import models, world
from jaxjepa.config import Config
from jaxjepa.evaluation.settings import EvalSettings, purpose_key

FIRST_SCORED_FRAME = 2  # surprise[i] scores frame i + 2
SUBTLE_KINDS = ("flip", "speed", "freeze", "jump")
MID_AIR_FRAMES = 2  # a subtle anomaly's frame has no wall bounce within this many frames of it
ROC_FALSE_POSITIVE_RATES = (0.0,) + tuple(10.0 ** (-4 + i / 10) for i in range(41))  # 0, then 1e-4 .. 1


def trajectory_fn(kind: str):
    """world.trajectory with anomaly `kind`, an unknown one refused here, before anything is traced."""
    world.anomaly_injector(kind)
    return lambda key, length, config, **kw: world.trajectory(key, length, config, anomaly=kind, **kw)


def surprise(params: dict, frames: jax.Array, config: Config, context: str = "target") -> dict:
    """frames [T, H, W] -> {'latent', 'pixel'} [T - 2]; entry i scores frame i + 2 (see module doc)."""
    encode = models.encoder(config).apply
    obs = world.flatten_observations(world.observations(frames))  # o_0 .. o_{T-2}
    targets = encode(params["target"], obs)
    context_latents = targets if context == "target" else encode(params["encoder"], obs)
    predicted = models.predictor(config).apply(params["predictor"], context_latents[:-1])  # from o_t
    latent = jnp.sum((predicted - targets[1:]) ** 2, axis=-1)  # against o_{t+1}
    rendered = models.decoder(config).apply(params["decoder"], predicted).reshape(frames[2:].shape)
    pixel = jnp.mean((rendered - frames[2:]) ** 2, axis=(-2, -1))  # against f_{t+2}
    return {"latent": latent, "pixel": pixel}


def roc_auc(positive: jax.Array, negative: jax.Array, positive_mask: jax.Array | None = None) -> jax.Array:
    """Probability that a positive scores above a negative, ties counting half (Mann-Whitney U / n m).
    Sorting the negatives once makes it O((n + m) log m); masked-out positives do not count."""
    positive, negative = positive.reshape(-1), jnp.sort(negative.reshape(-1))
    below = jnp.searchsorted(negative, positive, side="left")
    at_or_below = jnp.searchsorted(negative, positive, side="right")
    wins = (below + 0.5 * (at_or_below - below)) / negative.size
    mask = jnp.ones_like(wins) if positive_mask is None else positive_mask.reshape(-1).astype(wins.dtype)
    return jnp.sum(wins * mask) / jnp.sum(mask)


def roc_curve(positive: jax.Array, negative: jax.Array, positive_mask: jax.Array) -> jax.Array:
    """True-positive rate at each of ROC_FALSE_POSITIVE_RATES: the threshold is the negatives' (1 - fpr)
    quantile, so the points lie on the empirical ROC curve."""
    thresholds = jnp.quantile(negative.reshape(-1), 1.0 - jnp.asarray(ROC_FALSE_POSITIVE_RATES))
    above = positive.reshape(-1)[None, :] > thresholds[:, None]
    return jnp.sum(above * positive_mask.reshape(-1)[None, :], axis=1) / jnp.sum(positive_mask)


def median_mad_threshold(scores: jax.Array, mads: float) -> jax.Array:
    """median + mads * MAD (raw median absolute deviation) of all scores."""
    median = jnp.median(scores)
    return median + mads * jnp.median(jnp.abs(scores - median))


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean over the masked entries; NaN when there are none (summarise() drops such seeds)."""
    mask = mask.astype(jnp.float32)
    return jnp.sum(values * mask) / jnp.sum(mask)


def near_bounce(velocities: jax.Array, frames: int = 1) -> jax.Array:
    """[n, T, 2] velocities -> [n, T]: does frame f lie within `frames` frames of a wall bounce (a frame whose
    velocity differs from the one before)? Bounces are the normal world's surprises."""
    length = velocities.shape[1]
    bounce = jnp.any(velocities[:, 1:] != velocities[:, :-1], axis=-1)  # [n, T - 1]: a bounce at frame j + 1
    padded = jnp.pad(bounce, ((0, 0), (frames + 1, frames)))  # entry g + frames: frame g, so f's window starts at f
    return jnp.any(jnp.stack([padded[:, i : i + length] for i in range(2 * frames + 1)]), axis=0)


def mid_air_frames(key: jax.Array, velocities: jax.Array, first: int, stop: int) -> jax.Array:
    """[n, T, 2] velocities of untouched trajectories -> [n] random frames in [first, stop) with no
    wall bounce within MID_AIR_FRAMES frames of them. (If a trajectory had no such frame, any frame in
    range would be drawn; with 0.75 px/frame in a 13 px box most frames qualify.)"""
    frames = jnp.arange(velocities.shape[1])
    allowed = (frames >= first) & (frames < stop)
    eligible = allowed & ~near_bounce(velocities, MID_AIR_FRAMES)
    eligible = jnp.where(eligible.any(axis=1, keepdims=True), eligible, allowed)
    return jax.random.categorical(key, jnp.where(eligible, 0.0, -jnp.inf), axis=1)


def at_frames(scores: jax.Array, frames_at: jax.Array) -> jax.Array:
    """[n, T - 2] surprise -> [n]: the score of each trajectory's anomaly frame."""
    return jnp.take_along_axis(scores, (frames_at - FIRST_SCORED_FRAME)[:, None], axis=1)[:, 0]


def detection_figures(
    anomalous: jax.Array,
    normal: jax.Array,
    calibration: jax.Array,
    anomaly_frames: jax.Array,
    visible: jax.Array,
    mads: float,
    normal_near_bounce: jax.Array | None = None,
) -> dict:
    """Scores [n, S] per trajectory and scored frame (entry i scores frame i + 2), the frame where each
    anomaly first shows [n], and which anomalies are visible [n] -> the detection figures of one seed.
    With `normal_near_bounce` [n, S], also the shares of false alarms and of all normal frames next to a wall bounce."""
    at_anomaly = at_frames(anomalous, anomaly_frames)
    peak_frame = jnp.argmax(anomalous, axis=1) + FIRST_SCORED_FRAME
    hit_exact = peak_frame == anomaly_frames
    hit_near = jnp.abs(peak_frame - anomaly_frames) <= 1
    ratio = anomalous.max(axis=1) / jnp.median(anomalous, axis=1)  # the reference's peak / median
    threshold = median_mad_threshold(calibration, mads)
    own_threshold = jax.vmap(median_mad_threshold, in_axes=(0, None))  # the reference: each trace its own
    invisible = ~visible
    figures = {
        "hit_rate": masked_mean(hit_exact, visible),
        "hit_rate_within_1": masked_mean(hit_near, visible),
        "peak_median_ratio_median": jnp.nanmedian(jnp.where(visible, ratio, jnp.nan)),
        "peak_median_ratio_worst": jnp.where(visible.any(), jnp.min(jnp.where(visible, ratio, jnp.inf)), jnp.nan),
        "roc_auc": roc_auc(at_anomaly, normal, visible),
        "roc_auc_all": roc_auc(at_anomaly, normal),
        "threshold": threshold,
        "detected_at_threshold": masked_mean(at_anomaly > threshold, visible),
        "false_alarms_per_1000": 1000.0 * jnp.mean(normal > threshold),
        "detected_own_threshold": masked_mean(at_anomaly > own_threshold(anomalous, mads), visible),
        "false_alarms_per_1000_own_threshold": 1000.0 * jnp.mean(normal > own_threshold(normal, mads)[:, None]),
        "invisible_hit_rate": masked_mean(hit_exact, invisible),
        "invisible_hit_rate_within_1": masked_mean(hit_near, invisible),
        "invisible_roc_auc": roc_auc(at_anomaly, normal, invisible),
    }
    if normal_near_bounce is not None:
        figures["false_alarms_near_bounce_share"] = masked_mean(normal_near_bounce, normal > threshold)
        figures["normal_frames_near_bounce_share"] = jnp.mean(normal_near_bounce)
    return figures


class Scenario(NamedTuple):
    """One seed's trajectories for an anomaly detection: broken ones and normal ones."""

    broken: world.Trajectory  # the anomaly at frames_at
    normal: world.Trajectory  # the negatives of the ROC, where false alarms are counted
    calibration: world.Trajectory  # more normal ones that only set the threshold
    frames_at: jax.Array  # [n] the frame where each anomaly first shows
    displacement: jax.Array  # [n] px between where the logo lands and where it would have been
    visible: jax.Array  # [n] bool: counted among the visible anomalies


def scenario(key: jax.Array, config: Config, settings: EvalSettings, kind: str, frame: jax.Array | int) -> Scenario:
    """`frame` < 0: each trajectory's anomaly at a random frame (mid-air for the subtle kinds); else at `frame`."""
    n, length, first = settings.anomaly_trajectories, settings.anomaly_length, settings.anomaly_first_frame
    traj_key, frame_key, normal_key, calibration_key = jax.random.split(key, 4)
    traj_keys = jax.random.split(traj_key, n)
    margin = config.eval_start_margin
    # the same trajectories, left alone: where the logo would have been at the anomaly frame
    untouched = jax.vmap(lambda k: world.trajectory(k, length, config, margin=margin))(traj_keys)
    if kind in SUBTLE_KINDS:
        random_frames = mid_air_frames(frame_key, untouched.velocities, first, length - first)
    else:
        random_frames = jax.random.randint(frame_key, (n,), first, length - first)
    frames_at = jnp.where(frame < 0, random_frames, frame)
    make = trajectory_fn(kind)
    broken = jax.vmap(lambda k, t: make(k, length, config, margin=margin, anomaly_frame=t))(traj_keys, frames_at)
    at = lambda positions: jnp.take_along_axis(positions, frames_at[:, None, None], axis=1)[:, 0]
    displacement = jnp.linalg.norm(at(broken.positions) - at(untouched.positions), axis=-1)
    visible = displacement > settings.invisible_px if kind not in SUBTLE_KINDS else jnp.ones((n,), bool)
    normal = world.trajectories(normal_key, n, length, config, margin=margin)
    calibration = world.trajectories(calibration_key, n, length, config, margin=margin)
    return Scenario(broken, normal, calibration, frames_at, displacement, visible)


def examples(case: Scenario, anomalous: dict, figures: dict, count: int) -> dict:
    """The first `count` anomalous traces and the thresholds: what the surprise figure draws."""
    return {
        "frame": case.frames_at[:count],
        "latent": anomalous["latent"][:count],
        "pixel": anomalous["pixel"][:count],
        "visible": case.visible[:count],
        "latent_threshold": figures["latent"]["threshold"],
        "pixel_threshold": figures["pixel"]["threshold"],
    }


def detect(
    params: dict,
    eval_key: jax.Array,
    config: Config,
    settings: EvalSettings,
    kind: str = "teleport",
    frame: jax.Array | int = -1,
) -> dict:
    """One seed's anomaly figures for anomaly `kind` at a random frame (or at `frame` >= 0 for every
    trajectory, the reference's fixed-frame protocol), latent and pixel surprise side by side. `frame`
    may be traced (-1: random frames), so that both protocols share one compiled program."""
    key = jax.random.fold_in(purpose_key(eval_key, "anomaly"), frame + 1)  # 0 for random frames
    case = scenario(key, config, settings, kind, frame)
    trajectories = {"anomalous": case.broken, "normal": case.normal, "calibration": case.calibration}
    scores = {name: jax.vmap(lambda f: surprise(params, f, config))(t.frames) for name, t in trajectories.items()}
    bounces = near_bounce(case.normal.velocities)[:, FIRST_SCORED_FRAME:]
    figures = {
        space: detection_figures(scores["anomalous"][space], scores["normal"][space], scores["calibration"][space],
                                 case.frames_at, case.visible, settings.threshold_mads, bounces)
        for space in ("latent", "pixel")
    }  # fmt: skip
    online = jax.vmap(lambda f: surprise(params, f, config, context="online")["latent"])
    online_at = at_frames(online(case.broken.frames), case.frames_at)
    figures["latent_online_context"] = {"roc_auc": roc_auc(online_at, online(case.normal.frames), case.visible)}
    figures["roc_curve"] = {
        space: roc_curve(at_frames(scores["anomalous"][space], case.frames_at), scores["normal"][space], case.visible)
        for space in ("latent", "pixel")
    }
    figures |= {"visible_count": case.visible.sum(), "invisible_count": (~case.visible).sum()}
    figures["displacement_px"] = case.displacement.mean()  # how far the anomaly moved the logo on its first frame
    figures["example"] = examples(case, scores["anomalous"], figures, settings.examples)
    return figures

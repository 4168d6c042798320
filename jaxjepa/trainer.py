"""Training: `make_train(config)` returns a pure `train(key)`; one compiled program runs a whole run.

Why this shape (after PureJaxRL): everything, from drawing the data set to the last decoder step, is
a function of one PRNG key. So one run is `jax.jit(train)(key)`, N seeds are
`jax.jit(jax.vmap(train))(keys)` with no other code path, and the same seed gives the same numbers.
The training loop is a `lax.scan` over steps: no Python loop, no host round trip per step.

One JEPA step, on a batch of pairs (o_t, o_{t+1}) drawn uniformly with replacement:
    z      = E(o_t)                      online encoder, trained
    z_hat  = P(z)                        predictor: the world model
    z_tgt  = sg(E_ema(o_{t+1}))          target encoder: EMA of E, no gradient
    loss   = MSE(z_hat, z_tgt) + var_weight * variance_hinge(z) + cov_weight * covariance(z)
then Adam updates E and P, and E_ema <- decay * E_ema + (1 - decay) * E.
After the JEPA, the decoder learns to render E_ema's latent of o_t as the frame f_{t+1}.

Multi-step latent training (config.rollout_steps = k > 1): from z = E(o_t) the predictor is
unrolled k times on its own output (a `lax.scan`, gradient through the unroll) and step j is scored
against sg(E_ema(o_{t+j})), with weights rollout_decay^(j-1) and an optional curriculum that grows the
active k. A one-step predictor is never trained on its own outputs, so its rollouts drift; this one is.
With k = 1 the step above runs unchanged, so the default recipe is the reference's bit for bit.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxjepa import losses, models, steer, two_rooms, world
from jaxjepa.config import Config, check_seed
from jaxjepa.ema import EmaState, ema_target


class TrainResult(NamedTuple):
    params: dict  # {'encoder', 'target', 'predictor', 'decoder'} and 'idm' where idm_weight > 0; flax variables dicts
    metrics: dict  # per-step curves [steps] (`regularised`'s terms, and a rollout's or an inverse-dynamics head's
    # where the config has them); decoder_loss [decoder_steps]


ONLINE_NETWORKS = ("encoder", "predictor", "idm")  # what the optimiser trains, those present in params


class JepaState(NamedTuple):
    online: dict  # {'encoder', 'predictor'} and 'idm' when the inverse-dynamics term is on
    ema: EmaState  # the target encoder
    opt_state: Any


def seed_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """The two independent keys of a seed: one for training, one for evaluation (never seen in training).
    ValueError for a seed that is not a whole number in [0, 2**32)."""
    train_key, eval_key = jax.random.split(jax.random.key(check_seed(seed)))
    return train_key, eval_key


class TrainKeys(NamedTuple):
    """The four independent keys one run's train key splits into, in this order."""

    data: jax.Array
    init: jax.Array
    jepa: jax.Array
    decoder: jax.Array


def train_keys(train_key: jax.Array) -> TrainKeys:
    return TrainKeys(*jax.random.split(train_key, 4))


def training_frames(key: jax.Array, config: Config) -> jax.Array:
    """The training set as frames [N, T, C*H*W] (C = 2 channels in Two Rooms, else 1); pairs are gathered from it
    per batch (cheaper than materialising 24,800 x 2 x 512 observation pairs)."""
    return training_data(key, config)[0]


def training_data(key: jax.Array, config: Config) -> tuple[jax.Array, jax.Array | None]:
    """(frames [N, T, C*H*W], actions [N, T, 2] in the worlds driven by actions, else None): actions[n, t] is
    applied before frame t, so the step from o_t = (f_t, f_t+1) to o_t+1 is driven by actions[n, t + 2]."""
    shape = (config.train_sequences, config.seq_len, -1)
    if config.world == "steer":
        traj = steer.trajectories(key, config.train_sequences, config.seq_len, config)
        return traj.frames.reshape(shape), traj.actions
    if config.world == "two_rooms":  # its actions[t] moves frame t to t + 1: shifted to the steer convention
        traj = two_rooms.trajectories(key, config.train_sequences, config.seq_len, config)
        return traj.frames.reshape(shape), jnp.pad(traj.actions, ((0, 0), (1, 0), (0, 0)))
    return world.trajectories(key, config.train_sequences, config.seq_len, config).frames.reshape(shape), None


def window_actions(actions: jax.Array, starts: jax.Array, k: int) -> jax.Array:
    """[B, k, 2]: the actions that drive o_t -> o_t+1 .. o_t+k-1 -> o_t+k in each window (see training_data)."""
    flat = actions.reshape(-1, actions.shape[-1])
    return jax.vmap(lambda start: jax.lax.dynamic_slice_in_dim(flat, start + 2, k))(starts)


def draw_starts(key: jax.Array, frames: jax.Array, batch_size: int, k: int) -> jax.Array:
    """[batch_size] windows drawn uniformly with replacement, each the flat index seq * T + t of its
    first frame f_t, with t + k + 1 inside the sequence: o_t = (f_t, f_t+1) and its k successors."""
    n_seq, seq_len, _ = frames.shape
    windows = seq_len - 1 - k
    idx = jax.random.randint(key, (batch_size,), 0, n_seq * windows)
    return (idx // windows) * seq_len + idx % windows


def windows_at(frames: jax.Array, starts: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """The context o_t [B, 2 HW] and the k true future observations o_t+1 .. o_t+k [B, k, 2 HW] of each
    window. A sequence's frames lie end to end in memory, so a window is one contiguous slice of k + 2
    frames and o_t+j is its part from frame j to j + 2 (faster than gathering frame by frame)."""
    hw = frames.shape[-1]
    flat = frames.reshape(-1)
    clips = jax.vmap(lambda start: jax.lax.dynamic_slice(flat, (start * hw,), ((k + 2) * hw,)))(starts)
    obs = jnp.stack([clips[:, j * hw : (j + 2) * hw] for j in range(k + 1)], axis=1)  # o_t .. o_t+k
    return obs[:, 0], obs[:, 1:]


def sample_windows(key: jax.Array, frames: jax.Array, batch_size: int, k: int) -> tuple[jax.Array, jax.Array]:
    """`windows_at` on `batch_size` windows drawn from `key`: a batch of (o_t, [o_t+1 .. o_t+k])."""
    return windows_at(frames, draw_starts(key, frames, batch_size, k), k)


def rollout_weights(config: Config, step: jax.Array | int | None = None) -> jax.Array:
    """[k] weights of the unrolled steps, decay ** (j - 1); with a curriculum, steps beyond the active
    k (growing linearly from 1 to k over `rollout_curriculum` training steps) weigh 0."""
    k = config.rollout_steps
    weights = config.rollout_decay ** jnp.arange(k, dtype=jnp.float32)
    if config.rollout_curriculum and step is not None:
        progress = jnp.minimum(step / config.rollout_curriculum, 1.0)
        active = 1 + jnp.floor(progress * (k - 1))
        weights = weights * (jnp.arange(1, k + 1) <= active)
    return weights


def multistep_loss(
    online: dict,
    target_params: dict,
    obs: jax.Array,
    future_obs: jax.Array,
    weights: jax.Array,
    config: Config,
    future_actions: jax.Array | None = None,
    step: jax.Array | int = 0,
):
    """The predictor unrolled k steps from E(o_t) in latent space (a `lax.scan`, gradient through the
    whole unroll), each step scored against sg(E_ema(o_{t+j})): sum_j w_j MSE_j / sum_j w_j. The
    variance and covariance terms act on the context latents, as in the one-step loss. An
    action-conditioned predictor is fed the true actions [B, k, 2] that drove each step."""
    encode, predict = models.encoder(config).apply, models.predictor(config).apply
    z = encode(online["encoder"], obs)

    def unroll(z_prev, action):
        z_next = predict(online["predictor"], models.predictor_input(z_prev, action))
        return z_next, z_next

    actions = None if future_actions is None else jnp.moveaxis(future_actions, 1, 0)
    _, dreams = jax.lax.scan(unroll, z, actions, length=future_obs.shape[1])  # [k, B, d]
    z_targets = target_latents(online, target_params, jnp.moveaxis(future_obs, 1, 0), config)  # [k, B, d]
    per_step = jnp.mean((dreams - z_targets) ** 2, axis=(1, 2))  # [k]
    z_next = online_next_latents(online, future_obs[:, 0], config)
    total, metrics = regularised(jnp.sum(weights * per_step) / jnp.sum(weights), z, config, z_next, step)
    first_action = None if future_actions is None else future_actions[:, 0]
    total, metrics = with_inverse_dynamics(total, metrics, online, z, z_next, first_action, config)
    return total, {**metrics, "pred_loss_first": per_step[0], "pred_loss_last": per_step[-1]}


def learning_rate(config: Config) -> optax.Schedule | float:
    if config.lr_schedule == "cosine":
        return optax.warmup_cosine_decay_schedule(0.0, config.lr, config.warmup_steps, config.steps)
    return config.lr


def target_latents(online: dict, target_params: dict, obs: jax.Array, config: Config) -> jax.Array:
    """What the predictor must hit: sg(E_ema(obs)); in the no-stop-gradient ablation (target 'online'),
    the online encoder's E(obs), with the gradient flowing through it."""
    encode = models.encoder(config).apply
    if config.target == "online":
        return encode(online["encoder"], obs)
    return jax.lax.stop_gradient(encode(target_params, obs))


def regularised(
    pred: jax.Array, z: jax.Array, config: Config, z_next: jax.Array | None = None, step: jax.Array | int = 0
):
    """The prediction loss plus the anti-collapse terms on the batch of context latents z: (total, metrics).
    VICReg (variance + covariance), or SIGReg in its place (regulariser "sigreg", fresh random directions
    each step, drawn from the step's number alone: every seed projects on the same ones); time-smoothness on
    (z, z_next = E(o_t+1)) when its weight is on. A term whose weight is 0 adds nothing to the total: the
    covariance term is then not computed (its metric reads 0) and time-smoothness reports no metric; with VICReg
    the variance term is computed and reported whatever its weight, so the ablation's variants without it still
    show the spread it would have held."""
    if config.regulariser == "sigreg":
        directions_key = jax.random.fold_in(jax.random.key(0), step)
        anti_collapse = losses.sigreg_loss(z, directions_key, config.sigreg_projections, config.sigreg_knots)
        total, extra = pred + config.sigreg_weight * anti_collapse, {"sigreg_loss": anti_collapse}
        var = cov = jnp.zeros(())
    else:
        var = losses.variance_loss(z, config.var_eps, config.var_target)
        cov = losses.covariance_loss(z) if config.cov_weight else jnp.zeros(())
        total, extra = pred + config.var_weight * var + config.cov_weight * cov, {}
    if config.time_smooth_weight:
        smooth = losses.time_smoothness_loss(z, z_next)
        total, extra = total + config.time_smooth_weight * smooth, {**extra, "smooth_loss": smooth}
    return total, {
        "loss": total,
        "pred_loss": pred,
        "var_loss": var,
        "cov_loss": cov,
        "emb_std": jnp.mean(losses.embedding_std(z)),
        **extra,
    }


def with_inverse_dynamics(
    total: jax.Array,
    metrics: dict,
    online: dict,
    z: jax.Array,
    z_next: jax.Array | None,
    actions: jax.Array | None,
    config: Config,
) -> tuple[jax.Array, dict]:
    """(total + idm_weight * MSE(IDM(z_t, z_t+1), a_t), metrics with idm_loss) when the weight is on and the
    true actions [B, 2] are known; else (total, metrics) unchanged, so the reference recipe is bit for bit its own.
    Both latents are the online encoder's, so the gradient teaches E to keep what the actions move."""
    if not config.idm_weight or actions is None:
        return total, metrics
    idm = losses.inverse_dynamics_loss(online["idm"], z, z_next, actions, config)
    total = total + config.idm_weight * idm
    return total, {**metrics, "loss": total, "idm_loss": idm}


def online_next_latents(online: dict, next_obs: jax.Array, config: Config) -> jax.Array | None:
    """E(o_t+1) from the online encoder, only when time-smoothness or inverse dynamics needs it (one more
    forward pass)."""
    needed = config.time_smooth_weight or config.idm_weight
    return models.encoder(config).apply(online["encoder"], next_obs) if needed else None


def jepa_loss(
    online: dict, target_params: dict, obs: jax.Array, next_obs: jax.Array, config: Config, step: jax.Array | int = 0
):
    """The reference's one-step loss, for the worlds without actions at rollout_steps 1. A world driven by actions
    trains through `multistep_loss`, which feeds the predictor the actions and adds the inverse-dynamics term."""
    z = models.encoder(config).apply(online["encoder"], obs)
    z_hat = models.predictor(config).apply(online["predictor"], z)
    pred = losses.prediction_loss(z_hat, target_latents(online, target_params, next_obs, config))
    return regularised(pred, z, config, online_next_latents(online, next_obs, config), step)


def make_jepa_phase(config: Config) -> Callable[..., tuple[dict, dict]]:
    """(key, frames, params, actions=None) -> (params with trained encoder/target/predictor, per-step metrics);
    actions [N, T, action_dim] in the worlds driven by actions."""
    optimiser = optax.adam(learning_rate(config))
    ema = ema_target(config.ema_decay)
    loss_and_grad = jax.value_and_grad(functools.partial(jepa_loss, config=config), has_aux=True)
    multistep_grad = jax.value_and_grad(functools.partial(multistep_loss, config=config), has_aux=True)

    def run(key: jax.Array, frames: jax.Array, params: dict, actions: jax.Array | None = None):
        def batch_loss_and_grad(state: JepaState, starts: jax.Array, step: jax.Array):
            obs, future = windows_at(frames, starts, config.rollout_steps)
            if config.rollout_steps == 1 and actions is None:  # the reference's one-step loss, unchanged
                return loss_and_grad(state.online, state.ema.params, obs, future[:, 0], step=step)
            future_actions = None if actions is None else window_actions(actions, starts, config.rollout_steps)
            return multistep_grad(
                state.online,
                state.ema.params,
                obs,
                future,
                rollout_weights(config, step),
                future_actions=future_actions,
                step=step,
            )

        def jepa_step(state: JepaState, xs: tuple[jax.Array, jax.Array]):
            starts, step = xs
            (_, metrics), grads = batch_loss_and_grad(state, starts, step)
            updates, opt_state = optimiser.update(grads, state.opt_state, state.online)
            online = optax.apply_updates(state.online, updates)
            return JepaState(online, ema.update(online["encoder"], state.ema), opt_state), metrics

        online = {name: params[name] for name in ONLINE_NETWORKS if name in params}
        state = JepaState(online, ema.init(params["encoder"]), optimiser.init(online))
        xs = jepa_scan_inputs(key, frames, config)
        state, metrics = jax.lax.scan(jepa_step, state, xs)
        return {**params, **state.online, "target": state.ema.params}, metrics

    return run


def jepa_scan_inputs(key: jax.Array, frames: jax.Array, config: Config) -> tuple[jax.Array, jax.Array]:
    """The JEPA phase's scan inputs: each step's batch of window starts [steps, batch_size], and its step number.
    Every step's batch is drawn up front, one vectorised RNG call instead of one per step: one key per step all the
    same, so the numbers do not depend on how the draws are batched."""
    draw = functools.partial(draw_starts, frames=frames, batch_size=config.batch_size, k=config.rollout_steps)
    return jax.vmap(draw)(jax.random.split(key, config.steps)), jnp.arange(config.steps)


def make_decoder_phase(config: Config) -> Callable[[jax.Array, jax.Array, dict], tuple[dict, jax.Array]]:
    """(key, frames, params) -> (params with a trained decoder, per-step decoder loss).
    The target encoder is frozen, so its latents of every training observation are computed once."""
    optimiser = optax.adam(config.decoder_lr)
    decode = models.decoder(config).apply

    def run(key: jax.Array, frames: jax.Array, params: dict):
        obs = jnp.concatenate([frames[:, :-1], frames[:, 1:]], axis=-1).reshape(-1, config.obs_dim)
        newest = frames[:, 1:].reshape(-1, frames.shape[-1])  # f_{t+1}, the frame the decoder renders
        latents = models.encoder(config).apply(params["target"], obs)

        def pixel_loss(dec_params, z, frame):
            return jnp.mean((decode(dec_params, z) - frame) ** 2)

        def decoder_step(carry, step_key):
            dec_params, opt_state = carry
            idx = jax.random.randint(step_key, (config.decoder_batch_size,), 0, latents.shape[0])
            loss, grads = jax.value_and_grad(pixel_loss)(dec_params, latents[idx], newest[idx])
            updates, opt_state = optimiser.update(grads, opt_state, dec_params)
            return (optax.apply_updates(dec_params, updates), opt_state), loss

        carry = (params["decoder"], optimiser.init(params["decoder"]))
        (dec_params, _), curve = jax.lax.scan(decoder_step, carry, jax.random.split(key, config.decoder_steps))
        return {**params, "decoder": dec_params}, curve

    return run


def make_train(config: Config) -> Callable[[jax.Array], TrainResult]:
    """The whole run as one pure function of a key: data, init, JEPA steps, decoder steps."""
    if not isinstance(config, Config):
        raise TypeError(f"make_train takes a Config (get_config(...) makes one), got a {type(config).__name__}")
    jepa_phase, decoder_phase = make_jepa_phase(config), make_decoder_phase(config)

    def train(key: jax.Array) -> TrainResult:
        data_key, init_key, jepa_key, decoder_key = train_keys(key)
        frames, actions = training_data(data_key, config)
        params = models.init_params(init_key, config)
        params, metrics = jepa_phase(jepa_key, frames, params, actions)
        params, decoder_curve = decoder_phase(decoder_key, frames, params)
        return TrainResult(params, {**metrics, "decoder_loss": decoder_curve})

    return train


def first_nonfinite_step(metrics: dict, curve: str = "loss") -> int | None:
    """The first step whose `curve` (the JEPA loss; "decoder_loss" for the decoder's) is NaN or inf over all seeds,
    or None. Run on the host."""
    values = np.asarray(metrics[curve], dtype=float)
    if values.size == 0:  # no step of it ran (decoder_steps 0)
        return None
    bad = ~np.isfinite(values.reshape(-1, values.shape[-1])).all(axis=0)
    return int(np.argmax(bad)) if bad.any() else None

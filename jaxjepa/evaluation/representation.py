"""What the latent knows: linear probes to position and velocity, ours and the reference's protocol.

Two protocols, because they answer different questions and the reference reported only one:
- `linear_probes`: closed-form least squares (jaxjepa/probe.py) fitted on fresh trajectories from the
  evaluation key and tested on as many other fresh ones. Least squares is the best linear readout, so
  its error belongs to the representation. The position probe uses exactly the keys and trajectories
  of `probe.probe_position`, so its RMSE is the one train.py printed. Velocity is probed separately:
  one frame has no velocity, two frames do, so a good latent of o_t = (f_t, f_{t+1}) carries it.
- `published_probe`: the reference's protocol (REFERENCE.md): frozen target-encoder latents of the
  *training* pairs in time-major order, first 80% to fit, last 20% to test, a linear layer trained by
  Adam (lr 1e-2, 800 steps, batch 512). An optimiser with a fixed budget can under-fit, so we also fit
  least squares on the very same split: the gap between the two is the optimiser's, not the latent's.
Every function is pure and takes one seed's params; the headline suite vmaps them over seeds.
"""

from __future__ import annotations

from typing import TypedDict

import jax
import jax.numpy as jnp
import optax

from jaxjepa import models, probe, trainer, world
from jaxjepa.config import Config
from jaxjepa.evaluation.settings import EvalSettings, purpose_key


class LinearProbes(TypedDict):
    """One seed's least-squares probes (`linear_probes`); the headline stores the position RMSEs as
    position_rmse_px (and _y_px, _x_px) in metrics.json, and the forecast reads its dreams with `position_probe`."""

    position_rmse: jax.Array  # [] px, over both coordinates
    position_rmse_yx: jax.Array  # [2 * logos] px, per coordinate (y, x)
    velocity_rmse: jax.Array  # [] px/frame
    velocity_rmse_yx: jax.Array  # [2 * logos] px/frame
    velocity_rmse_of_mean: jax.Array  # [] px/frame of a probe that always answers the mean velocity: no knowledge
    embedding_std: jax.Array  # [] the target latents' std per dimension, averaged: 0 for a collapsed encoder
    position_probe: jax.Array  # [d + 1, 2 * logos] least-squares weights, bias last (probe.Probe.weights)
    example_true: jax.Array  # [examples, T, 2 * logos] px: the first test trajectories, for the scatter plot
    example_predicted: jax.Array  # the probe's reading of them


def linear_probes(params: dict, eval_key: jax.Array, config: Config, examples: int) -> LinearProbes:
    """Least-squares probes latent -> position (px) and latent -> velocity (px/frame); the test predictions of
    the first `examples` trajectories come back for the scatter plot."""
    fitted, tested = probe.fit_and_test_latents(params, eval_key, config)
    flat = probe.flat
    position_probe = probe.fit(flat(fitted.z), flat(fitted.positions))
    velocity_probe = probe.fit(flat(fitted.z), flat(fitted.velocities))
    p_hat = probe.apply(position_probe, flat(tested.z)).reshape(tested.positions.shape)
    v_hat = probe.apply(velocity_probe, flat(tested.z)).reshape(tested.velocities.shape)
    return LinearProbes(
        position_rmse=probe.rmse(p_hat, tested.positions),
        position_rmse_yx=probe.rmse_per_coordinate(p_hat, tested.positions),
        velocity_rmse=probe.rmse(v_hat, tested.velocities),
        velocity_rmse_yx=probe.rmse_per_coordinate(v_hat, tested.velocities),
        velocity_rmse_of_mean=probe.rmse(
            jnp.broadcast_to(fitted.velocities.mean(axis=(0, 1)), tested.velocities.shape), tested.velocities
        ),
        embedding_std=jnp.mean(jnp.std(flat(tested.z), axis=0, ddof=1)),
        position_probe=position_probe.weights,
        example_true=tested.positions[:examples],
        example_predicted=p_hat[:examples],
    )


def training_trajectories(train_key: jax.Array, config: Config) -> world.Trajectory:
    """The training set of a run, with positions: the trajectories `trainer.make_train` drew from the
    first of its four keys (tests check the frames are the very ones it trained on)."""
    return world.trajectories(trainer.train_keys(train_key).data, config.train_sequences, config.seq_len, config)


def time_major_pairs(params: dict, train_key: jax.Array, config: Config) -> tuple[jax.Array, jax.Array]:
    """Target-encoder latents of every training observation o_t (t < seq_len - 2, as in the training
    pairs) and the position of its newest frame, ordered time-major: [(T - 2) N, d], [(T - 2) N, 2]."""
    traj = training_trajectories(train_key, config)
    z, positions, _ = probe.encode_trajectories(params, traj, config)  # [N, T - 1, ...]
    z, positions = z[:, :-1], positions[:, :-1]  # the o_t of the pairs (o_t, o_t+1)
    time_major = lambda a: jnp.swapaxes(a, 0, 1).reshape(-1, a.shape[-1])
    return time_major(z), time_major(positions)


def adam_linear_probe(
    key: jax.Array, features: jax.Array, targets: jax.Array, *, steps: int, lr: float, batch_size: int
) -> probe.Probe:
    """A linear layer trained by Adam on mean squared error, batches drawn uniformly with replacement,
    initialised like PyTorch's nn.Linear: the reference's probe. Returns it in `probe.Probe` form."""
    init_key, batch_key = jax.random.split(key)
    layer = models.Linear(targets.shape[-1])
    weights = layer.init(init_key, features[:1])
    optimiser = optax.adam(lr)
    loss = lambda w, idx: jnp.mean((layer.apply(w, features[idx]) - targets[idx]) ** 2)

    def one_step(carry, step_key):
        w, opt_state = carry
        idx = jax.random.randint(step_key, (batch_size,), 0, features.shape[0])
        grads = jax.grad(loss)(w, idx)
        updates, opt_state = optimiser.update(grads, opt_state, w)
        return (optax.apply_updates(w, updates), opt_state), None

    (weights, _), _ = jax.lax.scan(one_step, (weights, optimiser.init(weights)), jax.random.split(batch_key, steps))
    kernel, bias = weights["params"]["kernel"], weights["params"]["bias"]
    return probe.Probe(jnp.concatenate([kernel, bias[None]], axis=0))


def published_probe(
    params: dict, train_key: jax.Array, eval_key: jax.Array, config: Config, settings: EvalSettings
) -> dict:
    """The reference's probe protocol, and least squares on the same split (see the module docstring)."""
    z, positions = time_major_pairs(params, train_key, config)
    n_fit = int(settings.published_probe_fit_fraction * z.shape[0])
    fit_z, fit_p, test_z, test_p = z[:n_fit], positions[:n_fit], z[n_fit:], positions[n_fit:]
    steps, lr, batch = settings.published_probe_steps, settings.published_probe_lr, settings.published_probe_batch
    adam = adam_linear_probe(
        purpose_key(eval_key, "published_probe"), fit_z, fit_p, steps=steps, lr=lr, batch_size=batch
    )
    least_squares = probe.fit(fit_z, fit_p)
    adam_predicted, least_squares_predicted = probe.apply(adam, test_z), probe.apply(least_squares, test_z)
    return {
        "adam_rmse": probe.rmse(adam_predicted, test_p),
        "adam_rmse_yx": probe.rmse_per_coordinate(adam_predicted, test_p),
        "lstsq_rmse": probe.rmse(least_squares_predicted, test_p),
    }

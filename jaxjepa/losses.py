"""The JEPA objective: predict the target's latent, and keep the latents from collapsing.

prediction_loss  MSE(P(E(o_t)), sg(E_ema(o_{t+1}))): the world model's error, in latent space.
variance_loss    VICReg hinge mean_d relu(1 - sqrt(var_d(Z) + eps)): every dimension keeps a spread.
                 Without it (and without the EMA's stop-gradient) the cheapest way to predict a
                 latent is to make every latent the same constant: collapse.
covariance_loss  VICReg decorrelation of dimensions: sum of squared off-diagonal covariances / d.
Variances use the unbiased estimator (ddof=1), like PyTorch's default `Tensor.var`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def prediction_loss(predicted: jax.Array, target: jax.Array) -> jax.Array:
    return jnp.mean((predicted - target) ** 2)


def embedding_std(z: jax.Array, eps: float = 0.0) -> jax.Array:
    """Per-dimension std over the batch, [d]."""
    return jnp.sqrt(jnp.var(z, axis=0, ddof=1) + eps)


def variance_loss(z: jax.Array, eps: float = 1e-4, target: float = 1.0) -> jax.Array:
    return jnp.mean(jax.nn.relu(target - embedding_std(z, eps)))


def covariance_loss(z: jax.Array) -> jax.Array:
    n, d = z.shape
    centred = z - z.mean(axis=0)
    cov = centred.T @ centred / (n - 1)
    off_diagonal = cov - jnp.diag(jnp.diag(cov))
    return jnp.sum(off_diagonal**2) / d

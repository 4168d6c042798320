"""The JEPA objective: predict the target's latent, and keep the latents from collapsing.

prediction_loss  MSE(P(E(o_t)), sg(E_ema(o_{t+1}))): the world model's error, in latent space.
variance_loss    VICReg hinge mean_d relu(1 - sqrt(var_d(Z) + eps)): every dimension keeps a spread.
                 Without it (and without the EMA's stop-gradient) the cheapest way to predict a
                 latent is to make every latent the same constant: collapse.
covariance_loss  VICReg decorrelation of dimensions: sum of squared off-diagonal covariances / d. Why: the
                 variance hinge alone is met by dimensions that all carry the same signal; decorrelated, each
                 carries something the others do not.
Variances use the unbiased estimator (ddof=1), like PyTorch's default `Tensor.var`.
time_smoothness_loss  mean_t ||z_t+1 - z_t||^2: consecutive latents close (EB-JEPA's Two Rooms recipe), so
                 the latent moves little when the world moves little.
inverse_dynamics_loss  MSE of an MLP's a_t from (z_t, z_t+1) to the true action: z must keep what actions change.
sigreg_loss      LeJEPA's SIGReg: project the batch on random unit directions and test each projection
                 against N(0, 1) with the Epps-Pulley statistic (weighted L2 distance between the empirical
                 and the Gaussian characteristic function). An isotropic Gaussian is the only law every
                 projection of which is N(0, 1), so this one term replaces VICReg's variance and covariance.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxjepa import models
from jaxjepa.config import Config

EPPS_PULLEY_T_MAX = 3.0  # the integrand's weight exp(-t^2 / 2) is below 1.2% beyond t = 3


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


def time_smoothness_loss(z: jax.Array, z_next: jax.Array) -> jax.Array:
    """mean over the batch of ||z_t+1 - z_t||^2 (summed over dimensions)."""
    return jnp.mean(jnp.sum((z_next - z) ** 2, axis=-1))


def inverse_dynamics_loss(
    params: dict, z_t: jax.Array, z_next: jax.Array, actions: jax.Array, config: Config
) -> jax.Array:
    """MSE between the inverse-dynamics head's a_t (models.InverseDynamics, from `config`) and the true action."""
    predicted = models.inverse_dynamics(config).apply(params, z_t, z_next)
    return jnp.mean((predicted - actions) ** 2)


def epps_pulley(x: jax.Array, knots: int = 17) -> jax.Array:
    """Epps-Pulley statistic of samples x [n, m] (column by column) against N(0, 1), [m]:
    n * integral of |phi_n(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt, phi_n the empirical characteristic function,
    by the trapezoid rule on [0, EPPS_PULLEY_T_MAX], doubled (the integrand is even in t)."""
    t = jnp.linspace(0.0, EPPS_PULLEY_T_MAX, knots)
    tx = x[..., None] * t  # [n, m, knots]
    gaussian = jnp.exp(-0.5 * t**2)
    squared_gap = (jnp.mean(jnp.cos(tx), axis=0) - gaussian) ** 2 + jnp.mean(jnp.sin(tx), axis=0) ** 2
    return 2.0 * x.shape[0] * jnp.trapezoid(squared_gap * gaussian, t, axis=-1)


def sigreg_loss(z: jax.Array, key: jax.Array, projections: int = 256, knots: int = 17) -> jax.Array:
    """SIGReg of a batch z [n, d]: the Epps-Pulley statistic of z projected on `projections` random unit
    directions (drawn from `key`), averaged over the directions."""
    directions = jax.random.normal(key, (z.shape[-1], projections), z.dtype)
    directions = directions / jnp.linalg.norm(directions, axis=0, keepdims=True)
    return jnp.mean(epps_pulley(z @ directions, knots))

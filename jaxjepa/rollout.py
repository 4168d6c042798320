"""The world model dreaming: the predictor applied to its own output, as one `lax.scan`.

A core function of params and latents, shared by the NumPy-facing `api.Run.rollout` and the
evaluation's forecast, so neither has to import the other.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxjepa import models
from jaxjepa.config import Config


def rollout_latents(
    config: Config, params: dict, z0: jax.Array, steps: int, actions: jax.Array | None = None
) -> jax.Array:
    """[..., d] -> [..., steps, d]. Entry k is the dream of the latent k + 1 observations ahead; an
    action-conditioned predictor reads action k of `actions` [..., steps, a] on the way there."""
    predict = models.predictor(config).apply

    def one_step(z, action):
        z = predict(params["predictor"], models.predictor_input(z, action))
        return z, z

    xs = None if actions is None else jnp.moveaxis(actions, -2, 0)
    _, dream = jax.lax.scan(one_step, z0, xs, length=steps)
    return jnp.moveaxis(dream, 0, -2)

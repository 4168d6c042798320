"""The inverse-dynamics term: known answers of the loss, and the head trained beside the JEPA."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxjepa import get_config, make_train, seed_keys
from jaxjepa.trainer import with_inverse_dynamics

# A linear head (no hidden layer) on 2-D latents, so a perfect inverse model can be written down.
CONFIG = get_config("default", world="steer", action_dim=2, latent_dim=2, idm_weight=0.5, idm_hidden=())
POSITIONS = jnp.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.25]])
ACTIONS = jnp.array([[0.5, -1.0], [0.0, 0.75], [-0.25, 0.0]])


def linear_head(kernel: jax.Array) -> dict:
    return {"params": {"mlp": {"layer0": {"kernel": kernel, "bias": jnp.zeros(2)}}}}


def idm_term(kernel: jax.Array, config=CONFIG):
    online = {"idm": linear_head(kernel)}
    return with_inverse_dynamics(jnp.float32(1.0), {}, online, POSITIONS, POSITIONS + ACTIONS, ACTIONS, config)


def test_a_perfect_inverse_model_adds_nothing():
    total, metrics = idm_term(jnp.concatenate([-jnp.eye(2), jnp.eye(2)]))  # a_t = z_t+1 - z_t
    assert float(metrics["idm_loss"]) == 0.0 and float(total) == 1.0


def test_a_blind_inverse_model_costs_the_mean_square_action_times_its_weight():
    total, metrics = idm_term(jnp.zeros((4, 2)))
    expected = float(jnp.mean(ACTIONS**2))
    np.testing.assert_allclose(float(metrics["idm_loss"]), expected, rtol=1e-6)
    np.testing.assert_allclose(float(total), 1.0 + CONFIG.idm_weight * expected, rtol=1e-6)


def test_weight_zero_or_no_actions_leaves_the_loss_alone():
    off = CONFIG.replace(idm_weight=0.0)
    assert idm_term(jnp.zeros((4, 2)), off) == (1.0, {})
    assert with_inverse_dynamics(jnp.float32(1.0), {}, {}, POSITIONS, POSITIONS, None, CONFIG) == (1.0, {})


def test_the_head_is_trained_beside_the_jepa():
    config = get_config(
        "default", world="steer", action_dim=2, idm_weight=1.0, steps=30, train_sequences=16, seq_len=12,
        batch_size=32, decoder_steps=1, decoder_batch_size=8,
    )  # fmt: skip
    result = jax.jit(make_train(config))(seed_keys(0)[0])
    assert "idm" in result.params
    curve = np.asarray(result.metrics["idm_loss"])
    assert np.isfinite(curve).all() and curve[-5:].mean() < curve[:5].mean()

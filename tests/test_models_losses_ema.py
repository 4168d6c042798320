import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxjepa import ema_target, get_config, losses, models

CONFIG = get_config()


def test_model_shapes_follow_the_reference():
    params = models.init_params(jax.random.key(0), CONFIG)
    shapes = {name: jax.tree_util.tree_map(jnp.shape, p)["params"] for name, p in params.items()}
    assert [shapes["encoder"][f"layer{i}"]["kernel"] for i in range(3)] == [(512, 256), (256, 128), (128, 32)]
    assert [shapes["predictor"][f"layer{i}"]["kernel"] for i in range(2)] == [(32, 64), (64, 32)]
    assert [shapes["decoder"][f"layer{i}"]["kernel"] for i in range(3)] == [(32, 64), (64, 256), (256, 256)]
    chex.assert_trees_all_equal(params["encoder"], params["target"])  # the target starts as a copy
    z = models.encoder(CONFIG).apply(params["encoder"], jnp.zeros((7, CONFIG.obs_dim)))
    chex.assert_shape(z, (7, 32))
    frames = models.decoder(CONFIG).apply(params["decoder"], z)
    chex.assert_shape(frames, (7, 256))
    assert float(frames.min()) > 0 and float(frames.max()) < 1  # sigmoid output


def test_init_matches_pytorch_linear_bounds():
    kernel = models.init_params(jax.random.key(1), CONFIG)["encoder"]["params"]["layer0"]["kernel"]
    bound = 1 / np.sqrt(512)
    assert float(jnp.abs(kernel).max()) <= bound
    assert float(jnp.abs(kernel).max()) > 0.95 * bound  # uniform fills the interval


class EmaTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_decay_zero_copies(self):
        ema = ema_target(0.0)
        state = ema.init({"w": jnp.zeros(3)})
        state = self.variant(ema.update)({"w": jnp.arange(3.0)}, state)
        np.testing.assert_allclose(state.params["w"], [0.0, 1.0, 2.0])

    @chex.variants(with_jit=True, without_jit=True)
    def test_decay_one_freezes(self):
        ema = ema_target(1.0)
        state = ema.init({"w": jnp.full(3, 5.0)})
        state = self.variant(ema.update)({"w": jnp.arange(3.0)}, state)
        np.testing.assert_allclose(state.params["w"], 5.0)

    @chex.variants(with_jit=True, without_jit=True)
    def test_n_updates_of_a_constant_give_one_minus_d_to_the_n(self):
        decay, n = 0.9, 7
        ema = ema_target(decay)
        state = ema.init({"w": jnp.zeros(2)})
        update = self.variant(ema.update)
        for _ in range(n):
            state = update({"w": jnp.ones(2)}, state)
        np.testing.assert_allclose(state.params["w"], 1 - decay**n, rtol=1e-6)
        assert int(state.count) == n

    def test_no_gradient_flows_through_the_target(self):
        ema = ema_target(0.5)
        grad = jax.grad(lambda w: ema.update({"w": w}, ema.init({"w": w})).params["w"].sum())(jnp.ones(3))
        np.testing.assert_array_equal(grad, 0.0)


class LossTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_variance_hinge_is_zero_above_unit_std(self):
        z = 3.0 * jax.random.normal(jax.random.key(0), (512, 32))
        assert float(self.variant(losses.variance_loss)(z)) == 0.0

    @chex.variants(with_jit=True, without_jit=True)
    def test_variance_hinge_of_a_collapsed_batch_is_about_one(self):
        loss = self.variant(losses.variance_loss)(jnp.ones((64, 32)))
        np.testing.assert_allclose(loss, 1 - np.sqrt(1e-4), rtol=1e-6)

    def test_variance_gradient_raises_a_collapsed_batchs_std(self):
        z = 1e-3 * jax.random.normal(jax.random.key(1), (128, 32))
        before = float(losses.embedding_std(z).mean())
        # plain gradient descent on the hinge alone: 100 steps bring every dimension to std ~1
        descend = jax.grad(losses.variance_loss)
        z = jax.lax.fori_loop(0, 100, lambda _, z: z - 100.0 * descend(z), z)
        assert before < 0.002
        assert float(losses.embedding_std(z).min()) > 0.9
        assert float(losses.variance_loss(z)) < 0.05

    @chex.variants(with_jit=True, without_jit=True)
    def test_covariance_penalises_only_correlation(self):
        x = jax.random.normal(jax.random.key(2), (4096, 1))
        correlated = jnp.concatenate([x, x], axis=1)
        independent = jax.random.normal(jax.random.key(3), (4096, 2))
        cov = self.variant(losses.covariance_loss)
        assert float(cov(correlated)) > 0.5
        assert float(cov(independent)) < 0.01

    @chex.variants(with_jit=True, without_jit=True)
    def test_prediction_loss_is_mse(self):
        loss = self.variant(losses.prediction_loss)(jnp.zeros((4, 3)), jnp.full((4, 3), 2.0))
        np.testing.assert_allclose(loss, 4.0)

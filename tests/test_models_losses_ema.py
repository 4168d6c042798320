import chex
import flax.linen
import jax
import jax.numpy as jnp
import numpy as np
import pytest

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


def _keypoint_coords(obs: jax.Array, beta: float = 30.0, keypoints: int = 2) -> jax.Array:
    """The keypoint encoder's 2 frames x K x (y, x) coordinates, read through an identity readout."""
    config = get_config("default", encoder_kind="keypoints", keypoints=keypoints, latent_dim=4 * keypoints)
    params = {
        "params": {
            "conv": {"kernel": jnp.full((1, 1, 1, keypoints), beta), "bias": jnp.zeros(keypoints)},
            "readout": {"kernel": jnp.eye(4 * keypoints), "bias": jnp.zeros(4 * keypoints)},
        }
    }
    return models.encoder(config).apply(params, obs).reshape(*obs.shape[:-1], 2, keypoints, 2)


def test_keypoint_encoder_moves_with_the_logo_one_frame_at_a_time():
    from jaxjepa import world

    size = CONFIG.frame_size
    blob = lambda y, x: world.render(jnp.array([y, x], jnp.float32), CONFIG).reshape(-1)  # noqa: E731
    obs = jnp.stack(
        [jnp.concatenate([blob(6.0, 7.0), blob(6.0, 7.0)]), jnp.concatenate([blob(6.0, 7.0), blob(7.0, 7.0)])]
    )  # second: f_{t+1} one px down
    coords = _keypoint_coords(obs)
    chex.assert_shape(coords, (2, 2, 2, 2))
    chex.assert_tree_all_finite(coords)
    px = (size - 1) / 2.0  # [-1, 1] -> pixels
    np.testing.assert_allclose(coords[0, 0] * px + px, [[6.0, 7.0]] * 2, atol=1e-3)  # sharp softmax: the centre
    np.testing.assert_allclose(coords[1, 0], coords[0, 0], atol=1e-6)  # frame t's keypoints ignore frame t+1
    np.testing.assert_allclose((coords[1, 1] - coords[0, 1]) * px, [[1.0, 0.0]] * 2, atol=1e-3)


def test_keypoint_encoder_keeps_leading_batch_dims():
    config = get_config("default", encoder_kind="keypoints", keypoints=3)
    params = models.init_params(jax.random.key(0), config)
    z = models.encoder(config).apply(params["encoder"], jnp.zeros((4, 5, config.obs_dim)))
    chex.assert_shape(z, (4, 5, config.latent_dim))


@pytest.mark.parametrize("size, kernel, stride, channels", [(16, 4, 4, 2), (12, 3, 2, 4), (13, 3, 2, 3), (10, 4, 4, 2)])
def test_patch_conv_is_nn_conv(size, kernel, stride, channels):
    """Same parameters (names, shapes, initial values) and the same outputs and gradients as nn.Conv's
    'SAME' convolution, for a tiling stem, strided 3x3 kernels on even and odd sizes and a stem that
    needs padding."""
    maps = jax.random.normal(jax.random.key(1), (3, size, size, channels))
    conv = flax.linen.Conv(8, (kernel, kernel), strides=(stride, stride))
    patch = models.PatchConv(8, kernel, stride)
    params = conv.init(jax.random.key(2), maps)
    chex.assert_trees_all_equal(params, patch.init(jax.random.key(2), maps))
    outputs = [jax.jit(f)(params, maps) for f in (patch.apply, conv.apply)]
    np.testing.assert_allclose(*outputs, rtol=1e-5, atol=1e-5)
    grad = lambda f: jax.jit(jax.grad(lambda p, m: jnp.sum(jnp.sin(f(p, m))), (0, 1)))(params, maps)  # noqa: E731
    chex.assert_trees_all_close(grad(patch.apply), grad(conv.apply), rtol=1e-4, atol=1e-4)


def test_cnn_encoder_keeps_leading_batch_dims_and_is_finite():
    config = get_config("two_rooms_ebjepa")
    encoder = models.encoder(config)
    obs = jax.random.uniform(jax.random.key(1), (2, 3, config.obs_dim))
    params = jax.jit(encoder.init)(jax.random.key(0), obs[0, 0])
    z = jax.jit(encoder.apply)(params, obs)
    chex.assert_shape(z, (2, 3, config.latent_dim))
    chex.assert_tree_all_finite(z)
    np.testing.assert_allclose(z[1, 2], jax.jit(encoder.apply)(params, obs[1, 2]), atol=1e-5)


def test_a_residual_predictor_adds_its_mlp_to_the_latent_it_was_given():
    config = get_config("two_rooms_ebjepa", latent_dim=5, predictor_hidden=(7,))
    assert config.predictor_kind == "residual"
    plain = get_config("two_rooms_ebjepa", latent_dim=5, predictor_hidden=(7,), predictor_kind="mlp")
    params = models.predictor(config).init(jax.random.key(2), jnp.zeros((1, config.latent_dim + config.action_dim)))
    # The same parameter tree as the plain MLP's, so a saved run's shapes say nothing about the kind.
    # (eval_shape: the shapes without building the rest of the model)
    shapes = [jax.eval_shape(lambda k, c=c: models.init_params(k, c), jax.random.key(2)) for c in (config, plain)]
    chex.assert_trees_all_equal_shapes(params, *(tree["predictor"] for tree in shapes))
    z, a = jax.random.normal(jax.random.key(3), (4, 5)), jax.random.normal(jax.random.key(4), (4, 2))
    x = models.predictor_input(z, a)
    residual, mlp = models.predictor(config).apply(params, x), models.predictor(plain).apply(params, x)
    np.testing.assert_allclose(residual, z + mlp, rtol=1e-6, atol=1e-6)
    # A last layer of zeros changes nothing: the residual predictor then says the world stands still.
    still = jax.tree_util.tree_map(jnp.zeros_like, params["params"]["layer1"])
    stopped = {"params": {**params["params"], "layer1": still}}
    np.testing.assert_array_equal(models.predictor(config).apply(stopped, x), z)

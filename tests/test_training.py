import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxjepa import make_train, models, probe, runner, seed_keys, trainer
from tests.conftest import tiny_config


def test_short_run_learns_and_does_not_collapse(tiny, tiny_result):
    m = tiny_result.metrics
    chex.assert_shape(m["loss"], (tiny.steps,))
    chex.assert_shape(m["decoder_loss"], (tiny.decoder_steps,))
    chex.assert_tree_all_finite(tiny_result)
    # The variance hinge is what drives the early loss: the total must fall a lot.
    assert float(m["loss"][-10:].mean()) < 0.5 * float(m["loss"][:10].mean())
    assert float(m["emb_std"][-1]) > 0.5  # far from collapse (0)
    assert float(m["decoder_loss"][-5:].mean()) < float(m["decoder_loss"][:5].mean())
    # the target trails the online encoder but is not a copy after training
    enc, tgt = tiny_result.params["encoder"], tiny_result.params["target"]
    assert not all(np.allclose(a, b) for a, b in zip(jax.tree_util.tree_leaves(enc), jax.tree_util.tree_leaves(tgt)))


def test_trained_predictor_predicts_the_target_latent(tiny, tiny_result):
    """Prediction loss relative to the latents' spread: ~1 means guessing, 0 means perfect."""
    params = tiny_result.params
    frames = trainer.training_frames(jax.random.key(9), tiny)  # fresh sequences, not the training set
    obs, future = trainer.sample_windows(jax.random.key(10), frames, 512, 1)
    next_obs = future[:, 0]
    untrained = models.init_params(jax.random.key(11), tiny)["predictor"]

    def relative_loss(predictor_params):
        _, m = trainer.jepa_loss(
            {"encoder": params["encoder"], "predictor": predictor_params}, params["target"], obs, next_obs, tiny
        )
        return float(m["pred_loss"] / m["emb_std"] ** 2)

    assert relative_loss(params["predictor"]) < 0.05
    assert relative_loss(params["predictor"]) < 0.1 * relative_loss(untrained)


def test_same_seed_same_numbers_other_seed_other_numbers(tiny_train, tiny_result):
    again = tiny_train(seed_keys(0)[0])
    chex.assert_trees_all_equal(tiny_result, again)
    other = tiny_train(seed_keys(1)[0])
    assert not np.allclose(tiny_result.metrics["loss"], other.metrics["loss"])


def test_vmapped_seed_equals_a_lone_run(tiny, tiny_result):
    seeds = [3, 0, 5]
    out = runner.train_seeds(tiny, seeds)
    _, eval_key = seed_keys(0)
    lone = tiny_result, jax.jit(probe.probe_position, static_argnums=2)(tiny_result.params, eval_key, tiny)
    seed0 = jax.tree_util.tree_map(lambda x: x[1], (out.result, out.probe))
    chex.assert_trees_all_close(
        seed0, lone, rtol=1e-4, atol=1e-5
    )  # XLA:CPU batches vmapped matmuls differently: float sums reassociate


def test_train_data_pairs_are_consecutive_observations(tiny):
    frames = trainer.training_frames(jax.random.key(0), tiny)
    chex.assert_shape(frames, (tiny.train_sequences, tiny.seq_len, 256))
    starts = trainer.draw_starts(jax.random.key(1), frames, 32, 1)
    obs, future = trainer.windows_at(frames, starts, 1)
    chex.assert_shape([obs, future], [(32, 512), (32, 1, 512)])
    # the contiguous slice equals gathering frame by frame: o_t = (f_t, f_t+1), o_t+1 = (f_t+1, f_t+2)
    seq, t = np.divmod(np.asarray(starts), tiny.seq_len)
    assert np.all(t + 2 < tiny.seq_len)
    f = np.asarray(frames)
    np.testing.assert_array_equal(obs, np.concatenate([f[seq, t], f[seq, t + 1]], axis=-1))
    np.testing.assert_array_equal(future[:, 0], np.concatenate([f[seq, t + 1], f[seq, t + 2]], axis=-1))


def test_draw_starts_reaches_every_window_and_no_other():
    frames = jnp.zeros((3, 10, 4))
    k = 4  # windows need t + k + 1 <= 9: t in 0..4, in each of 3 sequences
    starts = np.asarray(trainer.draw_starts(jax.random.key(0), frames, 4000, k))
    expected = {s * 10 + t for s in range(3) for t in range(10 - 1 - k)}
    assert set(starts.tolist()) == expected


def test_probe_is_exact_on_a_linear_code_of_position():
    key = jax.random.key(0)
    positions = jax.random.uniform(key, (500, 2), minval=1, maxval=14)
    mixing = jax.random.normal(jax.random.key(1), (2, 32))
    latents = positions @ mixing + 3.0
    fitted = probe.fit(latents, positions)
    np.testing.assert_allclose(probe.rmse(probe.apply(fitted, latents), positions), 0.0, atol=2e-3)


def test_probe_cannot_read_position_from_a_collapsed_latent():
    positions = jax.random.uniform(jax.random.key(0), (500, 2), minval=1, maxval=14)
    fitted = probe.fit(jnp.ones((500, 32)), positions)
    error = float(probe.rmse(probe.apply(fitted, jnp.ones((500, 32))), positions))
    np.testing.assert_allclose(error, float(jnp.std(positions)), rtol=0.05)  # no better than the mean


def test_nonfinite_step_is_found():
    loss = np.ones((2, 10))
    loss[1, 6:] = np.nan
    assert trainer.first_nonfinite_step({"loss": loss}) == 6
    assert trainer.first_nonfinite_step({"loss": np.ones(10)}) is None
    decoder = {"decoder_loss": np.array([1.0, 2.0, np.inf]), "loss": loss}
    assert trainer.first_nonfinite_step(decoder, "decoder_loss") == 2
    assert trainer.first_nonfinite_step({"decoder_loss": np.zeros((2, 0))}, "decoder_loss") is None


@pytest.mark.parametrize("variant", ["no_stopgrad"])
def test_without_stop_gradient_the_embedding_collapses(variant):
    config = tiny_config(steps=600, **({"var_weight": 0.0, "target": "online"}))
    m = jax.jit(make_train(config))(seed_keys(0)[0]).metrics
    assert float(m["emb_std"][-1]) < 0.05 * float(m["emb_std"][:20].max())

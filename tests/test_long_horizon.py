"""Multi-step latent training: the k-step loss on cases with a known answer, the data it
needs, its weights and curriculum, and that the default recipe is untouched by it."""

import argparse

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxjepa import Config, api, get_config, make_train, models, seed_keys, trainer
from jaxjepa.config import BEST_RECIPE, VARIANTS
from jaxjepa.evaluation import command, forecast, recipes, report
from jaxjepa.evaluation.settings import EvalSettings
from tests.conftest import tiny_config


def batch(config, k, seed=0, size=16):
    frames = trainer.training_frames(jax.random.key(seed), config)
    return trainer.sample_windows(jax.random.key(seed + 1), frames, size, k)


def constant_networks(config, delta):
    """Encoder and target output their last bias b whatever they see (last kernel zero); the predictor
    outputs b + delta whatever it sees. Every unrolled step then scores exactly delta^2 per dimension."""
    params = models.init_params(jax.random.key(0), config)
    zero_last = lambda tree, name: jax.tree_util.tree_map_with_path(  # noqa: E731
        lambda path, x: (
            jnp.zeros_like(x) if name in jax.tree_util.keystr(path) and "kernel" in jax.tree_util.keystr(path) else x
        ),
        tree,
    )
    last_enc, last_pred = f"layer{len(config.encoder_hidden)}", f"layer{len(config.predictor_hidden)}"
    encoder = zero_last(params["encoder"], last_enc)
    predictor = zero_last(params["predictor"], last_pred)
    bias = encoder["params"][last_enc]["bias"]
    predictor["params"][last_pred]["bias"] = bias + delta
    return {"encoder": encoder, "predictor": predictor}, encoder


@pytest.mark.parametrize("k,decay", [(1, 1.0), (3, 0.5), (6, 1.0)])
def test_multistep_loss_known_answer_constant_world_model(k, decay):
    config = tiny_config(rollout_steps=k, rollout_decay=decay)
    obs, future = batch(config, k)
    for delta in (0.0, 0.3):
        online, target = constant_networks(config, delta)
        weights = trainer.rollout_weights(config)
        _, m = trainer.multistep_loss(online, target, obs, future, weights, config)
        np.testing.assert_allclose(m["pred_loss"], delta**2, atol=1e-6)
        np.testing.assert_allclose([m["pred_loss_first"], m["pred_loss_last"]], delta**2, atol=1e-6)


def test_multistep_loss_with_k1_equals_the_one_step_loss():
    config = tiny_config()
    params = models.init_params(jax.random.key(3), config)
    online = {"encoder": params["encoder"], "predictor": params["predictor"]}
    obs, future = batch(config, 1)
    one_step = trainer.jepa_loss(online, params["target"], obs, future[:, 0], config)
    multi = trainer.multistep_loss(online, params["target"], obs, future, trainer.rollout_weights(config), config)
    np.testing.assert_allclose(multi[0], one_step[0], rtol=1e-6)
    for name, value in one_step[1].items():
        np.testing.assert_allclose(multi[1][name], value, rtol=1e-6, err_msg=name)


def test_multistep_loss_is_the_weighted_mean_of_the_unrolled_errors():
    """Against an independent computation: apply the predictor j times by hand."""
    config = tiny_config(rollout_steps=4, rollout_decay=0.5)
    params = models.init_params(jax.random.key(4), config)
    online = {"encoder": params["encoder"], "predictor": params["predictor"]}
    obs, future = batch(config, 4)
    encode, predict = models.encoder(config).apply, models.predictor(config).apply
    z, errors = encode(params["encoder"], obs), []
    for j in range(4):
        z = predict(params["predictor"], z)
        errors.append(float(jnp.mean((z - encode(params["target"], future[:, j])) ** 2)))
    expected = sum(0.5**j * e for j, e in enumerate(errors)) / sum(0.5**j for j in range(4))
    _, m = trainer.multistep_loss(online, params["target"], obs, future, trainer.rollout_weights(config), config)
    np.testing.assert_allclose(m["pred_loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(m["pred_loss_last"], errors[-1], rtol=1e-5)


def test_sample_windows_are_consecutive_observations():
    config = tiny_config()
    obs, future = batch(config, 5, size=32)
    chex.assert_shape([obs, future], [(32, 512), (32, 5, 512)])
    half = 256
    np.testing.assert_array_equal(obs[:, half:], future[:, 0, :half])  # o_t's newest frame is o_t+1's oldest
    np.testing.assert_array_equal(future[:, :-1, half:], future[:, 1:, :half])


def test_rollout_weights_decay_and_curriculum():
    config = tiny_config(rollout_steps=4, rollout_decay=0.5, rollout_curriculum=90)
    np.testing.assert_allclose(trainer.rollout_weights(config), [1, 0.5, 0.25, 0.125])
    np.testing.assert_allclose(trainer.rollout_weights(config, 0), [1, 0, 0, 0])
    np.testing.assert_allclose(trainer.rollout_weights(config, 30), [1, 0.5, 0, 0])
    np.testing.assert_allclose(trainer.rollout_weights(config, 90), [1, 0.5, 0.25, 0.125])
    np.testing.assert_allclose(trainer.rollout_weights(config, 10_000), [1, 0.5, 0.25, 0.125])


def test_default_recipe_is_one_step_and_unchanged(tiny, tiny_result):
    assert Config().rollout_steps == 1 and get_config("default") == Config()
    assert "long_horizon" in VARIANTS and get_config("long_horizon").rollout_steps > 1
    # k = 1 with any decay or curriculum is the one-step run, bit for bit
    dressed = jax.jit(make_train(tiny.replace(rollout_decay=0.5, rollout_curriculum=20)))(seed_keys(0)[0])
    chex.assert_trees_all_equal(tiny_result, dressed)


def test_multistep_training_runs_and_learns():
    config = tiny_config(rollout_steps=4, rollout_curriculum=50)
    result = jax.jit(make_train(config))(seed_keys(0)[0])
    chex.assert_tree_all_finite(result)
    m = result.metrics
    assert float(m["loss"][-10:].mean()) < 0.5 * float(m["loss"][:10].mean())
    assert float(m["emb_std"][-1]) > 0.5


def test_too_many_rollout_steps_is_refused():
    with pytest.raises(ValueError, match="rollout_steps"):
        get_config("default", seq_len=10, rollout_steps=9)


# ---------- the evaluation beyond the reference: per-seed figures, JSONs, report merge ----------


def test_horizon_figures_of_a_tiny_run(tiny, tiny_result):
    settings = EvalSettings(forecast_steps=30, forecast_trajectories=16)
    out = jax.jit(lambda p, k: forecast.horizon_figures(p, k, tiny, settings))(tiny_result.params, seed_keys(0)[1])
    chex.assert_tree_all_finite(out)
    chex.assert_shape([out["error_curve"], out["floor_curve"]], [(30,), (30,)])
    assert 0 <= float(out["horizon_mean"]) <= 30 and 0 <= float(out["floor_horizon_mean"]) <= 30
    assert 0.0 <= float(out["within_100_fraction"]) <= 1.0


def test_report_merges_the_extra_results_that_exist(tmp_path):
    summary = lambda v: {"mean": v, "std": 0.0, "per_seed": [v, v]}  # noqa: E731
    entry = {
        k: summary(1.0)
        for k in (
            "probe_rmse",
            "velocity_rmse",
            "horizon_mean",
            "horizon_median",
            "within_100_fraction",
            "floor_horizon_mean",
            "probe_floor_mean",
        )
    }
    payload = {
        "command": "python eval.py --recipes --seeds 0-1",
        "seeds": [0, 1],
        "timing_s": {"train": 1.0, "total": 2.0},
        "configs": {
            "default": {
                **entry,
                "overrides": {},
                "settings": {"forecast_steps": 300, "forecast_trajectories": 256, "horizon_px": 1.0},
            },
            BEST_RECIPE: {
                **entry,
                "horizon_mean": summary(123.0),
                "overrides": {"rollout_steps": 16},
                "settings": {"forecast_steps": 300, "forecast_trajectories": 256, "horizon_px": 1.0},
            },
        },
    }
    report.write_json(payload, tmp_path / "recipes.json")
    text = command.write_report(argparse.Namespace(out=tmp_path, report=tmp_path / "R.md")).read_text()
    assert "has not been run yet" in text  # the parts not run are simply absent
    assert (
        "the horizon of every recipe" in text
        and f"| `{BEST_RECIPE}` mean horizon >= 100 steps | 123.0 ± 0.0 | yes |" in text
    )
    assert "subtle anomalies" not in text and "harder worlds" not in text


def test_extra_evaluations_refuse_config_flags():
    with pytest.raises(SystemExit):
        command.parse(["--recipes", "--seeds", "0-1", "--steps", "10"])


def test_koopman_predictor_is_affine_and_its_dream_is_matrix_powers():
    """The shipped recipe's world model is one linear layer: its k-step dream has the closed form
    z_k = z_0 A^k + b (I - A^k)(I - A)^-1, computed here without the rollout's scan."""
    config = tiny_config(
        **{k: v for k, v in VARIANTS["koopman"].items() if k in ("predictor_hidden", "cov_weight")}, latent_dim=6
    )
    assert config.predictor_hidden == () and config.cov_weight > 0
    params = models.init_params(jax.random.key(5), config)
    assert list(params["predictor"]["params"]) == ["layer0"]
    layer = params["predictor"]["params"]["layer0"]
    a, b = np.asarray(layer["kernel"], np.float64), np.asarray(layer["bias"], np.float64)
    z0 = jax.random.normal(jax.random.key(6), (3, 6))
    dream = np.asarray(api.rollout_latents(config, params, z0, 5))
    chex.assert_shape(dream, (3, 5, 6))
    eye = np.eye(6)
    for k in range(1, 6):
        power = np.linalg.matrix_power(a, k)
        expected = np.asarray(z0, np.float64) @ power + b @ (eye - power) @ np.linalg.inv(eye - a)
        np.testing.assert_allclose(dream[:, k - 1], expected, rtol=1e-4, atol=1e-5)


def test_predictor_spectrum_finds_the_harmonics_of_a_known_rotation():
    """An affine predictor built by hand: rotations at 1, 2 and 3 times the bounce frequency and one
    decaying pair. The spectrum must find 6 persistent modes, fundamental 1, highest harmonic 3."""
    config = tiny_config(predictor_hidden=(), latent_dim=8)
    omega = recipes.bounce_frequency(config)

    def rotation(angle, r=1.0):
        return r * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    blocks = [rotation(omega), rotation(2 * omega), rotation(3 * omega), rotation(0.3, r=0.5)]
    kernel = np.zeros((8, 8))
    for i, block in enumerate(blocks):
        kernel[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = block
    stacked = {"predictor": {"params": {"layer0": {"kernel": kernel[None], "bias": np.zeros((1, 8))}}}}
    spectrum = recipes.predictor_spectrum(stacked, config)
    assert spectrum["persistent_count"] == [6] and spectrum["highest_harmonic"] == [3]
    np.testing.assert_allclose(spectrum["fundamental_over_bounce"], [1.0], atol=1e-9)
    np.testing.assert_allclose(spectrum["off_harmonic_max"], [0.0], atol=1e-9)
    np.testing.assert_allclose(spectrum["persistent_modulus_min"], [1.0], atol=1e-9)
    assert recipes.predictor_spectrum(stacked, tiny_config()) is None  # a deep predictor has no spectrum


def test_worlds_section_shows_a_cnn_world_with_the_reference_recipe_and_no_pixel_figures():
    """A `_cnn` world is trained with the reference recipe only; it has no decoder, so its pixel column is
    empty, and the method says why it has no best-recipe row."""
    from jaxjepa.evaluation import worlds

    names = worlds.world_configs()
    assert "world32_cnn" in names and "world32_cnn+" + BEST_RECIPE not in names
    assert names["world32_cnn"].encoder_kind == "cnn" and names["world32_cnn"].frame_size == 32
    summary = lambda value: {"mean": value, "std": None}  # noqa: E731
    entry = {key: summary(0.5) for _, key, _ in worlds.COLUMNS}
    settings = {"forecast_steps": 100, "forecast_trajectories": 8, "anomaly_trajectories": 8}
    cnn = {k: v for k, v in entry.items() if "pixel" not in k} | {"probe_rmse": summary(1.25)}
    payload = {
        "command": "python eval.py --worlds --seeds 0 --no-std",
        "seeds": [0],
        "timing_s": {"train": 1.0, "total": 2.0},
        "configs": {
            name: {**values, "overrides": {}, "settings": settings}
            for name, values in {
                "default": entry,
                "world32": entry,
                f"world32+{BEST_RECIPE}": entry,
                "world32_cnn": cnn,
            }.items()
        },
    }
    text = worlds.section_worlds(payload)
    row = next(line for line in text.splitlines() if line.startswith("| `world32_cnn`"))
    assert row.split(" | ")[2] == "1.250" and row.count(" - ") == 1  # the one pixel column of the table
    mlp = next(line for line in text.splitlines() if line.startswith("| `world32` | `default`"))
    assert mlp.split(" | ")[2] == "0.500" and " - " not in mlp
    assert "Trained with the reference recipe only: `world32_cnn` (" in text


def test_long_horizon_k1_is_long_horizon_with_one_step():
    """RECIPES reads long_horizon_k1 as long_horizon's one-step twin (config.py says so): they differ in k alone,
    and neither is the shipped recipe, whose predictor is affine."""
    twin, recipe = get_config("long_horizon_k1"), get_config("long_horizon")
    assert twin.rollout_steps == 1 and recipe.rollout_steps > 1
    assert twin == recipe.replace(rollout_steps=1)
    assert twin.predictor_hidden != get_config(BEST_RECIPE).predictor_hidden

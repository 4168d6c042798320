"""The evaluation's metrics on cases with a known answer, and eval.py's command line.

Known answers used here: in a world where the logo does not move (speed 0), o_t = o_{t+1}, so a
predictor that is the identity is a perfect world model: zero surprise, and a rollout that never
leaves the band. The identity is exact in the reference's predictor shape because
GELU(x) - GELU(-x) = x (also for the tanh approximation): layer 0 = [I, -I], layer 1 = [I; -I].
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import eval as eval_script  # noqa: E402  (the top-level eval.py)
from jaxjepa import checkpoint, make_train, probe, save_run, trainer, world
from jaxjepa.evaluation import (
    ablation,
    anomaly,
    anomaly_kinds,
    figures,
    forecast,
    headline,
    headline_report,
    recipes,
    report,
    representation,
)
from jaxjepa.evaluation.runs import run_dir, train_seconds
from jaxjepa.evaluation.settings import EvalSettings, TooFewSeeds, purpose_key, stack_trees, summarise
from tests.conftest import SMALL, SMALL_CLI_FLAGS, random_params, tiny_config

REPO = Path(__file__).resolve().parents[1]


def identity_predictor(latent_dim: int) -> dict:
    eye = jnp.eye(latent_dim)
    return {
        "params": {
            "layer0": {"kernel": jnp.concatenate([eye, -eye], axis=1), "bias": jnp.zeros(2 * latent_dim)},
            "layer1": {"kernel": jnp.concatenate([eye, -eye], axis=0), "bias": jnp.zeros(latent_dim)},
        }
    }


@pytest.fixture(scope="module")
def static_world(tiny, tiny_result):
    """(config of a world where nothing moves, trained encoder + identity predictor)."""
    config = tiny.replace(speed=0.0)
    params = {**tiny_result.params, "predictor": identity_predictor(config.latent_dim)}
    return config, params


@pytest.fixture(scope="module")
def learned():
    """A tiny run long enough to learn the dynamics: 150 steps only spread the latents (the variance
    hinge's phase), 600 also learn to predict."""
    config = tiny_config(steps=600)
    return config, jax.jit(make_train(config))(trainer.seed_keys(0)[0]).params


# ---------- horizon ----------

# As the headline suite calls it: one compiled program, not each of its operations compiled on its own.
jitted_forecast = jax.jit(forecast.forecast, static_argnums=(3, 4))


class StepsWithinTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_counts_leading_steps_inside_the_band(self):
        steps_within = self.variant(forecast.steps_within)
        error = jnp.array(
            [
                [0.2, 0.5, 1.5, 0.1],  # leaves after 2 steps (later return does not count)
                [1.2, 0.1, 0.1, 0.1],  # already off at step 1
                [0.0, 0.0, 0.0, 0.0],
            ]
        )  # a perfect rollout: never leaves = K
        np.testing.assert_array_equal(steps_within(error, 1.0), [2, 0, 4])


def test_perfect_predictor_never_leaves_the_band(static_world):
    config, params = static_world
    settings = EvalSettings(forecast_steps=20, forecast_trajectories=16, examples=1)
    eval_key = trainer.seed_keys(0)[1]
    # A probe that is exact on the 16 start latents (33 free parameters interpolate 16 points), so any
    # error comes from the rollout. The trajectories are the very ones forecast() draws.
    traj = world.trajectories(purpose_key(eval_key, "forecast"), 16, 22, config, margin=config.eval_start_margin)
    z0, p0, _ = probe.encode_trajectories(params, traj, config)
    exact = probe.fit(z0[:, 0], p0[:, 0]).weights
    out = jitted_forecast(params, eval_key, exact, config, settings)
    chex.assert_shape(out["curves"]["position_error"], (20,))
    np.testing.assert_allclose(out["curves"]["position_error"], 0.0, atol=0.05)
    assert float(out["horizon_mean"]) == 20 and float(out["never_left_fraction"]) == 1.0


def test_rollout_error_grows_for_a_trained_model(tiny, tiny_result):
    settings = EvalSettings(forecast_steps=30, forecast_trajectories=32, examples=1)
    weights = representation.linear_probes(tiny_result.params, trainer.seed_keys(0)[1], tiny, 1)["position_probe"]
    out = jitted_forecast(tiny_result.params, trainer.seed_keys(0)[1], weights, tiny, settings)
    curve = np.asarray(out["curves"]["position_error"])
    chex.assert_tree_all_finite(out)
    assert curve[-5:].mean() > curve[0]  # drift: a one-step predictor is worse 30 steps out
    assert 0 <= float(out["horizon_mean"]) < 30
    # persistence (hold f_1) is exact at no step of a moving logo, but tiny at step 1
    assert float(out["curves"]["persistence_mse"][0]) < float(out["curves"]["persistence_mse"][5])


# ---------- surprise ----------


def test_perfect_predictor_has_zero_surprise(static_world):
    config, params = static_world
    frames = world.trajectory(jax.random.key(3), 20, config, margin=config.eval_start_margin).frames
    scores = anomaly.surprise(params, frames, config)
    chex.assert_shape([scores["latent"], scores["pixel"]], [(18,), (18,)])
    np.testing.assert_allclose(scores["latent"], 0.0, atol=1e-8)


def test_surprise_is_indexed_by_the_frame_where_the_anomaly_shows(static_world):
    """A teleport at frame t_a in a static world: surprise is zero except when scoring frames t_a
    (o_t_a-1 = (old, new) was not predictable) and t_a + 1; never 2 frames early."""
    config, params = static_world
    t_a = 11
    frames = world.trajectory(jax.random.key(4), 20, config, margin=config.eval_start_margin, anomaly_frame=t_a).frames
    latent = np.asarray(anomaly.surprise(params, frames, config)["latent"])
    scored_frames = np.arange(latent.size) + anomaly.FIRST_SCORED_FRAME
    surprising = set(scored_frames[latent > 1e-6].tolist())
    assert surprising == {t_a, t_a + 1}


def test_near_bounce_marks_the_frames_around_a_velocity_flip():
    velocities = np.full((1, 10, 2), 0.75)
    velocities[0, 5:, 1] = -0.75  # the x velocity flips at frame 5
    near = np.asarray(anomaly.near_bounce(jnp.asarray(velocities)))[0]
    np.testing.assert_array_equal(np.flatnonzero(near), [4, 5, 6])
    wider = np.asarray(anomaly.near_bounce(jnp.asarray(velocities), frames=2))[0]
    np.testing.assert_array_equal(np.flatnonzero(wider), [3, 4, 5, 6, 7])


class RocAucTest(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_known_answers(self):
        auc = self.variant(anomaly.roc_auc)
        normal = jnp.linspace(0.0, 1.0, 50)
        np.testing.assert_allclose(auc(normal + 2.0, normal), 1.0)  # perfectly separated
        np.testing.assert_allclose(auc(jnp.ones(10), jnp.ones(40)), 0.5)  # identical: ties count half
        np.testing.assert_allclose(auc(normal - 2.0, normal), 0.0)  # always below
        np.testing.assert_allclose(auc(jnp.array([0.25, 9.0]), jnp.array([0.0, 0.5])), 0.75)  # 1/2 and 1
        # a masked-out positive does not count
        np.testing.assert_allclose(auc(jnp.array([9.0, -9.0]), normal, jnp.array([True, False])), 1.0)


def test_median_mad_threshold():
    scores = jnp.array([1.0, 2.0, 3.0, 4.0, 100.0])  # median 3, |x - 3| = 2 1 0 1 97 -> MAD 1
    np.testing.assert_allclose(anomaly.median_mad_threshold(scores, 5.0), 8.0)


def test_detection_figures_on_known_scores():
    n, s = 6, 20
    rng = np.random.default_rng(0)
    normal = jnp.asarray(rng.uniform(0.9, 1.1, (n, s)))
    anomalous = jnp.asarray(rng.uniform(0.9, 1.1, (n, s)))
    frames_at = jnp.array([5, 6, 7, 8, 9, 10])
    anomalous = anomalous.at[jnp.arange(n), frames_at - anomaly.FIRST_SCORED_FRAME].set(50.0)
    anomalous = anomalous.at[0, 0].set(99.0)  # trajectory 0 peaks elsewhere: a miss
    visible = jnp.array([True] * 5 + [False])
    out = anomaly.detection_figures(anomalous, normal, normal, frames_at, visible, 5.0)
    np.testing.assert_allclose(out["hit_rate"], 4 / 5)
    np.testing.assert_allclose(out["invisible_hit_rate"], 1.0)
    np.testing.assert_allclose(out["roc_auc"], 1.0)
    np.testing.assert_allclose(out["detected_at_threshold"], 1.0)
    np.testing.assert_allclose(out["false_alarms_per_1000"], 0.0)  # uniform noise stays within 5 MAD
    np.testing.assert_allclose(
        out["peak_median_ratio_worst"], 50.0 / np.median(anomalous[1:5], axis=1).max(), rtol=1e-5
    )


def test_anomaly_evaluation_runs_and_finds_teleports(learned):
    config, params = learned
    settings = EvalSettings(anomaly_trajectories=16, anomaly_length=24, anomaly_first_frame=6, examples=2)
    out = jax.jit(lambda p, k: anomaly.detect(p, k, config, settings))(params, trainer.seed_keys(0)[1])
    chex.assert_tree_all_finite(out["latent"]["roc_auc"])
    assert int(out["visible_count"]) + int(out["invisible_count"]) == 16
    assert float(out["latent"]["roc_auc"]) > 0.9  # a small model is already surprised by a teleport
    assert float(out["latent"]["hit_rate_within_1"]) > 0.8
    chex.assert_shape(out["example"]["latent"], (2, 22))


def test_an_anomaly_kind_the_world_does_not_know_is_refused():
    with pytest.raises(ValueError, match="unknown anomaly 'melt'"):
        anomaly.trajectory_fn("melt")
    assert callable(anomaly.trajectory_fn("freeze"))


# ---------- probes ----------


def test_adam_probe_converges_on_a_linear_problem():
    """Latents that ARE the positions (times a mixing matrix, plus a bias): the published protocol's
    Adam probe must get close to zero error, and least squares exactly there."""
    positions = jax.random.uniform(jax.random.key(0), (4000, 2), minval=1, maxval=14)
    latents = positions @ jax.random.normal(jax.random.key(1), (2, 32)) * 0.3 + 1.0
    fitted = representation.adam_linear_probe(jax.random.key(2), latents, positions, steps=800, lr=1e-2, batch_size=512)
    assert float(probe.rmse(probe.apply(fitted, latents), positions)) < 0.1
    exact = probe.fit(latents, positions)
    np.testing.assert_allclose(probe.rmse(probe.apply(exact, latents), positions), 0.0, atol=2e-3)


def test_published_probe_uses_the_training_pairs_time_major(tiny, tiny_result):
    train_key = trainer.seed_keys(0)[0]
    traj = representation.training_trajectories(train_key, tiny)
    # the very frames the trainer trained on
    np.testing.assert_array_equal(
        traj.frames.reshape(tiny.train_sequences, tiny.seq_len, -1),
        trainer.training_frames(jax.random.split(train_key, 4)[0], tiny),
    )
    z, positions = representation.time_major_pairs(tiny_result.params, train_key, tiny)
    n = tiny.train_sequences
    chex.assert_shape([z, positions], [(n * (tiny.seq_len - 2), tiny.latent_dim), (n * (tiny.seq_len - 2), 2)])
    np.testing.assert_allclose(positions[:n], traj.positions[:, 1])  # first block: o_0 of every sequence
    np.testing.assert_allclose(positions[n : 2 * n], traj.positions[:, 2])


def test_position_probe_is_the_one_train_py_reports(learned):
    config, params = learned
    eval_key = trainer.seed_keys(0)[1]
    ours = representation.linear_probes(params, eval_key, config, 2)
    theirs = jax.jit(probe.probe_position, static_argnums=2)(params, eval_key, config)
    np.testing.assert_allclose(ours["position_rmse"], theirs["probe_rmse"], rtol=1e-5)
    assert float(ours["velocity_rmse"]) < float(ours["velocity_rmse_of_mean"])  # two frames carry velocity


# ---------- collapse ----------


def test_collapsed_encoder_has_zero_std_and_a_useless_probe(tiny, tiny_result):
    params = jax.tree_util.tree_map(lambda x: x, tiny_result.params)
    last = params["target"]["params"]["layer2"]
    params["target"]["params"]["layer2"] = {"kernel": jnp.zeros_like(last["kernel"]), "bias": last["bias"]}
    out = ablation.collapse_figures(params, trainer.seed_keys(0)[1], tiny)
    np.testing.assert_allclose(out["embedding_std"], 0.0, atol=1e-6)
    np.testing.assert_allclose(out["probe_rmse"], out["probe_rmse_of_mean"], rtol=1e-3)
    healthy = ablation.collapse_figures(tiny_result.params, trainer.seed_keys(0)[1], tiny)
    assert float(healthy["embedding_std"]) > 0.1 and float(healthy["probe_rmse"]) < float(healthy["probe_rmse_of_mean"])


def test_thin_curves_keeps_ends():
    steps, thinned = ablation.thin_curves(np.arange(2 * 1000, dtype=float).reshape(2, 1000), points=10)
    assert steps[0] == 1 and steps[-1] == 1000 and thinned.shape == (2, len(steps))
    np.testing.assert_array_equal(thinned[:, -1], [999, 1999])


# ---------- over seeds ----------


def test_summarise_needs_two_seeds_for_a_std():
    out = summarise([1.0, 2.0, 3.0])
    np.testing.assert_allclose([out["mean"], out["std"]], [2.0, 1.0])
    with pytest.raises(TooFewSeeds):
        summarise([1.0])
    assert summarise([1.0], need_std=False)["std"] is None
    assert summarise([1.0, np.nan, 3.0])["seeds_counted"] == 2  # a seed with no such case is skipped


def test_train_seconds_is_one_seeds_share_of_its_program():
    assert train_seconds({"final": {"run_s": 90.0, "seeds_in_program": 3}}) == 30.0


def test_vmapped_evaluation_equals_one_seed(tiny, tiny_result):
    other = jax.tree_util.tree_map(lambda x: x * 1.01, tiny_result.params)
    keys = jnp.stack([trainer.seed_keys(0)[1], trainer.seed_keys(1)[1]])
    both = jax.jit(jax.vmap(lambda p, k: ablation.collapse_figures(p, k, tiny)))(
        stack_trees([tiny_result.params, other]), keys
    )
    alone = ablation.collapse_figures(tiny_result.params, keys[0], tiny)
    chex.assert_trees_all_close(jax.tree_util.tree_map(lambda x: x[0], both), alone, rtol=1e-4, atol=1e-5)


# ---------- eval.py ----------


def run_cli(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        eval_script.main(argv)
    err = capsys.readouterr().err.strip()
    return exit_info.value.code, err


def test_cli_missing_run_dir(tmp_path, capsys):
    code, err = run_cli(capsys, [str(tmp_path / "nope"), str(tmp_path / "nope2")])
    assert code != 0 and len(err.splitlines()) == 1 and "nope" in err


def test_cli_half_written_run_dir(tmp_path, capsys):
    half = tmp_path / "seed0"
    half.mkdir()
    (half / "config.json").write_text(tiny_config().to_json())
    code, err = run_cli(capsys, [str(half), str(half)])
    assert code != 0 and len(err.splitlines()) == 1 and "not a finished run" in err and "seed0" in err


def test_cli_one_seed_with_std_is_refused(capsys):
    code, err = run_cli(capsys, ["--seeds", "0"])
    assert code == 2 and len(err.splitlines()) == 1 and "at least 2 seeds" in err


def test_cli_needs_something_to_evaluate(capsys):
    code, err = run_cli(capsys, [])
    assert code == 2 and len(err.splitlines()) == 1


def saved_variant_runs(runs: Path, names: tuple[str, ...], seeds: tuple[int, ...]) -> dict[Path, bytes]:
    """Runs of the ablation variants `names` as --seeds would find them (parameters of the right shapes, a
    falling training curve), with every file's bytes, to show later that nothing trained over them."""
    base, saved = tiny_config(**SMALL), {}
    curves = {"emb_std": np.geomspace(1.0, 0.01, base.steps).tolist()}
    for name in names:
        config = ablation.variant_config(base, name)
        for seed in seeds:
            directory = save_run(
                run_dir(runs, name, seed), config, random_params(config), {"final": {}, "curves": curves}
            )
            saved.update({path: path.read_bytes() for path in directory.rglob("*") if path.is_file()})
    return saved


def test_cli_end_to_end_and_wrong_config(tmp_path, capsys):
    """Tiny runs: --seeds trains what is missing (the reference recipe's runs; the three other ablation
    variants' are on disk already and are used as they are), evaluates, writes every output; then a saved
    run of another config is refused with one line naming it. Two seeds, the fewest that give a std."""
    runs, out, report_path, readme = (
        tmp_path / "runs",
        tmp_path / "results",
        tmp_path / "RESULTS.md",
        tmp_path / "README.md",
    )
    readme.write_text(f"# title\n\n{report.README_BEGIN}\nold numbers\n{report.README_END}\n\nkept\n")
    found = saved_variant_runs(runs, ("ema_only", "stopgrad_only", "no_stopgrad"), (0, 1))
    argv = [
        "--seeds",
        "0-1",
        "--runs",
        str(runs),
        "--out",
        str(out),
        "--report",
        str(report_path),
        "--readme",
        str(readme),
        "--trajectories",
        "16",
        *SMALL_CLI_FLAGS,
    ]
    assert eval_script.main(argv) == 0
    for name in ("default", "ema_only", "stopgrad_only", "no_stopgrad"):
        for seed in (0, 1):
            assert checkpoint.is_finished(run_dir(runs, name, seed))
    assert {path: path.read_bytes() for path in found} == found  # found, not trained again
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seeds"] == [0, 1]
    assert metrics["settings"]["forecast_trajectories"] == metrics["settings"]["anomaly_trajectories"] == 16
    assert metrics["representation"]["position_rmse_px"]["std"] is not None
    assert set(metrics["ablation"]) == {"default", "ema_only", "stopgrad_only", "no_stopgrad"}
    for name in (
        "horizon.png",
        "dream.gif",
        "dream_filmstrip.png",
        "surprise.png",
        "collapse.png",
        "probe_scatter.png",
    ):
        assert (out / name).stat().st_size > 1000
    text = report_path.read_text()
    assert "python eval.py --seeds 0-1" in text and "reference" in text and "±" in text
    assert "](results/horizon.png)" in text  # figures linked relative to the report
    readme_text = readme.read_text()  # the generated block was replaced, the rest kept
    assert "old numbers" not in readme_text and "probe RMSE" in readme_text and readme_text.endswith("kept\n")
    # --report-only writes both again from the stored JSON alone, byte for byte, and evaluates nothing
    report_path.unlink()
    readme.write_text(readme_text.replace("probe RMSE", "stale"))
    outputs = ["--out", str(out), "--report", str(report_path), "--readme", str(readme)]
    assert eval_script.main(["--report-only", *outputs]) == 0
    assert report_path.read_text() == text and readme.read_text() == readme_text
    capsys.readouterr()
    code, err = run_cli(capsys, ["--report-only", "--seeds", "0-1", *outputs])
    assert code == 2 and len(err.splitlines()) == 1 and "--report-only evaluates nothing" in err
    # ... and a report written elsewhere links the figures and the JSON where they are, under --out
    elsewhere = tmp_path / "elsewhere" / "sub" / "R.md"
    elsewhere.parent.mkdir(parents=True)
    assert (
        eval_script.main(["--report-only", "--out", str(out), "--report", str(elsewhere), "--readme", str(readme)]) == 0
    )
    links = re.findall(r"\]\(([^)]+\.(?:png|gif|json))\)|from `([^`]+\.json)`", elsewhere.read_text())
    paths = [elsewhere.parent / (figure or json_file) for figure, json_file in links]
    assert len(paths) >= 6 and all(path.is_file() for path in paths), paths
    capsys.readouterr()

    # the same runs asked for with another config: one line naming the run directory
    code, err = run_cli(capsys, [*argv[:-2], "--probe-seq-len", "32"])
    assert code == 2 and len(err.splitlines()) == 1 and "seed0" in err and "another config" in err


def test_generated_block_is_replaced_between_markers_and_refused_without_them(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"top\n{report.README_BEGIN}\nold\n{report.README_END}\nkept\n")
    report.replace_block(readme, report.README_BEGIN, report.README_END, "NEW")
    assert readme.read_text() == "top\nNEW\nkept\n"
    with pytest.raises(report.MissingMarkers, match="no generated block"):
        report.replace_block(readme, report.README_BEGIN, report.README_END, "again")
    assert readme.read_text() == "top\nNEW\nkept\n"  # refused: nothing appended, nothing lost


def test_a_difference_is_judged_against_the_larger_spread_over_seeds():
    reference = [0.5, 0.7]  # mean 0.6, sample std 0.141
    assert headline_report.difference({"mean": 0.7, "std": 0.05}, reference, 2) == "+0.10, within 0.14"
    assert headline_report.difference({"mean": 0.2, "std": 0.3}, reference, 2) == "-0.40, **beyond** 0.30"
    assert headline_report.difference({"mean": 0.6, "std": None}, [0.6, 0.6], 1) == "+0.0, within 0.0"
    assert headline_report.difference({"mean": None, "std": None}, reference, 2) == "-"  # every seed non-finite


def test_the_readme_block_names_a_recipe_that_is_not_the_reference():
    """README's block sits beside the reference's figures: a shortened or named recipe's numbers say so there."""
    metrics = json.loads((REPO / "results" / "metrics.json").read_text())
    args = ({}, "RESULTS.md", "results/metrics.json")
    assert "not the reference recipe" not in headline_report.readme_block({**metrics, "overrides": {}}, *args)
    other = {**metrics, "config_name": "default", "overrides": {"steps": 200}}
    made_by = headline_report.readme_block(other, *args).split("\n")[2]
    assert "seeds, config `default` with overrides `{'steps': 200}`, not the reference recipe;" in made_by


def test_a_run_without_a_decoder_reports_no_decoded_figures():
    """decoder_steps 0 leaves the decoder's random initial weights: what reads its output is missing, not compared
    with the reference; every other figure stays as measured."""
    ones = lambda *shape: np.ones(shape)
    case = {
        "latent": {"roc_auc": ones(2)},
        "pixel": {"roc_auc": ones(2), "hit_rate": ones(2)},
        "example": {"latent": ones(2, 5), "pixel": ones(2, 5), "pixel_threshold": ones(2), "frame": ones(2)},
    }
    rollout = {"horizon_mean": ones(2), "half_persistence_steps_mean": ones(2),
               "half_persistence_steps_of_mean_curve": ones(2), "example_decoded": ones(2, 1, 3, 4, 4),
               "curves": {"position_error": ones(2, 3), "decoded_mse": ones(2, 3)}}  # fmt: skip
    measured = headline.without_decoder({"linear": {"a": ones(2)}, "forecast": rollout, "anomaly": {"teleport": case}})
    left = measured["anomaly"]["teleport"]
    assert np.isnan(left["pixel"]["hit_rate"]).all() and np.isnan(left["example"]["pixel_threshold"]).all()
    assert np.isnan(measured["forecast"]["curves"]["decoded_mse"]).all()
    assert np.isnan(measured["forecast"]["example_decoded"]).all() and measured["forecast"]["example_decoded"].ndim == 5
    assert left["latent"]["roc_auc"].tolist() == [1, 1] and left["example"]["latent"].shape == (2, 5)
    assert measured["forecast"]["horizon_mean"].tolist() == [1, 1] and measured["linear"]["a"].tolist() == [1, 1]
    metrics = json.loads((REPO / "results" / "metrics.json").read_text())
    assert headline_report.NO_DECODER not in headline_report.section_header(metrics)
    no_decoder = {**metrics, "config": {**metrics["config"], "decoder_steps": 0}, "figures": {}}
    assert headline_report.NO_DECODER in headline_report.section_header(no_decoder)
    assert "Animated: [" not in headline_report.section_forecast(no_decoder)
    args = ({}, "RESULTS.md", "results/metrics.json")
    assert headline_report.NO_DECODER in headline_report.readme_block(no_decoder, *args)
    assert headline_report.NO_DECODER not in headline_report.readme_block(metrics, *args)


def test_the_figures_of_a_run_without_a_decoder_draw_what_exists(tmp_path):
    """All-NaN pixel scores and decoded MSE (headline.without_decoder) cannot go on a log axis: their panel and
    curve are left out, the rest is drawn."""
    rng = np.random.default_rng(0)
    names = ("position_error", "probe_floor", "persistence_position_error", "decoded_mse", "persistence_mse")
    curves = {k: rng.uniform(0.1, 2.0, (2, 30)) for k in names}
    curves["decoded_mse"] = np.full((2, 30), np.nan)
    assert figures.horizon_curve(curves, 1.0, tmp_path / "h.png").stat().st_size > 1000
    example = {"visible": np.array([True]), "latent": rng.uniform(0.1, 1, (1, 20)), "pixel": np.full((1, 20), np.nan),
               "frame": np.array([9]), "latent_threshold": 0.5, "pixel_threshold": np.nan}  # fmt: skip
    with_pixels = {**example, "pixel": rng.uniform(0.1, 1, (1, 20)), "pixel_threshold": 0.5}
    latent_only = figures.surprise_trace(example, 2, 3.0, tmp_path / "s1.png")
    both = figures.surprise_trace(with_pixels, 2, 3.0, tmp_path / "s2.png")
    assert 1000 < latent_only.stat().st_size < both.stat().st_size  # one panel, not two


def test_the_recipes_and_anomaly_sections_state_the_constants_their_payload_was_measured_with():
    """--report-only renders a stored payload: a constant the measure used is read from it, the code's value only
    for payloads written before they carried it."""
    recipes_payload = json.loads((REPO / "results" / "recipes.json").read_text())
    kinds_payload = json.loads((REPO / "results" / "anomalies.json").read_text())
    assert "modulus >= 0.75." in recipes.section_recipes({**recipes_payload, "persistent_modulus": 0.75})
    assert f"modulus >= {recipes.PERSISTENT_MODULUS}." in recipes.section_recipes(recipes_payload)
    assert "within 7 frames" in anomaly_kinds.section_anomalies({**kinds_payload, "mid_air_frames": 7})


def test_a_targets_table_marks_a_missed_target():
    text = report.targets_table([("horizon >= 100", "181.8", True), ("probe <= 0.5", "0.6", False)])
    assert text.splitlines()[2:] == ["| horizon >= 100 | 181.8 | yes |", "| probe <= 0.5 | 0.6 | **no** |"]
    zero = {"mean": 0.0, "std": 0.0}
    assert report.at_least(zero, 0.0) and report.at_most(zero, 0.0)  # a mean of 0 is a figure, not a missing one
    assert not report.at_least(zero, 0.5) and not report.at_most({"mean": 0.6}, 0.5)
    for missing in (None, {"mean": None, "std": None}):  # a figure no seed gave never meets a target
        assert not report.at_least(missing, 0.0) and not report.at_most(missing, 1e9)
    assert not report.at_most(zero, None)  # nor does a figure against a missing bound


BLOCK_MATPLOTLIB = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
sys.argv = ["eval.py", "--seeds", "0-1", "--out", sys.argv[1]]
exec(open("eval.py").read())
"""


def test_eval_without_the_plots_extra_says_how_to_install_it_before_any_work(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_MATPLOTLIB, str(tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "pip install -e '.[plots]'" in done.stderr and "matplotlib" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_every_suite_says_what_it_found_on_the_console(capsys):
    """After a suite runs, eval.py prints its summary (command.print_summary): one line or more for each suite, read
    here from the committed results (every suite has its payload there), each line naming a figure of the payload."""
    from jaxjepa.evaluation import command

    files = command.stored_files(REPO / "results")
    args = argparse.Namespace(out=str(REPO / "results"), report="RESULTS.md")
    for evaluation in command.REPORT_ORDER:
        content = files[evaluation.result_file]
        payload = content if evaluation.key is None else content[evaluation.key]
        command.print_summary([command.Outcome(evaluation, payload, {}, {"total": 1.0, "train": 0.0})], files, args)
        lines = capsys.readouterr().out.splitlines()[1:-1]  # between the suite's timing line and the files written
        assert lines and all(line.startswith("  ") and re.search(r"\d", line) for line in lines), evaluation.name

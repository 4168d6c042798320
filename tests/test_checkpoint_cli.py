import json
import shutil

import chex
import jax
import numpy as np
import pytest

import train as train_cli
from jaxjepa import RunError, get_config, load_run, save_run, world
from tests.conftest import SMALL_CLI_FLAGS


@pytest.fixture()
def saved(tmp_path, tiny, tiny_result):
    return save_run(tmp_path / "seed0", tiny, tiny_result.params, {"final": {"loss": 1.0}}), tiny_result


def test_save_load_round_trip(saved, tiny):
    run_dir, result = saved
    run = load_run(run_dir)
    assert run.config == tiny
    chex.assert_trees_all_equal(run.params, jax.device_get(result.params))
    assert run.metrics["final"]["loss"] == 1.0
    assert not list(run_dir.parent.glob(".*partial*"))  # nothing half-written left behind


def test_loaded_run_encodes_predicts_decodes_and_dreams(saved, tiny):
    run = load_run(saved[0])
    frames = np.asarray(world.trajectories(jax.random.key(0), 3, 6, tiny).frames)
    obs = np.asarray(world.observations(frames))  # [3, 5, 2, 16, 16]
    z = run.encode(obs)
    chex.assert_shape(z, (3, 5, 32))
    chex.assert_shape(run.predict(z), (3, 5, 32))
    chex.assert_shape(run.decode(z), (3, 5, 16, 16))
    dream = run.rollout(obs[:, 0], 4)
    chex.assert_shape(dream, (3, 4, 32))
    np.testing.assert_allclose(dream[:, 0], run.predict(z[:, 0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dream[:, 1], run.predict(run.predict(z[:, 0])), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="obs must have shape"):
        run.encode(np.zeros((3, 16, 16)))
    with pytest.raises(ValueError, match="steps must be"):
        run.rollout(obs[:, 0], 0)


def test_refuses_to_clobber_a_finished_run_unless_forced(saved, tiny):
    run_dir, result = saved
    with pytest.raises(RunError, match="already holds a finished run"):
        save_run(run_dir, tiny, result.params, {"final": {"loss": 2.0}})
    save_run(run_dir, tiny, result.params, {"final": {"loss": 2.0}}, force=True)
    assert load_run(run_dir).metrics["final"]["loss"] == 2.0


def test_missing_half_written_and_corrupt_runs_are_named(saved, tmp_path):
    run_dir, _ = saved
    with pytest.raises(RunError, match="no run directory"):
        load_run(tmp_path / "nowhere")
    half = tmp_path / "half"
    shutil.copytree(run_dir, half)
    (half / "metrics.json").unlink()
    with pytest.raises(RunError, match="not a finished run.*metrics.json"):
        load_run(half)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(run_dir, corrupt)
    (corrupt / "config.json").write_text("{not json")
    with pytest.raises(RunError, match="corrupt"):
        load_run(corrupt)


def test_run_of_another_config_shape_is_refused(saved, tmp_path, tiny):
    run_dir, _ = saved
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    config = json.loads((other / "config.json").read_text())
    config["latent_dim"] = 16  # the checkpoint holds 32-d latents
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(RunError, match="does not match its config"):
        load_run(other)
    with pytest.raises(RunError, match="another config"):
        load_run(run_dir, expected=tiny.replace(steps=tiny.steps + 1))
    # a planning field is the evaluation's setting, not the run's: the run loads, with its saved config
    replanned = tiny.replace(search_beams=tiny.search_beams + 1, plan_horizon=tiny.plan_horizon + 1)
    assert load_run(run_dir, expected=replanned).config == tiny
    # ... and planned as another config plans: its planning fields, the run's own for the rest
    assert tiny.planning_as(replanned) == replanned and replanned.planning_as(tiny) == tiny
    assert tiny.planning_as(tiny.replace(steps=tiny.steps + 1)) == tiny


def test_the_reference_probe_is_quoted_for_runs_in_its_world_only():
    assert train_cli.reference_probe(get_config("default")) == "; reference: 0.73 published, 0.64 mean of 5 seeds"
    assert train_cli.reference_probe(get_config("fast")).startswith("; reference:")  # another recipe, its world
    for name in ("steer", "two_rooms_ebjepa", "world32", "noisy", "two_logos", "random_speed"):
        assert train_cli.reference_probe(get_config(name)) == ""


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--steps", "0"], "steps must be positive"),
        (["--seed", "-1"], "non-negative"),
        (["--seeds", "5-2"], "empty seed range"),
        (["--seeds", "1,x"], "bad seed spec"),
        (["--no-such-key", "3"], "unrecognized arguments"),
        (["--lr", "fast"], "invalid float value"),
        (["--config", "nope"], "invalid choice"),
        (["--target", "sideways"], "target must be"),
    ],
)
def test_bad_cli_input_is_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_fewer_plan_samples_cap_the_recipes_elites_as_plan_py_does(capsys):
    """--plan-samples below the recipe's CEM elites caps them (plan.py's --samples and the exporter's
    --plan-samples do: Config.planning_with); elites given above the samples are still refused in one line."""
    from jaxjepa import cli

    config = cli.config_from(train_cli.parse(["--config", "steer", "--plan-samples", "4"]), "train.py")
    assert (config.plan_samples, config.plan_elites) == (4, 4)
    assert config == get_config("steer").planning_with(plan_samples=4)
    with pytest.raises(SystemExit) as exit_info:
        cli.config_from(train_cli.parse(["--plan-samples", "4", "--plan-elites", "6"]), "train.py")
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "plan_elites (6) must not exceed plan_samples (4)" in err
    assert len(err.splitlines()) == 1


def _train(argv, cwd, monkeypatch, capsys):
    """train.py's main in this process, run from `cwd`: (exit code, stdout, stderr). In process, not as a
    subprocess: a new process would import JAX and load its programs again, which is most of such a test's
    time. A traceback would fail the test here as it would reach the user there."""
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    try:
        code = train_cli.main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_cli_writes_runs_and_refuses_to_clobber(tmp_path, monkeypatch, capsys):
    code, out, err = _train(["--seeds", "0,1", "--out", "out", *SMALL_CLI_FLAGS], tmp_path, monkeypatch, capsys)
    assert code == 0, err
    assert "probe RMSE" in out and "+-" in out
    for seed in (0, 1):
        metrics = json.loads((tmp_path / "out" / f"seed{seed}" / "metrics.json").read_text())
        assert len(metrics["curves"]["loss"]) == 40 and metrics["final"]["probe_rmse_px"] > 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["seeds"] == [0, 1] and summary["figures"]["probe_rmse_px"]["std"] >= 0
    code, _, err = _train(["--seed", "1", "--out", "out", *SMALL_CLI_FLAGS], tmp_path, monkeypatch, capsys)
    assert code == 2 and "already holds a finished run" in err and len(err.strip().splitlines()) == 1
    assert "not trained yet" not in err  # no other seed to offer
    for seeds, untrained in (("0-3", "2-3"), ("1,4,2,6", "4,2,6")):  # more seeds: the line names those to train
        code, _, err = _train(["--seeds", seeds, "--out", "out", *SMALL_CLI_FLAGS], tmp_path, monkeypatch, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and f"not trained yet: --seeds {untrained}" in err
    other_config = ["--seeds", "0-3", "--out", "out", *SMALL_CLI_FLAGS, "--lr", "3e-3"]  # seeds 2-3 would mix configs
    code, _, err = _train(other_config, tmp_path, monkeypatch, capsys)
    assert code == 2 and "already holds a finished run" in err and "not trained yet" not in err
    # --force would delete a run of another config for this one's: the line says whose run it is
    assert "a run of another config (lr 0.001 there, 0.003 here): give this config its own --out" in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == [
        "seed0",
        "seed1",
        "summary.json",
    ]


def test_nan_loss_stops_with_the_step_and_saves_nothing(tmp_path, monkeypatch, capsys):
    code, _, err = _train(
        ["--seed", "0", "--out", "out", "--lr", "1e30", *SMALL_CLI_FLAGS], tmp_path, monkeypatch, capsys
    )
    assert code == 1
    assert "NaN/inf at step" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "seed0").exists()


def test_a_decoder_gone_nan_under_a_finite_loss_saves_nothing(tmp_path, monkeypatch, capsys):
    """The decoder trains after the JEPA, on its own loss: with its learning rate far too high its parameters and
    loss go NaN while the JEPA loss stays finite. A run saved so would be refused by every reader of it."""
    argv = ["--seeds", "0-1", "--out", "out", "--decoder-lr", "1e30", *SMALL_CLI_FLAGS]
    code, _, err = _train(argv, tmp_path, monkeypatch, capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert "decoder loss became NaN/inf at step" in err and "for seed(s) [0, 1]; nothing saved for them" in err
    assert not (tmp_path / "out" / "seed0").exists() and not (tmp_path / "out" / "summary.json").exists()


def test_a_figure_or_parameter_gone_nan_is_named_without_a_step():
    curves = {"loss": np.ones(4), "decoder_loss": np.ones(2)}
    finite = {"final": {"probe_rmse_px": 1.0, "decoder_loss": None}, "curves": curves}
    assert train_cli.nonfinite(finite, {"w": np.ones(3)}) is None
    assert train_cli.nonfinite(finite, {"w": np.array([1.0, np.inf])}) == ("a figure or a parameter", None)
    probe_nan = {**finite, "final": {"probe_rmse_px": float("nan")}}
    assert train_cli.nonfinite(probe_nan, None) == ("a figure or a parameter", None)
    loss_nan = {**finite, "curves": {**curves, "loss": np.array([1, 2, np.nan, np.nan])}}
    assert train_cli.nonfinite(loss_nan, None) == ("loss", 2)
    said = train_cli.failures({"loss": [(3, 7), (1, 5)], "a figure or a parameter": [(2, None)]})
    assert said.startswith("loss became NaN/inf at step 5 for seed(s) [3, 1]; a figure or a parameter became NaN/inf ")
    assert said.endswith("became NaN/inf for seed(s) [2]")

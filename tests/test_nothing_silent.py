"""Nothing silent: a damaged run, a bad config.json, an absurd flag or a bad API input ends in one line
naming what is wrong (RunError / ValueError / exit 2), never a traceback, a hang or garbage."""

import argparse
import contextlib
import dataclasses
import errno
import importlib
import json
import math
import os
import shutil
import signal
import stat
from pathlib import Path

import jax
import numpy as np
import pytest

import train as train_cli
from jaxjepa import (
    RunError,
    checkpoint,
    cli,
    get_config,
    load_run,
    make_train,
    models,
    planning,
    resources,
    runner,
    save_run,
    seed_keys,
    steer,
    world,
)
from jaxjepa.api import MAX_ROLLOUT_STEPS
from jaxjepa.config import RANGES, Config
from jaxjepa.evaluation import report
from tests.conftest import SMALL_CLI_FLAGS, cli_flags, random_params, tiny_config, tiny_steer_config


def saved_run(root: Path) -> Path:
    config = tiny_config()
    return save_run(root / "seed0", config, random_params(config), {"final": {"loss": 1.0}})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return saved_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture()
def copy(run_dir, tmp_path):
    return Path(shutil.copytree(run_dir, tmp_path / "seed0"))


@pytest.fixture(scope="module")
def run(run_dir):
    return load_run(run_dir)


def _largest_data_file(run: Path) -> Path:
    return max((p for p in (run / "checkpoint").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def _refused(run: Path, capfd, match: str) -> str:
    """load_run raises one RunError line matching `match`, and nothing reaches stderr."""
    with pytest.raises(RunError, match=match) as refusal:
        load_run(run)
    message = str(refusal.value)
    assert len(message.splitlines()) == 1 and len(message) < 400, message
    assert capfd.readouterr().err == ""
    return message


# ---------- checksums and finiteness ----------


def test_one_flipped_bit_in_the_checkpoint_is_named_by_the_checksum(copy, capfd):
    data = _largest_data_file(copy)
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    data.write_bytes(bytes(raw))
    assert data.name in _refused(copy, capfd, "sha256 checksum")


def test_run_saved_without_a_checksum_still_loads(run_dir, copy):
    (copy / "checksum.json").unlink()
    jax.tree_util.tree_map(np.testing.assert_array_equal, load_run(copy).params, load_run(run_dir).params)


def test_non_finite_parameters_are_refused(tmp_path, capfd, monkeypatch):
    config = tiny_config()
    params = random_params(config)
    params["predictor"]["params"]["layer0"]["bias"][3] = np.inf
    with pytest.raises(RunError, match="hold NaN or inf"):
        save_run(tmp_path / "seed0", config, params, {"final": {}})
    monkeypatch.setattr(checkpoint, "is_finite", lambda *_: True)  # such a run, written by hand or by an older save
    saved = save_run(tmp_path / "seed0", config, params, {"final": {}})
    assert "predictor" in _refused(saved, capfd, "non-finite")
    (saved / "checksum.json").unlink()  # a run without a checksum is still checked for finiteness
    _refused(saved, capfd, "non-finite")


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("checksum", [True, False], ids=["with-checksum", "without-checksum"])
def test_truncated_checkpoint_is_one_line_and_silent(copy, capfd, checksum):
    if not checksum:
        (copy / "checksum.json").unlink()
    data = _largest_data_file(copy)
    data.write_bytes(data.read_bytes()[:1000])
    message = _refused(copy, capfd, "checksum|unreadable")
    assert "does not match" not in message


# ---------- config.json: every field's type and range ----------


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("frame_size", 16.0, "frame_size must be an integer"),
        ("latent_dim", 32.5, "latent_dim must be an integer"),
        ("steps", True, "steps must be an integer"),
        ("steps", [3], "steps must be an integer"),
        ("sigma", "1.5", "sigma must be a number"),
        ("encoder_hidden", [0], "encoder_hidden must be positive"),
        ("encoder_hidden", 256, "encoder_hidden must be a list of integers"),
        ("target", "sideways", "target must be one of"),
        ("ema_decay", 1.5, r"ema_decay must be in \[0, 1\]"),
        ("train_start_margin", -1, "train_start_margin must be in"),
    ],
)
def test_config_json_of_wrong_type_or_range_does_not_load(copy, capfd, field, value, match):
    values = json.loads((copy / "config.json").read_text())
    values[field] = value
    (copy / "config.json").write_text(json.dumps(values))
    _refused(copy, capfd, match)


@pytest.mark.parametrize(
    "text,match", [('"sigma": NaN', "NaN is not valid JSON"), ('"lr": Infinity', "Infinity is not valid JSON")]
)
def test_config_json_with_nan_or_infinity_does_not_load(copy, capfd, text, match):
    values = json.loads((copy / "config.json").read_text())
    key = text.split(":")[0].strip('"')
    raw = json.dumps(values).replace(f'"{key}": {json.dumps(values[key])}', text)
    assert text in raw
    (copy / "config.json").write_text(raw)
    _refused(copy, capfd, match)


def test_config_json_missing_a_field_does_not_load(copy, capfd):
    values = json.loads((copy / "config.json").read_text())
    del values["batch_size"]
    (copy / "config.json").write_text(json.dumps(values))
    _refused(copy, capfd, "missing config field.*batch_size")


def test_every_numeric_field_has_a_range():
    numeric = {f.name for f in dataclasses.fields(Config) if f.type in ("int", "float") or f.type.startswith("tuple")}
    assert numeric == set(RANGES)
    for name in numeric:  # the reference recipe lies inside every range
        Config().replace(**{name: getattr(Config(), name)})


@pytest.mark.parametrize("field", ["sigma", "lr", "var_eps", "ema_decay", "speed"])
def test_nan_and_inf_fail_every_float_field(field):
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match=f"{field} must be a finite number"):
            Config().replace(**{field: bad})


# ---------- run directories that are not runs: one true line each ----------


@pytest.mark.parametrize(
    "damage,match",
    [
        (lambda run: (run / "config.json").write_text("[]"), "must be a JSON object"),
        (lambda run: ((run / "config.json").unlink(), (run / "config.json").mkdir()), "config.json is not a readable"),
        (lambda run: (run / "config.json").write_text('{"frame_size": 16,'), "config.json is not a readable JSON"),
        (lambda run: (run / "config.json").write_bytes(b"\xff\xfe{}"), "config.json is not a readable JSON"),
        (lambda run: (run / "metrics.json").write_text("{oops"), "metrics.json is not a readable JSON"),
        (lambda run: (run / "metrics.json").write_text("[]"), "metrics.json is corrupt"),
        (lambda run: (run / "metrics.json").write_text('{"final": 3}'), "metrics.json is corrupt"),
        (lambda run: (run / "metrics.json").write_text('{"final": {"loss": 1e400}}'), "too large for a float"),
        (lambda run: (run / "checksum.json").write_text("[1, 2]"), "checksum.json is not|checksum.json refuses"),
        (lambda run: _largest_data_file(run).unlink(), "is missing"),
    ],
)
def test_damaged_run_directories_are_one_true_line(copy, capfd, damage, match):
    damage(copy)
    assert "does not match its config.json" not in _refused(copy, capfd, match)


def test_eval_refuses_a_run_lacking_what_its_suites_read_before_training(tmp_path, capsys, monkeypatch):
    """The collapse ablation reads each run's emb_std curve: a run without it (damaged, or written by hand)
    is one line before anything trains, not a KeyError once the evaluation is done."""
    import eval as eval_cli
    from jaxjepa.config import ABLATIONS
    from jaxjepa.evaluation.ablation import variant_config
    from jaxjepa.evaluation.runs import run_dir as run_dir_of

    variant = variant_config(tiny_config(), ABLATIONS[-1])
    save_run(run_dir_of(tmp_path / "runs", ABLATIONS[-1], 0), variant, random_params(variant), {"final": {}})
    monkeypatch.setattr(runner, "train_seeds", _no_compute)
    monkeypatch.setattr(runner, "enable_compilation_cache", lambda *args: "off")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        eval_cli.main(["--seeds", "0", "--no-std", "--runs", "runs", "--out", "results", *cli_flags()])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1, err
    assert "curves.emb_std must be a list of" in err and ABLATIONS[-1] in err


def test_path_too_long_for_the_filesystem_is_a_run_error(capfd):
    _refused(Path("x" * 300) / "seed0", capfd, "cannot read a run")


# ---------- the API: real floats only, finite, empty batches, rollout steps ----------


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.uint8, np.complex64])
def test_encode_refuses_integer_bool_and_complex_input(run, dtype):
    with pytest.raises(ValueError, match="real floating-point array of observations in \\[0, 1\\]"):
        run.encode(np.zeros((1, *run.obs_shape), dtype))


def test_non_finite_and_out_of_range_inputs_are_refused(run):
    obs = np.zeros((2, *run.obs_shape), np.float32)
    with pytest.raises(ValueError, match="obs must be pixel intensities in \\[0, 1\\]"):
        run.encode(obs + 255.0)
    obs[1, 0, 3, 3] = np.nan
    for call in (run.encode, lambda o: run.rollout(o, 3)):
        with pytest.raises(ValueError, match="obs holds NaN or inf"):
            call(obs)
    z = np.zeros((2, run.config.latent_dim))
    z[0, 0] = np.inf
    for call in (run.predict, run.decode):
        with pytest.raises(ValueError, match="z holds NaN or inf; accepted: latents"):
            call(z)
    with pytest.raises(ValueError, match="real floating-point array of latents"):
        run.predict(np.zeros((2, run.config.latent_dim), np.int32))


def test_empty_batches_give_empty_answers_of_the_right_shape(run):
    d, size = run.config.latent_dim, run.config.frame_size
    empty_obs = np.zeros((0, *run.obs_shape), np.float32)
    assert run.encode(empty_obs).shape == (0, d)
    assert run.rollout(empty_obs, 3).shape == (0, 3, d)
    assert run.predict(np.zeros((0, d))).shape == (0, d)
    assert run.decode(np.zeros((4, 0, d))).shape == (4, 0, size, size)


@pytest.mark.parametrize(
    "steps,match",
    [
        (2.7, "steps must be an integer"),
        ("3", "steps must be an integer"),
        (True, "steps must be an integer"),
        (0, "steps must be in"),
        (2 * 10**8, "steps must be in"),
        (MAX_ROLLOUT_STEPS, "would hold"),
    ],
)
def test_rollout_steps_must_be_a_sane_integer(run, steps, match):
    with pytest.raises(ValueError, match=match):
        run.rollout(np.zeros((2048, *run.obs_shape), np.float32), steps)


def test_rollout_takes_numpy_integers(run):
    assert run.rollout(np.zeros((1, *run.obs_shape), np.float32), np.int64(2)).shape == (1, 2, run.config.latent_dim)


# ---------- flags: refused in one line before any compute ----------


def test_parameters_of_another_dtype_are_refused_by_save_and_load(tmp_path, capfd):
    config = tiny_config()
    params = jax.tree_util.tree_map(lambda leaf: np.zeros(leaf.shape, np.int32), random_params(config))
    with pytest.raises(RunError, match=r"\['bias'\] is int32\[64\], where the config implies float32\[64\]"):
        save_run(tmp_path / "seed0", config, params, {"final": {}})
    saved = save_run(tmp_path / "seed0", config, random_params(config), {"final": {}})
    stored = dict(np.load(saved / "checkpoint" / "params.npz"))
    np.savez(saved / "checkpoint" / "params.npz", **{k: v.astype(np.int32) for k, v in stored.items()})
    (saved / "checksum.json").unlink()  # the checksum would name the changed file: the dtype check is asked here
    _refused(
        saved,
        capfd,
        r"checkpoint does not match its config.json: .*\['bias'\] is int32\[64\], "
        r"where the config implies float32\[64\]",
    )


@pytest.mark.parametrize(
    "damage,match",
    [
        (lambda c, p, m: (c.to_dict(), p, m), "saved with its Config, got a dict"),
        (lambda c, p, m: (c, p, [1, 2]), "metrics are a dict"),
        (lambda c, p, m: (c, {k: v for k, v in p.items() if k != "decoder"}, m), r"\['decoder'\].* is lacking"),
        (
            lambda c, p, m: (c, {**p, "extra": {"w": np.zeros(2, np.float32)}}, m),
            r"\['extra'\].* is there, which the config implies nowhere",
        ),
        (
            lambda c, p, m: (c.replace(world="steer", action_dim=2), p, m),  # its predictor also reads 2 actions
            r"kernel.\] is float32\[32, 64\], where the config implies float32\[34, 64\]",
        ),
        (lambda c, p, m: (c, p, {"final": {"decoder_loss": math.nan}}), "hold NaN or inf, which load_run would refuse"),
        (
            lambda c, p, m: (c, jax.tree_util.tree_map(lambda a: np.full_like(a, np.inf), p), m),
            "hold NaN or inf, which load_run would refuse",
        ),
    ],
    ids=["config-dict", "metrics-list", "no-decoder", "extra-network", "another-config", "nan-figure", "inf-params"],
)
def test_save_run_refuses_what_load_run_could_not_read(tmp_path, damage, match):
    config = tiny_config()
    with pytest.raises(RunError, match=match):
        save_run(tmp_path / "seed0", *damage(config, random_params(config), {"final": {}}))
    assert not (tmp_path / "seed0").exists()


def test_eval_seeds_that_diverge_are_one_line_and_leave_no_run_that_would_not_load(tmp_path, capsys):
    """eval.py --seeds trains what is missing; a seed that went NaN/inf would be saved as a run that load_run, and so
    eval.py itself, refuses ever after ('metrics.json is not a readable JSON metrics file')."""
    import eval as eval_cli

    runs, out = tmp_path / "runs", tmp_path / "results"
    argv = ["--seeds", "0-1", "--no-ablation", "--runs", str(runs), "--out", str(out), "--report", str(out / "R.md")]
    with pytest.raises(SystemExit) as exit_info:
        eval_cli.main([*argv, *SMALL_CLI_FLAGS, "--lr", "1e30"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("eval.py")]  # not the bar
    assert exit_info.value.code == 1 and len(err) == 1, err
    assert err[0].endswith("seed(s) [0, 1] of default went NaN/inf in training; nothing saved for them")
    assert not any(runs.glob("seed*")) and not (out / "metrics.json").exists()


def test_an_evaluation_too_large_for_the_memory_is_one_line(tmp_path, capsys, monkeypatch):
    """eval.py RUN_DIRs --trajectories 65536: XLA refuses the buffers (RESOURCE_EXHAUSTED), which went up as a
    traceback. Here the refusal is raised where the evaluation runs."""
    from jaxjepa.evaluation import command

    def refused(*args):
        raise jax.errors.JaxRuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 123459339136 bytes.\nmore")

    config = tiny_config()
    runs = [save_run(tmp_path / f"seed{seed}", config, random_params(config), {"final": {}}) for seed in (0, 1)]
    out = tmp_path / "results"
    monkeypatch.setattr(command, "run_job", refused)
    with pytest.raises(SystemExit) as exit_info:
        command.main([*map(str, runs), "--trajectories", "65536", "--out", str(out), "--report", str(out / "R.md")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("eval.py")]  # not the bar
    assert exit_info.value.code == 1 and len(err) == 1, err
    assert "needs more memory than this machine has (RESOURCE_EXHAUSTED: Out of memory allocating" in err[0]
    assert "give fewer --trajectories" in err[0] and not out.exists()


@contextlib.contextmanager
def _within(seconds: int):
    """A read that waits for ever fails the test instead (SIGALRM interrupts the blocked open)."""

    def waited(*_):
        raise TimeoutError(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, waited)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_pipe_in_place_of_a_json_file_is_refused_not_waited_on(tmp_path, capsys, monkeypatch):
    """A named pipe where a run's metrics.json, a stored result or a summary.json should be: opening it to read waits
    for a writer that never comes."""
    config = tiny_config()
    run = save_run(tmp_path / "seed0", config, random_params(config), {"final": {}})
    (run / "metrics.json").unlink()
    os.mkfifo(run / "metrics.json")
    results, summary = tmp_path / "results", tmp_path / "summary.json"
    results.mkdir()
    os.mkfifo(results / "metrics.json")
    os.mkfifo(summary)
    with _within(20):
        with pytest.raises(RunError, match="metrics.json is not a readable JSON metrics file .*a pipe"):
            load_run(run)
        argv = ["--report-only", "--out", str(results), "--report", str(tmp_path / "R.md")]
        assert "metrics.json is unreadable" in _eval_refused(argv, capsys, monkeypatch, code=2)
        assert "left as it is, without seed 0" in train_cli.unjoined_summary(summary, 0)


def _no_compute(*args, **kwargs):
    raise AssertionError("training started")


def test_seeds_of_one_program_are_counted_in_the_memory_check(monkeypatch, capsys):
    config = tiny_config()
    monkeypatch.setattr(resources, "machine_bytes", lambda: 3 * resources.minimum_bytes(config))
    assert resources.memory_problem(config, seeds=3) is None
    assert "4 seeds of this config in one program need" in resources.memory_problem(config, seeds=4)
    monkeypatch.setattr(runner, "seeds_runner", _no_compute)
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(["--seeds", "0-3", *cli_flags()])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "train fewer at once" in err and len(err.splitlines()) == 1, err


def test_an_unusable_cache_folder_costs_the_cache_in_one_line(tmp_path, capfd):
    (tmp_path / "file").write_text("")
    before = jax.config.jax_compilation_cache_dir
    assert runner.enable_compilation_cache(str(tmp_path / "file")).startswith("off")
    err = capfd.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "compiling without it" in err, err
    assert jax.config.jax_compilation_cache_dir == before


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--sigma", "inf"], "sigma must be a finite number"),
        (["--speed", "inf"], "speed must be a finite number"),
        (["--lr", "nan"], "lr must be a finite number"),
        (["--sigma", "nan"], "sigma must be a finite number"),
        (["--sigma", "1e-30"], "sigma must be in [0.1, inf)"),
        (["--var-eps", "-1"], "var_eps must be positive"),
        (["--speed-jitter", "1"], "speed_jitter must be in [0, 1)"),
        (["--pixel-noise", "-0.5"], "pixel_noise must be in [0, 1]"),
        (["--encoder-hidden", "0"], "encoder_hidden must be positive"),
        (["--predictor-hidden", "-1"], "predictor_hidden must be positive"),
        (["--train-sequences", "1e8"], "invalid int value"),
        (["--steps", "30.0"], "--steps: invalid int value: '30.0'"),
        (["--steps", "1_000"], "--steps: invalid int value: '1_000'"),  # int() reads 1000
        (["--steps", "\u0663"], "--steps: invalid int value"),  # an Arabic-Indic 3, which int() reads
        (["--steps", "-5"], "steps must be positive and at most"),  # a sign is read, and the range refuses it
        (["--encoder-hidden", "64,1_6"], "--encoder-hidden: expected comma-separated integers"),
        (["--predictor-hidden", "\u0663"], "--predictor-hidden: expected comma-separated integers"),
        (["--lr", "1_0e-3"], "--lr: invalid float value: '1_0e-3'"),  # float() reads 0.01
        (["--sigma", "\u0661.\u0665"], "--sigma: invalid float value"),  # Arabic-Indic 1.5, which float() reads
        (["--steps", "10000001"], "steps must be positive and at most 10000000"),
        (["--steps", "10000000", "--batch-size", "10000000"], "more than this machine's"),
        (["--frame-size", "100000"], "more than this machine's"),
        (["--out", "x" * 300], "longer than"),
        (["--out", "/tmp/" + "/".join(["d" * 200] * 25)], "too long"),
        (["--out", "runs\udcff"], "not valid UTF-8"),
        (["--out", ""], "an empty path"),
        (["--seed", "+5"], "bad seed spec"),
        (["--seed", "1_000"], "bad seed spec"),
        (["--seed", "\u0663"], "bad seed spec"),  # an Arabic-Indic 3, which int() reads
        (["--batch-size", "1"], "batch_size must be in [2, "),
        (["--seed", "0-2"], "--seed: takes one seed, got '0-2'; use --seeds for several"),
        (["--seeds-per-program", "\u0663"], "--seeds-per-program: invalid int value"),
        (["--num-processes", "1_0"], "--num-processes: invalid int value: '1_0'"),
    ],
)
def test_bad_flags_are_one_line_before_any_compute(argv, message, capsys, monkeypatch):
    monkeypatch.setattr(runner, "train_seeds", _no_compute)
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and message in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("flag", ["--episodes", "--samples", "--iterations", "--horizon", "--noise", "--goal"])
@pytest.mark.parametrize("value", ["1_6", "\u0663"], ids=["underscored", "arabic-indic"])
def test_plan_py_numbers_are_ascii_digits(flag, value, capsys):
    """int() and float() read "1_6" as 16 and an Arabic-Indic digit as the number it writes; plan.py takes neither."""
    import plan as plan_cli

    given = [flag, value, "4"] if flag == "--goal" else [flag, value]
    with pytest.raises(SystemExit) as exit_info:
        plan_cli.parse(["runs/steer/seed0", *given])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and f"argument {flag}: " in err and len(err.splitlines()) == 1, err
    typed = [flag, "+16", "4"] if flag == "--goal" else [flag, "+16"]  # a sign is kept
    assert 16 in np.ravel(plan_cli.parse(["runs/steer/seed0", *typed]).__dict__[flag[2:]])


# ---------- eval.py: its runs and outputs, checked before it evaluates ----------


def _eval_refused(argv, capsys, monkeypatch, code: int) -> str:
    import eval as eval_cli

    monkeypatch.setattr(runner, "enable_compilation_cache", lambda *args: "off")
    monkeypatch.setattr(runner, "train_seeds", _no_compute)
    monkeypatch.setattr(runner, "seeds_runner", _no_compute)
    with pytest.raises(SystemExit) as exit_info:
        eval_cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == code and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--recipes", "--seeds", "0-1", "--trajectories", "8"], "--trajectories sets no count of --recipes"),
        (["--two-rooms", "--planning", "--seeds", "0-1", "--trajectories", "8"], "no count of --planning"),
        (["--report-only", "--no-std"], "--report-only evaluates nothing"),
        (["--report-only", "--trajectories", "8"], "--report-only evaluates nothing"),
    ],
)
def test_eval_refuses_flags_the_command_would_ignore(argv, message, capsys, monkeypatch):
    assert message in _eval_refused(argv, capsys, monkeypatch, 2)


@pytest.mark.parametrize(
    "inside, message",
    [("", "is a run directory (train.py's), not an evaluation's results"), ("checkpoint", "lies in the run ")],
)
def test_eval_report_only_names_a_run_given_as_out_for_what_it_is(
    run_dir, inside, message, tmp_path, capsys, monkeypatch
):
    """A run's metrics.json is its training's, not a stored result: not "run its evaluation again"."""
    argv = ["--report-only", "--out", str(run_dir / inside), "--report", str(tmp_path / "R.md")]
    err = _eval_refused(argv, capsys, monkeypatch, code=2)
    assert message in err and "give the --out an evaluation wrote" in err, err
    assert not (tmp_path / "R.md").exists()


def test_eval_refuses_a_run_whose_folder_names_another_seed(tmp_path, capsys, monkeypatch):
    """A renamed or copied run would be measured on the fresh trajectories of the seed its folder names."""
    config = tiny_config()
    renamed = save_run(tmp_path / "seed3", config, random_params(config), {"final": {"seed": 0}})
    outputs = ["--out", str(tmp_path / "results"), "--report", str(tmp_path / "R.md")]
    err = _eval_refused([str(renamed), "--no-std", *outputs], capsys, monkeypatch, code=2)
    assert "its metrics.json says it trained seed 0, not seed 3; name its folder seed0" in err


def test_eval_names_a_mistyped_run_dir_before_counting_the_runs(run_dir, tmp_path, capsys, monkeypatch):
    """One RUN_DIR that is not a run: its problem, not the number of seeds a std needs; runs/ itself: its runs."""
    outputs = ["--out", str(tmp_path / "results"), "--report", str(tmp_path / "R.md")]
    err = _eval_refused([str(tmp_path / "nope"), *outputs], capsys, monkeypatch, code=2)
    assert "no run directory at" in err and "std" not in err
    err = _eval_refused([str(run_dir.parent), *outputs], capsys, monkeypatch, code=2)
    assert "is not a finished run" in err and f"it holds runs: give those ({run_dir})" in err


def test_eval_refuses_one_seed_given_twice(run_dir, tmp_path, capsys, monkeypatch):
    other = Path(shutil.copytree(run_dir, tmp_path / "elsewhere" / "seed0"))
    outputs = ["--out", str(tmp_path / "results"), "--report", str(tmp_path / "R.md")]
    for twice in ([run_dir, run_dir], [run_dir, other]):
        err = _eval_refused([*map(str, twice), *outputs], capsys, monkeypatch, code=2)
        assert "seed 0 is given twice" in err
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_eval_refuses_runs_with_actions_before_making_any_output(tmp_path, capsys, monkeypatch):
    steer = tiny_steer_config()
    run = save_run(tmp_path / "runs" / "steer" / "seed0", steer, random_params(steer), {"final": {}})
    outputs = ["--out", str(tmp_path / "results"), "--report", str(tmp_path / "R.md")]
    for argv in (
        [str(run), "--no-std"],
        ["--config", "steer", "--seed", "0", "--no-std", "--runs", str(tmp_path / "runs")],
    ):
        err = _eval_refused([*argv, *outputs], capsys, monkeypatch, code=2)
        assert "predictor takes actions (world 'steer'); steer and Two Rooms models are evaluated by --planning" in err
    assert not (tmp_path / "results").exists() and not (tmp_path / "R.md").exists()


def test_eval_refuses_outputs_it_cannot_write_before_training(tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("keep")
    seeds = ["--seeds", "0-1", "--no-ablation", *cli_flags()]
    runs_a_file = ["--runs", str(tmp_path / "afile"), "--out", str(tmp_path / "results")]
    assert "is a file" in _eval_refused([*seeds, *runs_a_file], capsys, monkeypatch, code=2)
    report_a_folder = ["--out", str(tmp_path / "results"), "--report", str(tmp_path)]
    assert "is a directory" in _eval_refused([*seeds, *report_a_folder], capsys, monkeypatch, code=2)
    (tmp_path / "results").mkdir()  # --report-only reads it first
    assert "is a directory" in _eval_refused(["--report-only", *report_a_folder], capsys, monkeypatch, code=2)
    too_many = ["--trajectories", "100000000", "--out", str(tmp_path / "results")]
    assert "must be 1 to 65536" in _eval_refused([*seeds, *too_many], capsys, monkeypatch, code=2)
    assert "use --seeds for several" in _eval_refused(["--seed", "0,1"], capsys, monkeypatch, code=2)
    assert (tmp_path / "afile").read_text() == "keep"


def test_report_only_that_cannot_write_the_report_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    """A write that fails under way (a full disk) is the work's failure, not a traceback, and not the command line's."""
    shutil.copytree(Path(__file__).parents[1] / "results", tmp_path / "results")
    report_path = tmp_path / "R.md"
    report_path.write_text(report.REPORT_TITLE + "\n\nkept\n")

    def full_disk(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(report, "write_text", full_disk)
    argv = ["--report-only", "--out", str(tmp_path / "results"), "--report", str(report_path)]
    err = _eval_refused(argv, capsys, monkeypatch, code=1)
    assert f"cannot write {report_path}: No space left on device; {report_path} is as it was" in err
    assert report_path.read_text() == report.REPORT_TITLE + "\n\nkept\n"


@pytest.mark.parametrize(
    "content,match",
    [
        ('{"command": "eval.py", "seeds": [0', "metrics.json is unreadable"),
        ("[" * 100_000, "metrics.json is unreadable (RecursionError"),
        ("[]", "is not a result eval.py stores"),
        ("{}", "is not a result eval.py stores"),
        ('{"command": "eval.py", "seeds": [0, 1], "timing_s": {}}', "lacks what the headline report reads"),
    ],
    ids=["truncated", "nested-too-deep", "a-list", "empty", "lacking-figures"],
)
def test_report_only_names_a_damaged_result_file(tmp_path, capsys, monkeypatch, content, match):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "metrics.json").write_text(content)
    argv = ["--report-only", "--out", str(tmp_path / "results"), "--report", str(tmp_path / "R.md")]
    assert match in _eval_refused([*argv, "--readme", str(tmp_path / "README.md")], capsys, monkeypatch, code=2)
    assert not (tmp_path / "R.md").exists()


def test_a_run_dir_that_goes_between_the_checks_and_the_plan_is_one_line(tmp_path, capsys, monkeypatch):
    """eval.py reads a RUN_DIR's config when it checks the command line and again when it plans: a run deleted in
    between is named in one line, not a traceback."""
    loads = []

    def load_config(run_dir):
        loads.append(run_dir)
        if len(loads) > 1:
            raise RunError(f"{run_dir}: not a finished run (no config.json)")
        return tiny_config()

    monkeypatch.setattr(checkpoint, "load_config", load_config)
    argv = [str(tmp_path / "seed0"), "--no-std", "--out", str(tmp_path / "results"), "--report", str(tmp_path / "R")]
    err = _eval_refused(argv, capsys, monkeypatch, code=2)
    assert len(loads) == 2 and err == f"eval.py: {tmp_path / 'seed0'}: not a finished run (no config.json)"


@pytest.mark.parametrize("name", ["recipes.json", "worlds.json"])
def test_report_only_names_a_result_file_whose_configs_are_empty(tmp_path, capsys, monkeypatch, name):
    """A payload of the right shape whose sections find nothing to read (no configs) is refused in one line, like
    any other damage, not with the traceback of whatever the rendering raised."""
    (tmp_path / "results").mkdir()
    payload = {"command": "eval.py", "seeds": [0, 1], "timing_s": {}, "figures": {}, "configs": {}}
    (tmp_path / "results" / name).write_text(json.dumps(payload))
    argv = ["--report-only", "--out", str(tmp_path / "results"), "--report", str(tmp_path / "R.md")]
    err = _eval_refused([*argv, "--readme", str(tmp_path / "README.md")], capsys, monkeypatch, code=2)
    assert f"{name} lacks what the" in err and "run its evaluation again" in err
    assert not (tmp_path / "R.md").exists()


def test_a_readme_is_rewritten_only_where_asked_and_only_if_it_is_text(tmp_path, capsys, monkeypatch):
    """README.md follows the report: a report written elsewhere leaves it alone. A README that is not UTF-8 text
    is left as it is and said so in one line, as one without the markers is (the report is written by then)."""
    import eval as eval_cli

    shutil.copytree(
        Path(eval_cli.__file__).parent / "results",
        tmp_path / "results",
        ignore=shutil.ignore_patterns("*.png", "*.gif"),
    )
    readme = tmp_path / "README.md"
    readme.write_text(f"top\n{report.README_BEGIN}\nold\n{report.README_END}\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    assert eval_cli.main(["--report-only", "--report", "sub/R.md"]) == 0
    assert (tmp_path / "sub" / "R.md").is_file() and "\nold\n" in readme.read_text()
    binary = tmp_path / "binary.md"
    binary.write_bytes(b"\xff\xfe not text")
    capsys.readouterr()
    assert eval_cli.main(["--report-only", "--report", "sub/R.md", "--readme", str(binary)]) == 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"eval.py: {binary} not updated:"), err
    assert binary.read_bytes() == b"\xff\xfe not text"


# ---------- Run on every kind of run; a Config however it is built ----------


def test_run_takes_the_actions_an_action_conditioned_predictor_reads(tmp_path):
    config = tiny_steer_config()
    run = load_run(save_run(tmp_path / "seed0", config, random_params(config), {"final": {}}))
    obs = np.random.default_rng(0).random((3, *run.obs_shape), np.float32)
    z, push = run.encode(obs), np.full((3, 2), 0.5, np.float32)
    with pytest.raises(ValueError, match=r"takes actions: give action \[\.\.\., 2\]"):
        run.predict(z)
    with pytest.raises(ValueError, match=r"action must have shape \(3, 2\)"):
        run.predict(z, push[:2])
    dream = run.rollout(obs, 4, np.repeat(push[:, None], 4, axis=1))
    np.testing.assert_allclose(dream[:, 0], run.predict(z, push), rtol=1e-5, atol=1e-6)  # step 1 is one prediction
    assert dream.shape == (3, 4, config.latent_dim)
    with pytest.raises(ValueError, match="takes no actions"):
        load_run(saved_run(tmp_path / "bounce")).predict(z, push)


def test_run_reads_two_rooms_observations_and_refuses_a_missing_decoder(tmp_path):
    config = get_config("two_rooms_ebjepa")
    run = load_run(save_run(tmp_path / "seed0", config, random_params(config), {"final": {}}))
    assert run.obs_shape == (2, 2, config.frame_size, config.frame_size)  # two frames of (dot, walls)
    obs = np.random.default_rng(0).random((2, *run.obs_shape), np.float32)
    flat = np.asarray(jax.jit(models.encoder(config).apply)(run.params["target"], obs.reshape(2, -1)))
    np.testing.assert_allclose(run.encode(obs), flat, rtol=1e-6)  # the layout the planners feed the encoder
    with pytest.raises(ValueError, match="trained no decoder"):
        run.decode(run.encode(obs))


def test_a_config_is_checked_however_it_is_built():
    for bad, match in [
        (dict(steps="x"), "steps must be an integer"),
        (dict(lr=math.nan), "lr must be a finite number"),
        (dict(action_dim=1), "action_dim must be 2 in the worlds driven by actions"),
        (dict(world="steer", action_dim=2, pixel_noise=0.5), "pixel_noise is a setting of the bounce world"),
        (dict(plan_samples=4), r"plan_elites \(8\) must not exceed plan_samples \(4\)"),
    ]:
        with pytest.raises(ValueError, match=match):
            Config(**bad)
    for field, value in [("success_px", 3.0), ("episode_steps", 5)]:  # Two Rooms episodes read neither
        with pytest.raises(ValueError, match=f"{field} is a setting of the steer world's planning task"):
            get_config("two_rooms_ebjepa", **{field: value})
        assert getattr(get_config("steer", **{field: value}), field) == value
    with pytest.raises(ValueError, match=r"unknown config \[\]"):
        get_config([])
    with pytest.raises(TypeError, match="make_train takes a Config"):
        make_train(tiny_config().to_dict())
    same = Config(steps=np.int64(5), lr=np.float32(0.5), encoder_hidden=[256, 128])
    assert same == Config(steps=5, lr=0.5, encoder_hidden=(256, 128)) and type(same.steps) is int
    assert Config.from_dict(json.loads(same.to_json())) == same


def test_counts_seeds_and_planner_names_are_checked_before_they_become_shapes_or_keys():
    config, steer_config = tiny_config(), tiny_steer_config()
    key = jax.random.key(0)
    for call, match in [
        (lambda: world.trajectories(key, -1, 5, config), r"count must be a whole number of at least 0, got -1"),
        (lambda: world.trajectories(key, 2.0, 5, config), r"count must be a whole number .* got 2\.0"),
        (lambda: steer.trajectories(key, 2, -3, steer_config), r"length must be a whole number of at least 0"),
        (lambda: runner.train_seeds(config, [1.5]), r"a seed must be a whole number in \[0, 4294967296\)"),
        (lambda: runner.train_seeds(config, [2**64]), r"a seed must be a whole number"),
        (lambda: runner.train_seeds(config, 3), r"seeds must be a list of whole numbers"),
        (lambda: runner.train_seeds(config, [0], devices=[]), r"no devices to train on"),
        (lambda: planning.episodes(key, -1, None, steer_config), r"number of episodes must be a whole number"),
        (lambda: planning.planner_named("nope"), r"no planner 'nope': the planners are mppi, cem, search, random"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()
    assert seed_keys(np.int64(3))[0].shape == seed_keys(3)[0].shape  # a NumPy integer is a seed too


def test_outputs_never_replace_a_device_a_pipe_or_a_link(tmp_path):
    """A write renames a finished temp file over its target: over a pipe (or a device such as /dev/null) that
    would put a plain file in its place, so it is refused; reading a pipe would block, so a README that is one is
    refused before it is read. A link is written through, and stays a link."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert cli.output_file_problem(fifo) == f"it is {cli.NOT_A_FILE}; name a file"
    with pytest.raises(OSError, match="not a regular file"):
        cli.write_text(fifo, "text")
    with pytest.raises(OSError, match="not a regular file"):
        report.replace_block(fifo, "<!-- a -->", "<!-- b -->", "block")
    assert stat.S_ISFIFO(fifo.stat().st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]
    target, link = tmp_path / "kept" / "report.md", tmp_path / "link.md"
    target.parent.mkdir()
    target.write_text("old")
    link.symlink_to(target)
    cli.write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    nowhere = tmp_path / "nowhere.md"  # a link into a folder that cannot be made: refused before any work
    nowhere.symlink_to("/proc/no-such-folder/report.md")
    assert "/proc/no-such-folder" in cli.output_file_problem(nowhere)
    assert cli.output_file_problem("/proc/figures.json") == "/proc: files cannot be created there"  # it exists
    loop = tmp_path / "loop.md"
    loop.symlink_to(loop)
    assert "loops" in cli.output_file_problem(loop)
    with pytest.raises(OSError, match="loops"):
        cli.write_text(loop, "text")
    assert loop.is_symlink()


def test_a_figure_that_fails_to_write_leaves_the_one_before(tmp_path, monkeypatch):
    """Figures are written whole beside their place, then renamed: a full disk mid-write keeps the old file."""
    from jaxjepa.evaluation import figures

    path = tmp_path / "curve.png"
    figures.budget_curve([1, 2], np.array([[0.5, 0.9]]), ["1x1", "2x1"], path)
    before = path.read_bytes()

    def full_disk(self, target, **kwargs):
        Path(target).write_bytes(b"half a png")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(figures.plt.Figure, "savefig", full_disk)
    with pytest.raises(OSError, match="No space left"):
        figures.budget_curve([1, 2], np.array([[0.1, 0.2]]), ["1x1", "2x1"], path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["curve.png"]


def test_held_outputs_land_together_when_asked_and_not_at_all_after_a_failure(tmp_path):
    figure, results = tmp_path / "curve.png", tmp_path / "results.json"
    figure.write_text("old figure")
    results.write_text("old results")
    with pytest.raises(OSError, match="No space left"), cli.held_outputs():
        cli.write_text(figure, "new figure")
        raise OSError(28, "No space left on device")  # the results' write, say
    assert figure.read_text() == "old figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png", "results.json"]
    with cli.held_outputs() as land:
        cli.write_text(figure, "first")
        cli.write_text(figure, "new figure")  # written twice while held: the newer lands
        cli.write_text(results, "new results")
        with pytest.raises(OSError), cli.atomic_output(figure) as tmp:  # a third write that fails keeps the second
            tmp.write_text("half a fig")
            raise OSError(28, "No space left on device")
        assert figure.read_text() == "old figure" and results.read_text() == "old results"
        land()
        assert figure.read_text() == "new figure" and results.read_text() == "new results"
        cli.write_text(results, "after landing")  # lands at once
        assert results.read_text() == "after landing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png", "results.json"] and not cli.IN_FLIGHT
    with pytest.raises(RuntimeError, match="does not nest"), cli.held_outputs(), cli.held_outputs():
        pass
    assert cli.STAGE is None
    # a write begun inside a block that ends after it (eval.py's jobs run in a worker thread): dropped if the
    # block failed, landed if the block landed
    for fails, expected in ((True, "after landing"), (False, "late")):
        with contextlib.suppress(OSError), cli.held_outputs() as land:
            late = cli.atomic_output(results)
            late.__enter__().write_text("late")
            if fails:
                raise OSError(28, "No space left on device")
            land()
        late.__exit__(None, None, None)
        assert results.read_text() == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png", "results.json"] and not cli.IN_FLIGHT


def test_evals_figures_stay_as_they_were_when_its_json_cannot_be_written(tmp_path, monkeypatch, capsys):
    """A full disk at the JSON, after a suite drew its figures: one line, and the earlier figures and JSON are
    both kept, never new figures beside old results. Without the failure both land."""
    from jaxjepa.evaluation import command, suite

    out = tmp_path / "results"
    out.mkdir()
    (out / "curve.png").write_text("old figure")
    (out / "fake.json").write_text("old results")
    fake = suite.Suite(
        name="fake",
        result_file="fake.json",
        configs=lambda *_: {},
        evaluate=lambda runs, context: suite.Evaluated({"answer": 42}, {}),
        figures=lambda evaluated, folder: {"curve": cli.write_text(folder / "curve.png", "new figure")},
        sections=(),
    )
    args = argparse.Namespace(out=str(out), report=str(tmp_path / "RESULTS.md"), seeds=[0], seed=None)
    run = lambda: command.run_and_store(args, [command.Job(fake, {})], [{}], suite.Context(["--fake"], "default", True))

    def full_disk(payload, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(command.report, "write_json", full_disk)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run()
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("eval.py")]  # not the bar
    assert exit_info.value.code == 1 and len(said) == 1 and "No space left" in said[0], said
    assert f"the results under {out} are as they were" in said[0]
    assert (out / "curve.png").read_text() == "old figure" and (out / "fake.json").read_text() == "old results"
    assert sorted(p.name for p in out.iterdir()) == ["curve.png", "fake.json"]
    monkeypatch.undo()
    run()
    assert (out / "curve.png").read_text() == "new figure"
    assert json.loads((out / "fake.json").read_text())["answer"] == 42


@pytest.mark.parametrize(
    "module, work, argv",
    [("jaxjepa.evaluation.command", "check_configs", ["--seeds", "0-1"]), ("plan", "plan", ["RUN"]),
     ("export.__main__", "export", ["RUN"]), ("benchmarks.two_rooms_seconds", "run_planners", ["RUN"])],
)  # fmt: skip
def test_ctrl_c_is_one_line_and_status_130(module, work, argv, monkeypatch, capsys):
    """Ctrl-C during the work: one line saying what is kept, exit status 130, no traceback. (cli.interrupted
    leaves by os._exit, which here raises SystemExit instead, and leaves the test's SIGINT handler alone.)"""
    command = importlib.import_module(module)

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    monkeypatch.setattr(cli.os, "_exit", lambda code: (_ for _ in ()).throw(SystemExit(code)))
    monkeypatch.setattr(command, work, ctrl_c)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        command.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 130 and len(err) == 1 and "interrupted" in err[0], err


def test_report_only_without_stored_results_says_so(tmp_path, capsys):
    """With no results under --out (an empty folder, or none: then the report's folder is missing too), the
    line names the missing results."""
    from jaxjepa.evaluation import command

    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "absent"):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            command.main(["--report-only", "--out", str(out)])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2 and len(err) == 1 and f"no stored results under {out}" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"] and not any((tmp_path / "empty").iterdir())


def test_the_report_replaces_a_report_and_nothing_else(tmp_path, capsys):
    """--report naming README.md or a script by a slip: refused in one line, the file kept; an earlier report
    (a file that starts as one) is replaced."""
    from jaxjepa.evaluation import command

    out = tmp_path / "results"
    report.write_json({"command": "c"}, out / "metrics.json")
    notes = tmp_path / "notes.md"
    notes.write_text("my notes\n")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        command.main(["--report-only", "--out", str(out), "--report", str(notes)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "holds something else" in err[0], err
    assert notes.read_text() == "my notes\n"
    assert report.foreign_file_problem(tmp_path / "absent.md") is None
    (tmp_path / "empty.md").touch()
    assert report.foreign_file_problem(tmp_path / "empty.md") is None
    earlier = tmp_path / "RESULTS.md"
    earlier.write_text(f"{report.REPORT_TITLE}\n\nold\n")
    assert report.foreign_file_problem(earlier) is None
    earlier.write_bytes(f"\ufeff{report.REPORT_TITLE}\r\n\r\nsaved by an editor\r\n".encode())
    assert report.foreign_file_problem(earlier) is None


def test_results_kept_elsewhere_leave_the_repos_report_and_readme_alone(tmp_path):
    """With another --out, the report defaults into it and README.md is left alone; a refusal after the output
    check made a new --out leaves no empty folder behind."""
    from jaxjepa.evaluation import command

    repo = command.parse(["--seeds", "0-1"])
    assert (repo.out, repo.report, repo.readme) == ("results", "RESULTS.md", "README.md")
    elsewhere = command.parse(["--seeds", "0-1", "--out", str(tmp_path / "res")])
    assert (elsewhere.report, elsewhere.readme) == (str(tmp_path / "res" / "RESULTS.md"), None)
    named = command.parse(["--seeds", "0-1", "--report", "R.md"])
    assert (named.out, named.report, named.readme) == ("results", "R.md", None)
    new, kept, runs = tmp_path / "new", tmp_path / "kept", tmp_path / "runs" / "world32+koopman"
    kept.mkdir()
    for folder in (new, kept):
        with pytest.raises(SystemExit), command.removed_if_left_empty(folder, runs):
            folder.mkdir(exist_ok=True)
            runs.mkdir(parents=True, exist_ok=True)
            cli.fail("refused")
    assert not new.exists() and kept.is_dir() and not (tmp_path / "runs").exists()
    with pytest.raises(KeyboardInterrupt), command.removed_if_left_empty(runs):  # Ctrl-C: a run saved is kept
        (runs / "seed0").mkdir(parents=True)
        raise KeyboardInterrupt
    assert (runs / "seed0").is_dir()


@pytest.mark.parametrize(
    "command, argv",
    [
        ("export", ["RUN", "--plan-samples", "1_6"]),
        ("export", ["RUN", "--search-beams", "\u0663"]),
        ("measure", ["--repeats", "\u0663"]),
    ],
)
def test_the_exporters_numbers_are_ascii_digits(command, argv, capsys):
    """int() reads "1_6" as 16 and an Arabic-Indic digit as the number it writes; the exporter's flags take neither."""
    from export import __main__ as export_cli
    from export import measure

    parse = export_cli.parse_args if command == "export" else measure.parse
    with pytest.raises(SystemExit) as exit_info:
        parse(argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and f"argument {argv[-2]}: invalid int value" in err, err
    assert len(err.splitlines()) == 1

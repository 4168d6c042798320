"""Seeded fuzzing: random damage to a run directory for `load_run`, eval.py and `python -m export`, random
flag values for train.py and eval.py (export's are in test_export_safety.py). Every case ends in a valid
result or in one line (RunError, or a non-zero exit with exactly one line on stderr), never a traceback.
Flags are fuzzed where they fail fast: train.py's output holds a finished run it may not replace, and
eval.py's RUN_DIRs do not exist, so a flag that passes validation ends in that one-line refusal instead of
a training run."""

import json
import math
import random
import shutil
from pathlib import Path

import chex
import pytest

import eval as eval_cli
import train as train_cli
from jaxjepa import RunError, load_run, runner
from jaxjepa.config import field_names
from tests.test_nothing_silent import saved_run

CASES = 30


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return saved_run(tmp_path_factory.mktemp("fuzz"))


def random_json(rng: random.Random, depth: int = 0):
    kind = rng.choice(["null", "bool", "int", "float", "str", "list", "dict"] if depth < 2 else ["int", "str"])
    return {
        "null": lambda: None,
        "bool": lambda: rng.random() < 0.5,
        "int": lambda: rng.choice([0, -1, 1, 7, 2**31, 10**30]),
        "float": lambda: rng.choice([0.5, -2.5, 1e308, math.nan, math.inf]),
        "str": lambda: rng.choice(["", "mlp", "ünï\u2603", "3"]),
        "list": lambda: [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))],
        "dict": lambda: {
            rng.choice(field_names() + ["x"]): random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))
        },
    }[kind]()


def damage(run: Path, rng: random.Random) -> None:
    """One random corruption of a file (or of config.json's fields) in `run`."""
    files = sorted(p for p in run.rglob("*") if p.is_file())
    target = rng.choice(files)
    how = rng.choice(["truncate", "flip", "delete", "json", "field", "dir"])
    if how == "truncate":
        target.write_bytes(target.read_bytes()[: rng.randint(0, target.stat().st_size)])
    elif how == "flip":
        raw = bytearray(target.read_bytes())
        if raw:
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        target.write_bytes(bytes(raw))
    elif how == "delete":
        target.unlink()
    elif how == "json":
        jsons = [run / name for name in ("config.json", "metrics.json", "checksum.json")]
        rng.choice([p for p in jsons if not p.is_dir()] or [run / "extra.json"]).write_text(
            json.dumps(random_json(rng), allow_nan=True)
        )
    elif how == "field" and (run / "config.json").is_file():
        try:
            values = json.loads((run / "config.json").read_text(errors="replace"))
        except ValueError:
            values = {}
        values = values if isinstance(values, dict) else {}
        values[rng.choice(field_names())] = random_json(rng)
        (run / "config.json").write_text(json.dumps(values))
    else:
        target.unlink()
        target.mkdir()


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_load_run_on_damaged_runs_loads_or_says_one_line(run_dir, tmp_path, capfd):
    rng = random.Random(0)
    for case in range(CASES):
        run = Path(shutil.copytree(run_dir, tmp_path / f"case{case}"))
        if case % 3 == 0:  # a run saved without a checksum: the damage reaches orbax
            (run / "checksum.json").unlink(missing_ok=True)
        for _ in range(rng.randint(1, 2)):
            damage(run, rng)
        try:
            loaded = load_run(run)
        except RunError as err:
            assert len(str(err).splitlines()) == 1, (case, str(err))
        else:
            chex.assert_tree_all_finite(loaded.params)
            assert loaded.config.validate() is loaded.config
        assert capfd.readouterr().err == "", case


def test_eval_and_export_refuse_damaged_runs_in_one_line(run_dir, tmp_path, capsys, monkeypatch):
    """The same damage fed to eval.py and `python -m export`: a copy that load_run refuses is a non-zero
    exit with one line on stderr from each, and nothing written. A copy that still loads is left out: it
    is a sound run, and evaluating or exporting one is what test_evaluation and test_export check."""
    from export import __main__ as export_cli

    monkeypatch.setattr(runner, "enable_compilation_cache", lambda *args: "off")
    monkeypatch.setattr(runner, "train_seeds", _no_compute)
    rng, refused = random.Random(3), 0
    for case in range(CASES // 2):
        run = Path(shutil.copytree(run_dir, tmp_path / f"case{case}"))
        for _ in range(rng.randint(1, 2)):
            damage(run, rng)
        try:
            load_run(run)
            continue
        except RunError:
            refused += 1
        capsys.readouterr()
        _one_line_exit(eval_cli.main, [str(run), "--no-std", "--out", str(tmp_path / "results")], capsys)
        _one_line_exit(export_cli.main, [str(run), "--out", str(tmp_path / "model")], capsys)
        assert not (tmp_path / "model").exists() and not list((tmp_path / "results").glob("*"))
    assert refused >= CASES // 4  # the draw must exercise the refusals, not only sound copies


FLAG_VALUES = [
    "0",
    "-1",
    "1",
    "3",
    "2.5",
    "1e8",
    "1e400",
    "nan",
    "inf",
    "-inf",
    "99999999999999999999",
    "",
    "abc",
    "ünï\u2603",
    "1,2",
    "0,-4",
    "0x10",
    " 7 ",
    "fast",
    "runs\udcff",
    "x" * 300,
]


def _one_line_exit(main, argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code not in (0, None), argv
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)


def _random_flags(rng: random.Random) -> list[str]:
    names = [f"--{name.replace('_', '-')}" for name in field_names()] + ["--seed", "--config"]
    return [arg for _ in range(rng.randint(1, 3)) for arg in (rng.choice(names), rng.choice(FLAG_VALUES))]


def _no_compute(*args, **kwargs):
    raise AssertionError("training started")


def test_train_flags_fail_in_one_line(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    for seed in range(8):  # what a valid config would try to replace: refused, not trained
        for name in ("checkpoint", "config.json", "metrics.json"):
            (out / f"seed{seed}" / name).mkdir(parents=True)
    monkeypatch.setattr(runner, "train_seeds", _no_compute)
    rng = random.Random(1)
    for _ in range(CASES):
        _one_line_exit(train_cli.main, ["--out", str(out), *_random_flags(rng)], capsys)
    for bad_out in FLAG_VALUES[-2:]:
        _one_line_exit(train_cli.main, ["--out", bad_out], capsys)
    runs = sorted(p.name for p in out.iterdir() if not p.name.endswith(".lock"))  # lock files stay by design
    assert runs == [f"seed{seed}" for seed in range(8)]


def test_eval_flags_fail_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "enable_compilation_cache", lambda *args: "off")
    monkeypatch.setattr(runner, "train_seeds", _no_compute)
    monkeypatch.chdir(tmp_path)
    rng = random.Random(2)
    for _ in range(CASES):
        outputs = ["--out", rng.choice([str(tmp_path / "results"), *FLAG_VALUES[-2:]])]
        argv = [str(tmp_path / "no_run_a"), str(tmp_path / "no_run_b"), *outputs, *_random_flags(rng)]
        _one_line_exit(eval_cli.main, argv, capsys)
    assert not any(p.name.startswith("seed") for p in tmp_path.rglob("*"))

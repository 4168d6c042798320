"""A standard output that cannot be written (`>/dev/full`, a reader that closed its pipe) ends train.py, plan.py and
eval.py in one line on stderr and a non-zero status, never a traceback, and loses nothing they save."""

import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaxjepa import checkpoint, cli, load_run
from tests.conftest import SMALL_CLI_FLAGS, random_params, tiny_steer_config

REPO = Path(__file__).resolve().parents[1]
FAST_PLANNING = dict(plan_samples=32, plan_horizon=8, plan_iterations=2)
FULL = "No space left on device"
NEEDS_DEV_FULL = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")


class FailingStdout(io.StringIO):
    """A standard output whose writes (or only its flushes) fail with `error`."""

    def __init__(self, error: OSError, at_flush: bool = False):
        super().__init__()
        self.error, self.at_flush = error, at_flush

    def write(self, text: str) -> int:
        if not self.at_flush:
            raise self.error
        return super().write(text)

    def flush(self) -> None:
        if self.at_flush and self.getvalue():
            raise self.error


@pytest.mark.parametrize("at_flush", [False, True], ids=["at the write", "at the flush"])
def test_a_full_stdout_is_one_line_and_status_failed(at_flush, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdout", FailingStdout(OSError(errno.ENOSPC, FULL), at_flush))
    with pytest.raises(SystemExit) as leaving, cli.stdout_checked("prog", "; the runs are saved"):
        print("figures")
    assert leaving.value.code == cli.FAILED
    assert capsys.readouterr().err == f"prog: cannot write to standard output ({FULL}); the runs are saved\n"


def test_a_closed_pipe_ends_quietly_with_status_failed(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdout", FailingStdout(BrokenPipeError(errno.EPIPE, "Broken pipe")))
    with pytest.raises(SystemExit) as leaving, cli.stdout_checked("prog"):
        print("figures")
    assert leaving.value.code == cli.FAILED
    assert capsys.readouterr().err == ""


def test_an_error_of_another_file_is_not_taken_for_stdouts(monkeypatch):
    """A file the command writes failing with ENOSPC stays the command's own error, for its own message."""
    stdout = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    with pytest.raises(OSError, match="disk full"), cli.stdout_checked("prog"):
        print("figures")
        raise OSError(errno.ENOSPC, "disk full")
    assert sys.stdout is stdout and stdout.getvalue() == "figures\n"


def _run(argv: list, tmp_path: Path, stdout, unbuffered: bool = True) -> subprocess.CompletedProcess:
    env = {
        "PYTHONPATH": str(REPO),
        "PATH": "/usr/bin:/bin",
        "JAXJEPA_CACHE": os.environ["JAXJEPA_CACHE"],
        "XLA_FLAGS": os.environ["XLA_FLAGS"],
        **({"PYTHONUNBUFFERED": "1"} if unbuffered else {}),
    }
    return subprocess.run(
        [sys.executable, *map(str, argv)],
        cwd=tmp_path,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        check=False,
    )


def _closed_pipe_run(argv: list, tmp_path: Path, unbuffered: bool = True) -> subprocess.CompletedProcess:
    """`argv` writing into a pipe whose reader has gone."""
    read, write = os.pipe()
    os.close(read)
    try:
        return _run(argv, tmp_path, write, unbuffered)
    finally:
        os.close(write)


def test_train_py_into_a_full_stdout_saves_its_runs_and_summary_first(tmp_path, monkeypatch, capsys):
    """The first line of the report fails: the runs and summary.json are saved before it. train.py's main runs in
    this process (the program test_checkpoint_cli trains), its stdout one that fails at every write."""
    import train as train_cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", FailingStdout(OSError(errno.ENOSPC, FULL)))
    with pytest.raises(SystemExit) as leaving:
        train_cli.main(["--seeds", "0,1", "--out", "runs", *SMALL_CLI_FLAGS])
    assert leaving.value.code == cli.FAILED
    assert capsys.readouterr().err == (
        f"train.py: cannot write to standard output ({FULL}); it prints after saving, so its runs and summary.json "
        "are saved\n"
    )
    assert json.loads((tmp_path / "runs" / "summary.json").read_text())["seeds"] == [0, 1]
    for seed in (0, 1):
        load_run(tmp_path / "runs" / f"seed{seed}")


@pytest.fixture(scope="module")
def steer_run(tmp_path_factory):
    config = tiny_steer_config(**FAST_PLANNING)
    return checkpoint.save_run(tmp_path_factory.mktemp("runs") / "seed0", config, random_params(config), {})


def test_plan_py_keeps_of_each_episode_only_what_it_reports(steer_run, capsys):
    """Its success and its steps to success, 5 bytes: not the plans, positions and distances besides, which grow
    with the episodes and the horizon."""
    import jax
    import numpy as np

    import plan as plan_cli

    outcomes, _ = plan_cli.plan(plan_cli.parse([str(steer_run), "--episodes", "3"]))
    assert sum(np.asarray(leaf).nbytes for leaf in jax.tree.leaves(outcomes)) == 3 * (1 + 4)
    assert plan_cli.main([str(steer_run), "--episodes", "3"]) == 0
    assert " of 3 episodes, median steps to success " in capsys.readouterr().out


@NEEDS_DEV_FULL
def test_plan_py_into_a_full_stdout_is_one_line(steer_run, tmp_path):
    with open("/dev/full", "w") as full:
        done = _run([REPO / "plan.py", steer_run, "--episodes", "2"], tmp_path, full)
    assert (done.returncode, done.stderr) == (cli.FAILED, f"plan.py: cannot write to standard output ({FULL})\n")


def test_plan_py_into_a_closed_pipe_ends_quietly(steer_run, tmp_path):
    """Buffered, the output fails at the end, where Python would say "Exception ignored" and exit 120."""
    done = _closed_pipe_run([REPO / "plan.py", steer_run, "--episodes", "2"], tmp_path, unbuffered=False)
    assert (done.returncode, done.stderr) == (cli.FAILED, "")


def _report_only(tmp_path: Path) -> list:
    return [REPO / "eval.py", "--report-only", "--out", REPO / "results", "--report", tmp_path / "RESULTS.md"]


@NEEDS_DEV_FULL
@pytest.mark.parametrize("unbuffered", [True, False], ids=["unbuffered", "buffered"])
def test_eval_py_into_a_full_stdout_is_one_line_after_writing_its_report(unbuffered, tmp_path):
    with open("/dev/full", "w") as full:
        done = _run(_report_only(tmp_path), tmp_path, full, unbuffered)
    said = f"eval.py: cannot write to standard output ({FULL}); it prints after writing, so its runs, results and "
    assert (done.returncode, done.stderr) == (cli.FAILED, said + "report are written\n")
    assert (tmp_path / "RESULTS.md").read_text().startswith("#")


def test_eval_py_into_a_closed_pipe_ends_quietly(tmp_path):
    done = _closed_pipe_run(_report_only(tmp_path), tmp_path)
    assert (done.returncode, done.stderr) == (cli.FAILED, "")

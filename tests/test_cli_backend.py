"""A JAX_PLATFORMS naming a backend JAX cannot start here ends train.py, plan.py and eval.py in one line naming the
variable and what JAX said, with status 2, whether the backend starts in an import (plan.py, eval.py: module-level
arrays) or in the command's main (train.py), and before anything is written."""

import errno
import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jaxjepa import cli

REPO = Path(__file__).resolve().parents[1]
# JAX skips cuda where no NVIDIA device is visible, then fails on its own assertion, with no message
GPU_VISIBLE = bool(glob.glob("/dev/nvidia[0-9]*")) or os.path.exists("/proc/driver/nvidia/gpus")
COMMANDS = {
    "train.py": ["--seed", "0", "--out", "runs"],
    "plan.py": ["runs/seed0"],
    "eval.py": ["--seeds", "0-1", "--out", "results", "--runs", "runs"],
}
PLATFORMS = [
    "nosuchbackend",
    pytest.param("cuda", marks=pytest.mark.skipif(GPU_VISIBLE, reason="this machine has a GPU cuda may start on")),
]


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("script", COMMANDS)
def test_a_backend_jax_cannot_start_is_one_line_and_status_2(script, platform, tmp_path):
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "JAX_PLATFORMS": platform, "JAXJEPA_CACHE": "xla"}
    done = subprocess.run(
        [sys.executable, REPO / script, *COMMANDS[script]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == cli.USAGE, done.stderr
    assert done.stderr.startswith(f"{script}: JAX_PLATFORMS={platform} names no backend JAX can start"), done.stderr
    assert done.stderr.count("\n") == 1 and "(JAX said: " in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "nothing is written"


def test_an_error_where_the_backend_starts_is_the_commands_own(monkeypatch):
    """JAX_PLATFORMS set to a backend that starts: an error of the work goes on as it was."""
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    with pytest.raises(OSError, match="disk full"), cli.backend_checked("prog"):
        raise OSError(errno.ENOSPC, "disk full")


def test_without_jax_platforms_no_error_is_taken_for_the_backends(monkeypatch):
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    assert cli.backend_problem() is None
    with pytest.raises(AssertionError, match="^$"), cli.backend_checked("prog"):
        raise AssertionError

"""Seeds across processes: two `train.py` processes on jax.distributed give the one-process runs, bit for bit.

Why subprocesses: a process joins a jax.distributed cluster once, when JAX starts, so the two members
of the cluster must be fresh interpreters; the one-process run they are compared with is a third, compiled
with the same XLA flags (a user's fusion emitters, `conftest.users_fusion_env`).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import train
from jaxjepa import distributed, load_run
from tests.conftest import SMALL_CLI_FLAGS, users_fusion_env

REPO = Path(__file__).resolve().parents[1]
SEEDS = ["--seeds", "0-2"]  # an odd count: process 1's device also trains a padding copy of seed 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env(cache: Path) -> dict[str, str]:
    return {
        **users_fusion_env(),
        "JAX_PLATFORMS": "cpu",
        "JAXJEPA_CACHE": str(cache),
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }


def launch_two_processes(out: Path, cache: Path) -> list[subprocess.CompletedProcess]:
    env = subprocess_env(cache)
    address = f"127.0.0.1:{free_port()}"
    members = [
        subprocess.Popen(
            [
                sys.executable,
                "train.py",
                *SEEDS,
                *SMALL_CLI_FLAGS,
                "--out",
                str(out),
                "--coordinator",
                address,
                "--num-processes",
                "2",
                "--process-id",
                str(rank),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    try:
        return [subprocess.CompletedProcess(m.args, m.wait(timeout=300), *m.communicate()) for m in members]
    finally:
        for member in members:
            member.kill()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    # The one-process run starts beside the cluster: each process spends part of its time importing and waiting on
    # the others, and the three programs differ, so none waits for another's compilation.
    alone = subprocess.Popen(
        [sys.executable, "train.py", *SEEDS, *SMALL_CLI_FLAGS, "--out", str(root / "one")],
        cwd=REPO,
        env=subprocess_env(root / "cache"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        done = launch_two_processes(root / "two", root / "cache")
        alone_stderr = alone.communicate(timeout=300)[1]
    finally:
        alone.kill()
    for rank, member in enumerate(done):
        assert member.returncode == 0, f"process {rank}: {member.stderr[-2000:]}"
    assert alone.returncode == 0, alone_stderr[-2000:]
    return root / "one", root / "two", done


def test_two_processes_write_every_run_and_one_summary(two_runs):
    _, two, done = two_runs
    assert sorted(p.name for p in two.iterdir() if not p.name.endswith(".lock")) == [
        "seed0",
        "seed1",
        "seed2",
        "summary.json",
    ]
    # every run was locked by the process that saved it, and the summary by process 0
    assert sorted(p.name for p in two.iterdir() if p.name.endswith(".lock")) == [
        ".seed0.lock",
        ".seed1.lock",
        ".seed2.lock",
        ".summary.json.lock",
    ]
    assert "summary.json" in done[0].stdout and "summary.json" not in done[1].stdout  # process 0 reports


def test_two_processes_equal_one_process_bit_for_bit(two_runs):
    one, two, _ = two_runs
    for seed in range(3):
        alone, shared = load_run(one / f"seed{seed}"), load_run(two / f"seed{seed}")
        for a, b in zip(jax.tree_util.tree_leaves(alone.params), jax.tree_util.tree_leaves(shared.params), strict=True):
            np.testing.assert_array_equal(a, b)
        curves = lambda run: {k: v for k, v in run.metrics["curves"].items()}
        assert curves(alone) == curves(shared)
        timings = ("compile_s", "run_s")
        assert {k: v for k, v in alone.metrics["final"].items() if k not in timings} == {
            k: v for k, v in shared.metrics["final"].items() if k not in timings
        }
    summary = lambda root: json.loads((root / "summary.json").read_text())["figures"]
    assert summary(one) == summary(two)


def flags(**given) -> argparse.Namespace:
    return argparse.Namespace(**{"coordinator": None, "num_processes": None, "process_id": None, **given})


def test_cluster_flags_are_checked():
    assert distributed.cluster_from(flags()) is None
    assert distributed.cluster_from(flags(coordinator="h:1", num_processes=2, process_id=1)) == ("h:1", 2, 1)
    assert distributed.cluster_from(flags(coordinator="auto")).coordinator == "auto"
    bad = [
        flags(process_id=1),
        flags(coordinator="h"),
        flags(coordinator="h:1", num_processes=2),
        flags(coordinator="h:1", num_processes=2, process_id=2),
        flags(coordinator="h:x", num_processes=1, process_id=0),
        flags(coordinator="h:99999", num_processes=1, process_id=0),  # no such port
    ]
    for args in bad:
        with pytest.raises(ValueError):
            distributed.cluster_from(args)


def test_bad_cluster_flags_are_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--seed", "0", "--coordinator", "127.0.0.1:1234", "--num-processes", "2"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--process-id" in err[0]


def test_auto_outside_a_scheduler_is_one_line(tmp_path, monkeypatch, capsys):
    """`--coordinator auto` outside srun or mpirun: JAX finds no variables to read the cluster from and raises a
    bare ValueError (mocked here: the real call must come before any other JAX work, which this process has done);
    train.py says what to do in one line."""

    def no_scheduler(**kwargs):
        raise ValueError("coordinator_address should be defined.")

    monkeypatch.setattr(distributed.jax.distributed, "initialize", no_scheduler)
    collectives = jax.config.jax_cpu_collectives_implementation
    try:
        with pytest.raises(SystemExit) as exit_info:
            train.main(["--seeds", "0-1", "--coordinator", "auto", "--out", str(tmp_path / "runs")])
    finally:
        jax.config.update("jax_cpu_collectives_implementation", collectives)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 1 and len(err) == 1, err
    assert "--coordinator auto found no cluster" in err[0] and "srun or mpirun" in err[0]
    assert not (tmp_path / "runs").exists()


def test_an_unreachable_coordinator_is_one_line_not_an_abort(capsys):
    with pytest.raises(ConnectionError, match=r"no coordinator answered at 127\.0\.0\.1:\d+ within 0 s"):
        distributed.wait_for_coordinator(f"127.0.0.1:{free_port()}", timeout_s=0.2, retry_s=0.05)
    with socket.socket() as listening:  # one that listens is found
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        distributed.wait_for_coordinator(f"127.0.0.1:{listening.getsockname()[1]}", timeout_s=1)


LONELY_PROCESS_0 = """
import sys
from jaxjepa import distributed
distributed.INIT_TIMEOUT_S = 1
distributed.initialize(distributed.Cluster(sys.argv[1], 2, 0))
print("the cluster formed")
"""


def test_process_0_whose_peers_never_join_says_so_in_one_line():
    """Process 0 cannot check for its peers beforehand, as the others check for it: JAX blocks until they join, and
    aborts with a C++ stack trace at its own limit; the watchdog says why in one line and exits first."""
    done = subprocess.run(
        [sys.executable, "-c", LONELY_PROCESS_0, f"127.0.0.1:{free_port()}"],
        cwd=REPO,
        env={**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "the cluster formed" not in done.stdout
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and "the cluster of 2 processes at 127.0.0.1:" in err[0], done.stderr
    assert "(this is process 0) did not form within 1 s" in err[0]


@pytest.mark.parametrize("text", ["abc", "1_0", "\u0663"])  # int() reads the last two as 10 and 3
def test_a_non_integer_cluster_variable_is_named(text, monkeypatch, capsys):
    monkeypatch.setenv(distributed.ENV["num_processes"], text)
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--seed", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and f"JAXJEPA_NUM_PROCESSES={text!r} is not an integer" in err[0]

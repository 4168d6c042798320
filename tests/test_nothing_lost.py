"""Nothing a user saved is lost: Ctrl-C, saves killed at every stage, two writers of one run, unwritable
outputs, seed-count bounds, merged seed summaries, and sentinel files around --out that train.py and
eval.py must leave as they were. Kills are real signals sent to real processes."""

import contextlib
import errno
import fcntl
import gc
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

import train as train_cli
from jaxjepa import RunError, checkpoint, cli, load_run
from tests.conftest import cli_flags, tiny_config

REPO = Path(__file__).resolve().parents[1]
SHAPES = dict(train_sequences=8, seq_len=8, batch_size=8, decoder_steps=2, probe_sequences=4, probe_seq_len=8)
TINY = cli_flags(steps=20, **SHAPES)


def _env(cache: Path, **extra: str) -> dict:
    # The tests' XLA flags (tests/conftest.py): a program that this worker compiled, in the session's cache, is
    # found there by a train.py process too.
    return {
        "PYTHONPATH": str(REPO),
        "PATH": "/usr/bin:/bin",
        "JAXJEPA_CACHE": str(cache),
        "XLA_FLAGS": os.environ["XLA_FLAGS"],
        **extra,
    }


def _run(script: str, args: list, cwd: Path, cache: Path, prefix: tuple = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, str(REPO / script), *map(str, args)],
        cwd=cwd,
        env=_env(cache),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _digests(root: Path, skip: tuple = ()) -> dict:
    """{relative path: sha256} of every file under root, except those under the `skip` folders."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not any(path.is_relative_to(s) for s in skip):
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _sentinels(sandbox: Path) -> None:
    """User files around `sandbox/runs`: beside and above it, inside it, in a sibling run folder, and in
    folders named like a save's leftovers that no save of ours wrote (or whose writer is alive)."""
    for rel, text in [
        ("../parent.txt", "parent"),
        ("sibling.txt", "sibling"),
        ("README.md", "no markers\n"),
        ("runs/notes.txt", "notes"),
        ("runs/seed1/keep.txt", "sibling run"),
        (".hidden", "hidden"),
        ("runs/.seed0.partial-1/config.json", "{}"),
        (f"runs/.seed0.old-{_dead_pid()}/notes_user.txt", "user notes in an old-looking folder"),
    ]:
        path = sandbox / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run, sandbox/runs/seed0, trained by train.py (no --force) among sentinel files."""
    root, cache = tmp_path_factory.mktemp("nothing_lost"), Path(os.environ["JAXJEPA_CACHE"])  # the session's
    sandbox = root / "sandbox"
    _sentinels(sandbox)
    before = _digests(root)
    # train.py's main in this process, from the sandbox: its files do not depend on being a process of its own
    with (
        contextlib.chdir(sandbox),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        assert train_cli.main(["--seed", "0", "--out", "runs", *TINY]) == 0
    return sandbox, cache, before


def _copy_run(trained, dest: Path) -> Path:
    shutil.copytree(trained[0] / "runs" / "seed0", dest / "runs" / "seed0")
    return dest / "runs" / "seed0"


def _wait_for_lock(proc: subprocess.Popen, lock: Path, timeout: float = 120) -> None:
    """Until `proc` holds an flock on `lock` (read from /proc/locks, so the test takes no lock itself)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if lock.exists():
            inode = f":{lock.stat().st_ino}"
            for line in Path("/proc/locks").read_text().splitlines():
                fields = line.split()
                if "FLOCK" in fields and fields[4] == str(proc.pid) and fields[5].endswith(inode):
                    return
        time.sleep(0.05)
    raise AssertionError(f"{lock} never locked")


# Ctrl-C as a terminal's foreground job gets it: a test runner started in the background of a script ignores
# SIGINT, and a child that inherits the ignore (Python then installs no handler) would never see it.
AS_FOREGROUND = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def test_ctrl_c_stops_a_forced_rerun_and_keeps_the_old_run(trained, tmp_path):
    run_dir = _copy_run(trained, tmp_path)
    before = _digests(run_dir)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            AS_FOREGROUND,
            str(REPO / "train.py"),
            "--seed",
            "0",
            "--out",
            "runs",
            "--force",
            *cli_flags(steps=100000, **SHAPES),
        ],
        cwd=tmp_path,
        env=_env(tmp_path / "xla"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_lock(proc, run_dir.parent / ".seed0.lock")
    time.sleep(1.0)  # compiling or training in its worker thread by now
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # an impatient user presses Ctrl-C again
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.monotonic() - sent < 3.0, (proc.returncode, err)
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err, err
    assert "jaxjepa:" not in out
    assert _digests(run_dir) == before and not list(run_dir.parent.glob(".seed0.*-*"))


# Ctrl-C while a command still imports, every time rather than by chance: JAX's import, which each command
# starts inside cli.starting (after reading its command line, for the benchmarks), says so on stdout and waits for
# the signal in a garbage-collection callback, as JAX's own runs during imports (Python prints and drops a
# KeyboardInterrupt raised there).
JAX_IMPORT_WAITS = (
    "import gc, os, sys, time\n"
    "def wait(phase, info):\n"
    "    gc.callbacks.remove(wait)\n"
    "    os.write(1, b'importing jax\\n')\n"
    "    time.sleep(60)\n"
    "class WaitingImport:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == 'jax':\n"
    "            gc.callbacks.append(wait)\n"
    "            gc.collect()\n"
    "sys.meta_path.insert(0, WaitingImport())\n"
)


@pytest.mark.parametrize(
    "script, argv, prog",
    [("train.py", [], "train.py"), ("eval.py", ["--seeds", "0-1"], "eval.py"), ("plan.py", ["RUN"], "plan.py"),
     ("export/__main__.py", ["RUN"], "python -m export"),
     ("benchmarks/__main__.py", ["--quick", "--sections", "peak", "--out", "bench.json"], "python -m benchmarks"),
     ("benchmarks/two_rooms_seconds.py", ["RUN"], "python -m benchmarks.two_rooms_seconds"),
     ("benchmarks/planning_batches.py", ["RUN"], "python -m benchmarks.planning_batches"),
     ("jaxjepa/evaluation/__main__.py", ["--seeds", "0-1"], "eval.py"),
     ("jaxjepa-eval", ["--seeds", "0-1"], "eval.py")],
)  # fmt: skip
def test_ctrl_c_while_a_command_imports_is_one_line_and_status_130(script, argv, prog, tmp_path):
    path = REPO / script if (REPO / script).is_file() else console_script(script, tmp_path)
    command = [sys.executable, "-c", JAX_IMPORT_WAITS + AS_FOREGROUND, str(path), *argv]
    said = _ctrl_c_once_it_says(command, "importing jax\n", tmp_path)
    assert said == (130, f"{prog}: interrupted; nothing was written\n")


def _ctrl_c_once_it_says(command: list[str], line: str, tmp_path: Path) -> tuple[int, str]:
    """(exit status, stderr) of `command`, sent SIGINT once it has printed `line`."""
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=_env(tmp_path / "xla"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline() == line, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


# After a command's start, Ctrl-C pressed while a garbage-collection callback runs (JAX registers one): Python's
# own handler would raise KeyboardInterrupt inside the callback, where it is printed and dropped, and the work
# would go on to its end.
INTERRUPTED_IN_A_GC_CALLBACK = """
import gc, os, signal, time
signal.signal(signal.SIGINT, signal.default_int_handler)
from jaxjepa import cli
with cli.starting("prog"):
    pass
phases = []
def collecting(phase, info):  # stays registered, as JAX's does; slow in the first collection only
    phases.append(phase)
    if phases == ["start"]:
        os.write(1, b"collecting\\n")
        time.sleep(3)
gc.callbacks.append(collecting)
try:
    gc.collect()
    sum(range(10**7))  # C code that runs no handler: a signal sent again once, after the collection, waits here
    time.sleep(60)  # the work: a dropped Ctrl-C lets it run to its end and exit 0, a late one stops it at its end
except KeyboardInterrupt:
    cli.interrupted("prog: interrupted; nothing was written")
"""


def test_ctrl_c_inside_a_garbage_collection_callback_still_stops_the_work(tmp_path):
    """The work stops once the collection is over (3 s), not when it ends (a minute): a signal sent again once could
    land before the main thread's sleep began, which then ran to its end before the handler."""
    started = time.monotonic()
    said = _ctrl_c_once_it_says([sys.executable, "-c", INTERRUPTED_IN_A_GC_CALLBACK], "collecting\n", tmp_path)
    assert said == (130, "prog: interrupted; nothing was written\n")
    assert time.monotonic() - started < 30


INTERRUPTED_INSIDE_A_PRINT = """
import sys
from jaxjepa import cli
class Busy:  # a stream that the signal caught inside a write: it refuses another, as io's buffered writers do
    def write(self, text):
        raise RuntimeError("reentrant call inside <_io.BufferedWriter name='<stderr>'>")
    flush = write
sys.stderr = Busy()
cli.interrupted("prog: interrupted; nothing was written")
"""


def test_ctrl_c_inside_a_write_to_stderr_still_says_its_line(tmp_path):
    argv = [sys.executable, "-c", INTERRUPTED_INSIDE_A_PRINT]
    done = subprocess.run(argv, env=_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (130, "prog: interrupted; nothing was written\n")


def console_script(name: str, folder: Path) -> Path:
    """The script pip writes for pyproject.toml's console script `name`: import its entry point, call it."""
    module, function = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"][name].split(":")
    script = folder / name
    script.write_text(f"import sys\nfrom {module} import {function}\nsys.exit({function}())\n")
    return script


PACKAGE_AT_FIRST_USE = """
import sys, jaxjepa
assert jaxjepa.cli.__name__ == "jaxjepa.cli" and jaxjepa.get_config().latent_dim == 32
assert "jax" not in sys.modules  # what the commands' Ctrl-C handling, imported first, relies on
try:
    jaxjepa.no_such_name
except AttributeError as err:
    print(err)
"""


def test_the_package_imports_its_names_and_modules_at_their_first_use(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", PACKAGE_AT_FIRST_USE], env=_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "module 'jaxjepa' has no attribute 'no_such_name'\n"), done.stderr


SAVE_AGAIN = """
import sys
from jaxjepa import checkpoint
config, params, _ = checkpoint.load_run_files(sys.argv[1])
checkpoint.save_run(sys.argv[1], config, params, {"final": {"loss": -1.0}}, force=True)
"""
KILL_CASES = [
    ("exchange", "begin", "old"),
    ("exchange", "written", "old"),
    ("exchange", "swapped", "new"),
    ("fallback", "swapped", "restored"),
]  # (swap, stage killed at, run under the real name afterwards)


def test_a_save_killed_at_any_stage_leaves_a_complete_run_and_is_tidied(trained, tmp_path):
    run_dirs, procs = [], []
    for i, (swap, stage, _) in enumerate(KILL_CASES):
        run_dirs.append(_copy_run(trained, tmp_path / f"case{i}"))
        extra = {"JAXJEPA_TEST_SAVE_PAUSE": stage, **({"JAXJEPA_TEST_NO_EXCHANGE": "1"} if swap == "fallback" else {})}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", SAVE_AGAIN, str(run_dirs[-1])],
                env=_env(tmp_path, **extra),
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    old_loss = json.loads((run_dirs[0] / "metrics.json").read_text())["final"]["loss"]
    for proc, (_, stage, _) in zip(procs, KILL_CASES):
        while (line := proc.stderr.readline()) and line.strip() != f"JAXJEPA_TEST_SAVE {stage}":
            pass
        assert line, f"the save never reached {stage}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    for run_dir, (swap, stage, expected) in zip(run_dirs, KILL_CASES):
        assert list(run_dir.parent.glob(".seed0.*-*")), (swap, stage)
        assert run_dir.is_dir() == (expected != "restored"), (swap, stage)
        notes = checkpoint.tidy_leftovers(run_dir)  # what the next save or train.py does first
        assert len(notes) == (expected == "restored") and all("restored" in n for n in notes), notes
        assert not list(run_dir.parent.glob(".seed0.*-*")), (swap, stage)
        _, _, metrics = checkpoint.load_run_files(run_dir)
        assert metrics["final"]["loss"] == (-1.0 if expected == "new" else old_loss), (swap, stage)


def test_leftovers_of_live_processes_or_not_written_by_a_save_are_left_alone(tmp_path):
    run_dir = tmp_path / "seed0"
    live, foreign = tmp_path / ".seed0.partial-1", tmp_path / f".seed0.old-{_dead_pid()}"
    for path in (live / "checkpoint", foreign / "checkpoint"):
        path.mkdir(parents=True)
    (foreign / "my_notes.txt").write_text("mine")
    assert checkpoint.tidy_leftovers(run_dir) == []
    assert live.is_dir() and (foreign / "my_notes.txt").read_text() == "mine" and not run_dir.exists()


def test_a_second_writer_of_the_same_run_is_refused_before_training(trained, tmp_path):
    run_dir = _copy_run(trained, tmp_path)
    before = _digests(run_dir)
    lock = os.open(run_dir.parent / ".seed0.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)  # this test stands for the first train.py
    try:
        done = _run("train.py", ["--seed", "0", "--out", "runs", "--force", *TINY], tmp_path, tmp_path / "xla")
        config, params, _ = checkpoint.load_run_files(run_dir)
        with pytest.raises(RunError, match="being written by another process"):
            checkpoint.save_run(run_dir, config, params, {"final": {"loss": 1.0}}, force=True)
    finally:
        os.close(lock)
    assert done.returncode == 1 and "jaxjepa:" not in done.stdout, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "being written by another process" in done.stderr
    assert _digests(run_dir) == before


def test_train_py_lets_go_of_its_runs_when_main_returns(trained):
    """The trained fixture ran train.py's main in this process: a later writer (another process, or this one
    through a new file) may take the run's lock now, as it may once a train.py process has exited."""
    fd = os.open(trained[0] / "runs" / ".seed0.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError while main's lock is held
    finally:
        os.close(fd)


# Root writes into any folder whatever its mode, through CAP_DAC_OVERRIDE (CI runs as root). To meet a
# read-only --out as a user would, root runs train.py with that capability and CAP_DAC_READ_SEARCH dropped
# from its inheritable and bounding sets, so the exec'd python holds neither and folder modes bind it; it
# still reads the checkout and its python, which root owns.
DROP_FOLDER_OVERRIDES = ("--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search")


def _folder_modes_binding_root() -> tuple:
    """The command prefix that makes root obey folder modes; skips where it cannot be had."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root ignores folder modes, and setpriv (util-linux) is missing to drop its override")
    prefix = (setpriv, *DROP_FOLDER_OVERRIDES, "--")
    with tempfile.TemporaryDirectory() as folder:
        sealed = Path(folder) / "sealed"
        sealed.mkdir(mode=0o555)
        touch = "import pathlib, sys; pathlib.Path(sys.argv[1]).touch()"
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", touch, sealed / "probe"], capture_output=True, text=True, check=False
        )
    if "PermissionError" not in probe.stderr:
        pytest.skip(f"root ignores folder modes, and setpriv could not drop its override here: {probe.stderr.strip()}")
    return prefix


@pytest.mark.parametrize(
    "case",
    [
        "out_is_a_file",
        "out_below_a_file",
        "seed_dir_is_a_file",
        "seed_dir_is_not_a_run",
        "out_cannot_be_made",
        "out_read_only",
    ],
)
def test_unwritable_outputs_are_refused_before_any_compute(case, tmp_path, capsys):
    (tmp_path / "file").write_text("keep")
    (tmp_path / "ro").mkdir(mode=0o555)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "seed0").write_text("keep")
    (tmp_path / "other" / "seed0").mkdir(parents=True)
    (tmp_path / "other" / "seed0" / "notes.txt").write_text("keep")
    out = {
        "out_is_a_file": tmp_path / "file",
        "out_below_a_file": tmp_path / "file" / "runs",
        "seed_dir_is_a_file": tmp_path / "runs",
        "seed_dir_is_not_a_run": tmp_path / "other",
        "out_cannot_be_made": Path("/proc/jaxjepa-runs"),
        "out_read_only": tmp_path / "ro",
    }[case]
    argv = ["--seed", "0", "--out", str(out), "--force", *TINY]
    if case == "out_read_only" and os.geteuid() == 0:
        done = _run("train.py", argv, tmp_path, tmp_path / "xla", prefix=_folder_modes_binding_root())
        code, out_text, err_text = done.returncode, done.stdout, done.stderr
    else:
        with pytest.raises(SystemExit) as exit_info:
            train_cli.main(argv)
        captured = capsys.readouterr()
        code, out_text, err_text = exit_info.value.code, captured.out, captured.err
    assert code == 2 and "jaxjepa:" not in out_text
    assert len(err_text.strip().splitlines()) == 1 and "train.py:" in err_text, err_text
    assert (tmp_path / "file").read_text() == "keep" and (tmp_path / "runs" / "seed0").read_text() == "keep"
    assert list((tmp_path / "ro").iterdir()) == []
    assert (tmp_path / "other" / "seed0" / "notes.txt").read_text() == "keep"


def test_seed_counts_are_bounded_before_any_list_is_built(capsys):
    assert len(cli.parse_seeds(f"0-{cli.MAX_SEEDS - 1}")) == cli.MAX_SEEDS
    for spec in [f"0-{cli.MAX_SEEDS}", "0-1000000000", f"0-10,20-{cli.MAX_SEEDS + 9}"]:
        with pytest.raises(ValueError, match=f"more than {cli.MAX_SEEDS} seeds"):
            cli.parse_seeds(spec)
    assert cli.parse_seeds(f"{2**32 - 2}-{2**32 - 1}") == [2**32 - 2, 2**32 - 1]
    for spec in [str(2**32), f"{2**32 - 1}-{2**32}", str(2**64)]:  # 2**32 would silently train seed 0
        with pytest.raises(ValueError, match="below 4294967296"):
            cli.parse_seeds(spec)
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(["--seeds", "0-1000000000"])
    assert exit_info.value.code == 2 and time.perf_counter() - start < 1.0
    assert "more than" in capsys.readouterr().err


def _figures(loss: float) -> dict:
    return {"loss": loss, "pred_loss": loss / 10, "emb_std": 1.0, "probe_rmse_px": 2 * loss}


def test_seed_summaries_merge_and_are_written_atomically(tmp_path):
    path, config = tmp_path / "summary.json", tiny_config()
    train_cli.write_seed_summary(path, config, [(0, None, _figures(1.0)), (1, None, _figures(2.0))], force=False)
    train_cli.write_seed_summary(path, config, [(2, None, _figures(3.0)), (3, None, _figures(4.0))], force=False)
    summary = json.loads(path.read_text())
    assert summary["seeds"] == [0, 1, 2, 3]
    assert summary["figures"]["loss"]["mean"] == 2.5
    np.testing.assert_allclose(summary["figures"]["probe_rmse_px"]["std"], 2 * np.sqrt(5 / 3))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".summary.json.lock", "summary.json"]


def test_a_summary_written_before_a_planning_field_existed_still_merges(tmp_path):
    """A summary.json saved before a field was added to Config (here a planning field), or with other planning
    settings, is of the same config: its seeds stay, as a run saved then still loads."""
    path, config = tmp_path / "summary.json", tiny_config()
    train_cli.write_seed_summary(path, config, [(0, None, _figures(1.0))], force=False)
    older = json.loads(path.read_text())
    del older["config"]["search_switch_margin"]
    older["config"]["plan_samples"] = 64
    path.write_text(json.dumps(older))
    train_cli.write_seed_summary(path, config, [(1, None, _figures(3.0))], force=False)
    assert json.loads(path.read_text())["seeds"] == [0, 1]


def test_a_summary_of_another_config_is_not_overwritten_unasked(tmp_path, capsys):
    path = tmp_path / "runs" / "summary.json"
    path.parent.mkdir()
    train_cli.write_seed_summary(path, tiny_config(), [(0, None, _figures(1.0)), (1, None, _figures(2.0))], False)
    before = path.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(["--seeds", "5-6", "--out", str(path.parent), *TINY])
    assert exit_info.value.code == 2 and "another config" in capsys.readouterr().err
    assert path.read_bytes() == before and not (path.parent / "seed5").exists()


@pytest.mark.parametrize("seeds", ["5-6", "5"])
def test_a_summary_nested_too_deep_to_parse_is_unreadable_not_a_traceback(tmp_path, capsys, seeds):
    """A damaged summary.json of arrays nested deeper than Python's recursion limit: json raises RecursionError,
    not ValueError. Several seeds refuse it before training; one seed leaves it as it is, as any unreadable one."""
    path = tmp_path / "runs" / "summary.json"
    path.parent.mkdir()
    path.write_text("[" * 100_000)
    with contextlib.ExitStack() as held:
        if seeds == "5":
            assert train_cli.prepare_outputs(path.parent, [path.parent / "seed5"], tiny_config(), False, held) == {}
            assert "without seed 5" in train_cli.unjoined_summary(path, 5)
            return
        with pytest.raises(SystemExit) as exit_info:
            train_cli.prepare_outputs(path.parent, [path.parent / "seed5"], tiny_config(), False, held, seeds=2)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.endswith("is unreadable (RecursionError); pass --force to replace it")
    assert path.read_text() == "[" * 100_000


@pytest.mark.parametrize("figure", ["x", None, [1.0], True, float("nan")])
def test_a_summary_whose_figure_is_not_a_number_is_refused_before_training(tmp_path, capsys, figure):
    """A summary.json of the same config with a per-seed figure that is not a finite number passed the check before
    training, and the merge after it (a mean over the figures) ended in a traceback."""
    path = tmp_path / "runs" / "summary.json"
    path.parent.mkdir()
    train_cli.write_seed_summary(path, tiny_config(), [(0, None, _figures(1.0)), (1, None, _figures(2.0))], False)
    damaged = json.loads(path.read_text())
    damaged["figures"]["emb_std"]["per_seed"]["1"] = figure
    path.write_text(json.dumps(damaged))
    with contextlib.ExitStack() as held, pytest.raises(SystemExit) as exit_info:
        train_cli.prepare_outputs(path.parent, [path.parent / "seed5"], tiny_config(), False, held, seeds=2)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.endswith("is unreadable (ValueError); pass --force to replace it"), err


def test_a_cluster_process_holding_one_seed_of_several_refuses_another_configs_summary_before_training(
    tmp_path, capsys
):
    """Process 0 of a cluster trains only its own rows, one here, of a call of two seeds that will write the
    summary: another config's summary is refused before any training, as a one-process call refuses it."""
    path = tmp_path / "runs" / "summary.json"
    path.parent.mkdir()
    train_cli.write_seed_summary(path, tiny_config(), [(0, None, _figures(1.0)), (1, None, _figures(2.0))], False)
    with contextlib.ExitStack() as held, pytest.raises(SystemExit) as exit_info:
        train_cli.prepare_outputs(path.parent, [path.parent / "seed0"], tiny_config(steps=7), False, held, seeds=2)
    assert exit_info.value.code == 2 and "summarises runs of another config" in capsys.readouterr().err
    capsys.readouterr()
    with contextlib.ExitStack() as held:  # a one-seed call leaves it alone, and says so after training
        assert train_cli.prepare_outputs(path.parent, [path.parent / "seed0"], tiny_config(steps=7), False, held) == {}


def test_a_one_seed_run_says_it_left_a_summary_of_another_config_alone(tmp_path, capsys):
    path = tmp_path / "runs" / "summary.json"
    path.parent.mkdir()
    train_cli.write_seed_summary(path, tiny_config(), [(0, None, _figures(1.0)), (1, None, _figures(2.0))], False)
    before = path.read_bytes()
    capsys.readouterr()
    assert train_cli.main(["--seed", "0", "--out", str(path.parent), *TINY]) == 0
    err = capsys.readouterr().err.strip()
    assert err.endswith("left as it is, without seed 0; the seed 0 it lists is not this run") and "\n" not in err
    assert path.read_bytes() == before and checkpoint.is_finished(path.parent / "seed0")


def _assert_sentinels_kept(sandbox: Path, before: dict, rewritten: tuple) -> None:
    root = sandbox.parent
    after = _digests(root)
    kept = {k: v for k, v in before.items() if not any((root / k).is_relative_to(r) for r in rewritten)}
    assert {k: after.get(k) for k in kept} == kept


def test_sandbox_forced_train_in_chunks_leaves_every_file_around_out(trained):
    """--force over seed0 plus a new seed2, one seed per program: the program compiled for seed0 is
    reused for seed2, seed0's numbers equal its lone run, and every sentinel is kept."""
    sandbox, cache, before = trained
    lone = json.loads((sandbox / "runs" / "seed0" / "metrics.json").read_text())
    done = _run(
        "train.py", ["--seeds", "0,2", "--seeds-per-program", "1", "--out", "runs", "--force", *TINY], sandbox, cache
    )
    assert done.returncode == 0, done.stderr
    runs = sandbox / "runs"
    assert json.loads((runs / "seed0" / "metrics.json").read_text())["curves"] == lone["curves"]
    second = json.loads((runs / "seed2" / "metrics.json").read_text())["final"]
    assert second["compile_s"] == 0.0 and second["seeds_in_program"] == 1 and second["seed"] == 2
    assert json.loads((runs / "summary.json").read_text())["seeds"] == [0, 2]
    _assert_sentinels_kept(sandbox, before, rewritten=(runs / "seed0",))


def test_sandbox_eval_leaves_every_file_around_its_outputs(trained, monkeypatch):
    """eval.py's main in this process (what it writes does not depend on being a process of its own; a new
    one would import JAX and matplotlib again), run from the sandbox."""
    import eval as eval_script

    sandbox, _, before = trained
    monkeypatch.chdir(sandbox)
    # an earlier headline run with the ablation: its collapse plot is stale once metrics.json holds no ablation
    results = sandbox / "results"
    results.mkdir(exist_ok=True)
    earlier = {"command": "python eval.py", "seeds": [0], "timing_s": {}, "figures": {}}
    for name in ("collapse.png", "horizon.png"):
        (results / name).write_bytes(b"an earlier run's figure")
        earlier["figures"][name.removesuffix(".png")] = f"results/{name}"
    (results / "metrics.json").write_text(json.dumps(earlier))
    (results / "mine.png").write_bytes(b"a user's plot that no stored file names")
    # few trajectories: the files around the outputs are checked here, not the figures
    argv = ["runs/seed0", "--no-std", "--trajectories", "16", "--out", "results", "--report", "results/R.md"]
    assert eval_script.main([*argv, "--readme", "README.md"]) == 0
    assert "ablation" not in json.loads((results / "metrics.json").read_text())
    assert not (results / "collapse.png").exists()  # stale: removed
    assert (results / "mine.png").read_bytes() == b"a user's plot that no stored file names"
    assert (results / "horizon.png").read_bytes()[:4] == b"\x89PNG"  # drawn again
    _assert_sentinels_kept(sandbox, before, rewritten=(sandbox / "runs" / "seed0",))


@pytest.mark.parametrize("inside", ["", "checkpoint", "results"])
@pytest.mark.parametrize("given", ["run_dirs", "seeds"])
def test_eval_refuses_an_out_in_a_run_before_its_metrics_are_replaced(tiny_run_dir, tmp_path, inside, given, capsys):
    """--out at a run (or below one) would put eval.py's metrics.json in place of the run's own: the training curves
    and final figures gone, and the run evaluated next as if its metrics were those results."""
    import eval as eval_script

    runs = tmp_path / "runs"
    for seed in (0, 1):
        shutil.copytree(tiny_run_dir, runs / f"seed{seed}")
    before = _digests(runs)
    sources = [str(runs / "seed0"), str(runs / "seed1")] if given == "run_dirs" else ["--seeds", "0-2", "--runs"]
    out = runs / "seed0" / inside if given == "run_dirs" else runs / "seed2" / inside
    argv = [*sources, *([] if given == "run_dirs" else [str(runs), *TINY]), "--out", str(out)]
    with pytest.raises(SystemExit) as refusal:
        eval_script.main([*argv, "--report", str(tmp_path / "R.md")])
    err = capsys.readouterr().err.strip()
    assert refusal.value.code == cli.USAGE and len(err.splitlines()) == 1, err
    assert f"lies in the run {out.parent if inside else out}" in err
    assert _digests(runs) == before and not (runs / "seed2").exists()


@pytest.mark.parametrize("report_only", [False, True], ids=["evaluating", "report only"])
def test_eval_refuses_an_out_another_eval_is_writing(tiny_run_dir, tmp_path, report_only, capsys):
    """Two eval.py writing one --out at once: the second is refused in one line before it reads or writes anything
    there, not left to land its JSON beside the first one's figures."""
    import eval as eval_script

    results = tmp_path / "results"
    results.mkdir()
    (results / "metrics.json").write_text('{"stored": "by the first eval.py"}')
    runs = [str(Path(shutil.copytree(tiny_run_dir, tmp_path / "runs" / f"seed{seed}"))) for seed in (0, 1)]
    sources = ["--report-only"] if report_only else runs
    before = _digests(tmp_path)
    holder = os.open(results, os.O_RDONLY | os.O_DIRECTORY)  # as the first eval.py holds it
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SystemExit) as refusal:
            eval_script.main([*sources, "--out", str(results), "--report", str(tmp_path / "R.md")])
    finally:
        os.close(holder)
    err = capsys.readouterr().err.strip()
    assert refusal.value.code == cli.FAILED and len(err.splitlines()) == 1, err
    assert err == f"eval.py: --out {results} is being written by another eval.py; wait for it or choose another --out"
    assert _digests(tmp_path) == before and not (tmp_path / "R.md").exists()


@pytest.mark.parametrize("inside", ["", "checkpoint"])
def test_train_refuses_an_out_in_a_run(tiny_run_dir, tmp_path, inside, capsys):
    """Runs written into a run would sit among its files, or in its checkpoint folder, which a forced save of that
    run replaces whole: the runs inside it would go with it."""
    run_dir = Path(shutil.copytree(tiny_run_dir, tmp_path / "runs" / "seed0"))
    before = _digests(run_dir)
    with pytest.raises(SystemExit) as refusal:
        train_cli.main(["--seed", "1", "--out", str(run_dir / inside), *TINY])
    err = capsys.readouterr().err.strip()
    assert refusal.value.code == cli.USAGE and err.endswith("choose another folder") and "\n" not in err, err
    assert f"lies in the run {run_dir}" in err and _digests(run_dir) == before


@pytest.mark.parametrize("inside", ["", "checkpoint"])
def test_eval_refuses_runs_to_train_in_a_run(tiny_run_dir, tmp_path, inside, capsys):
    """eval.py --seeds saves the runs it trains under --runs: inside a run's checkpoint folder, a forced save of that
    run would delete them with it."""
    import eval as eval_script

    run_dir = Path(shutil.copytree(tiny_run_dir, tmp_path / "runs" / "seed0"))
    before = _digests(run_dir)
    argv = ["--seeds", "0-1", "--runs", str(run_dir / inside), "--out", str(tmp_path / "results"), *TINY]
    with pytest.raises(SystemExit) as refusal:
        eval_script.main([*argv, "--report", str(tmp_path / "R.md")])
    err = capsys.readouterr().err.strip()
    assert refusal.value.code == cli.USAGE and len(err.splitlines()) == 1, err
    assert f"--runs {run_dir / inside} lies in the run {run_dir}" in err and _digests(run_dir) == before


def test_an_out_below_a_folder_that_cannot_be_looked_into_is_no_run(tiny_run_dir, tmp_path, monkeypatch):
    """Path.exists raises PermissionError (not False) below a folder this process may not search: the check for an
    enclosing run must not end a command that folder_problem would refuse in one line, or that may well succeed."""
    unreadable, finished = tmp_path / "locked", checkpoint.is_finished

    def is_finished(folder):
        if Path(folder).is_relative_to(unreadable):
            raise PermissionError(errno.EACCES, "Permission denied", str(folder))
        return finished(folder)

    monkeypatch.setattr(checkpoint, "is_finished", is_finished)
    assert checkpoint.enclosing_run(unreadable / "runs") is None
    assert checkpoint.enclosing_run(tiny_run_dir / "checkpoint") == Path(os.path.realpath(tiny_run_dir))


def test_a_forced_save_keeps_away_from_a_run_holding_a_users_files(tiny_run_dir, tmp_path, tiny):
    """--force replaces a finished run, not the notes and plots a user keeps inside it."""
    run_dir = Path(shutil.copytree(tiny_run_dir, tmp_path / "seed0"))
    (run_dir / "NOTES.txt").write_text("mine")
    (run_dir / "plots").mkdir()
    before = _digests(run_dir)
    params = load_run(tiny_run_dir).params
    with pytest.raises(RunError, match=r"files a save did not write \(NOTES.txt, plots\)"):
        checkpoint.save_run(run_dir, tiny, params, {"final": {}}, force=True)
    assert _digests(run_dir) == before and (run_dir / "plots").is_dir()


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_full_disk_is_one_line_and_leaves_no_run(tiny_run_dir, tmp_path, tiny, monkeypatch, capfd):
    def disk_full(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    params = load_run(tiny_run_dir).params
    monkeypatch.setattr(Path, "write_bytes", disk_full)
    with pytest.raises(RunError, match="No space left on device") as refusal:
        checkpoint.save_run(tmp_path / "seed0", tiny, params, {"final": {}})
    gc.collect()  # a zip writer left open would report its own failure when collected
    assert len(str(refusal.value).splitlines()) == 1 and capfd.readouterr().err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [".seed0.lock"]


def test_a_forced_call_on_some_seeds_keeps_the_others_in_the_summary(tmp_path):
    path, config = tmp_path / "summary.json", tiny_config()
    mask = os.umask(0o022)
    try:
        train_cli.write_seed_summary(path, config, [(s, None, _figures(s + 1.0)) for s in range(3)], force=False)
        train_cli.write_seed_summary(path, config, [(0, None, _figures(9.0)), (1, None, _figures(9.0))], force=True)
    finally:
        os.umask(mask)
    summary = json.loads(path.read_text())
    assert summary["seeds"] == [0, 1, 2]
    assert summary["figures"]["loss"]["per_seed"] == {"0": 9.0, "1": 9.0, "2": 3.0}
    assert path.stat().st_mode & 0o777 == 0o644  # readable by the other hosts of a shared --out, as every run file
    other = config.replace(steps=config.steps + 1)  # --force replaces a summary of another config
    train_cli.write_seed_summary(path, other, [(5, None, _figures(1.0)), (6, None, _figures(2.0))], force=True)
    assert json.loads(path.read_text())["seeds"] == [5, 6]


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "forced"])
def test_a_summary_path_that_is_a_folder_is_refused_before_training(tmp_path, capsys, force):
    (tmp_path / "runs" / "summary.json").mkdir(parents=True)
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(["--seeds", "5-6", "--out", str(tmp_path / "runs"), *force, *TINY])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "is not a file" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "runs" / "seed5").exists()


def test_runs_spelled_any_way_keeps_a_named_configs_runs_under_its_name():
    for spelling in ("runs", "runs/", "./runs", os.path.abspath("runs")):
        assert os.path.realpath(train_cli.runs_root(spelling, "fast")) == os.path.realpath(Path("runs") / "fast")
        assert os.path.realpath(train_cli.runs_root(spelling, "default")) == os.path.realpath("runs")
    assert train_cli.runs_root("elsewhere", "fast") == Path("elsewhere")

"""Saving and loading runs, so that nothing a user trained is lost and nothing half-written is trusted.

A run directory holds `checkpoint/` (encoder, target, predictor, decoder params in one NumPy
`params.npz`, one array per parameter path; directories in orbax's format are read too),
`config.json` (the source of truth: the checkpoint is restored into the shapes it implies) and
`metrics.json` (final figures and training curves) and `checksum.json` (sha256 of the checkpoint's
files and arrays: jaxjepa.checksums). Everything is written into a hidden sibling directory first and
swapped into place as the last act, so a run directory either is complete or does not exist; a finished
run is only replaced when the caller says `force=True`, and nothing that is not a finished run is ever
replaced. A lock file per run (`.NAME.lock`) keeps two processes from writing the same run.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import fcntl
import functools
import glob
import io
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxjepa import checksums, models
from jaxjepa.cli import UNREADABLE_JSON, folder_problem, read_json
from jaxjepa.config import Config, training_differences

REQUIRED = ("config.json", "metrics.json", "checkpoint")
PARAMS_FILE = "params.npz"


class RunError(Exception):
    """A run directory that is missing, half-written, corrupt, or of another config."""


class RunLocked(RunError):
    """A run whose lock cannot be had (another process holds it, or the filesystem grants no locks): unlike the
    other RunErrors, a condition of the moment (cli.FAILED), not of the command line."""


def is_finished(run_dir: str | os.PathLike) -> bool:
    return all((Path(run_dir) / name).exists() for name in REQUIRED)


def enclosing_run(path: str | os.PathLike) -> Path | None:
    """The finished run that `path` is, or lies inside, or None: where no output of a command belongs (a run
    written there would be deleted with the run's checkpoint by a forced save, a file would replace the run's)."""
    where = Path(os.path.realpath(path))
    for folder in (where, *where.parents):
        with contextlib.suppress(OSError):  # a folder this process may not look into holds no run it could write
            if is_finished(folder):
                return folder
    return None


def runs_root_problem(given: str, root: str | os.PathLike) -> str | None:
    """Why `root`, the folder that the flag `given` ("--out runs") names, cannot hold new runs, or None: one inside a
    finished run would be deleted with that run's checkpoint by a forced save."""
    run = enclosing_run(root)
    if run is None:
        return None
    return f"{given} lies in the run {run}; runs go beside each other, choose another folder"


# ---------- writing: locks, writability, leftovers, the swap ----------

_HELD_LOCKS: dict[Path, int] = {}  # run dir -> fd of its held lock file, for this process
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)$")
_RUN_ENTRIES = re.compile(r"^(config\.json|metrics\.json|checksum\.json|checkpoint(\.orbax-checkpoint-tmp-.*)?)$")
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def lock_run(run_dir: str | os.PathLike) -> bool:
    """Hold `.NAME.lock` beside the run (fcntl.flock) until release_run or the end of this process, so a
    second process writing the same run is refused before it trains. True if this call took the lock,
    False if this process already held it. The lock file stays: deleting one races with a process that
    has just opened it, and a lock on a deleted file excludes nobody."""
    run_dir = Path(os.path.realpath(run_dir))  # one key however the caller spells the path
    if run_dir in _HELD_LOCKS:
        return False
    fd = _open_lock(run_dir)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if isinstance(err, BlockingIOError):
            raise RunLocked(
                f"{run_dir} is being written by another process; wait for it or choose another --out"
            ) from None
        raise RunLocked(f"cannot lock {run_dir}: {err.strerror}") from None
    _HELD_LOCKS[run_dir] = fd
    return True


def _open_lock(path: Path) -> int:
    _check_parent(path.parent)
    try:
        return os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise RunError(f"cannot write into {path.parent}: {err.strerror}") from None


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Wait for, and hold while inside, the same `.NAME.lock` that lock_run uses: for short
    read-modify-write steps on a file that several processes update (a seeds summary)."""
    fd = _open_lock(Path(path).absolute())
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def release_run(run_dir: str | os.PathLike) -> None:
    fd = _HELD_LOCKS.pop(Path(os.path.realpath(run_dir)), None)
    if fd is not None:
        os.close(fd)


def _check_parent(parent: Path) -> None:
    """Create `parent` if needed and prove it writable (cli.folder_problem), or RunError saying why not."""
    problem = folder_problem(parent)
    if problem:
        raise RunError(f"cannot save a run there: {problem}")


def check_writable(run_dir: str | os.PathLike, force: bool) -> None:
    """RunError unless a run can be saved at `run_dir`: its folder is writable, and `run_dir` is free
    or (with force) a finished run. Anything else there is never replaced, forced or not."""
    run_dir = Path(run_dir)
    if run_dir.is_symlink():
        raise RunError(f"{run_dir} is a symbolic link; a run is only written or replaced as a real directory")
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} is a file, not a run directory; move it away or choose another --out")
    if run_dir.exists() and not is_finished(run_dir):
        raise RunError(f"{run_dir} holds something that is not a finished run; it is never replaced, move it away")
    if run_dir.exists() and not force:
        raise RunError(f"{run_dir} already holds a finished run; pass --force to replace it")
    foreign = foreign_entries(run_dir) if run_dir.exists() else []
    if foreign:
        raise RunError(
            f"{run_dir} holds a finished run and files a save did not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); replacing it would delete them, so move them away first"
        )
    _check_parent(run_dir.absolute().parent)


def foreign_entries(run_dir: Path) -> list[str]:
    """The names in a run directory that no save writes (a user's notes or plots): a forced save keeps away."""
    return sorted(p.name for p in run_dir.iterdir() if not _RUN_ENTRIES.match(p.name))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()  # our own PID on a leftover is a recycled one: this process left nothing yet


def _written_by_save(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not foreign_entries(path)


def tidy_leftovers(run_dir: str | os.PathLike) -> list[str]:
    """Undo what a killed save of `run_dir` left beside it: an orphaned `.NAME.old-PID` (the finished run,
    moved aside by the fallback swap) goes back under the real name when that name is free; every other
    `.NAME.partial-PID` / `.NAME.old-PID` is removed. Only folders of dead processes that hold nothing but
    a run's files are touched. Returns one line per restored run. Call with the run's lock held."""
    run_dir = Path(run_dir).absolute()
    notes = []
    for path in sorted(run_dir.parent.glob(f".{glob.escape(run_dir.name)}.*-*")):
        match = _LEFTOVER.match(path.name)
        if not match or match["name"] != run_dir.name or _pid_alive(int(match["pid"])):
            continue
        if not _written_by_save(path):
            continue
        if match["kind"] == "old" and not run_dir.exists() and is_finished(path):
            os.rename(path, run_dir)
            notes.append(f"restored {run_dir} from {path.name}, left there by a save that was killed")
        else:
            shutil.rmtree(path)
    return notes


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE). False where the C library or
    the filesystem cannot; JAXJEPA_TEST_NO_EXCHANGE=1 forces False so tests reach the fallback."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None or os.environ.get("JAXJEPA_TEST_NO_EXCHANGE"):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _test_pause(stage: str) -> None:
    """Test hook: with JAXJEPA_TEST_SAVE_PAUSE=STAGE a save announces each stage it reaches on stderr
    ('JAXJEPA_TEST_SAVE begin|written|swapped') and sleeps at STAGE, so a test can kill it right there."""
    pause_at = os.environ.get("JAXJEPA_TEST_SAVE_PAUSE")
    if pause_at:
        print(f"JAXJEPA_TEST_SAVE {stage}", file=sys.stderr, flush=True)
        time.sleep(600 if stage == pause_at else 0)


def swap_into_place(partial: Path, target: Path) -> None:
    """Put the complete folder `partial` at `target` so that `target`, if it held something, holds a complete
    folder at every instant: an atomic exchange, then the old one is removed. Where the OS cannot exchange,
    the old one is renamed to `.NAME.old-PID` for the moment between two renames (tidy_leftovers restores
    it if the process dies there). `partial` is gone afterwards."""
    if not target.exists():
        os.rename(partial, target)
    elif _exchange(partial, target):
        _test_pause("swapped")
        shutil.rmtree(partial)
    else:
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.rename(target, old)
        _test_pause("swapped")
        os.rename(partial, target)
        shutil.rmtree(old)


def _jsonable(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda x: np.asarray(x).tolist(), tree)


def _write_run_files(folder: Path, config: Config, params: dict, metrics: dict) -> None:
    write_params(folder / "checkpoint", params)
    checksums.write(folder, params)
    (folder / "config.json").write_text(config.to_json())
    (folder / "metrics.json").write_text(json.dumps(_jsonable(metrics)))


def write_params(directory: Path, params: dict) -> None:
    """One .npz of every parameter, keyed by its path in the tree. Why not orbax: a synchronous NumPy write
    of these few arrays costs far less than orbax's machinery and its import, and orbax
    synchronises all processes of a jax.distributed run on every save, while here each process saves
    only the seeds it trained."""
    directory.mkdir()
    leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(params))
    # Built in memory, then written in one call: np.savez straight to a file that fails midway (a full disk)
    # leaves its zip writer open, and the writer's finaliser then prints a second traceback.
    archive = io.BytesIO()
    np.savez(archive, **{jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves})
    (directory / PARAMS_FILE).write_bytes(archive.getbuffer())


def read_params(directory: Path, abstract: Any) -> Any:
    """The parameters saved by `write_params` in the tree of `abstract`; KeyError for a missing one."""
    with np.load(directory / PARAMS_FILE, allow_pickle=False) as stored:
        return jax.tree_util.tree_map_with_path(lambda path, _: stored[jax.tree_util.keystr(path)], abstract)


def save_run(run_dir: str | os.PathLike, config: Config, params: dict, metrics: dict, *, force: bool = False) -> Path:
    """Write a run atomically: build it in a hidden sibling directory, then swap it into place, holding
    the run's lock throughout. Leftovers of killed saves are tidied first (a restored run is said on stderr).
    RunError (one line) when the run may not or cannot be written."""
    check_savable(config, params, metrics)
    run_dir = Path(run_dir).absolute()
    took_lock = lock_run(run_dir)
    try:
        for note in tidy_leftovers(run_dir):
            print(note, file=sys.stderr)
        check_writable(run_dir, force)
        partial = run_dir.parent / f".{run_dir.name}.partial-{os.getpid()}"
        try:
            partial.mkdir()
            _test_pause("begin")
            _write_run_files(partial, config, params, metrics)
            _test_pause("written")
            swap_into_place(partial, run_dir)
        except OSError as err:
            raise RunError(f"cannot save {run_dir}: {err.strerror or err}") from None
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    finally:
        if took_lock:
            release_run(run_dir)
    return run_dir


@functools.lru_cache(maxsize=16)
def abstract_params(config: Config) -> Any:
    """The shapes and dtypes of a run's parameters, as its config implies them (traced once per config: every seed
    of a chunk is saved, and every run loaded, against the same tree)."""
    return jax.eval_shape(lambda: models.init_params(jax.random.key(0), config))


def check_savable(config: Config, params: dict, metrics: dict) -> None:
    """RunError (one line) unless load_run could read back what save_run would write: a Config, the parameters
    of its networks (every array its config implies, of that shape and dtype, nothing else, all finite) and a dict
    of metrics, all finite (load_run refuses NaN in metrics.json and a non-finite parameter alike)."""
    if not isinstance(config, Config):
        raise RunError(f"a run is saved with its Config, got a {type(config).__name__} (Config.from_dict reads one)")
    if not isinstance(metrics, dict):
        raise RunError(f"a run's metrics are a dict (of figures and curves), got a {type(metrics).__name__}")
    try:
        problem = params_mismatch(params, abstract_params(config))
    except TypeError as err:
        raise RunError(f"the parameters are not a tree of arrays: {err}") from None
    if problem:
        raise RunError(f"the parameters do not match the config: {problem}")
    if not is_finite(params, metrics):
        raise RunError("the parameters or metrics hold NaN or inf, which load_run would refuse: a diverged run")


def is_finite(params: Any, metrics: dict) -> bool:
    """Whether every parameter and every number of the metrics is finite: a run that load_run reads back."""
    leaves = jax.tree_util.tree_leaves(params) + jax.tree_util.tree_leaves(_jsonable(metrics))
    return all(np.isfinite(np.asarray(leaf, dtype=float)).all() for leaf in leaves if not isinstance(leaf, str))


def params_mismatch(params: Any, abstract: Any) -> str | None:
    """How `params` differ from the arrays their config implies (`abstract`, a tree of ShapeDtypeStruct), said
    of the first that differs: one lacking, one the config implies nowhere, or one of another shape or dtype;
    None when they match."""
    wanted = {jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_leaves_with_path(abstract)}
    given = {jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_leaves_with_path(params)}
    missing, extra = sorted(wanted.keys() - given.keys()), sorted(given.keys() - wanted.keys())
    if missing or extra:
        return f"{missing[0]} is lacking" if missing else f"{extra[0]} is there, which the config implies nowhere"
    for path, leaf in given.items():
        array = np.asarray(leaf)
        if array.shape != wanted[path].shape or array.dtype != wanted[path].dtype:
            return (
                f"{path} is {array.dtype}{list(array.shape)}, where the config implies "
                f"{wanted[path].dtype}{list(wanted[path].shape)}"
            )
    return None


def _read_json(path: Path, what: str) -> Any:
    """The JSON value in `path`; RunError (one line) if it is unreadable, not UTF-8, not JSON, or holds
    NaN/Infinity, which Python parses but browsers and other readers cannot, or a number too large for a
    float (1e400), which Python reads as Infinity and would write back as such."""

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    def finite_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"{text[:40]} is too large for a float")
        return value

    try:
        return read_json(path, parse_constant=refuse_constant, parse_float=finite_float)
    except UNREADABLE_JSON as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err).splitlines()[0][:200]
        raise RunError(f"{path} is not a readable {what} ({reason})") from None


def load_config(run_dir: str | os.PathLike) -> Config:
    run_dir = Path(run_dir)
    try:
        if not run_dir.is_dir():
            what = "a file, not a run directory" if run_dir.exists() else "no run directory"
            raise RunError(f"{what} at {run_dir}")
        missing = [name for name in REQUIRED if not (run_dir / name).exists()]
    except OSError as err:  # a name too long for the filesystem, a folder we may not read
        raise RunError(f"cannot read a run at {str(run_dir)[:80]!r}: {err.strerror}") from None
    if missing:
        raise RunError(f"{run_dir} is not a finished run (missing {', '.join(missing)})")
    values = _read_json(run_dir / "config.json", "JSON config")
    try:
        return Config.from_dict(values)
    except (ValueError, TypeError) as err:
        raise RunError(f"{run_dir}/config.json is corrupt or of another version: {err}") from None


def load_metrics(run_dir: Path) -> dict:
    metrics = _read_json(run_dir / "metrics.json", "JSON metrics file")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("final", {}), dict):
        raise RunError(f"{run_dir}/metrics.json is corrupt: expected an object (its 'final' an object of figures)")
    return metrics


def load_run_files(run_dir: str | os.PathLike, expected: Config | None = None) -> tuple[Config, dict, dict]:
    """(config, params, metrics) of a finished run; RunError if it is not one, or not of `expected` (the planning
    fields aside: they are the evaluation's settings, which training never reads; the saved config is returned).

    A run saved with a checksum.json has its checkpoint files checked before they are read and its restored
    arrays after; a run saved without one still loads, checked for finiteness only."""
    if expected is not None and not isinstance(expected, Config):
        raise TypeError(f"expected is a Config (get_config(...) makes one), got a {type(expected).__name__}")
    run_dir = Path(run_dir).absolute()
    config = load_config(run_dir)
    if expected is not None:
        diff = training_differences(config, expected)
        if diff:
            raise RunError(f"{run_dir} was trained with another config (saved vs expected: {diff})")
    metrics = load_metrics(run_dir)
    record = load_checksums(run_dir)
    abstract = abstract_params(config)
    with quiet_stderr():
        params = _restore(run_dir / "checkpoint", abstract)
    problem = checksums.params_problem(params, record)
    if problem:
        raise RunError(f"{run_dir}: checkpoint is corrupt: {problem}")
    return config, params, metrics


def load_checksums(run_dir: Path) -> dict | None:
    """The run's checksum record, its files checked against it; None for a run saved without one."""
    if not (run_dir / checksums.FILE).exists():
        return None
    record = _read_json(run_dir / checksums.FILE, "JSON checksum record")
    problem = checksums.record_problem(record) or checksums.files_problem(run_dir, record)
    if problem:
        raise RunError(f"{run_dir}: {checksums.FILE} refuses the checkpoint: {problem}")
    return record


def _restore(checkpoint: Path, abstract: Any) -> dict:
    """The parameters in the shapes `abstract` asks for, from params.npz or, in runs saved by orbax,
    from its files. The stored shapes are compared first, so that a mismatch is told apart from an
    unreadable file."""
    if (checkpoint / PARAMS_FILE).exists() or not (checkpoint / "_CHECKPOINT_METADATA").exists():
        return _restore_npz(checkpoint, abstract)
    import orbax.checkpoint as ocp  # only for runs in orbax's format: its import is slow

    try:
        stored = ocp.StandardCheckpointer().metadata(checkpoint).item_metadata
        if stored is None:
            raise RunError(f"{checkpoint} is unreadable (its metadata is missing or damaged)")
        shapes_match = jax.tree_util.tree_map(lambda a: tuple(a.shape), abstract) == jax.tree_util.tree_map(
            lambda a: tuple(a.shape), dict(stored.tree)
        )
    except RunError:
        raise
    except Exception as err:  # orbax/tensorstore raise many types for unreadable files
        raise RunError(f"{checkpoint} is unreadable ({_first_line(err)})") from None
    if not shapes_match:
        raise RunError(f"{checkpoint.parent}: checkpoint does not match its config.json (parameter shapes differ)")
    try:
        return ocp.StandardCheckpointer().restore(checkpoint, abstract)
    except Exception as err:
        raise RunError(f"{checkpoint} is unreadable ({_first_line(err)})") from None


def _restore_npz(checkpoint: Path, abstract: Any) -> dict:
    try:
        params = read_params(checkpoint, abstract)
    except KeyError as err:
        raise RunError(f"{checkpoint.parent}: checkpoint does not match its config.json (no {err})") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise RunError(f"{checkpoint} is unreadable ({_first_line(err)})") from None
    problem = params_mismatch(params, abstract)
    if problem:
        raise RunError(f"{checkpoint.parent}: checkpoint does not match its config.json: {problem}")
    return params


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0][:160]}" if text else type(err).__name__


@contextlib.contextmanager
def quiet_stderr(grace_s: float = 0.5) -> Iterator[None]:
    """Keep orbax's noise off the user's terminal while it reads: after a failed read, tensorstore
    callbacks land on orbax's closed asyncio loop and report "Event loop is closed" from other threads
    as unraisable exceptions, some after the restore has returned. While reading, file descriptor 2 goes
    to a scratch file; after a failure the stragglers get `grace_s`, and a filter for that one message
    stays on sys.unraisablehook (every other unraisable exception still reaches the previous hook)."""
    sys.stderr.flush()
    saved_fd, saved_hook = os.dup(2), sys.unraisablehook
    sys.unraisablehook = ClosedLoopFilter(saved_hook)
    failed = False
    try:
        with tempfile.TemporaryFile() as scratch:
            os.dup2(scratch.fileno(), 2)
            try:
                yield
            except BaseException:
                failed = True
                time.sleep(grace_s)
                raise
    finally:
        sys.stderr.flush()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        if not failed:
            sys.unraisablehook = saved_hook


@dataclasses.dataclass(frozen=True)
class ClosedLoopFilter:
    """An unraisable-exception hook that drops "Event loop is closed" and passes on everything else."""

    previous: Callable[[Any], Any]

    def __call__(self, unraisable: Any) -> None:
        error = unraisable.exc_value
        if not (isinstance(error, RuntimeError) and "Event loop is closed" in str(error)):
            self.previous(unraisable)

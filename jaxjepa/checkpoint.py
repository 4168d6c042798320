"""Saving and loading runs, so that nothing a user trained is lost and nothing half-written is trusted.

A run directory holds `checkpoint/` (orbax: encoder, target, predictor, decoder params),
`config.json` (the source of truth: the checkpoint is restored into the shapes it implies) and
`metrics.json` (final figures and training curves) and `checksum.json` (sha256 of the checkpoint's
files and arrays: jaxjepa.checksums). Everything is written into a hidden sibling
directory first and renamed into place as the last act, so a run directory either is complete or
does not exist; a finished run is only replaced when the caller says `force=True`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from jaxjepa import checksums, models
from jaxjepa.config import Config

REQUIRED = ("config.json", "metrics.json", "checkpoint")


class RunError(Exception):
    """A run directory that is missing, half-written, corrupt, or of another config."""


def is_finished(run_dir: str | os.PathLike) -> bool:
    return all((Path(run_dir) / name).exists() for name in REQUIRED)


def check_writable(run_dir: str | os.PathLike, force: bool) -> None:
    run_dir = Path(run_dir)
    if run_dir.exists() and not force:
        what = "a finished run" if is_finished(run_dir) else "something that is not a finished run"
        raise RunError(f"{run_dir} already holds {what}; pass --force (force=True) to replace it")


def _jsonable(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda x: np.asarray(x).tolist(), tree)


def save_run(run_dir: str | os.PathLike, config: Config, params: dict, metrics: dict, *, force: bool = False) -> Path:
    """Write a run atomically: build it in a hidden sibling directory, then rename it into place."""
    run_dir = Path(run_dir).absolute()
    check_writable(run_dir, force)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = run_dir.parent / f".{run_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(partial / "checkpoint", jax.device_get(params))
        checkpointer.wait_until_finished()
        checksums.write(partial, params)
        (partial / "config.json").write_text(config.to_json())
        (partial / "metrics.json").write_text(json.dumps(_jsonable(metrics)))
        if run_dir.exists():  # only reachable with force: swap, then drop the old one
            old = run_dir.parent / f".{run_dir.name}.old-{os.getpid()}"
            os.rename(run_dir, old)
            os.rename(partial, run_dir)
            shutil.rmtree(old)
        else:
            os.rename(partial, run_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return run_dir


def _read_json(path: Path, what: str) -> Any:
    """The JSON value in `path`; RunError (one line) if it is unreadable, not UTF-8, not JSON, or holds
    NaN/Infinity, which Python parses but browsers and other readers cannot."""
    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse_constant)
    except (OSError, ValueError, RecursionError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err).splitlines()[0][:200]
        raise RunError(f"{path} is not a readable {what} ({reason})") from None


def load_config(run_dir: str | os.PathLike) -> Config:
    run_dir = Path(run_dir)
    try:
        if not run_dir.is_dir():
            raise RunError(f"no run directory at {run_dir}")
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
    """(config, params, metrics) of a finished run; RunError if it is not one, or not of `expected`.

    A run saved with a checksum.json has its checkpoint files checked before orbax reads them and its
    restored arrays after; a run saved without one (older runs) still loads, checked for finiteness only."""
    run_dir = Path(run_dir).absolute()
    config = load_config(run_dir)
    if expected is not None and config != expected:
        diff = {k: (v, getattr(expected, k)) for k, v in config.to_dict().items() if getattr(expected, k) != v}
        raise RunError(f"{run_dir} was trained with another config (saved vs expected: {diff})")
    metrics = load_metrics(run_dir)
    record = load_checksums(run_dir)
    abstract = jax.eval_shape(lambda: models.init_params(jax.random.key(0), config))
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
    """The parameters in the shapes `abstract` asks for; the stored shapes are compared first (orbax may
    hand back the stored ones instead), so that a mismatch is told apart from an unreadable file."""
    try:
        stored = ocp.StandardCheckpointer().metadata(checkpoint).item_metadata
        if stored is None:
            raise RunError(f"{checkpoint} is unreadable (its metadata is missing or damaged)")
        shapes_match = jax.tree_util.tree_map(lambda a: tuple(a.shape), abstract) == \
            jax.tree_util.tree_map(lambda a: tuple(a.shape), dict(stored.tree))
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

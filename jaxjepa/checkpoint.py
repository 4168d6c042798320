"""Saving and loading runs, so that nothing a user trained is lost and nothing half-written is trusted.

A run directory holds `checkpoint/` (encoder, target, predictor, decoder params in one NumPy
`params.npz`, one array per parameter path; directories written by orbax are still read),
`config.json` (the source of truth: the checkpoint is restored into the shapes it implies) and
`metrics.json` (final figures and training curves). Everything is written into a hidden sibling
directory first and renamed into place as the last act, so a run directory either is complete or
does not exist; a finished run is only replaced when the caller says `force=True`.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jax
import numpy as np
from jaxjepa import models
from jaxjepa.config import Config

REQUIRED = ("config.json", "metrics.json", "checkpoint")
PARAMS_FILE = "params.npz"


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
        write_params(partial / "checkpoint", params)
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


def write_params(directory: Path, params: dict) -> None:
    """One .npz of every parameter, keyed by its path in the tree. Why not orbax: a synchronous NumPy write
    of these few arrays takes milliseconds against orbax's tenth of a second plus its import, and orbax
    synchronises all processes of a jax.distributed run on every save, while here each process saves
    only the seeds it trained."""
    directory.mkdir()
    leaves = jax.tree_util.tree_leaves_with_path(jax.device_get(params))
    np.savez(directory / PARAMS_FILE, **{jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves})


def read_params(directory: Path, abstract: Any) -> Any:
    """The parameters saved by `write_params` (or by orbax, in older runs), in the tree of `abstract`."""
    if not (directory / PARAMS_FILE).exists() and (directory / "_CHECKPOINT_METADATA").exists():
        import orbax.checkpoint as ocp
        return ocp.StandardCheckpointer().restore(directory, abstract)
    with np.load(directory / PARAMS_FILE, allow_pickle=False) as stored:
        return jax.tree_util.tree_map_with_path(lambda path, _: stored[jax.tree_util.keystr(path)], abstract)


def load_config(run_dir: str | os.PathLike) -> Config:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"no run directory at {run_dir}")
    missing = [name for name in REQUIRED if not (run_dir / name).exists()]
    if missing:
        raise RunError(f"{run_dir} is not a finished run (missing {', '.join(missing)})")
    try:
        return Config.from_dict(json.loads((run_dir / "config.json").read_text()))
    except (ValueError, TypeError) as err:
        raise RunError(f"{run_dir}/config.json is corrupt or of another version: {err}") from None


def load_run_files(run_dir: str | os.PathLike, expected: Config | None = None) -> tuple[Config, dict, dict]:
    """(config, params, metrics) of a finished run; RunError if it is not one, or not of `expected`."""
    run_dir = Path(run_dir).absolute()
    config = load_config(run_dir)
    if expected is not None and config != expected:
        diff = {k: (v, getattr(expected, k)) for k, v in config.to_dict().items() if getattr(expected, k) != v}
        raise RunError(f"{run_dir} was trained with another config (saved vs expected: {diff})")
    abstract = jax.eval_shape(lambda: models.init_params(jax.random.key(0), config))
    try:
        params = read_params(run_dir / "checkpoint", abstract)
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (ValueError, KeyError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RunError(f"{run_dir}: checkpoint does not match its config.json ({first_line})") from None
    except Exception as err:  # orbax/tensorstore raise many types for unreadable files
        raise RunError(f"{run_dir}: checkpoint is unreadable ({type(err).__name__})") from None
    # Orbax may hand back the stored shapes instead of the requested ones: compare them ourselves.
    wanted = jax.tree_util.tree_map(lambda a: tuple(a.shape), abstract)
    found = jax.tree_util.tree_map(lambda a: tuple(np.shape(a)), params)
    if wanted != found:
        raise RunError(f"{run_dir}: checkpoint does not match its config.json (parameter shapes differ)")
    return config, params, metrics

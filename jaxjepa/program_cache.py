"""Lowered programs kept on disk with `jax.export`, so that a warm `train.py` skips tracing and lowering.

Why: XLA's persistent cache (runner.enable_compilation_cache) skips compilation, but only after Python
has traced `make_train` and lowered it to StableHLO, which is what the cache is keyed by: a large share
of a short run. `jax.export` serialises the lowered program; reading it back is cheap, and compiling it
then hits XLA's cache. A stored program is named by everything that
shapes it: the config, the argument shapes, the devices, the versions of jax and jaxlib, and the
source of this package, so an edited line or another config never loads a stale program. A file that
cannot be read is traced again and replaced, never trusted.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jaxlib
from jax import export

from jaxjepa.trainer import TrainResult

PACKAGE = Path(__file__).resolve().parent
SUBDIR = "exported"  # beside XLA's own entries in the compilation cache folder
# jax settings that change what a program lowers to, so they name the file too
LOWERING_FLAGS = (
    "jax_enable_x64",
    "jax_default_prng_impl",
    "jax_threefry_partitionable",
    "jax_default_matmul_precision",
)

export.register_namedtuple_serialization(TrainResult, serialized_name="jaxjepa.TrainResult")


@functools.cache
def source_digest() -> str:
    """sha256 of every Python file of the package, in path order."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def program_name(what: str, args: tuple[jax.Array, ...]) -> str:
    """The file name of a program: a digest of `what` (the caller's description of the program, e.g. its
    config as JSON), the arguments' shapes, dtypes and shardings, the backend, the lowering settings and
    the versions."""
    described = [
        what,
        jax.__version__,
        jaxlib.__version__,
        source_digest(),
        jax.default_backend(),
        *(f"{flag}={getattr(jax.config, flag)}" for flag in LOWERING_FLAGS),
        *(f"{a.shape} {a.dtype} {a.sharding}" for a in args),
    ]
    return hashlib.sha256("\n".join(described).encode()).hexdigest()[:32] + ".jaxexport"


def directory() -> Path | None:
    """Where programs are kept: inside XLA's compilation cache folder, or None when that cache is off."""
    cache = jax.config.jax_compilation_cache_dir
    return Path(cache) / SUBDIR if cache else None


def compiled(program: Callable, args: tuple[jax.Array, ...], what: str, options: dict | None = None) -> Any:
    """`program` (a jitted function) compiled for `args` with XLA `options`: from its stored lowering when
    there is one, else traced, lowered, stored and compiled. Without a compilation cache folder, nothing is
    stored. The lowering does not depend on the options, so `what` need not name them."""
    folder = directory()
    if folder is None:
        return program.lower(*args).compile(compiler_options=options)
    path = folder / program_name(what, args)
    stored = _read(path)
    if stored is None:
        stored = export.export(program)(*args)
        _write(path, stored.serialize())
    return jax.jit(stored.call).lower(*args).compile(compiler_options=options)


def _read(path: Path) -> export.Exported | None:
    try:
        return export.deserialize(bytearray(path.read_bytes()))
    except Exception:  # noqa: BLE001 (missing, truncated or from another format: trace again)
        return None


def _write(path: Path, data: bytearray) -> None:
    """Atomically (a temporary file renamed into place); a folder that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)

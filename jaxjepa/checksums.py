"""Checksums of a saved run, so that a flipped bit or a truncated file is named instead of loaded.

`checksum.json` beside `checkpoint/` holds the sha256 of every file under `checkpoint/` (`params.npz`, or
the files of a run saved by orbax; checked before they are read, so a damaged file never reaches the
decoder of its format) and of the parameter arrays themselves (path,
dtype, shape and bytes of each leaf; checked after the restore, so a decoding that differs from what
was saved is caught too). Each check returns what is wrong as one line, or None.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jax
import numpy as np

FILE = "checksum.json"
ALGORITHM = "sha256"


def params_digest(params: Any) -> str:
    digest = hashlib.sha256()
    leaves = jax.tree_util.tree_flatten_with_path(jax.device_get(params))[0]
    for path, leaf in sorted(leaves, key=lambda item: jax.tree_util.keystr(item[0])):
        array = np.ascontiguousarray(leaf)
        digest.update(f"{jax.tree_util.keystr(path)} {array.dtype} {array.shape}\n".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_files(run_dir: Path) -> dict[str, str]:
    """{path relative to the run: sha256} of every file under checkpoint/."""
    files = sorted(p for p in (run_dir / "checkpoint").rglob("*") if p.is_file())
    return {p.relative_to(run_dir).as_posix(): file_digest(p) for p in files}


def write(run_dir: Path, params: Any) -> None:
    record = {"algorithm": ALGORITHM, "params": params_digest(params), "files": checkpoint_files(Path(run_dir))}
    (Path(run_dir) / FILE).write_text(json.dumps(record, indent=2))


def record_problem(record: Any) -> str | None:
    """What makes a parsed checksum.json unusable, or None."""
    if not isinstance(record, dict) or record.get("algorithm") != ALGORITHM:
        return f"expected an object with algorithm {ALGORITHM!r}"
    files = record.get("files")
    if not isinstance(record.get("params"), str) or not isinstance(files, dict) or not files:
        return "expected a 'params' digest and a non-empty 'files' table"
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        return "its 'files' table must map paths to digests"
    return None


def files_problem(run_dir: Path, record: dict) -> str | None:
    """The first checkpoint file that is missing or differs from its recorded digest, or None."""
    for name, expected in sorted(record["files"].items()):
        path = run_dir / name
        if ".." in Path(name).parts or not path.is_file():
            return f"{name} is missing"
        if file_digest(path) != expected:
            return f"{name} fails its {ALGORITHM} checksum (damaged or truncated)"
    return None


def params_problem(params: Any, record: dict | None) -> str | None:
    """Non-finite parameters, or arrays that differ from the recorded digest, or None."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if not np.isfinite(np.asarray(leaf)).all():
            return f"parameter {jax.tree_util.keystr(path)} holds non-finite values"
    if record is not None and params_digest(params) != record["params"]:
        return f"the restored parameters fail their {ALGORITHM} checksum"
    return None

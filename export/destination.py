"""Where an export may be written, and what a re-export may replace.

Why so strict: an export replaces its --out folder as a whole (it is built beside it and renamed into
place), so a wrong --out would take everything in it along. The rule is that the exporter only ever
removes files it wrote itself, whatever the flags:
- never the current folder, one of its parents, the home folder, `/`, or a folder that holds or is
  inside the source run (refused even when empty: a typo there is never what was meant);
- an existing folder only if it is empty or a previous export whose manifest (meta.json `manifest`:
  every file the exporter wrote, with its sha256) covers everything in it. A file the user added
  (notes, images) is refused, --force or not: move it out first, nothing of the user's is deleted;
- a file of a previous export that was edited since (its sha256 differs) is the user's work too:
  replaced only with --force, which allows nothing else.
--saved-model DIR is written into, not replaced, so it must be a new or empty folder, held by the same rules
of places, and apart from --out.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from jaxjepa.checksums import file_digest
from jaxjepa.cli import UNREADABLE_JSON, probe_write, read_json


class ExportError(Exception):
    """The model cannot be exported faithfully or safely (unknown primitive, failed parity check, an --out
    that would lose the user's files, bad input). Defined here, without TensorFlow, so that a refused
    destination is reported before TensorFlow's slow import."""


FORMAT = "jaxjepa-web-model"
MANIFEST_KEY = "manifest"  # in meta.json: {relative path: sha256 hex} of every file the export wrote
# meta.json cannot list its own sha256 in the manifest: it holds the sha256 of its text without this key instead,
# so that a hand edit of it (the page's planner settings, say) is the user's work as an edited weights file is.
META_DIGEST_KEY = "meta_sha256"
# What an export without a manifest holds: meta.json, the parity reference, and per
# network a TF.js model.json with its weight shards.
LEGACY_FILE = re.compile(
    r"(meta\.json|reference_outputs\.npz|(encoder|predictor|decoder)/"
    r"(model\.json|group\d+-shard\d+of\d+\.bin))"
)


def meta_text(meta: dict) -> str:
    """meta.json's text, as the exporter writes it."""
    return json.dumps(meta, indent=2, sort_keys=True) + "\n"


def meta_digest(meta: dict) -> str:
    """The sha256 meta.json records of itself: of its text without META_DIGEST_KEY."""
    unsigned = {key: value for key, value in meta.items() if key != META_DIGEST_KEY}
    return hashlib.sha256(meta_text(unsigned).encode()).hexdigest()


def manifest_of(folder: Path) -> dict[str, str]:
    """{path relative to folder (with /): sha256} of every file under folder."""
    return {p.relative_to(folder).as_posix(): file_digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


EXAMPLE = {"--out": "web/model", "--saved-model": "build/saved-model"}  # a fine place, named in refusals


def check_destination(out_dir: Path, run_dir: Path | None, force: bool) -> None:
    """Raise ExportError (one sentence) unless writing the export to out_dir loses nothing of the user's."""
    if not check_place(out_dir, run_dir):
        return
    check_previous_export(out_dir, force)
    # The new export is built beside out_dir and renamed into place, then the old one is removed: all are written
    folders = [out_dir.parent, out_dir, *(p for p in out_dir.rglob("*") if p.is_dir())]
    for folder in folders:
        check_writable(folder, f"--out {out_dir} cannot be written (the export is built beside it, then renamed)")


def check_place(path: Path, run_dir: Path | None, flag: str = "--out") -> bool:
    """The checks every destination gets: not a protected place, not a symbolic link, not a file; a new one
    must be creatable. True if the folder exists (what it holds is the caller's to check)."""
    check_not_a_protected_place(path, run_dir, flag)
    if path.is_symlink():
        raise ExportError(f"{flag} {path} is a symbolic link; give the folder it points to, or a new folder")
    if not path.exists():
        check_creatable(path, flag)
        return False
    if not path.is_dir():
        raise ExportError(f"{flag} {path} is a file, not a folder; the exporter never replaces it")
    return True


def check_not_a_protected_place(out_dir: Path, run_dir: Path | None, flag: str = "--out") -> None:
    target = out_dir.resolve()
    protected = {"the current folder": Path.cwd().resolve(), "your home folder": Path.home().resolve()}
    for what, place in protected.items():
        if place.is_relative_to(target):
            relation = "is" if place == target else "holds"
            raise ExportError(f"{flag} {out_dir} {relation} {what}; give a folder of its own, e.g. {EXAMPLE[flag]}")
    if run_dir is not None:
        source = Path(run_dir).resolve()
        if source.is_relative_to(target) or target.is_relative_to(source):
            raise ExportError(
                f"{flag} {out_dir} holds or is inside the source run {run_dir}; give a folder outside it, "
                f"e.g. {EXAMPLE[flag]}"
            )


def check_creatable(out_dir: Path, flag: str = "--out") -> None:
    """Before the minutes of parity checks: the nearest existing folder above out_dir must be a writable folder."""
    above = out_dir.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise ExportError(f"{flag} {out_dir} cannot be created: {above} is a file, not a folder")
    check_writable(above, f"{flag} {out_dir} cannot be created")


def check_writable(folder: Path, refusal: str) -> None:
    """`refusal: folder is not writable` unless files can be made and removed in folder (a read-only filesystem
    makes any folder unwritable, root's too). A probe file proves it where the mode bits say yes to root and the
    place says no (/proc, /sys)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportError(f"{refusal}: {folder} is not writable")
    try:
        probe_write(folder)
    except OSError as err:
        raise ExportError(f"{refusal}: {folder} is not writable ({err.strerror or err})") from None


def check_previous_export(out_dir: Path, force: bool) -> None:
    """out_dir exists: it must be empty, or a previous export holding only its own, unedited files."""
    present = manifest_of(out_dir)
    empty_dirs = [p for p in out_dir.rglob("*") if p.is_dir() and not any(p.iterdir())]
    if not present and not empty_dirs:
        return
    written = previous_manifest(out_dir)
    if written is None:
        raise ExportError(
            f"--out {out_dir} is a non-empty folder that is not a jaxjepa export; the exporter "
            "never replaces it (--force or not): give a new or empty folder"
        )
    foreign = sorted(set(present) - set(written)) + [p.relative_to(out_dir).as_posix() + "/" for p in empty_dirs]
    if foreign:
        raise ExportError(
            f"--out {out_dir} is an earlier export but also holds files it did not write "
            f"({listing(foreign)}); move them out first, the exporter never deletes them"
        )
    edited = sorted(name for name, digest in present.items() if written[name] not in (digest, None))
    if edited and not force:
        raise ExportError(
            f"--out {out_dir}: {listing(edited)} changed since the export wrote it; pass --force to replace it anyway"
        )


def previous_manifest(out_dir: Path) -> dict[str, str | None] | None:
    """What a previous export in out_dir wrote ({path: sha256, or None where unknown}), or None if out_dir
    is not a previous export. Exports without a manifest are recognised by their fixed layout."""
    try:
        meta = read_json(out_dir / "meta.json")
    except UNREADABLE_JSON:
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None
    manifest = meta.get(MANIFEST_KEY)
    if isinstance(manifest, dict) and all(isinstance(v, str) for v in manifest.values()):
        return {**manifest, "meta.json": written_meta_digest(meta)}
    legacy = [p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()]
    return {name: None for name in legacy if LEGACY_FILE.fullmatch(name)}


def written_meta_digest(meta: dict) -> str | None:
    """The sha256 of the meta.json the export wrote, read back as `meta`; None where it records no digest (an
    older export). Its content unchanged, the export wrote exactly meta_text(meta), so a file of other bytes
    (reformatted) differs from it; its content changed, the recorded digest stands in, which differs too."""
    recorded = meta.get(META_DIGEST_KEY)
    if not isinstance(recorded, str):
        return None
    if meta_digest(meta) != recorded:
        return recorded
    return hashlib.sha256(meta_text(meta).encode()).hexdigest()


def listing(names: list[str], shown: int = 3) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def check_saved_model_destination(saved_dir: Path, out_dir: Path, run_dir: Path | None) -> None:
    """--saved-model DIR gets DIR/<network>/ SavedModels written among whatever DIR holds: refuse unless DIR is a
    new or empty, writable folder away from the protected places, and apart from --out (which the export replaces
    as a whole, and which would otherwise hold the SavedModels or be held by their folder)."""
    flag = "--saved-model"
    target, out = saved_dir.resolve(), out_dir.resolve()
    if target.is_relative_to(out) or out.is_relative_to(target):
        raise ExportError(f"{flag} {saved_dir} and --out {out_dir} lie one inside the other; give folders apart")
    if not check_place(saved_dir, run_dir, flag):
        return
    held = sorted(p.name for p in saved_dir.iterdir())
    if held:
        raise ExportError(
            f"{flag} {saved_dir} is not empty (it holds {listing(held)}); the exporter never writes among your "
            "files: give a new or empty folder"
        )
    check_writable(saved_dir, f"{flag} {saved_dir} cannot be written")

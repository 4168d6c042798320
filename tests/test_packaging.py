"""The wheel carries every module of the package, and a wheel alone runs eval.py.

Built with pip from this checkout (no build isolation: the test machine may be offline), unpacked,
and imported in a fresh interpreter whose path starts at the unpacked wheel and never sees the
checkout, so a module left out of the wheel fails here as it would for a user.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("jaxjepa", "export", "benchmarks")


def modules_in(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for package in PACKAGES for p in (root / package).rglob("*.py")}


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory) -> Path:
    wheels = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)],
        check=True,
        capture_output=True,
        cwd=wheels,
    )
    (wheel,) = wheels.glob("jaxjepa-*.whl")
    unpacked = tmp_path_factory.mktemp("unpacked")
    zipfile.ZipFile(wheel).extractall(unpacked)
    return unpacked


def clean_env(unpacked: Path) -> dict:
    return {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PYTHONPATH": str(unpacked)}


def test_wheel_holds_every_module_and_each_imports(unpacked_wheel, tmp_path):
    assert modules_in(REPO) - {str(m) for m in modules_in(unpacked_wheel)} == set()
    names = sorted(
        str(Path(m).with_suffix("")).replace(os.sep, ".").removesuffix(".__init__")
        for m in modules_in(unpacked_wheel)
        if m.startswith("jaxjepa") and not m.endswith("__main__.py")
    )
    script = (
        "import importlib, jaxjepa, sys; assert jaxjepa.__file__.startswith(sys.argv[1]), jaxjepa.__file__; "
        "[importlib.import_module(n) for n in sys.argv[2:]]"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(unpacked_wheel), *names],
        cwd=tmp_path,
        env=clean_env(unpacked_wheel),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_eval_py_help_runs_from_the_wheel(unpacked_wheel, tmp_path):
    shutil.copy(REPO / "eval.py", tmp_path / "eval.py")  # the script alone: its code must come from the wheel
    done = subprocess.run(
        [sys.executable, "eval.py", "--help"],
        cwd=tmp_path,
        env=clean_env(unpacked_wheel),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "--recipes" in done.stdout, done.stderr[-2000:]

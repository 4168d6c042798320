"""The wheel carries every module of the package, a wheel alone runs eval.py and trains with train.py on the
core dependencies only, and the extras installed together meet their pins and import.

The wheel is built with pip from this checkout (no build isolation: the test machine may be offline),
unpacked, and imported in a fresh interpreter whose path starts at the unpacked wheel and never sees the
checkout, so a module left out of the wheel fails here as it would for a user. That interpreter also refuses
every module that `pip install .` would not install (the extras', and whatever else this machine happens to
have), so a dependency that the code needs and pyproject.toml leaves out fails here too.
"""

import builtins
import importlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import SMALL_CLI_FLAGS

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


def clean_env(*path: Path) -> dict:
    """This process's environment with `path` as the whole PYTHONPATH: the checkout is not on it."""
    return {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "PYTHONPATH": os.pathsep.join(map(str, path))}


def project() -> dict:
    """pyproject.toml's [project] table."""
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def core_distributions() -> set[str]:
    """What `pip install .` installs: pyproject.toml's dependencies (no extras) and everything they require in
    turn, markers evaluated for this interpreter."""
    # (requirement, the extras its parent was asked with)
    wanted = [(Requirement(line), frozenset({""})) for line in project()["dependencies"]]
    seen, required = set(), set()
    while wanted:
        requirement, parent_extras = wanted.pop()
        if requirement.marker and not any(requirement.marker.evaluate({"extra": e}) for e in parent_extras):
            continue
        name, extras = canonicalize_name(requirement.name), frozenset({"", *requirement.extras})
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        required.add(name)
        wanted += [(Requirement(line), extras) for line in importlib.metadata.requires(requirement.name) or []]
    return required


def core_site_packages(folder: Path) -> Path:
    """A site-packages folder holding only the core distributions (links to this machine's installed files), as
    a fresh environment after `pip install .` would hold them."""
    site = folder / "site-packages"
    site.mkdir()
    for name in core_distributions():
        distribution = importlib.metadata.distribution(name)
        for top in {file.parts[0] for file in distribution.files or [] if file.parts[0] != ".."}:
            if not (site / top).exists():
                (site / top).symlink_to(distribution.locate_file(top))
    return site


# One interpreter for the checks of the wheel (each would import JAX). It starts without this machine's
# site-packages (`python -S`): its path holds the unpacked wheel and `core_site_packages`, so a module that the
# code needs and pyproject.toml does not install fails, and one merely used when present is skipped, as in a fresh
# environment. It imports every module of the package from the wheel, runs the copied eval.py's --help, then the
# copied train.py on a small config (its program store serialises the lowered program); the results are printed
# apart. Two seeds of SMALL_CLI_FLAGS: the program that the command-line tests train too, so the session's XLA cache
# may hold it already.
FROM_THE_WHEEL = """
import contextlib, importlib, io, json, os, runpy, sys
wheel, runs, names = sys.argv[1], sys.argv[2], sys.argv[3:]
import jaxjepa
assert jaxjepa.__file__.startswith(wheel), jaxjepa.__file__
for name in names:
    importlib.import_module(name)
print("IMPORTED")

def run(script, *args):
    sys.argv, output, status = [script, *args], io.StringIO(), None
    with contextlib.redirect_stdout(output):
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as done:
            status = done.code
    return status, output.getvalue()

status, help_text = run("eval.py", "--help")
print(f"HELP EXIT {status}:" + help_text)
status, train_output = run("train.py", "--seeds", "0-1", "--out", runs, *json.loads(os.environ["TRAIN_FLAGS"]))
from jaxjepa import program_cache
stored = program_cache.directory() is not None and any(program_cache.directory().glob("*.jaxexport"))
print(f"PROGRAM STORED {stored}")
print(f"TRAIN EXIT {status}:" + train_output)
"""


@pytest.fixture(scope="module")
def from_the_wheel(unpacked_wheel, tmp_path_factory) -> subprocess.CompletedProcess:
    """The script above, in a folder holding only eval.py and train.py, so that their code must come from the
    wheel."""
    folder = tmp_path_factory.mktemp("scripts-alone")
    for script in ("eval.py", "train.py"):
        shutil.copy(REPO / script, folder / script)
    names = sorted(
        str(Path(m).with_suffix("")).replace(os.sep, ".").removesuffix(".__init__")
        for m in modules_in(unpacked_wheel)
        if m.startswith("jaxjepa") and not m.endswith("__main__.py")
    )
    env = {**clean_env(unpacked_wheel, core_site_packages(folder)), "TRAIN_FLAGS": json.dumps(SMALL_CLI_FLAGS)}
    return subprocess.run(
        [sys.executable, "-S", "-c", FROM_THE_WHEEL, str(unpacked_wheel), str(folder / "runs"), *names],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )


def test_wheel_holds_every_module_and_each_imports(unpacked_wheel, from_the_wheel):
    assert modules_in(REPO) - {str(m) for m in modules_in(unpacked_wheel)} == set()
    assert "IMPORTED" in from_the_wheel.stdout, from_the_wheel.stderr[-2000:]


def test_eval_py_help_runs_from_the_wheel(from_the_wheel):
    assert "--recipes" in from_the_wheel.stdout.partition("HELP EXIT 0:")[2], from_the_wheel.stderr[-2000:]


def test_train_py_trains_with_the_core_dependencies_alone(from_the_wheel):
    assert from_the_wheel.returncode == 0, from_the_wheel.stderr[-2000:]
    assert "wrote " in from_the_wheel.stdout.partition("TRAIN EXIT 0:")[2], from_the_wheel.stdout[-2000:]
    assert "PROGRAM STORED True" in from_the_wheel.stdout  # the store, which needs flatbuffers, was used


def test_the_core_dependencies_leave_out_the_extras():
    """The check above leaves out what it should: the extras are not core distributions, the core's are."""
    core = core_distributions()
    assert {"jax", "flax", "optax", "orbax-checkpoint", "flatbuffers"} <= core
    assert core.isdisjoint({"matplotlib", "pillow", "tensorflow", "torch", "pytest"})


# What each extra must make importable: its packages, and pkg_resources, which tensorflowjs imports through
# tensorflow_hub and which setuptools 81 dropped (torch in the bench extra pulls a newer setuptools).
EXTRA_IMPORTS = {
    "test": ["pytest", "xdist"],
    "plots": ["matplotlib.pyplot", "PIL"],
    "bench": ["torch"],
    "export": ["pkg_resources", "tensorflow", "tensorflowjs", "playwright.sync_api"],
}


def declared_extras() -> dict[str, list[Requirement]]:
    optional = project()["optional-dependencies"]
    return {extra: [Requirement(line) for line in lines] for extra, lines in optional.items()}


def test_every_extra_is_known_here():
    assert set(declared_extras()) == set(EXTRA_IMPORTS)


def test_installed_extras_meet_their_pins_and_import_together():
    """CI installs every extra at once (README's test command): there a missing or broken one fails.
    Elsewhere an extra that is not installed skips, and one that is installed must work."""
    off_pin, absent = [], {}
    for extra, requirements in declared_extras().items():
        for requirement in requirements:
            try:
                version = importlib.metadata.version(requirement.name)
            except importlib.metadata.PackageNotFoundError:
                absent.setdefault(extra, []).append(str(requirement))
                continue
            if not requirement.specifier.contains(version, prereleases=True):
                off_pin.append(f"{requirement.name} {version} does not meet {requirement} ({extra})")
    assert off_pin == []
    if "export" not in absent:
        from export.__main__ import missing_dependency

        assert missing_dependency() is None  # the export's own check: it names the real cause
    for extra, modules in EXTRA_IMPORTS.items():
        if extra not in absent:
            for module in modules:
                importlib.import_module(module)
    missing = "; ".join(f"{extra}: {', '.join(names)}" for extra, names in absent.items())
    if missing and os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI installs every extra, yet these are missing: {missing}")
    if missing:
        pytest.skip(f"extras not installed here: {missing}")


def test_missing_pkg_resources_names_the_real_cause(tmp_path, capsys, monkeypatch):
    """The export extra IS installed when tensorflow_hub cannot import pkg_resources: the advice is to pin
    setuptools, not to reinstall the extra."""
    pytest.importorskip("tensorflow", reason="tensorflow is not installed (pip install -e '.[export]')")
    from export import __main__ as export_cli
    from tests.test_nothing_silent import saved_run

    run_dir = saved_run(tmp_path / "runs")
    real_import = builtins.__import__

    def import_without_pkg_resources(name, *args, **kwargs):
        if name == "tensorflowjs":  # what tensorflow_hub does under setuptools>=81
            raise ModuleNotFoundError("No module named 'pkg_resources'", name="pkg_resources")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", import_without_pkg_resources)
    with pytest.raises(SystemExit) as exit_info:
        export_cli.main([str(run_dir), "--out", str(tmp_path / "model")])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.strip().splitlines()) == 1, err
    assert "setuptools>=81" in err and "pip install 'setuptools<81'" in err and "not installed" not in err
    assert not (tmp_path / "model").exists()

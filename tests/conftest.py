"""Shared fixtures: a tiny config that trains in about a second, and one trained run of it.

One XLA compilation cache folder serves the whole test session: this process, the train.py and eval.py
subprocesses it starts (through JAXJEPA_CACHE), and every pytest-xdist worker. A program that several tests
compile (the tiny config's training, a CLI test's run) is then compiled once. The folder is new for each
session, so no test sees programs from an earlier session or from the user's own cache.
"""

import gc
import importlib
import importlib.util
import os
import shutil
import tempfile

# The tests compile many small programs and run each briefly, so compilation costs more time than it saves:
# LLVM's optimisation passes are skipped, and so are XLA's CPU fusion emitters, which double the tiny config's
# compile time and leave its run time as it is. Set before JAX starts its backend; the train.py and
# eval.py subprocesses inherit it. A user's runs keep XLA's defaults.
os.environ["XLA_FLAGS"] = (
    f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
).strip()

import jax  # noqa: E402
import jax.numpy as jnp
import numpy as np
import pytest

from jaxjepa import get_config, make_train, models, runner, seed_keys, two_rooms

# Without the fusion emitters a batched (vmapped, sharded) program may round differently from a lone one. A
# test that two such programs agree bit for bit checks what a user's runs do: it compiles with the emitters
# on, in process (`jax.jit(..., compiler_options=USERS_FUSION)`) or in a subprocess (`users_fusion_env`).
USERS_FUSION = {"xla_cpu_use_fusion_emitters": True}


def users_fusion_env() -> dict[str, str]:
    """This process's environment, for a subprocess that compiles with USERS_FUSION (the last of two settings
    of one XLA flag wins)."""
    flags = " ".join(f"--{name}={str(value).lower()}" for name, value in USERS_FUSION.items())
    return {**os.environ, "XLA_FLAGS": f"{os.environ['XLA_FLAGS']} {flags}"}


SESSION_CACHE_OWNER = "JAXJEPA_TEST_CACHE_OWNER"  # set in the process that made the folder


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # xdist is installed: hand out groups in LONGEST_GROUPS' order
        config.option.loadscopereorder = False
    if os.environ.get("PYTEST_XDIST_WORKER") is None:  # the main process; xdist workers inherit its folder
        os.environ["JAXJEPA_CACHE"] = tempfile.mkdtemp(prefix="jaxjepa-test-xla-")
        os.environ[SESSION_CACHE_OWNER] = str(os.getpid())
    runner.enable_compilation_cache(os.environ["JAXJEPA_CACHE"])


# Under pytest-xdist's `--dist loadgroup` (README's test command) each group runs on one worker. A module is a
# group, so its module-scoped fixtures (a trained run, a subprocess cluster) are built once. The modules that
# read the session's TensorFlow export, or import TensorFlow or torch themselves, share one group: the export is
# made once, and each of those libraries, slow to import, is imported by one worker only.
EXPORT_GROUP_MODULES = ("test_export", "test_export_safety", "test_web", "test_packaging", "test_benchmarks")
# The groups that take longest, longest first, are handed out first: a long group started last would leave the other
# worker idle at the end. (xdist's own order, by number of tests, starts many quick tests first; it is turned off in
# pytest_configure.) Groups not named follow in collection order.
LONGEST_GROUPS = (
    "export",
    "test_evaluation",
    "test_distributed",
    "test_nothing_lost",
    "test_two_rooms_planning",
    "test_anomalies",
    "test_training",
    "test_long_horizon",
    "test_sharding",
    "test_inverse_dynamics",
    "test_two_rooms",
    "test_planning",
    "test_models_losses_ema",
)


def group_of(item) -> str:
    module = item.module.__name__.rpartition(".")[2]
    return "export" if module in EXPORT_GROUP_MODULES else module


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups to name the work units
def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group_of(item)))
    rank = {group: i for i, group in enumerate(LONGEST_GROUPS)}
    items.sort(key=lambda item: rank.get(group_of(item), len(rank)))  # stable: each module keeps its order


def pytest_sessionfinish(session):
    # After the last test, pytest's check for unraisable exceptions runs gc.collect five times, and the
    # interpreter collects once more as it exits; with JAX's and TensorFlow's objects in the heap each pass
    # takes a while, in every worker. One pass here finds the garbage (and any exception it raises); the
    # objects that are left are frozen, which the later passes skip.
    gc.collect()
    gc.freeze()


def pytest_unconfigure(config):
    if os.environ.get(SESSION_CACHE_OWNER) == str(os.getpid()):
        shutil.rmtree(os.environ["JAXJEPA_CACHE"], ignore_errors=True)


# Small enough for CI: few sequences, few steps; still the reference's world and model.
TINY = dict(
    steps=150,
    train_sequences=24,
    seq_len=24,
    batch_size=64,
    decoder_steps=30,
    decoder_batch_size=64,
    probe_sequences=12,
    probe_seq_len=24,
)


def tiny_config(**overrides):
    return get_config("default", **{**TINY, **overrides})


def tiny_steer_config(**overrides):
    """The tiny config in the steer world (actions push the logo), 2-step rollouts. The steer, export and
    planning tests train this same program, so the session's compilation cache compiles it once; fields that
    training never reads (the planner's) may differ without a new program."""
    return tiny_config(world="steer", action_dim=2, rollout_steps=2, decoder_steps=10, **overrides)


def cli_flags(**values) -> list[str]:
    """train.py/eval.py flags for the tiny config with `values` changed: every field of TINY is given."""
    values = {**TINY, **values}
    return [item for name, value in values.items() for item in (f"--{name.replace('_', '-')}", str(value))]


# Smaller still, for the train.py and eval.py command lines, where files and refusals are checked, not numbers.
# test_checkpoint_cli, test_evaluation's end-to-end test and test_program_cache train the same two-seed program
# with them: whichever runs first compiles it, and the others find it in the session's cache.
SMALL = dict(
    steps=40, train_sequences=8, seq_len=12, batch_size=32, decoder_steps=5, probe_sequences=8, probe_seq_len=12
)
SMALL_CLI_FLAGS = cli_flags(**SMALL)


def random_params(config) -> dict:
    """Parameters of the right shapes drawn by NumPy (no compilation): loading never looks at how well
    a run was trained."""
    rng = np.random.default_rng(0)
    shapes = jax.eval_shape(lambda: models.init_params(jax.random.key(0), config))
    return jax.tree_util.tree_map(lambda leaf: rng.normal(0, 0.1, leaf.shape).astype(leaf.dtype), shapes)


@pytest.fixture(scope="session")
def tiny():
    return tiny_config()


@pytest.fixture(scope="session")
def tiny_train(tiny):
    """The tiny config's training, jitted once: a test that trains it again (another seed, the same seed twice)
    reuses the program instead of tracing and lowering it anew."""
    return jax.jit(make_train(tiny))


@pytest.fixture(scope="session")
def tiny_result(tiny_train):
    return tiny_train(seed_keys(0)[0])


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory, tiny, tiny_result):
    """The tiny run saved as train.py saves it; tests that change a run work on a copy."""
    from jaxjepa import save_run

    root = tmp_path_factory.mktemp("tiny-run")
    return save_run(root / "seed0", tiny, tiny_result.params, {"final": {"probe_rmse_px": 1.5}})


class Deferred:
    """A module imported at the first use of one of its attributes, not when the test module naming it is
    collected. Every pytest-xdist worker collects every test module, and TensorFlow is slow to import: the
    worker that runs no export test never loads it."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):  # pytest's collector probes every global (__test__, __bases__): no import
            raise AttributeError(attribute)
        return getattr(importlib.import_module(self._name), attribute)


TENSORFLOW_MISSING = any(importlib.util.find_spec(name) is None for name in ("tensorflow", "tensorflowjs"))
NEEDS_TENSORFLOW = pytest.mark.skipif(
    TENSORFLOW_MISSING, reason="tensorflow or tensorflowjs is not installed (pip install -e '.[export]')"
)


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory, tiny_run_dir):
    """(run folder, export folder, meta) of the tiny run exported by the real exporter, or None without
    TensorFlow. One export serves the exporter's, the export-safety and the browser tests; they copy it
    before changing it."""
    if TENSORFLOW_MISSING:
        return None
    from export.build import export_run
    from jaxjepa import load_run

    out = tmp_path_factory.mktemp("tiny-export") / "model"
    return tiny_run_dir, out, export_run(load_run(tiny_run_dir), out, log=lambda *_: None)


def wall_blind(factory):
    """A Two Rooms model factory whose layout has the wall moved out of the box: it walks the dot through walls
    that stop it (the known answer of the search's memory of surprising moves)."""
    return lambda task: factory(task._replace(layout=two_rooms.Layout(jnp.float32(-100.0), task.layout.door_y)))

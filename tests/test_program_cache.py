"""A program read back from the on-disk lowering (jaxjepa.program_cache) trains the same numbers, bit for
bit, as the program traced afresh; a damaged file is traced again and replaced; anything that shapes the
program names another file."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxjepa import program_cache, runner
from tests.conftest import SMALL, tiny_config

CONFIG = tiny_config(**SMALL)  # a program other tests train too (conftest.SMALL): XLA compiles it once a session


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A folder of stored programs of this module's own, beside the session's XLA cache."""
    root = tmp_path_factory.mktemp("stored") / program_cache.SUBDIR
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(program_cache, "directory", lambda: root)
        yield root


def outputs():
    out = runner.train_seeds(CONFIG, [0, 1])
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves((out.result, out.probe))]


def test_a_stored_program_trains_the_traced_numbers_bit_for_bit(cache_dir):
    traced = outputs()  # traced, stored
    (stored,) = cache_dir.iterdir()
    loaded = outputs()  # read back from the file
    assert list(cache_dir.iterdir()) == [stored]
    for a, b in zip(traced, loaded, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_damaged_file_is_traced_again_and_replaced(cache_dir):
    if not cache_dir.exists():
        outputs()
    (stored,) = cache_dir.iterdir()
    stored.write_bytes(stored.read_bytes()[:100])
    outputs()
    assert [p.name for p in cache_dir.iterdir()] == [stored.name] and stored.stat().st_size > 100


def test_config_and_shapes_name_the_file():
    keys = (jnp.zeros((2, 2), jnp.uint32),)
    name = program_cache.program_name(CONFIG.to_json(), keys)
    assert name == program_cache.program_name(CONFIG.to_json(), keys)
    assert name != program_cache.program_name(CONFIG.replace(lr=2e-3).to_json(), keys)
    assert name != program_cache.program_name(CONFIG.to_json(), (jnp.zeros((3, 2), jnp.uint32),))


def test_a_quick_compile_is_the_fast_recipes_and_its_options_reach_xla(tmp_path, monkeypatch):
    from jaxjepa import get_config

    assert runner.compiler_options(CONFIG) is None  # XLA's defaults
    assert runner.compiler_options(get_config("fast")) == runner.QUICK_COMPILE  # the tests run on a CPU
    seen = []
    compile_for_real = program_cache.compiled
    monkeypatch.setattr(program_cache, "directory", lambda: tmp_path)
    monkeypatch.setattr(program_cache, "compiled", lambda *args: seen.append(args[3]) or compile_for_real(*args))
    x = jnp.arange(4.0)
    add = runner.compile_program(jax.jit(lambda a, b: a + b), (x, x), get_config("fast"), runner.seeds_mesh(None))
    np.testing.assert_array_equal(add(x, x), 2 * x)
    assert seen == [runner.QUICK_COMPILE] and len(list(tmp_path.iterdir())) == 1  # stored, compiled with them

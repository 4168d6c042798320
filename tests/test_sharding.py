"""Seeds sharded over several devices give the same numbers as the one-device run.

Why a subprocess: the number of host devices is fixed when JAX starts, so four fake CPU devices
(`--xla_force_host_platform_device_count=4`) need a fresh interpreter. It trains the tiny config's
seeds once over all four devices and once on one device, and saves both for the comparison here.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import chex
import numpy as np
import pytest

from jaxjepa import runner

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import sys
    import jax, numpy as np
    from jaxjepa import runner
    from tests.conftest import tiny_config

    config = tiny_config(steps=20, decoder_steps=5)
    seeds = [0, 1, 2, 3, 4, 5, 6]                 # two per device, the last device padded with a repeat of seed 6
    sharded = runner.train_seeds(config, seeds)
    single = runner.train_seeds(config, seeds, devices=jax.devices()[:1])
    layout = runner.seeds_mesh().size, len(sharded.result.metrics["loss"].sharding.device_set)
    def flat(out):
        leaves = jax.tree_util.tree_leaves_with_path((out.result, out.probe))
        return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}
    np.savez(sys.argv[1] + "/sharded.npz", **flat(sharded))
    np.savez(sys.argv[1] + "/single.npz", **flat(single))
    np.save(sys.argv[1] + "/layout.npy", np.array([jax.device_count(), *layout]))
""")


@pytest.fixture(scope="module")
def four_device_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("sharding")
    env = {
        **os.environ,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4".strip(),
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return (dict(np.load(out / "sharded.npz")), dict(np.load(out / "single.npz")), np.load(out / "layout.npy"))


def test_seeds_are_spread_over_four_devices(four_device_run):
    _, _, (device_count, mesh_size, devices_holding_results) = four_device_run
    assert device_count == 4 and mesh_size == 4
    assert devices_holding_results == 4


def test_sharded_run_equals_the_one_device_run(four_device_run):
    sharded, single, _ = four_device_run
    assert sharded.keys() == single.keys()
    for name in sharded:
        assert sharded[name].shape[0] == 7, name  # the padding is dropped
        chex.assert_trees_all_close(sharded[name], single[name], rtol=1e-5, atol=1e-6)
    probe_rmse = [v for k, v in sharded.items() if k.endswith("['probe_rmse']")]
    assert len(probe_rmse) == 1 and np.all(np.isfinite(probe_rmse[0]))


def test_padding_repeats_the_last_seed_up_to_a_multiple():
    assert runner.padded_seeds([0, 1, 2, 3, 4], 4) == [0, 1, 2, 3, 4, 4, 4, 4]
    assert runner.padded_seeds([7, 9], 2) == [7, 9]
    assert runner.padded_seeds([3], 1) == [3]
    with pytest.raises(ValueError, match="no seeds"):
        runner.padded_seeds([], 4)

"""Shared fixtures: a tiny config that trains in about a second, and one trained run of it."""

import jax
import pytest

from jaxjepa import get_config, make_train, seed_keys

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


def cli_flags(**values) -> list[str]:
    """train.py/eval.py flags for the tiny config with `values` changed: every field of TINY is given."""
    values = {**TINY, **values}
    return [item for name, value in values.items() for item in (f"--{name.replace('_', '-')}", str(value))]


@pytest.fixture(scope="session")
def tiny():
    return tiny_config()


@pytest.fixture(scope="session")
def tiny_result(tiny):
    return jax.jit(make_train(tiny))(seed_keys(0)[0])

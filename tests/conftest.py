"""Shared fixtures: a tiny config that trains in about a second, and one trained run of it."""

import jax
import pytest

from jaxjepa import get_config, make_train, seed_keys


def tiny_config(**overrides):
    """Small enough for CI: few sequences, few steps; still the reference's world and model."""
    base = dict(
        steps=150,
        train_sequences=24,
        seq_len=24,
        batch_size=64,
        decoder_steps=30,
        decoder_batch_size=64,
        probe_sequences=12,
        probe_seq_len=24,
    )
    return get_config("default", **{**base, **overrides})


@pytest.fixture(scope="session")
def tiny():
    return tiny_config()


@pytest.fixture(scope="session")
def tiny_result(tiny):
    return jax.jit(make_train(tiny))(seed_keys(0)[0])

"""The machine's float32 matrix-product peak, measured under XLA in the benchmark's own run.

Why measure it: "fraction of peak" only means something against what this machine, these cores and
this XLA build deliver right now. A large square product (2048^3) is the best case; the first layer's
shape (batch 256 x 512 -> 256) shows what a matmul of the model's own size can reach.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp


def matmul_gflops(m: int, k: int, n: int, repeats: int = 5, min_seconds: float = 0.5) -> float:
    """Best-of-`repeats` GFLOP/s of an [m, k] @ [k, n] float32 product (2 m k n FLOPs), each repeat
    timing enough back-to-back products to last about `min_seconds`."""
    a = jax.random.normal(jax.random.key(0), (m, k), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (k, n), jnp.float32)
    product = jax.jit(jnp.matmul)
    product(a, b).block_until_ready()
    start = time.perf_counter()
    product(a, b).block_until_ready()
    calls = max(1, int(min_seconds / max(time.perf_counter() - start, 1e-6)))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            out = product(a, b)
        out.block_until_ready()
        best = min(best, (time.perf_counter() - start) / calls)
    return 2.0 * m * k * n / best / 1e9


def measure(size: int = 2048, repeats: int = 5) -> dict[str, float]:
    return {
        "matmul_size": size,
        "peak_gflops": matmul_gflops(size, size, size, repeats),
        "first_layer_gflops": matmul_gflops(256, 512, 256, repeats),
    }

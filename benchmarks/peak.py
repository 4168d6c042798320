"""The machine's matrix-product peak, measured under XLA in the benchmark's own run.

Why measure it: "fraction of peak" only means something against what this machine, these cores and
this XLA build deliver right now. A large square product (2048^3) is the best case; the first layer's
shape (batch 256 x 512 -> 256) shows what a matmul of the model's own size can reach. The same products
in bfloat16 (accumulated in float32, as a mixed-precision layer would run them) say whether XLA:CPU
turns this CPU's bf16 instructions, if it has any, into a faster train step: a bf16 path is only worth
writing where they beat float32.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp


def matmul_gflops(
    m: int, k: int, n: int, repeats: int = 5, min_seconds: float = 0.5, dtype: jnp.dtype = jnp.float32
) -> float:
    """Best-of-`repeats` GFLOP/s of an [m, k] @ [k, n] product of `dtype` inputs accumulated in float32
    (2 m k n FLOPs), each repeat timing enough back-to-back products to last about `min_seconds`."""
    a = jax.random.normal(jax.random.key(0), (m, k), dtype)
    b = jax.random.normal(jax.random.key(1), (k, n), dtype)
    product = jax.jit(lambda a, b: jnp.matmul(a, b, preferred_element_type=jnp.float32))
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
        "peak_bf16_gflops": matmul_gflops(size, size, size, repeats, dtype=jnp.bfloat16),
        "first_layer_bf16_gflops": matmul_gflops(256, 512, 256, repeats, dtype=jnp.bfloat16),
        "cpu_bf16_flags": bf16_flags(),
    }


def bf16_flags() -> list[str]:
    """The CPU's bfloat16 instruction sets (Linux /proc/cpuinfo): avx512_bf16, amx_bf16; empty if none."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return []
    return sorted(f for f in flags if "bf16" in f)

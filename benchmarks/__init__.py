"""Benchmarks of jaxjepa: `python -m benchmarks` measures everything in one run on one machine.

Why one run: on a shared machine timings drift from minute to minute, so every figure that is
compared with another (jaxjepa against PyTorch, a train step against the matmul peak, 8 seeds against
1) is measured side by side in the same process or back to back, and `results/bench.json` keeps the
machine's description beside them. Speed claims come from here, never from timed tests.
"""

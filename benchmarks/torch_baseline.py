"""The reference recipe written in PyTorch, so jaxjepa can be timed against it in the same run.

Why our own baseline and not the reference's code: the comparison must be same recipe, same machine,
same moment. This is the JEPA phase of the default Config in plain PyTorch (CPU): the same world and
frames (handed over from jaxjepa, so both train on identical data), the same shapes, PyTorch's
default `nn.Linear` init (uniform in +-1/sqrt(fan_in), which jaxjepa copies), Adam at the same
learning rate, batches drawn uniformly with replacement, the variance hinge (unbiased variance) and
an EMA target updated after every step. It is written the way a careful PyTorch user would write it
(fused multi-tensor Adam, `torch._foreach_lerp_` for the EMA); the training loop is a Python loop of
`config.steps` iterations, as PyTorch requires. Needs the `bench` extra: `pip install -e '.[bench]'`.
"""
from __future__ import annotations

import copy
import time

import numpy as np


def available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def mlp(widths: tuple[int, ...]):
    import torch.nn as nn
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(widths) - 2:
            layers.append(nn.GELU(approximate="tanh"))
    return nn.Sequential(*layers)


def fastest_thread_count(frames: np.ndarray, config, probe_steps: int = 30) -> int:
    """PyTorch's intra-op thread count that runs this recipe fastest here: its default (one per core)
    or one thread. On a loaded 2-core machine OpenMP's spinning threads can make the default many
    times slower than one thread; the baseline gets whichever is faster, measured now."""
    import torch
    default = torch.get_num_threads()
    timings = {}
    for threads in sorted({1, default}):
        torch.set_num_threads(threads)
        timings[threads] = min(train_jepa(frames, config.replace(steps=probe_steps))["seconds"] for _ in range(2))
    best = min(timings, key=timings.get)
    torch.set_num_threads(best)
    return best


def train_jepa(frames: np.ndarray, config, seed: int = 0) -> dict:
    """Run the JEPA phase on `frames` [N, T, H*W]; return wall seconds of the training loop and the
    final losses. Data preparation and model construction are outside the timed loop (as in jaxjepa's
    run time, which excludes compilation)."""
    import torch

    torch.manual_seed(seed)
    frames_t = torch.from_numpy(np.array(frames, dtype=np.float32))   # a writable copy
    n_seq, seq_len, _ = frames_t.shape
    pairs = seq_len - 2
    encoder = mlp((config.obs_dim, *config.encoder_hidden, config.latent_dim))
    predictor = mlp((config.latent_dim, *config.predictor_hidden, config.latent_dim))
    target = copy.deepcopy(encoder).requires_grad_(False)
    online_params = [*encoder.parameters(), *predictor.parameters()]
    optimiser = torch.optim.Adam(online_params, lr=config.lr, foreach=True)
    encoder_params, target_params = list(encoder.parameters()), list(target.parameters())
    generator = torch.Generator().manual_seed(seed)

    start = time.perf_counter()
    for _ in range(config.steps):
        idx = torch.randint(0, n_seq * pairs, (config.batch_size,), generator=generator)
        seq, t = idx // pairs, idx % pairs
        f0, f1, f2 = frames_t[seq, t], frames_t[seq, t + 1], frames_t[seq, t + 2]
        obs, next_obs = torch.cat([f0, f1], dim=-1), torch.cat([f1, f2], dim=-1)
        z = encoder(obs)
        with torch.no_grad():
            z_target = target(next_obs)
        pred_loss = torch.mean((predictor(z) - z_target) ** 2)
        std = torch.sqrt(z.var(dim=0) + config.var_eps)
        var_loss = torch.mean(torch.relu(config.var_target - std))
        loss = pred_loss + config.var_weight * var_loss
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            torch._foreach_lerp_(target_params, encoder_params, 1.0 - config.ema_decay)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "final_loss": float(loss.detach()), "final_pred_loss": float(pred_loss.detach()),
            "threads": torch.get_num_threads(), "torch_version": torch.__version__}

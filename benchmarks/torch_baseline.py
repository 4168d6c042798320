"""The reference recipe written in PyTorch, so jaxjepa can be timed against it in the same run.

Why our own baseline and not the reference's code: the comparison must be same recipe, same machine,
same moment. This is the default Config in plain PyTorch (CPU): the same world and frames (handed over
from jaxjepa, so both train on identical data), the same shapes, PyTorch's default `nn.Linear` init
(uniform in +-1/sqrt(fan_in), which jaxjepa copies), Adam at the same learning rate, batches drawn
uniformly with replacement, the variance hinge (unbiased variance) and an EMA target updated after
every step. It is written the way a careful PyTorch user would write it (fused multi-tensor Adam,
`torch._foreach_lerp_` for the EMA); the training loop is a Python loop, as PyTorch requires.

Variants a user would try: `eager`, `compile` (`torch.compile` of the three MLPs), `bf16` (bfloat16
autocast of the forward passes) and `compile+bf16`.

Run as a process, `python -m benchmarks.torch_baseline --world world.npz --config CONFIG_JSON`, it is the
whole reference process, like the reference's `python -m dvd_jepa.train`: import torch, JEPA phase, decoder
phase (frozen target latents of o_t -> frame f_t+1, Adam 1e-3, batch 256), and the published probe protocol
(first 80% of the pairs, time-major, fit a linear layer by Adam lr 1e-2, 800 steps, batch 512; the
last 20% test it); it prints one JSON line of phase timings. Needs the `bench` extra.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
import types

STARTED = time.perf_counter()

import numpy as np  # noqa: E402  (after STARTED: the process's imports are part of what it costs)

VARIANTS = ("eager", "compile", "bf16", "compile+bf16")
PROBE_STEPS, PROBE_LR, PROBE_BATCH, PROBE_FIT_SHARE = 800, 1e-2, 512, 0.8


def available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def mlp(widths: tuple[int, ...], sigmoid: bool = False):
    import torch.nn as nn

    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(widths) - 2:
            layers.append(nn.GELU(approximate="tanh"))
    return nn.Sequential(*layers, *([nn.Sigmoid()] if sigmoid else []))


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


def jepa_modules(config, variant: str):
    """(encoder, predictor, target) as the variant runs them; `compile` wraps each in torch.compile."""
    import torch

    encoder = mlp((config.obs_dim, *config.encoder_hidden, config.latent_dim))
    predictor = mlp((config.latent_dim, *config.predictor_hidden, config.latent_dim))
    target = copy.deepcopy(encoder).requires_grad_(False)
    if "compile" in variant:
        return tuple(torch.compile(m) for m in (encoder, predictor, target))
    return encoder, predictor, target


def jepa_loss(encoder, predictor, target, obs, next_obs, config):
    import torch

    z = encoder(obs)
    with torch.no_grad():
        z_target = target(next_obs)
    pred_loss = torch.mean((predictor(z).float() - z_target.float()) ** 2)
    std = torch.sqrt(z.float().var(dim=0) + config.var_eps)
    return pred_loss + config.var_weight * torch.mean(torch.relu(config.var_target - std)), pred_loss


def train_jepa(frames: np.ndarray, config, seed: int = 0, variant: str = "eager", warmup: int = 0) -> dict:
    """Run the JEPA phase on `frames` [N, T, H*W]; `seconds` times the loop after its first `warmup`
    steps (data preparation, model construction and, with warm-up, compilation left out)."""
    import torch

    torch.manual_seed(seed)
    frames_t = torch.from_numpy(np.array(frames, dtype=np.float32))  # a writable copy
    n_seq, seq_len, _ = frames_t.shape
    pairs = seq_len - 2
    encoder, predictor, target = jepa_modules(config, variant)
    optimiser = torch.optim.Adam([*encoder.parameters(), *predictor.parameters()], lr=config.lr, foreach=True)
    encoder_params, target_params = list(encoder.parameters()), list(target.parameters())
    generator = torch.Generator().manual_seed(seed)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled="bf16" in variant)
    start = time.perf_counter()
    for step in range(config.steps):
        if step == warmup:
            start = time.perf_counter()
        idx = torch.randint(0, n_seq * pairs, (config.batch_size,), generator=generator)
        seq, t = idx // pairs, idx % pairs
        f0, f1, f2 = frames_t[seq, t], frames_t[seq, t + 1], frames_t[seq, t + 2]
        with autocast:
            loss, pred_loss = jepa_loss(
                encoder, predictor, target, torch.cat([f0, f1], -1), torch.cat([f1, f2], -1), config
            )
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            torch._foreach_lerp_(target_params, encoder_params, 1.0 - config.ema_decay)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "timed_steps": config.steps - warmup,
        "final_loss": float(loss.detach()),
        "final_pred_loss": float(pred_loss.detach()),
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "variant": variant,
        "target": target,
    }


def fit_adam(model, inputs, targets, steps: int, lr: float, batch: int, seed: int, squash=None) -> float:
    """Train `model` to map inputs to targets by MSE with Adam on random batches; the last batch loss."""
    import torch

    optimiser = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, inputs.shape[0], (batch,), generator=generator)
        loss = torch.mean((model(inputs[idx]) - targets[idx]) ** 2)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return float(loss.detach())


def target_latents(target, frames_t):
    """Frozen target latents of every o_t = (f_t, f_t+1), with f_t+1 and its sequence layout [N, T-1]."""
    import torch

    with torch.no_grad():
        obs = torch.cat([frames_t[:, :-1], frames_t[:, 1:]], dim=-1)
        return target(obs.reshape(-1, obs.shape[-1])).float(), frames_t[:, 1:].reshape(-1, frames_t.shape[-1])


def train_decoder(target, frames: np.ndarray, config, seed: int = 0) -> float:
    import torch

    torch.manual_seed(seed)
    latents, newest = target_latents(target, torch.from_numpy(np.asarray(frames, np.float32)))
    decoder = mlp((config.latent_dim, *config.decoder_hidden, config.obs_dim // 2), sigmoid=True)
    return fit_adam(decoder, latents, newest, config.decoder_steps, config.decoder_lr, config.decoder_batch_size, seed)


def published_probe(target, frames: np.ndarray, positions: np.ndarray, seed: int = 0) -> float:
    """The reference's probe: Adam-fitted linear map on the first 80% of pairs (time-major), RMSE px on the rest."""
    import torch

    latents, _ = target_latents(target, torch.from_numpy(np.asarray(frames, np.float32)))
    n_seq, pairs = positions.shape[0], positions.shape[1] - 1
    order = torch.arange(n_seq * pairs).reshape(n_seq, pairs).T.reshape(-1)  # time-major
    z, where = latents[order], torch.from_numpy(np.asarray(positions[:, 1:], np.float32)).reshape(-1, 2)[order]
    cut = int(PROBE_FIT_SHARE * len(order))
    probe = torch.nn.Linear(z.shape[1], 2)
    fit_adam(probe, z[:cut], where[:cut], PROBE_STEPS, PROBE_LR, PROBE_BATCH, seed)
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((probe(z[cut:]) - where[cut:]) ** 2)))


def whole_run(world_file: str, config, variant: str, threads: int | None) -> dict:
    """Everything the reference's training process does, each phase timed; `process_s` counts from start-up."""
    import torch

    imported = time.perf_counter()
    if threads:
        torch.set_num_threads(threads)
    with np.load(world_file) as world:
        frames, positions = world["frames"], world["positions"]
    jepa = train_jepa(frames, config, variant=variant)
    began = time.perf_counter()
    decoder_loss = train_decoder(jepa["target"], frames, config)
    decoded = time.perf_counter()
    probe_px = published_probe(jepa["target"], frames, positions)
    probed = time.perf_counter()
    return {
        "import_s": imported - STARTED,
        "jepa_s": jepa["seconds"],
        "decoder_s": decoded - began,
        "probe_s": probed - decoded,
        "probe_rmse_px": probe_px,
        "decoder_loss": decoder_loss,
        "final_loss": jepa["final_loss"],
        "threads": torch.get_num_threads(),
        "variant": variant,
        "torch_version": torch.__version__,
        "process_s": time.perf_counter() - STARTED,
    }


# what the PyTorch recipe reads of a Config, besides frame_size
RECIPE_FIELDS = ("batch_size", "decoder_batch_size", "decoder_hidden", "decoder_lr", "decoder_steps", "ema_decay",
                 "encoder_hidden", "latent_dim", "lr", "predictor_hidden", "steps", "var_eps", "var_target",
                 "var_weight")  # fmt: skip


def recipe_from(config_json: str) -> types.SimpleNamespace:
    """The recipe from `Config.to_dict()` as JSON; read without importing jaxjepa, whose imports would be
    charged to PyTorch's process. ValueError naming what is wrong with it."""
    fields = json.loads(config_json)  # json.JSONDecodeError is a ValueError
    if not isinstance(fields, dict):
        raise ValueError(f"the recipe is a JSON {type(fields).__name__}, not Config.to_dict()'s object")
    missing = [name for name in ("frame_size", *RECIPE_FIELDS) if name not in fields]
    if missing:
        raise ValueError(f"the recipe lacks {', '.join(missing)} (give jaxjepa's Config().to_json())")
    return types.SimpleNamespace(**fields, obs_dim=2 * fields["frame_size"] ** 2)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an error is one line and exit 2 (jaxjepa.cli has one too; this process imports nothing of
    jaxjepa, see recipe_from)."""

    def error(self, message: str):
        fail(f"{self.prog}: {message}")


def fail(message: str):
    print(message, file=sys.stderr)
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m benchmarks.torch_baseline", description=__doc__.splitlines()[0])
    parser.add_argument("--world", required=True, help="npz with frames [N, T, H*W] and positions [N, T, 2]")
    parser.add_argument("--config", required=True, help="the recipe: JSON of jaxjepa's Config.to_dict()")
    parser.add_argument("--variant", default="eager", choices=VARIANTS)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        fail(f"{parser.prog}: --threads must be 1 or more (leave it out for torch's default)")
    try:
        recipe = recipe_from(args.config)
    except ValueError as err:
        fail(f"{parser.prog}: --config: {err}")
    if not available():
        fail(f"{parser.prog}: needs torch, which is not installed; run: pip install -e '.[bench]'")
    try:  # the archive's listing only, so that a bad file is one line, not a traceback, at no cost to the timing
        world = np.load(args.world)
        missing = {"frames", "positions"} - set(getattr(world, "files", ()))
        if isinstance(world, np.lib.npyio.NpzFile):
            world.close()
    except (OSError, ValueError) as err:
        fail(f"{parser.prog}: --world {args.world} cannot be read ({err})")
    if missing:
        fail(f"{parser.prog}: --world {args.world} is not an npz with frames and positions")
    print(json.dumps(whole_run(args.world, recipe, args.variant, args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Analytic FLOP count of one JEPA training step (REFERENCE.md: about 283 MFLOP at batch 256).

Why analytic: the achieved GFLOP/s of a step is only meaningful against the work the recipe needs,
not against whatever XLA happens to execute. We count matrix-product multiply-adds (2 FLOPs each) and
ignore biases, activations, the loss and Adam, which are a few percent at these shapes:
  forward   online encoder on o_t, target encoder on o_{t+1}, predictor on z
  backward  weight gradients of every trained layer, and input gradients of every trained layer
            but the encoder's first (nothing upstream of the observation needs a gradient).
This is the reference's one-step loss with an EMA target (the default recipe).
"""

from __future__ import annotations

from jaxjepa.config import Config


def layer_shapes(widths: tuple[int, ...]) -> list[tuple[int, int]]:
    """(fan_in, fan_out) of each linear layer of an MLP whose activations have these widths."""
    return list(zip(widths[:-1], widths[1:]))


def macs_per_sample(shapes: list[tuple[int, int]]) -> int:
    return sum(fan_in * fan_out for fan_in, fan_out in shapes)


def jepa_step_flops(config: Config) -> dict[str, float]:
    """FLOPs of one training step at `config.batch_size`, by part, and the total."""
    encoder = layer_shapes((config.obs_dim, *config.encoder_hidden, config.latent_dim))
    predictor = layer_shapes((config.latent_dim, *config.predictor_hidden, config.latent_dim))
    enc, pred = macs_per_sample(encoder), macs_per_sample(predictor)
    first_layer = encoder[0][0] * encoder[0][1]
    per_sample_macs = {
        "online_encoder_forward": enc,
        "target_encoder_forward": enc,
        "predictor_forward": pred,
        "backward": (enc + pred) + (enc - first_layer + pred),  # weight grads + input grads
    }
    parts = {name: 2.0 * macs * config.batch_size for name, macs in per_sample_macs.items()}
    return {**parts, "total": sum(parts.values())}

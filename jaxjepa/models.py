"""The networks, as small `flax.linen` modules: encoder, predictor, decoder and the inverse-dynamics head.

The reference's are MLPs: encoder 512 -> 256 -> 128 -> 32, predictor 32 -> 64 -> 32, decoder 32 -> 64 ->
256 -> 256 (sigmoid), GELU (tanh approximation) between layers, as in the reference. Layers are
initialised like PyTorch's `nn.Linear` (uniform in +-1/sqrt(fan_in), bias too) so training starts from
the same distribution as the reference and our numbers compare. Other encoders, for other worlds and
recipes: a convolutional one (ConvEncoder: convolutions as matmuls over patches, which the exporter
lowers) and spatial soft-argmax keypoints (KeypointEncoder).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxjepa.config import Config


def _torch_linear_kernel_init():
    # variance_scaling(1/3, fan_in, uniform) is uniform in +-sqrt(3 * (1/3) / fan_in) = +-1/sqrt(fan_in)
    return nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


class Linear(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fan_in = x.shape[-1]
        bound = 1.0 / jnp.sqrt(fan_in)
        kernel = self.param("kernel", _torch_linear_kernel_init(), (fan_in, self.features))
        bias = self.param(
            "bias", lambda key, shape: jax.random.uniform(key, shape, minval=-bound, maxval=bound), (self.features,)
        )
        return x @ kernel + bias


class MLP(nn.Module):
    """Linear layers with GELU between them; `sigmoid_output` squashes the last layer to [0, 1]; `residual`
    adds the input's leading entries (as many as the output has) to the output, so the layers learn a change."""

    features: Sequence[int]
    sigmoid_output: bool = False
    residual: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        # lax.slice, not numpy indexing, which the exporter's symbolic batch turns into a gather
        skipped = jax.lax.slice_in_dim(x, 0, self.features[-1], axis=-1) if self.residual else None
        for i, width in enumerate(self.features):
            x = Linear(width, name=f"layer{i}")(x)
            if i < len(self.features) - 1:
                x = nn.gelu(x, approximate=True)
        if skipped is not None:
            x = x + skipped
        return nn.sigmoid(x) if self.sigmoid_output else x


class KeypointEncoder(nn.Module):
    """Observation -> latent through spatial soft-argmax keypoints (deep spatial autoencoders, Finn et
    al. 2016). Each frame of the pair goes alone through the same convolution; each of its `keypoints`
    feature maps becomes a softmax over the grid, read out as its expected (y, x); a linear layer maps
    the 2 x 2K coordinates to z. Why: a convolution moves with the logo, so each expected coordinate
    moves with it too, and z is then close to affine in the logo's position in both frames (so in its
    velocity too), which a linear probe and a long dream both need."""

    frame_size: int
    keypoints: int
    latent_dim: int
    kernel: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        size, lead = self.frame_size, obs.shape[:-1]
        frames = obs.reshape(-1, size, size, 1)  # [2N, H, W, 1]
        maps = nn.Conv(self.keypoints, (self.kernel, self.kernel), name="conv")(frames)  # [2N, H, W, K]
        attention = jax.nn.softmax(maps.reshape(-1, size * size, self.keypoints), axis=1)
        grid = jnp.stack(jnp.meshgrid(jnp.arange(size), jnp.arange(size), indexing="ij"), -1)
        grid = grid.reshape(size * size, 2).astype(obs.dtype) / (size - 1) * 2.0 - 1.0  # [-1, 1]
        coords = jnp.einsum("npk,pc->nkc", attention, grid).reshape(-1, 2 * 2 * self.keypoints)
        return Linear(self.latent_dim, name="readout")(coords).reshape(*lead, self.latent_dim)


def gather_patches(maps: jax.Array, kernel: int, stride: int) -> jax.Array:
    """[N, H, W, C] -> [N, H', W', kernel * kernel * C]: each output position's 'SAME'-padded window,
    in nn.Conv's kernel order (row, column, channel), so that patches @ kernel.reshape(-1, C_out) is the
    convolution. A stem whose windows tile the frame is one reshape; otherwise one strided slice per
    kernel offset."""
    n, h, w, c = maps.shape
    if kernel == stride and h % stride == 0 and w % stride == 0:
        tiles = maps.reshape(n, h // stride, stride, w // stride, stride, c)
        return jnp.transpose(tiles, (0, 1, 3, 2, 4, 5)).reshape(n, h // stride, w // stride, -1)
    rows, cols = jax.lax.padtype_to_pads((h, w), (kernel, kernel), (stride, stride), "SAME")  # as nn.Conv pads
    padded = jnp.pad(maps, ((0, 0), rows, cols, (0, 0)))
    out_h, out_w = -(-h // stride), -(-w // stride)
    # lax.slice, not numpy indexing: with a symbolic batch (the exporter's trace) indexing becomes a gather
    windows = [
        jax.lax.slice(
            padded,
            (0, i, j, 0),
            (n, i + (out_h - 1) * stride + 1, j + (out_w - 1) * stride + 1, c),
            (1, stride, stride, 1),
        )
        for i in range(kernel)
        for j in range(kernel)
    ]
    return jnp.concatenate(windows, axis=-1)


class PatchConv(nn.Module):
    """A 'SAME' convolution with nn.Conv's parameters (kernel [k, k, C_in, C_out], bias) and its numbers
    up to float rounding, computed as one matmul over gathered patches (im2col). Why: XLA:CPU runs
    convolutions, and their gradients most of all, several times slower than the same arithmetic as a
    matmul, and the Two Rooms recipe spends most of its training in its encoder."""

    features: int
    kernel: int
    stride: int

    @nn.compact
    def __call__(self, maps: jax.Array) -> jax.Array:
        shape = (self.kernel, self.kernel, maps.shape[-1], self.features)
        kernel = self.param("kernel", nn.initializers.lecun_normal(), shape)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        return gather_patches(maps, self.kernel, self.stride) @ kernel.reshape(-1, self.features) + bias


class ConvEncoder(nn.Module):
    """Observation -> latent through convolutions (GELU), then an MLP on the flattened map. The first
    convolution is a patch stem (kernel = stride = `patch`), the others 3x3 with stride 2. The observation
    is [..., C * H * W] in channel-first order (the stacked frames, and in two_rooms each frame's dot and
    wall channels), so one module serves any frame size and channel count. Why convolutions: the MLP
    encoder's first layer grows with H * W and, at 32x32 and 64x64, fails to find the logo (RESULTS.md,
    worlds); a convolution's weights are shared over the frame. Why a patch stem: on a CPU it is one
    matmul over non-overlapping patches, several times cheaper than a 3x3 stride-2 stack at 64x64."""

    frame_size: int
    channels: Sequence[int]
    head: Sequence[int]
    patch: int = 4

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        size, lead = self.frame_size, obs.shape[:-1]
        maps = jnp.moveaxis(obs.reshape(-1, obs.shape[-1] // (size * size), size, size), 1, -1)  # [N, H, W, C]
        for i, width in enumerate(self.channels):
            kernel, stride = (self.patch, self.patch) if i == 0 else (3, 2)
            maps = PatchConv(width, kernel, stride, name=f"conv{i}")(maps)
            maps = nn.gelu(maps, approximate=True)
        z = MLP(self.head, name="head")(maps.reshape(maps.shape[0], -1))
        return z.reshape(*lead, self.head[-1])


class InverseDynamics(nn.Module):
    """(z_t, z_t+1) -> a_t: which action moved the world from one latent to the next. Trained as an
    auxiliary loss, it keeps in z what the actions change (the agent), which a JEPA may otherwise drop."""

    hidden: Sequence[int]
    action_dim: int

    @nn.compact
    def __call__(self, z: jax.Array, z_next: jax.Array) -> jax.Array:
        return MLP((*self.hidden, self.action_dim), name="mlp")(jnp.concatenate([z, z_next], axis=-1))


IDM_KEY = 3  # folded into the init key for the inverse-dynamics head


def inverse_dynamics(config: Config) -> InverseDynamics:
    return InverseDynamics(config.idm_hidden, config.action_dim)


def encoder(config: Config) -> nn.Module:
    """Observation (two stacked frames, flattened) -> latent z."""
    if config.encoder_kind == "keypoints":
        return KeypointEncoder(config.frame_size, config.keypoints, config.latent_dim)
    if config.encoder_kind == "cnn":
        return ConvEncoder(
            config.frame_size, config.cnn_channels, (*config.cnn_head_hidden, config.latent_dim), config.cnn_patch
        )
    return MLP((*config.encoder_hidden, config.latent_dim))


def predictor(config: Config) -> MLP:
    """The world model: z_t -> z_{t+1}, one step forward in latent space. With `action_dim` > 0 it is
    P(z, a): the same MLP on the concatenation [z, a] (`predictor_input`), a plain layout that any
    exporter can rebuild with one concatenation. With `predictor_kind` "residual" it is z + MLP([z, a])."""
    return MLP((*config.predictor_hidden, config.latent_dim), residual=config.predictor_kind == "residual")


def predictor_input(z: jax.Array, action: jax.Array | None = None) -> jax.Array:
    """[..., d] (action-free) or [..., d + a]: what the predictor reads."""
    return z if action is None else jnp.concatenate([z, action.astype(z.dtype)], axis=-1)


def decoder(config: Config) -> MLP:
    """Latent -> newest frame, only to render the dream; trained after the JEPA on frozen latents."""
    return MLP(
        (*config.decoder_hidden, config.frame_channels * config.frame_size * config.frame_size), sigmoid_output=True
    )


def init_params(key: jax.Array, config: Config) -> dict:
    """Fresh parameters of every network: {'encoder', 'target', 'predictor', 'decoder'}, and 'idm' (the
    inverse-dynamics head) when idm_weight > 0.
    The target starts as an exact copy of the online encoder."""
    enc_key, pred_key, dec_key = jax.random.split(key, 3)
    enc = encoder(config).init(enc_key, jnp.zeros((1, config.obs_dim)))
    params = {
        "encoder": enc,
        "target": jax.tree_util.tree_map(jnp.copy, enc),
        "predictor": predictor(config).init(pred_key, jnp.zeros((1, config.latent_dim + config.action_dim))),
        "decoder": decoder(config).init(dec_key, jnp.zeros((1, config.latent_dim))),
    }
    if (
        config.idm_weight
    ):  # its own key, folded from the run's, so the other networks' initial weights do not depend on it
        z = jnp.zeros((1, config.latent_dim))
        params["idm"] = inverse_dynamics(config).init(jax.random.fold_in(key, IDM_KEY), z, z)
    return params

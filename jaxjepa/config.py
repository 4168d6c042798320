"""One frozen dataclass holds every hyperparameter of a run.

Why one flat dataclass: a run is reproducible from its `config.json` alone, the CLI can expose every
field as a flag without a second list of names, and a config is hashable, so `make_train(config)` can
be cached and compared. The defaults ARE the reference recipe (REFERENCE.md): change them only by
naming a variant below, so a number reported for "default" always compares with the reference.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any


@dataclasses.dataclass(frozen=True)
class Config:
    # --- the world (a Gaussian blob bouncing in an H x W box) ---
    frame_size: int = 16          # H = W, pixels
    sigma: float = 1.5            # blob radius, pixels
    speed: float = 0.05           # per-axis speed as a fraction of (H - 1): 0.75 px/frame at H = 16
    train_sequences: int = 400    # sequences in the training set
    seq_len: int = 64             # frames per sequence -> seq_len - 2 (o_t, o_{t+1}) pairs each
    train_start_margin: int = 2   # training starts uniform in [m, H - 1 - m) per axis
    eval_start_margin: int = 3    # evaluation starts (and teleports) uniform in [m, H - 1 - m)
    logos: int = 1                # harder worlds (issue 5): logos bouncing independently, drawn as the max of blobs
    speed_jitter: float = 0.0     # each sequence's speed is speed * U[1 - j, 1 + j] (0: every sequence the same)
    pixel_noise: float = 0.0      # std of Gaussian pixel noise added to every frame, then clipped to [0, 1]
    world: str = "bounce"         # "bounce" (the reference) | "two_rooms" (a dot pushed by actions, wall and door)
    cross_wall_rate: float = 0.35  # two_rooms: share of training trajectories built to pass through the door

    # --- the model ---
    latent_dim: int = 32
    encoder_kind: str = "mlp"     # "mlp" (the reference) | "keypoints" (convolutions + spatial soft-argmax) | "cnn"
    keypoints: int = 16           # keypoint encoder: feature maps, each read out as an expected (y, x)
    cnn_channels: tuple[int, ...] = (16, 32)  # cnn encoder: a patch stem, then 3x3 stride-2 convolutions
    cnn_patch: int = 4            # cnn encoder: kernel and stride of the stem
    cnn_head_hidden: tuple[int, ...] = (128,)    # cnn encoder: the MLP from the flattened feature map to z
    encoder_hidden: tuple[int, ...] = (256, 128)
    predictor_hidden: tuple[int, ...] = (64,)
    decoder_hidden: tuple[int, ...] = (64, 256)

    # --- the JEPA objective ---
    target: str = "ema"           # "ema": EMA copy + stop-gradient; "online": target = online encoder, with gradient
    ema_decay: float = 0.99       # 0.0 with target="ema" = plain stop-gradient copy of the online encoder
    var_weight: float = 1.0       # VICReg variance hinge
    var_target: float = 1.0       # hinge threshold on each dimension's std
    var_eps: float = 1e-4
    cov_weight: float = 0.0       # VICReg covariance term (off in the reference)
    regulariser: str = "vicreg"   # "vicreg" (variance + covariance above) | "sigreg" (LeJEPA's SIGReg replaces both)
    sigreg_weight: float = 1.0    # weight of SIGReg when regulariser = "sigreg" (inert with "vicreg")
    sigreg_projections: int = 256  # random unit directions per step
    sigreg_knots: int = 17        # quadrature points of the Epps-Pulley integral over t in [0, 3]
    time_smooth_weight: float = 0.0  # mean ||z_t+1 - z_t||^2 between consecutive context latents
    idm_weight: float = 0.0       # inverse dynamics: an MLP predicts a_t from (z_t, z_t+1) (action worlds only)
    idm_hidden: tuple[int, ...] = (64,)
    action_dim: int = 2           # action worlds: a 2-D displacement per step

    # --- optimisation ---
    steps: int = 2500
    batch_size: int = 256
    lr: float = 1e-3
    lr_schedule: str = "constant"  # "constant" | "cosine" (warmup then cosine decay to 0)
    warmup_steps: int = 0

    # --- multi-step latent training (issue 5): the predictor unrolled k steps in latent space ---
    rollout_steps: int = 1        # k: 1 is the reference's one-step loss, bit for bit
    rollout_decay: float = 1.0    # weight of unrolled step j (1..k) is rollout_decay ** (j - 1), normalised
    rollout_curriculum: int = 0   # training steps over which the active k grows linearly from 1 to k (0: k from the start)

    # --- the decoder (renders latents; never part of the JEPA loss) ---
    decoder_steps: int = 2000
    decoder_batch_size: int = 256
    decoder_lr: float = 1e-3

    # --- evaluation during train.py (fresh trajectories from keys training never sees) ---
    probe_sequences: int = 256    # fit on this many, test on as many others
    probe_seq_len: int = 64

    @property
    def frame_channels(self) -> int:
        """Channels of one frame: the logo alone; in two_rooms the dot and the walls."""
        return 2 if self.world == "two_rooms" else 1

    @property
    def obs_dim(self) -> int:
        return 2 * self.frame_channels * self.frame_size * self.frame_size

    @property
    def pairs_per_sequence(self) -> int:
        return self.seq_len - 2

    def validate(self) -> "Config":
        """Raise ValueError with one line naming the first bad field."""
        positive = ["frame_size", "train_sequences", "steps", "batch_size", "decoder_batch_size",
                    "latent_dim", "probe_sequences"]
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.decoder_steps < 0:
            raise ValueError(f"decoder_steps must be >= 0, got {self.decoder_steps}")
        if self.seq_len < 3 or self.probe_seq_len < 2:
            raise ValueError("seq_len must be >= 3 and probe_seq_len >= 2")
        if self.frame_size < 2 * max(self.train_start_margin, self.eval_start_margin) + 2:
            raise ValueError(f"frame_size {self.frame_size} too small for the start margins")
        if self.sigma <= 0 or self.speed < 0:
            raise ValueError("sigma must be > 0 and speed >= 0")
        if self.logos < 1 or not 0.0 <= self.speed_jitter < 1.0 or self.pixel_noise < 0:
            raise ValueError("logos must be >= 1, speed_jitter in [0, 1) and pixel_noise >= 0")
        if self.encoder_kind not in ("mlp", "keypoints", "cnn") or self.keypoints < 1 or not self.cnn_channels \
                or self.cnn_patch < 1:
            raise ValueError(f"encoder_kind must be 'mlp', 'keypoints' (keypoints >= 1) or 'cnn' (cnn_channels not "
                             f"empty, cnn_patch >= 1), got {self.encoder_kind!r}")
        self._validate_extensions()
        if self.target not in ("ema", "online"):
            raise ValueError(f"target must be 'ema' or 'online', got {self.target!r}")
        if not 0.0 <= self.ema_decay <= 1.0:
            raise ValueError(f"ema_decay must be in [0, 1], got {self.ema_decay}")
        if self.lr <= 0 or self.decoder_lr <= 0:
            raise ValueError("lr and decoder_lr must be positive")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if not 0 <= self.warmup_steps < self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps), got {self.warmup_steps}")
        if not 1 <= self.rollout_steps <= self.seq_len - 2:
            raise ValueError(f"rollout_steps must be in [1, seq_len - 2], got {self.rollout_steps}")
        if self.rollout_decay <= 0 or self.rollout_curriculum < 0:
            raise ValueError("rollout_decay must be > 0 and rollout_curriculum >= 0")
        return self

    def _validate_extensions(self) -> None:
        """The action world and the extra anti-collapse terms."""
        if self.world not in ("bounce", "two_rooms"):
            raise ValueError(f"world must be 'bounce' or 'two_rooms', got {self.world!r}")
        if self.world == "two_rooms" and self.frame_size < 48:
            raise ValueError(f"two_rooms needs frame_size >= 48 (its wall and door layout), got {self.frame_size}")
        if not 0.0 <= self.cross_wall_rate <= 1.0:
            raise ValueError(f"cross_wall_rate must be in [0, 1], got {self.cross_wall_rate}")
        if self.regulariser not in ("vicreg", "sigreg"):
            raise ValueError(f"regulariser must be 'vicreg' or 'sigreg', got {self.regulariser!r}")
        if self.sigreg_projections < 1 or self.sigreg_knots < 2:
            raise ValueError("sigreg_projections must be >= 1 and sigreg_knots >= 2")
        if min(self.sigreg_weight, self.time_smooth_weight, self.idm_weight) < 0 or self.action_dim < 1:
            raise ValueError("sigreg_weight, time_smooth_weight and idm_weight must be >= 0, action_dim >= 1")

    # --- (de)serialisation: config.json is the source of truth of a saved run ---
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Config":
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(unknown)}")
        fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**fixed).validate()

    def replace(self, **changes: Any) -> "Config":
        return self.from_dict({**self.to_dict(), **changes})


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Config)]


# Named variants live next to the default so that every recipe in RESULTS.md has a name.
# The collapse ablation removes one defence at a time (issue 3):
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    # issue 6: the least wall time to the reference's probe quality (<= 0.64 px, median of 8 seeds;
    # evidence: `python -m benchmarks`, results/bench.json). The probe peaks early: the variance hinge
    # spreads the latent within ~50 steps, then the prediction loss reshapes it (worse, ~0.7 px, until
    # ~2000 steps). No decoder (the probe does not read it); the predictor is barely trained, so this
    # is a fast *representation*, not a forecaster. Probe protocol unchanged.
    "fast": {"steps": 50, "train_sequences": 64, "decoder_steps": 0},
    # EMA target + stop-gradient, no variance term.
    "ema_only": {"var_weight": 0.0},
    # Stop-gradient copy of the online encoder (no averaging), no variance term.
    "stopgrad_only": {"var_weight": 0.0, "ema_decay": 0.0},
    # No stop-gradient: the target is the online encoder itself and gradient flows through it.
    "no_stopgrad": {"var_weight": 0.0, "target": "online"},
    # --- issue 5: recipes tried for a longer horizon (RESULTS.md compares them; eval.py --recipes) ---
    # k-step latent training alone, on the reference's model and budget:
    "multistep_k4": {"rollout_steps": 4},
    # the shipped recipe without its multi-step loss (k = 1): what the bigger model and budget alone give
    "long_horizon_k1": {"rollout_steps": 1, "steps": 5000, "lr_schedule": "cosine", "predictor_hidden": (256, 256),
                        "latent_dim": 64},
    # shipped first, now replaced by `koopman` below: 8-step unrolled loss, a deeper predictor, a 64-d latent (a
    # finer linear readout), twice the steps with a cosine schedule (chosen on one seed; on 8 seeds its k = 1 twin
    # above reaches the longer horizon: RESULTS.md, `python eval.py --recipes --seeds 0-7`)
    "long_horizon": {"rollout_steps": 8, "steps": 5000, "lr_schedule": "cosine", "predictor_hidden": (256, 256),
                     "latent_dim": 64},
    # shipped (issue 5's best): the long_horizon recipe with an AFFINE predictor (no hidden layer) and the VICReg
    # covariance term, trained twice as long. Why it works: a linear world model forces the encoder to find
    # coordinates in which the bounce evolves linearly (Koopman eigenfunctions: for a triangle-wave bounce, the
    # harmonics of each axis's phase, which a linear map rotates and a linear probe reads position from); the
    # covariance term spreads the latent over different harmonics instead of repeating one. An affine map cannot
    # bend a dream off the manifold the way a deep predictor does, so errors stop compounding
    # (RESULTS.md, `python eval.py --recipes --seeds 0-7`).
    "koopman": {"rollout_steps": 8, "steps": 10000, "lr_schedule": "cosine", "predictor_hidden": (),
                "latent_dim": 64, "cov_weight": 0.04},
    # exploratory (one seed, not in eval.py --recipes yet: about 4 min per seed on 2 cores): long_horizon with
    # the spatial soft-argmax keypoint encoder, whose latent is close to affine in position, so the linear
    # probe's floor falls from ~0.5 px to ~0.2 px (models.KeypointEncoder)
    "keypoints_long_horizon": {"rollout_steps": 8, "steps": 5000, "lr_schedule": "cosine",
                               "predictor_hidden": (256, 256), "latent_dim": 64, "encoder_kind": "keypoints",
                               "keypoints": 8},
    # --- issue 5: harder worlds (eval.py --worlds trains each with the default and the long_horizon recipe) ---
    "world32": {"frame_size": 32},
    "world64": {"frame_size": 64},
    "two_logos": {"logos": 2},
    "random_speed": {"speed_jitter": 0.5},
    "noisy": {"pixel_noise": 0.1},
    # the big-frame worlds with the convolutional encoder (models.ConvEncoder), reference recipe otherwise; no
    # decoder, which the probe never reads and which costs more than the JEPA at 64x64 (docs/two_rooms.md)
    "world32_cnn": {"frame_size": 32, "encoder_kind": "cnn", "decoder_steps": 0},
    "world64_cnn": {"frame_size": 64, "encoder_kind": "cnn", "decoder_steps": 0},
    # EB-JEPA's Two Rooms world (PLDM): 65x65 frames, dot std 1.3 px, 17-step trajectories, a CNN encoder
    "two_rooms": {"world": "two_rooms", "frame_size": 65, "sigma": 1.3, "seq_len": 17, "probe_seq_len": 17,
                  "encoder_kind": "cnn", "decoder_steps": 0},
}


def get_config(name: str = "default", **overrides: Any) -> Config:
    if name not in VARIANTS:
        raise ValueError(f"unknown config {name!r}; known: {', '.join(sorted(VARIANTS))}")
    return Config().replace(**{**VARIANTS[name], **overrides})

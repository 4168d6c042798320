"""One frozen dataclass holds every hyperparameter of a run.

Why one flat dataclass: a run is reproducible from its `config.json` alone, the CLI can expose every
field as a flag without a second list of names, and a config is hashable, so `make_train(config)` can
be cached and compared. The defaults ARE the reference recipe (REFERENCE.md): change them only by
naming a variant below, so a number reported for "default" always compares with the reference.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
import struct
from typing import Any


@dataclasses.dataclass(frozen=True)
class Config:
    # --- the world (a Gaussian blob bouncing in an H x W box) ---
    frame_size: int = 16  # H = W, pixels
    sigma: float = 1.5  # blob radius, pixels
    speed: float = 0.05  # per-axis speed as a fraction of (H - 1): 0.75 px/frame at H = 16
    train_sequences: int = 400  # sequences in the training set
    seq_len: int = 64  # frames per sequence -> seq_len - 2 (o_t, o_{t+1}) pairs each
    train_start_margin: int = 2  # training starts uniform in [m, H - 1 - m) per axis
    eval_start_margin: int = 3  # evaluation starts (and teleports) uniform in [m, H - 1 - m)
    logos: int = 1  # harder worlds: logos bouncing independently, drawn as the max of blobs
    speed_jitter: float = 0.0  # each sequence's speed is speed * U[1 - j, 1 + j] (0: every sequence the same)
    pixel_noise: float = 0.0  # std of Gaussian pixel noise added to every frame, then clipped to [0, 1]
    world: str = "bounce"  # "bounce" (the reference) | "steer" (actions push the logo: steer.py) | "two_rooms"
    steer_gain: float = 0.25  # steer: v <- clip(v + gain * a, -max, max) per axis, a in [-1, 1]^2
    steer_max_speed: float = 1.5  # steer: speed limit per axis, px/frame
    action_theta: float = 0.15  # steer training actions: an Ornstein-Uhlenbeck walk a <- a - theta a + sigma noise
    action_sigma: float = 0.5  # (clipped to [-1, 1]), so pushes last a few frames and the speed wanders
    action_damping: float = 1.0  # steer training actions brake by d v, d uniform in [0, action_damping] per sequence
    cross_wall_rate: float = 0.35  # two_rooms: share of training trajectories built to pass through the door
    wall_bump_rate: float = 0.0  # two_rooms: share of the other training trajectories built to walk into the wall

    # --- the model ---
    latent_dim: int = 32
    encoder_kind: str = "mlp"  # "mlp" (the reference) | "keypoints" (convolutions + spatial soft-argmax) | "cnn"
    keypoints: int = 16  # keypoint encoder: feature maps, each read out as an expected (y, x)
    cnn_channels: tuple[int, ...] = (16, 32)  # cnn encoder: a patch stem, then 3x3 stride-2 convolutions
    cnn_patch: int = 4  # cnn encoder: kernel and stride of the stem
    cnn_head_hidden: tuple[int, ...] = (128,)  # cnn encoder: the MLP from the flattened feature map to z
    encoder_hidden: tuple[int, ...] = (256, 128)
    predictor_hidden: tuple[int, ...] = (64,)
    # "mlp": z_t+1 = MLP(z_t) (the reference; MLP([z_t, a_t]) with actions); "residual": z_t+1 = z_t + that MLP.
    # Why residual: where most of the latent is fixed over a sequence (Two Rooms' wall and door), a plain MLP
    # must rebuild it at every step and its error there outweighs the step itself.
    predictor_kind: str = "mlp"
    decoder_hidden: tuple[int, ...] = (64, 256)
    action_dim: int = 0  # 0: the action-free predictor P(z); 2: P(z, a), in the action worlds

    # --- the JEPA objective ---
    target: str = "ema"  # "ema": EMA copy + stop-gradient; "online": target = online encoder, with gradient
    ema_decay: float = 0.99  # 0.0 with target="ema" = plain stop-gradient copy of the online encoder
    var_weight: float = 1.0  # VICReg variance hinge
    var_target: float = 1.0  # hinge threshold on each dimension's std
    var_eps: float = 1e-4
    cov_weight: float = 0.0  # VICReg covariance term (off in the reference)
    regulariser: str = "vicreg"  # "vicreg" (variance + covariance above) | "sigreg" (LeJEPA's SIGReg replaces both)
    sigreg_weight: float = 1.0  # weight of SIGReg when regulariser = "sigreg" (inert with "vicreg")
    sigreg_projections: int = 256  # random unit directions per step
    sigreg_knots: int = 17  # quadrature points of the Epps-Pulley integral over t in [0, 3]
    time_smooth_weight: float = 0.0  # mean ||z_t+1 - z_t||^2 between consecutive context latents
    idm_weight: float = 0.0  # inverse dynamics: an MLP predicts a_t from (z_t, z_t+1) (action worlds only)
    idm_hidden: tuple[int, ...] = (64,)

    # --- optimisation ---
    steps: int = 2500
    batch_size: int = 256
    lr: float = 1e-3
    lr_schedule: str = "constant"  # "constant" | "cosine" (warmup then cosine decay to 0)
    warmup_steps: int = 0

    # --- multi-step latent training: the predictor unrolled k steps in latent space ---
    rollout_steps: int = 1  # k: 1 is the reference's one-step loss, bit for bit
    rollout_decay: float = 1.0  # weight of unrolled step j (1..k) is rollout_decay ** (j - 1), normalised
    rollout_curriculum: int = (
        0  # training steps over which the active k grows linearly from 1 to k (0: k from the start)
    )

    # --- the decoder (renders latents; never part of the JEPA loss) ---
    decoder_steps: int = 2000
    decoder_batch_size: int = 256
    decoder_lr: float = 1e-3

    # --- compilation (numbers agree up to float rounding; the time to a trained model does not) ---
    # "full": XLA's defaults. "quick": its cheapest compilation on a CPU (no backend optimisation, no fusion
    # emitters), for recipes so short that compiling would cost more than running.
    compile_effort: str = "full"

    # --- latent planning (jaxjepa/planning.py; in Two Rooms through jaxjepa/two_rooms_planning.py) ---
    planner: str = "mppi"  # "mppi" | "cem" | "search": how action sequences are refined (search: planning.search)
    # "sum": sum_k ||z_k - z_goal|| over the horizon; "last": the last latent only. Why the sum: it scores every
    # imagined step, so a plan that heads for the goal at once beats one that only ends near it, and it leans less
    # on the horizon's far end, where the imagined latents have drifted most (RESULTS.md compares the two)
    plan_cost: str = "sum"
    plan_horizon: int = 10  # H: actions per imagined sequence
    # N x I = 16 x 1: the budget curve (eval.py --planning) is flat from 8 x 1 up; the browser plans with it too
    plan_samples: int = 16  # N: sequences sampled per iteration
    plan_iterations: int = 1  # I: refinements per replanning step
    plan_noise: float = 0.5  # std of the sampling noise around the plan (MPPI; CEM's initial std)
    plan_temperature: float = 0.05  # MPPI: softmax weights exp(-(cost - min) / (temperature * (mean cost - min)))
    plan_elites: int = 8  # CEM: sequences whose mean and std become the next sampling distribution
    plan_min_std: float = 0.05  # CEM: its std never falls below this, so a converged plan can still move
    search_beams: int = 32  # search: imagined latents kept per depth, spread by farthest-point sampling
    search_depth: int = 32  # search: moves per imagined path
    search_move_steps: int = 2  # search: actions per move (each move holds one corner or edge of the action box)
    search_memory: int = 64  # search in Two Rooms: moves whose outcome surprised the model (0: none; planning.Memory)
    search_memory_radius: float = 2.0  # search: a remembered move holds within this many of its lengths
    # search: a move is remembered when the world took the latent farther from the model's prediction than this
    # share of the predicted move's length (planning.remember)
    search_surprise_share: float = 0.5
    # search "keep": a new search's path replaces the kept one only when it ends nearer the goal by more than this
    # many move lengths (planning.replanned_path)
    search_switch_margin: float = 0.5
    # search in Two Rooms: "keep": the rest of the last path stands unless a new search ends nearer the goal by a
    # margin (planning.replanned_path); "fresh": every replanning takes the new search's path
    search_replan: str = "keep"
    # search: "pruned": no path takes a move right after its reverse, which brings it back where it was when actions
    # are displacements (Two Rooms); "allowed": where a move changes a velocity (steer), the reverse brakes
    search_reversals: str = "allowed"
    # the steer world's episodes (Two Rooms has its own: two_rooms.EVAL_MAX_STEPS, SUCCESS_RADIUS_PX at the end)
    episode_steps: int = 60  # replanning steps per episode
    success_px: float = 1.0  # success: the logo's centre within this distance of the goal at any step

    # --- evaluation during train.py (fresh trajectories from keys training never sees) ---
    probe_sequences: int = 256  # fit on this many, test on as many others
    probe_seq_len: int = 64

    def __post_init__(self) -> None:
        """Every Config is valid however it was built (Config(...), replace, config.json): ValueError otherwise.
        NumPy scalars become Python numbers and lists of integers tuples, so that a config hashes, compares and
        serialises the same whichever the caller gave."""
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, _plain(field.type, getattr(self, field.name)))
        self.validate()

    @property
    def frame_channels(self) -> int:
        """Channels of one frame: the logo alone; in two_rooms the dot and the walls."""
        return 2 if self.world == "two_rooms" else 1

    @property
    def obs_dim(self) -> int:
        return 2 * self.frame_channels * self.frame_size * self.frame_size

    @property
    def has_decoder(self) -> bool:
        """Whether the run trains a decoder; with decoder_steps 0 its decoder keeps untrained initial weights."""
        return self.decoder_steps > 0

    @property
    def pairs_per_sequence(self) -> int:
        return self.seq_len - 2

    def validate(self) -> Config:
        """Raise ValueError with one line naming the first bad field: its type, then its range, then
        the ranges that tie fields together. Comparisons are written so that NaN fails them."""
        for field in dataclasses.fields(self):
            check_field(field.name, field.type, getattr(self, field.name))
        if self.frame_size < 2 * max(self.train_start_margin, self.eval_start_margin) + 2:
            raise ValueError(f"frame_size {self.frame_size} too small for the start margins")
        if not self.sigma <= self.frame_size:
            raise ValueError(
                f"sigma must not exceed frame_size {self.frame_size} (a blob wider than the box), got {self.sigma}"
            )
        if not self.warmup_steps < self.steps:
            raise ValueError(f"warmup_steps must be in [0, steps), got {self.warmup_steps}")
        if not self.rollout_steps <= self.seq_len - 2:
            raise ValueError(f"rollout_steps must be in [1, seq_len - 2], got {self.rollout_steps}")
        if self.action_dim != (2 if self.world in ACTION_WORLDS else 0):
            raise ValueError(
                f"action_dim must be 2 in the worlds driven by actions ({', '.join(ACTION_WORLDS)}) "
                f"and 0 otherwise, got {self.action_dim}"
            )
        if self.world == "two_rooms" and self.frame_size < 48:
            raise ValueError(f"two_rooms needs frame_size >= 48 (its wall and door layout), got {self.frame_size}")
        if self.idm_weight and not self.action_dim:
            raise ValueError("idm_weight needs actions: the inverse-dynamics term exists only in the action worlds")
        self.check_settings_the_world_reads()
        if not self.plan_elites <= self.plan_samples:
            raise ValueError(
                f"plan_elites ({self.plan_elites}) must not exceed plan_samples ({self.plan_samples}): "
                "give fewer elites or more samples"
            )
        return self

    def check_settings_the_world_reads(self) -> None:
        """ValueError naming a field changed from its default that this config's world never reads: the bounce
        world's variations elsewhere, the steer task's settings in Two Rooms. Silently ignored, it would mislead."""
        bounce_only = [name for name in BOUNCE_ONLY_FIELDS if getattr(self, name) != getattr(Config, name)]
        if self.world != "bounce" and bounce_only:
            raise ValueError(
                f"{bounce_only[0]} is a setting of the bounce world, which the {self.world} world does not read; "
                f"leave it at {getattr(Config, bounce_only[0])}"
            )
        steer_task = [name for name in STEER_TASK_FIELDS if getattr(self, name) != getattr(Config, name)]
        if self.world == "two_rooms" and steer_task:
            raise ValueError(
                f"{steer_task[0]} is a setting of the steer world's planning task; Two Rooms episodes have their own "
                "(two_rooms.EVAL_MAX_STEPS actions, success within two_rooms.SUCCESS_RADIUS_PX): "
                f"leave it at {getattr(Config, steer_task[0])}"
            )

    # --- (de)serialisation: config.json is the source of truth of a saved run ---
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        """A validated Config from every field's value. A missing field is refused rather than filled
        with its default: config.json is the source of truth of a run, and a default may have changed."""
        if not isinstance(values, dict):
            raise TypeError(f"a config must be a JSON object of fields, got {type(values).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(map(str, set(values) - set(known)))
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(unknown)}")
        missing = [name for name in known if name not in values and name not in LATER_FIELDS]
        if missing:
            raise ValueError(f"missing config field(s): {', '.join(missing)}")
        return cls(**{**{name: getattr(cls, name) for name in LATER_FIELDS}, **values})  # lists: see __post_init__

    def replace(self, **changes: Any) -> Config:
        return self.from_dict({**self.to_dict(), **changes})

    def planning_with(self, **changes: Any) -> Config:
        """This config with planning fields changed; a sample count below CEM's elites caps the elites to it (MPPI
        and the search keep none), as a budget curve or a smaller planner asks."""
        if "plan_samples" in changes and "plan_elites" not in changes:
            changes["plan_elites"] = min(self.plan_elites, changes["plan_samples"])
        return self.replace(**changes)

    def planning_as(self, other: Config) -> Config:
        """This config with `other`'s PLANNING_FIELDS: a saved run planned as another config (its recipe) plans."""
        return self.replace(**{name: getattr(other, name) for name in PLANNING_FIELDS})


# The bounce world's variations (world.py): the steer and two_rooms worlds draw one logo or dot, unjittered and
# noiseless, so another value there would be silently ignored.
BOUNCE_ONLY_FIELDS = ("logos", "speed_jitter", "pixel_noise")
# The steer world's planning task (planning.episode): Two Rooms episodes (two_rooms_planning) read neither.
STEER_TASK_FIELDS = ("episode_steps", "success_px")
# What a run's world is: with every one of these at its default, the reference's world (the logo's box of its size).
WORLD_FIELDS = ("world", "frame_size", "sigma", "speed", *BOUNCE_ONLY_FIELDS)

# Fields that only the planners read (planning.py, two_rooms_planning.py): training never does, so a saved run
# evaluated with other values of them is the same trained model (checkpoint.load_run_files).
PLANNING_FIELDS = (
    "planner",
    "plan_cost",
    "plan_horizon",
    "plan_samples",
    "plan_iterations",
    "plan_noise",
    "plan_temperature",
    "plan_elites",
    "plan_min_std",
    "search_beams",
    "search_depth",
    "search_move_steps",
    "search_memory",
    "search_memory_radius",
    "search_surprise_share",
    "search_switch_margin",
    "search_replan",
    "search_reversals",
    "episode_steps",
    "success_px",
)


def training_differences(saved: Config, expected: Config) -> dict[str, tuple[Any, Any]]:
    """{field: (saved, expected)} where two configs would train differently: the PLANNING_FIELDS aside, which only
    the planners read. Empty: a run of `saved` is a run of `expected`."""
    return {
        name: (value, getattr(expected, name))
        for name, value in saved.to_dict().items()
        if name not in PLANNING_FIELDS and getattr(expected, name) != value
    }


# Fields whose defaults reproduce what a run saved without them did: a config.json that lacks them loads. Every
# other missing field is refused. The planning fields are among them, but their defaults need not be how a run
# saved without them was planned (search_replan "keep" is not): planning is no part of a run, and the evaluation
# plans a recipe's runs with the recipe's planning fields.
LATER_FIELDS = (
    "world",
    "steer_gain",
    "steer_max_speed",
    "action_theta",
    "action_sigma",
    "action_damping",
    "action_dim",
    *PLANNING_FIELDS,
    "cross_wall_rate",
    "wall_bump_rate",
    "cnn_channels",
    "cnn_patch",
    "cnn_head_hidden",
    "regulariser",
    "sigreg_weight",
    "sigreg_projections",
    "sigreg_knots",
    "time_smooth_weight",
    "idm_weight",
    "idm_hidden",
    "compile_effort",
    "predictor_kind",
)

ACTION_WORLDS = ("steer", "two_rooms")  # worlds whose every step is driven by a 2-D action

MAX_COUNT = 10_000_000  # generous cap on steps and sizes: far beyond any run here, far below an int32 overflow

# The interval each numeric field (each element, for the *_hidden tuples) must lie in; "(" and ")" are open
# ends. Finite values only: inf and NaN are refused before the interval is read.
RANGES: dict[str, str] = {
    "frame_size": f"[1, {MAX_COUNT}]",
    "sigma": "[0.1, inf)",  # narrower, the logo is one pixel at best; far narrower, sigma^2 underflows: NaN frames
    "speed": "[0, 1]",
    "train_sequences": f"[1, {MAX_COUNT}]",
    "seq_len": f"[3, {MAX_COUNT}]",
    "train_start_margin": f"[0, {MAX_COUNT}]",
    "eval_start_margin": f"[0, {MAX_COUNT}]",
    "logos": f"[1, {MAX_COUNT}]",
    "speed_jitter": "[0, 1)",
    "pixel_noise": "[0, 1]",
    "latent_dim": f"[1, {MAX_COUNT}]",
    "keypoints": f"[1, {MAX_COUNT}]",
    "encoder_hidden": f"[1, {MAX_COUNT}]",
    "predictor_hidden": f"[1, {MAX_COUNT}]",
    "decoder_hidden": f"[1, {MAX_COUNT}]",
    "ema_decay": "[0, 1]",
    "var_weight": "[0, inf)",
    "var_target": "[0, inf)",
    "var_eps": "(0, inf)",
    "cov_weight": "[0, inf)",
    "steps": f"[1, {MAX_COUNT}]",
    "batch_size": f"[2, {MAX_COUNT}]",  # the variance term's std over the batch needs two latents
    "lr": "(0, inf)",
    "warmup_steps": f"[0, {MAX_COUNT}]",
    "rollout_steps": f"[1, {MAX_COUNT}]",
    "rollout_decay": "(0, inf)",
    "rollout_curriculum": f"[0, {MAX_COUNT}]",
    "decoder_steps": f"[0, {MAX_COUNT}]",
    "decoder_batch_size": f"[1, {MAX_COUNT}]",
    "decoder_lr": "(0, inf)",
    "probe_sequences": f"[1, {MAX_COUNT}]",
    "probe_seq_len": f"[2, {MAX_COUNT}]",
    "steer_gain": "(0, inf)",
    "steer_max_speed": "(0, inf)",
    "action_theta": "[0, 1]",
    "action_sigma": "[0, inf)",
    "action_damping": "[0, inf)",
    "action_dim": "[0, 2]",
    "plan_horizon": f"[1, {MAX_COUNT}]",
    "plan_samples": f"[1, {MAX_COUNT}]",
    "plan_iterations": f"[1, {MAX_COUNT}]",
    "plan_noise": "(0, inf)",
    "plan_temperature": "(0, inf)",
    "plan_elites": f"[1, {MAX_COUNT}]",
    "search_beams": f"[1, {MAX_COUNT}]",
    "search_depth": f"[1, {MAX_COUNT}]",
    "search_move_steps": f"[1, {MAX_COUNT}]",
    "search_memory": f"[0, {MAX_COUNT}]",
    "search_memory_radius": "(0, inf)",
    "search_surprise_share": "(0, inf)",
    "search_switch_margin": "[0, inf)",
    "plan_min_std": "[0, inf)",
    "episode_steps": f"[1, {MAX_COUNT}]",
    "success_px": "(0, inf)",
    "cross_wall_rate": "[0, 1]",
    "wall_bump_rate": "[0, 1]",
    "cnn_channels": f"[1, {MAX_COUNT}]",
    "cnn_patch": f"[1, {MAX_COUNT}]",
    "cnn_head_hidden": f"[1, {MAX_COUNT}]",
    "sigreg_weight": "[0, inf)",
    "sigreg_projections": f"[1, {MAX_COUNT}]",
    "sigreg_knots": f"[2, {MAX_COUNT}]",
    "time_smooth_weight": "[0, inf)",
    "idm_weight": "[0, inf)",
    "idm_hidden": f"[1, {MAX_COUNT}]",
}
CHOICES: dict[str, tuple[str, ...]] = {
    "encoder_kind": ("mlp", "keypoints", "cnn"),
    "predictor_kind": ("mlp", "residual"),
    "target": ("ema", "online"),
    "lr_schedule": ("constant", "cosine"),
    "world": ("bounce", "steer", "two_rooms"),
    "regulariser": ("vicreg", "sigreg"),
    "planner": ("mppi", "cem", "search"),
    "search_replan": ("keep", "fresh"),
    "search_reversals": ("allowed", "pruned"),
    "plan_cost": ("sum", "last"),
    "compile_effort": ("full", "quick"),
}


def inside(value: float, interval: str) -> bool:
    """Whether `value` lies in an interval written "[low, high)" etc.; NaN lies in none."""
    low, high = (float(end) for end in interval[1:-1].split(","))
    above = value > low if interval[0] == "(" else value >= low
    below = value < high if interval[-1] == ")" else value <= high
    return above and below


def describe(interval: str) -> str:
    return {
        "(0, inf)": "positive",
        "[0, inf)": "non-negative",
        f"[1, {MAX_COUNT}]": f"positive and at most {MAX_COUNT}",
    }.get(interval, f"in {interval}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or float as JSON gives them; bool is an int to Python but not a number here."""
    return isinstance(value, int | float) and not isinstance(value, bool)


FLOAT32_MAX = 3.4028234663852886e38  # the models compute in float32: a larger float would become inf
# float32's smallest normal number: XLA's arithmetic flushes a smaller one (subnormal) to zero
FLOAT32_TINY = 1.1754943508222875e-38


def as_float32(value: float) -> float:
    """A float field's value as the programs compute with it: rounded to float32, and 0 below FLOAT32_TINY in
    size. 1e-50 becomes 0 and 0.99999999999 becomes 1: a range's open end must refuse them too."""
    held = struct.unpack("f", struct.pack("f", value))[0]
    return held if abs(held) >= FLOAT32_TINY else 0.0


def _type_problem(kind: str, value: Any) -> str | None:
    """What is wrong with the type of `value` for a field annotated `kind` (None: nothing)."""
    if kind == "int" and not _is_int(value):
        return "an integer"
    if kind == "float" and not is_number(value):
        return "a number"
    if kind == "float" and not (math.isfinite(value) and abs(value) <= FLOAT32_MAX):
        return f"a finite number float32 can hold (|x| <= {FLOAT32_MAX:.4g})"
    if kind == "str" and not isinstance(value, str):
        return "a string"
    if kind.startswith("tuple") and not (isinstance(value, tuple) and all(map(_is_int, value))):
        return "a list of integers"
    return None


SEED_LIMIT = 2**32  # jax.random.key keeps 32 bits of a seed without x64: seed 2**32 would silently be seed 0


def whole_number(value: Any, what: str, least: int = 0, below: int | None = None) -> int:
    """`value` (a Python or NumPy integer) as an int in [least, below); ValueError (one line) for anything else, a
    bool or a float included: a count or seed checked here never reaches an array shape or a key as garbage."""
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or number < least or (below is not None and number >= below):
        bounds = f"in [{least}, {below})" if below is not None else f"of at least {least}"
        raise ValueError(f"{what} must be a whole number {bounds}, got {value!r}")
    return number


def check_seed(seed: Any) -> int:
    return whole_number(seed, "a seed", below=SEED_LIMIT)


def _plain(kind: str, value: Any) -> Any:
    """A NumPy scalar as the Python number it holds; a list for a tuple field as a tuple."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()
    if kind.startswith("tuple") and isinstance(value, list):
        value = tuple(value)
    return value


def check_field(name: str, kind: str, value: Any) -> None:
    """Raise ValueError (one line) unless `value` has the field's type and lies in its range or choices."""
    wanted = _type_problem(kind, value)
    if wanted:
        raise ValueError(f"{name} must be {wanted}, got {value!r} ({type(value).__name__})")
    if name in CHOICES and value not in CHOICES[name]:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, CHOICES[name]))}, got {value!r}")
    if name in RANGES:
        for item in value if isinstance(value, tuple) else (value,):
            if not inside(item, RANGES[name]):
                each = "each entry of " if isinstance(value, tuple) else ""
                raise ValueError(f"{each}{name} must be {describe(RANGES[name])}, got {value!r}")
            if kind == "float" and not inside(held := as_float32(item), RANGES[name]):
                raise ValueError(
                    f"{name} must be {describe(RANGES[name])} in float32, the programs' type, got {value!r}, "
                    f"which float32 arithmetic takes as {held:.9g}"
                )


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Config)]


# the action-conditioned model the planners use. Why each setting: world steer and action_dim 2, P(z, a);
# a 4-step unroll through the predictor with the recorded actions, so the imagined latents stay on track over
# the planning horizon; one hidden layer of 128, since an action's effect (a push clipped at the speed limit,
# a bounce) is not linear; the covariance term spreads the latent over position and velocity (both matter to
# the cost); a cosine schedule, so the model settles by the last step; no decoder, which planning never reads;
# 800 steps, enough for MPPI's success over 8 seeds to reach 99 % (RESULTS.md, Planning), so that
# `eval.py --planning`, which trains 8 seeds of this recipe and of its three ablations, stays a short command.
STEER: dict[str, Any] = {
    "world": "steer",
    "action_dim": 2,
    "rollout_steps": 4,
    "predictor_hidden": (128,),
    "cov_weight": 0.04,
    "lr_schedule": "cosine",
    "steps": 800,
    "decoder_steps": 0,
}

# EB-JEPA's Two Rooms recipe on a CPU budget: its anti-collapse terms (VICReg variance + covariance,
# time-smoothness, inverse dynamics) on the two_rooms world with 48x48 frames (EB-JEPA: 65x65) and a small CNN.
# Why each setting (the runs that showed it: docs/findings.md, "Two Rooms: why the learned model planned at 4 %"):
# - an 8-step unrolled prediction loss, so that the imagined latents stay near the encoded ones over a long
#   imagined path, and a path that crosses the wall only in imagination does not hide the door;
# - a share of the walks heads into the wall (EB-JEPA's wall_bump_rate, 0 in its recipe): random walks rarely
#   stop at a wall, and without such walks the predictor walks the dot through it;
# - 8,000 trajectories and 12,000 steps: fewer trajectories read the dot worse and drift further, and more
#   trajectories need the longer training;
# - a residual predictor, whose error on the latent's fixed part (the wall and door) stays below the dot's step;
# - MPPI with EB-JEPA's noise std of 2, imagining 48 actions ahead: a short imagined path cannot see that the way
#   through the door ends nearer the goal;
# - a search of 64 beams (with fewer it misses the door more often), whose paths never take a move right after
#   its reverse: the best path could otherwise start with a move and its undoing, which the dot then follows
#   back and forth.
TWO_ROOMS_EBJEPA: dict[str, Any] = {
    "world": "two_rooms",
    "action_dim": 2,
    "frame_size": 48,
    "sigma": 1.3,
    "seq_len": 17,
    "probe_seq_len": 17,
    "train_sequences": 8000,
    "wall_bump_rate": 0.6,
    "encoder_kind": "cnn",
    "cnn_channels": (16, 32),
    "cnn_patch": 4,
    "latent_dim": 32,
    "predictor_hidden": (128, 128),
    "predictor_kind": "residual",
    "cov_weight": 0.04,
    "time_smooth_weight": 0.1,
    "idm_weight": 1.0,
    "batch_size": 64,
    "steps": 12000,
    "rollout_steps": 8,
    "lr_schedule": "cosine",
    "decoder_steps": 0,
    "plan_horizon": 48,
    "plan_samples": 64,
    "plan_iterations": 2,
    "plan_noise": 2.0,
    "search_beams": 64,
    "search_reversals": "pruned",
}

# Named variants live next to the default so that every recipe in RESULTS.md has a name.
# The collapse ablation takes the defences away one after another: the variance hinge in every variant, then the
# target's averaging, then its stop-gradient too:
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    # the least wall time to the reference's probe quality (<= 0.64 px, median of 8 seeds;
    # evidence: `python -m benchmarks`, results/bench.json). The probe peaks early: the variance hinge
    # spreads the latent within ~50 steps, then the prediction loss reshapes it (worse, ~0.7 px, until
    # ~2000 steps). No decoder (the probe does not read it); the predictor is barely trained, so this
    # is a fast *representation*, not a forecaster. Probe protocol unchanged.
    # Compiled quickly: at 50 steps XLA's full effort costs more time than it saves.
    "fast": {"steps": 50, "train_sequences": 64, "decoder_steps": 0, "compile_effort": "quick"},
    # EMA target + stop-gradient, no variance term.
    "ema_only": {"var_weight": 0.0},
    # Stop-gradient copy of the online encoder (no averaging), no variance term.
    "stopgrad_only": {"var_weight": 0.0, "ema_decay": 0.0},
    # No stop-gradient: the target is the online encoder itself and gradient flows through it.
    "no_stopgrad": {"var_weight": 0.0, "target": "online"},
    # --- recipes tried for a longer horizon (RESULTS.md compares them; eval.py --recipes) ---
    # k-step latent training alone, on the reference's model and budget:
    "multistep_k4": {"rollout_steps": 4},
    # long_horizon below without its multi-step loss (k = 1): what the bigger model and budget alone give
    "long_horizon_k1": {
        "rollout_steps": 1,
        "steps": 5000,
        "lr_schedule": "cosine",
        "predictor_hidden": (256, 256),
        "latent_dim": 64,
    },
    # the deep-predictor recipe that `koopman` below outlasts: 8-step unrolled loss, a deeper predictor, a 64-d
    # latent (a finer linear readout), twice the steps with a cosine schedule (chosen on one seed; on 8 seeds its
    # k = 1 twin above reaches the longer horizon: RESULTS.md, `python eval.py --recipes --seeds 0-7`)
    "long_horizon": {
        "rollout_steps": 8,
        "steps": 5000,
        "lr_schedule": "cosine",
        "predictor_hidden": (256, 256),
        "latent_dim": 64,
    },
    # the shipped recipe (BEST_RECIPE): the long_horizon recipe with an AFFINE predictor (no hidden layer) and the
    # VICReg covariance term, trained twice as long. Why it works: a linear world model forces the encoder to find
    # coordinates in which the bounce evolves linearly (Koopman eigenfunctions: for a triangle-wave bounce, the
    # harmonics of each axis's phase, which a linear map rotates and a linear probe reads position from); the
    # covariance term spreads the latent over different harmonics instead of repeating one. An affine map cannot
    # bend a dream off the manifold the way a deep predictor does, so errors stop compounding
    # (RESULTS.md, `python eval.py --recipes --seeds 0-7`).
    "koopman": {
        "rollout_steps": 8,
        "steps": 10000,
        "lr_schedule": "cosine",
        "predictor_hidden": (),
        "latent_dim": 64,
        "cov_weight": 0.04,
    },
    # exploratory (seeds 0 to 2, not in eval.py --recipes: costly per seed on a CPU): long_horizon with
    # the spatial soft-argmax keypoint encoder, whose latent is close to affine in position, so the linear
    # probe's floor falls from ~0.5 px to ~0.2 px (models.KeypointEncoder)
    "keypoints_long_horizon": {
        "rollout_steps": 8,
        "steps": 5000,
        "lr_schedule": "cosine",
        "predictor_hidden": (256, 256),
        "latent_dim": 64,
        "encoder_kind": "keypoints",
        "keypoints": 8,
    },
    # --- harder worlds (eval.py --worlds trains each with the default and the best recipe) ---
    "world32": {"frame_size": 32},
    "world64": {"frame_size": 64},
    "two_logos": {"logos": 2},
    "random_speed": {"speed_jitter": 0.5},
    "noisy": {"pixel_noise": 0.1},
    # the big-frame worlds with the convolutional encoder (models.ConvEncoder), reference recipe otherwise; no
    # decoder, which the probe never reads and which costs more than the JEPA at 64x64
    "world32_cnn": {"frame_size": 32, "encoder_kind": "cnn", "decoder_steps": 0},
    "world64_cnn": {"frame_size": 64, "encoder_kind": "cnn", "decoder_steps": 0},
    # EB-JEPA's Two Rooms world (PLDM): 65x65 frames, dot std 1.3 px, 17-step trajectories, a CNN encoder
    "two_rooms": {
        "world": "two_rooms",
        "action_dim": 2,
        "frame_size": 65,
        "sigma": 1.3,
        "seq_len": 17,
        "probe_seq_len": 17,
        "encoder_kind": "cnn",
        "decoder_steps": 0,
    },
    # --- planning in the steer world (eval.py --planning) ---
    "steer": STEER,
    # the collapse ablation on planning, one defence removed at a time from `steer`:
    # no EMA: the target is a plain stop-gradient copy of the online encoder
    "steer_no_ema": {**STEER, "ema_decay": 0.0},
    # no variance hinge
    "steer_no_var": {**STEER, "var_weight": 0.0},
    # no covariance term
    "steer_no_cov": {**STEER, "cov_weight": 0.0},
    "two_rooms_ebjepa": TWO_ROOMS_EBJEPA,
    # EB-JEPA's ablation of it, one anti-collapse term removed (or replaced) at a time
    "two_rooms_ebjepa-no_inverse_dynamics": {**TWO_ROOMS_EBJEPA, "idm_weight": 0.0},
    "two_rooms_ebjepa-no_variance": {**TWO_ROOMS_EBJEPA, "var_weight": 0.0},
    "two_rooms_ebjepa-no_covariance": {**TWO_ROOMS_EBJEPA, "cov_weight": 0.0},
    "two_rooms_ebjepa-no_time_smoothness": {**TWO_ROOMS_EBJEPA, "time_smooth_weight": 0.0},
    "two_rooms_ebjepa-sigreg_in_place_of_vicreg": {**TWO_ROOMS_EBJEPA, "regulariser": "sigreg"},
}

# The named lists the evaluation suites run, beside the configs they name.
ABLATIONS = ("default", "ema_only", "stopgrad_only", "no_stopgrad")  # the collapse ablation, reference first
RECIPES = ("default", "koopman", "long_horizon", "multistep_k4", "long_horizon_k1")  # compared on one horizon plot
BEST_RECIPE = "koopman"  # the shipped recipe
ANOMALY_RECIPES = ("default", BEST_RECIPE)
PLANNING = ("steer", "steer_no_ema", "steer_no_var", "steer_no_cov")  # the planning model first, then its ablation
TWO_ROOMS = ("two_rooms_ebjepa", "two_rooms_ebjepa-no_inverse_dynamics", "two_rooms_ebjepa-no_variance",
             "two_rooms_ebjepa-no_covariance", "two_rooms_ebjepa-no_time_smoothness",
             "two_rooms_ebjepa-sigreg_in_place_of_vicreg")  # the Two Rooms recipe first, then its ablation  # fmt: skip
# "default": the reference world; a "_cnn" world is its namesake with the convolutional encoder
WORLDS = ("default", "world32", "world64", "two_logos", "random_speed", "noisy", "world32_cnn", "world64_cnn")


def get_config(name: str = "default", **overrides: Any) -> Config:
    if not isinstance(name, str) or name not in VARIANTS:
        raise ValueError(f"unknown config {name!r}; known: {', '.join(sorted(VARIANTS))}")
    return Config().replace(**{**VARIANTS[name], **overrides})

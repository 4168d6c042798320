"""From a saved run to a folder the browser loads: three TF.js graph models and a meta.json.

Why three models and not one: the page calls them separately (encode the observation, predict the
next latent, decode a latent into a frame; the dream is the predictor alone, applied again and
again), and the decoder is optional, exactly as in training: a run that trained none (decoder_steps 0)
is exported without one.

Path: flax apply function -> jaxpr -> plain TF ops (`export.lower`) inside a `tf.Module` whose
variables are the run's parameters -> SavedModel -> parity check against JAX on real observations
(fails above 1e-5 times the output's scale, at least 1) -> `tensorflowjs` converter -> web/model/. The folder
is built next to its destination and renamed into place, so a failed export leaves the previous one untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow as tf

from export import PARITY_FRAMES, PARITY_TRAJECTORIES
from export.destination import (
    FORMAT,
    MANIFEST_KEY,
    META_DIGEST_KEY,
    check_destination,
    check_saved_model_destination,
    manifest_of,
    meta_digest,
    meta_text,
)
from export.lower import ExportError, evaluate, trace
from export.page import OUTPUT_OF, check_page_can_run, network_inputs
from jaxjepa import checkpoint, models, probe, steer, two_rooms, two_rooms_planning, world
from jaxjepa.config import Config

PARITY_TOLERANCE = 1e-5  # max abs difference JAX vs the TF SavedModel that export accepts, per unit of output scale
PARITY_KEY = 20260601  # fixed PRNG key of the parity observations: same run, same numbers
REFERENCE_OBSERVATIONS = 16  # how many parity observations (and JAX outputs) web/model keeps for tests


class Network(NamedTuple):
    name: str  # folder under web/model/
    params_key: str  # which entry of the run's params it uses
    module: Any  # the flax module
    in_dim: int
    out_dim: int


def networks(config: Config) -> list[Network]:
    """What the page runs. The encoder is the target (EMA) encoder: the one the predictor learned to
    predict and the one every evaluation probes."""
    side = config.frame_size
    # An action-conditioned predictor reads the concatenation [z, a] (models.predictor_input): the page
    # concatenates, so the graph keeps the one plain input every predictor has.
    predictor_in = config.latent_dim + config.action_dim
    served = [
        Network("encoder", "target", models.encoder(config), config.obs_dim, config.latent_dim),
        Network("predictor", "predictor", models.predictor(config), predictor_in, config.latent_dim),
    ]
    if config.has_decoder:
        served.append(Network("decoder", "decoder", models.decoder(config), config.latent_dim, side * side))
    return served


class ServedNetwork(tf.Module):
    """One network as TF variables plus a tf.function that evaluates its jaxpr with plain TF ops."""

    def __init__(self, network: Network, params: dict):
        super().__init__(name=network.name)
        leaves_with_paths, _ = jax.tree_util.tree_flatten_with_path(params)
        self.weights = [
            tf.Variable(np.asarray(leaf, np.float32), trainable=False, name=_leaf_name(path))
            for path, leaf in leaves_with_paths
        ]
        batch = jax.export.symbolic_shape("batch")
        example = jax.ShapeDtypeStruct((*batch, network.in_dim), jnp.float32)
        abstract_params = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.float32), params)
        self._jaxpr = trace(network.module.apply, abstract_params, example)

        @tf.function(input_signature=[tf.TensorSpec([None, network.in_dim], tf.float32, name="input")])
        def serve(x):
            (out,) = evaluate(self._jaxpr, *self.weights, x)
            return out

        self.serve = serve


def _leaf_name(path) -> str:
    return "_".join(str(getattr(k, "key", k)) for k in path)


def parity_observations(config: Config) -> tuple[np.ndarray, np.ndarray | None]:
    """([N, C, H, W] real observations, [N, 2] the action that drives each to the next, or None in a world
    without actions). Bounce: evaluation-box starts, the last trajectory teleports midway. Steer and Two
    Rooms: training trajectories, so the predictor is checked on the actions it learned from."""
    if config.world == "two_rooms":  # o_t = (f_t, f_t+1), each frame's dot and walls, driven on by actions[t + 1]
        traj = two_rooms.trajectories(jax.random.key(PARITY_KEY), PARITY_TRAJECTORIES, PARITY_FRAMES + 1, config)
        frames = traj.frames[:, :-1]
        obs = jnp.concatenate([frames[:, :-1], frames[:, 1:]], axis=2)
        return _flat(obs, 3), _flat(traj.actions[:, 1:], 1)
    if config.world == "steer":
        traj = steer.trajectories(jax.random.key(PARITY_KEY), PARITY_TRAJECTORIES, PARITY_FRAMES + 1, config)
        obs = world.observations(traj.frames)[:, :-1]  # o_t = (f_t, f_t+1), driven on by actions[t + 2]
        actions = traj.actions[:, 2:]
        return _flat(obs, 3), np.asarray(actions.reshape(-1, actions.shape[-1]), np.float32)
    anomaly = jnp.array([world.NO_ANOMALY] * (PARITY_TRAJECTORIES - 1) + [PARITY_FRAMES // 2])
    traj = world.trajectories(
        jax.random.key(PARITY_KEY),
        PARITY_TRAJECTORIES,
        PARITY_FRAMES,
        config,
        margin=config.eval_start_margin,
        anomaly_frames=anomaly,
    )
    return _flat(world.observations(traj.frames), 3), None


def _flat(array: jax.Array, trailing: int) -> np.ndarray:
    """Merge every leading axis into one, keeping the last `trailing` axes."""
    return np.asarray(array.reshape(-1, *array.shape[-trailing:]), np.float32)


def jax_outputs(config: Config, params: dict, obs: np.ndarray, actions: np.ndarray | None = None) -> dict:
    """The JAX chain the page runs: latents, predicted next latents (under `actions` where the predictor
    takes them), decoded frames [N, H*W] (where the run has a decoder)."""
    enc, pred, *dec = networks(config)
    z = jax.jit(enc.module.apply)(params["target"], world.flatten_observations(jnp.asarray(obs)))
    predictor_input = models.predictor_input(z, None if actions is None else jnp.asarray(actions))
    outputs = {
        "obs": obs,
        "latent": np.asarray(z),
        "predicted": np.asarray(jax.jit(pred.module.apply)(params["predictor"], predictor_input)),
    }
    if dec:
        outputs["decoded"] = np.asarray(jax.jit(dec[0].module.apply)(params["decoder"], z))
    if actions is not None:
        outputs["action"] = np.asarray(actions, np.float32)
    return outputs


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def float16_cost(config: Config, params: dict, reference: dict[str, np.ndarray]) -> dict[str, float]:
    """What float16 weights cost: TF.js dequantises them to float32 at load time, so the model it runs
    is exactly the float32 model with every weight rounded to float16. Max abs error per output."""
    rounded = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float16).astype(np.float32), params)
    # Each network on the float32 chain's inputs, so each figure is that network's own error.
    errors = {}
    for network in networks(config):
        out = jax.jit(network.module.apply)(rounded[network.params_key], network_inputs(network.name, reference))
        errors[network.name] = max_abs(out, reference[OUTPUT_OF[network.name]])
    chain = jax_outputs(
        config, rounded, reference["obs"], reference.get("action")
    )  # the whole encode -> predict / decode chain
    last = "decoded" if "decoded" in chain else "predicted"
    errors[f"chain_{last}"] = max_abs(chain[last], reference[last])
    return errors


def save_and_check(network: Network, params: dict, reference: dict, saved_dir: Path) -> float:
    """Write the network as a SavedModel, load it back, and compare with JAX. Raise above tolerance."""
    served = ServedNetwork(network, params[network.params_key])
    tf.saved_model.save(served, str(saved_dir), signatures={"serving_default": served.serve.get_concrete_function()})
    loaded = tf.saved_model.load(str(saved_dir)).signatures["serving_default"]
    (tf_out,) = loaded(input=tf.constant(network_inputs(network.name, reference))).values()
    expected = reference[OUTPUT_OF[network.name]]
    error, allowed = max_abs(tf_out.numpy(), expected), parity_allowed(expected)
    if not error <= allowed:
        raise ExportError(
            f"{network.name}: TF SavedModel differs from JAX by {error:.3g} (> {allowed:.3g}); nothing was written"
        )
    return error


def parity_allowed(expected: np.ndarray) -> float:
    """The largest difference the parity check accepts on outputs `expected`: PARITY_TOLERANCE, scaled by their
    largest magnitude where that exceeds 1. Why scaled: float32 rounds a value of 18 to steps of 2e-6, so two
    faithful backends that sum in another order differ by 1e-5 there (a latent without the variance hinge
    grows that large), while a lowering error is of the output's own size."""
    return PARITY_TOLERANCE * max(1.0, float(np.max(np.abs(expected), initial=0.0)))


def convert(saved_dir: Path, out_dir: Path, float16: bool) -> None:
    from tensorflowjs.converters.tf_saved_model_conversion_v2 import convert_tf_saved_model

    convert_tf_saved_model(str(saved_dir), str(out_dir), quantization_dtype_map={"float16": "*"} if float16 else None)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


BROWSABLE_WORLDS = ("bounce", "steer", "two_rooms")  # what web/world.js, steer.js and rooms.js simulate


def check_world_is_browsable(config: Config) -> None:
    """The page re-creates the world in JavaScript; a run of a world it cannot simulate would show
    surprise everywhere, so refuse it plainly instead. Then what else the page needs of the run
    (`export.page`, which the command line checks before TensorFlow's import)."""
    if config.world not in BROWSABLE_WORLDS:
        raise ExportError(
            f"the browser page simulates the worlds {', '.join(BROWSABLE_WORLDS)}; this run's world is {config.world!r}"
        )
    check_page_can_run(config)


def export_run(
    run,
    out_dir: str | os.PathLike,
    *,
    float16: bool = False,
    force: bool = False,
    saved_model_dir: str | os.PathLike | None = None,
    plan_budget: dict[str, int] | None = None,
    log=print,
) -> dict:
    """Export a loaded `jaxjepa.api.Run` into `out_dir`. Returns meta.json's content. `plan_budget`
    ({"samples": N, "iterations": I, "beams": B}, each optional) sets the page's planner budget where it should
    differ from the run's."""
    config, params = run.config, run.params
    check_world_is_browsable(config)
    out_dir = Path(out_dir).absolute()
    check_destination(out_dir, run.path, force)
    if saved_model_dir is not None:
        check_saved_model_destination(Path(saved_model_dir).absolute(), out_dir, run.path)
    reference = jax_outputs(config, params, *parity_observations(config))
    partial = partial_folder(out_dir)
    try:
        parity, sizes = converted_networks(run, reference, partial, float16, saved_model_dir, log)
        meta = export_meta(run, reference, parity, sizes, float16, plan_budget)
        np.savez(partial / "reference_outputs.npz", **{k: v[:REFERENCE_OBSERVATIONS] for k, v in reference.items()})
        meta[MANIFEST_KEY] = manifest_of(partial)
        write_meta(partial, meta, sizes)
        check_destination(out_dir, run.path, force)  # again: the user may have added files meanwhile
        checkpoint.swap_into_place(partial, out_dir)  # out_dir is a folder or nothing (destination.check_place)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return meta


def partial_folder(out_dir: Path) -> Path:
    """A new folder beside `out_dir` that the export is built in, then renamed into place."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    partial.chmod(0o755)  # mkdtemp makes it private; a served folder must be readable
    return partial


def converted_networks(
    run, reference: dict, partial: Path, float16: bool, saved_model_dir: str | os.PathLike | None, log
) -> tuple[dict[str, float], dict[str, int]]:
    """Each network saved as a TF SavedModel (in `saved_model_dir`, else in a scratch folder), checked against JAX
    on the parity observations and converted into `partial`: the parity (max abs difference) and the bytes of
    each, by name."""
    with tempfile.TemporaryDirectory() as scratch:
        saved_root = Path(saved_model_dir) if saved_model_dir else Path(scratch)
        parity, sizes = {}, {}
        for network in networks(run.config):
            saved = saved_root / network.name
            parity[network.name] = save_and_check(network, run.params, reference, saved)
            log(
                f"{network.name:9s} JAX vs TF SavedModel: max abs diff {parity[network.name]:.2e} "
                f"on {len(reference['obs'])} observations"
            )
            convert(saved, partial / network.name, float16)
            sizes[network.name] = folder_bytes(partial / network.name)
    return parity, sizes


def export_meta(run, reference: dict, parity: dict, sizes: dict, float16: bool, plan_budget: dict | None) -> dict:
    """meta.json's content but for the manifest and the download size: the run, the parity and sizes, and the
    page's planner (action-conditioned runs) and float16's cost (float16 weights)."""
    config, params = run.config, run.params
    meta = _meta(run, reference, parity, sizes, float16)
    if config.action_dim:
        meta.update(planner_meta(config, params, plan_budget or {}))
    if float16:
        meta["float16_error_max_abs"] = float16_cost(config, params, reference)
    return meta


def write_meta(folder: Path, meta: dict, sizes: dict[str, int]) -> None:
    """meta.json into `folder`, its `download_bytes` set first (the model files' `sizes` and meta.json's own),
    then its digest of itself (destination.META_DIGEST_KEY), by which a re-export tells that it was edited."""
    meta["download_bytes"], meta[META_DIGEST_KEY] = 0, "0" * 64  # the digest's length, counted in meta.json's
    for _ in range(3):  # what the page fetches includes meta.json, whose length includes this count
        meta["download_bytes"] = sum(sizes.values()) + len(meta_text(meta).encode())
    meta[META_DIGEST_KEY] = meta_digest(meta)
    (folder / "meta.json").write_text(meta_text(meta))


def world_meta(config: Config) -> dict:
    """The world the page simulates, as meta.json records it: what its JavaScript physics and rendering read."""
    if config.world == "two_rooms":
        return {
            "name": config.world,
            "frame_size": config.frame_size,
            "sigma": config.sigma,
            "border_px": two_rooms.BORDER_PX,
            "wall_half_width": two_rooms.WALL_HALF_WIDTH,
            "door_half_height": two_rooms.DOOR_HALF_HEIGHT,
            "wall_padding": two_rooms.WALL_PADDING,
            "door_padding": two_rooms.DOOR_PADDING,
        }
    names = ("frame_size", "sigma", "speed", "eval_start_margin", "train_start_margin")
    meta = {"name": config.world, **{name: getattr(config, name) for name in names}}
    if config.world == "steer":
        meta.update(steer_gain=config.steer_gain, steer_max_speed=config.steer_max_speed)
    return meta


def _meta(run, reference, parity, sizes, float16) -> dict:
    config = run.config
    return {
        "format": FORMAT,
        "source_run": run.path.name if run.path else None,
        "probe_rmse_px": run.metrics.get("final", {}).get("probe_rmse_px"),
        "world": world_meta(config),
        "model": model_meta(config),
        "files": {n.name: f"{n.name}/model.json" for n in networks(config)},
        "weights_dtype": "float16" if float16 else "float32",
        "bytes": sizes,
        "parity_jax_vs_tf_max_abs": parity,
        "parity_observations": int(len(reference["obs"])),
        "parity_tolerance": PARITY_TOLERANCE,
        "parity_allowed": {n.name: parity_allowed(reference[OUTPUT_OF[n.name]]) for n in networks(config)},
        "reference_outputs": "reference_outputs.npz: the first parity observations and JAX's outputs "
        "on them (float32 weights), for the browser tests",
        "versions": {"jax": jax.__version__, "tensorflow": tf.__version__, "tensorflowjs": _tfjs_version()},
    }


PROBE_KEY = 20260602  # fixed PRNG key of the probe's trajectories (train) and its held-out ones (check)
# trajectories, and frames of each in the steer world; Two Rooms trajectories take the config's probe_seq_len
PROBE_TRAJECTORIES, PROBE_FRAMES = 128, 64


def planner_meta(config: Config, params: dict, plan_budget: dict[str, int]) -> dict:
    """What the page's planning modes (steer, Two Rooms) need besides the networks: the planner's settings
    (the run's, as planning.py uses them, but for a `plan_budget` given to fit the browser's slower arithmetic,
    or to plan as an evaluation with other planning settings does: they are no part of the training) and a
    linear probe latent -> (y, x) px, with which it draws the path the planner imagines. In Two Rooms, the
    evaluation's protocol too: a plan refined every few actions, its success radius."""
    planner = {
        "method": "mppi",
        "cost": config.plan_cost,
        "horizon": config.plan_horizon,
        "samples": plan_budget.get("samples", config.plan_samples),
        "iterations": plan_budget.get("iterations", config.plan_iterations),
        "run_samples": config.plan_samples,
        "run_iterations": config.plan_iterations,
        "noise": config.plan_noise,
        "temperature": config.plan_temperature,
        "success_px": config.success_px,
        "actions_per_plan": 1,
    }
    if config.world == "two_rooms":
        planner.update(success_px=two_rooms.SUCCESS_RADIUS_PX, actions_per_plan=two_rooms_planning.ACTIONS_PER_PLAN)
        planner["search"] = {  # the page's latent search (web/search.js), as planning.search runs it
            "beams": plan_budget.get("beams", config.search_beams),
            "run_beams": config.search_beams,
            "depth": config.search_depth,
            "move_steps": config.search_move_steps,
            "memory": config.search_memory,
            "memory_radius": config.search_memory_radius,
            "surprise_share": config.search_surprise_share,
            "switch_margin": config.search_switch_margin,
            "replan": config.search_replan,
            "reversals": config.search_reversals,
        }
    return {"planner": planner, "probe": position_probe(config, params)}


def probe_data(key: jax.Array, config: Config, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """(target-encoder latents [N, d], the newest frame's logo or dot position [N, 2]) of training-style
    trajectories."""
    if config.world == "two_rooms":
        latents = probe.two_rooms_latents(params, key, PROBE_TRAJECTORIES, config.probe_seq_len, config)
        z, positions = latents.z, latents.positions
    else:
        traj = steer.trajectories(key, PROBE_TRAJECTORIES, PROBE_FRAMES, config)
        obs = world.flatten_observations(world.observations(traj.frames)).reshape(-1, config.obs_dim)
        z, positions = jax.jit(models.encoder(config).apply)(params["target"], obs), traj.positions[:, 1:]
    return np.asarray(z.reshape(-1, config.latent_dim), np.float64), np.asarray(positions.reshape(-1, 2), np.float64)


def position_probe(config: Config, params: dict) -> dict:
    """Least squares (y, x) = z W + b on one set of trajectories, its RMSE on another. The predictor is
    trained to predict target latents, so the probe of encoded latents also reads imagined ones."""
    fit_key, check_key = jax.random.split(jax.random.key(PROBE_KEY))
    z, positions = probe_data(fit_key, config, params)
    solution, *_ = np.linalg.lstsq(np.c_[z, np.ones(len(z))], positions, rcond=None)
    weights, bias = solution[:-1], solution[-1]
    z_check, positions_check = probe_data(check_key, config, params)
    rmse = float(np.sqrt(np.mean((z_check @ weights + bias - positions_check) ** 2)))
    return {"weights": weights.tolist(), "bias": bias.tolist(), "rmse_px": rmse}


def model_meta(config: Config) -> dict:
    """The networks' shapes, layer widths in order; a CNN encoder lists its channels, then its head's widths."""
    hidden = (*config.cnn_channels, *config.cnn_head_hidden) if config.encoder_kind == "cnn" else config.encoder_hidden
    shapes = {
        "obs_dim": config.obs_dim,
        "latent_dim": config.latent_dim,
        "action_dim": config.action_dim,
        "encoder_kind": config.encoder_kind,
        "encoder": [config.obs_dim, *hidden, config.latent_dim],
        "predictor": [config.latent_dim + config.action_dim, *config.predictor_hidden, config.latent_dim],
        "encoder_params": "target (EMA) encoder",
    }
    if config.has_decoder:
        shapes["decoder"] = [config.latent_dim, *config.decoder_hidden, config.frame_size**2]
    return shapes


def _tfjs_version() -> str:
    import tensorflowjs

    return tensorflowjs.__version__

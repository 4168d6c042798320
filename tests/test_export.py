"""The exporter: jaxpr -> TF lowering checked against JAX itself, and `python -m export` end to end.

Skipped (with the reason) where TensorFlow is not installed: it is the `export` extra, which CI installs.
"""

import json
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from export import PARITY_OBSERVATIONS
from export import __main__ as export_cli  # the package sets the environment TensorFlow reads at import
from export.destination import FORMAT, ExportError
from jaxjepa import get_config, load_run, models, save_run
from tests.conftest import NEEDS_TENSORFLOW, Deferred

REPO = Path(__file__).resolve().parents[1]

pytestmark = NEEDS_TENSORFLOW
tf, build, lower = Deferred("tensorflow"), Deferred("export.build"), Deferred("export.lower")

# Ops a TF.js graph model may contain for our networks; anything else might not run in the browser.
BROWSER_OPS = {
    "Const",
    "Placeholder",
    "Identity",
    "MatMul",
    "_FusedMatMul",
    "BiasAdd",
    "AddV2",
    "Add",
    "Sub",
    "Mul",
    "RealDiv",
    "Square",
    "Tanh",
    "Sigmoid",
    "Reshape",
    "Pow",
    "Neg",
    "Exp",
}


def lowered(fn, *args):
    """Evaluate fn's jaxpr with TF ops (eagerly) on the same arguments."""
    closed = lower.trace(fn, *args)
    flat = jax.tree_util.tree_leaves(args)
    return [out.numpy() for out in lower.evaluate(closed, *[tf.constant(np.asarray(a)) for a in flat])]


# Compiled whole: run eagerly, every operation of a model's initialisation is compiled on its own.
jitted_init = jax.jit(models.init_params, static_argnums=1)


@pytest.mark.parametrize("which", ["encoder", "predictor", "decoder"])
@pytest.mark.parametrize("recipe", ["default", "koopman"])  # koopman: 64-d latent, affine predictor
def test_lowered_networks_match_jax_on_random_inputs(tiny, which, recipe):
    config = tiny if recipe == "default" else get_config("koopman")
    params = jitted_init(jax.random.key(1), config)
    network = {n.name: n for n in build.networks(config)}[which]
    x = jax.random.normal(jax.random.key(2), (9, network.in_dim))
    expected = jax.jit(network.module.apply)(params[network.params_key], x)
    (got,) = lowered(network.module.apply, params[network.params_key], x)
    chex.assert_shape(got, (9, network.out_dim))
    np.testing.assert_allclose(got, np.asarray(expected), atol=1e-5, rtol=1e-5)


def test_the_cnn_encoder_lowers_to_the_same_numbers_with_a_free_batch():
    """Its patch gathers (pad, strided slices, reshapes) and matmuls, on a symbolic batch of any size."""
    config = get_config("two_rooms_ebjepa")
    encoder = models.encoder(config)
    params = jax.jit(encoder.init)(jax.random.key(1), jnp.zeros((1, config.obs_dim)))
    batch = jax.export.symbolic_shape("batch")
    closed = lower.trace(encoder.apply, params, jax.ShapeDtypeStruct((*batch, config.obs_dim), jnp.float32))
    weights = [tf.constant(np.asarray(w)) for w in jax.tree_util.tree_leaves(params)]
    spec = [tf.TensorSpec([None, config.obs_dim], tf.float32)]
    fn = tf.function(lambda obs: lower.evaluate(closed, *weights, obs)[0], input_signature=spec)
    for n in (1, 3):
        obs = np.asarray(jax.random.uniform(jax.random.key(n), (n, config.obs_dim)))
        np.testing.assert_allclose(
            fn(obs).numpy(), np.asarray(jax.jit(encoder.apply)(params, obs)), atol=1e-5, rtol=1e-5
        )


def test_symbolic_batch_becomes_a_free_tf_batch_dimension(tiny):
    params = jitted_init(jax.random.key(1), tiny)
    module = models.decoder(tiny)
    batch = jax.export.symbolic_shape("batch")
    closed = lower.trace(module.apply, params["decoder"], jax.ShapeDtypeStruct((*batch, tiny.latent_dim), jnp.float32))
    weights = [tf.constant(np.asarray(w)) for w in jax.tree_util.tree_leaves(params["decoder"])]
    fn = tf.function(
        lambda z: lower.evaluate(closed, *weights, z)[0],
        input_signature=[tf.TensorSpec([None, tiny.latent_dim], tf.float32)],
    )
    for n in (1, 5):
        z = np.asarray(jax.random.normal(jax.random.key(n), (n, tiny.latent_dim)))
        np.testing.assert_allclose(fn(z).numpy(), np.asarray(module.apply(params["decoder"], z)), atol=1e-6)


def test_symbolic_batch_in_reshape_and_broadcast():
    def fn(x):  # a reshape and a broadcast whose shapes name the symbolic batch
        pairs = x.reshape(x.shape[0], 2, 3)
        return pairs + jnp.broadcast_to(pairs.sum(axis=1, keepdims=True), pairs.shape)

    batch = jax.export.symbolic_shape("batch")
    closed = lower.trace(fn, jax.ShapeDtypeStruct((*batch, 6), jnp.float32))
    tf_fn = tf.function(lambda x: lower.evaluate(closed, x)[0], input_signature=[tf.TensorSpec([None, 6], tf.float32)])
    for n in (1, 4):
        x = np.asarray(jax.random.normal(jax.random.key(n), (n, 6)))
        np.testing.assert_allclose(tf_fn(x).numpy(), np.asarray(fn(x)), atol=1e-6)


def test_other_primitives_lower_to_the_same_numbers():
    """Primitives our networks do not use today (a variant might): each checked against JAX."""

    def many(x, w):
        # min/max and convert_element_type, integer_pow < 0, erfc (exact GELU), custom_jvp_call (relu)
        y = jnp.clip(x, -0.5, 0.7) ** -2 + jax.nn.gelu(x, approximate=False) + jax.nn.relu(x)
        y = jnp.where(x > 0, y, jnp.exp(x)).reshape(3, 4, 5).transpose(1, 0, 2)  # select_n, transpose
        batched = jnp.einsum("abc,acd->abd", y, jnp.broadcast_to(w, (4, 5, 2)))  # dot_general, batch dims
        return batched.sum(axis=(1, 2)) / jnp.sqrt(jnp.abs(batched).max() + 1.0), jnp.tanh(x).astype(jnp.float32)

    x = jax.random.normal(jax.random.key(3), (12, 5)) + 0.1
    w = jax.random.normal(jax.random.key(4), (5, 2))
    for got, want in zip(lowered(many, x, w), many(x, w)):
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-5, atol=1e-5)


def test_unknown_primitive_stops_the_export_with_its_name():
    with pytest.raises(ExportError, match="cannot lower JAX primitive 'cumsum'"):
        lowered(lambda x: jnp.cumsum(x), jnp.ones(4))


@pytest.fixture(scope="module")
def exported(tiny_export):
    """One tiny trained run, saved as train.py would, and exported to a folder: (run, folder, meta)."""
    return tiny_export


def test_export_writes_three_graph_models_and_meta(exported, tiny):
    _, out, meta = exported
    on_disk = json.loads((out / "meta.json").read_text())
    assert on_disk == meta and meta["format"] == FORMAT
    assert meta["world"]["frame_size"] == tiny.frame_size and meta["world"]["sigma"] == tiny.sigma
    assert meta["model"]["encoder"] == [tiny.obs_dim, *tiny.encoder_hidden, tiny.latent_dim]
    for name in ("encoder", "predictor", "decoder"):
        graph = json.loads((out / meta["files"][name]).read_text())
        assert graph["format"] == "graph-model"
        ops = {node["op"] for node in graph["modelTopology"]["node"]}
        assert ops <= BROWSER_OPS, f"{name} uses ops the browser may not run: {ops - BROWSER_OPS}"
        assert 0 <= meta["parity_jax_vs_tf_max_abs"][name] <= build.PARITY_TOLERANCE
        assert meta["parity_allowed"][name] >= build.PARITY_TOLERANCE  # what the check allowed, scale included
    assert meta["parity_observations"] == PARITY_OBSERVATIONS  # the count export.measure states
    fetched_by_page = [p for p in out.rglob("*") if p.is_file() and p.name != "reference_outputs.npz"]
    assert meta["download_bytes"] == sum(p.stat().st_size for p in fetched_by_page) > sum(meta["bytes"].values())
    assert not list(out.parent.glob(".model.*"))  # nothing half-written left behind


def test_reference_outputs_are_jax_of_the_run(exported):
    run_dir, out, _ = exported
    run = load_run(run_dir)
    stored = dict(np.load(out / "reference_outputs.npz"))
    live = build.jax_outputs(run.config, run.params, stored["obs"])
    for key in ("latent", "predicted", "decoded"):
        np.testing.assert_allclose(stored[key], live[key], atol=1e-5)  # batch 16 vs 128: other XLA tiling
    np.testing.assert_allclose(stored["latent"], run.encode(stored["obs"]), atol=1e-5)


def test_float16_halves_the_weights_and_reports_its_error(exported, tmp_path):
    run_dir, _, meta32 = exported
    meta16 = build.export_run(load_run(run_dir), tmp_path / "model16", float16=True, log=lambda *_: None)
    assert meta16["weights_dtype"] == "float16"
    assert meta16["bytes"]["encoder"] < 0.6 * meta32["bytes"]["encoder"]
    errors = meta16["float16_error_max_abs"]
    assert set(errors) == {"encoder", "predictor", "decoder", "chain_decoded"}
    assert all(0 < e < 0.1 for e in errors.values())


def test_export_never_overwrites_a_foreign_folder(exported, tmp_path):
    run_dir, _, _ = exported
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not a jaxjepa export"):
        build.export_run(load_run(run_dir), foreign, log=lambda *_: None)
    assert (foreign / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["/no/such/run"], "cannot export: no run directory"),
        ([], "the following arguments are required: run"),
        (["/no/such/run", "--plan-samples", "0"], "--plan-samples must be >= 1, got 0"),
        (["/no/such/run", "--search-beams", "-2"], "--search-beams must be >= 1, got -2"),
        (["/no/such/run", "--planning", "no_such_recipe"], "argument --planning: invalid choice"),
    ],
)
def test_cli_errors_are_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        export_cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cli_exports_a_run(exported, tmp_path, capsys):
    run_dir, _, _ = exported
    export_cli.main([str(run_dir), "--out", str(tmp_path / "cli-model")])
    out = capsys.readouterr().out
    assert "download" in out and (tmp_path / "cli-model" / "encoder" / "model.json").is_file()
    assert "loads only folders under it: export with --out web/NAME" in out  # the page cannot load tmp_path


def test_the_page_hint_gives_the_address_of_an_export_under_web():
    web = REPO / "web"
    assert export_cli.page_hint(web / "model").endswith("open http://localhost:8000/")
    assert export_cli.page_hint(web / "mine" / "f16").endswith("open http://localhost:8000/?model=mine/f16")
    assert export_cli.page_hint(web / "my model+1").endswith("open http://localhost:8000/?model=my%20model%2B1")
    assert "--out web/NAME" in export_cli.page_hint(REPO / "build" / "web-model-f16")


def test_parity_failure_stops_the_export_and_writes_nothing(exported, tmp_path, monkeypatch):
    run_dir, _, _ = exported
    monkeypatch.setattr("export.build.PARITY_TOLERANCE", -1.0)  # no difference can pass now
    with pytest.raises(ExportError, match="TF SavedModel differs from JAX"):
        build.export_run(load_run(run_dir), tmp_path / "model", log=lambda *_: None)
    assert not (tmp_path / "model").exists() and not list(tmp_path.glob(".model.*"))


def test_the_parity_check_allows_float32_rounding_of_large_outputs():
    # a latent without the variance hinge grows past 16, where float32 steps by 2e-6: rounding alone is 1e-5
    assert build.parity_allowed(np.full((4, 3), 0.5, np.float32)) == build.PARITY_TOLERANCE
    assert build.parity_allowed(np.array([[-18.0, 2.0]], np.float32)) == pytest.approx(18 * build.PARITY_TOLERANCE)


def test_a_keypoint_encoder_and_a_page_search_of_part_moves_are_refused_in_one_line():
    build.check_world_is_browsable(get_config("default"))  # the default passes
    build.check_world_is_browsable(get_config("two_rooms_ebjepa"))  # and a CNN encoder
    with pytest.raises(ExportError, match="only MLP and CNN encoders can be exported"):
        build.check_world_is_browsable(get_config("keypoints_long_horizon"))
    with pytest.raises(ExportError, match="kept search path needs whole moves per plan"):
        build.check_world_is_browsable(get_config("two_rooms_ebjepa", search_move_steps=3))
    build.check_world_is_browsable(get_config("two_rooms_ebjepa", search_move_steps=3, search_replan="fresh"))
    longer_moves = get_config("two_rooms_ebjepa", search_move_steps=6, search_replan="fresh")  # 4 actions a plan
    with pytest.raises(ExportError, match="search_move_steps 6 actions, and 4 action.s. per plan never complete one"):
        build.check_world_is_browsable(longer_moves)
    build.check_world_is_browsable(longer_moves.replace(search_memory=0))
    with pytest.raises(ExportError, match="plan of 2 actions .plan_horizon. is shorter than the 4 actions it applies"):
        build.check_world_is_browsable(get_config("two_rooms_ebjepa", plan_horizon=2))  # no planner could apply 4
    build.check_world_is_browsable(get_config("two_rooms_ebjepa", plan_horizon=4))


def save_and_export(root, config, params, plan_budget=None):
    """(run folder, export folder, meta) of a run of `config` with `params`, saved under `root` and exported."""
    run_dir = save_run(root / "seed0", config, params, {"final": {}})
    meta = build.export_run(load_run(run_dir), root / "model", plan_budget=plan_budget, log=lambda *_: None)
    return run_dir, root / "model", meta


def train_and_export(root, config):
    """save_and_export of `config` trained on seed 0."""
    from jaxjepa import make_train, seed_keys

    return save_and_export(root, config, jax.jit(make_train(config))(seed_keys(0)[0]).params)


@pytest.fixture(scope="module")
def exported_steer(tmp_path_factory):
    """A tiny action-conditioned run (the steer world), saved and exported."""
    from conftest import tiny_steer_config

    return train_and_export(tmp_path_factory.mktemp("export-steer"), tiny_steer_config())


def test_the_action_conditioned_predictor_is_exported_on_z_and_a(exported_steer):
    run_dir, out, meta = exported_steer
    run = load_run(run_dir)
    latent_dim = run.config.latent_dim
    assert meta["model"]["action_dim"] == 2 and meta["model"]["predictor"][0] == latent_dim + 2
    assert 0 <= meta["parity_jax_vs_tf_max_abs"]["predictor"] <= build.PARITY_TOLERANCE
    assert meta["parity_observations"] == PARITY_OBSERVATIONS
    stored = dict(np.load(out / "reference_outputs.npz"))
    assert stored["action"].shape == (len(stored["obs"]), 2) and np.abs(stored["action"]).max() <= 1.0
    live = models.predictor(run.config).apply(
        run.params["predictor"], models.predictor_input(jnp.asarray(stored["latent"]), jnp.asarray(stored["action"]))
    )
    np.testing.assert_allclose(stored["predicted"], np.asarray(live), atol=1e-5)
    graph = json.loads((out / meta["files"]["predictor"]).read_text())
    assert {node["op"] for node in graph["modelTopology"]["node"]} <= BROWSER_OPS


def test_steer_meta_tells_the_page_its_physics_planner_and_probe(exported_steer):
    run_dir, _, meta = exported_steer
    config = load_run(run_dir).config
    assert meta["world"]["name"] == "steer"
    assert (
        meta["world"]["steer_gain"] == config.steer_gain and meta["world"]["steer_max_speed"] == config.steer_max_speed
    )
    assert meta["planner"]["samples"] == config.plan_samples and meta["planner"]["horizon"] == config.plan_horizon
    probe = meta["probe"]
    assert np.shape(probe["weights"]) == (config.latent_dim, 2) and len(probe["bias"]) == 2
    assert 0 < probe["rmse_px"] < 4.0  # a tiny run's latents still say roughly where the logo is


def test_a_world_the_page_cannot_simulate_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr("export.build.BROWSABLE_WORLDS", ("bounce", "steer"))  # every world has its page today
    with pytest.raises(ExportError, match="this run's world is 'two_rooms'"):
        build.check_world_is_browsable(get_config("two_rooms_ebjepa"))
    with pytest.raises(ExportError, match="one logo at a fixed speed without noise; this run's world has pixel_noise"):
        build.check_world_is_browsable(get_config("noisy"))


# What the CNN encoder adds to BROWSER_OPS: its patch gathers, and the shape arithmetic of a free batch.
CNN_OPS = {"PadV2", "StridedSlice", "ConcatV2", "Transpose", "Shape", "GatherV2", "Prod", "Pack", "_FusedMatMul"}


PAGE_BEAMS = 5  # the export's --search-beams in the Two Rooms fixture


@pytest.fixture(scope="module")
def exported_two_rooms(tmp_path_factory):
    """A tiny Two Rooms run (its CNN encoder, no decoder), saved and exported with a search of other beams. Its
    parameters are the initial ones: what is checked (the graphs, their parity, the meta) holds for any
    parameters, and compiling the CNN's training program would take most of this module's time."""
    config = get_config(
        "two_rooms_ebjepa",
        steps=8,
        train_sequences=8,
        seq_len=7,
        rollout_steps=4,  # at most seq_len - 2
        batch_size=8,
        cnn_channels=(4, 8),
        cnn_head_hidden=(16,),
        latent_dim=8,
        predictor_hidden=(16,),
        probe_sequences=4,
        probe_seq_len=6,
    )
    params = jitted_init(jax.random.key(0), config)
    return save_and_export(tmp_path_factory.mktemp("export-two-rooms"), config, params, {"beams": PAGE_BEAMS})


def test_a_two_rooms_run_exports_its_cnn_encoder_and_predictor_with_parity(exported_two_rooms):
    from jaxjepa import two_rooms, two_rooms_planning

    run_dir, out, meta = exported_two_rooms
    config = load_run(run_dir).config
    assert set(meta["files"]) == {"encoder", "predictor"} and not (out / "decoder").exists()  # decoder_steps 0
    assert "decoder" not in meta["model"] and meta["model"]["encoder_kind"] == "cnn"
    assert meta["parity_observations"] == PARITY_OBSERVATIONS
    for name in ("encoder", "predictor"):
        assert 0 <= meta["parity_jax_vs_tf_max_abs"][name] <= build.PARITY_TOLERANCE
        graph = json.loads((out / meta["files"][name]).read_text())
        ops = {node["op"] for node in graph["modelTopology"]["node"]}
        assert ops <= BROWSER_OPS | CNN_OPS, f"{name} uses ops the browser may not run: {ops - BROWSER_OPS - CNN_OPS}"
    # The stored observations are laid out as the planner's encoder reads them: (f_t, f_t+1), dot then walls each.
    stored = dict(np.load(out / "reference_outputs.npz"))
    traj = two_rooms.trajectories(
        jax.random.key(build.PARITY_KEY), build.PARITY_TRAJECTORIES, build.PARITY_FRAMES + 1, config
    )
    layout = two_rooms.Layout(traj.layout.wall_x[0], traj.layout.door_y[0])
    first = two_rooms_planning.flat_observation(traj.positions[0, 0], traj.positions[0, 1], layout, config)
    np.testing.assert_allclose(stored["obs"][0].reshape(-1), np.asarray(first), atol=1e-6)
    live = build.jax_outputs(config, load_run(run_dir).params, stored["obs"], stored["action"])
    for key in ("latent", "predicted"):
        np.testing.assert_allclose(stored[key], live[key], atol=1e-5)


def test_two_rooms_meta_tells_the_page_its_world_planner_and_probe(exported_two_rooms):
    from jaxjepa import two_rooms
    from jaxjepa.two_rooms_planning import ACTIONS_PER_PLAN

    run_dir, _, meta = exported_two_rooms
    config = load_run(run_dir).config
    assert meta["world"] == {
        "name": "two_rooms",
        "frame_size": config.frame_size,
        "sigma": config.sigma,
        "border_px": two_rooms.BORDER_PX,
        "wall_half_width": two_rooms.WALL_HALF_WIDTH,
        "door_half_height": two_rooms.DOOR_HALF_HEIGHT,
        "wall_padding": two_rooms.WALL_PADDING,
        "door_padding": two_rooms.DOOR_PADDING,
    }
    planner = meta["planner"]
    assert planner["success_px"] == two_rooms.SUCCESS_RADIUS_PX and planner["actions_per_plan"] == ACTIONS_PER_PLAN
    assert (planner["samples"], planner["horizon"], planner["noise"]) == (
        config.plan_samples,
        config.plan_horizon,
        config.plan_noise,
    )
    assert planner["search"] == {
        "beams": PAGE_BEAMS,
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
    assert PAGE_BEAMS != config.search_beams
    assert np.shape(meta["probe"]["weights"]) == (config.latent_dim, 2) and np.isfinite(meta["probe"]["rmse_px"])

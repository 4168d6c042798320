"""The browser demo in real headless Chromium (Debian's, driven by Playwright).

What the page must do: load the committed web/model with no console errors; give the same latents and frames
as JAX (TF.js on the cpu backend, max abs difference <= 1e-4; `python -m export.measure` checks every
backend); run the same physics as jaxjepa/world.py; raise the alarm a few frames after "inject anomaly";
hide the dream but keep the bars when the decoder is off; say in plain words when the model is missing or
broken. In steer mode (web/model-steer): run the same physics as jaxjepa/steer.py, give JAX's predictions
under actions, and plan the logo onto a clicked goal within the evaluation's 60 steps. In Two Rooms mode
(web/model-two-rooms): run the same physics and rendering as jaxjepa/two_rooms.py, give JAX's latents and
predictions, take a goal from a click in free space (none from a click in a wall) and plan towards it.

Two JAX comparisons, because web/model is committed without its training checkpoint:
- the committed model against the JAX outputs that `python -m export` computed from the run's own
  parameters and stored beside it (web/model/reference_outputs.npz);
- a freshly trained tiny run, exported here, against JAX computed live from its parameters
  (needs TensorFlow; skipped without it).
Skipped only where Playwright or Chromium is absent (CI installs both). A screenshot of the page is
saved to test-artifacts/web-demo.png.
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np
import pytest
from conftest import tiny_config, wall_blind

from export import __main__ as export_cli
from export import browser, measure
from jaxjepa import get_config, load_run, planning, steer, two_rooms, two_rooms_planning, world
from jaxjepa.config import Config

pytestmark = pytest.mark.skipif(
    browser.missing_browser_reason() is not None, reason=str(browser.missing_browser_reason())
)

MODEL = browser.WEB_DIR / "model"
STEER = browser.WEB_DIR / "model-steer"
ROOMS = browser.WEB_DIR / "model-two-rooms"
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
TOLERANCE = 1e-4
STEER_PLANNER = json.loads((STEER / "meta.json").read_text())["planner"]
STEER_HORIZON = STEER_PLANNER["horizon"]
CONTROLS_DISABLED = (
    "[...document.querySelectorAll('.controls button, .controls input, .controls select')].map(el => el.disabled)"
)


def damaged_copies(root: Path) -> dict[str, Path]:
    """Copies of the committed model, each broken in one way a download or a disk can break it."""
    weights = "encoder/group1-shard1of1.bin"
    copies = {name: Path(shutil.copytree(MODEL, root / name)) for name in ("corrupt", "missing-bin")}
    data = bytearray((MODEL / weights).read_bytes())
    data[100] ^= 0x40  # one flipped bit, same size: only the sha256 can tell
    (copies["corrupt"] / weights).write_bytes(bytes(data))
    (copies["missing-bin"] / weights).unlink()
    copies["nan"] = nan_copy(MODEL, weights, root / "nan")
    copies["nan-steer"] = nan_copy(STEER, "predictor/group1-shard1of1.bin", root / "nan-steer")
    return {f"{name}-model": folder for name, folder in copies.items()}


def nan_copy(model: Path, weights: str, folder: Path) -> Path:
    """A copy of `model` whose `weights` file is all NaN, with its sha256 in the manifest: it loads fine,
    and only the outputs show it."""
    shutil.copytree(model, folder)
    size = (model / weights).stat().st_size
    (folder / weights).write_bytes(np.full(size // 4, np.nan, np.float32).tobytes())
    meta = json.loads((folder / "meta.json").read_text())
    meta["manifest"][weights] = hashlib.sha256((folder / weights).read_bytes()).hexdigest()
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


META_LACKING = {  # a mounted folder: the model, the field its meta.json lacks
    "steer-no-planner": (STEER, "planner"),
    "no-encoder": (MODEL, "files.encoder"),
    "no-latent-dim": (MODEL, "model.latent_dim"),
    "rooms-no-surprise-share": (ROOMS, "planner.search.surprise_share"),  # the search would remember nothing
}


ROOMS_SEARCH = json.loads((ROOMS / "meta.json").read_text())["planner"]["search"]
MOST_BEAMS = export_cli.PAGE_MAX_SEARCH_BEAMS
AT_THE_PAGES_MOST = {  # beams and depth both at the most python -m export gives the page's search
    "beams": MOST_BEAMS,
    "depth": export_cli.PAGE_MAX_PLAN_PREDICTIONS // (8 * MOST_BEAMS * ROOMS_SEARCH["move_steps"]),
}
# the fewest MPPI refinements of the steer model's samples past the most predictor steps the page takes each plan
STEER_ITERATIONS_PAST_THE_PAGE = export_cli.PAGE_MAX_PLAN_PREDICTIONS // (STEER_PLANNER["samples"] * STEER_HORIZON) + 1


META_EDITED = {  # a mounted folder: the model, a field its meta.json holds, the value it is edited to, what is said
    "latent-dim-text": (MODEL, "model.latent_dim", "32", 'model.latent_dim = "32", where this page needs a whole'),
    "sigma-zero": (MODEL, "world.sigma", 0, "world.sigma = 0, where this page needs a number from 0.1 to"),
    "sigma-wider-than-the-box": (MODEL, "world.sigma", 17, "world.sigma = 17, where this page needs a number from 0.1"),
    "speed-past-the-box": (MODEL, "world.speed", 1.5, "world.speed = 1.5, where this page needs a number from 0 to 1"),
    "margin-past-the-middle": (  # the logo would start anywhere in [-5, 20] of a 16-px box
        MODEL,
        "world.eval_start_margin",
        20,
        "world.eval_start_margin = 20, where this page needs a whole number from 0 to (world.frame_size - 2) / 2",
    ),
    "files-text": (MODEL, "files", "x", "meta.json is not a jaxjepa export"),
    "world-of-32-px": (MODEL, "world.frame_size", 32, "model.obs_dim = 512, where its world of 32\u00d732 px"),
    "steer-no-samples": (STEER, "planner.samples", 0, "planner.samples = 0, where this page needs a whole number"),
    "steer-too-many-samples": (  # python -m export refuses it (PAGE_MAX_SAMPLED_ACTIONS)
        STEER,
        "planner.samples",
        export_cli.PAGE_MAX_SAMPLED_ACTIONS,
        f"planner.samples = {export_cli.PAGE_MAX_SAMPLED_ACTIONS} and planner.horizon = {STEER_HORIZON}: "
        f"{export_cli.PAGE_MAX_SAMPLED_ACTIONS * STEER_HORIZON} sampled actions, more than the "
        f"{export_cli.PAGE_MAX_SAMPLED_ACTIONS} this page",
    ),
    "steer-too-many-iterations": (  # python -m export refuses it (PAGE_MAX_PLAN_PREDICTIONS): each plan would hang
        STEER,
        "planner.iterations",
        STEER_ITERATIONS_PAST_THE_PAGE,
        f"planner.iterations = {STEER_ITERATIONS_PAST_THE_PAGE}, planner.samples = {STEER_PLANNER['samples']} and "
        f"planner.horizon = {STEER_HORIZON}: "
        f"{STEER_ITERATIONS_PAST_THE_PAGE * STEER_PLANNER['samples'] * STEER_HORIZON} predictor steps each plan, more "
        f"than the {export_cli.PAGE_MAX_PLAN_PREDICTIONS} this page can take each plan",
    ),
    "steer-short-probe": (STEER, "probe.weights", [[0, 0]], "probe.weights = [[0,0]], where this page needs"),
    "steer-cost-typo": (STEER, "planner.cost", "lst", 'planner.cost = "lst", where this page needs "sum" or "last"'),
    "rooms-replan-typo": (
        ROOMS,
        "planner.search.replan",
        "kept",
        'planner.search.replan = "kept", where this page needs "keep" or "fresh"',
    ),
    "rooms-short-plan": (  # python -m export refuses it: each plan has 4 actions applied
        ROOMS,
        "planner.horizon",
        2,
        "planner.horizon = 2, shorter than the planner.actions_per_plan = 4 actions applied from each plan",
    ),
    "rooms-move-of-3": (  # python -m export refuses it: a plan of 4 actions would cut a move of 3
        ROOMS,
        "planner.search.move_steps",
        3,
        "planner.search.move_steps = 3, which does not divide planner.actions_per_plan = 4",
    ),
    "rooms-memory-of-moves-never-whole": (  # python -m export refuses it: no plan of 4 actions completes a move of 6
        ROOMS,
        "planner.search",
        {**ROOMS_SEARCH, "move_steps": 6, "replan": "fresh"},
        "planner.search.move_steps = 6, more than the planner.actions_per_plan = 4 actions applied from each plan",
    ),
    "rooms-beams-past-the-page": (  # python -m export refuses it (PAGE_MAX_SEARCH_BEAMS)
        ROOMS,
        "planner.search.beams",
        MOST_BEAMS + 1,
        f"planner.search.beams = {MOST_BEAMS + 1}, more than the {MOST_BEAMS} beams this page can spread by "
        "farthest-point sampling each move",
    ),
    "rooms-search-too-deep": (  # python -m export refuses it (PAGE_MAX_PLAN_PREDICTIONS)
        ROOMS,
        "planner.search.depth",
        1_000_000,
        f"planner.search.beams = {ROOMS_SEARCH['beams']}, planner.search.depth = 1000000 and "
        f"planner.search.move_steps = {ROOMS_SEARCH['move_steps']}: "
        f"{8 * ROOMS_SEARCH['beams'] * 1_000_000 * ROOMS_SEARCH['move_steps']} predictor steps each plan, more than "
        f"the {export_cli.PAGE_MAX_PLAN_PREDICTIONS} this page can take each plan",
    ),
}
LACKING = object()  # the field is deleted


def meta_lacking(root: Path, changes: dict | None = None) -> dict[str, Path]:
    """meta.json files each without one field the page needs, or (`changes`: META_EDITED) with one field edited
    (the page reads no other file before it checks)."""
    changes = changes or {name: (model, field, LACKING) for name, (model, field) in META_LACKING.items()}
    folders = {}
    for name, (model, field, value, *_) in changes.items():
        meta = json.loads((model / "meta.json").read_text())
        *parents, last = field.split(".")
        node = meta
        for key in parents:
            node = node[key]
        if value is LACKING:
            del node[last]
        else:
            node[last] = value
        folders[name] = root / name
        folders[name].mkdir()
        (folders[name] / "meta.json").write_text(json.dumps(meta))
    return folders


ROOMS_SEARCHES = {  # a mounted copy of the Two Rooms model: its meta.json's search settings changed (None: none)
    "rooms-small-search": {"beams": 16, "run_beams": 16, "reversals": "allowed", "replan": "fresh", "memory": 0},
    "rooms-no-search": None,
    "rooms-search-at-the-page": AT_THE_PAGES_MOST,
}


def rooms_searches(root: Path) -> dict[str, Path]:
    """Copies of the Two Rooms model whose meta.json holds other search settings (ROOMS_SEARCHES), as an export
    of a run with other settings, or one without the search, writes them."""
    folders = {}
    for name, changes in ROOMS_SEARCHES.items():
        folders[name] = Path(shutil.copytree(ROOMS, root / name))
        meta = json.loads((ROOMS / "meta.json").read_text())
        if changes is None:
            del meta["planner"]["search"]
        else:
            meta["planner"]["search"].update(changes)
        (folders[name] / "meta.json").write_text(json.dumps(meta))
    return folders


ODD_NAME = "my model é+1"  # a folder name python -m export --out web/NAME writes: a space, an accent, a "+"


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_export):
    broken = tmp_path_factory.mktemp("broken")
    meta = json.loads((MODEL / "meta.json").read_text())
    (broken / "meta.json").write_text(json.dumps(meta))
    (broken / "encoder").mkdir()
    (broken / "encoder" / "model.json").write_text("{ this is not a model")
    mounts = {"broken-model": broken, **damaged_copies(tmp_path_factory.mktemp("damaged"))}
    mounts.update(meta_lacking(tmp_path_factory.mktemp("meta")))
    mounts.update(meta_lacking(tmp_path_factory.mktemp("meta-edited"), META_EDITED))
    mounts.update(rooms_searches(tmp_path_factory.mktemp("rooms-searches")))
    mounts[ODD_NAME] = MODEL
    if tiny_export is not None:
        mounts["tiny-model"] = tiny_export[1]
    with browser.serve(mounts=mounts) as url, browser.chromium() as chromium:
        yield Site(url, chromium, Tabs(chromium))


class Tabs:
    """Pages kept open from one test to the next. A page sent to a new address keeps its renderer process, whose
    V8 has compiled TF.js (1.4 MB of JavaScript) already, and loads the demo in a fraction of a new page's time (a
    new process, TF.js parsed and compiled again). The new address starts a new document, so no script state
    carries over, and the page keeps nothing in storage. A page given an init script or a route is not reused:
    it would keep them."""

    def __init__(self, chromium):
        self.chromium = chromium
        self.idle: dict[int, list] = {}  # viewport width -> pages released and not yet reused
        self.consoles: dict = {}  # page -> the list its console errors go to (None: none recorded)

    def open(self, url: str, console: list | None, width: int):
        idle = self.idle.get(width, [])
        page = idle.pop() if idle else self.new_page(width)
        self.consoles[page] = console
        page.goto(url)
        return page

    def new_page(self, width: int):
        page = self.chromium.new_page(viewport={"width": width, "height": 1000})
        page.on("console", lambda message: self.record(page, message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.record(page, f"uncaught: {error}"))
        return page

    def record(self, page, error: str) -> None:
        if self.consoles.get(page) is not None:
            self.consoles[page].append(error)

    def release(self, page) -> None:
        """The test is done with `page`: its document is left for a blank one, which runs nothing meanwhile."""
        self.consoles[page] = None
        page.goto("about:blank")
        self.idle.setdefault(page.viewport_size["width"], []).append(page)


class Site(NamedTuple):
    url: str  # the local server's, with web/ and the tests' folders mounted
    chromium: object  # Playwright's Browser
    tabs: Tabs


def open_demo(site, query="", console=None, width=1100):
    """The page at `query`, loaded, on the cpu backend unless the query names one: the page then never starts
    webgl, which headless Chromium emulates in software, slowly; only the tests of the backend choice need it.
    `release(site, page)` hands the page on to the next test."""
    if "backend=" not in query:
        query += ("&" if query else "?") + "backend=cpu"
    page = site.tabs.open(site.url + "index.html" + query, console, width)
    browser.wait_ready(page)
    return page


def release(site, page) -> None:
    site.tabs.release(page)


def wait_for(page, expression, timeout_s=10.0):
    page.wait_for_function(expression, timeout=timeout_s * 1000)


def advance(page, frames):
    page.evaluate(f"for (let i = 0; i < {frames}; i++) window.jepa.tick()")


def in_browser(page, name, rows):
    return np.asarray(page.evaluate(f"(rows) => window.jepa.{name}(rows)", np.asarray(rows, np.float64).tolist()))


@pytest.fixture(scope="module")
def demo(site):
    """The committed model, paused (the tests advance it frame by frame, so every run sees the same
    world), with its console errors recorded."""
    console = []
    page = open_demo(site, "?seed=7&paused=1", console)
    yield page, console
    release(site, page)


def test_page_loads_the_model_with_no_console_errors(demo):
    page, console = demo
    assert "Model loaded" in page.inner_text("#status")
    assert page.is_hidden("#error")
    advance(page, 5)
    assert page.evaluate("window.jepa.app.history.length") >= 4
    assert page.evaluate("window.jepa.app.latent.length") == 32
    assert page.evaluate("tf.version.tfjs") == measure.tfjs_version()  # the version export.measure states
    assert console == []


def test_tfjs_matches_the_jax_outputs_of_the_committed_run(demo):
    page, _ = demo
    ref = dict(np.load(MODEL / "reference_outputs.npz"))
    obs = ref["obs"].reshape(len(ref["obs"]), -1)
    latent = in_browser(page, "encode", obs)
    assert np.max(np.abs(latent - ref["latent"])) <= TOLERANCE
    assert np.max(np.abs(in_browser(page, "predict", ref["latent"]) - ref["predicted"])) <= TOLERANCE
    assert np.max(np.abs(in_browser(page, "decode", ref["latent"]) - ref["decoded"])) <= TOLERANCE


def test_tfjs_matches_live_jax_on_a_fresh_export(site, tiny_export):
    if tiny_export is None:
        pytest.skip("tensorflow/tensorflowjs not installed: cannot export a fresh model here")
    run = load_run(tiny_export[0])
    page = open_demo(site, "?model=tiny-model&paused=1")
    traj = world.trajectories(jax.random.key(11), 3, 12, run.config, margin=run.config.eval_start_margin)
    obs = np.asarray(world.observations(traj.frames)).reshape(-1, 2, 16, 16)
    z = run.encode(obs)
    assert np.max(np.abs(in_browser(page, "encode", obs.reshape(len(obs), -1)) - z)) <= TOLERANCE
    assert np.max(np.abs(in_browser(page, "predict", z) - run.predict(z))) <= TOLERANCE
    decoded = in_browser(page, "decode", z).reshape(-1, 16, 16)
    assert np.max(np.abs(decoded - run.decode(z))) <= TOLERANCE
    release(site, page)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_javascript_world_is_the_python_world(demo, seed):
    """Same start and same teleport target: positions equal exactly, pixels to float32 rounding."""
    page, _ = demo
    config, length, anomaly_frame = Config(), 90, 40
    key = jax.random.key(seed)
    start_key, anomaly_key = jax.random.split(key)  # the draws world.trajectory makes, in its order
    position, velocity = world.random_start(start_key, config.eval_start_margin, config)
    jumped, _ = world.teleport(anomaly_key, position, velocity, config)
    expected = world.trajectory(key, length, config, margin=config.eval_start_margin, anomaly_frame=anomaly_frame)
    got = page.evaluate(
        "([start, length, frame, jump]) => JepaWorld.trajectory(start, length, window.jepa.app.world, frame, jump)",
        [
            {
                "position": np.asarray(position, np.float64).tolist(),
                "velocity": np.asarray(velocity, np.float64).tolist(),
            },
            length,
            anomaly_frame,
            np.asarray(jumped, np.float64).tolist(),
        ],
    )
    np.testing.assert_array_equal(np.asarray(got["positions"], np.float32), np.asarray(expected.positions))
    np.testing.assert_array_equal(np.asarray(got["velocities"], np.float32), np.asarray(expected.velocities))
    frames = np.asarray(got["frames"]).reshape(length, config.frame_size, config.frame_size)
    assert np.max(np.abs(frames - np.asarray(expected.frames))) <= 1e-6
    bounced = np.any(np.diff(np.sign(np.asarray(expected.velocities)), axis=0) != 0)
    assert bounced  # the comparison covered at least one bounce


def test_inject_anomaly_raises_the_alarm_within_a_few_frames(demo):
    page, _ = demo
    advance(page, 40)
    assert page.evaluate("window.jepa.app.history.filter(h => h.alarm).length") == 0  # no false alarm so far
    page.click("#inject-anomaly")
    advance(page, 4)
    assert page.evaluate("window.jepa.app.history.some(h => h.alarm)")
    injected = page.evaluate("window.jepa.app.injected[0]")
    first_alarm = page.evaluate("window.jepa.app.history.find(h => h.alarm).frame")
    assert 0 <= first_alarm - injected <= 3
    assert page.is_visible("#alarm")
    history = page.evaluate("window.jepa.app.history")
    before = [h["surprise"] for h in history if h["frame"] < injected]
    spike = max(h["surprise"] for h in history if injected <= h["frame"] <= injected + 3)
    assert spike > 8 * np.median(before)  # the trace shows the spike
    page.click("#dream")
    wait_for(page, "document.querySelectorAll('#dream-strip canvas').length === 30")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-demo.png"), full_page=True)
    assert (ARTIFACTS / "web-demo.png").stat().st_size > 10_000


def test_decoder_off_hides_the_dream_and_keeps_the_bars(site):
    page = open_demo(site, "?seed=3&speed=30")
    wait_for(page, "window.jepa.app.history.length >= 3")
    page.click("#dream")
    assert page.is_visible("#dream-panel") and page.is_visible("#expectation")
    page.uncheck("#decoder-toggle")
    assert page.is_hidden("#dream-panel") and page.is_hidden("#expectation")
    assert page.is_visible("#latent-bars") and page.is_visible("#no-decoder-note")
    assert page.is_disabled("#dream")
    latent_before = page.evaluate("window.jepa.app.latent")
    frame = page.evaluate("window.jepa.app.frameIndex")
    wait_for(page, f"window.jepa.app.frameIndex > {frame + 2}")
    assert page.evaluate("window.jepa.app.latent") != latent_before  # the bars keep moving
    assert page.evaluate("window.jepa.app.history.at(-1).pixel") is None
    page.check("#decoder-toggle")
    assert page.is_visible("#dream-panel") and page.is_enabled("#dream")
    page.click("#play-pause")  # pause: the world stops; play: it moves on
    paused_at = page.evaluate("window.jepa.app.frameIndex")
    page.wait_for_timeout(300)
    assert page.evaluate("window.jepa.app.frameIndex") == paused_at and page.inner_text("#play-pause") == "play"
    page.click("#play-pause")
    wait_for(page, f"window.jepa.app.frameIndex > {paused_at}")
    page.fill("#speed", "5")  # a range input: fill sets its value and fires `input`
    assert page.evaluate("window.jepa.app.fps") == 5 and page.inner_text("#speed-value") == "5"
    start = page.evaluate("window.jepa.app.state.position")
    page.click("#new-world")
    assert page.evaluate("window.jepa.app.frameIndex") <= 2 and page.evaluate("window.jepa.app.state.position") != start
    release(site, page)


@pytest.mark.parametrize(
    "query, words",
    [
        ("?model=no-such-model", "meta.json could not be read"),
        ("?model=broken-model", "the file broken-model/encoder/model.json is corrupt (its sha256 differs"),
        ("?model=corrupt-model", "the file corrupt-model/encoder/group1-shard1of1.bin is corrupt (its sha256 differs"),
        ("?model=missing-bin-model", "the file missing-bin-model/encoder/group1-shard1of1.bin is missing (HTTP 404)"),
        ("?model=//example.com", "never another site's address"),  # nothing is fetched from elsewhere
    ],
)
def test_missing_or_broken_model_is_explained_in_plain_words(site, query, words):
    page = open_demo(site, query)
    wait_for(page, "!document.getElementById('error').hidden")
    text = page.inner_text("#error")
    folder = query.removeprefix("?model=")
    if folder in ("no-such-model", "//example.com"):  # not a model this page offers: the choices, not a command
        assert words in text and "the models this page offers are" in text and "python -m export" not in text
    else:  # the command that makes this folder, not web/model's
        assert words in text and f"python -m export RUN_DIR --out web/{folder} " in text and "runs/seed0" not in text
        assert "python -m http.server -d web" in text
    assert all(page.evaluate(CONTROLS_DISABLED))
    release(site, page)


def test_measure_command_writes_its_figures(tmp_path):
    """`python -m export.measure` (README's figures) runs end to end; here with few repeats, into a README of its
    own, whose block names the JSON where it is. A subprocess: Playwright's sync API allows one running instance
    per thread, and `site` holds one."""
    out, readme = tmp_path / "web.json", tmp_path / "docs" / "README.md"
    readme.parent.mkdir()
    readme.write_text("top\n<!-- export.measure:begin -->\nstale figures\n<!-- export.measure:end -->\nkept\n")
    done = subprocess.run(
        [sys.executable, "-m", "export.measure", "--repeats", "2", "--out", str(out), "--readme", str(readme)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    (model,) = results["models"]
    assert (
        model["model_download_bytes"]
        == sum(p.stat().st_size for p in MODEL.rglob("*") if p.name == "model.json" or p.suffix == ".bin")
        + (MODEL / "meta.json").stat().st_size
    )
    assert model["console_errors"] == []
    for figures in model["backends"].values():
        assert max(figures["jax_vs_tfjs_max_abs"].values()) <= TOLERANCE
        assert figures["step_ms"] > 0 and figures["dream_ms"] > 0
    assert "export.measure:begin" in done.stdout
    text = readme.read_text()
    assert "numbers: `../web.json`" in text and "stale figures" not in text
    checked = json.loads((MODEL / "meta.json").read_text())["parity_observations"]
    assert f"(on {checked} observations)" in text  # as many as the measured export was checked on
    assert text.startswith("top\n") and text.endswith("kept\n")


def test_weights_that_give_nan_stop_the_demo_with_a_plain_message(site):
    console = []
    page = open_demo(site, "?model=nan-model&seed=1", console)
    wait_for(page, "!document.getElementById('error').hidden")
    assert "not finite (NaN or infinity)" in page.inner_text("#error")
    assert "Stopped" in page.inner_text("#status") and all(page.evaluate(CONTROLS_DISABLED))
    frame = page.evaluate("window.jepa.app.frameIndex")
    page.wait_for_timeout(400)
    assert page.evaluate("window.jepa.app.frameIndex") == frame and console == []
    release(site, page)


def test_controls_stay_disabled_until_the_model_is_loaded(site):
    url, chromium = site.url, site.chromium
    console, held = [], []
    page = chromium.new_page()
    page.on("pageerror", lambda error: console.append(str(error)))
    page.route("**/model/decoder/group1-shard1of1.bin", lambda route: held.append(route))  # held until we say
    page.goto(url + "index.html?seed=2&backend=cpu")
    page.wait_for_function("window.jepa !== undefined")
    assert all(page.evaluate(CONTROLS_DISABLED))
    page.evaluate(
        "['new-world', 'inject-anomaly', 'dream', 'play-pause'].forEach(id => document.getElementById(id).click())"
    )
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    held[0].continue_()
    browser.wait_ready(page)
    assert not any(page.evaluate(CONTROLS_DISABLED)) and console == []
    assert page.evaluate("window.jepa.app.injected.length") == 0
    page.close()


def test_a_teleport_queued_while_paused_is_shown_and_cleared_by_a_new_world(demo):
    page, console = demo
    page.click("#inject-anomaly")
    assert page.is_visible("#teleport-queued") and page.evaluate("window.jepa.app.pendingTeleport")
    page.click("#new-world")
    assert page.is_hidden("#teleport-queued") and not page.evaluate("window.jepa.app.pendingTeleport")
    advance(page, 5)
    assert page.evaluate("window.jepa.app.injected") == [] and console == []
    page.click("#inject-anomaly")
    advance(page, 1)
    assert page.is_hidden("#teleport-queued") and len(page.evaluate("window.jepa.app.injected")) == 1


# The truth strip's first frame as the 16x16 frame it was drawn from (each pixel a 2x2 block of its 32x32 canvas).
TRUTH_FRAME = """() => {
    const data = document.querySelector('#truth-strip canvas').getContext('2d').getImageData(0, 0, 32, 32).data;
    return Array.from({length: 256}, (_, i) => data[4 * (64 * Math.floor(i / 16) + 2 * (i % 16))] / 255);
}"""


def test_the_dream_shows_the_reality_of_a_teleport_already_queued(demo):
    page, console = demo
    page.click("#new-world")
    advance(page, 3)
    page.click("#inject-anomaly")
    page.fill("#dream-steps", "3")
    page.click("#dream")
    shown = np.array(page.evaluate(TRUTH_FRAME))
    advance(page, 1)  # the teleport lands on this frame
    assert len(page.evaluate("window.jepa.app.injected")) == 1
    real = np.array(
        page.evaluate("Array.from(JepaWorld.render(window.jepa.app.state.position, window.jepa.app.world))")
    )
    assert np.max(np.abs(shown - np.clip(real, 0, 1))) <= 1 / 255 + 1e-6 and console == []


def test_the_surprise_meter_stays_empty_until_there_is_a_threshold(demo):
    page, _ = demo
    page.click("#new-world")
    advance(page, 4)
    assert page.evaluate("window.jepa.app.history.every(h => h.threshold === null)")
    assert page.evaluate("document.getElementById('meter-fill').style.width") == "0px"
    advance(page, 12)
    assert page.evaluate("window.jepa.app.history.at(-1).threshold") is not None
    assert page.evaluate("document.getElementById('meter-fill').style.width") != "0px"


@pytest.mark.parametrize("typed", ["0", "-3", "201", "2.5", ""])
def test_dream_steps_out_of_range_are_refused_visibly(demo, typed):
    page, _ = demo
    advance(page, 2)  # the model dreams from what it has seen: two frames, whichever test ran before
    page.fill("#dream-steps", "3")
    page.click("#dream")
    page.fill("#dream-steps", typed)
    assert page.evaluate("document.querySelectorAll('#dream-strip canvas').length") == 3  # kept while typing
    page.click("#dream")
    assert page.is_visible("#dream-steps-message") and "no dream shown" in page.inner_text("#dream-steps-message")
    assert "whole number from 1 to 200" in page.inner_text("#dream-steps-message")
    # "no dream shown": the dream shown before, and its reality, are gone
    assert page.evaluate("document.querySelectorAll('#dream-strip canvas, #truth-strip canvas').length") == 0
    page.fill("#dream-steps", "45")
    page.click("#dream")
    assert page.is_hidden("#dream-steps-message")
    assert page.evaluate("document.querySelectorAll('#dream-strip canvas').length") == 45


def test_speed_label_shows_the_measured_rate_and_backend_the_frame_time(site):
    page = open_demo(site, "?seed=4&speed=30&backend=cpu")
    assert page.evaluate("window.jepa.backend") == "cpu" and "your choice" in page.inner_text("#backend-note")
    assert page.evaluate("Object.keys(window.jepa.app.backendTimes)") == ["cpu"]  # only the backend asked for
    assert page.evaluate("Object.keys(tf.engine().registry)") == ["cpu"]  # webgl not even started to load the model
    steps, timing = page.evaluate("[window.jepa.app.backendSteps.cpu, window.jepa.backendTiming]")
    assert len(steps) == timing["trials"]  # a logo model's step is far inside the budget: every trial is run
    page.wait_for_timeout(800)
    start = page.evaluate("[window.jepa.app.frameIndex, performance.now()]")
    page.wait_for_timeout(1500)
    shown, frame_ms, end = page.evaluate(
        "[document.getElementById('real-fps').textContent, "
        "document.getElementById('frame-ms').textContent, "
        "[window.jepa.app.frameIndex, performance.now()]]"
    )
    measured = 1000 * (end[0] - start[0]) / (end[1] - start[1])
    assert abs(float(shown) - measured) <= 0.3 * measured + 1, (shown, measured)
    assert 0 < float(frame_ms) <= 1.2 * 1000 / measured  # the work of a frame fits in its period
    page.select_option("#backend", "auto")  # times the backends not timed yet, then keeps the fastest
    page.wait_for_function("document.getElementById('backend-note').textContent.includes('the fastest')")
    times = page.evaluate("window.jepa.app.backendTimes")
    assert "webgl" in times and page.evaluate("window.jepa.backend") == min(times.items(), key=lambda kv: kv[1])[0]
    steps = page.evaluate("window.jepa.app.backendSteps")  # each backend counts its best step, past the warm-up
    assert times == {name: min(ms) for name, ms in steps.items()} and all(len(ms) >= 2 for ms in steps.values())
    assert f"backend {page.evaluate('window.jepa.backend')})" in page.inner_text("#status")  # the one in use now
    release(site, page)


def test_the_backend_chosen_last_is_the_one_in_use(site):
    """Two choices at once (the second while the first still starts webgl): the page ends on the second, and
    its select, note and status all say so."""
    page = open_demo(site, "?seed=6&paused=1")
    page.evaluate(
        "() => { const select = document.getElementById('backend');"
        " for (const name of ['webgl', 'cpu']) { select.value = name; select.dispatchEvent(new Event('change')); } }"
    )
    assert page.evaluate("window.jepa.switching.then(() => tf.getBackend())") == "cpu"
    assert page.input_value("#backend") == "cpu" and "running on cpu" in page.inner_text("#backend-note")
    assert "backend cpu)" in page.inner_text("#status")
    page.select_option("#backend", "webgl")  # timed already: a switch, and the status follows it
    assert page.evaluate("window.jepa.switching.then(() => tf.getBackend())") == "webgl"
    assert "backend webgl)" in page.inner_text("#status") and "running on webgl" in page.inner_text("#backend-note")
    release(site, page)


def test_texts_say_what_the_page_does(site):
    page = open_demo(site, "?seed=5&paused=1")
    advance(page, 3)
    assert "sounds" not in page.inner_text("body")
    page.uncheck("#decoder-toggle")
    note = page.inner_text("#surprise-note")
    assert "; ." not in note and note.rstrip().endswith("frames.")
    trace = page.locator("#surprise-trace").bounding_box()
    caption = page.locator("#trace-caption").bounding_box()
    assert caption["y"] >= trace["y"] + trace["height"]  # under the trace, not over its threshold line
    release(site, page)


def test_nothing_overflows_a_390_px_phone_screen(site):
    page = open_demo(site, "?seed=6&paused=1", width=390)
    advance(page, 3)
    page.click("#dream")
    widest = page.evaluate(
        "Math.max(document.documentElement.scrollWidth, "
        "...[...document.querySelectorAll('body *')].map(el => el.getBoundingClientRect().right))"
    )
    assert widest <= 390, widest
    release(site, page)


KOOPMAN = browser.WEB_DIR / "model-koopman"


def test_the_koopman_model_is_one_switch_away_and_matches_jax(site):
    page = open_demo(site, "?seed=8&paused=1")
    with page.expect_navigation():
        page.select_option("#model-choice", "model-koopman")
    browser.wait_ready(page)
    assert "Model loaded" in page.inner_text("#status") and "model=model-koopman" in page.url
    meta = json.loads((KOOPMAN / "meta.json").read_text())
    assert meta["model"]["latent_dim"] == 64 and meta["model"]["predictor"] == [64, 64]
    assert page.inner_text(".latent-dim") == "64"
    ref = dict(np.load(KOOPMAN / "reference_outputs.npz"))
    latent = in_browser(page, "encode", ref["obs"].reshape(len(ref["obs"]), -1))
    assert np.max(np.abs(latent - ref["latent"])) <= TOLERANCE
    assert np.max(np.abs(in_browser(page, "predict", ref["latent"]) - ref["predicted"])) <= TOLERANCE
    assert np.max(np.abs(in_browser(page, "decode", ref["latent"]) - ref["decoded"])) <= TOLERANCE
    release(site, page)


@pytest.fixture(scope="module")
def steer_demo(site):
    """The committed steer model, paused (the test advances it), with its console errors recorded."""
    console = []
    page = open_demo(site, "?model=model-steer&seed=3&paused=1", console)
    yield page, console
    release(site, page)


def test_javascript_steer_world_is_the_python_steer_world(demo):
    """Random actions from a random start, walls included: positions and velocities equal exactly."""
    page, _ = demo
    config = tiny_config(world="steer", action_dim=2)
    start = steer.random_state(jax.random.key(5), config.eval_start_margin, config)
    actions = 1.3 * jax.random.normal(jax.random.key(6), (120, 2))  # beyond [-1, 1] too: both clip them
    expected = steer.rollout(start, actions, config)
    got = page.evaluate(
        "([start, actions, world]) => SteerWorld.rollout(start, actions, world)",
        [
            {
                "position": np.asarray(start.position, np.float64).tolist(),
                "velocity": [float(v) for v in start.velocity],
            },
            np.asarray(actions, np.float64).tolist(),
            {
                "frame_size": config.frame_size,
                "steer_gain": config.steer_gain,
                "steer_max_speed": config.steer_max_speed,
            },
        ],
    )
    np.testing.assert_array_equal(np.asarray(got["positions"], np.float32), np.asarray(expected.positions))
    np.testing.assert_array_equal(np.asarray(got["velocities"], np.float32), np.asarray(expected.velocities))
    assert np.any(np.abs(np.asarray(expected.velocities)) == config.steer_max_speed)  # the speed clip was hit
    assert np.any(np.diff(np.sign(np.asarray(expected.velocities)), axis=0) != 0)
    odd = [float("nan"), float("inf"), -float("inf"), 0.25]  # both clip them alike: NaN pushes nothing
    got = page.evaluate("(odd) => [SteerWorld.clipAction(odd.slice(0, 2)), SteerWorld.clipAction(odd.slice(2))]", odd)
    np.testing.assert_array_equal(got, np.asarray(steer.clip_action(np.asarray(odd, np.float32).reshape(2, 2))))


def test_steer_model_in_tfjs_matches_jax_with_actions(steer_demo):
    page, console = steer_demo
    meta = json.loads((STEER / "meta.json").read_text())
    assert meta["model"]["action_dim"] == 2 and meta["model"]["predictor"][0] == meta["model"]["latent_dim"] + 2
    ref = dict(np.load(STEER / "reference_outputs.npz"))
    latent = in_browser(page, "encode", ref["obs"].reshape(len(ref["obs"]), -1))
    assert np.max(np.abs(latent - ref["latent"])) <= TOLERANCE
    predicted = in_browser(page, "predict", np.concatenate([ref["latent"], ref["action"]], axis=-1))
    assert np.max(np.abs(predicted - ref["predicted"])) <= TOLERANCE
    assert console == []


def click_goal(page, goal):
    """Click the steer view where the logo's centre would be at `goal` (y, x) px."""
    box = page.locator("#steer-view").bounding_box()
    scale = (box["width"] - 2) / 16  # the canvas has a 1 px border; positions are pixel centres
    page.click("#steer-view", position={"x": (goal[1] + 0.5) * scale, "y": (goal[0] + 0.5) * scale})


@pytest.mark.parametrize("goal", [(8.0, 8.0), (12.5, 2.5)])
def test_steer_mode_plans_the_logo_onto_a_clicked_goal(steer_demo, goal):
    page, console = steer_demo
    assert page.is_visible("#steer-view") and page.is_hidden("#inject-anomaly") and page.is_hidden("#surprise-trace")
    page.click("#new-world")
    click_goal(page, goal)
    np.testing.assert_allclose(page.evaluate("window.jepa.app.steer.goal"), goal, atol=0.05)
    distances = []
    for _ in range(60):  # the evaluation's episode length
        advance(page, 1)
        position = page.evaluate("window.jepa.app.state.position")
        distances.append(float(np.hypot(position[0] - goal[0], position[1] - goal[1])))
        if distances[-1] <= 1.0:
            break
    assert min(distances) <= 1.0, distances
    assert page.evaluate("window.jepa.app.steer.reachedAt") == len(distances)
    assert "reached after" in page.inner_text("#steer-readout")
    assert float(page.inner_text("#plan-ms")) > 0 and len(page.evaluate("window.jepa.app.steer.path")) == 10
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-steer.png"), full_page=True)
    assert console == []


def test_a_non_finite_planner_stops_the_steer_mode_with_a_plain_message(site):
    page = open_demo(site, "?model=nan-steer-model&seed=2&paused=1")
    assert "Model loaded" in page.inner_text("#status")
    click_goal(page, (8.0, 8.0))
    advance(page, 1)
    assert "the planner gave a number that is not finite" in page.inner_text("#error")
    assert all(page.evaluate(CONTROLS_DISABLED))
    release(site, page)


@pytest.fixture(scope="module")
def rooms_demo(site):
    """The committed Two Rooms model, paused (the test advances it), with its console errors recorded."""
    console = []
    page = open_demo(site, "?model=model-two-rooms&seed=3&paused=1", console)
    yield page, console
    release(site, page)


def rooms_world() -> tuple[dict, Config]:
    """The committed export's world, as the page reads it, and the Python config of that world."""
    shown = json.loads((ROOMS / "meta.json").read_text())["world"]
    assert (shown["border_px"], shown["wall_half_width"], shown["door_half_height"]) == (
        two_rooms.BORDER_PX,
        two_rooms.WALL_HALF_WIDTH,
        two_rooms.DOOR_HALF_HEIGHT,
    )
    assert (shown["wall_padding"], shown["door_padding"]) == (two_rooms.WALL_PADDING, two_rooms.DOOR_PADDING)
    return shown, get_config("two_rooms_ebjepa", frame_size=shown["frame_size"], sigma=shown["sigma"])


def test_javascript_two_rooms_world_is_the_python_world(demo):
    """One action sequence into the wall, along its face, through the door, into the border and at random
    (beyond [-1, 1] too: both clip): positions equal exactly, frames to float32 rounding of exp."""
    page, _ = demo
    shown, config = rooms_world()
    layout = two_rooms.Layout(np.float32(24.0), np.float32(20.0))
    lo, hi = two_rooms.box(config)
    actions = np.concatenate(
        [
            np.tile([0.1, 1.0], (15, 1)),  # right, into the wall's left face above the door, and stuck there
            np.tile([1.0, 0.0], (8, 1)),  # down along the face, to the door's rows
            np.tile([0.2, 1.3], (10, 1)),  # right, through the door
            np.tile([-1.5, 0.0], (40, 1)),  # up, into the border
            1.5 * np.asarray(jax.random.normal(jax.random.key(7), (80, 2))),
        ]
    ).astype(np.float32)
    runs = []
    for start in ([10.3, 12.6], [9.0, 24.4]):  # the second inside the wall's interior: moved onto a face first
        expected = np.asarray(
            two_rooms.rollout(np.float32(start), two_rooms_planning.clip_action(actions), layout, config)
        )[1:]
        got = page.evaluate(
            "([start, actions, layout, world]) => RoomsWorld.rollout(start, actions, layout, world)",
            [start, actions.astype(np.float64).tolist(), {"wall_x": 24, "door_y": 20}, shown],
        )
        np.testing.assert_array_equal(np.asarray(got, np.float32), expected)
        runs.append(expected)
    expected = runs[0]
    x = expected[:, 1]
    assert np.any(x == 24 - 1) and np.any(x < 24 - 1) and np.any(x > 24 + 1)  # stopped at the face, then crossed
    assert np.any(expected == lo) and np.any(expected == hi)  # the border stopped it
    previous, current = expected[40], expected[41]
    observed = page.evaluate(
        "([previous, position, layout, world]) => RoomsWorld.observe({ previous, position, layout }, world)",
        [previous.tolist(), current.tolist(), {"wall_x": 24, "door_y": 20}, shown],
    )
    want = np.asarray(two_rooms_planning.flat_observation(previous, current, layout, config))
    assert np.max(np.abs(np.asarray(observed) - want)) <= 1e-6
    walls = np.asarray(observed).reshape(4, config.frame_size, config.frame_size)[[1, 3]]
    np.testing.assert_array_equal(walls, want.reshape(4, config.frame_size, config.frame_size)[[1, 3]])


def test_javascript_two_rooms_draws_layouts_and_starts_as_python_does(demo):
    """The page's own draws (its generator, not JAX's): whole-pixel walls and doors in random_layout's
    ranges, starts uniform over both rooms and never in the wall's columns."""
    page, _ = demo
    shown, config = rooms_world()
    draws = page.evaluate(
        """(world) => {
            const random = JepaWorld.randomSource(5);
            return Array.from({ length: 300 }, () => {
                const layout = RoomsWorld.randomLayout(random, world);
                return [layout.wall_x, layout.door_y, ...RoomsWorld.randomStart(random, layout, world)];
            });
        }""",
        shown,
    )
    wall_x, door_y, y, x = np.asarray(draws).T
    size = config.frame_size
    assert np.all(wall_x == np.round(wall_x)) and np.all(door_y == np.round(door_y))
    assert wall_x.min() >= two_rooms.WALL_PADDING and wall_x.max() < size - two_rooms.WALL_PADDING
    assert door_y.min() >= two_rooms.DOOR_PADDING and door_y.max() < size - two_rooms.DOOR_PADDING
    assert len(set(wall_x)) > 4 and len(set(door_y)) > 10
    lo, hi = two_rooms.box(config)
    assert y.min() >= lo and y.max() <= hi and x.min() >= lo and x.max() <= hi
    assert np.all(np.abs(x - wall_x) >= two_rooms.WALL_HALF_WIDTH)
    assert 0.3 < np.mean(x > wall_x) < 0.7  # both rooms


def test_two_rooms_model_in_tfjs_matches_jax(rooms_demo):
    page, console = rooms_demo
    meta = json.loads((ROOMS / "meta.json").read_text())
    assert set(meta["files"]) == {"encoder", "predictor"} and meta["model"]["encoder_kind"] == "cnn"
    ref = dict(np.load(ROOMS / "reference_outputs.npz"))
    latent = in_browser(page, "encode", ref["obs"].reshape(len(ref["obs"]), -1))
    assert np.max(np.abs(latent - ref["latent"])) <= TOLERANCE
    predicted = in_browser(page, "predict", np.concatenate([ref["latent"], ref["action"]], axis=-1))
    assert np.max(np.abs(predicted - ref["predicted"])) <= TOLERANCE
    assert console == []


def test_a_slow_step_is_timed_fewer_times_at_load(rooms_demo):
    """A Two Rooms step plans, so ten of them would be slow: the page stops timing a backend once its timed steps add
    up to the budget, and not before."""
    page, _ = rooms_demo
    steps, timing = page.evaluate("[window.jepa.app.backendSteps.cpu, window.jepa.backendTiming]")
    assert np.isfinite(timing["budgetMs"])
    assert 1 <= len(steps) <= timing["trials"] and sum(steps[:-1]) < timing["budgetMs"]
    assert len(steps) == timing["trials"] or sum(steps) >= timing["budgetMs"]
    assert page.evaluate("window.jepa.app.roomsPlanner") == "search"  # the note names the step it timed: MPPI's
    assert "one MPPI replanning step, best of those timed" in page.inner_text("#backend-note")


def click_cell(page, position, size):
    """Click the Two Rooms view where the dot's centre would be at `position` (y, x) px."""
    box = page.locator("#steer-view").bounding_box()
    scale = (box["width"] - 2) / size  # the canvas has a 1 px border; positions are pixel centres
    page.click("#steer-view", position={"x": (position[1] + 0.5) * scale, "y": (position[0] + 0.5) * scale})


def test_two_rooms_mode_takes_a_goal_in_free_space_and_plans_towards_it(rooms_demo):
    page, console = rooms_demo
    assert page.is_visible("#steer-view") and page.is_visible(".rooms-only") and page.is_hidden(".logo-only")
    assert page.is_hidden("#inject-anomaly") and "Model loaded" in page.inner_text("#status")
    page.click("#new-world")
    meta = json.loads((ROOMS / "meta.json").read_text())
    size = meta["world"]["frame_size"]
    state = page.evaluate("window.jepa.app.state")
    wall_x, door_y = state["layout"]["wall_x"], state["layout"]["door_y"]
    in_wall = (door_y - 10.0 if door_y >= 15 else door_y + 10.0, float(wall_x))
    click_cell(page, in_wall, size)
    assert page.evaluate("window.jepa.app.steer.goal") is None
    assert page.is_visible("#goal-message") and "inside a wall" in page.inner_text("#goal-message")
    lo, _ = two_rooms.box(rooms_world()[1])
    on_face = (in_wall[0], wall_x + two_rooms.WALL_HALF_WIDTH + 0.25)  # where the dot may rest, on the face's pixel
    for grey in (on_face, (lo + 0.25, in_wall[1] - 10.0)):  # and on the border's
        assert page.evaluate("([p, s]) => RoomsWorld.isFree(p, s.layout, window.jepa.app.world)", [grey, state])
        click_cell(page, grey, size)
        assert page.evaluate("window.jepa.app.steer.goal") is None
        assert "inside a wall: no goal set" in page.inner_text("#goal-message")
    assert page.inner_text("#goal-message").startswith("goal (y, x) = (")  # as plan.py --goal Y X names a goal
    start = state["position"]
    goal = (float(door_y), float(wall_x + 10 if start[1] < wall_x else wall_x - 10))  # in the other room
    click_cell(page, goal, size)
    np.testing.assert_allclose(page.evaluate("window.jepa.app.steer.goal"), goal, atol=0.1)
    assert page.is_hidden("#goal-message") and page.inner_text("#steer-readout").startswith("goal (y, x) = (")
    advance(page, 5)  # two plans: every 4 actions
    steps = page.evaluate("window.jepa.app.steer.steps")
    assert steps == 5 or page.evaluate("window.jepa.app.steer.reachedAt") == steps
    assert page.evaluate("window.jepa.app.state.position") != start
    readout = page.inner_text("#steer-readout") + " " + page.inner_text("#plan-ms")
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", readout)]
    assert len(numbers) >= 5 and all(np.isfinite(numbers)) and float(page.inner_text("#plan-ms")) > 0
    assert "NaN" not in page.inner_text("body") and "Infinity" not in page.inner_text("body")
    search = meta["planner"]["search"]
    assert page.evaluate("window.jepa.app.roomsPlanner") == "search"
    assert "latent search" in page.inner_text("#plan-budget")
    assert 0 < len(page.evaluate("window.jepa.app.steer.path")) <= search["depth"] * search["move_steps"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-two-rooms.png"), full_page=True)
    click_cell(page, (1.0, 1.0), size)  # beyond the border wall: refused, and the goal set before stands
    assert "outside the box: goal unchanged" in page.inner_text("#goal-message")
    np.testing.assert_allclose(page.evaluate("window.jepa.app.steer.goal"), goal, atol=0.1)
    page.select_option("#rooms-planner", "mppi")
    assert "MPPI" in page.inner_text("#plan-budget")
    assert page.inner_text("#plan-ms") == "–"  # the search's times are not MPPI's
    advance(page, 4)
    assert len(page.evaluate("window.jepa.app.steer.path")) == meta["planner"]["horizon"]
    page.select_option("#rooms-planner", "search")
    assert console == []


SEARCH_EPISODE = """([start, goal, layout, world, settings, memorySize, steps, perPlan]) => {
    const blind = { wall_x: -100, door_y: layout.door_y };  // the model's world: no wall
    const predict = (latents, actions) => latents.map((z, i) => RoomsWorld.move(z, actions[i], blind, world));
    const memory = RoomsSearch.emptyMemory(memorySize, settings.surprise_share), hold = settings.move_steps;
    const positions = [];
    const kept = { path: [], length: RoomsSearch.moveLength(predict, goal, hold) };
    let position = start;
    for (let t = 0; t < steps; t += perPlan) {
        const { plan, path } = RoomsSearch.plan(predict, position, goal, settings, memory, kept);
        kept.path = path.slice(perPlan / hold);
        let before = position;
        for (let k = 0; k < perPlan; k++) {
            position = RoomsWorld.move(position, plan[k], layout, world);
            positions.push(position);
            if ((k + 1) % hold === 0) {
                RoomsSearch.remember(memory, predict, before, plan[k + 1 - hold], position, hold);
                before = position;
            }
        }
    }
    return positions;
}"""


def test_the_pages_search_and_memory_walk_the_pythons_path(demo):
    """web/search.js against planning.search, its Memory and its kept path, on a model blind to the wall (the true
    physics with the wall moved out of the box), a far door: the page's episode takes Python's path position for
    position: through the door with the memory and a kept path, stuck at the wall searching afresh without the
    memory. The page keeps fewer beams than the evaluation (export --search-beams), and so does the walk."""
    page, _ = demo
    shown, config = rooms_world()
    meta = json.loads((ROOMS / "meta.json").read_text())
    search = {**meta["planner"]["search"], "horizon": meta["planner"]["horizon"]}
    assert search["beams"] < config.search_beams  # the page's budget (README: export --search-beams)
    assert (search["depth"], search["move_steps"]) == (config.search_depth, config.search_move_steps)
    assert (search["memory"], search["memory_radius"], search["replan"], search["reversals"]) == (
        config.search_memory,
        config.search_memory_radius,
        config.search_replan,
        config.search_reversals,
    )
    layout = two_rooms.Layout(np.float32(24.0), np.float32(6.0))
    task = two_rooms.Task(np.float32([40.0, 12.0]), np.float32([40.0, 34.0]), layout)
    blind = wall_blind(two_rooms_planning.simulator_model(config))
    assert (search["surprise_share"], search["switch_margin"]) == (
        config.search_surprise_share,
        config.search_switch_margin,
    )
    for memory, replan, crosses in ((config.search_memory, "keep", True), (0, "fresh", False)):
        cfg = config.replace(
            search_memory=memory, search_replan=replan, search_beams=search["beams"], plan_horizon=search["horizon"]
        )
        expected = jax.jit(lambda k, c=cfg: two_rooms_planning.episode(k, task, blind, c, "search", 4))(
            jax.random.key(0)
        ).positions
        got = page.evaluate(
            SEARCH_EPISODE,
            [[40.0, 12.0], [40.0, 34.0], {"wall_x": 24, "door_y": 6}, shown, {**search, "replan": replan}, memory,
             len(expected), 4],
        )  # fmt: skip
        np.testing.assert_array_equal(np.asarray(got, np.float32), np.asarray(expected), err_msg=replan)
        assert bool(np.any(np.asarray(got)[:, 1] > 24)) == crosses


def test_a_planner_the_model_does_not_offer_is_refused_in_plain_words(site):
    page = open_demo(site, "?model=model-two-rooms&seed=3&paused=1&planner=dijkstra")
    message = page.inner_text("#planner-message")
    assert page.is_visible("#planner-message") and 'planner "dijkstra" is not offered' in message
    assert page.evaluate("window.jepa.app.roomsPlanner") == "search"
    release(site, page)


def test_clicks_and_keys_on_the_view_while_the_page_loads_are_ignored(site):
    """Between the model's load and the first world (the backends are being timed) the view shows already."""
    url, chromium = site.url, site.chromium
    console = []
    click_while_loading = """new MutationObserver((_, observer) => {
        if (!document.body || !document.body.classList.contains('steer-mode')) return;
        observer.disconnect();
        const view = document.getElementById('steer-view');
        view.dispatchEvent(new MouseEvent('click', { clientX: 20, clientY: 20, bubbles: true }));
        view.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
        window.clickedWhileLoading = window.jepa.app.state === null;
    }).observe(document, { subtree: true, attributes: true, childList: true });"""
    query = "index.html?model=model-steer&seed=3&paused=1&backend=cpu"
    page = browser.open_page(chromium, url + query, console, init_script=click_while_loading)
    browser.wait_ready(page)
    assert page.evaluate("window.clickedWhileLoading") and page.evaluate("window.jepa.app.steer.goal") is None
    click_goal(page, (8.0, 8.0))
    np.testing.assert_allclose(page.evaluate("window.jepa.app.steer.goal"), (8.0, 8.0), atol=0.05)
    assert console == [] and page.is_hidden("#error")
    page.close()


def test_an_error_in_a_frame_stops_the_demo_with_a_plain_message(site):
    console = []
    page = open_demo(site, "?model=model-steer&seed=2&speed=30", console)
    page.evaluate("() => { SteerPlanner.plan = () => { throw new TypeError('the planner broke'); }; }")
    click_goal(page, (8.0, 8.0))
    wait_for(page, "!document.getElementById('error').hidden")
    assert "The demo stopped" in page.inner_text("#error") and "the planner broke" in page.inner_text("#error")
    assert "Stopped" in page.inner_text("#status") and all(page.evaluate(CONTROLS_DISABLED))
    # a backend choice that comes after the stop (made just before it) changes nothing and says nothing
    page.evaluate(
        "() => { const select = document.getElementById('backend');"
        " select.value = 'cpu'; select.dispatchEvent(new Event('change')); return window.jepa.switching; }"
    )
    assert "Stopped" in page.inner_text("#status") and console == []
    release(site, page)


@pytest.mark.parametrize("name", list(META_LACKING))
def test_a_meta_json_without_a_needed_field_is_named_in_plain_words(site, name):
    console = []
    page = open_demo(site, f"?model={name}", console)
    wait_for(page, "!document.getElementById('error').hidden")
    text = page.inner_text("#error")
    assert f"meta.json has no {META_LACKING[name][1]}" in text and "re-export the run (python -m export RUN)" in text
    assert "undefined" not in page.inner_text("body") and "Cannot read" not in text
    assert "Not running" in page.inner_text("#status") and all(page.evaluate(CONTROLS_DISABLED))
    assert console == []
    release(site, page)


@pytest.mark.parametrize("name", list(META_EDITED))
def test_a_meta_json_value_the_page_cannot_use_is_named_before_anything_runs(site, name):
    """A hand-edited meta.json (python -m export keeps one): a value of another kind, or one its world and model
    disagree on, would stop the page mid-run with a TF.js error, or run it on NaN frames; a search past what the page
    can run would hang it at its first plan."""
    console = []
    page = open_demo(site, f"?model={name}", console)
    wait_for(page, "!document.getElementById('error').hidden")
    text = page.inner_text("#error")
    assert META_EDITED[name][3] in text and "re-export" in text, text
    assert "went wrong" not in text and "Cannot" not in text and "Not running" in page.inner_text("#status")
    assert all(page.evaluate(CONTROLS_DISABLED))
    assert page.evaluate("window.jepa.app.frameIndex") == 0 and console == []
    release(site, page)


def test_two_rooms_work_a_frame_counts_the_planning_ticks(rooms_demo):
    """One tick in actions_per_plan plans: the work a frame shown is the mean, what the frame rate pays."""
    page, console = rooms_demo
    page.select_option("#rooms-planner", "mppi")
    page.click("#new-world")
    state = page.evaluate("window.jepa.app.state")
    wall_x, door_y = state["layout"]["wall_x"], state["layout"]["door_y"]
    page.evaluate(f"window.jepa.setGoal([{door_y}, {wall_x - 10 if state['position'][1] > wall_x else wall_x + 10}])")
    page.evaluate("window.jepa.app.tickMs = []; window.jepa.app.steer.planMs = []")  # this test's ticks only
    advance(page, 4)  # one plan, then three actions of it
    shown, ticks, plans = page.evaluate(
        "[document.getElementById('frame-ms').textContent, window.jepa.app.tickMs, window.jepa.app.steer.planMs]"
    )
    page.select_option("#rooms-planner", "search")
    assert len(plans) == 1 and abs(float(shown) - np.mean(ticks)) <= 0.1
    assert float(shown) >= 0.9 * plans[0] / len(ticks)
    assert console == []


@pytest.mark.parametrize("speed", ["-5", "1e9", "0.001"])
def test_a_speed_outside_the_slider_falls_back_to_the_default_visibly(site, speed):
    page = open_demo(site, f"?seed=1&paused=1&speed={speed}")
    assert page.evaluate("window.jepa.app.fps") == 10 and page.input_value("#speed") == "10"
    assert page.inner_text("#speed-value") == "10"
    assert page.is_visible("#query-note") and f'speed "{speed}" is not a whole number' in page.inner_text("#query-note")
    release(site, page)


@pytest.mark.parametrize("speed, seed", [("30.0", "7.0"), ("3e1", "7e0")])
def test_whole_numbers_written_with_a_fraction_or_exponent_are_taken(site, speed, seed):
    """A speed or seed is read as Number() reads it: 30.0 is 30, and the seed's world is seed 7's."""
    page = open_demo(site, f"?paused=1&speed={speed}&seed={seed}")
    assert page.evaluate("[window.jepa.app.fps, window.jepa.app.seed]") == [30, 7]
    assert page.input_value("#speed") == "30" and page.inner_text("#speed-value") == "30"
    assert page.is_hidden("#query-note"), page.inner_text("#query-note")
    release(site, page)


def test_a_paused_or_planner_option_the_page_cannot_use_is_named(site):
    page = open_demo(site, "?seed=1&paused=on&planner=mppi")
    note = page.inner_text("#query-note")
    assert 'paused "on" is not 1, true, yes, 0, false or no; playing.' in note and page.evaluate(
        "window.jepa.app.playing"
    )
    assert 'planner "mppi" is chosen in Two Rooms mode only; this model does not plan.' in note
    release(site, page)


def test_an_unknown_backend_is_named_and_auto_used(site):
    page = open_demo(site, "?seed=1&paused=1&backend=foo")
    assert 'backend "foo" is unknown' in page.inner_text("#backend-note")
    assert page.input_value("#backend") == "auto" and "the fastest" in page.inner_text("#backend-note")
    times = page.evaluate("window.jepa.app.backendTimes")
    assert page.evaluate("window.jepa.backend") == min(times.items(), key=lambda kv: kv[1])[0]
    release(site, page)


# A browser whose canvases give no WebGL context (no GPU, or WebGL turned off): TF.js's webgl backend cannot start.
NO_WEBGL = """
for (const Canvas of [HTMLCanvasElement, self.OffscreenCanvas].filter(Boolean)) {
    const getContext = Canvas.prototype.getContext;
    Canvas.prototype.getContext = function (kind, ...rest) {
        return /webgl/.test(kind) ? null : getContext.call(this, kind, ...rest);
    };
}
"""


def test_a_browser_without_webgl_runs_on_cpu_and_says_so(site):
    """Asked for webgl where it cannot start, the page loads and runs on cpu, and names both."""
    url, chromium = site.url, site.chromium
    console = []
    page = browser.open_page(chromium, url + "index.html?seed=1&paused=1&backend=webgl", console, init_script=NO_WEBGL)
    browser.wait_ready(page)
    assert "Model loaded" in page.inner_text("#status") and "backend cpu" in page.inner_text("#status")
    assert page.evaluate("window.jepa.backend") == "cpu" and page.input_value("#backend") == "cpu"
    assert "backend webgl is not available in this browser; still on cpu" in page.inner_text("#backend-note")
    advance(page, 3)
    assert page.evaluate("window.jepa.app.history.length") >= 1 and console == []
    page.close()


def test_dream_with_no_latent_yet_says_why(site):
    page = open_demo(site, "?seed=2&paused=true")
    assert not page.evaluate("window.jepa.app.playing")  # paused=true means paused too
    page.click("#dream")
    assert page.is_visible("#dream-message") and "nothing to dream from yet" in page.inner_text("#dream-message")
    advance(page, 2)
    assert page.is_hidden("#dream-message")
    page.click("#dream")
    wait_for(page, "document.querySelectorAll('#dream-strip canvas').length === 30")
    release(site, page)


def test_the_keyboard_browses_the_models_and_enter_loads_one(site):
    page = open_demo(site, "?seed=8&paused=1")
    page.focus("#model-choice")
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(300)
    assert "model-koopman" not in page.url and page.input_value("#model-choice") == "model-koopman"
    with page.expect_navigation(wait_until="commit"):  # the load itself is test_the_koopman_model_is_one_switch...
        page.keyboard.press("Enter")
    assert "model=model-koopman" in page.url
    release(site, page)


def test_back_to_a_page_shows_the_model_it_runs(site):
    """The browser restores a form's values on Back unless told not to: the model choice would show the model
    left, not the one running, and choosing the running one again would do nothing."""
    page = open_demo(site, "?seed=8&paused=1")
    with page.expect_navigation():
        page.select_option("#model-choice", "model-koopman")
    browser.wait_ready(page)
    page.go_back()
    browser.wait_ready(page)
    assert "model=" not in page.url and page.evaluate("window.jepa.app.meta.model.latent_dim") == 32
    assert page.input_value("#model-choice") == "model"
    # a browser may instead keep the page whole (its back/forward cache, which Playwright turns off): shown again,
    # the select is set back to the model that runs
    page.evaluate(
        "document.getElementById('model-choice').value = 'model-koopman';"
        " window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))"
    )
    assert page.input_value("#model-choice") == "model" and "model=" not in page.url
    release(site, page)


def test_a_model_switch_leaves_the_last_models_planner_behind(site):
    page = open_demo(site, "?model=model-steer&seed=2&paused=1&planner=mppi")
    assert page.is_visible("#query-note")  # the address's own planner: said once, on the model it was given to
    with page.expect_navigation():
        page.select_option("#model-choice", "model")
    browser.wait_ready(page)
    assert "planner=" not in page.url and page.is_hidden("#query-note")
    release(site, page)


def test_without_the_decoder_the_steps_field_goes_with_the_dream_button(demo):
    page, _ = demo
    page.uncheck("#decoder-toggle")
    assert page.is_disabled("#dream") and page.is_disabled("#dream-steps")
    page.check("#decoder-toggle")
    assert page.is_enabled("#dream") and page.is_enabled("#dream-steps")
    page.fill("#dream-steps", "")
    page.focus("#dream-steps")
    page.keyboard.type("-")  # what a number field cannot read reaches the page as ""
    page.click("#dream")
    assert "(not a number)" in page.inner_text("#dream-steps-message")
    page.fill("#dream-steps", "3")


def test_a_goal_can_be_set_from_the_keyboard(steer_demo):
    page, console = steer_demo
    page.click("#new-world")
    start = np.round(page.evaluate("window.jepa.app.state.position"))
    page.focus("#steer-view")
    for key in ("ArrowRight", "ArrowRight", "ArrowUp", "Enter"):
        page.keyboard.press(key)
    want = np.clip(start + [-1, 2], 1, 14)  # where a goal can be: the logo's box
    np.testing.assert_allclose(page.evaluate("window.jepa.app.steer.goal"), want, atol=0.05)
    advance(page, 1)
    assert "after 1 step;" in page.inner_text("#steer-readout")  # one step, not "1 steps"
    for key in ("Shift+ArrowUp",) * 5 + ("Shift+ArrowLeft",) * 5 + ("Enter",):  # far past the corner
        page.keyboard.press(key)
    assert page.evaluate("[window.jepa.app.steer.cursor, window.jepa.app.steer.goal]") == [[1, 1], [1, 1]]
    click_goal(page, (8.0, 8.0))
    page.focus("#steer-view")
    page.keyboard.press("Enter")  # from the clicked goal, not from the cursor before the click
    np.testing.assert_allclose(page.evaluate("window.jepa.app.steer.goal"), (8.0, 8.0), atol=0.05)
    assert console == []


def test_a_goal_set_on_the_logo_is_reached_at_once(steer_demo):
    page, console = steer_demo
    page.click("#new-world")
    page.evaluate("window.jepa.setGoal(window.jepa.app.state.position.map(v => v + 0.3))")
    assert "reached after 0 steps" in page.inner_text("#steer-readout")
    assert page.evaluate("window.jepa.app.steer.reachedAt") == 0 and console == []


def test_a_goal_where_the_logo_never_rests_is_refused_as_plan_py_refuses_it(steer_demo):
    page, console = steer_demo
    page.click("#new-world")
    config, before = Config(), None
    for edge, kept in (((15.0, 8.0), "no goal set"), ((8.0, 0.2), "goal unchanged")):  # on the box's outermost pixels
        click_goal(page, edge)
        message = page.inner_text("#goal-message")
        assert page.is_visible("#goal-message") and f"outside the box: {kept}" in message, message
        assert message.startswith("goal (y, x) = (") and "each coordinate must be in [1, 14] px" in message
        assert page.evaluate("window.jepa.app.steer.goal") == before
        with pytest.raises(planning.PlanningError, match="goal outside the box"):
            planning.check_goal(np.float32(edge), config)
        click_goal(page, (8.0, 8.0))  # accepted, as Python accepts it, and named as plan.py --goal Y X names it
        planning.check_goal(np.float32([8.0, 8.0]), config)
        before = page.evaluate("window.jepa.app.steer.goal")
        np.testing.assert_allclose(before, (8.0, 8.0), atol=0.05)
        readout = page.inner_text("#steer-readout")
        assert page.is_hidden("#goal-message") and readout.startswith("goal (y, x) = (8.0, 8.0) px"), readout
    assert "one MPPI replanning step, best of those timed" in page.inner_text("#backend-note") and console == []


def test_two_rooms_fits_a_320_px_screen(rooms_demo):
    page, _ = rooms_demo
    size = page.viewport_size
    page.set_viewport_size({"width": 320, "height": size["height"]})
    try:
        widest = page.evaluate(
            "Math.max(document.documentElement.scrollWidth, "
            "...[...document.querySelectorAll('body *')].map(el => el.getBoundingClientRect().right))"
        )
    finally:
        page.set_viewport_size(size)
    assert widest <= 320, widest


def test_an_unknown_model_or_seed_is_named(site):
    page = open_demo(site, "?model=nope&seed=abc")
    text = page.inner_text("#error")
    assert 'There is no model "nope" here' in text and "model-koopman" in text
    assert text.count("could not be loaded") == 1
    assert page.input_value("#model-choice") == "nope"
    note = page.inner_text("#query-note")
    assert 'seed "abc" is not a whole number' in note
    assert f"using seed {page.evaluate('window.jepa.app.seed')}, drawn at random" in note  # said, to replay it
    release(site, page)


def test_a_folder_of_any_name_the_exporter_writes_loads(site):
    page = open_demo(site, f"?model={urllib.parse.quote(ODD_NAME)}&paused=1")
    assert page.is_hidden("#error"), page.inner_text("#error")
    assert "sha256 checked" in page.inner_text("#status") and page.input_value("#model-choice") == ODD_NAME
    advance(page, 3)
    assert page.evaluate("window.jepa.app.latent.every(Number.isFinite)")
    release(site, page)


@pytest.mark.parametrize("model", [MODEL, ROOMS])
def test_the_texts_give_the_box_of_the_loaded_world(site, model):
    page = open_demo(site, f"?model={model.name}&paused=1")
    side = json.loads((model / "meta.json").read_text())["world"]["frame_size"]
    header = page.inner_text("header")
    assert f"in a {side}\u00d7{side} box" in header
    assert {text for text in re.findall(r"(\d+)\u00d7\1", header)} == {str(side)}  # no box of another size
    release(site, page)


def rooms_text(site, model: str) -> str:
    page = open_demo(site, f"?model={model}&paused=1")
    text = " ".join(page.inner_text("header p.rooms-only").split())
    release(site, page)
    return text


def test_the_two_rooms_text_gives_the_committed_models_search(site):
    search = json.loads((ROOMS / "meta.json").read_text())["planner"]["search"]
    text = rooms_text(site, ROOMS.name)
    assert f"the 8 moves but the one undoing its last, the {search['beams']} that cover the most kept" in text
    assert "that remembers the moves the wall refused" in text and "until a new search finds a plainly better" in text
    compared = "twice the page's" if search["run_beams"] == 2 * search["beams"] else f"the page {search['beams']}"
    assert f"this model's run searches with {search['run_beams']} beams in Python, {compared}." in text
    assert "99 % of episodes" in text and "the offered Two Rooms model is seed 0's" in text


def test_the_two_rooms_text_gives_another_exports_search(site):
    """The page's beams, reversals, memory and replanning, and the run's beams, are the loaded meta.json's; the
    evaluation's figures are said to be the recipe's (RESULTS.md), not this model's."""
    text = rooms_text(site, "rooms-small-search")
    assert "expanded by the 8 moves, the 16 that cover the most kept" in text and "undoing" not in text
    assert "remembers" not in text and "and searches anew at each plan; or MPPI" in text
    assert "this model's run searches with 16 beams in Python, as many as the page's." in text
    assert 'Python\'s evaluation (RESULTS.md, "Two Rooms"), models of the recipe two_rooms_ebjepa' in text
    text = rooms_text(site, "rooms-no-search")
    assert "in latent space only: MPPI (many sampled" in text and "this model's run" not in text


WATCHED_SEARCH = """([moveSteps, replan, ticks]) => {
    const { app } = window.jepa;
    Object.assign(app.meta.planner.search, { move_steps: moveSteps, replan, depth: 8 });
    const { layout, position } = app.state, [lo, hi] = RoomsWorld.box(app.world);
    const across = position[1] < layout.wall_x ? layout.wall_x + 10 : layout.wall_x - 10;  // in the other room
    RoomsView.setGoal([layout.door_y, Math.min(Math.max(across, lo + 1), hi - 1)]);
    const seen = () => JepaModel.encode([RoomsWorld.observe(app.state, app.world)])[0];
    const plans = [], remembered = [], applied = [];
    const { plan, remember } = RoomsSearch, { step } = RoomsWorld;
    RoomsSearch.plan = (predict, z0, ...rest) => {
        plans.push({ at: app.steer.steps, z0, seen: seen() });
        return plan(predict, z0, ...rest);
    };
    RoomsSearch.remember = (memory, predict, before, action, after, hold) => {
        remembered.push({ at: app.steer.steps, action, after, seen: seen() });
        return remember(memory, predict, before, action, after, hold);
    };
    RoomsWorld.step = (state, action, world) => {
        applied.push(action);
        return step(state, action, world);
    };
    for (let i = 0; i < ticks; i++) window.jepa.tick();
    return { plans, remembered, applied, perPlan: app.meta.planner.actions_per_plan };
}"""


@pytest.mark.parametrize("move_steps, replan", [(2, "keep"), (3, "fresh")])
def test_the_pages_search_plans_from_the_newest_view_and_remembers_whole_moves(site, move_steps, replan):
    """As two_rooms_planning.episode runs the search: each plan from the latent of the observation at its start,
    and a move remembered only where it ran whole within one plan, `move_steps` actions of its one action. A move
    of 3 actions in plans of 4 (replan "fresh": python -m export and the evaluation take it) is cut by each plan."""
    page = open_demo(site, "?model=model-two-rooms&seed=3&paused=1")
    ticks = 12
    watched = page.evaluate(WATCHED_SEARCH, [move_steps, replan, ticks])
    release(site, page)
    per_plan = watched["perPlan"]
    assert [plan["at"] for plan in watched["plans"]] == list(range(0, ticks, per_plan))
    for plan in watched["plans"]:
        np.testing.assert_allclose(plan["z0"], plan["seen"], atol=1e-6, err_msg=f"the plan at step {plan['at']}")
    whole_moves_end = [t for t in range(1, ticks) if ((t - 1) % per_plan + 1) % move_steps == 0]
    assert [move["at"] for move in watched["remembered"]] == whole_moves_end
    for move in watched["remembered"]:
        np.testing.assert_allclose(move["after"], move["seen"], atol=1e-6)
        held = watched["applied"][move["at"] - move_steps : move["at"]]
        assert held == [move["action"]] * move_steps, (move["at"], held)
    assert len({tuple(action) for action in watched["applied"]}) > 1  # the dot moved, so a stale latent would show


def test_a_search_at_the_most_the_page_can_run_loads(site):
    """Beams and depth at export/__main__.py's PAGE_MAX_SEARCH_BEAMS and PAGE_MAX_PLAN_PREDICTIONS load; one past
    either is refused (META_EDITED)."""
    console = []
    page = open_demo(site, "?model=rooms-search-at-the-page&paused=1", console)
    assert "Model loaded" in page.inner_text("#status") and page.is_hidden("#error") and console == []
    assert f"{AT_THE_PAGES_MOST['beams']} beams, {AT_THE_PAGES_MOST['depth']} moves" in page.inner_text("#plan-budget")
    release(site, page)

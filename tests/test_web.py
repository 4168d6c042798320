"""The browser demo in real headless Chromium (Debian's, driven by Playwright).

What the page must do: load the committed web/model with no console errors; give the same latents
and frames as JAX (TF.js on its default backend, max abs difference <= 1e-4); run the same physics
as jaxjepa/world.py; raise the alarm a few frames after "inject anomaly"; hide the dream but keep the
bars when the decoder is off; say in plain words when the model is missing or broken.

Two JAX comparisons, because web/model is committed without its training checkpoint:
- the committed model against the JAX outputs that `python -m export` computed from the run's own
  parameters and stored beside it (web/model/reference_outputs.npz);
- a freshly trained tiny run, exported here, against JAX computed live from its parameters
  (needs TensorFlow; skipped without it).
Skipped only where Playwright or Chromium is absent (CI installs both). A screenshot of the page is
saved to test-artifacts/web-demo.png.
"""
import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from export import browser
from jaxjepa import load_run, save_run, world
from jaxjepa.config import Config

pytestmark = pytest.mark.skipif(browser.missing_browser_reason() is not None,
                                reason=str(browser.missing_browser_reason()))

MODEL = browser.WEB_DIR / "model"
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory, tiny, tiny_result):
    """A tiny run exported by the real exporter, or None without TensorFlow."""
    try:
        import tensorflow  # noqa: F401
        import tensorflowjs  # noqa: F401
    except ImportError:
        return None
    from export.build import export_run
    root = tmp_path_factory.mktemp("web")
    run_dir = save_run(root / "seed0", tiny, tiny_result.params, {"final": {}})
    export_run(load_run(run_dir), root / "model", log=lambda *_: None)
    return run_dir, root / "model"


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_export):
    broken = tmp_path_factory.mktemp("broken")
    meta = json.loads((MODEL / "meta.json").read_text())
    (broken / "meta.json").write_text(json.dumps(meta))
    (broken / "encoder").mkdir()
    (broken / "encoder" / "model.json").write_text("{ this is not a model")
    mounts = {"broken-model": broken}
    if tiny_export is not None:
        mounts["tiny-model"] = tiny_export[1]
    with browser.serve(mounts=mounts) as url, browser.chromium() as chromium:
        yield url, chromium


def open_demo(site, query="", console=None):
    url, chromium = site
    page = browser.open_page(chromium, url + "index.html" + query, console)
    browser.wait_ready(page)
    return page


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
    page.close()


def test_page_loads_the_model_with_no_console_errors(demo):
    page, console = demo
    assert "Model loaded" in page.inner_text("#status")
    assert page.is_hidden("#error")
    advance(page, 5)
    assert page.evaluate("window.jepa.app.history.length") >= 4
    assert page.evaluate("window.jepa.app.latent.length") == 32
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
    page.close()


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
        [{"position": np.asarray(position, np.float64).tolist(), "velocity": np.asarray(velocity, np.float64).tolist()},
         length, anomaly_frame, np.asarray(jumped, np.float64).tolist()])
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
    page.close()


@pytest.mark.parametrize("query, words", [
    ("?model=no-such-model", "meta.json could not be read"),
    ("?model=broken-model", "the encoder (broken-model/encoder/model.json) is missing or broken"),
])
def test_missing_or_broken_model_is_explained_in_plain_words(site, query, words):
    page = open_demo(site, query)
    wait_for(page, "!document.getElementById('error').hidden")
    text = page.inner_text("#error")
    assert words in text and "python -m export runs/seed0" in text and "python -m http.server -d web" in text
    assert page.is_disabled("#inject-anomaly")
    page.close()


def test_measure_command_writes_its_figures(tmp_path):
    """`python -m export.measure` (README's figures) runs end to end; here with few repeats and no README
    edit. A subprocess: Playwright's sync API allows one running instance per thread, and `site` holds one."""
    out = tmp_path / "web.json"
    done = subprocess.run([sys.executable, "-m", "export.measure", "--repeats", "2", "--out", str(out), "--no-readme"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    (model,) = results["models"]
    assert model["model_download_bytes"] == sum(
        p.stat().st_size for p in MODEL.rglob("*") if p.name == "model.json" or p.suffix == ".bin") \
        + (MODEL / "meta.json").stat().st_size
    assert model["console_errors"] == []
    for figures in model["backends"].values():
        assert max(figures["jax_vs_tfjs_max_abs"].values()) <= TOLERANCE
        assert figures["step_ms"] > 0 and figures["dream_ms"] > 0
    assert "export.measure:begin" in done.stdout

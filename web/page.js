/*
 * The page's shared state and how it stops: what the address asks for, the one `app` object every other
 * script reads and writes, and the guards that turn a broken model or an error into a plain message.
 *
 * Why one state object: the bounce, steer and Two Rooms views, the backend timing and the loop all read the
 * same world, model and timings, and the browser tests and `python -m export.measure` read them as
 * `window.jepa.app`. The page's other scripts come after this one (app.js lists them) and take what they need
 * from `JepaPage`.
 */
(function (root) {
  "use strict";
  const query = new URLSearchParams(window.location.search);
  const MODEL_DIR = (query.get("model") || "model").replace(/\/+$/, "") + "/";
  const RATE_WINDOW = 20;       // ticks over which the real frame rate and the per-frame time are measured
  const $ = (id) => document.getElementById(id);
  const MODELS_OFFERED = [...document.querySelectorAll("#model-choice option")].map((option) => option.value);
  const SPEED_DEFAULT = 10, SPEED_MIN = 1, SPEED_MAX = 30;  // the speed slider's range, frames a second

  /* Address options are checked as typed: a value the page cannot use falls back to the default, and
     says so, rather than running unthrottled, never ticking or silently meaning something else. */
  const notes = [];
  /* The whole number `text` writes in decimals (30, 30.0, 3e1), as Number() reads it, else NaN: Number() also
     reads "" as 0 and "0x1e" as 30, which no one means by a whole number. */
  const wholeNumber = (text) =>
    (/^\s*(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text) && Number.isInteger(Number(text)) ? Number(text) : NaN);
  function speedAsked() {
    const text = query.get("speed");
    if (text === null) return SPEED_DEFAULT;
    const fps = wholeNumber(text);
    if (fps >= SPEED_MIN && fps <= SPEED_MAX) return fps;
    notes.push(`speed "${text}" is not a whole number of frames/s from ${SPEED_MIN} to ${SPEED_MAX}; ` +
      `running at ${SPEED_DEFAULT}.`);
    return SPEED_DEFAULT;
  }
  function seedAsked() {
    const text = query.get("seed");
    if (text === null || text.trim() === "") return null;
    const seed = wholeNumber(text);
    if (Number.isSafeInteger(seed)) return seed;
    const drawn = Date.now() % 1000000;  // shown, so that the world it gives can be asked for again
    notes.push(`seed "${text}" is not a whole number from 0 to ${Number.MAX_SAFE_INTEGER}; using seed ${drawn}, ` +
      `drawn at random (?seed=${drawn} gives this world again).`);
    return drawn;
  }
  function pausedAsked() {
    const text = query.get("paused");
    if (text === null) return false;
    const word = text.trim().toLowerCase();
    if (["1", "true", "yes"].includes(word)) return true;
    if (!["", "0", "false", "no"].includes(word)) {
      notes.push(`paused "${text}" is not 1, true, yes, 0, false or no; playing.`);
    }
    return false;
  }

  function showNotes() {
    $("query-note").textContent = notes.join(" ");
    $("query-note").hidden = notes.length === 0;
  }

  const app = {
    meta: null, world: null, models: null, random: null,
    playing: !pausedAsked(), decoderOn: true, fps: speedAsked(), seed: seedAsked(),
    state: null, frames: [], frameIndex: 0,
    latent: null, expectedLatent: null, expectedFrame: null,
    history: [], injected: [], alarmUntil: -1, timer: null, pendingTeleport: null,
    tickStarts: [], tickMs: [], backendTimes: {}, backendSteps: {},
    stopped: false, steerMode: false, roomsMode: false,
    steer: { goal: null, goalLatent: null, plan: null, inForce: null, path: [], planMs: [], seed: 1, steps: 0,
      reachedAt: null, cursor: null },
  };

  const actionDim = () => app.meta.model.action_dim || 0;  // a meta.json without it is an action-free model's
  const hasDecoder = () => Boolean(app.models && app.models.decoder);  // a run that trained none has none

  /* Stop the loop for good and say why in the red box; every control is disabled. */
  function stop(message, status) {
    app.stopped = true;
    app.playing = false;
    clearTimeout(app.timer);
    const box = $("error");
    box.textContent = message;
    box.hidden = false;
    $("status").textContent = status;
    setControlsEnabled(false);
  }

  function setControlsEnabled(on) {
    document.querySelectorAll(".controls button, .controls input, .controls select").forEach((el) => {
      el.disabled = !on;
    });
    if (on) {
      $("dream").disabled = $("dream-steps").disabled = !app.decoderOn;
      $("decoder-toggle").disabled = !hasDecoder();
    }
  }

  /* Anything a frame or a control throws stops the demo with a plain message: an uncaught error would end the
     loop for good and leave the page looking alive. */
  function failed(error) {
    if (app.stopped) return;
    const what = error && error.message ? error.message : String(error);
    stop(`The demo stopped: something went wrong at frame ${app.frameIndex} (${what}). Reload the page; if it ` +
      "happens again, re-export the model: python -m export RUN", "Stopped: an unexpected error.");
  }

  const guarded = (action) => (...args) => {
    try {
      return action(...args);
    } catch (error) {
      failed(error);
      return undefined;
    }
  };

  /* A NaN or an infinity anywhere means the weights or the backend are broken: stop rather than show it. */
  function checkFinite(what, rows) {
    if (rows.every((row) => row.every(Number.isFinite))) return true;
    stop(`The demo stopped: the ${what} gave a number that is not finite (NaN or infinity) at frame ` +
      `${app.frameIndex - 1}, so nothing it shows could be trusted. The model files may be corrupt; ` +
      "re-export them with: python -m export runs/seed0", "Stopped: the model gave a non-finite number.");
    return false;
  }

  function median(values) {
    const sorted = Float64Array.from(values).sort();
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
  }

  root.JepaPage = {
    query, MODEL_DIR, MODELS_OFFERED, RATE_WINDOW, $, app, notes, showNotes, actionDim, hasDecoder,
    stop, setControlsEnabled, failed, guarded, checkFinite, median,
  };
})(typeof window !== "undefined" ? window : globalThis);

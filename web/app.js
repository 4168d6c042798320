/*
 * The demo page: the world runs (world.js), the exported JEPA watches it (TF.js graph models made by
 * `python -m export`), and the page shows what the model expects, its latent, and its surprise.
 *
 * One frame of the loop, with frames f_{n-1}, f_n the last two:
 *   z_n   = encoder(f_{n-1}, f_n)                the latent of the newest observation (the bars)
 *   surprise_n = mean((predictor(z_{n-1}) - z_n)^2)   what the model expected vs what it got
 *   expectation of f_n = decoder(predictor(z_{n-1}))  drawn beside reality (decoder on only)
 * Surprise lives in latent space, so the alarm works with the decoder off too: a pure JEPA has no
 * pixels, only latents. The threshold is a multiple of the running median: robust to the small,
 * regular errors at every bounce, which a median + k * MAD rule mistakes for anomalies.
 *
 * `window.jepa` exposes the model and the state to the browser tests and to `python -m export.measure`.
 */
(function () {
  "use strict";
  const query = new URLSearchParams(window.location.search);
  const MODEL_DIR = (query.get("model") || "model").replace(/\/+$/, "") + "/";
  const FORMAT = "jaxjepa-web-model";
  const THRESHOLD_FACTOR = 8;   // alarm when surprise > 8 x the running median
  const THRESHOLD_WINDOW = 60;  // frames in the running median
  const WARMUP = 10;            // no alarm before this many surprise values exist
  const ALARM_HOLD = 10;        // frames the alarm stays up after it last fired
  const TRACE_LENGTH = 160;     // frames shown in the surprise trace
  const $ = (id) => document.getElementById(id);

  const app = {
    meta: null, world: null, models: null, random: null,
    playing: query.get("paused") !== "1", decoderOn: true,
    fps: Number(query.get("speed")) || 10,
    state: null, frames: [], frameIndex: 0,
    latent: null, expectedLatent: null, expectedFrame: null,
    history: [], injected: [], alarmUntil: -1, timer: null,
  };

  class ModelProblem extends Error {}

  // ---------------------------------------------------------------- loading

  async function loadModels() {
    if (window.location.protocol === "file:") {
      throw new ModelProblem("this page was opened as a file, and browsers do not let a file load " +
        "model files. Serve the folder instead: python -m http.server -d web, then open http://localhost:8000/");
    }
    if (typeof tf === "undefined") {
      throw new ModelProblem("TensorFlow.js (vendor/tfjs/tf.min.js) is missing, so nothing can run.");
    }
    let meta;
    try {
      const response = await fetch(MODEL_DIR + "meta.json");
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      meta = await response.json();
    } catch (error) {
      throw new ModelProblem(`the model description ${MODEL_DIR}meta.json could not be read (${error.message}).`);
    }
    if (!meta || meta.format !== FORMAT || !meta.files || !meta.world || !meta.model) {
      throw new ModelProblem(`${MODEL_DIR}meta.json is not a jaxjepa export.`);
    }
    const models = {};
    for (const name of ["encoder", "predictor", "decoder"]) {
      try {
        models[name] = await tf.loadGraphModel(MODEL_DIR + meta.files[name]);
      } catch (error) {
        throw new ModelProblem(`the ${name} (${MODEL_DIR}${meta.files[name]}) is missing or broken (${error.message}).`);
      }
    }
    checkShapes(models, meta.model);
    return { meta, models };
  }

  /* A model folder from another config would give silently wrong pictures: check every shape once. */
  function checkShapes(models, shapes) {
    const expect = { encoder: [shapes.obs_dim, shapes.latent_dim], predictor: [shapes.latent_dim, shapes.latent_dim],
      decoder: [shapes.latent_dim, shapes.decoder[shapes.decoder.length - 1]] };
    for (const [name, [inDim, outDim]] of Object.entries(expect)) {
      const out = tf.tidy(() => models[name].execute(tf.zeros([1, inDim])));
      const shape = out.shape;
      out.dispose();
      if (shape.length !== 2 || shape[1] !== outDim) {
        throw new ModelProblem(`the ${name} gives shape [${shape}] where meta.json says [1, ${outDim}].`);
      }
    }
  }

  function showProblem(problem) {
    const box = $("error");
    box.textContent = "The model could not be loaded: " + problem.message +
      " To create the model files, run: python -m export runs/seed0 (after python train.py --seed 0), " +
      "then serve this folder with: python -m http.server -d web";
    box.hidden = false;
    $("status").textContent = "Not running: no usable model.";
    document.querySelectorAll(".controls button, .controls input").forEach((el) => { el.disabled = true; });
  }

  // ---------------------------------------------------------------- the model, on plain arrays

  function run(name, rows, width) {
    return tf.tidy(() => {
      const input = tf.tensor2d(Float32Array.from(rows.flat()), [rows.length, width]);
      return app.models[name].execute(input).arraySync();
    });
  }
  const encode = (observations) => run("encoder", observations, app.meta.model.obs_dim);
  const predict = (latents) => run("predictor", latents, app.meta.model.latent_dim);
  const decode = (latents) => run("decoder", latents, app.meta.model.latent_dim);

  /* The predictor applied to its own output `steps` times from z; then all dreamt latents decoded. */
  function dream(z, steps, withFrames) {
    return tf.tidy(() => {
      let current = tf.tensor2d([z]);
      const latents = [];
      for (let k = 0; k < steps; k++) {
        current = app.models.predictor.execute(current);
        latents.push(current);
      }
      const stacked = tf.concat(latents, 0);
      return { latents: stacked.arraySync(), frames: withFrames ? app.models.decoder.execute(stacked).arraySync() : null };
    });
  }

  // ---------------------------------------------------------------- the world and the loop

  function newWorld() {
    const seed = app.random ? Math.floor(app.random() * 2 ** 32) : Number(query.get("seed") || Date.now());
    app.random = JepaWorld.randomSource(seed);
    app.state = JepaWorld.randomStart(app.random, app.world.eval_start_margin, app.world);
    app.frames = [];
    app.frameIndex = 0;
    app.latent = app.expectedLatent = app.expectedFrame = null;
    app.history = [];
    app.injected = [];
    app.alarmUntil = -1;
    clearStrips();
  }

  function median(values) {
    const sorted = Float64Array.from(values).sort();
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
  }

  /* Advance the world one frame and let the model look at it. */
  function tick() {
    if (app.pendingTeleport) {
      app.state = JepaWorld.teleport(app.random, app.state, app.world);
      app.pendingTeleport = false;
      app.injected.push(app.frameIndex);
    }
    app.state = JepaWorld.step(app.state, app.world);
    app.frames.push(JepaWorld.render(app.state.position, app.world));
    if (app.frames.length > 2) app.frames.shift();
    const frameIndex = app.frameIndex++;
    const shownExpectation = app.expectedFrame;
    if (app.frames.length === 2) {
      const observation = [...app.frames[0], ...app.frames[1]];
      const [latent] = encode([observation]);
      if (app.expectedLatent) recordSurprise(frameIndex, latent, shownExpectation);
      app.latent = latent;
      [app.expectedLatent] = predict([latent]);
      app.expectedFrame = app.decoderOn ? decode([app.expectedLatent])[0] : null;
    }
    draw(shownExpectation);
  }

  function recordSurprise(frameIndex, latent, expectedFrame) {
    const surprise = meanSquare(latent, app.expectedLatent);
    const pixel = expectedFrame ? meanSquare(expectedFrame, app.frames[1]) : null;
    const past = app.history.slice(-THRESHOLD_WINDOW).map((h) => h.surprise);
    const threshold = past.length >= WARMUP ? THRESHOLD_FACTOR * median(past) : null;
    const alarm = threshold !== null && surprise > threshold;
    if (alarm) app.alarmUntil = frameIndex + ALARM_HOLD;
    app.history.push({ frame: frameIndex, surprise, pixel, threshold, alarm });
  }

  function meanSquare(a, b) {
    let total = 0;
    for (let i = 0; i < a.length; i++) total += (a[i] - b[i]) ** 2;
    return total / a.length;
  }

  function schedule() {
    clearTimeout(app.timer);
    app.timer = setTimeout(() => {
      if (app.playing) tick();
      schedule();
    }, 1000 / app.fps);
  }

  // ---------------------------------------------------------------- drawing

  function drawFrame(canvas, pixels) {
    const size = app.world.frame_size;
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.fillStyle = "#000";
    context.fillRect(0, 0, canvas.width, canvas.height);
    if (!pixels) return;
    const image = context.createImageData(size, size);
    for (let i = 0; i < size * size; i++) {
      const v = Math.round(255 * Math.min(Math.max(pixels[i], 0), 1));
      image.data.set([v, v, v, 255], 4 * i);
    }
    const small = document.createElement("canvas");
    small.width = small.height = size;
    small.getContext("2d").putImageData(image, 0, 0);
    context.drawImage(small, 0, 0, canvas.width, canvas.height);
  }

  function drawBars(latent) {
    const canvas = $("latent-bars"), context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    context.fillStyle = "#999";
    context.fillRect(0, canvas.height / 2, canvas.width, 1);
    if (!latent) return;
    const scale = Math.max(4, ...latent.map(Math.abs));
    const width = canvas.width / latent.length;
    latent.forEach((value, i) => {
      const h = (value / scale) * (canvas.height / 2 - 4);
      context.fillStyle = value >= 0 ? "#2e86c1" : "#e67e22";
      context.fillRect(i * width + 1, canvas.height / 2 - Math.max(h, 0), width - 2, Math.abs(h));
    });
  }

  function drawSurprise() {
    const last = app.history[app.history.length - 1];
    const alarmOn = app.frameIndex - 1 <= app.alarmUntil;
    $("alarm").hidden = !alarmOn;
    $("surprise-value").textContent = last ? last.surprise.toExponential(2) : "–";
    $("pixel-surprise").textContent = last && last.pixel !== null ? last.pixel.toExponential(2) : "–";
    // The meter is logarithmic: the threshold sits in the middle, a spike fills it.
    const fraction = (value) => Math.min(Math.max(0.5 + Math.log10(value / (last.threshold || value)) / 4, 0), 1);
    $("meter-fill").style.width = last ? `${100 * fraction(last.surprise)}%` : "0";
    $("meter-fill").style.background = alarmOn ? "#c0392b" : "#2e86c1";

    const canvas = $("surprise-trace"), context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    const shown = app.history.slice(-TRACE_LENGTH);
    if (!shown.length) return;
    const values = shown.flatMap((h) => (h.threshold ? [h.surprise, h.threshold] : [h.surprise]));
    const lo = Math.log10(Math.min(...values)) - 0.2, hi = Math.log10(Math.max(...values)) + 0.2;
    const y = (v) => canvas.height - ((Math.log10(v) - lo) / (hi - lo)) * canvas.height;
    const x = (i) => (i / (TRACE_LENGTH - 1)) * canvas.width;
    const line = (key, colour) => {
      context.strokeStyle = colour;
      context.beginPath();
      let started = false;
      shown.forEach((h, i) => {
        if (h[key] === null) return;
        started ? context.lineTo(x(i), y(h[key])) : context.moveTo(x(i), y(h[key]));
        started = true;
      });
      context.stroke();
    };
    line("threshold", "#c0392b");
    line("surprise", "#2e86c1");
    context.fillStyle = "rgba(192, 57, 43, 0.25)";
    shown.forEach((h, i) => { if (h.alarm) context.fillRect(x(i) - 2, 0, 4, canvas.height); });
    context.fillStyle = "#555";
    context.fillText("surprise (log scale), threshold in red, alarms shaded", 6, 12);
  }

  function draw(expectation) {
    drawFrame($("reality"), app.frames[app.frames.length - 1]);
    drawFrame($("expectation"), app.decoderOn ? expectation : null);
    drawBars(app.latent);
    drawSurprise();
    $("frame-index").textContent = String(app.frameIndex - 1);
  }

  function clearStrips() {
    $("dream-strip").replaceChildren();
    $("truth-strip").replaceChildren();
  }

  function showDream() {
    if (!app.latent || !app.decoderOn) return;
    const steps = Math.min(Math.max(Math.round(Number($("dream-steps").value) || 30), 1), 60);
    const { frames } = dream(app.latent, steps, true);
    // Dream step k is the model's picture of frame n + k; reality's is the world stepped k times.
    let state = app.state;
    const truth = [];
    for (let k = 0; k < steps; k++) {
      state = JepaWorld.step(state, app.world);
      truth.push(JepaWorld.render(state.position, app.world));
    }
    const strip = (id, images) => $(id).replaceChildren(...images.map((pixels) => {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 32;
      drawFrame(canvas, pixels);
      return canvas;
    }));
    strip("dream-strip", frames);
    strip("truth-strip", truth);
  }

  function setDecoder(on) {
    app.decoderOn = on;
    document.querySelectorAll(".decoded").forEach((el) => { el.hidden = !on; });
    $("no-decoder-note").hidden = on;
    $("pixel-note").hidden = !on;
    $("dream").disabled = !on;
    if (!on) app.expectedFrame = null;
  }

  function wireControls() {
    $("play-pause").addEventListener("click", () => {
      app.playing = !app.playing;
      $("play-pause").textContent = app.playing ? "pause" : "play";
    });
    $("play-pause").textContent = app.playing ? "pause" : "play";
    $("new-world").addEventListener("click", () => { newWorld(); tick(); });
    $("inject-anomaly").addEventListener("click", () => { app.pendingTeleport = true; });
    $("dream").addEventListener("click", showDream);
    $("decoder-toggle").addEventListener("change", (event) => setDecoder(event.target.checked));
    const speed = $("speed");
    speed.value = String(app.fps);
    $("speed-value").textContent = String(app.fps);
    speed.addEventListener("input", () => {
      app.fps = Number(speed.value);
      $("speed-value").textContent = speed.value;
      schedule();
    });
    $("threshold-factor").textContent = String(THRESHOLD_FACTOR);
    $("threshold-window").textContent = String(THRESHOLD_WINDOW);
  }

  // ---------------------------------------------------------------- timing (for export.measure)

  function medianTime(action, repeats) {
    action();  // warm-up: first calls compile kernels and allocate
    const times = [];
    for (let r = 0; r < repeats; r++) {
      const start = performance.now();
      action();
      times.push(performance.now() - start);
    }
    return median(times);
  }

  function timings(repeats = 50, dreamSteps = 30) {
    const observation = [...JepaWorld.render([5, 6], app.world), ...JepaWorld.render([5.75, 6.75], app.world)];
    const [z] = encode([observation]);
    return {
      backend: tf.getBackend(),
      step_ms: medianTime(() => decode(predict(encode([observation]))), repeats),
      dream_ms: medianTime(() => dream(z, dreamSteps, true), repeats),
      dream_steps: dreamSteps,
      repeats,
    };
  }

  // ---------------------------------------------------------------- start

  async function start() {
    wireControls();
    try {
      const loaded = await loadModels();
      app.meta = loaded.meta;
      app.models = loaded.models;
      app.world = loaded.meta.world;
    } catch (problem) {
      if (!(problem instanceof ModelProblem)) problem = new ModelProblem(String(problem && problem.message || problem));
      showProblem(problem);
      throw problem;
    }
    $("status").textContent = `Model loaded (${app.meta.weights_dtype} weights, TF.js ${tf.version.tfjs}, ` +
      `backend ${tf.getBackend()}).`;
    newWorld();
    setDecoder($("decoder-toggle").checked);
    tick();
    schedule();
  }

  const ready = start();
  ready.catch(() => {});  // the problem is on the page already; the tests read it from there
  window.jepa = {
    ready, app, encode, predict, decode, dream, tick, timings,
    inject: () => { app.pendingTeleport = true; },
    get backend() { return typeof tf === "undefined" ? null : tf.getBackend(); },
  };
})();

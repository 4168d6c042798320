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
 * With a model whose predictor takes actions (meta.json `model.action_dim`, e.g. web/model-steer) the page
 * is in steer mode instead: the logo is pushed by actions (steer.js), a click sets a goal, and an MPPI
 * planner (steer.js) steers the logo there, replanning every frame from a warm start. With a Two Rooms model
 * (meta.json `world.name` "two_rooms", web/model-two-rooms) a latent search (search.js; MPPI on the switch)
 * moves a dot through the door of a wall (rooms.js), replanning every `planner.actions_per_plan` actions as
 * Python's evaluation does.
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
  const DREAM_MAX = 200;        // longest dream offered: the koopman model stays sharp for most of it
  const RATE_WINDOW = 20;       // ticks over which the real frame rate and the per-frame time are measured
  const BACKEND_TRIALS = 10;    // timed steps per backend when choosing one at load, unless fewer add up to
  const BACKEND_BUDGET_MS = 250;  // this: a Two Rooms step plans, and ten of them would hold up the page
  const BACKENDS = ["cpu", "webgl"];
  const ROOMS_PX_PER_CELL = 8;  // canvas pixels per Two Rooms pixel
  const $ = (id) => document.getElementById(id);
  const MODELS_OFFERED = [...document.querySelectorAll("#model-choice option")].map((option) => option.value);
  const SPEED_DEFAULT = 10, SPEED_MIN = 1, SPEED_MAX = 30;  // the speed slider's range, frames a second
  const BACKEND_CHOICES = ["auto", ...BACKENDS];

  /* Address options are checked as typed: a value the page cannot use falls back to the default, and
     says so, rather than running unthrottled, never ticking or silently meaning something else. */
  const notes = [];
  function speedAsked() {
    const text = query.get("speed");
    if (text === null) return SPEED_DEFAULT;
    const fps = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
    if (fps >= SPEED_MIN && fps <= SPEED_MAX) return fps;
    notes.push(`speed "${text}" is not a whole number of frames/s from ${SPEED_MIN} to ${SPEED_MAX}; ` +
      `running at ${SPEED_DEFAULT}.`);
    return SPEED_DEFAULT;
  }
  function seedAsked() {
    const text = query.get("seed");
    if (text === null || text.trim() === "") return null;
    const seed = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
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

  class ModelProblem extends Error {}
  /* A problem the model's meta.json names itself: its message says how to fix it, no general advice added. */
  class MetaProblem extends ModelProblem {}

  // ---------------------------------------------------------------- checked downloads

  /* Every file the page loads is listed with its sha256 in meta.json's manifest: a weights file of the
     right size but wrong bytes would otherwise load and give NaN or nonsense, silently. */
  async function sha256Hex(buffer) {
    const digest = await crypto.subtle.digest("SHA-256", buffer);
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function checkedFetch(manifest) {
    const base = new URL(MODEL_DIR, window.location.href).href;
    return async (url, init) => {
      const name = new URL(url, window.location.href).href.split("?")[0].slice(base.length);
      const response = await fetch(url, init);
      if (!response.ok) {
        throw new ModelProblem(`the file ${MODEL_DIR}${name} is missing (HTTP ${response.status}).`);
      }
      const buffer = await response.arrayBuffer();
      if (!(name in manifest)) {
        throw new ModelProblem(`${MODEL_DIR}meta.json lists no sha256 for ${name}; re-export the model.`);
      }
      if (await sha256Hex(buffer) !== manifest[name]) {
        throw new ModelProblem(`the file ${MODEL_DIR}${name} is corrupt (its sha256 differs from meta.json's).`);
      }
      return new Response(buffer, { status: 200, headers: response.headers });
    };
  }

  // ---------------------------------------------------------------- loading

  async function loadModels() {
    if (window.location.protocol === "file:") {
      throw new ModelProblem("this page was opened as a file, and browsers do not let a file load " +
        "model files. Serve the folder instead: python -m http.server -d web, then open http://localhost:8000/");
    }
    if (typeof tf === "undefined") {
      throw new ModelProblem("TensorFlow.js (vendor/tfjs/tf.min.js) is missing, so nothing can run.");
    }
    if (!/^[\w.-]+(\/[\w.-]+)*\/$/.test(MODEL_DIR) || MODEL_DIR.split("/").includes("..")) {
      throw new ModelProblem(`the model "${MODEL_DIR.replace(/\/$/, "")}" could not be read: ?model= takes a folder ` +
        "served beside this page, never another site's address.");
    }
    let meta;
    try {
      const response = await fetch(MODEL_DIR + "meta.json");
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      meta = await response.json();
    } catch (error) {
      throw new ModelProblem(`the model description ${MODEL_DIR}meta.json could not be read (${error.message}).`);
    }
    if (!meta || meta.format !== FORMAT || !meta.files || !meta.world || !meta.model || !meta.manifest) {
      throw new ModelProblem(`${MODEL_DIR}meta.json is not a jaxjepa export with a manifest (re-export it).`);
    }
    checkMetaFields(meta);
    // The weights load into the backend that is set: the one asked for, else cpu, which every browser has and
    // which starts at once. Loading into TF.js's own default (webgl) would start webgl, slow where the browser
    // emulates it without a GPU, even for a user who asked for cpu.
    await useBackend(query.get("backend") === "webgl" ? "webgl" : "cpu");
    if (!(window.crypto && crypto.subtle)) {
      throw new ModelProblem("this browser cannot check the model's sha256 here (no WebCrypto on a page " +
        "served over plain http from another machine); open it via http://localhost instead.");
    }
    const models = {};
    for (const name of ["encoder", "predictor", "decoder"].filter((n) => n in meta.files)) {
      try {
        const fetchFunc = checkedFetch(meta.manifest);
        models[name] = await tf.loadGraphModel(MODEL_DIR + meta.files[name], { fetchFunc });
      } catch (error) {
        if (error instanceof ModelProblem) throw error;
        const where = MODEL_DIR + meta.files[name];
        throw new ModelProblem(`the ${name} (${where}) is missing or broken (${error.message}).`);
      }
    }
    checkShapes(models, meta.model);
    return { meta, models };
  }

  /* The fields of meta.json each mode reads: one missing would otherwise surface as a TypeError mid-load or
     mid-run, or as "undefined" on the page. */
  function checkMetaFields(meta) {
    const steering = (meta.model.action_dim || 0) > 0, rooms = meta.world.name === "two_rooms";
    const fields = ["files.encoder", "files.predictor", "model.obs_dim", "model.latent_dim", "model.predictor.0",
      "world.frame_size", "world.sigma", "weights_dtype"];
    if (!steering && "decoder" in meta.files) fields.push("model.decoder.0");
    if (!rooms) fields.push("world.eval_start_margin");
    if (!steering) fields.push("world.speed");
    if (steering) {
      fields.push("probe.weights", "probe.bias", ...["horizon", "samples", "iterations", "noise", "temperature",
        "cost", "success_px"].map((name) => `planner.${name}`));
    }
    if (steering && !rooms) fields.push("world.steer_gain", "world.steer_max_speed");
    if (rooms && meta.planner && meta.planner.search) {  // the latent search, where the export offers it
      fields.push(...["beams", "depth", "move_steps", "memory", "memory_radius", "surprise_share", "switch_margin",
        "replan", "reversals"].map((name) => `planner.search.${name}`));
    }
    if (rooms) {
      fields.push("planner.actions_per_plan", ...["border_px", "wall_half_width", "door_half_height", "wall_padding",
        "door_padding"].map((name) => `world.${name}`));
    }
    const missing = fields.find((path) => path.split(".").reduce(
      (value, key) => (value === undefined || value === null ? undefined : value[key]), meta) == null);
    if (missing !== undefined) {
      throw new MetaProblem(`${MODEL_DIR}meta.json has no ${missing}, which this page needs; it comes from an ` +
        "older or damaged export: re-export the run (python -m export RUN).");
    }
  }

  /* A model folder from another config would give silently wrong pictures: check every shape once. */
  function checkShapes(models, shapes) {
    const expect = {
      encoder: [shapes.obs_dim, shapes.latent_dim],
      predictor: [shapes.predictor[0], shapes.latent_dim],
    };
    if (models.decoder) expect.decoder = [shapes.latent_dim, shapes.decoder[shapes.decoder.length - 1]];
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
    if (problem instanceof MetaProblem) {
      stop("The model could not be loaded: " + problem.message, "Not running: no usable model.");
      return;
    }
    const offered = MODEL_DIR.replace(/\/$/, "");
    const unknown = /could not be read/.test(problem.message) && !MODELS_OFFERED.includes(offered)
      ? ` There is no model "${offered}" here: the models this page offers are ${MODELS_OFFERED.join(", ")} ` +
        "(choose one above, or fix ?model= in the address)." : "";
    const exportIt = offered === "model" ? "python -m export runs/seed0 (after python train.py --seed 0)"
      : `python -m export RUN_DIR --out web/${offered} (RUN_DIR: a run train.py saved; README.md's browser ` +
        "section gives each model's train and export commands)";
    const make = unknown ? "" : ` To create the model files, run: ${exportIt}, then serve this folder with: ` +
      "python -m http.server -d web";
    stop("The model could not be loaded: " + problem.message + unknown + make, "Not running: no usable model.");
  }

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

  // ---------------------------------------------------------------- the model, on plain arrays

  function run(name, rows, width) {
    return tf.tidy(() => {
      const input = tf.tensor2d(Float32Array.from(rows.flat()), [rows.length, width]);
      return app.models[name].execute(input).arraySync();
    });
  }
  const encode = (observations) => run("encoder", observations, app.meta.model.obs_dim);
  const predict = (rows) => run("predictor", rows, app.meta.model.predictor[0]);
  const decode = (latents) => run("decoder", latents, app.meta.model.latent_dim);
  const actionDim = () => app.meta.model.action_dim || 0;  // a meta.json without it is an action-free model's
  const hasDecoder = () => Boolean(app.models && app.models.decoder);  // a run that trained none has none

  /* The predictor on latents and actions given apart, as the search calls it: plain arrays in and out. */
  const predictMoves = (latents, actions) => predict(latents.map((z, i) => [...z, ...actions[i]]));

  /* Latents as the predictor reads them: with a zero action appended where it takes actions. */
  const withNoAction = (latents) => latents.map((z) => [...z, ...new Array(actionDim()).fill(0)]);
  const padNoAction = (z) => (actionDim() ? tf.concat([z, tf.zeros([z.shape[0], actionDim()])], 1) : z);

  /* The predictor applied to its own output `steps` times from z (under no action where it takes
     actions); then all dreamt latents decoded. */
  function dream(z, steps, withFrames) {
    return tf.tidy(() => {
      let current = tf.tensor2d([z]);
      const latents = [];
      for (let k = 0; k < steps; k++) {
        current = app.models.predictor.execute(padNoAction(current));
        latents.push(current);
      }
      const stacked = tf.concat(latents, 0);
      const frames = withFrames ? app.models.decoder.execute(stacked).arraySync() : null;
      return { latents: stacked.arraySync(), frames };
    });
  }

  // ---------------------------------------------------------------- the world and the loop

  function newWorld() {
    const seed = app.random ? Math.floor(app.random() * 2 ** 32) : (app.seed ?? Date.now());
    app.random = JepaWorld.randomSource(seed);
    if (app.steerMode) {
      app.roomsMode ? newRoomsWorld() : newSteerWorld();
      return;
    }
    app.state = JepaWorld.randomStart(app.random, app.world.eval_start_margin, app.world);
    app.frames = [];
    app.frameIndex = 0;
    app.latent = app.expectedLatent = app.expectedFrame = null;
    app.history = [];
    app.injected = [];
    app.alarmUntil = -1;
    setPendingTeleport(false);  // a teleport asked for in the old world must not land in the new one
    clearStrips();
  }

  /* A teleport queued lands on the next frame. Where it lands is drawn as it is queued (from the same random
     stream, so a seeded page replays it), so that a dream shown meanwhile can show what really happens next. */
  function setPendingTeleport(on) {
    if (on && !app.state) return;  // no world yet
    app.pendingTeleport = on ? app.pendingTeleport || JepaWorld.teleport(app.random, app.state, app.world).position
      : null;
    $("teleport-queued").hidden = !on;
  }

  /* The world's next state: the queued teleport, if any, then one step of the physics. */
  function nextState(state, teleportTo) {
    const moved = teleportTo ? { position: teleportTo.slice(), velocity: state.velocity.slice() } : state;
    return JepaWorld.step(moved, app.world);
  }

  function median(values) {
    const sorted = Float64Array.from(values).sort();
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
  }

  /* Advance the world one frame and let the model look at it. */
  const safeTick = guarded(() => tick());
  function tick() {
    if (app.stopped) return;
    if (app.steerMode) {
      app.roomsMode ? roomsTick() : steerTick();
      return;
    }
    const started = performance.now();
    const teleportTo = app.pendingTeleport;
    if (teleportTo) {
      setPendingTeleport(false);
      app.injected.push(app.frameIndex);
    }
    app.state = nextState(app.state, teleportTo);
    app.frames.push(JepaWorld.render(app.state.position, app.world));
    if (app.frames.length > 2) app.frames.shift();
    const frameIndex = app.frameIndex++;
    const shownExpectation = app.expectedFrame;
    if (app.frames.length === 2 && !look(frameIndex, shownExpectation)) return;
    draw(shownExpectation);
    recordTiming(started);
  }

  /* The model looks at the newest observation; false if it gave a non-finite number (the demo stopped). */
  function look(frameIndex, shownExpectation) {
    const observation = [...app.frames[0], ...app.frames[1]];
    const latents = encode([observation]);
    if (!checkFinite("encoder", latents)) return false;
    if (app.expectedLatent) recordSurprise(frameIndex, latents[0], shownExpectation);
    app.latent = latents[0];
    const predicted = predict([app.latent]);
    if (!checkFinite("predictor", predicted)) return false;
    app.expectedLatent = predicted[0];
    const decoded = app.decoderOn ? decode([app.expectedLatent]) : null;
    if (decoded && !checkFinite("decoder", decoded)) return false;
    app.expectedFrame = decoded ? decoded[0] : null;
    return true;
  }

  /* The frame rate shown is measured from when ticks really started, and the per-frame time is the
     model's and the drawing's own work, so a slow backend shows as such. It is the mean over the window, not
     the median: in Two Rooms one tick in `actions_per_plan` plans and the others only apply an action, and
     the mean is what the frame rate pays. */
  function recordTiming(started) {
    app.tickStarts = [...app.tickStarts.slice(1 - RATE_WINDOW), started];
    app.tickMs = [...app.tickMs.slice(1 - RATE_WINDOW), performance.now() - started];
    $("frame-ms").textContent = (app.tickMs.reduce((sum, ms) => sum + ms, 0) / app.tickMs.length).toFixed(1);
    $("real-fps").textContent = realFps() === null ? "–" : realFps().toFixed(1);
  }

  function realFps() {
    const n = app.tickStarts.length;
    if (!app.playing || n < 3) return null;
    return (1000 * (n - 1)) / (app.tickStarts[n - 1] - app.tickStarts[0]);
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

  /* The next tick is due 1/fps after this one started: the tick's own time is taken out of the wait. */
  function schedule() {
    clearTimeout(app.timer);
    if (app.stopped) return;
    const last = app.tickStarts[app.tickStarts.length - 1];
    const wait = app.playing && last !== undefined ? last + 1000 / app.fps - performance.now() : 1000 / app.fps;
    app.timer = setTimeout(() => {
      if (app.playing) safeTick();
      schedule();
    }, Math.max(wait, 0));
  }

  // ---------------------------------------------------------------- steer mode

  /* The logo at rest anywhere in the evaluation box, no goal; both frames of the observation alike. */
  function newSteerWorld() {
    const start = JepaWorld.randomStart(app.random, app.world.eval_start_margin, app.world).position;
    app.state = SteerWorld.atRest(start);
    const frame = JepaWorld.render(app.state.position, app.world);
    app.frames = [frame, frame];
    app.frameIndex = 0;
    app.latent = null;
    Object.assign(app.steer, { goal: null, goalLatent: null, path: [], steps: 0, reachedAt: null, cursor: null });
    app.steer.plan = SteerPlanner.zeroPlan(app.meta.planner.horizon);
    $("goal-message").hidden = true;
    drawSteer();
  }

  /* A goal is given as an observation, as in planning.py: two frames of the logo resting there, encoded. A point
     where the logo's centre never rests (outside world.bounds, [1, H - 2] px: on the box's outermost pixels) is
     refused, as planning.check_goal refuses it for plan.py --goal. */
  function setGoal(position) {
    if (app.roomsMode) {
      setRoomsGoal(position);
      return;
    }
    const [lo, hi] = JepaWorld.bounds(app.world);
    if (!position.every((v) => v >= lo && v <= hi)) {
      refuseGoal(position, "outside the box", `each coordinate must be in [${lo}, ${hi}] px, where the logo's ` +
        "centre can rest");
      return;
    }
    const goal = position.slice();
    const rest = SteerWorld.atRest(goal);
    const latents = encode([SteerWorld.observe(rest, rest, app.world)]);
    if (!checkFinite("encoder", latents)) return;
    $("goal-message").hidden = true;
    Object.assign(app.steer, { goal, goalLatent: latents[0], steps: 0, reachedAt: null, path: [] });
    if (goalDistance() <= app.meta.planner.success_px) app.steer.reachedAt = 0;
    drawSteer();
  }

  /* A goal as plan.py --goal Y X takes it: y (the row) first, then x, in px. */
  const goalText = (position, digits = 1) => `(y, x) = (${position.map((v) => v.toFixed(digits)).join(", ")}) px`;

  /* A goal refused in one line under the view; the goal set before, if any, stands. */
  function refuseGoal(position, where, advice) {
    // two decimals: a point just outside the bounds must not read as on them
    $("goal-message").textContent = `goal ${goalText(position, 2)} is ${where}: ` +
      `${app.steer.goal ? "goal unchanged" : "no goal set"}; ${advice}.`;
    $("goal-message").hidden = false;
  }

  /* One replanning step on `observation` from the warm start `steer.plan`; the refined plan, or null if the
     demo stopped. */
  function replan(observation) {
    const { steer, meta } = app;
    const started = performance.now();
    const result = SteerPlanner.plan(app.models, observation, steer.goalLatent, steer.plan, meta.planner, steer.seed);
    steer.planMs = [...steer.planMs.slice(1 - RATE_WINDOW), performance.now() - started];
    steer.seed += meta.planner.iterations;  // fresh samples every step, yet a seeded page replays exactly
    if (!checkFinite("planner", [result.latent, ...result.plan, ...result.imagined])) return null;
    app.latent = result.latent;
    steer.path = SteerPlanner.probe(result.imagined, meta.probe);
    return result.plan;
  }

  /* Replan on the newest observation; its first action, or null if the demo stopped. */
  function steerAction() {
    const plan = replan([...app.frames[0], ...app.frames[1]]);
    if (plan === null) return null;
    app.steer.plan = SteerPlanner.shifted(plan);  // the warm start of the next step
    return SteerWorld.clipAction(plan[0]);
  }

  /* Plan (when there is a goal), apply the first action, and see the world move one frame. */
  function steerTick() {
    const started = performance.now();
    const action = app.steer.goal ? steerAction() : [0, 0];
    if (action === null) return;
    app.state = SteerWorld.step(app.state, action, app.world);
    app.frames = [app.frames[1], JepaWorld.render(app.state.position, app.world)];
    app.frameIndex++;
    if (app.steer.goal) {
      app.steer.steps++;
      if (app.steer.reachedAt === null && goalDistance() <= app.meta.planner.success_px) {
        app.steer.reachedAt = app.steer.steps;
      }
    }
    drawSteer();
    recordTiming(started);
  }

  function goalDistance() {
    const [dy, dx] = app.state.position.map((p, axis) => p - app.steer.goal[axis]);
    return Math.hypot(dy, dx);
  }

  /* Clicks before the world exists (the backends are still being timed) are ignored. */
  const canSetGoal = () => Boolean(app.models && app.state && !app.stopped);

  function steerClick(event) {
    if (!canSetGoal()) return;
    const canvas = event.currentTarget, size = app.world.frame_size;
    app.steer.cursor = null;  // the keyboard's next move starts from this goal
    // Pixel i is drawn over [i, i + 1) of the canvas grid, so its centre, position i, is at i + 0.5.
    setGoal([(event.offsetY / canvas.clientHeight) * size - 0.5, (event.offsetX / canvas.clientWidth) * size - 0.5]);
  }

  /* The keyboard's way to a goal: the arrow keys move a cursor (a pixel a press, 4 with shift), Enter or space
     sets the goal there. */
  function steerKey(event) {
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (!canSetGoal() || !(event.key in moves || event.key === "Enter" || event.key === " ")) return;
    event.preventDefault();  // the arrows and space would scroll the page
    const steer = app.steer;
    // Where a goal can be: the logo's box in steer mode (setGoal refuses one outside it), any pixel in Two Rooms.
    const [lo, hi] = app.roomsMode ? [0, app.world.frame_size - 1] : JepaWorld.bounds(app.world);
    const inside = (v) => Math.min(Math.max(v, lo), hi);
    if (!steer.cursor) steer.cursor = (steer.goal || app.state.position).map((v) => inside(Math.round(v)));
    if (event.key in moves) {
      const step = event.shiftKey ? 4 : 1;
      steer.cursor = steer.cursor.map((v, axis) => inside(v + step * moves[event.key][axis]));
      drawSteer();
      return;
    }
    setGoal([...steer.cursor]);
  }

  function drawCursor(context, at, scale) {
    const { cursor } = app.steer;
    if (!cursor || document.activeElement !== $("steer-view")) return;
    context.strokeStyle = "#2ecc71";
    context.lineWidth = 2;
    context.strokeRect(at(cursor[1]) - scale, at(cursor[0]) - scale, 2 * scale, 2 * scale);
  }

  function drawSteer() {
    const canvas = $("steer-view"), context = canvas.getContext("2d");
    const scale = canvas.width / app.world.frame_size;
    const at = (p) => (p + 0.5) * scale;
    app.roomsMode ? drawRooms(canvas) : drawFrame(canvas, app.frames[1]);
    drawCursor(context, at, scale);
    const { goal, path, reachedAt } = app.steer;
    $("frame-index").textContent = String(app.frameIndex);
    if (!goal) {
      $("steer-readout").textContent = app.roomsMode ? "No goal yet: click in free space, off the walls." :
        "No goal yet: click in the box, off its outermost pixels.";
      return;
    }
    context.strokeStyle = "#e74c3c";
    context.lineWidth = 2;
    context.beginPath();
    context.arc(at(goal[1]), at(goal[0]), app.meta.planner.success_px * scale, 0, 2 * Math.PI);
    context.stroke();
    context.strokeStyle = context.fillStyle = "#f39c12";
    context.beginPath();
    context.moveTo(at(app.state.position[1]), at(app.state.position[0]));
    path.forEach(([y, x]) => context.lineTo(at(x), at(y)));
    context.stroke();
    path.forEach(([y, x]) => context.fillRect(at(x) - 2, at(y) - 2, 4, 4));
    const plural = (n) => `${n} step${n === 1 ? "" : "s"}`;
    const reached = reachedAt === null ? "not reached yet" : `reached after ${plural(reachedAt)}`;
    $("steer-readout").textContent = `goal ${goalText(goal)}: the ` +
      `${app.roomsMode ? "dot" : "logo"} is ${goalDistance().toFixed(2)} px away after ${plural(app.steer.steps)}; ` +
      `${reached}.`;
    if (app.steer.planMs.length) {
      $("plan-ms").textContent = median(app.steer.planMs).toFixed(1);
      $("plan-ms-last").textContent = app.steer.planMs[app.steer.planMs.length - 1].toFixed(1);
    }
  }

  function clearPlanTimes() {
    app.steer.planMs = [];
    $("plan-ms").textContent = $("plan-ms-last").textContent = "–";
  }

  // ---------------------------------------------------------------- Two Rooms mode

  /* A fresh wall, door and start, the dot at rest, no goal. */
  function newRoomsWorld() {
    const layout = RoomsWorld.randomLayout(app.random, app.world);
    app.state = RoomsWorld.atRest(RoomsWorld.randomStart(app.random, layout, app.world), layout);
    app.frameIndex = 0;
    app.latent = null;
    Object.assign(app.steer, { goal: null, goalLatent: null, path: [], steps: 0, reachedAt: null, cursor: null });
    $("goal-message").hidden = true;
    drawSteer();
  }

  /* A goal in free space, given as planning.py gets it: the observation of the dot resting there, encoded.
     A point inside a wall is refused, the dot could never rest there, and so is one on any pixel drawn as wall
     (a face's, or the border's): what looks like a wall is refused as one. */
  function setRoomsGoal(position) {
    const { layout } = app.state;
    const onWall = RoomsWorld.onWallPixel(position, layout, app.world);
    if (onWall || !RoomsWorld.isFree(position, layout, app.world)) {
      const outside = !onWall && !RoomsWorld.inBox(position, app.world);
      refuseGoal(position, outside ? "outside the box" : "inside a wall", "click in free space");
      return;
    }
    $("goal-message").hidden = true;
    const latents = encode([RoomsWorld.observe(RoomsWorld.atRest(position, app.state.layout), app.world)]);
    if (!checkFinite("encoder", latents)) return;
    const plan = SteerPlanner.zeroPlan(app.meta.planner.horizon);  // as each of the evaluation's episodes starts
    Object.assign(app.steer, { goal: position, goalLatent: latents[0], steps: 0, reachedAt: null, path: [], plan,
      ...freshMemory() });
    if (goalDistance() < app.meta.planner.success_px) app.steer.reachedAt = 0;
    drawSteer();
  }

  /* The next action: every `actions_per_plan` steps a new plan from the newest observation, its actions
     applied in turn; null if the demo stopped. */
  function roomsAction() {
    if (app.roomsPlanner === "search") return searchAction();
    const { steer } = app, applied = app.meta.planner.actions_per_plan;
    if (steer.steps % applied === 0) {
      const plan = replan(RoomsWorld.observe(app.state, app.world));
      if (plan === null) return null;
      steer.inForce = plan;
      steer.plan = SteerPlanner.shifted(plan, applied);  // the warm start of the next plan
    }
    return steer.inForce[steer.steps % applied];
  }

  /* An episode's start for the search: no move under way, nothing remembered (exports without the search: size 0),
     no path kept (its move length is measured at the first plan, from the goal's latent). */
  const freshMemory = () => ({ move: null, memory: RoomsSearch.emptyMemory(app.meta.planner.search?.memory || 0,
    app.meta.planner.search?.surprise_share),
    kept: { path: [], length: null } });

  /* Two Rooms' planner: the latent search (with its memory) or MPPI; an export whose meta.json
     has no search settings offers MPPI only. The episode under way goes on with the new planner and an empty memory. */
  function chooseRoomsPlanner(name) {
    const offered = app.meta.planner.search ? ["search", "mppi"] : ["mppi"];
    $("rooms-planner").querySelector('option[value="search"]').disabled = !offered.includes("search");
    $("planner-message").hidden = offered.includes(name);
    if (!offered.includes(name)) {
      $("planner-message").textContent = `planner "${name}" is not offered by this model ` +
        `(it offers ${offered.join(", ")}); planning with ${offered[0]}.`;
      name = offered[0];
    }
    app.roomsPlanner = $("rooms-planner").value = name;
    Object.assign(app.steer, freshMemory());
    clearPlanTimes();  // the other planner's times are not this one's
    const { search } = app.meta.planner;
    $("plan-budget").textContent = name === "search"
      ? `latent search: ${search.beams} beams, ${search.depth} moves of ${search.move_steps} actions, a memory of ` +
        `${search.memory} surprising moves`
      : mppiBudget();
  }

  function mppiBudget() {
    const { samples, horizon, iterations } = app.meta.planner;
    return `MPPI: ${samples} sequences of ${horizon} actions, ${iterations} refinement${iterations === 1 ? "" : "s"}`;
  }

  /* The search's next action, as two_rooms_planning.episode runs it: at each move's end the newest
     observation is encoded and the move remembered if its outcome surprised the model; every `actions_per_plan`
     steps a new search from that latent, which replaces the rest of the kept path only when plainly better. */
  function searchAction() {
    const { steer, meta } = app, applied = meta.planner.actions_per_plan, hold = meta.planner.search.move_steps;
    if (steer.steps % hold === 0) {
      const latents = encode([RoomsWorld.observe(app.state, app.world)]);
      if (!checkFinite("encoder", latents)) return null;
      app.latent = latents[0];
      const { move } = steer;
      if (move) RoomsSearch.remember(steer.memory, predictMoves, move.before, move.action, app.latent, hold);
    }
    if (steer.steps % applied === 0) {
      const started = performance.now();
      const settings = { ...meta.planner.search, horizon: meta.planner.horizon };
      if (steer.kept.length === null) steer.kept.length = RoomsSearch.moveLength(predictMoves, steer.goalLatent, hold);
      if (!checkFinite("predictor", [[steer.kept.length]])) return null;
      const result = RoomsSearch.plan(predictMoves, app.latent, steer.goalLatent, settings, steer.memory, steer.kept);
      steer.kept.path = result.path.slice(applied / hold);
      steer.planMs = [...steer.planMs.slice(1 - RATE_WINDOW), performance.now() - started];
      if (!checkFinite("planner", [...result.plan, ...result.imagined])) return null;
      steer.inForce = result.plan;
      steer.path = SteerPlanner.probe(result.imagined, meta.probe);
    }
    const action = steer.inForce[steer.steps % applied];
    if (steer.steps % hold === 0) steer.move = { before: app.latent, action };
    return action;
  }

  /* Until the dot is within the success radius of the goal: plan when due, apply one action. */
  function roomsTick() {
    const started = performance.now();
    const { steer } = app;
    if (steer.goal && steer.reachedAt === null) {
      const action = roomsAction();
      if (action === null) return;
      app.state = RoomsWorld.step(app.state, action, app.world);
      steer.steps++;
      if (goalDistance() < app.meta.planner.success_px) steer.reachedAt = steer.steps;
    }
    app.frameIndex++;
    drawSteer();
    recordTiming(started);
  }

  /* The newest frame: the walls grey-blue, the dot white over them. */
  function drawRooms(canvas) {
    const size = app.world.frame_size, area = size * size;
    const frame = RoomsWorld.render(app.state.position, app.state.layout, app.world);
    const image = new ImageData(size, size);
    for (let i = 0; i < area; i++) {
      const dot = 255 * Math.min(Math.max(frame[i], 0), 1), wall = frame[area + i];
      image.data.set([Math.max(dot, 90 * wall), Math.max(dot, 100 * wall), Math.max(dot, 130 * wall), 255], 4 * i);
    }
    const small = document.createElement("canvas");
    small.width = small.height = size;
    small.getContext("2d").putImageData(image, 0, 0);
    const context = canvas.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.drawImage(small, 0, 0, canvas.width, canvas.height);
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
    // The meter is logarithmic: the threshold sits in the middle, a spike fills it. Before the first threshold
    // (the warm-up) there is nothing to measure against, and it stays empty.
    const fraction = (value) => Math.min(Math.max(0.5 + Math.log10(value / last.threshold) / 4, 0), 1);
    $("meter-fill").style.width = last && last.threshold ? `${100 * fraction(last.surprise)}%` : "0";
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
  }

  function draw(expectation) {
    drawFrame($("reality"), app.frames[app.frames.length - 1]);
    drawFrame($("expectation"), app.decoderOn ? expectation : null);
    drawBars(app.latent);
    drawSurprise();
    if (app.latent) $("dream-message").hidden = true;
    $("frame-index").textContent = String(app.frameIndex - 1);
  }

  function clearStrips() {
    $("dream-strip").replaceChildren();
    $("truth-strip").replaceChildren();
  }

  /* The dream length as typed, or null (and a visible message) if it is not a whole number in range. */
  function dreamSteps() {
    const text = $("dream-steps").value.trim();
    const steps = Number(text);
    const ok = text !== "" && Number.isInteger(steps) && steps >= 1 && steps <= DREAM_MAX;
    // What the number field cannot read reaches the page as "": say so rather than quote nothing.
    const got = $("dream-steps").validity.badInput ? "not a number" : `got "${text}"`;
    $("dream-steps-message").textContent = ok ? "" :
      `steps ahead must be a whole number from 1 to ${DREAM_MAX} (${got})`;
    $("dream-steps-message").hidden = ok;
    return ok ? steps : null;
  }

  function showDream() {
    if (!app.decoderOn) return;
    // Paused at load or after "new world", the model has not seen two frames yet: nothing to dream from.
    $("dream-message").hidden = Boolean(app.latent);
    if (!app.latent) return;
    const steps = dreamSteps();
    if (steps === null) {
      clearStrips();
      $("dream-steps-message").textContent += "; no dream shown";
      return;
    }
    const { latents, frames } = dream(app.latent, steps, true);
    if (!checkFinite("dream", latents) || !checkFinite("decoder", frames)) return;
    // Dream step k is the model's picture of frame n + k; reality's is the world stepped k times.
    let state = app.state;
    const truth = [];
    for (let k = 0; k < steps; k++) {
      state = nextState(state, k === 0 ? app.pendingTeleport : null);
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
    $("dream").disabled = $("dream-steps").disabled = !on || app.stopped || !app.models;
    if (!on) app.expectedFrame = null;
  }

  function wireControls() {
    $("play-pause").addEventListener("click", () => {
      app.playing = !app.playing;
      $("play-pause").textContent = app.playing ? "pause" : "play";
      app.tickStarts = [];  // a pause is not a slow frame: the measured rate restarts
      $("real-fps").textContent = "–";
    });
    $("play-pause").textContent = app.playing ? "pause" : "play";
    $("new-world").addEventListener("click", guarded(() => { newWorld(); tick(); }));
    $("inject-anomaly").addEventListener("click", () => setPendingTeleport(true));
    $("dream").addEventListener("click", guarded(showDream));
    $("dream-steps").max = String(DREAM_MAX);
    $("dream-steps").addEventListener("input", dreamSteps);
    $("backend").addEventListener("change", (event) => chooseBackend(event.target.value).catch(failed));
    $("rooms-planner").addEventListener("change", guarded((event) => chooseRoomsPlanner(event.target.value)));
    wireModelChoice();
    $("decoder-toggle").addEventListener("change", guarded((event) => setDecoder(event.target.checked)));
    $("steer-view").addEventListener("click", guarded(steerClick));
    $("steer-view").addEventListener("keydown", guarded(steerKey));
    ["focus", "blur"].forEach((type) => $("steer-view").addEventListener(type, guarded(() => {
      if (app.state && app.steerMode) drawSteer();  // the cursor shows while the view has the focus
    })));
    const speed = $("speed");
    speed.value = String(app.fps);
    $("speed-value").textContent = String(app.fps);
    speed.addEventListener("input", () => {
      app.fps = Number(speed.value);
      $("speed-value").textContent = speed.value;
      app.tickStarts = [];  // the measured rate restarts at the new speed
      schedule();
    });
    $("threshold-factor").textContent = String(THRESHOLD_FACTOR);
    $("threshold-window").textContent = String(THRESHOLD_WINDOW);
  }

  /* Another model is a page load away. The mouse commits a choice at once; the keyboard's arrows only browse
     (a select's `change` fires on each), and Enter or leaving the select commits. */
  function wireModelChoice() {
    const choice = $("model-choice"), current = MODEL_DIR.replace(/\/$/, "");
    if (!MODELS_OFFERED.includes(current)) choice.add(new Option(current, current));  // not a blank select
    choice.value = current;
    let browsing = false;
    const go = () => {
      browsing = false;
      if (choice.value === current) return;
      query.set("model", choice.value);
      query.delete("planner");  // this model's planner choice: the next model starts with its own default
      window.location.search = query.toString();
    };
    choice.addEventListener("mousedown", () => { browsing = false; });
    choice.addEventListener("keydown", (event) => {
      if (event.key === "Enter") go();
      else if (event.key !== "Tab") browsing = true;
    });
    choice.addEventListener("change", () => { if (!browsing) go(); });
    choice.addEventListener("blur", () => { if (browsing) go(); });
    // Back to a page kept whole in the browser's back/forward cache: its select still shows the model left for.
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) [choice.value, browsing] = [current, false];
    });
  }

  // ---------------------------------------------------------------- timing (for export.measure)

  /* Milliseconds of `repeats` calls of `action` after one warm-up call, or of fewer: none is started once the
     ones timed add up to `budgetMs`. */
  function timedCalls(action, repeats, budgetMs = Infinity) {
    action();  // warm-up: first calls compile kernels and allocate
    const times = [];
    let spent = 0;
    while (times.length < repeats && spent < budgetMs) {
      const start = performance.now();
      action();
      times.push(performance.now() - start);
      spent += times[times.length - 1];
    }
    return times;
  }

  function medianTime(action, repeats) {
    return median(timedCalls(action, repeats));
  }

  /* A fixed layout, observation and goal, for timings: the wall and door in the middle, the dot in one corner,
     the goal in the other. */
  function sampleObservation() {
    if (app.roomsMode) {
      const middle = Math.floor(app.world.frame_size / 2), layout = { wall_x: middle, door_y: middle };
      return RoomsWorld.observe({ previous: [10, 10], position: [10.75, 10.75], layout }, app.world);
    }
    return [...JepaWorld.render([5, 6], app.world), ...JepaWorld.render([5.75, 6.75], app.world)];
  }

  function sampleGoalObservation() {
    if (app.roomsMode) {
      const middle = Math.floor(app.world.frame_size / 2), far = app.world.frame_size - 10;
      return RoomsWorld.observe(RoomsWorld.atRest([far, far], { wall_x: middle, door_y: middle }), app.world);
    }
    const goal = SteerWorld.atRest([8, 8]);
    return SteerWorld.observe(goal, goal, app.world);
  }

  /* One replanning step toward a fixed goal from a fixed observation, as a function to time. */
  function samplePlanning() {
    const [goalLatent] = encode([sampleGoalObservation()]);
    const observation = sampleObservation(), settings = app.meta.planner;
    return () => SteerPlanner.plan(app.models, observation, goalLatent, SteerPlanner.zeroPlan(settings.horizon),
      settings, 0);
  }

  /* The bounce loop's encode+predict (+decode where the model has a decoder) on `observation`. */
  function modelStep(observation) {
    const predicted = predict(withNoAction(encode([observation])));
    return hasDecoder() ? decode(predicted) : predicted;
  }

  /* What the backends are timed on: a frame of the bounce loop, or an MPPI replanning step. In Two Rooms that is
     MPPI's step whichever planner runs: every action model offers MPPI, and timing the search too would add seconds
     to the page's load for the same choice of backend. */
  const stepTimed = () => (app.steerMode ? "one MPPI replanning step" : "one step");

  /* `stepTimed()` as a function to time. */
  function sampleStep() {
    const observation = sampleObservation();
    return app.steerMode ? samplePlanning() : () => modelStep(observation);
  }

  function timings(repeats = 50, dreamSteps = 30) {
    const observation = sampleObservation();
    const [z] = encode([observation]);
    const figures = {
      backend: tf.getBackend(),
      step_ms: medianTime(() => modelStep(observation), repeats),
      dream_ms: medianTime(() => dream(z, dreamSteps, hasDecoder()), repeats),
      dream_steps: dreamSteps,
      repeats,
    };
    if (app.steerMode) {
      const { samples, horizon, iterations } = app.meta.planner;
      Object.assign(figures, { replan_ms: medianTime(samplePlanning(), repeats), samples, horizon, iterations });
    }
    return figures;
  }

  // ---------------------------------------------------------------- the backend

  /* Which TF.js backend is faster differs by machine (at batch 1, webgl's transfers can cost more than the cpu
     backend's work), so each one that starts is timed on a few real steps and the fastest kept, unless the user
     picks one: then only that one is timed, since starting a backend that is never used (webgl's shaders) is
     slow where the browser emulates it. A backend counts its best step: the cpu backend's first steps after the
     warm-up are still slower than its later ones, so their median can make the slower backend look faster. */
  async function measureBackends(names) {
    for (const name of names) {
      if (name in app.backendTimes) continue;
      if (!(await useBackend(name))) continue;
      app.backendSteps[name] = timedCalls(sampleStep(), BACKEND_TRIALS, BACKEND_BUDGET_MS);
      app.backendTimes[name] = Math.min(...app.backendSteps[name]);
    }
  }

  /* Switch to backend `name`, or back to cpu where it cannot start (a failed tf.setBackend leaves TF.js naming
     the backend that failed). Whether `name` is in use now. */
  async function useBackend(name) {
    if (tf.findBackendFactory(name) !== null && await tf.setBackend(name)) return true;
    await tf.setBackend("cpu");
    return false;
  }

  function fastestBackend() {
    const measured = Object.keys(app.backendTimes);
    return measured.sort((a, b) => app.backendTimes[a] - app.backendTimes[b])[0] || tf.getBackend();
  }

  /* Choices run one after another, and one that a newer choice finds still waiting is dropped: two switches at
     once would each time and set backends, and the one that finished last would win, not the one chosen last. */
  let backendChoices = 0, backendSwitching = Promise.resolve();
  function chooseBackend(choice) {
    const mine = ++backendChoices;
    const run = () => (mine === backendChoices ? switchBackend(choice, () => mine === backendChoices) : null);
    backendSwitching = backendSwitching.catch(() => {}).then(run);
    return backendSwitching;
  }

  /* `latest()`: whether no newer choice has been made since this one. */
  async function switchBackend(choice, latest) {
    if (app.stopped) return;
    let unknown = "";
    if (!BACKEND_CHOICES.includes(choice)) {
      unknown = `backend "${choice}" is unknown (this page offers ${BACKEND_CHOICES.join(", ")}), so auto: `;
      choice = "auto";
      $("backend").value = choice;
    }
    await measureBackends(choice === "auto" ? BACKENDS : [choice]);
    const name = choice === "auto" ? fastestBackend() : choice;
    if (!(name in app.backendTimes) || !(await useBackend(name))) {
      $("backend-note").textContent = `backend ${name} is not available in this browser; still on ${tf.getBackend()}`;
      if (latest()) $("backend").value = tf.getBackend();
      showLoaded();
      return;
    }
    showLoaded();
    app.tickMs = [];
    clearPlanTimes();
    const times = Object.entries(app.backendTimes).map(([n, ms]) => `${n} ${ms.toFixed(1)} ms`).join(", ");
    const why = choice === "auto" ? "the fastest" : "your choice";
    $("backend-note").textContent = `${unknown}running on ${name} (${why}; ${stepTimed()}, best of those ` +
      `timed: ${times})`;
  }

  function showLoaded() {
    if (app.stopped) return;  // the status says why the demo stopped
    $("status").textContent = `Model loaded (${app.meta.weights_dtype} weights, sha256 checked, ` +
      `TF.js ${tf.version.tfjs}, backend ${tf.getBackend()}).`;
  }

  // ---------------------------------------------------------------- start

  /* Any error on the way to a running page reaches #error: a TypeError after the load would otherwise leave
     "Loading the model…" up for good. */
  async function start() {
    setControlsEnabled(false);
    wireControls();
    showNotes();
    let loaded = false;
    try {
      await load();
      loaded = true;
      await begin();
    } catch (problem) {
      if (!loaded) {
        if (!(problem instanceof ModelProblem)) {
          problem = new ModelProblem(String((problem && problem.message) || problem));
        }
        showProblem(problem);
      } else {
        failed(problem);
      }
      throw problem;
    }
  }

  function showNotes() {
    $("query-note").textContent = notes.join(" ");
    $("query-note").hidden = notes.length === 0;
  }

  async function load() {
    const loaded = await loadModels();
    app.meta = loaded.meta;
    app.models = loaded.models;
    app.world = loaded.meta.world;
    app.steerMode = actionDim() > 0;
    app.roomsMode = app.world.name === "two_rooms";
    document.body.classList.toggle("steer-mode", app.steerMode);
    document.body.classList.toggle("rooms-mode", app.roomsMode);
  }

  async function begin() {
    const wanted = query.get("backend") || "auto";
    $("backend").value = wanted;
    await chooseBackend(wanted);
    document.querySelectorAll(".latent-dim").forEach((el) => { el.textContent = String(app.meta.model.latent_dim); });
    if (app.steerMode && !app.roomsMode) $("plan-budget").textContent = mppiBudget();  // Two Rooms': as chosen
    if (query.get("planner") && !app.roomsMode) {
      notes.push(`planner "${query.get("planner")}" is chosen in Two Rooms mode only; this model ` +
        `${app.steerMode ? "plans with MPPI" : "does not plan"}.`);
      showNotes();
    }
    if (app.roomsMode) {
      chooseRoomsPlanner(query.get("planner") || (app.meta.planner.search ? "search" : "mppi"));
      $("steer-view").width = $("steer-view").height = ROOMS_PX_PER_CELL * app.world.frame_size;
      $("rooms-every").textContent = String(app.meta.planner.actions_per_plan);
      $("rooms-radius").textContent = String(app.meta.planner.success_px);
    }
    newWorld();
    if (!hasDecoder()) $("decoder-toggle").checked = false;
    setDecoder($("decoder-toggle").checked);
    setControlsEnabled(true);
    tick();
    schedule();
  }

  const ready = start();
  ready.catch(() => {});  // the problem is on the page already; the tests read it from there
  window.jepa = {
    ready, app, encode, predict, decode, dream, tick: safeTick, timings, setGoal,
    backendTiming: { trials: BACKEND_TRIALS, budgetMs: BACKEND_BUDGET_MS },
    inject: () => setPendingTeleport(true),
    get backend() { return typeof tf === "undefined" ? null : tf.getBackend(); },
    get switching() { return backendSwitching; },  // settles once every backend choice made so far has run
  };
})();

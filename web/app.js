/*
 * The demo page's main loop and controls: the world runs, the exported JEPA watches it (TF.js graph models made
 * by `python -m export`), and the page shows what the model expects, its latent and its surprise; with a model
 * whose predictor takes actions it plans instead, toward a goal clicked in the view.
 *
 * The page's scripts, in the order index.html loads them (each takes what it needs from those before it):
 *   world.js, steer.js, rooms.js, search.js   the worlds' physics and the planners, as in Python
 *   page.js         the shared state (`app`), the address's options, and how the page stops on a problem
 *   model.js        the loaded networks on plain arrays (encode, predict, decode, dream)
 *   bounce-view.js  the bouncing world: expectation, latent bars, surprise, alarm, trace and dream
 *   steer-view.js   steer mode: goals, MPPI, and the view and readout Two Rooms shares
 *   rooms-view.js   Two Rooms mode: its world, goals and planners (the latent search or MPPI)
 *   backend.js      the TF.js backend's choice and the timings
 *   load.js         loading the model files and checking them (sha256 manifest, HTTP status, fields, shapes)
 *   app.js          this file: one loop for every mode, the controls, and the start
 *
 * `window.jepa` exposes the model and the state to the browser tests and to `python -m export.measure`.
 */
(function () {
  "use strict";
  const { query, MODEL_DIR, MODELS_OFFERED, RATE_WINDOW, $, app, notes, showNotes, actionDim, hasDecoder,
    setControlsEnabled, failed, guarded } = JepaPage;
  const { encode, predict, decode, dream } = JepaModel;
  const { ModelProblem, loadModels, showProblem } = JepaLoad;
  const { chooseBackend, timings } = JepaBackend;
  const ROOMS_PX_PER_CELL = 8;  // canvas pixels per Two Rooms pixel

  /* The mode's view: each has its own world, tick and drawing. */
  const view = () => (app.steerMode ? (app.roomsMode ? RoomsView : SteerView) : BounceView);

  // ---------------------------------------------------------------- the world and the loop

  function newWorld() {
    const seed = app.random ? Math.floor(app.random() * 2 ** 32) : (app.seed ?? Date.now());
    app.random = JepaWorld.randomSource(seed);
    view().newWorld();
  }

  /* Advance the world one frame and let the model look at it (or plan). */
  const safeTick = guarded(() => tick());
  function tick() {
    if (app.stopped) return;
    const started = performance.now();
    if (view().tick()) recordTiming(started);
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

  // ---------------------------------------------------------------- controls

  function wireControls() {
    $("play-pause").addEventListener("click", () => {
      app.playing = !app.playing;
      $("play-pause").textContent = app.playing ? "pause" : "play";
      app.tickStarts = [];  // a pause is not a slow frame: the measured rate restarts
      $("real-fps").textContent = "–";
    });
    $("play-pause").textContent = app.playing ? "pause" : "play";
    $("new-world").addEventListener("click", guarded(() => { newWorld(); tick(); }));
    $("inject-anomaly").addEventListener("click", () => BounceView.setPendingTeleport(true));
    $("dream").addEventListener("click", guarded(BounceView.showDream));
    $("dream-steps").max = String(BounceView.DREAM_MAX);
    $("dream-steps").addEventListener("input", BounceView.dreamSteps);
    $("backend").addEventListener("change", (event) => chooseBackend(event.target.value).catch(failed));
    $("rooms-planner").addEventListener("change", guarded((event) => RoomsView.choosePlanner(event.target.value)));
    wireModelChoice();
    $("decoder-toggle").addEventListener("change", guarded((event) => BounceView.setDecoder(event.target.checked)));
    $("steer-view").addEventListener("click", guarded(SteerView.steerClick));
    $("steer-view").addEventListener("keydown", guarded(SteerView.steerKey));
    ["focus", "blur"].forEach((type) => $("steer-view").addEventListener(type, guarded(() => {
      if (app.state && app.steerMode) SteerView.drawSteer();  // the cursor shows while the view has the focus
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
    $("threshold-factor").textContent = String(BounceView.THRESHOLD_FACTOR);
    $("threshold-window").textContent = String(BounceView.THRESHOLD_WINDOW);
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
    const side = app.world.frame_size;  // the texts' box is the loaded world's, 16 px or not
    document.querySelectorAll(".frame-size").forEach((el) => { el.textContent = `${side}\u00d7${side}`; });
    // Two Rooms' budget is the planner's it runs, set as that is chosen.
    if (app.steerMode && !app.roomsMode) $("plan-budget").textContent = SteerView.mppiBudget();
    if (query.get("planner") && !app.roomsMode) {
      notes.push(`planner "${query.get("planner")}" is chosen in Two Rooms mode only; this model ` +
        `${app.steerMode ? "plans with MPPI" : "does not plan"}.`);
      showNotes();
    }
    if (app.roomsMode) {
      RoomsView.choosePlanner(query.get("planner") || (app.meta.planner.search ? "search" : "mppi"));
      $("steer-view").width = $("steer-view").height = ROOMS_PX_PER_CELL * app.world.frame_size;
      $("rooms-every").textContent = String(app.meta.planner.actions_per_plan);
      $("rooms-radius").textContent = String(app.meta.planner.success_px);
      RoomsView.describePlanners();
    }
    newWorld();
    if (!hasDecoder()) $("decoder-toggle").checked = false;
    BounceView.setDecoder($("decoder-toggle").checked);
    setControlsEnabled(true);
    tick();
    schedule();
  }

  const ready = start();
  ready.catch(() => {});  // the problem is on the page already; the tests read it from there
  window.jepa = {
    ready, app, encode, predict, decode, dream, tick: safeTick, timings, setGoal: SteerView.setGoal,
    backendTiming: { trials: JepaBackend.BACKEND_TRIALS, budgetMs: JepaBackend.BACKEND_BUDGET_MS },
    inject: () => BounceView.setPendingTeleport(true),
    get backend() { return typeof tf === "undefined" ? null : tf.getBackend(); },
    get switching() { return JepaBackend.switching; },  // settles once every backend choice made so far has run
  };
})();

/*
 * Which TF.js backend runs the model, and how long its steps take: the page times each backend on a few real
 * steps and keeps the fastest (or the one asked for), and `timings` gives `python -m export.measure` the
 * per-step figures it records. Both time the same fixed observation, goal and planning step, so the choice made
 * at load and the figures measured are of the same work.
 */
(function (root) {
  "use strict";
  const { $, app, median, hasDecoder } = JepaPage;
  const { encode, predict, decode, withNoAction, dream } = JepaModel;
  const { clearPlanTimes } = SteerView;
  const BACKEND_TRIALS = 10;    // timed steps per backend when choosing one at load, unless fewer add up to
  const BACKEND_BUDGET_MS = 250;  // this: a Two Rooms step plans, and ten of them would hold up the page
  const BACKENDS = ["cpu", "webgl"];
  const BACKEND_CHOICES = ["auto", ...BACKENDS];

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

  root.JepaBackend = {
    BACKEND_TRIALS, BACKEND_BUDGET_MS, timings, useBackend, chooseBackend,
    get switching() { return backendSwitching; },  // settles once every backend choice made so far has run
  };
})(typeof window !== "undefined" ? window : globalThis);

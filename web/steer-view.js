/*
 * Steer mode's view (a model whose predictor takes actions, meta.json `model.action_dim`, e.g. web/model-steer):
 * the logo is pushed by actions (steer.js) and rests until a click or the keyboard sets a goal; an MPPI planner
 * (steer.js) steers it there, replanning every frame from a warm start.
 *
 * The goal, its ring, the imagined path, the cursor and the readout are Two Rooms mode's too (rooms-view.js
 * holds only what differs there), so they live here and hand over to `RoomsView` where the world is Two Rooms.
 */
(function (root) {
  "use strict";
  const { $, app, RATE_WINDOW, checkFinite, median } = JepaPage;
  const { encode } = JepaModel;
  const { drawFrame } = BounceView;

  /* The logo at rest anywhere in the evaluation box, no goal; both frames of the observation alike. */
  function newWorld() {
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
      RoomsView.setGoal(position);
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

  /* Plan (when there is a goal), apply the first action, and see the world move one frame; false if the demo
     stopped on the way. */
  function tick() {
    const action = app.steer.goal ? steerAction() : [0, 0];
    if (action === null) return false;
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
    return true;
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
    app.roomsMode ? RoomsView.drawRooms(canvas) : drawFrame(canvas, app.frames[1]);
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

  function mppiBudget() {
    const { samples, horizon, iterations } = app.meta.planner;
    return `MPPI: ${samples} sequences of ${horizon} actions, ${iterations} refinement${iterations === 1 ? "" : "s"}`;
  }

  root.SteerView = {
    newWorld, setGoal, refuseGoal, replan, tick, goalDistance, steerClick, steerKey, drawSteer, clearPlanTimes,
    mppiBudget,
  };
})(typeof window !== "undefined" ? window : globalThis);

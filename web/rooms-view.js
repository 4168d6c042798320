/*
 * Two Rooms mode's view (meta.json `world.name` "two_rooms", web/model-two-rooms): a dot moves through the door
 * of a wall (rooms.js), steered by a latent search (search.js) or, on the switch, by MPPI (steer.js), replanning
 * every `planner.actions_per_plan` actions as Python's evaluation does.
 *
 * Only what differs from steer mode is here: the world, its goals in free space, the two planners and the
 * drawing of the walls; the goal's ring, the path, the cursor and the readout are steer-view.js's.
 */
(function (root) {
  "use strict";
  const { $, app, RATE_WINDOW, checkFinite } = JepaPage;
  const { encode, predictMoves } = JepaModel;
  const { refuseGoal, replan, goalDistance, drawSteer, clearPlanTimes, mppiBudget } = SteerView;

  /* A fresh wall, door and start, the dot at rest, no goal. */
  function newWorld() {
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
  function setGoal(position) {
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
  function choosePlanner(name) {
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

  /* The header's account of the planners, from meta.json: the page's search (its beams, its reversals, its memory,
     its replanning) and the beams the model's run searches with in Python; MPPI alone without search settings. */
  function describePlanners() {
    const { search } = app.meta.planner;
    $("rooms-search-text").hidden = !search;
    $("rooms-run-search").hidden = !search || !Number.isInteger(search.run_beams);
    if (!search) return;
    $("rooms-reversals").hidden = search.reversals !== "pruned";
    $("rooms-beams").textContent = String(search.beams);
    $("rooms-memory").hidden = search.memory === 0;
    $("rooms-replan").textContent = search.replan === "keep"
      ? "follows its path until a new search finds a plainly better one" : "searches anew at each plan";
    $("rooms-run-beams").textContent = String(search.run_beams);
    const { beams, run_beams: run } = search;
    $("rooms-beams-compared").textContent =
      run === beams ? "as many as the page's" : run === 2 * beams ? "twice the page's" : `the page ${beams}`;
  }

  /* The search's next action, as two_rooms_planning.episode runs it: each plan's moves start at its first action,
     so with move_steps not dividing actions_per_plan (replan "fresh") its last move is cut by the next plan. At each
     move's start (each plan's first action among them) the newest observation is encoded, and the move that ended
     there remembered if it ran whole and its outcome surprised the model; every `actions_per_plan` steps a new
     search from that latent, which replaces the rest of the kept path only when plainly better. */
  function searchAction() {
    const { steer, meta } = app, applied = meta.planner.actions_per_plan, hold = meta.planner.search.move_steps;
    const offset = steer.steps % applied, moveStarts = offset % hold === 0;
    if (moveStarts) {
      const latents = encode([RoomsWorld.observe(app.state, app.world)]);
      if (!checkFinite("encoder", latents)) return null;
      app.latent = latents[0];
      const { move } = steer;  // a move cut by this plan ran fewer than `hold` steps, and is not remembered
      if (move && steer.steps - move.start === hold) {
        RoomsSearch.remember(steer.memory, predictMoves, move.before, move.action, app.latent, hold);
      }
    }
    if (offset === 0) {
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
    const action = steer.inForce[offset];
    if (moveStarts) steer.move = { before: app.latent, action, start: steer.steps };
    return action;
  }

  /* Until the dot is within the success radius of the goal: plan when due, apply one action; false if the demo
     stopped on the way. */
  function tick() {
    const { steer } = app;
    if (steer.goal && steer.reachedAt === null) {
      const action = roomsAction();
      if (action === null) return false;
      app.state = RoomsWorld.step(app.state, action, app.world);
      steer.steps++;
      if (goalDistance() < app.meta.planner.success_px) steer.reachedAt = steer.steps;
    }
    app.frameIndex++;
    drawSteer();
    return true;
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

  root.RoomsView = { newWorld, setGoal, choosePlanner, describePlanners, tick, drawRooms };
})(typeof window !== "undefined" ? window : globalThis);

/*
 * Loading the model files named by ?model= (a folder beside this page), and checking them before anything
 * runs: every file against the sha256 in meta.json's manifest, a missing one named with its HTTP status, the
 * meta.json fields each mode reads, and each network's input and output shapes. A problem stops the page
 * with a plain message saying how to make the files, rather than a TypeError, NaN or nonsense later on.
 */
(function (root) {
  "use strict";
  const { query, MODEL_DIR, MODELS_OFFERED, stop } = JepaPage;
  const { useBackend } = JepaBackend;
  const FORMAT = "jaxjepa-web-model";

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

  function checkedFetch(manifest, address) {
    const base = new URL(address, window.location.href).href;
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

  /* The address of the folder ?model= names, beside this page: each folder on its path percent-encoded, so that
     any name `python -m export --out web/NAME` writes (a space, an accent, a "+") loads, and none reaches another
     site or leaves the page's folder. Null for a path no export has: an empty folder (`//site`) or `..`. */
  function modelAddress() {
    const folders = MODEL_DIR.replace(/\/$/, "").split("/");
    if (folders.some((folder) => folder === "" || folder === "..")) return null;
    return folders.map(encodeURIComponent).join("/") + "/";
  }

  async function loadModels() {
    if (window.location.protocol === "file:") {
      throw new ModelProblem("this page was opened as a file, and browsers do not let a file load " +
        "model files. Serve the folder instead: python -m http.server -d web, then open http://localhost:8000/");
    }
    if (typeof tf === "undefined") {
      throw new ModelProblem("TensorFlow.js (vendor/tfjs/tf.min.js) is missing, so nothing can run.");
    }
    const address = modelAddress();
    if (address === null) {
      throw new ModelProblem(`the model "${MODEL_DIR.replace(/\/$/, "")}" could not be read: ?model= takes a folder ` +
        "served beside this page, never another site's address.");
    }
    let meta;
    try {
      const response = await fetch(address + "meta.json");
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      meta = await response.json();
    } catch (error) {
      throw new ModelProblem(`the model description ${MODEL_DIR}meta.json could not be read (${error.message}).`);
    }
    const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
    if (!isObject(meta) || meta.format !== FORMAT || !["files", "world", "model", "manifest"].every(
      (key) => isObject(meta[key]))) {
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
        const fetchFunc = checkedFetch(meta.manifest, address);
        models[name] = await tf.loadGraphModel(address + meta.files[name], { fetchFunc });
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
    const valueAt = (path) => path.split(".").reduce(
      (value, key) => (value === undefined || value === null ? undefined : value[key]), meta);
    const missing = fields.find((path) => valueAt(path) == null);
    if (missing !== undefined) {
      throw new MetaProblem(`${MODEL_DIR}meta.json has no ${missing}, which this page needs; it comes from an ` +
        "older or damaged export: re-export the run (python -m export RUN).");
    }
    const wrong = fields.find((path) => !META_KINDS[kindOf(path)].test(valueAt(path), meta));
    if (wrong !== undefined) {
      throw new MetaProblem(`${MODEL_DIR}meta.json has ${wrong} = ${JSON.stringify(valueAt(wrong))}, where this ` +
        `page needs ${META_KINDS[kindOf(wrong)].wanted}; ${EDITED}`);
    }
    checkObservationSize(meta);
    checkRoomsPlans(meta);
    if (steering) checkMppiWork(meta.planner);
    if (rooms && meta.planner.search) checkSearchWork(meta.planner.search);
  }

  // export/__main__.py's: the most sampled actions MPPI holds at once; the most predictor steps either planner takes
  // each plan (MPPI: iterations x samples x horizon; the latent search: 8 moves x beams x depth x move_steps); the
  // most beams the search spreads by farthest-point sampling, whose work grows as beams squared
  const PAGE_MAX_SAMPLED_ACTIONS = 1000000, PAGE_MAX_PLAN_PREDICTIONS = 1000000, PAGE_MAX_SEARCH_BEAMS = 256;

  /* MPPI holds samples x horizon actions at once, and refines its plan with them `iterations` times each frame:
     python -m export refuses more than PAGE_MAX_SAMPLED_ACTIONS, or more predictor steps than
     PAGE_MAX_PLAN_PREDICTIONS, which would stall the page's load (its backend timing plans too) and every frame. */
  function checkMppiWork({ samples, horizon, iterations }) {
    if (samples * horizon > PAGE_MAX_SAMPLED_ACTIONS) {
      throw new MetaProblem(`${MODEL_DIR}meta.json has planner.samples = ${samples} and planner.horizon = ` +
        `${horizon}: ${samples * horizon} sampled actions, more than the ${PAGE_MAX_SAMPLED_ACTIONS} this page can ` +
        `hold and plan with each frame; ${EDITED}`);
    }
    const predictions = iterations * samples * horizon;
    if (predictions <= PAGE_MAX_PLAN_PREDICTIONS) return;
    throw new MetaProblem(`${MODEL_DIR}meta.json has planner.iterations = ${iterations}, planner.samples = ` +
      `${samples} and planner.horizon = ${horizon}: ${predictions} predictor steps each plan, more than the ` +
      `${PAGE_MAX_PLAN_PREDICTIONS} this page can take each plan; ${EDITED}`);
  }

  /* The latent search runs each plan in one frame: python -m export refuses more beams than PAGE_MAX_SEARCH_BEAMS,
     or more predictor steps than PAGE_MAX_PLAN_PREDICTIONS, which would hang the page or run it out of memory. */
  function checkSearchWork({ beams, depth, move_steps: hold }) {
    if (beams > PAGE_MAX_SEARCH_BEAMS) {
      throw new MetaProblem(`${MODEL_DIR}meta.json has planner.search.beams = ${beams}, more than the ` +
        `${PAGE_MAX_SEARCH_BEAMS} beams this page can spread by farthest-point sampling each move; ${EDITED}`);
    }
    const predictions = RoomsSearch.MOVES.length * beams * depth * hold;
    if (predictions <= PAGE_MAX_PLAN_PREDICTIONS) return;
    throw new MetaProblem(`${MODEL_DIR}meta.json has planner.search.beams = ${beams}, planner.search.depth = ` +
      `${depth} and planner.search.move_steps = ${hold}: ${predictions} predictor steps each plan, more than the ` +
      `${PAGE_MAX_PLAN_PREDICTIONS} this page can take each plan; ${EDITED}`);
  }

  const EDITED = "it was edited or damaged: re-export the run (python -m export RUN).";

  /* The world the page renders must give the observations the encoder reads: two frames of frame_size^2 pixels,
     each of the dot and of the walls in Two Rooms. */
  function checkObservationSize({ world, model }) {
    const size = (world.name === "two_rooms" ? 4 : 2) * world.frame_size ** 2;
    if (model.obs_dim !== size) {
      throw new MetaProblem(`${MODEL_DIR}meta.json has model.obs_dim = ${model.obs_dim}, where its world of ` +
        `${world.frame_size}\u00d7${world.frame_size} px gives observations of ${size} numbers; ${EDITED}`);
    }
  }

  /* Each Two Rooms plan has its first actions_per_plan actions applied, as python -m export and the evaluation
     require (export.page.two_rooms_plan_problem): a shorter plan (horizon) would run out of actions mid-plan, and a
     kept search path, which advances by whole moves of move_steps actions, would have a move cut by the next plan,
     and a memory of moves longer than a plan would remember none. */
  function checkRoomsPlans({ world, planner }) {
    if (world.name !== "two_rooms") return;
    const { horizon, actions_per_plan: applied, search } = planner;
    if (horizon < applied) {
      throw new MetaProblem(`${MODEL_DIR}meta.json has planner.horizon = ${horizon}, shorter than the ` +
        `planner.actions_per_plan = ${applied} actions applied from each plan; ${EDITED}`);
    }
    if (search && search.memory > 0 && applied < search.move_steps) {
      throw new MetaProblem(`${MODEL_DIR}meta.json has planner.search.move_steps = ${search.move_steps}, more than ` +
        `the planner.actions_per_plan = ${applied} actions applied from each plan: its memory of ` +
        `planner.search.memory = ${search.memory} moves would remember none; ${EDITED}`);
    }
    if (!search || search.replan !== "keep" || applied % search.move_steps === 0) return;
    throw new MetaProblem(`${MODEL_DIR}meta.json has planner.search.move_steps = ${search.move_steps}, which does ` +
      `not divide planner.actions_per_plan = ${applied}: a kept search path needs whole moves per plan; ${EDITED}`);
  }

  /* What each field of meta.json must hold, as python -m export writes it: a hand-edited value of another kind
     would otherwise stop the page mid-run with a TF.js error, or run it on nonsense (a sigma of 0: NaN frames). */
  const finite = (v) => typeof v === "number" && Number.isFinite(v);
  const oneOf = (...names) => ({ test: (v) => names.includes(v), wanted: names.map((n) => `"${n}"`).join(" or ") });
  const META_KINDS = {
    count: { test: (v) => Number.isInteger(v) && v >= 1, wanted: "a whole number, 1 or more" },
    whole: { test: (v) => Number.isInteger(v) && v >= 0, wanted: "a whole number, 0 or more" },
    positive: { test: (v) => finite(v) && v > 0, wanted: "a number above 0" },
    number: { test: (v) => finite(v) && v >= 0, wanted: "a number, 0 or more" },
    text: { test: (v) => typeof v === "string" && v !== "", wanted: "a name" },
    // the world's ranges in config.py: outside them the page draws a logo that starts outside its box, a blob wider
    // than the box or one that underflows to NaN frames, or one that crosses the box in less than a frame
    sigma: { test: (v, meta) => finite(v) && v >= 0.1 && v <= meta.world.frame_size,
      wanted: "a number from 0.1 to world.frame_size" },
    speed: { test: (v) => finite(v) && v >= 0 && v <= 1, wanted: "a number from 0 to 1" },
    margin: { test: (v, meta) => Number.isInteger(v) && v >= 0 && 2 * v + 2 <= meta.world.frame_size,
      wanted: "a whole number from 0 to (world.frame_size - 2) / 2" },
    // the names config.py allows: another would silently plan as the last of the page's if-else does
    cost: oneOf("sum", "last"),
    replan: oneOf("keep", "fresh"),
    reversals: oneOf("allowed", "pruned"),
    probeWeights: { test: (v, meta) => Array.isArray(v) && v.length === meta.model.latent_dim && v.every(
      (row) => Array.isArray(row) && row.length === 2 && row.every(finite)), wanted: "latent_dim rows of 2 numbers" },
    probeBias: { test: (v) => Array.isArray(v) && v.length === 2 && v.every(finite), wanted: "2 numbers" },
  };
  const COUNTS = ["model.obs_dim", "model.latent_dim", "model.predictor.0", "model.decoder.0", "world.frame_size",
    "planner.horizon", "planner.samples", "planner.iterations", "planner.actions_per_plan", "planner.search.beams",
    "planner.search.depth", "planner.search.move_steps"];
  const POSITIVE = ["world.steer_gain", "world.steer_max_speed", "planner.noise", "planner.temperature",
    "planner.success_px", "planner.search.memory_radius", "planner.search.surprise_share"];
  const TEXTS = ["files.encoder", "files.predictor", "weights_dtype"];
  const OWN_KINDS = {  // fields with a kind of their own
    "planner.cost": "cost", "planner.search.replan": "replan", "planner.search.reversals": "reversals",
    "world.sigma": "sigma", "world.speed": "speed", "world.eval_start_margin": "margin" };
  function kindOf(path) {
    if (path in OWN_KINDS) return OWN_KINDS[path];
    if (COUNTS.includes(path)) return "count";
    if (POSITIVE.includes(path)) return "positive";
    if (TEXTS.includes(path)) return "text";
    if (path === "probe.weights") return "probeWeights";
    if (path === "probe.bias") return "probeBias";
    return path === "planner.search.memory" ? "whole" : "number";
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

  root.JepaLoad = { ModelProblem, loadModels, showProblem };
})(typeof window !== "undefined" ? window : globalThis);

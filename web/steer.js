/*
 * The steer world and its planner in the browser: the same physics as jaxjepa/steer.py and the same
 * MPPI as jaxjepa/planning.py, written with TF.js ops.
 *
 * Physics: an action a in [-1, 1]^2 (clipped there) changes the velocity, v <- clip(v + gain a, -max, max)
 * per axis, then the logo moves and bounces exactly as in the bouncing world (JepaWorld.step). Every
 * arithmetic result is rounded to float32 (Math.fround), as in world.js, so a bounce lands on the same
 * frame as in Python.
 *
 * Planner: N action sequences of H steps are sampled around the current plan (the plan itself first),
 * all N go through the predictor at once, step by step over the horizon; the cost of a sequence is the
 * sum over the horizon of ||z_k - z_goal|| (or the last step's only); the new plan is the softmax-weighted
 * mean, with the costs rescaled by their spread (mean cost - min cost) so one temperature suits any latent scale
 * (planning.mppi).
 */
(function (root) {
  "use strict";
  const f32 = Math.fround;
  const UNIFORM_STD = Math.sqrt(3);  // U(-1, 1) times this has unit standard deviation

  const clip = (value, lo, hi) => Math.min(Math.max(value, lo), hi);
  /* The action within [-1, 1]^2; a NaN entry pushes nothing, as steer.clip_action has it. */
  const clipAction = (action) => action.map((a) => f32(clip(Number.isNaN(a) ? 0 : a, -1, 1)));

  /* One frame: accelerate by the clipped action, clip the speed per axis, then move and bounce. */
  function step(state, action, world) {
    const limit = f32(world.steer_max_speed), gain = f32(world.steer_gain);
    const push = clipAction(action);
    const velocity = state.velocity.map((v, axis) => clip(f32(v + f32(gain * push[axis])), -limit, limit));
    return JepaWorld.step({ position: state.position, velocity }, world);
  }

  /* The states that `actions` drive from `start`, one frame per action (steer.rollout in Python). */
  function rollout(start, actions, world) {
    let state = { position: start.position.map(f32), velocity: start.velocity.map(f32) };
    const positions = [], velocities = [];
    for (const action of actions) {
      state = step(state, action.map(f32), world);
      positions.push(state.position.slice());
      velocities.push(state.velocity.slice());
    }
    return { positions, velocities };
  }

  const atRest = (position) => ({ position: position.map(f32), velocity: [0, 0] });

  /* What the agent sees: the two newest frames, flattened as the encoder takes them. */
  function observe(previous, current, world) {
    return [...JepaWorld.render(previous.position, world), ...JepaWorld.render(current.position, world)];
  }

  // ---------------------------------------------------------------- MPPI with TF.js ops
  // Shapes are chosen so that no elementwise op broadcasts over a size-1 axis: TF.js's cpu backend
  // computes an index per element on that path, several times slower than its plain loop.

  /* [N, H, 2] candidate sequences: the plan [H, 2] itself first (so refining never loses it), then noisy copies. */
  function candidates(plan, settings, seed) {
    const { samples, horizon } = settings;
    const noise = tf.randomUniform([samples - 1, horizon, 2], -1, 1, "float32", seed).mul(UNIFORM_STD * settings.noise);
    return tf.clipByValue(tf.concat([tf.zeros([1, horizon, 2]), noise], 0).add(plan), -1, 1);
  }

  /* Costs [N] and imagined latents [H, N, d] of N sequences [N, H, 2], all N through the predictor at once. */
  function imagine(predictor, z0, zGoal, sequences, settings) {
    let z = tf.tile(z0, [sequences.shape[0], 1]);
    const latents = [];
    for (const actions of tf.unstack(sequences, 1)) {
      z = predictor.execute(tf.concat([z, actions], 1));
      latents.push(z);
    }
    const stacked = tf.stack(latents);
    const distance = tf.squaredDifference(stacked, zGoal).sum(2).sqrt();  // [H, N]
    const cost = settings.cost === "last" ? distance.gather(latents.length - 1) : distance.sum(0);
    return { cost, latents: stacked };
  }

  /* One MPPI refinement: the candidates' mean under softmax(-(cost - min) / (temperature * spread)) weights.
     Also the imagined latents [H, d] of the cheapest candidate, which the page draws. */
  function refine(predictor, z0, zGoal, plan, settings, seed) {
    const sequences = candidates(plan, settings, seed);
    const { cost, latents } = imagine(predictor, z0, zGoal, sequences, settings);
    const best = cost.min();
    const spread = tf.maximum(cost.mean().sub(best), 1e-8);
    const weights = tf.softmax(cost.sub(best).neg().div(spread.mul(settings.temperature)));
    const mean = weights.reshape([1, -1]).matMul(sequences.reshape([settings.samples, -1]));
    return { plan: mean.reshape(plan.shape), imagined: latents.gather(cost.argMin(), 1) };
  }

  /*
   * One replanning step from an observation: encode it and refine the warm-start plan `iterations` times.
   * Plain arrays in and out; every tensor is freed inside.
   * Returns { plan [H][2], latent [d], imagined [H][d] } (imagined: the cheapest candidate's latents).
   */
  function plan(models, observation, goalLatent, warmStart, settings, seed) {
    return tf.tidy(() => {
      const z0 = models.encoder.execute(tf.tensor2d([observation]));
      const zGoal = tf.tensor1d(goalLatent);
      let current = { plan: tf.tensor2d(warmStart), imagined: null };
      for (let i = 0; i < settings.iterations; i++) {
        current = refine(models.predictor, z0, zGoal, current.plan, settings, seed + i);
      }
      return { plan: current.plan.arraySync(), latent: z0.arraySync()[0], imagined: current.imagined.arraySync() };
    });
  }

  /* The warm start of the next plan, after `applied` of its actions ran: its tail, its last action repeated. */
  const shifted = (plan, applied = 1) => [
    ...plan.slice(applied),
    ...Array.from({ length: applied }, () => plan[plan.length - 1].slice()),
  ];

  const zeroPlan = (horizon) => Array.from({ length: horizon }, () => [0, 0]);

  /* (y, x) px read from latents by the exported linear probe. */
  function probe(latents, fitted) {
    const read = (z, out, bias) => z.reduce((sum, v, i) => sum + v * fitted.weights[i][out], bias);
    return latents.map((z) => fitted.bias.map((bias, out) => read(z, out, bias)));
  }

  root.SteerWorld = { clipAction, step, rollout, atRest, observe };
  root.SteerPlanner = { plan, shifted, zeroPlan, probe };
})(typeof window !== "undefined" ? window : globalThis);

/*
 * The bouncing logo in JavaScript: the same physics as jaxjepa/world.py, step for step.
 *
 * Why float32 by hand: the Python world runs in float32, and a bounce happens when a position
 * crosses a bound, so a difference of one rounding could put a bounce on another frame and the
 * two worlds would part for good. Every arithmetic result is rounded to float32 with Math.fround;
 * for +, -, *, / of float32 inputs that gives exactly the float32 result (a double holds more than
 * twice the bits). Positions therefore match Python exactly; rendered pixels match to the last
 * bits of exp. The tests run both worlds from the same start and compare (tests/test_web.py).
 *
 * Random draws (starts, teleports) use a small seeded generator: the page needs fresh worlds, not
 * JAX's random stream, so only the physics, not the draws, is shared with Python.
 */
(function (root) {
  "use strict";
  const f32 = Math.fround;

  function bounds(world) {
    return [1, world.frame_size - 2];
  }

  /* One frame: move, reflect the velocity of any axis that left the box, clip back into it. */
  function step(state, world) {
    const [lo, hi] = bounds(world);
    const position = [], velocity = [];
    for (let axis = 0; axis < 2; axis++) {
      const moved = f32(state.position[axis] + state.velocity[axis]);
      const outside = moved > hi || moved < lo;
      velocity.push(outside ? -state.velocity[axis] : state.velocity[axis]);
      position.push(Math.min(Math.max(moved, lo), hi));
    }
    return { position, velocity };
  }

  /* exp(-((y - py)^2 + (x - px)^2) / (2 sigma^2)) as the outer product of two 1-D Gaussians. */
  function render(position, world) {
    const size = world.frame_size;
    const denominator = f32(2 * world.sigma * world.sigma);
    const profile = (centre) => {
      const values = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        const d = f32(i - centre);
        values[i] = f32(Math.exp(f32(-f32(d * d) / denominator)));
      }
      return values;
    };
    const gy = profile(position[0]), gx = profile(position[1]);
    const frame = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) frame[y * size + x] = gy[y] * gx[x];
    }
    return frame;
  }

  /* mulberry32: a tiny seeded generator of uniform numbers in [0, 1). */
  function randomSource(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function uniformPosition(random, margin, world) {
    const span = world.frame_size - 1 - 2 * margin;
    return [f32(margin + span * random()), f32(margin + span * random())];
  }

  /* Start uniform in [margin, H - 1 - margin) per axis; diagonal velocity of random signs. */
  function randomStart(random, margin, world) {
    const speed = f32(f32(world.speed) * (world.frame_size - 1));
    return {
      position: uniformPosition(random, margin, world),
      velocity: [random() < 0.5 ? speed : -speed, random() < 0.5 ? speed : -speed],
    };
  }

  /* The anomaly: a new position uniform in the evaluation box, the velocity kept. */
  function teleport(random, state, world) {
    return { position: uniformPosition(random, world.eval_start_margin, world), velocity: state.velocity.slice() };
  }

  /* `length` frames from `start`; at frame `anomalyFrame` (before its update) jump to `anomalyPosition`.
     The same contract as world.trajectory in Python, with the random draws passed in. */
  function trajectory(start, length, world, anomalyFrame = -1, anomalyPosition = null) {
    let state = { position: start.position.map(f32), velocity: start.velocity.map(f32) };
    const frames = [], positions = [], velocities = [];
    for (let t = 0; t < length; t++) {
      if (t === anomalyFrame) state = { position: anomalyPosition.map(f32), velocity: state.velocity };
      state = step(state, world);
      frames.push(Array.from(render(state.position, world)));
      positions.push(state.position.slice());
      velocities.push(state.velocity.slice());
    }
    return { frames, positions, velocities };
  }

  root.JepaWorld = { bounds, step, render, randomSource, randomStart, teleport, trajectory };
})(typeof window !== "undefined" ? window : globalThis);

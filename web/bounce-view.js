/*
 * The bouncing world's view: the model watches the logo, and the page shows what it expected, its latent
 * (the bars), its surprise with the alarm and the trace, and on demand its dream beside what really happens.
 *
 * One frame, with frames f_{n-1}, f_n the last two:
 *   z_n   = encoder(f_{n-1}, f_n)                the latent of the newest observation (the bars)
 *   surprise_n = mean((predictor(z_{n-1}) - z_n)^2)   what the model expected vs what it got
 *   expectation of f_n = decoder(predictor(z_{n-1}))  drawn beside reality (decoder on only)
 * Surprise lives in latent space, so the alarm works with the decoder off too: a pure JEPA has no
 * pixels, only latents. The threshold is a multiple of the running median: robust to the small,
 * regular errors at every bounce, which a median + k * MAD rule mistakes for anomalies.
 */
(function (root) {
  "use strict";
  const { $, app, checkFinite, median } = JepaPage;
  const { encode, predict, decode, dream } = JepaModel;
  const THRESHOLD_FACTOR = 8;   // alarm when surprise > 8 x the running median
  const THRESHOLD_WINDOW = 60;  // frames in the running median
  const WARMUP = 10;            // no alarm before this many surprise values exist
  const ALARM_HOLD = 10;        // frames the alarm stays up after it last fired
  const TRACE_LENGTH = 160;     // frames shown in the surprise trace
  const DREAM_MAX = 200;        // longest dream offered: the koopman model stays sharp for most of it

  /* A fresh start, from the random stream the loop has just seeded: no frames seen, nothing expected. */
  function newWorld() {
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

  /* Advance the world one frame and let the model look at it; false if the demo stopped on the way. */
  function tick() {
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
    if (app.frames.length === 2 && !look(frameIndex, shownExpectation)) return false;
    draw(shownExpectation);
    return true;
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

  // ---------------------------------------------------------------- the dream

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

  root.BounceView = {
    THRESHOLD_FACTOR, THRESHOLD_WINDOW, DREAM_MAX,
    newWorld, setPendingTeleport, tick, drawFrame, dreamSteps, showDream, setDecoder,
  };
})(typeof window !== "undefined" ? window : globalThis);

/*
 * The loaded model on plain arrays: encode, predict and decode rows of numbers, and dream (the predictor
 * rolled on its own output). Every view, the backend timing and the browser tests call the networks through
 * these, so the tensors they make are freed in one place (tf.tidy) and none leaks from a frame.
 */
(function (root) {
  "use strict";
  const { app, actionDim } = JepaPage;

  function run(name, rows, width) {
    return tf.tidy(() => {
      const input = tf.tensor2d(Float32Array.from(rows.flat()), [rows.length, width]);
      return app.models[name].execute(input).arraySync();
    });
  }
  const encode = (observations) => run("encoder", observations, app.meta.model.obs_dim);
  const predict = (rows) => run("predictor", rows, app.meta.model.predictor[0]);
  const decode = (latents) => run("decoder", latents, app.meta.model.latent_dim);

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

  root.JepaModel = { encode, predict, decode, predictMoves, withNoAction, dream };
})(typeof window !== "undefined" ? window : globalThis);

/*
 * The latent search in the browser, as jaxjepa/planning.py's `search` and `Memory`: the same moves, depth,
 * beams and farthest-point choice, around the exported predictor (any `predict(latents, actions)` of plain
 * arrays), and the same memory of the moves whose outcome surprised the model, which corrects the predictor
 * where the dot met a wall the model did not see.
 *
 * Search: every kept latent is expanded by each of the 8 moves (the corners and edge midpoints of the
 * action box, each held `move_steps` actions); of the expanded latents, `beams` spread by farthest-point
 * sampling are kept; the path whose latent came nearest the goal at any depth wins; an empty path (stay
 * put) is the one to beat; with `reversals` "pruned", no path takes a move right after its reverse. With
 * `replan` "keep" (planning.replanned_path), the rest of the last path stands unless the new search's path
 * ends nearer the goal by more than settings.switch_margin move lengths.
 */
(function (root) {
  "use strict";
  const MOVES = [];  // planning.SEARCH_MOVES, in its order
  for (const dy of [-1, 0, 1]) for (const dx of [-1, 0, 1]) if (dy || dx) MOVES.push([dy, dx]);
  const REVERSED = MOVES.map(([dy, dx]) => MOVES.findIndex(([y, x]) => y === -dy && x === -dx));  // planning.REVERSED
  /* Whether a path's last move undoes the one before it. */
  const endsByReversing = (path) => path.length > 1 && path[path.length - 1] === REVERSED[path[path.length - 2]];

  const squaredDistance = (a, b) => a.reduce((sum, v, i) => sum + (v - b[i]) ** 2, 0);
  const distance = (a, b) => Math.sqrt(squaredDistance(a, b));

  /* Indices of `count` points: `first`, then each time the point farthest from all chosen so far, among the
     `allowed` ones (default: all) while any is left. */
  function farthestPoints(points, first, count, allowed = null) {
    const nearest = Float64Array.from(points, (_, i) => (!allowed || allowed[i] ? Infinity : -Infinity));
    const chosen = [first];
    for (let k = 1; k < count; k++) {
      const last = chosen[chosen.length - 1];
      let pick = 0;
      for (let i = 0; i < points.length; i++) {
        nearest[i] = Math.min(nearest[i], squaredDistance(points[i], points[last]));
        if (nearest[i] > nearest[pick]) pick = i;
      }
      chosen.push(pick);
    }
    return chosen;
  }

  // share: the search's surprise_share (config search_surprise_share), the memory's own threshold
  const emptyMemory = (size, share) => ({ size, share, entries: [], count: 0 });

  /* The predictor, except that a remembered move, made within `radius` of its lengths of where it was
     remembered, moves the latent as the world moved it there (the nearest such memory's displacements). */
  function corrected(predict, memory, radius) {
    return (latents, actions) => {
      const predicted = predict(latents, actions);
      return latents.map((z, i) => {
        let nearest = null, nearestSquared = Infinity;
        for (const entry of memory.entries) {
          if (entry.action[0] !== actions[i][0] || entry.action[1] !== actions[i][1]) continue;
          const squared = squaredDistance(z, entry.latent);
          if (squared < radius ** 2 * entry.squaredLength && squared < nearestSquared) {
            nearest = entry;
            nearestSquared = squared;
          }
        }
        return nearest ? z.map((v, k) => v + nearest.displacements[k]) : predicted[i];
      });
    };
  }

  /* Remember the move (`action` held `hold` steps from latent `before`, seen to end at `after`) if the world
     surprised the model: `after` lies farther than memory.share of the predicted length from the predicted
     end. A ring of memory.size. */
  function remember(memory, predict, before, action, after, hold) {
    let predicted = [before];
    for (let h = 0; h < hold; h++) predicted = predict(predicted, [action]);
    const squaredLength = squaredDistance(predicted[0], before);  // squared, as in Python: see Memory
    if (memory.size === 0 || !(squaredDistance(after, predicted[0]) > memory.share ** 2 * squaredLength)) return;
    const displacements = after.map((v, k) => (v - before[k]) / hold);
    memory.entries[memory.count % memory.size] = { latent: before, action, squaredLength, displacements };
    memory.count++;
  }

  /* { distance, path }: the winning path as move indices (shorter than `depth` when it ends by staying put) and
     the distance to the goal of its nearest latent, the one it ends at. */
  function bestPath(predict, z0, zGoal, settings) {
    const { beams, depth, move_steps: hold } = settings, pruning = settings.reversals === "pruned";
    let latents = Array.from({ length: beams }, () => z0);
    let paths = Array.from({ length: beams }, () => []);
    let best = { distance: distance(z0, zGoal), path: [] };
    for (let level = 0; level < depth; level++) {
      let expanded = [];
      const moves = [], expandedPaths = [];
      latents.forEach((z, b) => MOVES.forEach((move, m) => {
        expanded.push(z);
        moves.push(move);
        expandedPaths.push([...paths[b], m]);
      }));
      for (let h = 0; h < hold; h++) expanded = predict(expanded, moves);
      // A move right after its reverse is no path's when pruning (settings.reversals, as planning.search_path).
      const allowed = expandedPaths.map((p) => !pruning || !endsByReversing(p));
      const distances = expanded.map((z, i) => (allowed[i] ? distance(z, zGoal) : Infinity));
      const nearest = distances.indexOf(Math.min(...distances));
      if (distances[nearest] < best.distance) best = { distance: distances[nearest], path: expandedPaths[nearest] };
      const kept = farthestPoints(expanded, nearest, beams, allowed);
      latents = kept.map((i) => expanded[i]);
      paths = kept.map((i) => expandedPaths[i]);
    }
    return best;
  }

  /* The mean latent length of the moves from the goal: the scale of settings.switch_margin (planning.move_length). */
  function moveLength(predict, zGoal, hold) {
    let moved = MOVES.map(() => zGoal);
    for (let h = 0; h < hold; h++) moved = predict(moved, MOVES);
    return moved.reduce((sum, z) => sum + distance(z, zGoal), 0) / MOVES.length;
  }

  /* { distance, path }: the nearest the path's latents (z0 included) come to the goal, and the path cut after
     that latent (planning.nearest_approach). */
  function nearestApproach(predict, z0, zGoal, path, hold) {
    let z = z0, best = { distance: distance(z0, zGoal), path: [] };
    path.forEach((m, k) => {
      for (let h = 0; h < hold; h++) z = predict([z], [MOVES[m]])[0];
      const d = distance(z, zGoal);
      if (d < best.distance) best = { distance: d, path: path.slice(0, k + 1) };
    });
    return best;
  }

  /* A path's actions, each move held `hold` steps. */
  const pathActions = (path, hold) => path.flatMap((m) => Array.from({ length: hold }, () => MOVES[m].slice()));

  /*
   * One replanning step: the search from latent z0 with the memory's corrections. With settings.replan "keep",
   * `kept` is { path (the rest of the last path, [] at first), length (moveLength) }: the kept path stands unless
   * the search's ends nearer the goal by more than settings.switch_margin * length.
   * Returns { plan [horizon][2] (the path's first actions, then staying put), imagined [T][d] (the latents
   * the corrected model imagines along the whole path), path (the move indices followed) }.
   */
  function plan(predict, z0, zGoal, settings, memory, kept = { path: [], length: 0 }) {
    const seen = corrected(predict, memory, settings.memory_radius);
    let best = bestPath(seen, z0, zGoal, settings);
    if (settings.replan === "keep") {
      const old = nearestApproach(seen, z0, zGoal, kept.path, settings.move_steps);
      if (!(best.distance < old.distance - settings.switch_margin * kept.length)) best = old;
    }
    const actions = pathActions(best.path, settings.move_steps);
    const imagined = [];
    let z = [z0];
    for (const action of actions) {
      z = seen(z, [action]);
      imagined.push(z[0]);
    }
    const stay = Array.from({ length: Math.max(settings.horizon - actions.length, 0) }, () => [0, 0]);
    return { plan: [...actions, ...stay].slice(0, settings.horizon), imagined, path: best.path };
  }

  root.RoomsSearch = {
    MOVES, farthestPoints, emptyMemory, corrected, remember, bestPath, moveLength, nearestApproach, plan,
  };
})(typeof window !== "undefined" ? window : globalThis);

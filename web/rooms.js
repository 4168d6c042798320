/*
 * Two Rooms in JavaScript: the same world as jaxjepa/two_rooms.py, step for step.
 *
 * A dot in a box with a border wall, split by a vertical wall (2 * wall_half_width + 1 px wide, centred
 * on column wall_x) with a door (rows door_y - door_half_height .. door_y + door_half_height). An action
 * moves the dot by (dy, dx) px, clipped to [-1, 1] per axis as the planners' actions are; the move
 * stops at the first wall the segment touches and passes the wall only through the door. Every
 * arithmetic result is rounded to float32 (Math.fround), as in world.js, so that a contact is found at
 * the same step, and the dot lands on the same float32 position, as in Python.
 *
 * A state is { previous, position, layout }: the observation is two frames, the dot's last two positions,
 * and the layout (wall_x, door_y) is drawn once per world.
 */
(function (root) {
  "use strict";
  const f32 = Math.fround;
  const abs = Math.abs;

  const clip = (value, lo, hi) => Math.min(Math.max(value, lo), hi);

  /* The dot's centre stays in [lo, hi] on both axes: the border wall's pixel centres. */
  function box(world) {
    return [world.border_px, world.frame_size - 1 - world.border_px];
  }

  /* True inside the wall's open interior (its faces and the door's edges are free). */
  function inWall([y, x], layout, world) {
    return abs(f32(x - layout.wall_x)) < world.wall_half_width && abs(f32(y - layout.door_y)) > world.door_half_height;
  }

  /* Within the box, its border wall included (the dot's centre may rest there). */
  function inBox(position, world) {
    const [lo, hi] = box(world);
    return position.every((p) => p >= lo && p <= hi);
  }

  /* Where the dot may be: inside the box and outside the wall's interior. */
  function isFree(position, layout, world) {
    return inBox(position, world) && !inWall(position, layout, world);
  }

  /* Whether pixel (row, col) is drawn as wall: the border's line, and the wall's columns, faces included, off the
     door's rows. */
  function wallPixel(row, col, layout, world) {
    const [lo, hi] = box(world);
    const border = row === lo || row === hi || col === lo || col === hi;
    const wall = abs(col - layout.wall_x) <= world.wall_half_width && abs(row - layout.door_y) > world.door_half_height;
    return border || wall;
  }

  /* Whether the pixel under `position` (pixel i spans [i - 0.5, i + 0.5)) is drawn as wall. A face's pixel is grey
     though the dot's centre may rest on the face itself: a goal clicked there would look like one in the wall. */
  function onWallPixel([y, x], layout, world) {
    return wallPixel(Math.round(y), Math.round(x), layout, world);
  }

  const faces = (layout, world) => [
    f32(layout.wall_x - world.wall_half_width),
    f32(layout.wall_x + world.wall_half_width),
  ];
  const doorEdge = (above, layout, world) =>
    f32(above ? layout.door_y + world.door_half_height : layout.door_y - world.door_half_height);

  /* A position inside the wall's interior moved onto the nearest face or door edge (two_rooms.onto_the_wall). */
  function ontoTheWall(position, layout, world) {
    if (!inWall(position, layout, world)) return position;
    const [y, x] = position, [left, right] = faces(layout, world);
    const face = f32(x - left) < f32(right - x) ? left : right;
    const edge = doorEdge(y > layout.door_y, layout, world);
    return abs(f32(x - face)) <= abs(f32(y - edge)) ? [y, face] : [edge, x];
  }

  const safe = (denominator) => (denominator === 0 ? 1 : denominator);

  /* The largest t in [0, 1] with position + t * action inside the box. */
  function boxExitTime(position, action, world) {
    const [lo, hi] = box(world);
    const times = position.map((p, axis) => {
      const a = action[axis];
      return a === 0 ? Infinity : f32(f32((a > 0 ? hi : lo) - p) / a);
    });
    return clip(Math.min(...times), 0, 1);
  }

  /* { t, contact }: the first t in [0, 1) at which position + t * action enters the wall's interior
     (Infinity if it never does), and the contact point on the face or door edge it meets. */
  function wallContact([y, x], [dy, dx], layout, world) {
    const [left, right] = faces(layout, world);
    const tLeft = f32(f32(left - x) / safe(dx)), tRight = f32(f32(right - x) / safe(dx));
    const within = x > left && x < right;  // strictly: a dot on a face may slide along it
    const tIn = dx === 0 ? (within ? 0 : Infinity) : Math.max(Math.min(tLeft, tRight), 0);
    const tOut = dx === 0 ? (within ? Infinity : -Infinity) : Math.max(tLeft, tRight);
    const overlaps = tIn < Math.min(tOut, 1);  // the segment spends time within the wall's columns
    const yIn = f32(y + f32(Math.min(tIn, 1) * dy));
    const edge = doorEdge(dy > 0, layout, world);
    const tEdge = dy === 0 ? Infinity : f32(f32(edge - y) / safe(dy));  // when it leaves the door's rows
    const throughDoor = abs(f32(yIn - layout.door_y)) <= world.door_half_height;
    const hitsEdge = throughDoor && tEdge < Math.min(tOut, 1);
    const tHit = throughDoor ? (hitsEdge ? tEdge : Infinity) : tIn;
    const face = dx > 0 ? left : dx < 0 ? right : x;
    const contact = throughDoor ? [edge, f32(x + f32(tEdge * dx))] : [yIn, face];
    return { t: overlaps ? tHit : Infinity, contact };
  }

  /* One step of physics (two_rooms.move): position + action, stopped at the first wall the segment touches. */
  function move(position, action, layout, world) {
    position = ontoTheWall(position.map(f32), layout, world);
    action = action.map(f32);
    const [lo, hi] = box(world);
    const tBox = boxExitTime(position, action, world);
    const wall = wallContact(position, action, layout, world);
    if (wall.t <= tBox) return wall.contact.map((c) => clip(c, lo, hi));
    return position.map((p, axis) => clip(f32(p + f32(tBox * action[axis])), lo, hi));
  }

  /* One action of the planner: clipped to [-1, 1] px per axis, then the move. */
  function step(state, action, world) {
    const clipped = action.map((a) => f32(clip(a, -1, 1)));
    const position = move(state.position, clipped, state.layout, world);
    return { previous: state.position, position, layout: state.layout };
  }

  /* The positions that `actions` (each clipped) drive from `start` (two_rooms.rollout, clip_action first). */
  function rollout(start, actions, layout, world) {
    let state = atRest(start, layout);
    return actions.map((action) => {
      state = step(state, action, world);
      return state.position;
    });
  }

  /* [2 H W]: the dot (JepaWorld.render's Gaussian), then the walls, 1 on wall pixels and 0 elsewhere. */
  function render(position, layout, world) {
    const size = world.frame_size;
    const frame = new Float32Array(2 * size * size);
    frame.set(JepaWorld.render(position, world));
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size; col++) {
        frame[size * size + row * size + col] = wallPixel(row, col, layout, world) ? 1 : 0;
      }
    }
    return frame;
  }

  /* What the encoder reads (two_rooms_planning.flat_observation): both frames, each its dot then its walls. */
  function observe(state, world) {
    return [...render(state.previous, state.layout, world), ...render(state.position, state.layout, world)];
  }

  const atRest = (position, layout) => ({ previous: position.map(f32), position: position.map(f32), layout });

  /* wall_x and door_y whole numbers drawn as two_rooms.random_layout draws them, from the page's generator. */
  function randomLayout(random, world) {
    const size = world.frame_size;
    const integer = (lo, hi) => lo + Math.floor(random() * (hi - lo));
    return {
      wall_x: integer(world.wall_padding, size - world.wall_padding),
      door_y: integer(world.door_padding, size - world.door_padding),
    };
  }

  /* Uniform over the free box, the wall's columns left out, a room drawn by its width (two_rooms.random_start). */
  function randomStart(random, layout, world) {
    const [lo, hi] = box(world), w = world.wall_half_width;
    const leftWidth = layout.wall_x - w - lo;
    const right = random() * (hi - lo - 2 * w) > leftWidth;
    const [xLo, xHi] = right ? [layout.wall_x + w, hi] : [lo, layout.wall_x - w];
    return [f32(lo + random() * (hi - lo)), f32(xLo + random() * (xHi - xLo))];
  }

  root.RoomsWorld = {
    box, inBox, inWall, isFree, onWallPixel, move, step, rollout, render, observe, atRest, randomLayout, randomStart,
  };
})(typeof window !== "undefined" ? window : globalThis);

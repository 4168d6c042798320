"""The Two Rooms world: wall and door physics, the sampling protocols, the success measure."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxjepa import get_config
from jaxjepa import two_rooms as tr

CONFIG = get_config("two_rooms")
LAYOUT = tr.Layout(jnp.float32(30.0), jnp.float32(40.0))
draw_trajectories = jax.jit(lambda k: tr.trajectories(k, 256, 17, CONFIG))


@pytest.fixture(scope="module")
def batch():
    return draw_trajectories(jax.random.key(0))


def test_trajectories_shapes_dtypes_and_ranges(batch):
    chex.assert_shape(batch.frames, (256, 17, 2, 65, 65))
    chex.assert_shape([batch.positions, batch.actions], [(256, 17, 2), (256, 16, 2)])
    chex.assert_type([batch.frames, batch.positions, batch.actions], jnp.float32)
    chex.assert_tree_all_finite(batch)
    assert float(batch.frames.min()) >= 0.0 and float(batch.frames.max()) <= 1.0
    lo, hi = tr.box(CONFIG)
    assert float(batch.positions.min()) >= lo and float(batch.positions.max()) <= hi
    lengths = np.linalg.norm(np.asarray(batch.actions), axis=-1)
    assert tr.STEP_MIN <= lengths.min() and lengths.max() <= tr.STEP_MAX
    assert abs(lengths.mean() - tr.STEP_MEAN) < 0.05
    assert len(np.unique(np.asarray(batch.layout.wall_x))) > 10  # a wall drawn per trajectory


def test_about_a_third_of_training_trajectories_change_rooms(batch):
    fraction = float(tr.crossed(batch).mean())
    assert 0.22 < fraction < 0.45, fraction


def test_trajectories_are_deterministic_per_key(batch):
    again = draw_trajectories(jax.random.key(0))
    np.testing.assert_array_equal(again.frames, batch.frames)
    np.testing.assert_array_equal(again.actions, batch.actions)
    assert not np.array_equal(draw_trajectories(jax.random.key(1)).positions, batch.positions)


def _stopped_at_the_wall(traj) -> np.ndarray:
    """[N, T - 1] bool: the step ended on a face of the middle wall, short of its action's length."""
    positions, actions = np.asarray(traj.positions), np.asarray(traj.actions)
    wall_x = np.asarray(traj.layout.wall_x)[:, None]
    after = positions[:, 1:]
    on_face = np.minimum(
        np.abs(after[..., 1] - wall_x + tr.WALL_HALF_WIDTH), np.abs(after[..., 1] - wall_x - tr.WALL_HALF_WIDTH)
    )
    moved = np.linalg.norm(after - positions[:, :-1], axis=-1)
    return (on_face < 1e-3) & (moved < 0.9 * np.linalg.norm(actions, axis=-1))


def test_wall_bump_trajectories_walk_into_the_wall_away_from_the_door(batch):
    """With every trajectory a wall bump, each starts off the door's rows and most of them are stopped at the
    wall; the recipe's own mix has far fewer stops."""
    config = CONFIG.replace(cross_wall_rate=0.0, wall_bump_rate=1.0)
    bumps = jax.jit(lambda k: tr.trajectories(k, 256, 17, config))(jax.random.key(0))
    rows_off_door = np.abs(np.asarray(bumps.positions[:, 0, 0] - bumps.layout.door_y)) > tr.DOOR_HALF_HEIGHT
    assert rows_off_door.all()
    stopped = _stopped_at_the_wall(bumps)
    assert stopped.any(axis=1).mean() > 0.5 and stopped.mean() > 4 * _stopped_at_the_wall(batch).mean()


def _pushes(key, count=512, steps=24):
    """Random layouts, starts and long random pushes (up to 6 px, more than the wall is wide)."""
    layout_key, start_key, push_key = jax.random.split(key, 3)
    layouts = jax.vmap(lambda k: tr.random_layout(k, CONFIG))(jax.random.split(layout_key, count))
    starts = jax.vmap(lambda k, lay: tr.random_start(k, lay, CONFIG))(jax.random.split(start_key, count), layouts)
    pushes = jax.random.uniform(push_key, (count, steps, 2), minval=-6.0, maxval=6.0)
    paths = jax.vmap(lambda s, a, lay: tr.rollout(s, a, lay, CONFIG))(starts, pushes, layouts)
    return layouts, pushes, paths


def test_no_push_ever_passes_through_the_wall():
    layouts, pushes, paths = jax.jit(_pushes)(jax.random.key(1))
    along = jnp.linspace(0.0, 1.0, 41)[:, None, None, None]
    segments = paths[None, :, :-1] + along * (paths[None, :, 1:] - paths[None, :, :-1])  # [41, n, steps, 2]
    expanded = tr.Layout(layouts.wall_x[None, :, None], layouts.door_y[None, :, None])
    assert not bool(tr.in_wall(segments, expanded).any())
    moved = np.linalg.norm(np.asarray(paths[:, 1:] - paths[:, :-1]), axis=-1)
    pushed = np.linalg.norm(np.asarray(pushes), axis=-1)
    assert (moved < pushed - 1e-3).mean() > 0.1  # many pushes were stopped by a wall


def _push_right(start_y, steps=20):
    start = jnp.array([start_y, LAYOUT.wall_x - 5.0])
    return tr.rollout(start, jnp.tile(jnp.array([0.0, 1.0]), (steps, 1)), LAYOUT, CONFIG)


def test_a_push_into_the_wall_stops_at_its_face():
    path = _push_right(15.0)
    np.testing.assert_allclose(path[-1], [15.0, LAYOUT.wall_x - tr.WALL_HALF_WIDTH])
    assert int(tr.room(path[-1], LAYOUT)) == 0


def test_a_push_through_the_door_reaches_the_other_room():
    path = _push_right(float(LAYOUT.door_y) + 2.0)
    np.testing.assert_allclose(path[-1], [LAYOUT.door_y + 2.0, LAYOUT.wall_x + 15.0], atol=1e-4)
    assert int(tr.room(path[-1], LAYOUT)) == 1


def test_a_diagonal_push_stops_at_the_door_edge():
    start = jnp.array([LAYOUT.door_y + 3.0, LAYOUT.wall_x - 0.5])
    end = tr.move(start, jnp.array([3.0, 0.5]), LAYOUT, CONFIG)
    np.testing.assert_allclose(end, [LAYOUT.door_y + tr.DOOR_HALF_HEIGHT, LAYOUT.wall_x - 0.5 + 1.0 / 6.0], atol=1e-5)


def test_a_nan_push_moves_nothing_along_its_axis_and_an_infinite_one_stops_at_the_box():
    start = jnp.array([10.0, 10.0])
    nan = tr.move(start, jnp.array([jnp.nan, 1.0]), LAYOUT, CONFIG)
    np.testing.assert_array_equal(nan, tr.move(start, jnp.array([0.0, 1.0]), LAYOUT, CONFIG))
    endless = np.asarray(tr.move(start, jnp.array([jnp.inf, 0.0]), LAYOUT, CONFIG))
    np.testing.assert_array_equal(endless, [tr.box(CONFIG)[1], 10.0])


def test_render_draws_the_dot_the_border_and_the_wall_with_its_door():
    frame = tr.render(jnp.array([20.0, 12.0]), LAYOUT, CONFIG)
    chex.assert_shape(frame, (2, 65, 65))
    assert np.unravel_index(int(jnp.argmax(frame[0])), (65, 65)) == (20, 12)
    walls = np.asarray(frame[1])
    assert walls[tr.BORDER_PX].all() and walls[:, 64 - tr.BORDER_PX].all() and not walls[20, 12]
    assert walls[10, 29:32].all() and not walls[40, 29:32].any()  # wall columns 29..31, door rows 36..44


def test_evaluation_starts_and_goals_are_in_different_rooms():
    eps = jax.jit(lambda k: tr.tasks(k, 512, CONFIG))(jax.random.key(2))
    assert bool(jnp.all(tr.room(eps.start, eps.layout) != tr.room(eps.goal, eps.layout)))
    assert not bool(tr.in_wall(eps.start, eps.layout).any() | tr.in_wall(eps.goal, eps.layout).any())
    assert 0.4 < float(tr.room(eps.start, eps.layout).mean()) < 0.6
    assert len(np.unique(np.asarray(eps.layout.door_y))) > 20


def test_success_is_a_final_distance_under_4_5_px():
    goal = jnp.zeros((3, 2))
    final = jnp.array([[4.4, 0.0], [3.0, 3.4], [4.6, 0.0]])  # distances 4.4, 4.53, 4.6
    np.testing.assert_array_equal(tr.success(final, goal), [True, False, False])


def test_von_mises_turns_have_the_known_mean_cosine():
    angles = tr.von_mises(jax.random.key(5), 5.0, (40000,))
    expected = float(jax.scipy.special.i1e(5.0) / jax.scipy.special.i0e(5.0))  # E cos = I1(k) / I0(k)
    assert abs(float(jnp.cos(angles).mean()) - expected) < 0.01
    assert abs(float(angles.mean())) < 0.01

"""The planning suite's measure on a known answer, its figures and report on a payload, and plan.py."""

import warnings

import jax
import numpy as np
import pytest
from conftest import random_params, tiny_config, tiny_steer_config

import plan
from jaxjepa import checkpoint, get_config, make_train, models, planning, seed_keys
from jaxjepa.evaluation import planning as suite
from jaxjepa.evaluation.settings import summarise
from jaxjepa.evaluation.suite import Evaluated

FAST = dict(plan_samples=32, plan_horizon=8, plan_iterations=2)


def test_the_simulator_planner_reaches_the_goal_and_random_actions_mostly_do_not():
    config = get_config("default", world="steer", action_dim=2, **FAST)
    model = planning.simulator_model(config)
    ceiling = jax.jit(lambda k: suite.planned(k, model, config))(jax.random.key(0))
    floor = jax.jit(lambda k: suite.planned(k, model, config, "random"))(jax.random.key(0))
    assert float(ceiling.success) >= 0.98
    assert 1 <= float(ceiling.median_steps) <= config.episode_steps
    assert float(floor.success) < float(ceiling.success) - 0.3


@pytest.fixture(scope="module")
def steer_run(tmp_path_factory):
    """One tiny steer run, saved as train.py saves it."""
    config, path = tiny_steer_config(**FAST), tmp_path_factory.mktemp("runs") / "seed0"
    result = jax.jit(make_train(config))(seed_keys(0)[0])
    checkpoint.save_run(path, config, result.params, {"final": {}})
    return path


def test_the_gif_shows_the_frames_the_world_rendered_at_the_planned_positions(steer_run):
    """The GIF's reality is the world's own logo (its sigma), drawn where each episode took it."""
    config, params, _ = checkpoint.load_run_files(steer_run)
    arrays = suite.gif_arrays(params, config)
    episodes, steps = arrays["positions"].shape[:2]
    assert arrays["frames"].shape == (episodes, steps, config.frame_size, config.frame_size)
    yy, xx = np.mgrid[: config.frame_size, : config.frame_size]
    y, x = arrays["positions"][1, 3]
    blob = np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * config.sigma**2))
    np.testing.assert_allclose(arrays["frames"][1, 3], blob, atol=1e-5)
    assert arrays["imagined"].shape[:2] == (episodes, steps)


def synthetic_payload(seeds: int = 2) -> dict:
    """A stored payload of the suite's shape, with made-up numbers."""
    summary = lambda value: summarise([value] * seeds)
    outcome = lambda rate: {"success": summary(rate), "median_steps": summary(12.0)}
    timing = {"replan_step_s": 0.01, "episode_vmapped_s": 0.05, "episode_lone_s": 0.6, "sequential_s": 150.0,
              "vmap_speedup": 12.0}  # fmt: skip
    return {
        "config": "steer", "overrides": {}, "episodes": 256, "budget_episodes": 64, "seeds": list(range(seeds)),
        "episodes_per_batch": 16, "planner_budget": {"samples": 16, "horizon": 10, "iterations": 1},
        "command": "python eval.py --planning --seeds 0-1", "timing_s": {"total": 10.0, "train": 5.0},
        "train_s_per_seed": summary(100.0), "probe_rmse_px": summary(0.5),
        "planners": {key: outcome(0.9) for _, key in suite.PLANNER_ROWS},
        "ablation": {"steer_no_var": {"overrides": {}, **outcome(0.2)}},
        "budget": [{"samples": n, "iterations": i, **outcome(0.5)} for n, i in suite.BUDGETS],
        "planning_time_s": timing,
    }  # fmt: skip


def test_the_figures_and_the_report_section_render_a_payload(tmp_path):
    payload = synthetic_payload()
    steps, horizon = 6, 10
    arrays = {
        "frames": np.zeros((suite.GIF_EPISODES, steps, 16, 16)),
        "positions": np.full((suite.GIF_EPISODES, steps, 2), 7.0),
        "goals": np.full((suite.GIF_EPISODES, 2), 3.0),
        "imagined": np.full((suite.GIF_EPISODES, steps, horizon - 1, 2), 5.0),
    }
    made = suite.draw(Evaluated(payload, {"gif": arrays}), tmp_path)
    assert made["planning_gif"].stat().st_size > 0 and made["planning_budget"].stat().st_size > 0
    text = suite.section_planning(payload)
    assert "## Planning" in text and "no variance term" in text and "90.0 ± 0.0" in text
    assert "16 sequences x 10 actions x 1 refinement(s)" in text
    assert "within 1 px of the goal at some step of 60." in text  # the reference recipe's task, as overridden
    wider = suite.section_planning({**payload, "overrides": {"success_px": 2.5, "episode_steps": 40}})
    assert "within 2.5 px of the goal at some step of 40." in wider
    # the synthetic payload misses the success and speed-up targets and meets the others
    assert "| MPPI success with the learned model >= 99 % | 90.0 ± 0.0 | **no** |" in text
    assert "| one replanning step <= 20 ms | 10.0 ms | yes |" in text
    assert "| 256 episodes vmapped >= 50x faster than one after another | 12.0x | **no** |" in text
    assert "| training one seed <= 2 min | 100 ± 0 s | yes |" in text
    assert any("MPPI" in line for line in suite.summary(payload))


def refused(argv, capsys, code: int = 2) -> str:
    """The one line of a refusal with exit status `code`: 2 for the command line, the run it names included."""
    with pytest.raises(SystemExit) as exit_info:
        plan.main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == code and len(err.splitlines()) == 1, err
    return err


def test_plan_py_refuses_bad_requests_with_one_line(steer_run, tmp_path, capsys):
    bounce = tiny_config()
    checkpoint.save_run(tmp_path / "seed0", bounce, models.init_params(jax.random.key(0), bounce), {"final": {}})
    run = str(steer_run)
    assert "takes no actions" in refused([str(tmp_path / "seed0"), "--episodes", "2"], capsys)
    rooms = get_config("two_rooms_ebjepa")  # actions, but another world's observations
    checkpoint.save_run(tmp_path / "rooms" / "seed0", rooms, random_params(rooms), {"final": {}})
    assert "world is 'two_rooms'" in refused([str(tmp_path / "rooms" / "seed0"), "--episodes", "2"], capsys)
    assert "plan_samples must be positive" in refused([run, "--samples", "0"], capsys)
    assert "plan_noise must be a finite number" in refused([run, "--noise", "nan"], capsys)
    assert "float32 can hold" in refused([run, "--noise", "1e308"], capsys)  # finite, but inf in float32
    for planner in ("mppi", "cem"):  # one sample re-scores the current plan alone: the logo would never be steered
        assert "the plan never changes" in refused([run, "--samples", "1", "--planner", planner], capsys)
    assert "a file, not a run directory" in refused([str(tmp_path / "rooms" / "seed0" / "config.json")], capsys)
    assert "no run directory" in refused([str(tmp_path / "missing")], capsys)
    assert "outside the box" in refused([run, "--goal", "0.2", "7"], capsys)
    # terabytes of sampled sequences: XLA refuses the buffers, and plan.py says so in one line
    assert "need more memory than this machine has" in refused(
        [run, "--episodes", "65536", "--samples", "10000000"], capsys, code=1
    )
    assert "--episodes" in refused([run, "--episodes", "0"], capsys)
    assert "must be 1 to 65536" in refused([run, "--episodes", "100000000"], capsys)
    for seed, why in [("99999999999999999999", "below"), ("-1", "non-negative"), ("+5", "bad seed spec")]:
        assert why in refused([run, "--seed", seed], capsys)  # as train.py refuses them


def test_plan_py_does_not_call_a_bugs_value_error_the_command_lines(steer_run, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug inside planning")

    monkeypatch.setattr(planning, "episodes", broken)
    with pytest.raises(ValueError, match="a bug inside planning"):  # its traceback, not a refusal with status 2
        plan.main([str(steer_run), "--episodes", "2"])


def test_plan_py_planner_flags_set_only_the_fields_given():
    args = plan.parse(["RUN", "--horizon", "48", "--noise", "1.5"])
    config = plan.planning_config(tiny_steer_config(**FAST), args)
    assert (config.plan_horizon, config.plan_noise, config.plan_samples) == (48, 1.5, FAST["plan_samples"])
    assert config.plan_elites == tiny_steer_config(**FAST).plan_elites
    fewer = plan.planning_config(tiny_steer_config(**FAST), plan.parse(["RUN", "--samples", "4"]))
    assert (fewer.plan_samples, fewer.plan_elites) == (4, 4)  # fewer samples than CEM's elites: the elites follow


def test_plan_py_plans_a_tiny_run(steer_run, capsys, monkeypatch):
    planned = []

    def episodes(*args, goal=None, inner=planning.episodes):
        planned.append((args[1], goal))
        return inner(*args, goal=goal)

    monkeypatch.setattr(planning, "episodes", episodes)
    assert plan.main([str(steer_run), "--episodes", "4", "--goal", "5", "9"]) == 0
    assert np.char.startswith(capsys.readouterr().out, "success ")
    ((count, goal),) = planned  # the episodes asked for, each planned toward the one goal given
    assert count == 4 and np.asarray(goal).tolist() == [5.0, 9.0]


def test_plan_py_refuses_a_goal_too_large_for_float32_in_its_one_line(steer_run, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's overflow warning, had the goal been cast first, would raise here
        assert "outside the box" in refused([str(steer_run), "--goal", "1e40", "5"], capsys)


def test_plan_py_prints_the_median_steps_to_success_as_it_is(monkeypatch, capsys):
    steps = np.array([10, 11, 61])  # two successes, at steps 10 and 11: the median is 10.5, not 10
    monkeypatch.setattr(plan, "plan", lambda args: ((np.array([True, True, False]), steps), 0.3))
    assert plan.main(["RUN", "--episodes", "3"]) == 0
    out = capsys.readouterr().out
    assert "success 66.7% of 3 episodes, median steps to success 10.5, 100.00 ms per episode" in out, out

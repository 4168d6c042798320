"""The planning suite's measure on a known answer, the whole suite on tiny runs, and plan.py's refusals."""

import jax
import numpy as np
import pytest
from conftest import tiny_config

import plan
from jaxjepa import checkpoint, get_config, make_train, models, planning, seed_keys
from jaxjepa.evaluation import planning as suite
from jaxjepa.evaluation.runs import SeedRuns
from jaxjepa.evaluation.settings import stack_trees
from jaxjepa.evaluation.suite import Context

FAST = dict(plan_samples=32, plan_horizon=8, plan_iterations=2)
TINY_STEER = dict(
    world="steer", action_dim=2, steps=20, train_sequences=8, seq_len=12, batch_size=32, decoder_steps=0,
    probe_sequences=8, probe_seq_len=12, **FAST,
)  # fmt: skip


def test_the_simulator_planner_reaches_the_goal_and_random_actions_mostly_do_not():
    config = get_config("default", world="steer", action_dim=2, **FAST)
    model = planning.simulator_model(config)
    ceiling = jax.jit(lambda k: suite.planned(k, model, config))(jax.random.key(0))
    floor = jax.jit(lambda k: suite.planned(k, model, config, "random"))(jax.random.key(0))
    assert float(ceiling.success) >= 0.98
    assert 1 <= float(ceiling.median_steps) <= config.episode_steps
    assert float(floor.success) < float(ceiling.success) - 0.3


@pytest.fixture(scope="module")
def steer_runs(tmp_path_factory):
    """Two tiny steer seeds, trained and saved as eval.py's runs machinery saves them."""
    config, root = get_config("default", **TINY_STEER), tmp_path_factory.mktemp("runs")
    train = jax.jit(make_train(config))
    entries = []
    for seed in (0, 1):
        result = train(seed_keys(seed)[0])
        final = {"run_s": 1.0, "seeds_in_program": 1, "probe_rmse_px": 1.0}
        checkpoint.save_run(root / f"seed{seed}", config, result.params, {"final": final, "curves": {}})
        entries.append(result.params)
    return SeedRuns(config, [0, 1], [root / "seed0", root / "seed1"], stack_trees(entries), [{"final": final}] * 2)


def test_the_suite_measures_draws_and_reports_on_tiny_runs(steer_runs, tmp_path, monkeypatch):
    monkeypatch.setattr(suite, "EPISODES", 8)
    monkeypatch.setattr(suite, "BUDGETS", ((8, 1), (32, 2)))
    monkeypatch.setattr(suite, "TIMING_REPEATS", 2)
    evaluated = suite.evaluate({"steer": steer_runs, "steer_no_var": steer_runs}, Context([], "default", True))
    payload = evaluated.payload
    assert set(payload["planners"]) == {"mppi", "cem", "mppi_last_latent", "random", "simulator_mppi"}
    assert all(0.0 <= v <= 1.0 for e in payload["planners"].values() for v in e["success"]["per_seed"])
    assert len(payload["budget"]) == 2 and payload["planning_time_s"]["replan_step_s"] > 0
    made = suite.draw(evaluated, tmp_path)
    assert made["planning_gif"].stat().st_size > 0 and made["planning_budget"].stat().st_size > 0
    payload = {**payload, "command": "python eval.py --planning", "seeds": [0, 1], "timing_s": {"total": 1, "train": 1}}
    text = suite.section_planning(payload)
    assert "## Planning" in text and "no variance term" in text


def refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        plan.main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code != 0 and len(err.splitlines()) == 1, err
    return err


def test_plan_py_refuses_bad_requests_with_one_line(steer_runs, tmp_path, capsys):
    bounce = tiny_config()
    checkpoint.save_run(tmp_path / "seed0", bounce, models.init_params(jax.random.key(0), bounce), {"final": {}})
    run = str(steer_runs.dirs[0])
    assert "takes no actions" in refused([str(tmp_path / "seed0"), "--episodes", "2"], capsys)
    assert "plan_samples must be positive" in refused([run, "--samples", "0"], capsys)
    assert "outside the box" in refused([run, "--goal", "0.2", "7"], capsys)
    assert "--episodes" in refused([run, "--episodes", "0"], capsys)


def test_plan_py_plans_a_tiny_run(steer_runs, capsys):
    assert plan.main([str(steer_runs.dirs[0]), "--episodes", "4", "--goal", "5", "9"]) == 0
    assert np.char.startswith(capsys.readouterr().out, "success ")

"""A float field is judged as the float32 the programs compute with: a value that float32 arithmetic takes as a
value its range refuses (1e-50 as the 0 that "positive" refuses) is refused, in one line, before any compute."""

import dataclasses

import numpy as np
import pytest

import plan
import train as train_cli
from jaxjepa.config import RANGES, Config

FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # float32's smallest normal number
STEER = Config().replace(world="steer", action_dim=2)  # a config every field below may be set in (idm_weight)

FLOAT_FIELDS = [field.name for field in dataclasses.fields(Config) if field.type == "float"]
POSITIVE = [name for name in FLOAT_FIELDS if RANGES[name] == "(0, inf)"]
NON_NEGATIVE = [name for name in FLOAT_FIELDS if RANGES[name] == "[0, inf)"]


def test_the_positive_float_fields_are_those_a_zero_would_stop():
    """The fields this module checks: learning rates, the planners' noise and temperature, the worlds' gains."""
    assert {"lr", "decoder_lr", "plan_noise", "plan_temperature", "var_eps", "steer_gain"} <= set(POSITIVE)


@pytest.mark.parametrize("name", POSITIVE)
@pytest.mark.parametrize("tiny", [1e-50, 1e-40, -0.0])
def test_a_positive_field_refuses_what_float32_takes_as_zero(name, tiny):
    with pytest.raises(ValueError, match=f"^{name} must be positive"):
        STEER.replace(**{name: tiny})


@pytest.mark.parametrize("name", POSITIVE)
def test_a_positive_field_takes_float32s_smallest_normal_number(name):
    assert getattr(STEER.replace(**{name: FLOAT32_TINY}), name) == FLOAT32_TINY


@pytest.mark.parametrize("name", NON_NEGATIVE)
def test_a_non_negative_field_takes_what_float32_takes_as_zero(name):
    assert getattr(STEER.replace(**{name: 1e-50}), name) == 1e-50


def test_an_open_upper_end_refuses_what_float32_rounds_onto_it():
    with pytest.raises(ValueError, match=r"speed_jitter must be in \[0, 1\) in float32.*takes as 1$"):
        Config().replace(speed_jitter=0.99999999999)
    assert Config().replace(speed_jitter=0.9999).speed_jitter == 0.9999


def test_train_py_refuses_a_learning_rate_float32_takes_as_zero_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as leaving:
        train_cli.main(["--lr", "1e-50", "--out", str(tmp_path / "runs")])
    assert leaving.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("train.py: bad config: lr must be positive") and err.count("\n") == 1, err
    assert not (tmp_path / "runs").exists()


def test_plan_py_refuses_a_noise_float32_takes_as_zero():
    """MPPI and CEM would sample no spread around their plan, and never move it."""
    with pytest.raises(ValueError, match="plan_noise must be positive in float32"):
        plan.planning_config(STEER, plan.parse(["RUN", "--noise", "1e-50"]))

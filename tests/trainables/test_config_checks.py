"""The run config's field checks (``trainables.config_checks``): each raises ``ConfigError`` (a ValueError)
whose message starts with the dotted field name, and lets a good value through."""

import re

import pytest

from trainables.config_checks import ConfigError, choice_field, fail, float_field, int_field


@pytest.mark.parametrize(
    "check, message",
    [
        (lambda: fail("data.x", "broken"), "data.x: broken"),
        (lambda: int_field("data.n", 0, 1), "data.n: must be >= 1, got 0"),
        (lambda: int_field("data.n", 9, 1, 8), "data.n: must be <= 8, got 9"),
        (lambda: int_field("data.n", True, 1), "data.n: expected an integer, got True"),
        (lambda: float_field("train.lr", float("nan")), "train.lr: expected a finite number, got nan"),
        (lambda: float_field("train.lr", False), "train.lr: expected a finite number, got False"),
        (lambda: float_field("train.lr", 0.0, 0.0, strict=True), "train.lr: must be > 0.0, got 0.0"),
        (lambda: float_field("train.lr", -1, 0.0), "train.lr: must be >= 0.0, got -1"),
        (lambda: float_field("train.beta1", 2.0, 0.0, high=1.0), "train.beta1: must be <= 1.0, got 2.0"),
        (lambda: choice_field("device", "tpu", ("cpu", "cuda")), "device: expected one of cpu, cuda; got 'tpu'"),
    ],
)
def test_a_bad_value_raises_config_error_naming_the_field(check, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        check()
    assert issubclass(ConfigError, ValueError)


def test_a_good_value_passes():
    int_field("data.n", 1, 1, 8)
    float_field("train.lr", 0.0, 0.0)  # the lower bound is allowed unless strict
    float_field("train.lr", 3, 0.0, strict=True, high=3.0)
    choice_field("device", "cpu", ("cpu", "cuda"))

"""common.checks: one integer check whose wording and error type each layer picks."""

import ast
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from common.checks import DETAIL, FIELD, RANGE, SENTENCE, IntMessages, check_int, check_positive

REPO = Path(__file__).resolve().parents[2]


class FieldError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@pytest.mark.parametrize("value", [0, 5, 12])
def test_accepts_and_returns_ints_in_range(value):
    assert check_int("J", value, 0, 12) == value


@pytest.mark.parametrize(
    ("value", "low", "high", "message"),
    [
        (13, 1, 12, "J must be an integer in [1, 12], got 13"),
        (0, 1, 12, "J must be an integer in [1, 12], got 0"),
        (0, 1, None, "J must be an integer >= 1, got 0"),
        (10, None, 9, "J must be an integer <= 9, got 10"),
        (2.0, 1, None, "J must be an integer, got 2.0"),
        ("3", 1, None, "J must be an integer, got '3'"),
        (True, 0, None, "J must be an integer, got True"),
    ],
)
def test_sentence_style_is_the_default(value, low, high, message):
    with pytest.raises(ValueError) as err:
        check_int("J", value, low, high)
    assert str(err.value) == message
    assert type(err.value) is ValueError


def test_field_style_names_the_violated_side_only():
    with pytest.raises(ValueError, match=r"^data\.batch_size: must be >= 1, got 0$"):
        check_int("data.batch_size", 0, 1, 64, messages=FIELD)
    with pytest.raises(ValueError, match=r"^data\.batch_size: must be <= 64, got 65$"):
        check_int("data.batch_size", 65, 1, 64, messages=FIELD)
    with pytest.raises(ValueError, match=r"^data\.batch_size: expected an integer, got 'x'$"):
        check_int("data.batch_size", "x", 1, messages=FIELD)


def test_error_factory_keeps_the_layers_exception_and_its_field():
    with pytest.raises(FieldError) as err:
        check_int("hpo.num_samples", 0, 1, 100_000, error=partial(FieldError, "hpo.num_samples"), messages=DETAIL)
    assert str(err.value) == "hpo.num_samples: must be >= 1, got 0"
    assert err.value.field == "hpo.num_samples"


def test_half_open_range_and_index_values():
    assert check_int("path_idx", np.int64(27), 0, 28, high_exclusive=True, index=True, messages=RANGE) == 27
    assert type(check_int("path_idx", np.int64(3), 0, 28, high_exclusive=True, index=True)) is int
    with pytest.raises(ValueError, match=r"^path_idx must be in \[0, 28\), got 28$"):
        check_int("path_idx", 28, 0, 28, high_exclusive=True, index=True, messages=RANGE)
    with pytest.raises(ValueError, match=r"^n must be an integer, got 1.5$"):
        check_int("n", 1.5, 0, index=True, messages=RANGE)
    with pytest.raises(ValueError, match=r"^n must be an integer, got True$"):
        check_int("n", True, 0, index=True, messages=RANGE)
    with pytest.raises(ValueError, match=r"must be an integer < 4, got 4$"):
        check_int("n", 4, None, 4, high_exclusive=True)


def test_numpy_ints_are_refused_without_index():
    with pytest.raises(ValueError, match="must be an integer, got"):
        check_int("n", np.int64(3), 0)


def test_custom_templates():
    msgs = IntMessages("{name}? {value!r}", "{name} outside {allowed} ({low}..{high}, {bound}): {value}")
    with pytest.raises(ValueError, match=r"^k outside in \[1, 3\] \(1..3, <= 3\): 4$"):
        check_int("k", 4, 1, 3, messages=msgs)
    assert SENTENCE.not_int.startswith("{name}")


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), float("inf"), True, "1", None])
def test_check_positive_refuses(value):
    with pytest.raises(ValueError, match=r"^lr must be a positive number, got "):
        check_positive("lr", value)


def test_check_positive_returns_a_float_and_takes_an_error_type():
    assert check_positive("lr", 2) == 2.0 and type(check_positive("lr", 2)) is float
    with pytest.raises(KeyError):
        check_positive("lr", 0, error=KeyError)
    with pytest.raises(ValueError, match=r"^lr: must be > 0, got 0$"):
        check_positive("lr", 0, message="{name}: must be > 0, got {value}")


def test_common_imports_only_the_standard_library():
    for path in (REPO / "common").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                top = name.split(".")[0]
                assert top == "common" or top == "__future__" or top in sys.stdlib_module_names, (path.name, name)

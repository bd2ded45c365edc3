"""``ConfigError`` and the field checks that raise it, shared by the run config's dataclasses.

Every check takes the dotted field name (``train.lr``, ``data.batch_size``, ...) and puts it at the start
of its message, so a bad value in a preset, a ``--set`` or a study spec names its field. Standard library
and ``common`` only (``trainables.config`` stays torch-free).
"""

from __future__ import annotations

import math
from typing import Any

from common.checks import FIELD, check_int

__all__ = ["ConfigError", "choice_field", "fail", "float_field", "int_field"]


class ConfigError(ValueError):
    """An invalid configuration value; the message starts with the dotted field name."""


def fail(name: str, message: str) -> None:
    raise ConfigError(f"{name}: {message}")


def int_field(name: str, value: Any, low: int | None = None, high: int | None = None) -> None:
    check_int(name, value, low, high, error=ConfigError, messages=FIELD)


def float_field(
    name: str, value: Any, low: float | None = None, *, strict: bool = False, high: float | None = None
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        fail(name, f"expected a finite number, got {value!r}")
    if low is not None and (value <= low if strict else value < low):
        fail(name, f"must be {'>' if strict else '>='} {low}, got {value}")
    if high is not None and value > high:
        fail(name, f"must be <= {high}, got {value}")


def choice_field(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        fail(name, f"expected one of {', '.join(choices)}; got {value!r}")

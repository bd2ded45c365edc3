"""``SpecError`` and the field checks that raise it, shared by a study spec's dataclasses.

Each check names the offending field (``name``, ``arms[p-adam].overrides``, ``hpo.num_samples``, ...):
a study name, a set of dotted config overrides (known ``RunConfig`` keys, none the study sets itself),
an integer in bounds. No Ray, no MLflow, no torch at import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

from common.checks import DETAIL, check_int

__all__ = [
    "SpecError",
    "NAME_PATTERN",
    "RESERVED_KEYS",
    "config_keys",
    "check_name",
    "check_overrides",
    "check_spec_int",
]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
# Keys a study sets itself; arms and overrides may not touch them.
RESERVED_KEYS = ("seed", "preset", "train.theta_is_probs", "train.inject_nan_at_step")


class SpecError(ValueError):
    """An invalid study spec; ``field`` is the offending field, also the start of the message."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def config_keys() -> dict[str, Any]:
    """Every dotted config key of ``RunConfig`` with its default value."""
    # lazy: a spec is read without torch (the presets build torch modules)
    from trainables.config import RunConfig, flatten

    return flatten(RunConfig())


def check_name(where: str, value: Any, what: str) -> None:
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise SpecError(
            where,
            f"{what} must be 1-100 characters from letters, digits, '.', '_', '+', '-' "
            f"(starting with a letter or digit), got {value!r}",
        )


def check_overrides(where: str, overrides: Any) -> tuple[tuple[str, Any], ...]:
    if isinstance(overrides, Mapping):
        overrides = tuple(overrides.items())
    if not isinstance(overrides, tuple) or not all(isinstance(p, tuple) and len(p) == 2 for p in overrides):
        raise SpecError(where, f"expected a mapping of dotted config keys to values, got {overrides!r}")
    known = config_keys()
    seen = set()
    for key, _ in overrides:
        if key in seen:
            raise SpecError(where, f"{key} is given twice")
        seen.add(key)
        if key in RESERVED_KEYS:
            raise SpecError(where, f"{key} is set by the study itself and cannot be overridden")
        if key not in known:
            close = [k for k in known if k.split(".")[-1] == str(key).split(".")[-1]]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise SpecError(where, f"unknown config key {key!r}{hint}")
    return overrides


def check_spec_int(where: str, value: Any, low: int | None = None, high: int | None = None) -> None:
    check_int(where, value, low, high, error=partial(SpecError, where), messages=DETAIL)

"""Argument checks shared by every module: a ``ValueError`` that names the argument and what was
expected (never ``assert``)."""
from __future__ import annotations

import math


def check_int(name: str, value: object, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (either bound optional); bools are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        allowed = (f"in [{low}, {high}]" if low is not None and high is not None
                   else f">= {low}" if low is not None else f"<= {high}")
        raise ValueError(f"{name} must be an integer {allowed}, got {value}")
    return value


def check_positive(name: str, value: object) -> float:
    """``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)

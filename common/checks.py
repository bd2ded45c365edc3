"""Integer and positive-number checks, one implementation for every layer.

Each layer keeps its own error type and wording: pass ``error`` (any callable that turns a message into
an exception, e.g. ``ConfigError`` or ``functools.partial(SpecError, "hpo.num_samples")``) and
``messages`` (an :class:`IntMessages` template pair; the house styles are module constants). Bad input
fails with a message that names the field and what was expected; never ``assert``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ErrorFactory", "IntMessages", "SENTENCE", "RANGE", "FIELD", "DETAIL", "check_int", "check_positive"]

ErrorFactory = Callable[[str], BaseException]


@dataclass(frozen=True)
class IntMessages:
    """Message templates of :func:`check_int`.

    ``not_int`` may use ``{name}`` and ``{value}``; ``out_of_range`` also ``{low}``, ``{high}``,
    ``{allowed}`` (the whole range: ``in [1, 12]``, ``in [0, 28)``, ``>= 1`` or ``<= 9``) and ``{bound}``
    (only the side that was violated: ``>= 1`` or ``<= 9`` / ``< 9``).
    """

    not_int: str
    out_of_range: str


SENTENCE = IntMessages("{name} must be an integer, got {value!r}", "{name} must be an integer {allowed}, got {value}")
"""``J must be an integer in [1, 12], got 13`` (library arguments, ``ValueError``)."""

RANGE = IntMessages("{name} must be an integer, got {value!r}", "{name} must be {allowed}, got {value}")
"""``path_idx must be in [0, 28), got 28`` (index-like arguments, usually with ``high_exclusive``)."""

FIELD = IntMessages("{name}: expected an integer, got {value!r}", "{name}: must be {bound}, got {value}")
"""``data.batch_size: must be >= 1, got 0`` (dotted config fields)."""

DETAIL = IntMessages("expected an integer, got {value!r}", "must be {bound}, got {value}")
"""The same without the name, for errors that prefix it themselves (``SpecError``, argparse)."""


def _range_text(low: int | None, high: int | None, high_exclusive: bool) -> str:
    upper = f"{high})" if high_exclusive else f"{high}]"
    if low is not None and high is not None:
        return f"in [{low}, {upper}"
    if low is not None:
        return f">= {low}"
    return f"< {high}" if high_exclusive else f"<= {high}"


def check_int(
    name: str,
    value: object,
    low: int | None = None,
    high: int | None = None,
    *,
    error: ErrorFactory = ValueError,
    messages: IntMessages = SENTENCE,
    high_exclusive: bool = False,
    index: bool = False,
) -> int:
    """``value`` as an int in ``[low, high]`` (either bound optional; ``[low, high)`` with
    ``high_exclusive``); bools are refused.

    ``index=True`` also accepts NumPy and 0-d torch integers (anything with ``__index__``) and returns a
    Python int. The lower bound is checked before the upper one.
    """
    if isinstance(value, bool):
        raise error(messages.not_int.format(name=name, value=value))
    if index:
        try:
            value = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            raise error(messages.not_int.format(name=name, value=value)) from None
    elif not isinstance(value, int):
        raise error(messages.not_int.format(name=name, value=value))
    bound = None
    if low is not None and value < low:
        bound = f">= {low}"
    elif high is not None and (value >= high if high_exclusive else value > high):
        bound = f"< {high}" if high_exclusive else f"<= {high}"
    if bound is not None:
        raise error(
            messages.out_of_range.format(
                name=name, value=value, low=low, high=high, bound=bound, allowed=_range_text(low, high, high_exclusive)
            )
        )
    return value


def check_positive(
    name: str,
    value: object,
    *,
    error: ErrorFactory = ValueError,
    message: str = "{name} must be a positive number, got {value!r}",
) -> float:
    """``value`` as a finite float > 0 (bools refused); ``message`` may use ``{name}`` and ``{value}``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise error(message.format(name=name, value=value))
    return float(value)

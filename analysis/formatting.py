"""Number formatting of the paper's tables (``../shared/notes/statistics.md``).

* values (means, Δ) to 3 significant figures, CIs to 2: ``99.7 ± 8.2``, ``5.30 ± 0.25``;
* step counts in Table 2 style as integers (mean and CI): ``10906 ± 1170``; step *differences* in
  Table 6 style follow the significant-figure rule: ``-2900 ± 1800``;
* p-values: ``p < 0.01`` below 0.01, else two decimals ``p = 0.15``;
* L1 and TV are printed × ``PAPER_SCALE`` (1000) under the paper's label "%".

Every function returns plain ASCII text and uses the ASCII hyphen-minus ``-`` for negative numbers
(the notes print U+2212 "−"): Markdown and CSV stay grep-able, and the LaTeX renderer puts numbers in
math mode, where ``-`` *is* the minus sign. Nothing here ever uses scientific notation.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import overload

import numpy as np

from analysis.schema import PAPER_SCALE

__all__ = [
    "NA",
    "format_sig",
    "format_int",
    "format_p",
    "format_p_bare",
    "format_rate",
    "format_dz",
    "format_value_ci",
    "cell_text",
    "scale",
]

NA = "n/a"


@overload
def scale(x: float) -> float: ...
@overload
def scale(x: np.ndarray) -> np.ndarray: ...
def scale(x):
    """Raw L1/TV value(s) → the paper's printed "%" scale (× 1000)."""
    return x * PAPER_SCALE


def format_sig(x: float, digits: int) -> str:
    """``x`` rounded to ``digits`` significant figures, in positional notation.

    Trailing zeros that are significant are kept (``format_sig(5.3, 3) == "5.30"``); large values
    are rounded, not written in exponent form (``format_sig(-2897, 3) == "-2900"``).
    """
    if digits < 1:
        raise ValueError(f"digits must be >= 1, got {digits}")
    if not math.isfinite(x):
        return NA
    rounded = float(f"{x:.{digits}g}")
    if rounded == 0:
        return "0" if digits == 1 else "0." + "0" * (digits - 1)
    exponent = math.floor(math.log10(abs(rounded)))
    decimals = max(0, digits - 1 - exponent)
    return f"{rounded:.{decimals}f}"


def format_int(x: float) -> str:
    """``x`` rounded half away from zero to an integer (step counts)."""
    if not math.isfinite(x):
        return NA
    value = int(Decimal(repr(x)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return str(value)


def format_p_bare(p: float) -> str:
    """``< 0.01`` below 0.01, else the p-value to two decimals (``0.15``); ``n/a`` for NaN."""
    if not math.isfinite(p):
        return NA
    if p < 0.01:
        return "< 0.01"
    return f"{p:.2f}"


def format_p(p: float) -> str:
    """``p < 0.01`` or ``p = 0.15`` (``p = n/a`` when the test is undefined)."""
    bare = format_p_bare(p)
    return "p " + bare if bare.startswith("<") else "p = " + bare


def format_rate(rate: float) -> str:
    """A convergence rate in [0, 1] as an integer percentage, ``0.6 -> "60%"``."""
    if not math.isfinite(rate):
        return NA
    return format_int(rate * 100.0) + "%"


def format_dz(d_z: float) -> str:
    """An effect size to two decimals (``-0.33``)."""
    if not math.isfinite(d_z):
        return NA
    text = f"{d_z:.2f}"
    return "0.00" if text == "-0.00" else text


def format_value_ci(mean: float, half_width: float, kind: str) -> tuple[str, str | None]:
    """Format one ``mean ± CI`` pair; returns ``(value, ci)`` with ``ci=None`` when there is no CI.

    ``kind``: ``"value"`` (3 / 2 significant figures) or ``"steps"`` (integers, Table 2 style).
    The caller scales L1/TV values beforehand.
    """
    if kind == "value":
        value = format_sig(mean, 3)
        ci = format_sig(half_width, 2) if math.isfinite(half_width) else None
    elif kind == "steps":
        value = format_int(mean)
        ci = format_int(half_width) if math.isfinite(half_width) else None
    else:
        raise ValueError(f"unknown kind {kind!r}; expected 'value' or 'steps'")
    return value, ci


def cell_text(value: str, ci: str | None = None, p: str | None = None, note: str | None = None) -> str:
    """Compose a plain-text cell: ``value ± ci (p; note)``, e.g. ``-12.3 ± 17 (p = 0.15)``."""
    text = value if ci is None else f"{value} ± {ci}"
    extra = "; ".join(x for x in (p, note) if x)
    return text + (f" ({extra})" if extra else "")

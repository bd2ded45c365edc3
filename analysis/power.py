"""Seed planning: how many paired seeds a comparison needs (``statsmodels`` ``TTestPower``).

The paired t-test of ``d = b - a`` is a one-sample t-test of d with effect size
``d_z = mean(d) / std(d, ddof=1)``. With m comparisons corrected by Holm, the strictest Holm step
compares the smallest p-value with α/m (the Bonferroni level) — planning every comparison at α/m is
therefore the level at which each of them keeps the requested power whatever its rank, so
``correction="holm"`` and ``"bonferroni"`` both plan at α/m.
"""

from __future__ import annotations

import math

from scipy import stats as sps
from statsmodels.stats.power import TTestPower

__all__ = ["CORRECTIONS", "adjusted_alpha", "achieved_power", "seeds_needed"]

CORRECTIONS = ("holm", "bonferroni", "none")
MAX_SEEDS = 100_000


def adjusted_alpha(alpha: float, m: int, correction: str = "holm") -> float:
    """Per-comparison α for ``m`` comparisons: α/m for Holm and Bonferroni, α for ``"none"``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if m < 1:
        raise ValueError(f"the number of comparisons must be >= 1, got {m}")
    if correction not in CORRECTIONS:
        raise ValueError(f"unknown correction {correction!r}; expected one of {', '.join(CORRECTIONS)}")
    return alpha if correction == "none" else alpha / m


def achieved_power(d_z: float, n: int, alpha: float) -> float:
    """Power of a two-sided paired t-test with n pairs at effect size ``d_z`` and level ``alpha``."""
    if n < 2:
        raise ValueError(f"a paired t-test needs at least 2 pairs, got {n}")
    if not math.isfinite(d_z):
        return math.nan
    solver = TTestPower()
    value = float(solver.power(effect_size=abs(d_z), nobs=n, alpha=alpha, alternative="two-sided"))
    if math.isnan(value):
        # scipy 1.16's nct.cdf returns NaN far in the lower tail (large effects): that tail is then
        # negligible (< 1e-12), so the two-sided power is the upper tail at alpha / 2.
        value = float(solver.power(effect_size=abs(d_z), nobs=n, alpha=alpha / 2, alternative="larger"))
    if math.isnan(value):
        # ... and nct.sf fails too when the non-centrality exceeds the critical value by many
        # standard errors: the power is then 1 to double precision.
        if abs(d_z) * math.sqrt(n) - sps.t.isf(alpha / 2, n - 1) > 10:
            value = 1.0
    return value


def seeds_needed(d_z: float, alpha: float, power: float = 0.8) -> int | None:
    """Smallest number of paired seeds giving ``power`` to detect ``d_z`` at level ``alpha``.

    Doubling then bisection over n on ``TTestPower().power`` (monotone in n): exact on the integers,
    and it only evaluates the power near the answer (``solve_power``'s root finder and scipy's
    non-central t both break down for very large effects or very large n).

    Returns:
        n >= 2, or None when the effect is zero/undefined or more than ``MAX_SEEDS`` seeds would be
        needed.
    """
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if not math.isfinite(d_z) or d_z == 0:
        return None
    if achieved_power(d_z, 2, alpha) >= power:
        return 2
    low, high = 2, 4  # invariant: power(low) < target
    while not achieved_power(d_z, high, alpha) >= power:
        if high >= MAX_SEEDS:
            return None
        low, high = high, min(2 * high, MAX_SEEDS)
    while high - low > 1:  # power(low) < target <= power(high)
        mid = (low + high) // 2
        if achieved_power(d_z, mid, alpha) >= power:
            high = mid
        else:
            low = mid
    return high

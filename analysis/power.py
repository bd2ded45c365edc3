"""Seed planning: how many paired seeds a comparison needs (``statsmodels`` ``TTestPower``).

The paired t-test of ``d = b - a`` is a one-sample t-test of d with effect size
``d_z = mean(d) / std(d, ddof=1)``. With m comparisons corrected by Holm, the strictest Holm step
compares the smallest p-value with α/m (the Bonferroni level) — planning every comparison at α/m is
therefore the level at which each of them keeps the requested power whatever its rank, so
``correction="holm"`` and ``"bonferroni"`` both plan at α/m.
"""
from __future__ import annotations

import math

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
    from statsmodels.stats.power import TTestPower

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
    return value


def seeds_needed(d_z: float, alpha: float, power: float = 0.8) -> int | None:
    """Smallest number of paired seeds giving ``power`` to detect ``d_z`` at level ``alpha``.

    Returns None when the effect is zero or undefined (no finite number of seeds suffices), and
    raises if more than ``MAX_SEEDS`` would be needed.
    """
    from statsmodels.stats.power import TTestPower

    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if not math.isfinite(d_z) or d_z == 0:
        return None
    solver = TTestPower()
    n = solver.solve_power(effect_size=abs(d_z), nobs=None, alpha=alpha, power=power,
                           alternative="two-sided")
    n = max(2, math.ceil(float(n) - 1e-9))
    # solve_power's root is continuous: step to the first integer that really reaches the power
    while achieved_power(d_z, n, alpha) < power:
        n += 1
        if n > MAX_SEEDS:
            raise ValueError(f"more than {MAX_SEEDS} seeds needed for d_z = {d_z:g}")
    while n > 2 and achieved_power(d_z, n - 1, alpha) >= power:
        n -= 1
    return n

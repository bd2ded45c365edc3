"""The 2×2×2 factorial ablation (P-Adam × P-SAGA × θ-IS) as a repeated-measures design, seed = subject.

Every seed runs all 2^k arms, so each seed is a block; an arm's factor levels come from its name (the
study names a factorial arm by the techniques it turns on, ``p-adam+theta-is``; ``scrapl`` = none).

Effects follow the usual 2^k convention (Montgomery, *Design and Analysis of Experiments*, ch. 6): the
effect of a factor set S is ``Σ_cells c_S(cell) · y(cell) / 2^{k-1}`` with ``c_S = Π_{f∈S} (±1)``
(+1 when f is on). A main effect is then "mean with the technique on − mean with it off"; a two-way
interaction is half the change of one factor's effect when the other is turned on. Computed per seed,
the effect's mean over seeds is the estimate, its Student-t interval the 95 % CI, and

* the test is the repeated-measures ANOVA of ``statsmodels`` ``AnovaRM`` (each effect has 1 degree of
  freedom and its own effect × seed error term, so ``F = t²`` of the per-seed effects, p identical);
* the effect sizes are partial η² (``F / (F + n − 1)``) and d_z (mean / sd of the per-seed effects).

Seeds missing a value in any arm (e.g. a run that never converged) are left out of that metric; the
result says how many seeds were used.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.anova import AnovaRM

from analysis.schema import ARM_COLUMN, SEED_COLUMN

__all__ = ["FACTORS", "Effect", "factor_levels", "effect_terms", "factorial_effects"]

FACTORS = (("p-adam", "P-Adam"), ("p-saga", "P-SAGA"), ("theta-is", "θ-IS"))
FACTOR_NAMES = tuple(f for f, _ in FACTORS)
"""(arm-name token, label) of the study's factorial techniques, in the paper's order."""
BASELINE_ARM = "scrapl"


@dataclass(frozen=True)
class Effect:
    """One main effect or interaction on one metric (units of the values passed in)."""

    term: tuple[str, ...]  # factor tokens, e.g. ("p-adam", "p-saga")
    label: str  # "P-Adam × P-SAGA"
    estimate: float
    ci_low: float
    ci_high: float
    f: float  # AnovaRM F(1, n − 1)
    p_value: float
    partial_eta_sq: float
    d_z: float
    n: int  # seeds used


def factor_levels(arm: str, factors: Sequence[str]) -> tuple[int, ...]:
    """0/1 level of each factor in ``arm``'s name (``"p-adam+theta-is"`` -> (1, 0, 1)); unknown tokens
    are an error."""
    tokens = [] if arm == BASELINE_ARM else arm.split("+")
    unknown = [t for t in tokens if t not in factors]
    if unknown or len(set(tokens)) != len(tokens):
        raise ValueError(
            f"arm {arm!r} is not a factorial arm: expected {BASELINE_ARM!r} or techniques among "
            f"{', '.join(factors)} joined by '+'"
        )
    return tuple(int(f in tokens) for f in factors)


def effect_terms(factors: Sequence[str]) -> list[tuple[str, ...]]:
    """Main effects first, then two-way, … interactions, each in factor order."""
    return [t for k in range(1, len(factors) + 1) for t in itertools.combinations(factors, k)]


def _label(term: Sequence[str], labels: dict[str, str]) -> str:
    return " × ".join(labels.get(t, t) for t in term)


def factorial_effects(
    df: pd.DataFrame, column: str, factors: Sequence[str] = FACTOR_NAMES, *, labels: dict[str, str] | None = None
) -> list[Effect]:
    """Every main effect and interaction of ``factors`` on ``column``, paired by seed.

    ``df`` needs one run per (arm, seed) for each of the 2^k arms (extra arms are ignored). Raises
    ``ValueError`` naming the missing arms, or when fewer than 3 seeds have a value in every arm.
    """
    factors = list(factors)
    labels = labels or dict(FACTORS)
    cells = {levels: None for levels in itertools.product((0, 1), repeat=len(factors))}
    for arm in dict.fromkeys(df[ARM_COLUMN]):
        try:
            levels = factor_levels(arm, factors)
        except ValueError:
            continue
        cells[levels] = arm
    missing = [
        "+".join(f for f, on in zip(factors, lv, strict=True) if on) or BASELINE_ARM
        for lv, a in cells.items()
        if a is None
    ]
    if missing:
        raise ValueError(
            f"the factorial of {', '.join(factors)} needs all {len(cells)} arms; no runs for {', '.join(missing)}"
        )
    wide = (
        df[df[ARM_COLUMN].isin(list(cells.values()))]
        .pivot_table(index=SEED_COLUMN, columns=ARM_COLUMN, values=column, aggfunc="first", dropna=False)
        .reindex(columns=list(cells.values()))
    )
    wide = wide[wide.notna().all(axis=1)]
    n = len(wide)
    if n < 3:
        raise ValueError(
            f"{column!r}: only {n} seed(s) have a value in all {len(cells)} arms; the factorial "
            "analysis needs at least 3"
        )
    y = wide.to_numpy(dtype=np.float64)  # (n seeds, 2^k cells)
    level_matrix = np.array(list(cells), dtype=np.float64) * 2 - 1  # (2^k, k) of ±1
    long = pd.DataFrame({"seed": np.repeat(wide.index.to_numpy(), len(cells)), "y": y.ravel()})
    for j in range(len(factors)):
        long[f"f{j}"] = np.tile(level_matrix[:, j], n)
    anova = AnovaRM(long, "y", "seed", within=[f"f{j}" for j in range(len(factors))]).fit().anova_table
    t975 = float(sps.t.ppf(0.975, n - 1))
    out = []
    for term in effect_terms(factors):
        idx = [factors.index(f) for f in term]
        contrast = level_matrix[:, idx].prod(axis=1) / 2 ** (len(factors) - 1)
        per_seed = y @ contrast
        mean, sd = float(per_seed.mean()), float(per_seed.std(ddof=1))
        half = t975 * sd / math.sqrt(n)
        row = anova.loc[":".join(f"f{i}" for i in idx)]
        f_value, p = float(row["F Value"]), float(row["Pr > F"])
        out.append(
            Effect(
                tuple(term),
                _label(term, labels),
                mean,
                mean - half,
                mean + half,
                f_value,
                p,
                f_value / (f_value + n - 1) if math.isfinite(f_value) else math.nan,
                mean / sd if sd > 0 else math.nan,
                n,
            )
        )
    return out

"""Factorial table: main effects and interactions of P-Adam, P-SAGA and θ-IS on test θ L1, total
variation and convergence steps, paired by seed (``analysis.factorial``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from analysis import stats
from analysis.factorial import FACTOR_NAMES, FACTORS, factorial_effects
from analysis.formatting import format_dz, format_p, format_p_bare, format_sig
from analysis.render import Cell, Column, Table
from analysis.schema import CONVERGENCE_STEP, PAPER_SCALE, TEST_THETA_L1, VAL_TOTAL_VARIATION
from analysis.table_parts import CONVERGENCE_TEXT, SCALE_TEXT, bold_best, require_columns

__all__ = ["factorial_table", "FACTORIAL_METRICS"]

FACTORIAL_METRICS = (
    (TEST_THETA_L1, "Test θ L1 %", r"Test $\theta_{\mathrm{synth}}$ $L_1$ \%", True),
    (VAL_TOTAL_VARIATION, "Val. Total Var.", r"Val.\ Total Var.", True),
    (CONVERGENCE_STEP, "Conv. Steps", r"Conv.\ Steps", False),
)


def factorial_table(
    df: pd.DataFrame,
    *,
    factors: Sequence[str] = FACTOR_NAMES,
    labels: dict[str, str] | None = None,
    correction: str = "holm",
    notes: Sequence[str] = (),
) -> Table:
    """One row per main effect and interaction; per metric the effect ± 95 % CI with the
    repeated-measures ANOVA p, the ``correction``-adjusted p across the table and partial η².

    ``df``: per-seed table of a factorial study (every seed in all 2^k arms, arms named by their
    techniques). Negative effects lower the metric (better for all three).
    """
    require_columns(df, [m for m, *_ in FACTORIAL_METRICS])
    labels = labels or dict(FACTORS)
    results, used = [], {}
    for key, label, _, scaled in FACTORIAL_METRICS:
        k = PAPER_SCALE if scaled else 1.0
        scaled_df = df.assign(**{key: df[key] * k})
        effects = factorial_effects(scaled_df, key, factors, labels=labels)
        results.append(effects)
        used[label] = effects[0].n
    adjusted = stats.adjust_pvalues([e.p_value for effects in results for e in effects], correction)
    n_terms = len(results[0])
    columns = [Column("effect", "Effect", "Effect", text=True)]
    for key, label, latex, _ in FACTORIAL_METRICS:
        columns += [
            Column("effect_" + key, f"{label} Δ", rf"{latex} $\Delta$"),
            Column("p_adj_" + key, f"{correction.capitalize()} p", f"{correction.capitalize()} $p$"),
            Column("eta_sq_" + key, "η²p", r"$\eta^2_p$"),
        ]
    rows = []
    for i in range(n_terms):
        row = [Cell(results[0][i].label, text=True)]
        for j, (_, _, _, scaled) in enumerate(FACTORIAL_METRICS):
            e, p_adj = results[j][i], float(adjusted[j * n_terms + i])
            half = (e.ci_high - e.ci_low) / 2
            data = {
                "mean": e.estimate,
                "ci_half_width": half,
                "ci_low": e.ci_low,
                "ci_high": e.ci_high,
                "n": e.n,
                "unit": "x1000" if scaled else "steps",
                "ci_method": "t",
                "f": e.f,
                "p_value": e.p_value,
                "test": "repeated-measures ANOVA (statsmodels AnovaRM)",
                "p_adjusted": p_adj,
                "correction": correction,
                "partial_eta_sq": e.partial_eta_sq,
                "d_z": e.d_z,
            }
            row += [
                Cell(
                    format_sig(e.estimate, 3),
                    format_sig(half, 2) if math.isfinite(half) else None,
                    format_p(e.p_value),
                    data=data,
                    rank=e.estimate,
                ),
                Cell(format_p_bare(p_adj)),
                Cell(format_dz(e.partial_eta_sq)),
            ]
        rows.append(row)
    bold_best(rows, [k for k, c in enumerate(columns) if c.key.startswith("effect_")], range(len(rows)))
    seeds = set(used.values())
    n_text = (
        f"n = {seeds.pop()} seeds"
        if len(seeds) == 1
        else "seeds with a value in every arm: " + ", ".join(f"{k} {v}" for k, v in used.items())
    )
    names = " × ".join(labels.get(f, f) for f in factors)
    parts = [
        f"{names} factorial, every arm on the same seeds (seed = block); {n_text}.",
        "Effect Δ (2^k convention): main effect = mean with the technique on − mean with it off; "
        "interaction = half the change of one effect when the other technique is on; ± 95 % Student-t "
        "CI of the per-seed effects.",
        "p: repeated-measures ANOVA (statsmodels AnovaRM; F(1, n − 1) = t² of the per-seed effects); "
        f"{correction.capitalize()} p adjusted across the {len(adjusted)} tests of this table; "
        "η²p = partial eta squared, F / (F + n − 1); d_z in the CSV.",
        SCALE_TEXT + ".",
        CONVERGENCE_TEXT + "; Conv. Steps uses the seeds that converged in every arm.",
        "Negative Δ = improvement; bold: largest improvement per column.",
        *notes,
    ]
    return Table("Factorial ablation", columns, rows, " ".join(parts))

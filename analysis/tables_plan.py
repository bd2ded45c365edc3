"""Seed planning: from a pilot's paired differences, the seeds a paired t-test needs per comparison."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from analysis import power as power_fns
from analysis import stats
from analysis.formatting import NA, format_dz, format_int, format_rate, format_sig
from analysis.pairing import pair_by_seed, select_arms
from analysis.render import Cell, Column, Table
from analysis.schema import CONVERGENCE_STEP, PAPER_SCALE, SEED_COLUMN, TEST_THETA_L1, VAL_TOTAL_VARIATION
from analysis.table_parts import arm_labels

__all__ = ["plan_seeds_table"]

_PLAN_METRICS = {
    TEST_THETA_L1: ("Test θ L1", True),
    VAL_TOTAL_VARIATION: ("Val. Total Var.", True),
    CONVERGENCE_STEP: ("Conv. Steps", False),
}


def plan_seeds_table(
    df: pd.DataFrame,
    arms: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    metrics: Sequence[str] = tuple(_PLAN_METRICS),
    alpha: float = 0.05,
    power: float = 0.8,
    correction: str = "holm",
    drop_unpaired: bool = False,
    notes: Sequence[str] = (),
) -> Table:
    """Seeds needed per comparison (consecutive arms, paired by seed) and metric, from a pilot.

    Uses the pilot's d_z and ``statsmodels`` ``TTestPower`` at the per-comparison α of
    ``analysis.power.adjusted_alpha`` (α / number of comparisons for Holm or Bonferroni).
    """
    if len(arms) < 2:
        raise ValueError("seed planning compares consecutive arms: give at least 2 arms")
    unknown = [m for m in metrics if m not in df.columns]
    if unknown:
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and c != SEED_COLUMN]
        raise ValueError(
            f"unknown metric column(s) {', '.join(unknown)} in --metrics; numeric columns of the "
            f"per-seed table: {', '.join(numeric) or 'none'}"
        )
    df = select_arms(df, arms)
    names = arm_labels(arms, labels)
    comparisons = [(a, b, m) for a, b in zip(arms[:-1], arms[1:], strict=True) for m in metrics]
    level = power_fns.adjusted_alpha(alpha, len(comparisons), correction)
    columns = [
        Column("comparison", "Comparison", "Comparison", text=True),
        Column("metric", "Metric", "Metric", text=True),
        Column("n_pilot", "Pilot pairs", "Pilot pairs"),
        Column("delta", "Δ (pilot)", r"$\Delta$ (pilot)"),
        Column("d_z", "d_z", "$d_z$"),
        Column("power_pilot", "Power at pilot n", "Power at pilot $n$"),
        Column("seeds_needed", f"Seeds for {power:.0%} power", rf"Seeds for {power * 100:.0f}\% power"),
    ]
    rows = []
    for a, b, metric in comparisons:
        pairing = pair_by_seed(
            df, a, b, metric, drop_unpaired=drop_unpaired, allow_missing_values=(metric.startswith(CONVERGENCE_STEP))
        )
        pairing = pairing.both_finite()
        label, scaled = _PLAN_METRICS.get(metric, (metric, False))
        k = PAPER_SCALE if scaled else 1.0
        d = (pairing.b - pairing.a) * k
        n = int(d.size)
        d_z = stats.cohens_dz(d) if n >= 2 else math.nan
        achieved = power_fns.achieved_power(d_z, n, level) if n >= 2 else math.nan
        needed = power_fns.seeds_needed(d_z, level, power)
        mean = float(d.mean()) if n else math.nan
        rows.append(
            [
                Cell(f"{names[b]} vs {names[a]}", text=True),
                Cell(label, text=True),
                Cell(str(n), data={"n": n}),
                Cell(format_sig(mean, 3), data={"mean": mean, "unit": "x1000" if scaled else "steps"}),
                Cell(format_dz(d_z), data={"d_z": d_z}),
                Cell(format_rate(achieved) if math.isfinite(achieved) else NA, data={"power": achieved}),
                Cell(
                    format_int(needed) if needed is not None else NA,
                    data={
                        "seeds_needed": needed if needed is not None else math.nan,
                        "alpha": level,
                        "target_power": power,
                    },
                ),
            ]
        )
    parts = [
        f"Seeds needed to detect each pilot effect with a two-sided paired t-test at {power:.0%} power "
        f"(statsmodels TTestPower), at α = {alpha:g}"
        + (
            f" / {len(comparisons)} = {level:.4g} per comparison ({correction}: the strictest Holm step "
            "equals Bonferroni)"
            if correction != "none"
            else " per comparison (no correction)"
        )
        + ".",
        "d_z = mean(d) / std(d, ddof=1) of the pilot's paired differences (later − earlier arm); "
        f"Δ in table units (θ L1 and TV × {PAPER_SCALE:g}, steps); "
        "Conv. Steps over the seeds where both arms converged.",
        f"n/a: no effect in the pilot (d_z = 0 or undefined) or more than {power_fns.MAX_SEEDS} seeds needed.",
        *notes,
    ]
    return Table("Seed planning", columns, rows, " ".join(parts))

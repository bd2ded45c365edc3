"""Pieces every table builder shares: arm labels, caption fragments, mean ± CI and rate cells, the
bold-best rule, column guards and the paper's column labels.

The builders (``analysis.tables``, ``tables_theta_is``, ``tables808``, ``tables_plan``,
``tables_factorial``) assemble ``analysis.render`` cells from these; nothing here renders.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from analysis import stats
from analysis.formatting import format_rate, format_value_ci
from analysis.render import Cell
from analysis.schema import ARM_COLUMN, CONVERGENCE_THRESHOLD, PAPER_SCALE, SEED_COLUMN

__all__ = [
    "arm_labels",
    "ci_text",
    "n_text",
    "estimate_cell",
    "rate_cell",
    "bold_best",
    "arm_values",
    "require_columns",
    "require_values",
    "param_label",
    "L1_LABEL",
    "L1_LATEX",
    "TV_LABEL",
    "TV_LATEX",
    "STEPS_LABEL",
    "STEPS_LATEX",
    "CR_LABEL",
    "CR_LATEX",
    "CONVERGENCE_TEXT",
    "SCALE_TEXT",
]

L1_LABEL = "Test θ L1 % ↓"
L1_LATEX = r"Test $\theta_{\mathrm{synth}}$ $L_1$ \% $\downarrow$"
TV_LABEL = "Val. Total Var. ↓"
TV_LATEX = r"Val.\ Total Var.\ $\downarrow$"
STEPS_LABEL = "Conv. Steps ↓"
STEPS_LATEX = r"Conv.\ Steps $\downarrow$"
CR_LABEL = "CR ↑"
CR_LATEX = r"CR $\uparrow$"
CONVERGENCE_TEXT = f"Convergence: first validation step with θ L1 ≤ {CONVERGENCE_THRESHOLD:g} (the paper's “< 100 %”)"
SCALE_TEXT = f"θ L1 and total variation × {PAPER_SCALE:g} (the paper's “%”)"


def arm_labels(arms: Sequence[str], labels: Sequence[str] | None) -> dict[str, str]:
    """Display names of arms; ``labels`` (if given) aligns with ``arms``."""
    if labels is None:
        return {a: a for a in arms}
    if len(labels) != len(arms):
        raise ValueError(f"--labels has {len(labels)} entries but --arms has {len(arms)}")
    return dict(zip(arms, labels, strict=True))


def ci_text(method: str, n_resamples: int, seed: int | None) -> str:
    """Caption fragment naming the CI method (and the bootstrap's resamples and seed)."""
    text = f"{method} ({stats.CI_DESCRIPTIONS[method]}"
    if method == "bootstrap":
        text += f", {n_resamples} resamples" + (f", generator seed {seed}" if seed is not None else "")
    return text + ")"


def n_text(counts: dict[str, int], what: str = "runs per arm") -> str:
    """``n = 3 runs per arm``, or the counts one by one when they differ."""
    values = set(counts.values())
    if len(values) == 1:
        return f"n = {values.pop()} {what}"
    return "n " + what.replace(" per ", " by ") + ": " + ", ".join(f"{k} {v}" for k, v in counts.items())


def estimate_cell(values: np.ndarray, kind: str, method: str, rng, n_resamples: int, unit: str, better: str) -> Cell:
    """``mean ± CI`` of ``values`` (already in display units), ranked by the mean; "N/A" when empty."""
    if values.size == 0:
        return Cell("N/A", data={"n": 0, "unit": unit, "ci_method": method})
    est = stats.mean_ci(values, method, rng=rng, n_resamples=n_resamples)
    value, ci = format_value_ci(est.mean, est.half_width, kind)
    data = {
        "mean": est.mean,
        "ci_half_width": est.half_width,
        "ci_low": est.low,
        "ci_high": est.high,
        "n": est.n,
        "unit": unit,
        "ci_method": method if est.n > 1 else "none (single value)",
    }
    return Cell(value, ci, data=data, rank=est.mean, better=better)


def rate_cell(steps: np.ndarray) -> Cell:
    """Convergence rate of ``steps`` (NaN = never converged), larger is better."""
    rate = stats.convergence_rate(steps)
    return Cell(
        format_rate(rate), data={"mean": rate, "n": int(steps.size), "unit": "fraction"}, rank=rate, better="max"
    )


def bold_best(rows: list[list[Cell]], columns: Iterable[int], candidates: Sequence[int]) -> None:
    """Bold the best ``rank`` per column among ``candidates`` rows (in place; ties all bold; nothing
    when every candidate ties)."""
    if len(candidates) < 2:
        return
    for j in columns:
        ranks = [(i, rows[i][j].rank) for i in candidates]
        scored = [(i, s) for i, s in ranks if s is not None and math.isfinite(s)]
        if len(scored) < 2:
            continue
        better = rows[scored[0][0]][j].better
        best = (min if better == "min" else max)(s for _, s in scored)
        if all(s == best for _, s in scored):
            continue  # nothing stands out
        for i, s in scored:
            if s == best:
                rows[i][j] = replace(rows[i][j], bold=True)


def arm_values(df: pd.DataFrame, arm: str, column: str) -> np.ndarray:
    """One arm's values of ``column``, shape (n_runs,), float64 (NaN = no value)."""
    return df.loc[df[ARM_COLUMN] == arm, column].to_numpy(dtype=np.float64)


def require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"the per-seed table has no column(s) {', '.join(missing)}")


def require_values(df: pd.DataFrame, column: str, where: str) -> None:
    """Every run has a value of ``column``; the error lists the runs without one."""
    bad = df[df[column].isna()]
    if len(bad):
        runs = ", ".join(f"{a}/seed {s}" for a, s in zip(bad[ARM_COLUMN], bad[SEED_COLUMN], strict=True))
        raise ValueError(f"{column!r} has no value for {runs}{where}")


def param_label(name: str) -> tuple[str, str]:
    """(Markdown, LaTeX) label of synth parameter ``name``: ``θ_am``."""
    escaped = name.replace("_", "\\_")
    return f"θ_{name}", rf"$\theta_{{\mathrm{{{escaped}}}}}$"

"""The adaptive-seeds table: where the sequential procedure (``analysis.sequential``) stands after a
study's latest look — per comparison the seeds (pairs) used, the mean difference with its repeated
confidence interval, the z statistic against its group-sequential boundary, and the decision — with
the design and the reason the study stopped (or goes on) in the caption."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from analysis.formatting import format_sig
from analysis.render import Cell, Column, Table
from analysis.schema import CONVERGENCE_STEP, PAPER_SCALE, TEST_THETA_L1, VAL_TOTAL_VARIATION
from analysis.table_parts import SCALE_TEXT

__all__ = ["sequential_table", "METRIC_LABELS"]

METRIC_LABELS = {TEST_THETA_L1: "Test θ L1 %", VAL_TOTAL_VARIATION: "Val. Total Var.", CONVERGENCE_STEP: "Conv. Steps"}
_SCALED = (TEST_THETA_L1, VAL_TOTAL_VARIATION)
_SPENDING = {"obf": "O'Brien–Fleming-type", "pocock": "Pocock-type"}


def _finite(x) -> float:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else math.nan


def _num(x: float, digits: int = 3) -> str:
    return format_sig(x, digits) if math.isfinite(x) else "n/a"


def sequential_table(verdict: Mapping, rows: Sequence[Mapping[str, str]], *, notes: Sequence[str] = ()) -> Table:
    """``verdict``: ``analysis.sequential.Verdict.to_dict()``. ``rows``: per comparison (same order)
    ``comparison`` (display text, e.g. ``+P-SAGA vs +P-Adam``) and ``metric`` (a ``schema`` metric name)."""
    comparisons = verdict["comparisons"]
    if len(rows) != len(comparisons):
        raise ValueError(f"{len(rows)} row labels for {len(comparisons)} comparisons")
    columns = [
        Column("comparison", "Comparison", "Comparison", text=True),
        Column("metric", "Metric", "Metric", text=True),
        Column("pairs", "Pairs", "Pairs"),
        Column("estimate", "Δ [repeated 95 % CI]", r"$\Delta$ [repeated CI]"),
        Column("z", "z", "$z$"),
        Column("boundary", "Boundary |z|", r"Boundary $|z|$"),
        Column("decision", "Decision", "Decision", text=True),
    ]
    body = []
    for label, c in zip(rows, comparisons, strict=True):
        k = PAPER_SCALE if label["metric"] in _SCALED else 1.0
        est, low, high = (_finite(c.get(x)) * k for x in ("estimate", "ci_low", "ci_high"))
        low = -math.inf if c.get("ci_low") is None and c.get("n_pairs") else low
        high = math.inf if c.get("ci_high") is None and c.get("n_pairs") else high
        interval = f"[{_num(low)}, {_num(high)}]" if math.isfinite(low) or math.isfinite(high) else None
        data = {
            k2: c.get(k2)
            for k2 in (
                "estimate",
                "ci_low",
                "ci_high",
                "z",
                "boundary",
                "nominal_p",
                "p_value",
                "level",
                "information",
                "conditional_power",
                "at_seeds",
                "n_pairs",
            )
        }
        data.update(estimate=est, ci_low=low, ci_high=high, unit="x1000" if k != 1.0 else "steps")
        z, bound = _finite(c.get("z")), _finite(c.get("boundary"))
        body.append(
            [
                Cell(label["comparison"], text=True),
                Cell(METRIC_LABELS.get(label["metric"], label["metric"]), text=True),
                Cell(str(int(c.get("n_pairs") or 0))),
                Cell(_num(est) if math.isfinite(est) else "n/a", note=interval, data=data),
                Cell(_num(z)),
                Cell(_num(bound)),
                Cell(c["decision"], text=True),
            ]
        )
    design = verdict["design"]
    spending = _SPENDING.get(design["spending"], f"Hwang–Shih–DeCani (γ = {design['spending'][4:]})")
    looks = ", ".join(map(str, verdict["looks"]))
    parts = [
        f"Adaptive seeds: {verdict['n_seeds']} seeds run (looks at {looks}; at most {design['max_seeds']}, "
        f"waves of {design['wave']} from {design['min_seeds']}). "
        f"{verdict['reason'][0].upper()}{verdict['reason'][1:]}.",
        f"Group-sequential paired t-tests at family-wise α = {design['alpha']:g} across all looks and "
        f"comparisons: {spending} Lan–DeMets α-spending, {design['correction'].capitalize()} as a graph across "
        f"comparisons; futility (non-binding) below {design['futility']:g} conditional power.",
        "Δ = later − earlier arm, mean over the paired seeds, with the repeated confidence interval "
        "(excludes 0 exactly when |z| crosses the boundary); decisions: effect (boundary crossed), futility, "
        "continue, inconclusive (maximum reached without a crossing).",
        SCALE_TEXT + "; Conv. Steps uses the seeds where both arms converged.",
        "The fixed-n tables of the same seeds are in ablation/deltas (or theta_is).",
        *notes,
    ]
    return Table("Adaptive seeds: sequential decisions", columns, body, " ".join(parts))

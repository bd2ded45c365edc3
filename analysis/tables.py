"""The paper's two ablation tables, built from a validated per-seed DataFrame (``analysis.data``).

* ``ablation_table`` — Table 2 style: one row per arm, mean ± CI (default ``paper-z``).
* ``deltas_table``   — Table 6 style: each arm against the previous one, paired by seed
  (default Student-t CI, paired t-test), plus Holm-adjusted p, d_z and Wilcoxon p unless ``paper``.

The other table families live beside it: ``tables_theta_is`` (Tables 3/7), ``tables808`` (Tables 4/8/9),
``tables_plan`` (seed planning), ``tables_factorial`` (2×2×2 factorial). Each returns an
``analysis.render.Table`` whose caption states n, the CI method and the test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis import stats
from analysis.formatting import NA, format_dz, format_p, format_p_bare, format_sig, scale
from analysis.pairing import Pairing, pair_by_seed, select_arms
from analysis.render import Cell, Column, Table
from analysis.schema import CONVERGENCE_STEP, PAPER_SCALE, TEST_THETA_L1, VAL_TOTAL_VARIATION, per_param
from analysis.table_parts import (
    CONVERGENCE_TEXT,
    CR_LABEL,
    CR_LATEX,
    L1_LABEL,
    L1_LATEX,
    SCALE_TEXT,
    STEPS_LABEL,
    STEPS_LATEX,
    TV_LABEL,
    TV_LATEX,
    arm_labels,
    arm_values,
    bold_best,
    ci_text,
    estimate_cell,
    n_text,
    param_label,
    rate_cell,
    require_columns,
    require_values,
)
from analysis.tables_plan import plan_seeds_table  # re-exported: callers use analysis.tables.<name>
from analysis.tables_theta_is import theta_is_table  # re-exported: callers use analysis.tables.<name>

__all__ = ["ablation_table", "deltas_table", "theta_is_table", "plan_seeds_table", "arm_labels"]


# --- Table 2 style ----------------------------------------------------------------------------------
def ablation_table(
    df: pd.DataFrame,
    arms: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    ci: str = "paper-z",
    rng: np.random.Generator | None = None,
    n_resamples: int = stats.DEFAULT_RESAMPLES,
    rng_seed: int | None = None,
    paper: bool = False,
    reference_arms: Sequence[str] = (),
    params: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> Table:
    """Table 2 style: one row per arm (in ``arms`` order), mean ± 95 % CI over its runs.

    Columns: test θ L1 (× 1000), optional per-parameter test L1 (``params``), validation TV
    (× 1000), convergence steps over converged runs, convergence rate (dropped when ``paper``).
    Arms with a single run print their value without a CI. Bold: the best value per column among
    the arms not in ``reference_arms``.
    """
    stats.check_ci(ci, rng)
    require_columns(
        df, [TEST_THETA_L1, VAL_TOTAL_VARIATION, CONVERGENCE_STEP] + [per_param(TEST_THETA_L1, p) for p in params]
    )
    df = select_arms(df, arms)
    names = arm_labels(arms, labels)
    bad_ref = [a for a in reference_arms if a not in arms]
    if bad_ref:
        raise ValueError(f"reference arm(s) {', '.join(bad_ref)} are not in --arms")
    for column in [TEST_THETA_L1, VAL_TOTAL_VARIATION] + [per_param(TEST_THETA_L1, p) for p in params]:
        require_values(df, column, "")

    columns = [Column("arm", "Method", "Method", text=True), Column(TEST_THETA_L1, L1_LABEL, L1_LATEX)]
    for p in params:
        label, latex = param_label(p)
        columns.append(
            Column(per_param(TEST_THETA_L1, p), f"Test {label} L1 % ↓", rf"Test {latex} $L_1$ \% $\downarrow$")
        )
    columns += [Column(VAL_TOTAL_VARIATION, TV_LABEL, TV_LATEX), Column(CONVERGENCE_STEP, STEPS_LABEL, STEPS_LATEX)]
    if not paper:
        columns.append(Column("convergence_rate", CR_LABEL, CR_LATEX))

    rows, counts, converged = [], {}, {}
    for arm in arms:
        row = [Cell(names[arm], text=True)]
        row.append(
            estimate_cell(scale(arm_values(df, arm, TEST_THETA_L1)), "value", ci, rng, n_resamples, "x1000", "min")
        )
        for p in params:
            row.append(
                estimate_cell(
                    scale(arm_values(df, arm, per_param(TEST_THETA_L1, p))),
                    "value",
                    ci,
                    rng,
                    n_resamples,
                    "x1000",
                    "min",
                )
            )
        row.append(
            estimate_cell(
                scale(arm_values(df, arm, VAL_TOTAL_VARIATION)), "value", ci, rng, n_resamples, "x1000", "min"
            )
        )
        steps = arm_values(df, arm, CONVERGENCE_STEP)
        row.append(estimate_cell(steps[np.isfinite(steps)], "steps", ci, rng, n_resamples, "steps", "min"))
        if not paper:
            row.append(rate_cell(steps))
        rows.append(row)
        counts[names[arm]] = int(steps.size)
        converged[names[arm]] = int(np.isfinite(steps).sum())

    candidates = [i for i, a in enumerate(arms) if a not in reference_arms]
    bold_best(rows, range(1, len(columns)), candidates)

    single = [k for k, v in counts.items() if v == 1]
    parts = [
        f"Per-arm mean ± 95 % CI over seeds; {n_text(counts)}"
        + (f" (single run, no CI: {', '.join(single)})" if single else "")
        + ".",
        f"CI: {ci_text(ci, n_resamples, rng_seed)}.",
        SCALE_TEXT + ".",
        CONVERGENCE_TEXT
        + "; Conv. Steps averaged over converged runs only"
        + (
            ""
            if converged == counts
            else " (converged: " + ", ".join(f"{k} {converged[k]}/{counts[k]}" for k in counts) + ")"
        )
        + ("; CR = fraction of runs that converged." if not paper else "."),
        "No significance test in this table (see the deltas table).",
        "Bold: best value per column"
        + (
            f" (reference arms not compared: {', '.join(names[a] for a in reference_arms)})." if reference_arms else "."
        ),
        *notes,
    ]
    return Table("Ablation (Table 2 style)", columns, rows, " ".join(parts))


# --- Table 6 style ----------------------------------------------------------------------------------
_DELTA_METRICS = (
    (TEST_THETA_L1, "Δ Test θ L1 % ↓", r"$\Delta$ Test $\theta_{\mathrm{synth}}$ $L_1$ \% $\downarrow$", True),
    (VAL_TOTAL_VARIATION, "Δ Val. Total Var. ↓", r"$\Delta$ Val.\ Total Var.\ $\downarrow$", True),
    (CONVERGENCE_STEP, "Δ Conv. Steps ↓", r"$\Delta$ Conv.\ Steps $\downarrow$", False),
)


def deltas_table(
    df: pd.DataFrame,
    arms: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    ci: str = "t",
    rng: np.random.Generator | None = None,
    n_resamples: int = stats.DEFAULT_RESAMPLES,
    rng_seed: int | None = None,
    paper: bool = False,
    drop_unpaired: bool = False,
    correction: str = "holm",
    test: str = "t",
    notes: Sequence[str] = (),
    reference: str | None = None,
) -> Table:
    """Table 6 style: each arm against the previous one in ``arms``, paired by seed; with ``reference``
    (Table 1's family: every loss against SCRAPL), every other arm against that one.

    Δ = mean(later − earlier) ± 95 % CI (``ci``, default Student-t) with the p of ``test``: the paired
    t-test (default, as the paper), Wilcoxon signed-rank, or ``"auto"`` (``stats.choose_paired_test``,
    autorank-style but on the paired differences: Shapiro–Wilk picks t or Wilcoxon per comparison; a
    Shapiro p column per metric
    unless ``paper``, the cells decided by Wilcoxon say so, and the caption lists them). Unless
    ``paper``: p adjusted across every test of the table (``correction``, default Holm), d_z and the
    Wilcoxon signed-rank p as extra columns. Convergence-step differences use only the seeds where
    both arms converged, and say how many pairs that is when fewer than all.

    Raises:
        ValueError: fewer than 2 arms; an arm without runs; seeds missing from one arm of a pair
            (unless ``drop_unpaired``, which the caption then reports).
    """
    stats.check_ci(ci, rng)
    if test not in stats.PAIRED_TESTS:
        raise ValueError(f"--test must be one of {', '.join(stats.PAIRED_TESTS)}, got {test!r}")
    if len(arms) < 2:
        raise ValueError("the deltas table compares pairs of arms: give at least 2 arms")
    if reference is not None and reference not in arms:
        raise ValueError(f"--reference {reference!r} is not one of the arms ({', '.join(arms)})")
    pairs = (
        list(zip(arms[:-1], arms[1:], strict=True))
        if reference is None
        else [(reference, a) for a in arms if a != reference]
    )
    require_columns(df, [m[0] for m in _DELTA_METRICS])
    df = select_arms(df, arms)
    names = arm_labels(arms, labels)

    columns = [Column("comparison", "Comparison", "Comparison", text=True)]
    for key, label, latex, _ in _DELTA_METRICS:
        columns.append(Column("delta_" + key, label, latex))
        if not paper:
            columns += [
                Column("p_holm_" + key, f"{correction.capitalize()} p", f"{correction.capitalize()} $p$"),
                Column("d_z_" + key, "d_z", "$d_z$"),
                Column("wilcoxon_p_" + key, "Wilcoxon p", "Wilcoxon $p$"),
            ]
            if test == "auto":
                columns.append(Column("shapiro_p_" + key, "Shapiro p", "Shapiro $p$"))

    results: list[list[tuple[stats.PairedResult | None, Pairing, int, stats.TestChoice | None]]] = []
    dropped_notes, pair_counts, partial_steps = [], {}, []
    for a, b in pairs:
        row_results = []
        for key, _, _, scaled in _DELTA_METRICS:
            pairing = pair_by_seed(
                df, a, b, key, drop_unpaired=drop_unpaired, allow_missing_values=(key == CONVERGENCE_STEP)
            )
            n_all = pairing.seeds.size
            if key == CONVERGENCE_STEP:
                pairing = pairing.both_finite()
                if pairing.seeds.size < n_all:
                    partial_steps.append(f"{names[b]} vs {names[a]} {pairing.seeds.size}/{n_all}")
            else:
                pair_counts[f"{names[b]} vs {names[a]}"] = n_all
                for arm, seeds in pairing.dropped.items():
                    dropped = f"seed(s) {', '.join(map(str, seeds))} of {names[arm]} (no run in the other arm)"
                    if dropped not in dropped_notes:
                        dropped_notes.append(dropped)
            result, choice = None, None
            if pairing.seeds.size:
                k = PAPER_SCALE if scaled else 1.0
                result = stats.paired_difference(pairing.a * k, pairing.b * k, ci, rng=rng, n_resamples=n_resamples)
                choice = stats.choose_paired_test(pairing.a, pairing.b, test)
            row_results.append((result, pairing, n_all, choice))
        results.append(row_results)

    flat_p = [c.p_value if c is not None else math.nan for row in results for _, _, _, c in row]
    by_wilcoxon = [
        f"{names[b]} vs {names[a]} ({_DELTA_METRICS[j][1]})"
        for (a, b), row in zip(pairs, results, strict=True)
        for j, (_, _, _, c) in enumerate(row)
        if test == "auto" and c is not None and c.test == "wilcoxon"
    ]
    adjusted = stats.adjust_pvalues(flat_p, correction)
    n_tests = int(np.isfinite(flat_p).sum())

    rows = []
    for i, (a, b) in enumerate(pairs):
        # the paper names a row by the technique it adds ("+ P-Adam"): with --paper, the later arm's label
        row = [Cell(names[b] if paper else f"{names[b]} vs {names[a]}", text=True)]
        for j, (_, _, _, scaled) in enumerate(_DELTA_METRICS):
            result, pairing, n_all, choice = results[i][j]
            p_adj = float(adjusted[i * len(_DELTA_METRICS) + j])
            notes_here = [f"{pairing.seeds.size}/{n_all} pairs"] if pairing.seeds.size < n_all else []
            if test == "auto" and choice is not None and choice.test == "wilcoxon":
                notes_here.append("Wilcoxon")
            note = "; ".join(notes_here) or None
            if result is None or choice is None:
                row.append(Cell("N/A", note=note, data={"n": 0, "n_total": n_all}))
                if not paper:
                    row += [Cell(NA)] * (4 if test == "auto" else 3)
                continue
            est = result.delta
            value = format_sig(est.mean, 3)
            half = format_sig(est.half_width, 2) if math.isfinite(est.half_width) else None
            data = {
                "mean": est.mean,
                "ci_half_width": est.half_width,
                "ci_low": est.low,
                "ci_high": est.high,
                "n": est.n,
                "n_total": n_all,
                "unit": "x1000" if scaled else "steps",
                "ci_method": ci,
                "p_value": choice.p_value,
                "test": stats.TEST_NAMES[choice.test],
                **({"shapiro_p": choice.shapiro_p} if test == "auto" else {}),
                "p_adjusted": p_adj,
                "correction": correction,
                "d_z": result.d_z,
                "wilcoxon_p": result.wilcoxon_p,
            }
            row.append(Cell(value, half, format_p(choice.p_value), note, data=data, rank=est.mean))
            if not paper:
                row += [Cell(format_p_bare(p_adj)), Cell(format_dz(result.d_z)), Cell(format_p_bare(result.wilcoxon_p))]
                if test == "auto":
                    row.append(Cell(format_p_bare(choice.shapiro_p)))
        rows.append(row)

    delta_cols = [k for k, c in enumerate(columns) if c.key.startswith("delta_")]
    bold_best(rows, delta_cols, range(len(rows)))

    if reference is None:
        against, row_arm, delta = "the previous one", "the later arm", "later − earlier"
    else:
        against, row_arm, delta = names[reference], "the arm", f"arm − {names[reference]}"
    parts = [
        f"Each arm against {against}"
        + (f" (row = {row_arm})" if paper else "")
        + f", paired by seed: Δ = mean({delta}) ± 95 % CI; "
        + n_text(pair_counts, "pairs per comparison")
        + ".",
        f"CI: {ci_text(ci, n_resamples, rng_seed)}.",
        _test_text(test, by_wilcoxon),
        SCALE_TEXT + ".",
        CONVERGENCE_TEXT
        + "; Δ Conv. Steps uses only the seeds where both arms converged"
        + (f" (pairs used: {', '.join(partial_steps)})." if partial_steps else " (all pairs here)."),
    ]
    if dropped_notes:
        parts.append("Unpaired runs dropped (--drop-unpaired): " + "; ".join(dropped_notes) + ".")
    if not paper:
        parts.append(
            f"{correction.capitalize()} p: {correction.capitalize()}-adjusted across the {n_tests} tests of this "
            "table (statsmodels multipletests); d_z = mean(d) / std(d, ddof=1); Wilcoxon p: two-sided "
            "signed-rank test of d (scipy.stats.wilcoxon)."
        )
    parts.append("Negative Δ = improvement; bold: largest improvement per column.")
    parts += list(notes)
    return Table("Paired differences (Table 6 style)", columns, rows, " ".join(parts))


def _test_text(test: str, by_wilcoxon: Sequence[str]) -> str:
    if test != "auto":
        return f"p: two-sided {stats.TEST_NAMES[test]}."
    return (
        f"p: two-sided {stats.TEST_NAMES['t']} where Shapiro–Wilk (scipy.stats.shapiro) does not reject "
        f"normality of the paired differences at {stats.NORMALITY_ALPHA:g}, else two-sided "
        f"{stats.TEST_NAMES['wilcoxon']}"
        + (f"; Wilcoxon for: {', '.join(by_wilcoxon)}" if by_wilcoxon else "; the t-test throughout")
        + " (Wilcoxon tests symmetry of the differences about 0, a median-type null, not the mean Δ shown; "
        "with 5 pairs or fewer it cannot reach p < 0.05)."
    )

"""The paper-style tables, built from a validated per-seed DataFrame (``analysis.data``).

* ``ablation_table``  — Table 2 style: one row per arm, mean ± CI (default ``paper-z``).
* ``deltas_table``    — Table 6 style: each arm against the previous one, paired by seed
  (default Student-t CI, paired t-test), plus Holm-adjusted p, d_z and Wilcoxon p unless ``paper``.
* ``theta_is_table``  — Tables 3/7 style: arms (uniform vs θ-IS) per configuration (preset) and per
  synth parameter: L1 ± CI, convergence rate and convergence steps.
* ``plan_seeds_table`` — seeds needed for 80 % power per comparison (``analysis.power``).

Each returns an ``analysis.render.Table`` whose caption states n, the CI method and the test.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis import power as power_fns
from analysis import stats
from analysis.data import Pairing, pair_by_seed, select_arms
from analysis.formatting import (
    NA, format_dz, format_int, format_p, format_p_bare, format_rate, format_sig, format_value_ci,
    scale,
)
from analysis.render import Cell, Column, Table
from analysis.schema import (
    ARM_COLUMN, CONVERGENCE_STEP, CONVERGENCE_THRESHOLD, PAPER_SCALE, PRESET_COLUMN, SEED_COLUMN,
    TEST_THETA_L1, VAL_TOTAL_VARIATION, per_param,
)

__all__ = ["ablation_table", "deltas_table", "theta_is_table", "plan_seeds_table", "arm_labels"]


# --- shared pieces ----------------------------------------------------------------------------------
def arm_labels(arms: Sequence[str], labels: Sequence[str] | None) -> dict[str, str]:
    """Display names of arms; ``labels`` (if given) aligns with ``arms``."""
    if labels is None:
        return {a: a for a in arms}
    if len(labels) != len(arms):
        raise ValueError(f"--labels has {len(labels)} entries but --arms has {len(arms)}")
    return dict(zip(arms, labels))


def _ci_text(method: str, n_resamples: int, seed: int | None) -> str:
    text = f"{method} ({stats.CI_DESCRIPTIONS[method]}"
    if method == "bootstrap":
        text += f", {n_resamples} resamples" + (f", generator seed {seed}" if seed is not None else "")
    return text + ")"


def _n_text(counts: dict[str, int], what: str = "runs per arm") -> str:
    values = set(counts.values())
    if len(values) == 1:
        return f"n = {values.pop()} {what}"
    return "n " + what.replace(" per ", " by ") + ": " + ", ".join(f"{k} {v}" for k, v in counts.items())


def _estimate_cell(values: np.ndarray, kind: str, method: str, rng, n_resamples: int,
                   unit: str, direction: str) -> Cell:
    """``mean ± CI`` of ``values`` (already in display units); "N/A" when empty."""
    if values.size == 0:
        return Cell("N/A", data={"n": 0, "unit": unit, "ci_method": method})
    est = stats.mean_ci(values, method, rng=rng, n_resamples=n_resamples)
    value, ci = format_value_ci(est.mean, est.half_width, kind)
    data = {"mean": est.mean, "ci_half_width": est.half_width, "ci_low": est.low, "ci_high": est.high,
            "n": est.n, "unit": unit, "ci_method": method if est.n > 1 else "none (single value)"}
    return Cell(value, ci, data=dict(data, _sort=est.mean, _dir=direction))


def _rate_cell(steps: np.ndarray) -> Cell:
    rate = stats.convergence_rate(steps)
    return Cell(format_rate(rate), data={"mean": rate, "n": int(steps.size), "unit": "fraction",
                                         "_sort": rate, "_dir": "max"})


def _bold_best(rows: list[list[Cell]], columns: Sequence[int], candidates: Sequence[int]) -> None:
    """Bold the best value per column among ``candidates`` rows (in place; ties all bold)."""
    if len(candidates) < 2:
        return
    for j in columns:
        scored = [(i, rows[i][j].data.get("_sort")) for i in candidates]
        scored = [(i, s) for i, s in scored if s is not None and math.isfinite(s)]
        if len(scored) < 2:
            continue
        direction = rows[scored[0][0]][j].data["_dir"]
        best = (min if direction == "min" else max)(s for _, s in scored)
        if all(s == best for _, s in scored):
            continue  # nothing stands out
        for i, s in scored:
            if s == best:
                c = rows[i][j]
                rows[i][j] = Cell(c.value, c.ci, c.p, c.note, True, c.text, c.data)


def _strip_private(rows: list[list[Cell]]) -> None:
    for row in rows:
        for j, c in enumerate(row):
            if any(k.startswith("_") for k in c.data):
                row[j] = Cell(c.value, c.ci, c.p, c.note, c.bold, c.text,
                              {k: v for k, v in c.data.items() if not k.startswith("_")})


def _values(df: pd.DataFrame, arm: str, column: str) -> np.ndarray:
    return df.loc[df[ARM_COLUMN] == arm, column].to_numpy(dtype=np.float64)


def _require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"the per-seed table has no column(s) {', '.join(missing)}")


def _require_values(df: pd.DataFrame, column: str, where: str) -> None:
    bad = df[df[column].isna()]
    if len(bad):
        runs = ", ".join(f"{a}/seed {s}" for a, s in zip(bad[ARM_COLUMN], bad[SEED_COLUMN]))
        raise ValueError(f"{column!r} has no value for {runs}{where}")


_L1_LABEL = "Test θ L1 % ↓"
_L1_LATEX = r"Test $\theta_{\mathrm{synth}}$ $L_1$ \% $\downarrow$"
_TV_LABEL = "Val. Total Var. ↓"
_TV_LATEX = r"Val.\ Total Var.\ $\downarrow$"
_STEPS_LABEL = "Conv. Steps ↓"
_STEPS_LATEX = r"Conv.\ Steps $\downarrow$"
_CR_LABEL = "CR ↑"
_CR_LATEX = r"CR $\uparrow$"
_CONVERGENCE_TEXT = (f"Convergence: first validation step with θ L1 ≤ {CONVERGENCE_THRESHOLD:g} "
                     "(the paper's “< 100 %”)")
_SCALE_TEXT = f"θ L1 and total variation × {PAPER_SCALE:g} (the paper's “%”)"


def _param_label(name: str) -> tuple[str, str]:
    escaped = name.replace("_", "\\_")
    return f"θ_{name}", rf"$\theta_{{\mathrm{{{escaped}}}}}$"


# --- Table 2 style ----------------------------------------------------------------------------------
def ablation_table(df: pd.DataFrame, arms: Sequence[str], *, labels: Sequence[str] | None = None,
                   ci: str = "paper-z", rng: np.random.Generator | None = None,
                   n_resamples: int = stats.DEFAULT_RESAMPLES, rng_seed: int | None = None,
                   paper: bool = False, reference_arms: Sequence[str] = (),
                   params: Sequence[str] = (), notes: Sequence[str] = ()) -> Table:
    """Table 2 style: one row per arm (in ``arms`` order), mean ± 95 % CI over its runs.

    Columns: test θ L1 (× 1000), optional per-parameter test L1 (``params``), validation TV
    (× 1000), convergence steps over converged runs, convergence rate (dropped when ``paper``).
    Arms with a single run print their value without a CI. Bold: the best value per column among
    the arms not in ``reference_arms``.
    """
    if ci == "bootstrap" and rng is None:
        raise ValueError("the bootstrap CI needs a numpy.random.Generator (rng=...)")
    stats._check_method(ci)
    _require_columns(df, [TEST_THETA_L1, VAL_TOTAL_VARIATION, CONVERGENCE_STEP]
                     + [per_param(TEST_THETA_L1, p) for p in params])
    df = select_arms(df, arms)
    names = arm_labels(arms, labels)
    bad_ref = [a for a in reference_arms if a not in arms]
    if bad_ref:
        raise ValueError(f"reference arm(s) {', '.join(bad_ref)} are not in --arms")
    for column in [TEST_THETA_L1, VAL_TOTAL_VARIATION] + [per_param(TEST_THETA_L1, p) for p in params]:
        _require_values(df, column, "")

    columns = [Column("arm", "Method", "Method", text=True),
               Column(TEST_THETA_L1, _L1_LABEL, _L1_LATEX)]
    for p in params:
        label, latex = _param_label(p)
        columns.append(Column(per_param(TEST_THETA_L1, p), f"Test {label} L1 % ↓",
                              rf"Test {latex} $L_1$ \% $\downarrow$"))
    columns += [Column(VAL_TOTAL_VARIATION, _TV_LABEL, _TV_LATEX),
                Column(CONVERGENCE_STEP, _STEPS_LABEL, _STEPS_LATEX)]
    if not paper:
        columns.append(Column("convergence_rate", _CR_LABEL, _CR_LATEX))

    rows, counts, converged = [], {}, {}
    for arm in arms:
        row = [Cell(names[arm], text=True)]
        row.append(_estimate_cell(scale(_values(df, arm, TEST_THETA_L1)), "value", ci, rng, n_resamples,
                                  "x1000", "min"))
        for p in params:
            row.append(_estimate_cell(scale(_values(df, arm, per_param(TEST_THETA_L1, p))), "value", ci,
                                      rng, n_resamples, "x1000", "min"))
        row.append(_estimate_cell(scale(_values(df, arm, VAL_TOTAL_VARIATION)), "value", ci, rng,
                                  n_resamples, "x1000", "min"))
        steps = _values(df, arm, CONVERGENCE_STEP)
        row.append(_estimate_cell(steps[np.isfinite(steps)], "steps", ci, rng, n_resamples, "steps", "min"))
        if not paper:
            row.append(_rate_cell(steps))
        rows.append(row)
        counts[names[arm]] = int(steps.size)
        converged[names[arm]] = int(np.isfinite(steps).sum())

    candidates = [i for i, a in enumerate(arms) if a not in reference_arms]
    _bold_best(rows, range(1, len(columns)), candidates)
    _strip_private(rows)

    single = [k for k, v in counts.items() if v == 1]
    parts = [f"Per-arm mean ± 95 % CI over seeds; {_n_text(counts)}"
             + (f" (single run, no CI: {', '.join(single)})" if single else "") + ".",
             f"CI: {_ci_text(ci, n_resamples, rng_seed)}.", _SCALE_TEXT + ".",
             _CONVERGENCE_TEXT + "; Conv. Steps averaged over converged runs only"
             + ("" if converged == counts else
                " (converged: " + ", ".join(f"{k} {converged[k]}/{counts[k]}" for k in counts) + ")")
             + ("; CR = fraction of runs that converged." if not paper else "."),
             "No significance test in this table (see the deltas table).",
             "Bold: best value per column"
             + (f" (reference arms not compared: {', '.join(names[a] for a in reference_arms)})."
                if reference_arms else "."),
             *notes]
    return Table("Ablation (Table 2 style)", columns, rows, " ".join(parts))


# --- Table 6 style ----------------------------------------------------------------------------------
_DELTA_METRICS = (
    (TEST_THETA_L1, "Δ Test θ L1 % ↓", r"$\Delta$ Test $\theta_{\mathrm{synth}}$ $L_1$ \% $\downarrow$", True),
    (VAL_TOTAL_VARIATION, "Δ Val. Total Var. ↓", r"$\Delta$ Val.\ Total Var.\ $\downarrow$", True),
    (CONVERGENCE_STEP, "Δ Conv. Steps ↓", r"$\Delta$ Conv.\ Steps $\downarrow$", False),
)


def deltas_table(df: pd.DataFrame, arms: Sequence[str], *, labels: Sequence[str] | None = None,
                 ci: str = "t", rng: np.random.Generator | None = None,
                 n_resamples: int = stats.DEFAULT_RESAMPLES, rng_seed: int | None = None,
                 paper: bool = False, drop_unpaired: bool = False, correction: str = "holm",
                 notes: Sequence[str] = ()) -> Table:
    """Table 6 style: each arm against the previous one in ``arms``, paired by seed.

    Δ = mean(later − earlier) ± 95 % CI (``ci``, default Student-t) with the paired t-test p. Unless
    ``paper``: p adjusted across every test of the table (``correction``, default Holm), d_z and the
    Wilcoxon signed-rank p as extra columns. Convergence-step differences use only the seeds where
    both arms converged, and say how many pairs that is when fewer than all.

    Raises:
        ValueError: fewer than 2 arms; an arm without runs; seeds missing from one arm of a pair
            (unless ``drop_unpaired``, which the caption then reports).
    """
    stats._check_method(ci)
    if ci == "bootstrap" and rng is None:
        raise ValueError("the bootstrap CI needs a numpy.random.Generator (rng=...)")
    if len(arms) < 2:
        raise ValueError("the deltas table compares consecutive arms: give at least 2 arms")
    _require_columns(df, [m[0] for m in _DELTA_METRICS])
    df = select_arms(df, arms)
    names = arm_labels(arms, labels)

    columns = [Column("comparison", "Comparison", "Comparison", text=True)]
    for key, label, latex, _ in _DELTA_METRICS:
        columns.append(Column("delta_" + key, label, latex))
        if not paper:
            columns += [Column("p_holm_" + key, f"{correction.capitalize()} p", f"{correction.capitalize()} $p$"),
                        Column("d_z_" + key, "d_z", "$d_z$"),
                        Column("wilcoxon_p_" + key, "Wilcoxon p", "Wilcoxon $p$")]

    results: list[list[tuple[stats.PairedResult | None, Pairing, int]]] = []
    dropped_notes, pair_counts, partial_steps = [], {}, []
    for a, b in zip(arms[:-1], arms[1:]):
        row_results = []
        for key, _, _, scaled in _DELTA_METRICS:
            pairing = pair_by_seed(df, a, b, key, drop_unpaired=drop_unpaired,
                                   allow_missing_values=(key == CONVERGENCE_STEP))
            n_all = pairing.seeds.size
            if key == CONVERGENCE_STEP:
                pairing = pairing.both_finite()
                if pairing.seeds.size < n_all:
                    partial_steps.append(f"{names[b]} vs {names[a]} {pairing.seeds.size}/{n_all}")
            else:
                pair_counts[f"{names[b]} vs {names[a]}"] = n_all
                for arm, seeds in pairing.dropped.items():
                    note = f"seed(s) {', '.join(map(str, seeds))} of {names[arm]} (no run in the other arm)"
                    if note not in dropped_notes:
                        dropped_notes.append(note)
            result = None
            if pairing.seeds.size:
                k = PAPER_SCALE if scaled else 1.0
                result = stats.paired_difference(pairing.a * k, pairing.b * k, ci, rng=rng,
                                                 n_resamples=n_resamples)
            row_results.append((result, pairing, n_all))
        results.append(row_results)

    flat_p = [r.p_value if r is not None else math.nan for row in results for r, _, _ in row]
    adjusted = stats.adjust_pvalues(flat_p, correction)
    n_tests = int(np.isfinite(flat_p).sum())

    rows = []
    for i, (a, b) in enumerate(zip(arms[:-1], arms[1:])):
        # the paper names a row by the technique it adds ("+ P-Adam"): with --paper, the later arm's label
        row = [Cell(names[b] if paper else f"{names[b]} vs {names[a]}", text=True)]
        for j, (key, _, _, scaled) in enumerate(_DELTA_METRICS):
            result, pairing, n_all = results[i][j]
            p_adj = float(adjusted[i * len(_DELTA_METRICS) + j])
            note = f"{pairing.seeds.size}/{n_all} pairs" if pairing.seeds.size < n_all else None
            if result is None:
                row.append(Cell("N/A", note=note, data={"n": 0, "n_total": n_all}))
                if not paper:
                    row += [Cell(NA), Cell(NA), Cell(NA)]
                continue
            est = result.delta
            value = format_sig(est.mean, 3)
            ci_text = format_sig(est.half_width, 2) if math.isfinite(est.half_width) else None
            data = {"mean": est.mean, "ci_half_width": est.half_width, "ci_low": est.low,
                    "ci_high": est.high, "n": est.n, "n_total": n_all,
                    "unit": "x1000" if scaled else "steps", "ci_method": ci,
                    "p_value": result.p_value, "test": "paired t-test (scipy.stats.ttest_rel)",
                    "p_adjusted": p_adj, "correction": correction, "d_z": result.d_z,
                    "wilcoxon_p": result.wilcoxon_p, "_sort": est.mean, "_dir": "min"}
            row.append(Cell(value, ci_text, format_p(result.p_value), note, data=data))
            if not paper:
                row += [Cell(format_p_bare(p_adj)), Cell(format_dz(result.d_z)),
                        Cell(format_p_bare(result.wilcoxon_p))]
        rows.append(row)

    delta_cols = [k for k, c in enumerate(columns) if c.key.startswith("delta_")]
    _bold_best(rows, delta_cols, range(len(rows)))
    _strip_private(rows)

    parts = ["Each arm against the previous one" + (" (row = the later arm)" if paper else "")
             + ", paired by seed: Δ = mean(later − earlier) ± 95 % CI; "
             + _n_text(pair_counts, "pairs per comparison") + ".",
             f"CI: {_ci_text(ci, n_resamples, rng_seed)}.",
             "p: two-sided paired t-test (scipy.stats.ttest_rel).", _SCALE_TEXT + ".",
             _CONVERGENCE_TEXT + "; Δ Conv. Steps uses only the seeds where both arms converged"
             + (f" (pairs used: {', '.join(partial_steps)})." if partial_steps else " (all pairs here).")]
    if dropped_notes:
        parts.append("Unpaired runs dropped (--drop-unpaired): " + "; ".join(dropped_notes) + ".")
    if not paper:
        parts.append(f"{correction.capitalize()} p: {correction.capitalize()}-adjusted across the {n_tests} t-tests of this table "
                     "(statsmodels multipletests); d_z = mean(d) / std(d, ddof=1); Wilcoxon p: two-sided "
                     "signed-rank test of d (scipy.stats.wilcoxon).")
    parts.append("Negative Δ = improvement; bold: largest improvement per column.")
    parts += list(notes)
    return Table("Paired differences (Table 6 style)", columns, rows, " ".join(parts))


# --- Tables 3/7 style -------------------------------------------------------------------------------
def theta_is_table(df: pd.DataFrame, arms: Sequence[str], params: Sequence[str], *,
                   labels: Sequence[str] | None = None, ci: str = "paper-z",
                   rng: np.random.Generator | None = None, n_resamples: int = stats.DEFAULT_RESAMPLES,
                   rng_seed: int | None = None, configs: Sequence[str] | None = None,
                   notes: Sequence[str] = ()) -> Table:
    """Tables 3/7 style: per configuration (``preset``) and arm, per synth parameter:
    test L1 ± CI (× 1000), convergence rate, convergence steps ± CI over converged runs.

    ``params`` are the names of the ``test_theta_l1_<name>`` / ``convergence_step_<name>`` columns.
    Bold: the better arm per configuration and column.
    """
    stats._check_method(ci)
    if ci == "bootstrap" and rng is None:
        raise ValueError("the bootstrap CI needs a numpy.random.Generator (rng=...)")
    if len(arms) < 2:
        raise ValueError("the θ-IS table compares arms: give at least 2 arms (e.g. uniform,theta_is)")
    if not params:
        raise ValueError("no synth parameters given (e.g. --params am,fm)")
    needed = [per_param(m, p) for p in params for m in (TEST_THETA_L1, CONVERGENCE_STEP)]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"per-parameter column(s) missing: {', '.join(missing)}; per-parameter test L1 "
                         f"columns present: {', '.join(c for c in df.columns if c.startswith(TEST_THETA_L1 + '_')) or 'none'}")
    names = arm_labels(arms, labels)
    has_config = PRESET_COLUMN in df.columns
    present = list(dict.fromkeys(df[PRESET_COLUMN])) if has_config else ["all runs"]
    configs = list(configs) if configs is not None else present
    absent = [c for c in configs if c not in present]
    if absent:
        raise ValueError(f"configuration(s) {', '.join(absent)} have no runs; present: {', '.join(present)}")

    columns = [Column(PRESET_COLUMN, "Configuration", "Configuration", text=True),
               Column(ARM_COLUMN, "π", r"$\pi$", text=True)]
    for p in params:
        label, latex = _param_label(p)
        columns += [Column(per_param(TEST_THETA_L1, p), f"{label} L1 % ↓", rf"{latex} $L_1$ \% $\downarrow$"),
                    Column("convergence_rate_" + p, f"{label} CR ↑", rf"{latex} CR $\uparrow$"),
                    Column(per_param(CONVERGENCE_STEP, p), f"{label} Conv. Steps ↓",
                           rf"{latex} Conv.\ Steps $\downarrow$")]
    rows, group_starts, counts = [], set(), {}
    for config in configs:
        sub = df[df[PRESET_COLUMN] == config] if has_config else df
        sub = select_arms(sub, arms, source=f"configuration {config!r}")
        for p in params:
            _require_values(sub, per_param(TEST_THETA_L1, p), f" in configuration {config!r}")
        group_starts.add(len(rows))
        block = []
        for arm in arms:
            row = [Cell(config, text=True), Cell(names[arm], text=True)]
            for p in params:
                row.append(_estimate_cell(scale(_values(sub, arm, per_param(TEST_THETA_L1, p))), "value",
                                          ci, rng, n_resamples, "x1000", "min"))
                steps = _values(sub, arm, per_param(CONVERGENCE_STEP, p))
                row.append(_rate_cell(steps))
                row.append(_estimate_cell(steps[np.isfinite(steps)], "steps", ci, rng, n_resamples,
                                          "steps", "min"))
            block.append(row)
            counts[f"{config}/{names[arm]}"] = int((sub[ARM_COLUMN] == arm).sum())
        _bold_best(block, range(2, len(columns)), range(len(block)))
        rows += block
    _strip_private(rows)
    parts = [f"Per configuration and arm: mean ± 95 % CI over seeds; {_n_text(counts, 'runs per arm and configuration')}.",
             f"CI: {_ci_text(ci, n_resamples, rng_seed)}.",
             f"Per-parameter test θ L1 × {PAPER_SCALE:g}.",
             f"CR = fraction of runs whose parameter curve reached L1 ≤ {CONVERGENCE_THRESHOLD:g}; Conv. Steps "
             "over converged runs only (N/A when none converged).",
             "No significance test in this table.", "Bold: better arm per configuration and column.", *notes]
    return Table("Uniform vs θ-IS per configuration (Tables 3/7 style)", columns, rows, " ".join(parts),
                 group_starts)


# --- seed planning ----------------------------------------------------------------------------------
_PLAN_METRICS = {TEST_THETA_L1: ("Test θ L1", True), VAL_TOTAL_VARIATION: ("Val. Total Var.", True),
                 CONVERGENCE_STEP: ("Conv. Steps", False)}


def plan_seeds_table(df: pd.DataFrame, arms: Sequence[str], *, labels: Sequence[str] | None = None,
                     metrics: Sequence[str] = tuple(_PLAN_METRICS), alpha: float = 0.05,
                     power: float = 0.8, correction: str = "holm", drop_unpaired: bool = False,
                     notes: Sequence[str] = ()) -> Table:
    """Seeds needed per comparison (consecutive arms, paired by seed) and metric, from a pilot.

    Uses the pilot's d_z and ``statsmodels`` ``TTestPower`` at the per-comparison α of
    ``analysis.power.adjusted_alpha`` (α / number of comparisons for Holm or Bonferroni).
    """
    if len(arms) < 2:
        raise ValueError("seed planning compares consecutive arms: give at least 2 arms")
    unknown = [m for m in metrics if m not in df.columns]
    if unknown:
        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and c != SEED_COLUMN]
        raise ValueError(f"unknown metric column(s) {', '.join(unknown)} in --metrics; numeric columns of the "
                         f"per-seed table: {', '.join(numeric) or 'none'}")
    df = select_arms(df, arms)
    names = arm_labels(arms, labels)
    comparisons = [(a, b, m) for a, b in zip(arms[:-1], arms[1:]) for m in metrics]
    level = power_fns.adjusted_alpha(alpha, len(comparisons), correction)
    columns = [Column("comparison", "Comparison", "Comparison", text=True),
               Column("metric", "Metric", "Metric", text=True),
               Column("n_pilot", "Pilot pairs", "Pilot pairs"),
               Column("delta", "Δ (pilot)", r"$\Delta$ (pilot)"),
               Column("d_z", "d_z", "$d_z$"),
               Column("power_pilot", "Power at pilot n", "Power at pilot $n$"),
               Column("seeds_needed", f"Seeds for {power:.0%} power", rf"Seeds for {power * 100:.0f}\% power")]
    rows = []
    for a, b, metric in comparisons:
        pairing = pair_by_seed(df, a, b, metric, drop_unpaired=drop_unpaired,
                               allow_missing_values=(metric.startswith(CONVERGENCE_STEP)))
        pairing = pairing.both_finite()
        label, scaled = _PLAN_METRICS.get(metric, (metric, False))
        k = PAPER_SCALE if scaled else 1.0
        d = (pairing.b - pairing.a) * k
        n = int(d.size)
        d_z = stats.cohens_dz(d) if n >= 2 else math.nan
        achieved = power_fns.achieved_power(d_z, n, level) if n >= 2 else math.nan
        needed = power_fns.seeds_needed(d_z, level, power)
        mean = float(d.mean()) if n else math.nan
        rows.append([Cell(f"{names[b]} vs {names[a]}", text=True), Cell(label, text=True),
                     Cell(str(n), data={"n": n}),
                     Cell(format_sig(mean, 3), data={"mean": mean, "unit": "x1000" if scaled else "steps"}),
                     Cell(format_dz(d_z), data={"d_z": d_z}),
                     Cell(format_rate(achieved) if math.isfinite(achieved) else NA, data={"power": achieved}),
                     Cell(format_int(needed) if needed is not None else NA,
                          data={"seeds_needed": needed if needed is not None else math.nan,
                                "alpha": level, "target_power": power})])
    parts = [f"Seeds needed to detect each pilot effect with a two-sided paired t-test at {power:.0%} power "
             f"(statsmodels TTestPower), at α = {alpha:g}"
             + (f" / {len(comparisons)} = {level:.4g} per comparison ({correction}: the strictest Holm step "
                "equals Bonferroni)" if correction != "none" else " per comparison (no correction)") + ".",
             "d_z = mean(d) / std(d, ddof=1) of the pilot's paired differences (later − earlier arm); "
             f"Δ in table units (θ L1 and TV × {PAPER_SCALE:g}, steps); "
             "Conv. Steps over the seeds where both arms converged.",
             f"n/a: no effect in the pilot (d_z = 0 or undefined) or more than {power_fns.MAX_SEEDS} seeds needed.",
             *notes]
    return Table("Seed planning", columns, rows, " ".join(parts))

"""Tables 3/7 style: uniform vs θ-IS path sampling per configuration (preset) and synth parameter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis import stats
from analysis.formatting import scale
from analysis.pairing import select_arms
from analysis.render import Cell, Column, Table
from analysis.schema import (
    ARM_COLUMN,
    CONVERGENCE_STEP,
    CONVERGENCE_THRESHOLD,
    PAPER_SCALE,
    PRESET_COLUMN,
    TEST_THETA_L1,
    per_param,
)
from analysis.table_parts import (
    arm_labels,
    arm_values,
    bold_best,
    ci_text,
    estimate_cell,
    n_text,
    param_label,
    rate_cell,
    require_values,
)

__all__ = ["theta_is_table"]


def theta_is_table(
    df: pd.DataFrame,
    arms: Sequence[str],
    params: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    ci: str = "paper-z",
    rng: np.random.Generator | None = None,
    n_resamples: int = stats.DEFAULT_RESAMPLES,
    rng_seed: int | None = None,
    configs: Sequence[str] | None = None,
    notes: Sequence[str] = (),
) -> Table:
    """Tables 3/7 style: per configuration (``preset``) and arm, per synth parameter:
    test L1 ± CI (× 1000), convergence rate, convergence steps ± CI over converged runs.

    ``params`` are the names of the ``test_theta_l1_<name>`` / ``convergence_step_<name>`` columns.
    Bold: the better arm per configuration and column.
    """
    stats.check_ci(ci, rng)
    if len(arms) < 2:
        raise ValueError("the θ-IS table compares arms: give at least 2 arms (e.g. uniform,theta_is)")
    if not params:
        raise ValueError("no synth parameters given (e.g. --params am,fm)")
    needed = [per_param(m, p) for p in params for m in (TEST_THETA_L1, CONVERGENCE_STEP)]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(
            f"per-parameter column(s) missing: {', '.join(missing)}; per-parameter test L1 "
            f"columns present: {', '.join(c for c in df.columns if c.startswith(TEST_THETA_L1 + '_')) or 'none'}"
        )
    names = arm_labels(arms, labels)
    has_config = PRESET_COLUMN in df.columns
    present = list(dict.fromkeys(df[PRESET_COLUMN])) if has_config else ["all runs"]
    configs = list(configs) if configs is not None else present
    absent = [c for c in configs if c not in present]
    if absent:
        raise ValueError(f"configuration(s) {', '.join(absent)} have no runs; present: {', '.join(present)}")

    columns = [
        Column(PRESET_COLUMN, "Configuration", "Configuration", text=True),
        Column(ARM_COLUMN, "π", r"$\pi$", text=True),
    ]
    for p in params:
        label, latex = param_label(p)
        columns += [
            Column(per_param(TEST_THETA_L1, p), f"{label} L1 % ↓", rf"{latex} $L_1$ \% $\downarrow$"),
            Column("convergence_rate_" + p, f"{label} CR ↑", rf"{latex} CR $\uparrow$"),
            Column(per_param(CONVERGENCE_STEP, p), f"{label} Conv. Steps ↓", rf"{latex} Conv.\ Steps $\downarrow$"),
        ]
    rows: list[list[Cell]] = []
    group_starts, counts = set(), {}
    for config in configs:
        sub = df[df[PRESET_COLUMN] == config] if has_config else df
        sub = select_arms(sub, arms, source=f"configuration {config!r}")
        for p in params:
            require_values(sub, per_param(TEST_THETA_L1, p), f" in configuration {config!r}")
        group_starts.add(len(rows))
        block = []
        for arm in arms:
            row = [Cell(config, text=True), Cell(names[arm], text=True)]
            for p in params:
                row.append(
                    estimate_cell(
                        scale(arm_values(sub, arm, per_param(TEST_THETA_L1, p))),
                        "value",
                        ci,
                        rng,
                        n_resamples,
                        "x1000",
                        "min",
                    )
                )
                steps = arm_values(sub, arm, per_param(CONVERGENCE_STEP, p))
                row.append(rate_cell(steps))
                row.append(estimate_cell(steps[np.isfinite(steps)], "steps", ci, rng, n_resamples, "steps", "min"))
            block.append(row)
            counts[f"{config}/{names[arm]}"] = int((sub[ARM_COLUMN] == arm).sum())
        bold_best(block, range(2, len(columns)), range(len(block)))
        rows += block
    parts = [
        f"Per configuration and arm: mean ± 95 % CI over seeds; {n_text(counts, 'runs per arm and configuration')}.",
        f"CI: {ci_text(ci, n_resamples, rng_seed)}.",
        f"Per-parameter test θ L1 × {PAPER_SCALE:g}.",
        f"CR = fraction of runs whose parameter curve reached L1 ≤ {CONVERGENCE_THRESHOLD:g}; Conv. Steps "
        "over converged runs only (N/A when none converged).",
        "No significance test in this table.",
        "Bold: better arm per configuration and column.",
        *notes,
    ]
    return Table("Uniform vs θ-IS per configuration (Tables 3/7 style)", columns, rows, " ".join(parts), group_starts)

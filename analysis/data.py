"""The per-seed table and the long validation-curve table as validated pandas DataFrames.

Per-seed table: one row per trained run, columns named as in ``analysis.schema`` (``arm``, ``seed``,
``test_theta_l1``, ``val_total_variation``, ``convergence_step`` + optional ``preset``, ``run_id``,
``steps_per_second``, ``test_theta_l1_<name>``, ``convergence_step_<name>``). Raw units; NaN in a
convergence column means "never converged".

Curve table (long): one row per (run, validation step): ``arm``, ``seed``, ``step``,
``val_theta_l1`` + optional ``preset``, ``elapsed_s``, ``val_theta_l1_<name>``.

Selecting arms and pairing runs by seed is ``analysis.pairing``. Every loader validates everything it
can and raises one ``ValueError`` listing each problem with the offending rows (CSV line numbers,
counting the header as line 1, or MLflow run ids).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import curves as curve_fns
from analysis.schema import (
    ARM_COLUMN,
    CONVERGENCE_STEP,
    CURVE_COLUMNS,
    ELAPSED_S,
    PRESET_COLUMN,
    REQUIRED_COLUMNS,
    RUN_ID_COLUMN,
    SEED_COLUMN,
    STEP_COLUMN,
    STEPS_PER_SECOND,
    TEST_THETA_L1,
    VAL_THETA_L1,
    VAL_TOTAL_VARIATION,
    per_param,
)

__all__ = [
    "MISSING_TOKENS",
    "load_per_seed_csv",
    "validate_per_seed",
    "load_curves_csv",
    "validate_curves",
    "per_seed_from_curves",
    "with_curve_summaries",
]

# Cells read as "no value" (e.g. a run that never converged).
MISSING_TOKENS = frozenset({"", "nan", "na", "n/a", "none", "null"})
_MAX_LISTED = 8


# --- helpers ----------------------------------------------------------------------------------------
def _where(df: pd.DataFrame, index: Iterable) -> str:
    """Human description of rows: MLflow run ids when known, else CSV line numbers."""
    index = list(index)
    if RUN_ID_COLUMN in df.columns:
        labels = [f"run {df.at[i, RUN_ID_COLUMN]}" for i in index]
    else:
        labels = [f"line {int(i) + 2}" for i in index]
    text = ", ".join(labels[:_MAX_LISTED])
    if len(labels) > _MAX_LISTED:
        text += f" and {len(labels) - _MAX_LISTED} more"
    return text


def _where_values(df: pd.DataFrame, index: Sequence, raw: pd.Series) -> str:
    index = list(index)
    parts = [f"{_where(df, [i])} ({raw.at[i]!r})" for i in index[:_MAX_LISTED]]
    if len(index) > _MAX_LISTED:
        parts.append(f"and {len(index) - _MAX_LISTED} more")
    return ", ".join(parts)


def _is_missing(raw: pd.Series) -> pd.Series:
    return raw.map(
        lambda v: v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip().lower() in MISSING_TOKENS
    ).astype(bool)


def _numeric(
    df: pd.DataFrame,
    column: str,
    problems: list[str],
    *,
    required: bool,
    minimum: float | None = None,
    integer: bool = False,
) -> pd.Series:
    """Parse ``df[column]`` as float64, recording problems (naming rows) instead of raising."""
    raw = df[column]
    missing = _is_missing(raw)
    text = raw.where(~missing, None)
    values = pd.to_numeric(text.map(lambda v: None if v is None else str(v).strip()), errors="coerce").astype("float64")
    bad = ~missing & values.isna()
    if bad.any():
        problems.append(f"column {column!r} has non-numeric values: {_where_values(df, df.index[bad], raw)}")
    if required and missing.any():
        problems.append(f"column {column!r} has missing values: {_where(df, df.index[missing])}")
    ok = values.notna()
    nonfinite = ok & ~np.isfinite(values.where(ok, 0.0))
    if nonfinite.any():
        problems.append(f"column {column!r} has non-finite values: {_where_values(df, df.index[nonfinite], raw)}")
    finite = ok & ~nonfinite
    if minimum is not None:
        low = finite & (values < minimum)
        if low.any():
            problems.append(f"column {column!r} has values below {minimum:g}: {_where_values(df, df.index[low], raw)}")
    if integer:
        frac = finite & (values != np.floor(values.where(finite, 0.0)))
        if frac.any():
            problems.append(f"column {column!r} has non-integer values: {_where_values(df, df.index[frac], raw)}")
    return values.where(finite, np.nan)


def _labels(df: pd.DataFrame, column: str, problems: list[str]) -> pd.Series:
    """A text column (arm, preset): only an empty cell is missing (an arm may be called "none")."""
    raw = df[column]
    missing = raw.map(lambda v: v is None or (isinstance(v, float) and math.isnan(v)) or not str(v).strip()).astype(
        bool
    )
    if missing.any():
        problems.append(f"column {column!r} has empty values: {_where(df, df.index[missing])}")
    return raw.map(lambda v: "" if v is None else str(v).strip()).astype(object)


def _raise(problems: list[str], source: str) -> None:
    if problems:
        if len(problems) == 1:
            raise ValueError(f"{source}: {problems[0]}")
        raise ValueError(f"{source}: {len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems))


def _read_csv(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty (expected a CSV header and one row per run)") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path}: not a valid CSV file: {exc}") from None


def _check_columns(df: pd.DataFrame, required: Sequence[str], source: str) -> None:
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(
            f"{source}: missing required column(s) {', '.join(repr(c) for c in missing)} "
            f"(columns present: {', '.join(map(str, df.columns)) or 'none'})"
        )
    dup = df.columns[df.columns.duplicated()].tolist()
    if dup:
        raise ValueError(f"{source}: duplicated column name(s) {dup}")


def _check_duplicates(df: pd.DataFrame, keys: list[str], problems: list[str], what: str) -> None:
    dup = df.duplicated(keys, keep=False)
    if not dup.any():
        return
    groups = df[dup].groupby(keys, sort=False).groups
    parts = []
    for key, idx in list(groups.items())[:_MAX_LISTED]:
        key = key if isinstance(key, tuple) else (key,)
        desc = ", ".join(f"{k}={v!r}" for k, v in zip(keys, key, strict=True))
        parts.append(f"({desc}) at {_where(df, idx)}")
    problems.append(f"duplicated {what}: " + "; ".join(parts))


def _key_columns(df: pd.DataFrame) -> list[str]:
    return ([PRESET_COLUMN] if PRESET_COLUMN in df.columns else []) + [ARM_COLUMN, SEED_COLUMN]


# --- per-seed table ---------------------------------------------------------------------------------
def load_per_seed_csv(path: str | Path, required: Sequence[str] = REQUIRED_COLUMNS) -> pd.DataFrame:
    """Read and validate a per-seed CSV (see ``validate_per_seed``)."""
    return validate_per_seed(_read_csv(path), source=str(path), required=required)


def validate_per_seed(
    raw: pd.DataFrame, source: str = "per-seed table", required: Sequence[str] = REQUIRED_COLUMNS
) -> pd.DataFrame:
    """Validate a per-seed table and return it typed.

    Returns a new DataFrame with the same index: ``arm``/``preset``/``run_id`` as str, ``seed`` as
    int64, every metric column as float64 (NaN = no value).

    Raises:
        ValueError: no rows, missing columns, non-numeric/negative/non-finite metrics, missing
            required values, non-integer seeds, empty arm names or duplicated (preset, arm, seed);
            the message names the offending rows.
    """
    base = [ARM_COLUMN, SEED_COLUMN]
    _check_columns(raw, list(dict.fromkeys([*base, *required])), source)
    if len(raw) == 0:
        raise ValueError(f"{source}: no runs (the table has a header but no rows)")
    problems: list[str] = []
    out = pd.DataFrame(index=raw.index)
    out[ARM_COLUMN] = _labels(raw, ARM_COLUMN, problems)
    if PRESET_COLUMN in raw.columns:
        out[PRESET_COLUMN] = _labels(raw, PRESET_COLUMN, problems)
    if RUN_ID_COLUMN in raw.columns:
        out[RUN_ID_COLUMN] = raw[RUN_ID_COLUMN].astype(str)
    n_before = len(problems)
    seeds = _numeric(raw, SEED_COLUMN, problems, required=True, integer=True)
    seeds_ok = len(problems) == n_before
    for column in raw.columns:
        if column in (ARM_COLUMN, SEED_COLUMN, PRESET_COLUMN, RUN_ID_COLUMN):
            continue
        is_required = column in required and column != CONVERGENCE_STEP
        if column in (TEST_THETA_L1, VAL_TOTAL_VARIATION) or column.startswith(TEST_THETA_L1 + "_"):
            out[column] = _numeric(raw, column, problems, required=is_required, minimum=0.0)
        elif column == CONVERGENCE_STEP or column.startswith(CONVERGENCE_STEP + "_"):
            out[column] = _numeric(raw, column, problems, required=False, minimum=0.0)
        elif column == STEPS_PER_SECOND:
            out[column] = _numeric(raw, column, problems, required=False, minimum=0.0)
        else:
            out[column] = raw[column]  # unknown extra column: kept as text
    out[SEED_COLUMN] = seeds.astype("int64") if seeds_ok else seeds
    if seeds_ok:
        _check_duplicates(out, _key_columns(out), problems, "(" + ", ".join(_key_columns(out)) + ") runs")
    _raise(problems, source)
    first = [c for c in (PRESET_COLUMN, ARM_COLUMN, SEED_COLUMN, RUN_ID_COLUMN) if c in out.columns]
    return out[first + [c for c in out.columns if c not in first]]


# --- curve table ------------------------------------------------------------------------------------
def load_curves_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a long validation-curve CSV (see ``validate_curves``)."""
    return validate_curves(_read_csv(path), source=str(path))


def validate_curves(raw: pd.DataFrame, source: str = "curve table") -> pd.DataFrame:
    """Validate a long curve table: one row per (preset, arm, seed, step), steps > 0.

    Returns a typed copy with the original row order and index (arms keep their order of first
    appearance; consumers order points by step themselves).
    """
    _check_columns(raw, CURVE_COLUMNS, source)
    if len(raw) == 0:
        raise ValueError(f"{source}: no curve points (the table has a header but no rows)")
    problems: list[str] = []
    out = pd.DataFrame(index=raw.index)
    out[ARM_COLUMN] = _labels(raw, ARM_COLUMN, problems)
    if PRESET_COLUMN in raw.columns:
        out[PRESET_COLUMN] = _labels(raw, PRESET_COLUMN, problems)
    if RUN_ID_COLUMN in raw.columns:
        out[RUN_ID_COLUMN] = raw[RUN_ID_COLUMN].astype(str)
    out[SEED_COLUMN] = _numeric(raw, SEED_COLUMN, problems, required=True, integer=True)
    out[STEP_COLUMN] = _numeric(raw, STEP_COLUMN, problems, required=True, integer=True)
    early = out[STEP_COLUMN] <= 0
    if early.any():
        problems.append(
            f"column {STEP_COLUMN!r} has steps <= 0 (a validation curve starts after step 0: the "
            f"step-0 sanity check is not part of it): {_where_values(raw, raw.index[early], raw[STEP_COLUMN])}"
        )
    out[VAL_THETA_L1] = _numeric(raw, VAL_THETA_L1, problems, required=True, minimum=0.0)
    for column in raw.columns:
        if column.startswith(VAL_THETA_L1 + "_") or column == ELAPSED_S:
            out[column] = _numeric(raw, column, problems, required=False, minimum=0.0)
    if not problems:
        out[SEED_COLUMN] = out[SEED_COLUMN].astype("int64")
        out[STEP_COLUMN] = out[STEP_COLUMN].astype("int64")
        keys = _key_columns(out) + [STEP_COLUMN]
        _check_duplicates(out, keys, problems, "curve points (" + ", ".join(keys) + ")")
    _raise(problems, source)
    return out


def _curve_params(curves: pd.DataFrame) -> list[str]:
    return [c[len(VAL_THETA_L1) + 1 :] for c in curves.columns if c.startswith(VAL_THETA_L1 + "_")]


def per_seed_from_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """TV and convergence step(s) of every run in a validated curve table.

    Returns one row per run: the key columns, ``val_total_variation``, ``convergence_step`` and a
    ``convergence_step_<name>`` per ``val_theta_l1_<name>`` curve column (NaN = never converged).
    """
    keys = _key_columns(curves)
    params = _curve_params(curves)
    rows = []
    for key, run in curves.groupby(keys, sort=False):
        run = run.sort_values(STEP_COLUMN)
        steps = run[STEP_COLUMN].to_numpy()
        summary = curve_fns.summarize_curve(steps, run[VAL_THETA_L1].to_numpy())
        row = dict(zip(keys, key, strict=True))
        row[VAL_TOTAL_VARIATION] = summary[VAL_TOTAL_VARIATION]
        row[CONVERGENCE_STEP] = summary.get(CONVERGENCE_STEP, math.nan)
        for name in params:
            sub = run[run[per_param(VAL_THETA_L1, name)].notna()]
            step = None
            if len(sub):
                step = curve_fns.convergence_step(
                    sub[STEP_COLUMN].to_numpy(), sub[per_param(VAL_THETA_L1, name)].to_numpy()
                )
            row[per_param(CONVERGENCE_STEP, name)] = math.nan if step is None else float(step)
        rows.append(row)
    out = pd.DataFrame(rows)
    out[SEED_COLUMN] = out[SEED_COLUMN].astype("int64")
    return out


def with_curve_summaries(per_seed: pd.DataFrame, curves: pd.DataFrame, source: str = "curves") -> pd.DataFrame:
    """Replace the per-seed TV/convergence columns by those recomputed from ``curves``.

    Every run must appear in both tables; a run present in only one is an error naming it.
    """
    summaries = per_seed_from_curves(curves)
    keys = _key_columns(per_seed)
    if _key_columns(summaries) != keys:
        raise ValueError(
            f"{source}: the per-seed table and the curves disagree on the "
            f"'{PRESET_COLUMN}' column (present in one only)"
        )
    left = per_seed[keys].apply(tuple, axis=1)
    right = set(summaries[keys].apply(tuple, axis=1))
    no_curve = [k for k in left if k not in right]
    no_run = sorted(right - set(left))
    problems = []
    if no_curve:
        problems.append(f"runs without a validation curve: {no_curve[:_MAX_LISTED]}")
    if no_run:
        problems.append(f"curves of runs absent from the per-seed table: {no_run[:_MAX_LISTED]}")
    _raise(problems, source)
    replaced = [c for c in summaries.columns if c not in keys]
    merged = per_seed.drop(columns=[c for c in replaced if c in per_seed.columns])
    merged = merged.reset_index().merge(summaries, on=keys, how="left").set_index("index")
    merged.index.name = None
    return merged

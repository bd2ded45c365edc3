"""TR-808 tables (paper §4.4, Table 4 and Appendix D Tables 8, 9): one row per method (arm), one
column per metric × setting (micro, meso), mean ± 95 % CI over runs (seeds × splits).

Input: a per-seed CSV with one row per run and the columns ``arm``, ``seed``, ``setting`` (``micro``
or ``meso``; or a ``preset`` column whose "-"-separated name contains one of those tokens, e.g.
``tr808-meso``) and any of the metric columns ``analysis.schema.TR808_METRICS``:

=============================  ==========  =====================================================
column                         table       meaning (``trainables.perceptual``)
=============================  ==========  =====================================================
``test_mss_log_lin``           4           MSS log + linear distance
``test_jtfs``                  4           full-JTFS distance (TR-808 settings, ρ = log1p)
``test_fad``                   4           Fréchet Audio Distance (needs a plugged embedding)
``test_transient_loudness_l1`` 8           A-weighted frame loudness L1 (dB), transient
``test_transient_centroid_l1`` 8           loudness-weighted spectral centroid L1 (mel)
``test_transient_flatness_l1`` 8           loudness-weighted spectral flatness L1 (dB)
``test_decay_*_l1``            9           the same three on the decay portion
=============================  ==========  =====================================================

An empty cell means "not computed for this run" (e.g. the paper's JTFS arm has 4 seeds, FAD needs
an embedding); a column absent from the file is left out of the table. The CI defaults to the
paper's (``paper-z``: 1.96·std(ddof=0)/√n); best (lowest) mean per column in bold among the arms not
listed as reference arms. Statistics, number formatting and rendering come from
``analysis.stats``, ``analysis.formatting`` and ``analysis.render`` (via the cell helpers of
``analysis.table_parts``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import stats
from analysis.data import MISSING_TOKENS, _read_csv, validate_per_seed
from analysis.pairing import arms_in_order, select_arms
from analysis.render import Cell, Column, Table
from analysis.schema import (
    ARM_COLUMN,
    PRESET_COLUMN,
    SEED_COLUMN,
    SETTING_COLUMN,
    SETTINGS,
    TEST_DECAY_CENTROID_L1,
    TEST_DECAY_FLATNESS_L1,
    TEST_DECAY_LOUDNESS_L1,
    TEST_FAD,
    TEST_JTFS,
    TEST_MSS_LOG_LIN,
    TEST_TRANSIENT_CENTROID_L1,
    TEST_TRANSIENT_FLATNESS_L1,
    TEST_TRANSIENT_LOUDNESS_L1,
    TR808_AUDIO_METRICS,
    TR808_DECAY_METRICS,
    TR808_METRICS,
    TR808_TRANSIENT_METRICS,
)
from analysis.table_parts import arm_labels, bold_best, ci_text, estimate_cell, n_text
from common.checks import check_positive

__all__ = ["GROUPS", "METRIC_LABELS", "load_tr808_csv", "validate_tr808", "tr808_table"]

GROUPS = {
    "audio": TR808_AUDIO_METRICS,
    "transient": TR808_TRANSIENT_METRICS,
    "decay": TR808_DECAY_METRICS,
    "all": TR808_METRICS,
}
"""``--group``: Table 4 (audio distances), Table 8 (transient), Table 9 (decay), or all nine."""

_TITLES = {
    "audio": "TR-808 audio distances (Table 4 style)",
    "transient": "TR-808 drum transient (Table 8 style)",
    "decay": "TR-808 drum decay (Table 9 style)",
    "all": "TR-808 evaluation (Tables 4, 8, 9 style)",
}

METRIC_LABELS: dict[str, tuple[str, str, str]] = {
    # column: (Markdown label, LaTeX label, unit)
    TEST_MSS_LOG_LIN: ("MSS Log. + Linear ↓", r"MSS Log.\ + Linear $\downarrow$", "distance"),
    TEST_JTFS: ("JTFS ↓", r"JTFS $\downarrow$", "distance"),
    TEST_FAD: ("FAD ↓", r"FAD $\downarrow$", "distance"),
    TEST_TRANSIENT_LOUDNESS_L1: ("Transient Loudness L1 ↓", r"Trans.\ Loudness $L_1$ $\downarrow$", "dB"),
    TEST_TRANSIENT_CENTROID_L1: (
        "Transient Spectral Centroid L1 ↓",
        r"Trans.\ Spectral Centroid $L_1$ $\downarrow$",
        "mel",
    ),
    TEST_TRANSIENT_FLATNESS_L1: (
        "Transient Spectral Flatness L1 ↓",
        r"Trans.\ Spectral Flatness $L_1$ $\downarrow$",
        "dB",
    ),
    TEST_DECAY_LOUDNESS_L1: ("Decay Loudness L1 ↓", r"Decay Loudness $L_1$ $\downarrow$", "dB"),
    TEST_DECAY_CENTROID_L1: ("Decay Spectral Centroid L1 ↓", r"Decay Spectral Centroid $L_1$ $\downarrow$", "mel"),
    TEST_DECAY_FLATNESS_L1: ("Decay Spectral Flatness L1 ↓", r"Decay Spectral Flatness $L_1$ $\downarrow$", "dB"),
}

_MAX_LISTED = 8


def _lines(index) -> str:
    labels = [f"line {int(i) + 2}" for i in index]
    text = ", ".join(labels[:_MAX_LISTED])
    return text + (f" and {len(labels) - _MAX_LISTED} more" if len(labels) > _MAX_LISTED else "")


def _settings_of(raw: pd.DataFrame, source: str) -> pd.Series:
    """The setting of every row: the ``setting`` column, else derived from ``preset``."""
    if SETTING_COLUMN in raw.columns:
        values = raw[SETTING_COLUMN].map(lambda v: str(v).strip().lower())
        bad = ~values.isin(SETTINGS)
        if bad.any():
            raise ValueError(
                f"{source}: column {SETTING_COLUMN!r} must be one of {', '.join(SETTINGS)}; "
                f"bad values at {_lines(raw.index[bad])} "
                f"({', '.join(repr(v) for v in raw.loc[bad, SETTING_COLUMN].head(3))})"
            )
        return values
    if PRESET_COLUMN in raw.columns:

        def from_preset(p) -> str | None:
            tokens = set(str(p).strip().lower().split("-"))
            found = [s for s in SETTINGS if s in tokens]
            return found[0] if len(found) == 1 else None

        values = raw[PRESET_COLUMN].map(from_preset)
        bad = values.isna()
        if bad.any():
            raise ValueError(
                f"{source}: no '{SETTING_COLUMN}' column, and the preset names at {_lines(raw.index[bad])} "
                f"({', '.join(repr(v) for v in raw.loc[bad, PRESET_COLUMN].head(3))}) contain "
                f"neither token {' nor '.join(SETTINGS)}"
            )
        return values
    raise ValueError(
        f"{source}: missing column {SETTING_COLUMN!r} (micro or meso per run), and no "
        f"'{PRESET_COLUMN}' column to derive it from"
    )


def validate_tr808(raw: pd.DataFrame, source: str = "TR-808 per-seed table") -> pd.DataFrame:
    """Validate a TR-808 per-seed table (module docstring) and return it typed.

    Returns a DataFrame with ``arm`` (str), ``seed`` (int64), ``setting`` (micro|meso) and every
    ``TR808_METRICS`` column present (float64, NaN = not computed). Within a setting, (preset,) arm,
    seed must be unique (``analysis.data.validate_per_seed``).

    Raises:
        ValueError: naming the offending CSV lines — missing columns, bad settings, non-numeric,
            non-finite or negative metric values, duplicated runs, no metric column at all.
    """
    if len(raw) == 0:
        raise ValueError(f"{source}: no runs (the table has a header but no rows)")
    settings = _settings_of(raw, source)
    metrics = [m for m in TR808_METRICS if m in raw.columns]
    if not metrics:
        raise ValueError(
            f"{source}: no TR-808 metric column; expected any of {', '.join(TR808_METRICS)} "
            f"(columns present: {', '.join(map(str, raw.columns))})"
        )
    parts = []
    for setting in SETTINGS:
        sub = raw[settings == setting]
        if len(sub):
            typed = validate_per_seed(
                sub.drop(columns=[c for c in metrics]),
                source=f"{source} ({setting} runs)",
                required=(ARM_COLUMN, SEED_COLUMN),
            )
            parts.append(typed[[c for c in (PRESET_COLUMN, ARM_COLUMN, SEED_COLUMN) if c in typed.columns]])
    out = pd.concat(parts).loc[raw.index]
    out[SETTING_COLUMN] = settings
    problems = []
    for m in metrics:
        text = raw[m].map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip())
        missing = text.str.lower().isin(MISSING_TOKENS)
        values = pd.to_numeric(text.where(~missing, None), errors="coerce").astype("float64")
        nonnum = ~missing & values.isna()
        if nonnum.any():
            problems.append(f"column {m!r} has non-numeric values at {_lines(raw.index[nonnum])}")
        bad = values.notna() & (~np.isfinite(values.fillna(0)) | (values < 0))
        if bad.any():
            problems.append(f"column {m!r} has non-finite or negative values at {_lines(raw.index[bad])}")
        out[m] = values
    if problems:
        raise ValueError(f"{source}: " + "; ".join(problems))
    return out


def load_tr808_csv(path: str | Path) -> pd.DataFrame:
    """Read and validate a TR-808 per-seed CSV (``validate_tr808``)."""
    return validate_tr808(_read_csv(path), source=str(path))


def tr808_table(
    df: pd.DataFrame,
    arms: Sequence[str] | None = None,
    *,
    group: str = "audio",
    metrics: Sequence[str] | None = None,
    settings: Sequence[str] = SETTINGS,
    labels: Sequence[str] | None = None,
    ci: str = "paper-z",
    rng: np.random.Generator | None = None,
    n_resamples: int = stats.DEFAULT_RESAMPLES,
    rng_seed: int | None = None,
    reference_arms: Sequence[str] = (),
    scale: float = 1.0,
    notes: Sequence[str] = (),
) -> Table:
    """Table 4 / 8 / 9 style from a validated TR-808 table (``validate_tr808``).

    Args:
        df: one row per run.
        arms: row order (default: order of appearance).
        group: ``"audio"`` (Table 4), ``"transient"`` (8), ``"decay"`` (9) or ``"all"``; the
            group's metrics absent from ``df`` are left out.
        metrics: explicit metric columns (overrides ``group``; each must be present).
        settings: column order of the settings (default micro, meso).
        ci: ``paper-z`` (default), ``t`` or ``bootstrap`` (needs ``rng``).
        reference_arms: shown but not competing for bold.
        scale: every value and CI is multiplied by this (the paper's printed magnitudes are not
            documented; 1 = raw units); stated in the caption when not 1.

    A cell is ``mean ± CI`` over the arm's runs in that setting with a value (noted ``k/n runs``
    when some runs have none); ``N/A`` when none has; a single value prints without a CI.
    """
    stats.check_ci(ci, rng)
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}, got {group!r}")
    check_positive("scale", scale)
    settings = list(settings)
    bad = [s for s in settings if s not in SETTINGS]
    if not settings or bad or len(set(settings)) != len(settings):
        raise ValueError(f"settings must be distinct values among {', '.join(SETTINGS)}, got {settings}")
    if metrics is None:
        metrics = [m for m in GROUPS[group] if m in df.columns and df[m].notna().any()]
        if not metrics:
            raise ValueError(f"the table has no value for any {group!r} metric ({', '.join(GROUPS[group])})")
    else:
        metrics = list(metrics)
        unknown = [m for m in metrics if m not in df.columns]
        if unknown:
            raise ValueError(
                f"metric column(s) {', '.join(unknown)} are not in the table "
                f"(present: {', '.join(m for m in TR808_METRICS if m in df.columns)})"
            )
    arms = list(arms) if arms is not None else arms_in_order(df)
    df = select_arms(df, arms)
    names = arm_labels(arms, labels)
    bad_ref = [a for a in reference_arms if a not in arms]
    if bad_ref:
        raise ValueError(f"reference arm(s) {', '.join(bad_ref)} are not among the arms")

    columns = [Column("arm", "Method", "Method", text=True)]
    for m in metrics:
        label, latex, _ = METRIC_LABELS.get(m, (m, m.replace("_", r"\_"), ""))
        for s in settings:
            columns.append(Column(f"{m}/{s}", f"{label} {s.capitalize()}", f"{latex} {s.capitalize()}"))
    rows, counts = [], {}
    for arm in arms:
        row = [Cell(names[arm], text=True)]
        for m in metrics:
            unit = METRIC_LABELS.get(m, ("", "", ""))[2] + (f" x{scale:g}" if scale != 1 else "")
            for s in settings:
                sel = (df[ARM_COLUMN] == arm) & (df[SETTING_COLUMN] == s)
                values = df.loc[sel, m].to_numpy(dtype=np.float64)
                n_runs = values.size
                values = values[np.isfinite(values)] * scale
                cell = estimate_cell(values, "value", ci, rng, n_resamples, unit, "min")
                if 0 < values.size < n_runs:  # some runs of this arm have no value for the metric
                    cell = replace(cell, note=f"{values.size}/{n_runs} runs")
                row.append(cell)
        for s in settings:
            counts[f"{names[arm]}/{s}"] = int(((df[ARM_COLUMN] == arm) & (df[SETTING_COLUMN] == s)).sum())
        rows.append(row)
    candidates = [i for i, a in enumerate(arms) if a not in reference_arms]
    bold_best(rows, range(1, len(columns)), candidates)

    parts = [
        f"Per method and setting (micro: aligned; meso: reconstruction randomly time-shifted, "
        f"up to ±2048 samples at paper scale): "
        f"mean ± 95 % CI over runs (seeds and dataset splits); {n_text(counts, 'runs per arm and setting')}.",
        f"CI: {ci_text(ci, n_resamples, rng_seed)}.",
        "Cells average only the runs with a value (e.g. JTFS on a subset of seeds); N/A: no value.",
        "Metrics on the test set (trainables.perceptual): loudness = A-weighted frame power (dB), "
        "centroid in mel, flatness in dB, transient = first 50 ms after the onset, decay = the rest; "
        "centroid and flatness L1 are loudness-weighted."
        if group != "audio" or any(m not in TR808_AUDIO_METRICS for m in metrics)
        else "Metrics on the test set (trainables.perceptual).",
        "Bold: lowest mean per column"
        + (f" among arms other than {', '.join(names[a] for a in reference_arms)}" if reference_arms else "")
        + ".",
    ]
    if scale != 1:
        parts.append(f"Values × {scale:g}.")
    parts += list(notes)
    return Table(_TITLES[group], columns, rows, " ".join(parts))

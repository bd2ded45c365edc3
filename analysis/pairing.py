"""Selecting runs and pairing them by seed: arms and presets of a per-seed table, seed-aligned value
pairs of two arms (``Pairing``) and one arm's curves on a common step grid.

Inputs are the validated DataFrames of ``analysis.data``; bad selections raise a ``ValueError`` that
names the arms, presets or seeds concerned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.schema import ARM_COLUMN, ELAPSED_S, PRESET_COLUMN, SEED_COLUMN, STEP_COLUMN, TEST_THETA_L1, VAL_THETA_L1

__all__ = ["select_arms", "select_preset", "arms_in_order", "param_names", "Pairing", "pair_by_seed", "curve_matrix"]


def arms_in_order(df: pd.DataFrame) -> list[str]:
    """The arms of a table in order of first appearance."""
    return list(dict.fromkeys(df[ARM_COLUMN]))


def select_preset(df: pd.DataFrame, preset: str | None, source: str = "runs") -> pd.DataFrame:
    """Restrict to one preset; required when the table holds several."""
    if PRESET_COLUMN not in df.columns:
        if preset is not None:
            raise ValueError(f"{source}: --preset {preset!r} given but the runs have no '{PRESET_COLUMN}' column")
        return df
    present = list(dict.fromkeys(df[PRESET_COLUMN]))
    if preset is None:
        if len(present) > 1:
            raise ValueError(
                f"{source}: the runs mix {len(present)} presets ({', '.join(present)}); choose one with --preset"
            )
        return df
    if preset not in present:
        raise ValueError(f"{source}: preset {preset!r} has no runs; presets present: {', '.join(present)}")
    return df[df[PRESET_COLUMN] == preset]


def select_arms(df: pd.DataFrame, arms: Sequence[str] | None, source: str = "runs") -> pd.DataFrame:
    """Keep the rows of ``arms`` (default: all, in order of appearance), ordered by arm.

    Raises:
        ValueError: an arm is named twice, or a named arm has no runs (the message lists the arms
            that are present).
    """
    if arms is None:
        arms = arms_in_order(df)
    arms = list(arms)
    if not arms:
        raise ValueError(f"{source}: no arms selected")
    dup = sorted({a for a in arms if arms.count(a) > 1})
    if dup:
        raise ValueError(f"arm(s) named more than once in --arms: {', '.join(dup)}")
    present = arms_in_order(df)
    absent = [a for a in arms if a not in present]
    if absent:
        raise ValueError(
            f"{source}: arm(s) {', '.join(repr(a) for a in absent)} named in --arms have no runs; "
            f"arms present: {', '.join(present) or 'none'}"
        )
    order = {a: i for i, a in enumerate(arms)}
    out = df[df[ARM_COLUMN].isin(arms)]
    return out.iloc[np.argsort(out[ARM_COLUMN].map(order).to_numpy(), kind="stable")]


def param_names(df: pd.DataFrame) -> list[str]:
    """Synth-parameter names with a ``test_theta_l1_<name>`` column, in column order."""
    return [c[len(TEST_THETA_L1) + 1 :] for c in df.columns if c.startswith(TEST_THETA_L1 + "_")]


@dataclass(frozen=True)
class Pairing:
    """Two arms' values of one column aligned by seed.

    ``seeds``, ``a`` and ``b`` have shape (n,); ``dropped`` maps an arm to the seeds it had but the
    other arm did not (non-empty only with ``drop_unpaired=True``).
    """

    arm_a: str
    arm_b: str
    column: str
    seeds: np.ndarray
    a: np.ndarray
    b: np.ndarray
    dropped: dict[str, list[int]] = field(default_factory=dict)

    def both_finite(self) -> Pairing:
        """The pairs where both values exist (e.g. both runs converged)."""
        ok = np.isfinite(self.a) & np.isfinite(self.b)
        return Pairing(self.arm_a, self.arm_b, self.column, self.seeds[ok], self.a[ok], self.b[ok], self.dropped)


def pair_by_seed(
    df: pd.DataFrame,
    arm_a: str,
    arm_b: str,
    column: str,
    *,
    drop_unpaired: bool = False,
    allow_missing_values: bool = False,
) -> Pairing:
    """Align ``column`` of ``arm_a`` and ``arm_b`` by seed.

    Raises:
        ValueError: an arm has seeds the other lacks (the seeds are named) unless ``drop_unpaired``;
            a value is missing and ``allow_missing_values`` is false; no common seed.
    """
    if column not in df.columns:
        raise ValueError(f"column {column!r} is not in the per-seed table")
    sa = df[df[ARM_COLUMN] == arm_a].set_index(SEED_COLUMN)[column]
    sb = df[df[ARM_COLUMN] == arm_b].set_index(SEED_COLUMN)[column]
    for arm, s in ((arm_a, sa), (arm_b, sb)):
        if s.index.has_duplicates:
            raise ValueError(
                f"arm {arm!r} has several runs for seed(s) "
                f"{sorted(set(s.index[s.index.duplicated()].tolist()))}; select one preset"
            )
    only_a = sorted(set(sa.index) - set(sb.index))
    only_b = sorted(set(sb.index) - set(sa.index))
    if (only_a or only_b) and not drop_unpaired:
        parts = []
        if only_a:
            parts.append(f"seed(s) {', '.join(map(str, only_a))} have a run in {arm_a!r} but not in {arm_b!r}")
        if only_b:
            parts.append(f"seed(s) {', '.join(map(str, only_b))} have a run in {arm_b!r} but not in {arm_a!r}")
        raise ValueError(
            f"arms {arm_a!r} and {arm_b!r} are not paired by seed: "
            + "; ".join(parts)
            + ". Pass --drop-unpaired (drop_unpaired=True) to use only the seeds both arms have."
        )
    common = sorted(set(sa.index) & set(sb.index))
    if not common:
        raise ValueError(f"arms {arm_a!r} and {arm_b!r} have no seed in common")
    a = sa.loc[common].to_numpy(dtype=np.float64)
    b = sb.loc[common].to_numpy(dtype=np.float64)
    if not allow_missing_values:
        for arm, v in ((arm_a, a), (arm_b, b)):
            bad = [s for s, x in zip(common, v, strict=True) if not np.isfinite(x)]
            if bad:
                raise ValueError(f"arm {arm!r} has no {column!r} value for seed(s) {', '.join(map(str, bad))}")
    dropped = {k: v for k, v in ((arm_a, only_a), (arm_b, only_b)) if v}
    return Pairing(arm_a, arm_b, column, np.asarray(common, dtype=np.int64), a, b, dropped)


def curve_matrix(
    curves: pd.DataFrame, arm: str, column: str = VAL_THETA_L1
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """One arm's curves on a common step grid.

    Returns:
        ``steps`` shape (n_points,), the union of the seeds' steps;
        ``elapsed`` shape (n_points,), the mean over seeds of ``elapsed_s`` at each step (None if
        the table has no such column);
        ``values`` shape (n_seeds, n_points), NaN where a seed has no point.
    """
    run = curves[curves[ARM_COLUMN] == arm]
    if run.empty:
        raise ValueError(f"arm {arm!r} has no curve points")
    if column not in run.columns:
        raise ValueError(f"the curves have no column {column!r}")
    values = run.pivot_table(index=SEED_COLUMN, columns=STEP_COLUMN, values=column, aggfunc="first", dropna=False)
    values = values.reindex(columns=sorted(run[STEP_COLUMN].unique()))
    steps = values.columns.to_numpy(dtype=np.int64)
    elapsed = None
    if ELAPSED_S in run.columns:
        elapsed = run.groupby(STEP_COLUMN)[ELAPSED_S].mean().reindex(steps).to_numpy(dtype=np.float64)
    return steps, elapsed, values.to_numpy(dtype=np.float64)

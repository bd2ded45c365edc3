"""Figures (matplotlib, Agg backend), kept apart from the statistics they draw.

* ``plot_curves``: validation θ L1 mean ± 95 % CI band per arm, against training steps and/or
  wall-clock time (paper Figures 2, 4, 5);
* ``plot_cost``: accuracy (test θ L1) against cost (seconds per training step) with CI whiskers on
  both axes (Figure 1);
* ``plot_paths``: the θ-IS probabilities as a ratio to uniform over the (rate, scale) grid (Figure 6);
* ``save_figure``: PNG and PDF, written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from analysis import stats
from analysis.output import atomic_paths
from analysis.pairing import curve_matrix, select_arms
from analysis.schema import (
    ARM_COLUMN,
    CONVERGENCE_THRESHOLD,
    ELAPSED_S,
    PAPER_SCALE,
    STEPS_PER_SECOND,
    TEST_THETA_L1,
    VAL_THETA_L1,
)
from analysis.table_parts import arm_labels
from analysis.theta_is import path_grid

__all__ = ["plot_curves", "plot_cost", "plot_paths", "save_figure", "X_AXES"]

X_AXES = ("step", "elapsed", "both")


def save_figure(fig: Figure, out: str | Path) -> list[Path]:
    """Save ``fig`` as ``<out>.png`` and ``<out>.pdf`` (a .png/.pdf suffix on ``out`` is dropped)."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix.lower() in (".png", ".pdf") else out
    targets = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")]
    try:
        with atomic_paths(targets) as (png, pdf):
            fig.savefig(png, format="png", dpi=150, bbox_inches="tight")
            fig.savefig(pdf, format="pdf", bbox_inches="tight")
    finally:
        plt.close(fig)
    return targets


def plot_curves(
    curves: pd.DataFrame,
    arms: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    x: str = "both",
    column: str = VAL_THETA_L1,
    ci: str = "t",
    title: str | None = None,
) -> Figure:
    """Validation curves: per arm the mean over seeds ± 95 % CI band (``ci``: ``t`` or ``paper-z``).

    Against wall-clock time the x position of a validation step is the mean over seeds of
    ``elapsed_s`` at that step. Values are drawn × 1000 with the convergence threshold dashed.
    """
    if x not in X_AXES:
        raise ValueError(f"unknown x axis {x!r}; expected one of {', '.join(X_AXES)}")
    curves = select_arms(curves, arms, source="curves")
    names = arm_labels(arms, labels)
    axes_kinds = ["step", "elapsed"] if x == "both" else [x]
    if "elapsed" in axes_kinds and (ELAPSED_S not in curves.columns or curves[ELAPSED_S].isna().all()):
        raise ValueError(f"the curves have no {ELAPSED_S!r} values: plot against steps (--x step)")
    fig, axes = plt.subplots(1, len(axes_kinds), figsize=(5.5 * len(axes_kinds), 4), squeeze=False)
    for ax, kind in zip(axes[0], axes_kinds, strict=True):
        for arm in arms:
            steps, elapsed, values = curve_matrix(curves, arm, column)
            mean, half, n = stats.curve_band(values * PAPER_SCALE, ci)
            xs = steps if kind == "step" else elapsed
            assert xs is not None  # the elapsed times were checked above
            ok = np.isfinite(xs) & np.isfinite(mean)
            label = f"{names[arm]} (n = {values.shape[0]})"
            (line,) = ax.plot(xs[ok], mean[ok], label=label, lw=1.5)
            band = ok & np.isfinite(half)
            if band.any():
                ax.fill_between(
                    xs[band], (mean - half)[band], (mean + half)[band], color=line.get_color(), alpha=0.2, lw=0
                )
        ax.axhline(CONVERGENCE_THRESHOLD * PAPER_SCALE, color="0.4", ls="--", lw=0.8)
        ax.set_xlabel("training step" if kind == "step" else "wall-clock time (s)")
        ax.set_ylabel(f"validation {column} × {PAPER_SCALE:g}")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title or f"Validation curves, mean ± 95 % CI ({ci}) over seeds", fontsize=10)
    fig.tight_layout()
    return fig


def plot_cost(
    per_seed: pd.DataFrame,
    arms: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    ci: str = "t",
    rng: np.random.Generator | None = None,
    relative_to: str | None = None,
    log_x: bool = False,
    title: str | None = None,
) -> Figure:
    """Accuracy vs cost: test θ L1 (× 1000) against seconds per step (1 / ``steps_per_second``),
    mean ± 95 % CI whiskers per arm. With ``relative_to`` both axes are divided by that arm's means
    (the paper rescales by its supervised P-loss model)."""
    if STEPS_PER_SECOND not in per_seed.columns:
        raise ValueError(f"the per-seed table has no {STEPS_PER_SECOND!r} column (the cost axis)")
    per_seed = select_arms(per_seed, arms)
    names = arm_labels(arms, labels)
    if relative_to is not None and relative_to not in arms:
        raise ValueError(f"--relative-to {relative_to!r} is not one of the plotted arms")
    points = {}
    for arm in arms:
        sub = per_seed[per_seed[ARM_COLUMN] == arm]
        sps_values = sub[STEPS_PER_SECOND].to_numpy(dtype=np.float64)
        bad = ~(np.isfinite(sps_values) & (sps_values > 0))
        if bad.any():
            raise ValueError(f"arm {arm!r}: {STEPS_PER_SECOND!r} is missing or zero for {int(bad.sum())} run(s)")
        cost = stats.mean_ci(1.0 / sps_values, ci, rng=rng)
        acc = stats.mean_ci(sub[TEST_THETA_L1].to_numpy(dtype=np.float64) * PAPER_SCALE, ci, rng=rng)
        points[arm] = (cost, acc)
    kx = points[relative_to][0].mean if relative_to else 1.0
    ky = points[relative_to][1].mean if relative_to else 1.0
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for arm, (cost, acc) in points.items():
        xerr = 0.0 if math.isnan(cost.half_width) else cost.half_width / kx
        yerr = 0.0 if math.isnan(acc.half_width) else acc.half_width / ky
        ax.errorbar(
            cost.mean / kx, acc.mean / ky, xerr=xerr, yerr=yerr, fmt="o", capsize=3, label=f"{names[arm]} (n = {acc.n})"
        )
    if log_x:
        ax.set_xscale("log")
    _label_points(ax, {names[arm]: (cost.mean / kx, acc.mean / ky) for arm, (cost, acc) in points.items()})
    rel = f" / {names[relative_to]}" if relative_to else ""
    ax.set_xlabel(f"seconds per training step{rel}")
    ax.set_ylabel(f"test θ L1{rel}" if relative_to else f"test θ L1 × {PAPER_SCALE:g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or f"Accuracy vs cost, mean ± 95 % CI ({ci})", fontsize=10)
    fig.tight_layout()
    return fig


def _label_points(ax, xy: dict[str, tuple[float, float]], fontsize: float = 8) -> None:
    """Name each point just above and right of it; a label that would overlap one already placed (a box of
    about its text's width and one line) moves up a line at a time, lowest points first."""
    ax.autoscale_view()
    to_pt = 72.0 / ax.figure.dpi
    line = fontsize + 2
    placed: list[tuple[float, float, float]] = []  # (left, bottom, width) of each label, in points
    for name, (x, y) in sorted(xy.items(), key=lambda item: item[1][1]):
        px, py = (float(v) * to_pt for v in ax.transData.transform((x, y)))
        width = 0.6 * fontsize * len(name)
        dy = 4.0
        while any(
            px + 4 < left + w and left < px + 4 + width and abs(py + dy - bottom) < line for left, bottom, w in placed
        ):
            dy += line
        placed.append((px + 4, py + dy, width))
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, dy), fontsize=fontsize)


def plot_paths(pi: np.ndarray, table: dict[str, np.ndarray], *, title: str | None = None) -> Figure:
    """θ-IS path probabilities as ``P · π`` (1 = uniform) over the (rate Hz, signed scale) grid."""
    rates, scales, ratio = path_grid(pi, table)
    finite = ratio[np.isfinite(ratio)]
    positive = finite[finite > 0]
    span = max(
        abs(math.log10(positive.max())) if positive.size else 1.0,
        abs(math.log10(positive.min())) if positive.size else 1.0,
        0.1,
    )
    span = min(span, 3.0)
    norm = LogNorm(vmin=10**-span, vmax=10**span)
    shown = np.where(np.isfinite(ratio), np.clip(ratio, 10**-span, 10**span), np.nan)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.35 * rates.size + 2), max(3.5, 0.3 * scales.size + 1.5)))
    mesh = ax.pcolormesh(np.ma.masked_invalid(shown), cmap="RdBu_r", norm=norm, edgecolors="0.85", lw=0.3)
    rr, cc = np.nonzero(np.isfinite(ratio))
    ax.plot(cc + 0.5, rr + 0.5, "k.", ms=2)
    ax.set_xticks(np.arange(rates.size) + 0.5, [f"{r:.3g}" for r in rates], rotation=90, fontsize=7)
    ax.set_yticks(np.arange(scales.size) + 0.5, [f"{s:.2g}" for s in scales], fontsize=7)
    ax.set_xlabel("temporal rate (Hz)")
    ax.set_ylabel("frequential scale (cycles/octave, signed by spin)")
    fig.colorbar(mesh, ax=ax, label="P · π (1 = uniform)")
    ax.set_title(title or f"θ-IS path probabilities (P = {pi.size}; max {finite.max():.3g}× uniform)", fontsize=10)
    fig.tight_layout()
    return fig

"""θ-IS path probabilities in AM/FM coordinates (paper Figure 6), with a synth's θ rectangle.

* ``plot_paths_amfm``: one configuration: a log-log scatter of the paths' (AM Hz, FM oct/s) centres
  (``analysis.theta_is_range.path_centres``) coloured by ``P · π`` (1 = uniform; diverging map
  centred at 1 on a log scale), spin +1 as ▲ and spin −1 as ▼ (nudged ±``SPIN_NUDGE_OCT`` octave
  along FM so both show: the two spins share a centre), black dots at the exact centres, the θ
  rectangle dashed and the paths counted inside it ringed, with the π mass inside vs the uniform
  share in the title;
* ``plot_paths_amfm_grid``: the four configurations side by side (2 × 2), one shared colour scale.

Spin-0 paths have no FM centre and are not drawn (their count is in the caption line).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from analysis.theta_is import validate_pi
from analysis.theta_is_range import RangeMass, check_range, path_centres, range_mass

__all__ = ["AmFmPanel", "plot_paths_amfm", "plot_paths_amfm_grid", "SPIN_NUDGE_OCT", "ratio_norm"]

SPIN_NUDGE_OCT = 0.15
"""Octaves by which spin +1 (up) and −1 (down) markers are moved along FM so both stay visible."""
MAX_SPAN_DECADES = 3.0
CMAP = "RdBu_r"


@dataclass(frozen=True)
class AmFmPanel:
    """One configuration of the grid figure: its name, π, path table and optional rectangle."""

    name: str
    pi: np.ndarray
    table: dict[str, np.ndarray]
    rect: tuple[tuple[float, float], tuple[float, float]] | None = None


def ratio_norm(*ratios: np.ndarray) -> LogNorm:
    """A log norm symmetric about 1 (``10**-s .. 10**s``) covering the positive ``P·π`` values
    (``s`` at least 0.1 and at most ``MAX_SPAN_DECADES`` decades)."""
    span = 0.1
    for r in ratios:
        pos = r[np.isfinite(r) & (r > 0)]
        if pos.size:
            span = max(span, abs(math.log10(pos.max())), abs(math.log10(pos.min())))
    span = min(span, MAX_SPAN_DECADES)
    return LogNorm(vmin=10**-span, vmax=10**span)


def _check_rect(rect) -> tuple[tuple[float, float], tuple[float, float]]:
    try:
        am, fm = rect
    except (TypeError, ValueError):
        raise ValueError(f"rect must be ((am_lo, am_hi), (fm_lo, fm_hi)), got {rect!r}") from None
    return check_range(am, "rect AM range (Hz)"), check_range(fm, "rect FM range (oct/s)")


def _draw(
    ax: Axes, pi: np.ndarray, table: dict[str, np.ndarray], rect, norm: LogNorm, widen_oct: float | None, q2: int | None
):
    """Draw one configuration on ``ax``; returns (the scatter for the colour bar, RangeMass or None)."""
    pi = validate_pi(pi)
    am, fm = path_centres(table)
    if am.size != pi.size:
        raise ValueError(f"π has {pi.size} probabilities but the path table has {am.size} paths")
    spin = np.asarray(table["spin"])[np.argsort(np.asarray(table["index"]), kind="stable")]
    ratio = pi * pi.size
    shown = np.clip(ratio, norm.vmin, norm.vmax)
    mappable = None
    for s, marker, label in ((1, "^", "spin +1 (upward sweep)"), (-1, "v", "spin −1 (downward sweep)")):
        sel = spin == s
        if not sel.any():
            continue
        y = fm[sel] * 2.0 ** (s * SPIN_NUDGE_OCT)
        mappable = ax.scatter(
            am[sel], y, c=shown[sel], cmap=CMAP, norm=norm, marker=marker, s=26, edgecolors="0.3", lw=0.3, label=label
        )
    banded = spin != 0
    ax.plot(am[banded], fm[banded], "k.", ms=1.5)
    mass = None
    if rect is not None:
        (a_lo, a_hi), (f_lo, f_hi) = _check_rect(rect)
        mass = range_mass(pi, table, am_hz=(a_lo, a_hi), fm_oct_per_s=(f_lo, f_hi), widen_oct=widen_oct, q2=q2)
        ax.add_patch(Rectangle((a_lo, f_lo), a_hi - a_lo, f_hi - f_lo, fill=False, ls="--", lw=1.2, ec="k"))
        if mass.k:
            ax.scatter(am[mass.inside], fm[mass.inside], s=110, facecolors="none", edgecolors="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("AM: temporal rate (Hz)")
    ax.set_ylabel("FM: rate / scale (oct/s)")
    ax.grid(alpha=0.3, which="both", lw=0.4)
    return mappable, mass


def _mass_line(mass: RangeMass | None) -> str:
    if mass is None:
        return ""
    if not mass.k:
        return f"no path inside (widened {mass.widen_oct:.3g} oct)"
    return f"π inside {mass.mass:.3g} vs uniform {mass.uniform_share:.3g} ({mass.k}/{mass.P} paths, ×{mass.ratio:.2f})"


def plot_paths_amfm(
    pi,
    table: dict[str, np.ndarray],
    rect=None,
    title: str | None = None,
    *,
    widen_oct: float | None = None,
    q2: int | None = None,
) -> Figure:
    """θ-IS ``P · π`` over the paths' (AM Hz, FM oct/s) centres, with ``rect = ((am_lo, am_hi),
    (fm_lo, fm_hi))`` dashed when given (then ``widen_oct`` or ``q2`` sets which paths count as
    inside, as in ``range_mass``)."""
    pi = validate_pi(pi)
    norm = ratio_norm(pi * pi.size)
    fig, ax = plt.subplots(figsize=(6.2, 4.8))
    try:
        mappable, mass = _draw(ax, pi, table, rect, norm, widen_oct, q2)
    except ValueError:
        plt.close(fig)
        raise
    if mappable is not None:
        fig.colorbar(mappable, ax=ax, label="P · π (1 = uniform)")
        ax.legend(fontsize=7, loc="lower right")
    n0 = int(np.sum(np.asarray(table["spin"]) == 0))
    head = title or f"θ-IS path probabilities in AM/FM (P = {pi.size}; {n0} spin-0 paths not shown)"
    line = _mass_line(mass)
    ax.set_title(head + (f"\n{line}" if line else ""), fontsize=9)
    fig.tight_layout()
    return fig


def plot_paths_amfm_grid(
    panels: Sequence[AmFmPanel], *, widen_oct: float | None = None, q2: int | None = None, title: str | None = None
) -> Figure:
    """The configurations (up to four, 2 × 2) with one shared colour scale, each with its rectangle."""
    if not 1 <= len(panels) <= 4:
        raise ValueError(f"plot_paths_amfm_grid takes 1 to 4 panels, got {len(panels)}")
    for p in panels:
        if not isinstance(p, AmFmPanel):
            raise ValueError(f"panels must be AmFmPanel, got {type(p).__name__}")
    norm = ratio_norm(*(validate_pi(p.pi, p.name) * np.asarray(p.pi).size for p in panels))
    ncols = 1 if len(panels) == 1 else 2
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.4 * nrows), squeeze=False, layout="constrained")
    mappable = None
    for ax, panel in zip(axes.flat, panels, strict=False):
        try:
            m, mass = _draw(ax, panel.pi, panel.table, panel.rect, norm, widen_oct, q2)
        except ValueError as exc:
            plt.close(fig)
            raise ValueError(f"panel {panel.name!r}: {exc}") from None
        mappable = mappable or m
        line = _mass_line(mass)
        ax.set_title(panel.name + (f"\n{line}" if line else ""), fontsize=9)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="lower right")
    if mappable is not None:
        fig.colorbar(mappable, ax=list(axes.flat), label="P · π (1 = uniform)", shrink=0.8)
    fig.suptitle(title or "θ-IS path probabilities in AM/FM, each synth's θ range dashed", fontsize=10)
    return fig

"""θ-IS π inside a synth's AM/FM rectangle (paper Figure 6, issue 16 item 3).

Each SCRAPL path (``n2``, ``n_fr``) is a joint wavelet: a temporal wavelet at ``rate_hz`` (the
amplitude-modulation rate it responds to) times a frequential wavelet of ``scale_cyc_per_oct``
cycles per octave along log-frequency. Its **AM centre** is ``rate_hz``. A spectro-temporal ridge
sweeping at ``v`` octaves per second has, along log-frequency, ``k`` cycles/octave for ``k·v`` Hz
along time, so the path's **FM centre** is ``rate_hz / scale_cyc_per_oct`` oct/s (a chirp sweeping
at that speed sits in its pass band; checked on our engine: a 1 oct/s chirp peaks on the paths with
rate/scale = 1). Spin-0 paths (the frequential low-pass, scale 0) have no FM centre and lie outside
every rectangle.

**Spin and sweep direction.** Our path engine (``trainables.core``, the released code's convention)
orders the first-order rows ``n1`` by decreasing frequency; then an **upward** chirp excites the
spin **+1** paths and a downward chirp the spin −1 paths — measured on the real signal's frames: an
upward 1 oct/s Gaussian-windowed chirp gives 14.3 vs 1e-6 (spin +1 vs −1) on the matching (n2,
|n_fr|) pair, and the mirror for a downward one. But the per-path loss keeps the reflect-padded
frames (notes §4 step 9) and the padding (N/2 on each side) holds a time-reversed copy of the
signal, so over a whole path output both spins see the chirp almost equally (18.9 vs 18.7). The
chirplet synth sweeps upward only, yet θ-IS is fitted on the padded outputs, so a rectangle counts
**both spins** by default (``spins=(-1, 1)``, FM compared as ``|FM|``); pass ``spins=(1,)`` for the
upward-sweep paths only.

**Widening.** The path centres sit on a discrete grid (``Q2`` temporal wavelets per octave), so a
rectangle narrower than the grid spacing may hold no centre. ``widen_oct`` widens both log axes by
that many octaves on each side; the default is half the AM (temporal) filter spacing,
``1 / (2·Q2)`` octave with ``Q2`` given by the caller (0.25 octave for the paper's Q2 = 2). FM
centres are ratios of two grids (rates at ``Q2``, scales at ``Q_fr`` per octave) and get the same
widening.

``range_mass`` returns a ``RangeMass``; ``range_table`` lays several out as a ``render.Table``
(Markdown / LaTeX / CSV through ``analysis.render``) and ``range_markdown`` writes the Markdown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from analysis.output import atomic_write_text
from analysis.render import Cell, Column, Table, to_markdown
from analysis.theta_is import validate_pi

__all__ = [
    "RangeMass",
    "RangeRow",
    "path_centres",
    "default_widen_oct",
    "infer_q2",
    "check_range",
    "parse_range",
    "range_mass",
    "range_table",
    "range_markdown",
]

_TABLE_KEYS = ("index", "spin", "rate_hz", "scale_cyc_per_oct")
_SPINS = (-1, 1)


def check_range(value, name: str) -> tuple[float, float]:
    """``(lo, hi)`` as floats: two finite numbers with ``0 < lo < hi``; a ValueError names ``name``."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lo, hi) of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi):
        raise ValueError(f"{name} must satisfy 0 < lo < hi (finite), got ({lo:g}, {hi:g})")
    return lo, hi


def parse_range(text: str, name: str) -> tuple[float, float]:
    """``"0.99,1.98"`` -> ``(0.99, 1.98)`` (checked as by ``check_range``; errors name ``name``)."""
    parts = [t.strip() for t in str(text).split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{name} expects LO,HI (two numbers separated by a comma), got {text!r}")
    try:
        pair = (float(parts[0]), float(parts[1]))
    except ValueError:
        raise ValueError(f"{name} expects LO,HI (two numbers separated by a comma), got {text!r}") from None
    return check_range(pair, name)


def default_widen_oct(q2: int) -> float:
    """Half the temporal (AM) filter spacing: ``1 / (2·Q2)`` octave."""
    if isinstance(q2, bool) or not isinstance(q2, (int, np.integer)) or q2 < 1:
        raise ValueError(f"q2 must be a positive integer (second-order wavelets per octave), got {q2!r}")
    return 1.0 / (2 * int(q2))


def infer_q2(table: dict[str, np.ndarray]) -> int:
    """``Q2`` read off the path table: the temporal rates of the constant-Q region step by
    ``2**(1/Q2)``, so ``Q2 = round(1 / median step in octaves)`` (the last, linear-region rate does
    not move the median). Needs at least three distinct rates."""
    _check_table(table)
    rates = np.unique(np.asarray(table["rate_hz"], dtype=np.float64))
    if rates.size < 3:
        raise ValueError(f"cannot infer Q2 from {rates.size} distinct rate(s): give q2 or widen_oct")
    step = float(np.median(np.diff(np.log2(rates))))
    q2 = round(1.0 / step)
    if q2 < 1 or abs(1.0 / q2 - step) > 0.05 / q2:
        raise ValueError(f"the rates step by {step:.3g} octave, not 1/Q2 for an integer Q2: give q2 or widen_oct")
    return int(q2)


def _check_table(table) -> None:
    if not isinstance(table, dict):
        raise ValueError("table must be the dict of arrays from analysis.theta_is.load_path_table")
    missing = [k for k in _TABLE_KEYS if k not in table]
    if missing:
        raise ValueError(f"table lacks the key(s) {', '.join(missing)}")
    sizes = {np.asarray(table[k]).shape for k in _TABLE_KEYS}
    if len(sizes) != 1 or len(next(iter(sizes))) != 1:
        raise ValueError(f"table arrays must all have the same shape (P,), got shapes {sorted(sizes)}")


def path_centres(table: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each path's AM centre (Hz, shape (P,)) and FM centre (oct/s, shape (P,), ``|rate / scale|``,
    NaN for spin-0 paths), in index order."""
    _check_table(table)
    order = np.argsort(np.asarray(table["index"]), kind="stable")
    rate = np.asarray(table["rate_hz"], dtype=np.float64)[order]
    scale = np.asarray(table["scale_cyc_per_oct"], dtype=np.float64)[order]
    spin = np.asarray(table["spin"])[order]
    fm = np.full(rate.shape, np.nan)
    banded = (spin != 0) & (scale > 0)
    fm[banded] = rate[banded] / scale[banded]
    return rate, fm


@dataclass(frozen=True)
class RangeMass:
    """π inside one AM/FM rectangle.

    ``inside``: path indices (into π) whose centres fall in the (widened) rectangle; ``k`` their
    count; ``mass`` = Σ π inside; ``uniform_share`` = k/P; ``ratio`` = mass / (k/P), which is also
    the mean of P·π over the paths inside (``mean_ratio_inside``); ``mean_ratio_outside`` the mean
    of P·π over the other paths (spin-0 paths included). NaN where the set is empty.
    """

    am_hz: tuple[float, float]
    fm_oct_per_s: tuple[float, float]
    widen_oct: float
    spins: tuple[int, ...]
    P: int
    inside: np.ndarray = field(repr=False)
    mass: float

    @property
    def k(self) -> int:
        return int(self.inside.size)

    @property
    def uniform_share(self) -> float:
        return self.k / self.P

    @property
    def ratio(self) -> float:
        return self.mass / self.uniform_share if self.k else math.nan

    @property
    def mean_ratio_inside(self) -> float:
        return self.P * self.mass / self.k if self.k else math.nan

    @property
    def mean_ratio_outside(self) -> float:
        rest = self.P - self.k
        return self.P * (1.0 - self.mass) / rest if rest else math.nan

    def as_dict(self) -> dict:
        return {
            "am_hz": list(self.am_hz),
            "fm_oct_per_s": list(self.fm_oct_per_s),
            "widen_oct": self.widen_oct,
            "spins": list(self.spins),
            "P": self.P,
            "k": self.k,
            "inside": self.inside.tolist(),
            "mass": self.mass,
            "uniform_share": self.uniform_share,
            "ratio": self.ratio,
            "mean_ratio_inside": self.mean_ratio_inside,
            "mean_ratio_outside": self.mean_ratio_outside,
        }


def range_mass(
    pi,
    table: dict[str, np.ndarray],
    *,
    am_hz,
    fm_oct_per_s,
    widen_oct: float | None = None,
    q2: int | None = None,
    spins: Sequence[int] = _SPINS,
) -> RangeMass:
    """The π mass of the paths whose AM and FM centres lie in ``am_hz`` × ``fm_oct_per_s``.

    Args:
        pi: shape (P,), a probability vector.
        table: from ``analysis.theta_is.load_path_table`` (P paths).
        am_hz, fm_oct_per_s: ``(lo, hi)`` with ``0 < lo < hi``.
        widen_oct: octaves added on both sides of both log axes (>= 0); when None, ``q2`` must be
            given and the widening is ``1 / (2·q2)`` (half the AM filter spacing).
        q2: second-order wavelets per octave of the JTFS (for the default widening).
        spins: which spins count (a non-empty subset of {-1, 1}; default both, see the module doc).
    """
    pi = validate_pi(pi)
    am = check_range(am_hz, "am_hz")
    fm = check_range(fm_oct_per_s, "fm_oct_per_s")
    if widen_oct is None:
        if q2 is None:
            raise ValueError("give widen_oct (octaves) or q2 (for the default 1/(2·q2) octave)")
        widen = default_widen_oct(q2)
    else:
        if isinstance(widen_oct, bool) or not isinstance(widen_oct, (int, float)) or not math.isfinite(widen_oct):
            raise ValueError(f"widen_oct must be a finite number of octaves, got {widen_oct!r}")
        if widen_oct < 0:
            raise ValueError(f"widen_oct must be >= 0 octaves, got {widen_oct:g}")
        widen = float(widen_oct)
    spin_set = tuple(sorted({int(s) for s in spins})) if not isinstance(spins, (int, str)) else ()
    if not spin_set or any(s not in _SPINS for s in spin_set):
        raise ValueError(f"spins must be a non-empty subset of (-1, 1), got {spins!r}")
    rate, fm_centre = path_centres(table)
    if rate.size != pi.size:
        raise ValueError(f"π has {pi.size} probabilities but the path table has {rate.size} paths")
    spin = np.asarray(table["spin"])[np.argsort(np.asarray(table["index"]), kind="stable")]
    grow = 2.0**widen
    with np.errstate(invalid="ignore"):
        ok = (
            np.isin(spin, spin_set)
            & (rate >= am[0] / grow)
            & (rate <= am[1] * grow)
            & (fm_centre >= fm[0] / grow)
            & (fm_centre <= fm[1] * grow)
        )
    inside = np.flatnonzero(ok)
    return RangeMass(am, fm, widen, spin_set, int(pi.size), inside, float(pi[inside].sum()))


@dataclass(frozen=True)
class RangeRow:
    """One configuration of a range table: its name, π, path table and rectangle."""

    config: str
    pi: np.ndarray
    table: dict[str, np.ndarray]
    am_hz: tuple[float, float]
    fm_oct_per_s: tuple[float, float]


def _num(x: float, digits: int = 3) -> str:
    return "–" if not math.isfinite(x) else f"{x:.{digits}g}"


def range_table(
    rows: Sequence[RangeRow], *, widen_oct: float | None = None, q2: int | None = None, spins: Sequence[int] = _SPINS
) -> Table:
    """One line per configuration: AM range, FM range, paths inside k/P, π mass inside, uniform share,
    ratio mass/(k/P), mean P·π inside and outside (``range_mass`` with the same widening for all)."""
    if not rows:
        raise ValueError("range_table needs at least one row")
    columns = [
        Column("config", "Config", "Config", text=True),
        Column("am_hz", "AM range (Hz)", "AM range (Hz)", text=True),
        Column("fm_oct_per_s", "FM range (oct/s)", "FM range (oct/s)", text=True),
        Column("k", "Paths inside k/P", "Paths inside $k/P$"),
        Column("mass", "π mass inside", r"$\pi$ mass inside"),
        Column("uniform_share", "Uniform share k/P", "Uniform share $k/P$"),
        Column("ratio", "Ratio mass/(k/P)", "Ratio mass$/(k/P)$"),
        Column("mean_inside", "Mean P·π inside", r"Mean $P\pi$ inside"),
        Column("mean_outside", "Mean P·π outside", r"Mean $P\pi$ outside"),
    ]
    body = []
    results = []
    for row in rows:
        if not isinstance(row, RangeRow):
            raise ValueError(f"range_table rows must be RangeRow, got {type(row).__name__}")
        try:
            r = range_mass(
                row.pi,
                row.table,
                am_hz=row.am_hz,
                fm_oct_per_s=row.fm_oct_per_s,
                widen_oct=widen_oct,
                q2=q2,
                spins=spins,
            )
        except ValueError as exc:
            raise ValueError(f"config {row.config!r}: {exc}") from None
        results.append(r)
        body.append(
            [
                Cell(row.config, text=True),
                Cell(f"{r.am_hz[0]:.4g}–{r.am_hz[1]:.4g}", text=True),
                Cell(f"{r.fm_oct_per_s[0]:.4g}–{r.fm_oct_per_s[1]:.4g}", text=True),
                Cell(f"{r.k}/{r.P}", data={"k": r.k, "P": r.P}),
                Cell(_num(r.mass), data={"mass": r.mass}),
                Cell(_num(r.uniform_share), data={"uniform_share": r.uniform_share}),
                Cell(_num(r.ratio), data={"ratio": r.ratio}),
                Cell(_num(r.mean_ratio_inside), data={"mean_inside": r.mean_ratio_inside}),
                Cell(_num(r.mean_ratio_outside), data={"mean_outside": r.mean_ratio_outside}),
            ]
        )
    w = results[0].widen_oct
    spin_text = "both spins" if results[0].spins == _SPINS else f"spin {results[0].spins[0]:+d} only"
    caption = (
        "θ-IS probability mass of the paths whose AM centre (rate, Hz) and FM centre (rate/scale, oct/s) "
        f"lie in each configuration's θ range, both log axes widened by {w:.3g} octave on each side; "
        f"{spin_text}; spin-0 paths are outside. Ratio > 1: the range gets more than uniform probability."
    )
    return Table("θ-IS π mass inside the synth's AM/FM range", columns, body, caption)


def range_markdown(
    rows: Sequence[RangeRow],
    out: str | Path | None = None,
    *,
    widen_oct: float | None = None,
    q2: int | None = None,
    spins: Sequence[int] = _SPINS,
) -> str:
    """The Markdown of ``range_table``; written atomically to ``out`` when given."""
    text = to_markdown(range_table(rows, widen_oct=widen_oct, q2=q2, spins=spins))
    if out is not None:
        atomic_write_text(out, text)
    return text

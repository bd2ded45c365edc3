"""Two-sided group-sequential boundaries from a Lan–DeMets α-spending function.

A test statistic ``Z_k`` observed at information fractions ``0 < t_1 < … < t_K ≤ 1`` behaves, under
H0, like Brownian motion on the information scale: ``Cov(Z_i, Z_j) = sqrt(t_i / t_j)`` for i ≤ j.
An α-spending function ``α(t)`` (increasing, ``α(0) = 0``, ``α(1) = α``) fixes how much type-I error
may be spent by information ``t``; the boundary ``c_k`` of look k solves

    P_H0(|Z_1| < c_1, …, |Z_{k-1}| < c_{k-1}, |Z_k| ≥ c_k) = α(t_k) − α(t_{k-1}),

so the overall two-sided type-I error is ``α(t_K)`` whatever the number and timing of the looks
(Lan & DeMets 1983, Biometrika 70:659–663). The probabilities are computed with the
Armitage–McPherson–Rowe recursion (Armitage, McPherson & Rowe 1969, JRSS A 132:235–244; Jennison &
Turnbull 2000, *Group Sequential Methods with Applications to Clinical Trials*, ch. 19): the density
of the score ``S_k = Z_k sqrt(t_k)`` on the continuation region is carried from look to look on a grid
(composite Simpson rule), and each ``c_k`` is found with ``scipy.optimize.brentq``.

Spending functions (``SPENDING``):

* ``obf``    — O'Brien–Fleming type, ``2 − 2 Φ(z_{1−α/2} / sqrt(t))``: almost nothing early, close to the
  fixed-sample critical value at the end;
* ``pocock`` — Pocock type, ``α ln(1 + (e − 1) t)``;
* ``hsd:G``  — Hwang, Shih & DeCani (1990) family, ``α (1 − e^{−G t}) / (1 − e^{−G})`` (G ≠ 0; G = −4
  is close to O'Brien–Fleming, G = 1 to Pocock).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache, partial

import numpy as np
from scipy import optimize
from scipy.stats import norm

__all__ = ["SPENDING", "spent", "boundaries", "crossing_probabilities", "check_spending"]

SPENDING = ("obf", "pocock", "hsd:G")
_GRID = 801  # grid points of the continuation region per look (odd, for Simpson's rule)
_MAX_Z = 40.0  # a boundary that spends (numerically) nothing


def check_spending(name: str) -> None:
    """Refuse an unknown spending-function name (``obf``, ``pocock`` or ``hsd:<gamma>``)."""
    if name in ("obf", "pocock"):
        return
    if name.startswith("hsd:"):
        try:
            gamma = float(name[4:])
        except ValueError:
            gamma = math.nan
        if math.isfinite(gamma) and gamma != 0:
            return
    raise ValueError(
        f"unknown spending function {name!r}; expected obf, pocock or hsd:<gamma> (gamma != 0), e.g. hsd:-4"
    )


def spent(t: float, alpha: float, spending: str = "obf") -> float:
    """Type-I error spent by information fraction ``t`` (clipped to [0, 1]) at two-sided level ``alpha``."""
    check_spending(spending)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    t = min(max(float(t), 0.0), 1.0)
    if t == 0:
        return 0.0
    if spending == "obf":
        return float(2.0 * norm.sf(norm.isf(alpha / 2.0) / math.sqrt(t)))
    if spending == "pocock":
        return alpha * math.log(1.0 + (math.e - 1.0) * t)
    gamma = float(spending[4:])
    return alpha * (1.0 - math.exp(-gamma * t)) / (1.0 - math.exp(-gamma))


def _simpson_weights(n: int, h: float) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w * h / 3.0


def _exit_gap(c: float, *, grid: np.ndarray, mass: np.ndarray, t: float, dt: float, target: float) -> float:
    """``_exit_probability(...) - target``: the root in ``c`` is the boundary that spends ``target``."""
    return _exit_probability(grid, mass, c, t, dt) - target


def _exit_probability(grid: np.ndarray, mass: np.ndarray, c: float, t: float, dt: float) -> float:
    """P(|S_k| ≥ c sqrt(t) and continued so far); ``mass`` = density × quadrature weight on ``grid``."""
    b, sd = c * math.sqrt(t), math.sqrt(dt)
    return float(mass @ (norm.sf((b - grid) / sd) + norm.cdf((-b - grid) / sd)))


@lru_cache(maxsize=4096)
def _boundaries(times: tuple[float, ...], alpha: float, spending: str) -> tuple[float, ...]:
    out: list[float] = []
    grid: np.ndarray | None = None
    mass: np.ndarray | None = None
    previous_t, previous_spent = 0.0, 0.0
    for t in times:
        target = spent(t, alpha, spending) - previous_spent
        if grid is None:  # first look: Z_1 ~ N(0, 1)
            c = float(norm.isf(target / 2.0)) if target > 0 else _MAX_Z
            c = min(c, _MAX_Z)
        else:
            assert mass is not None  # set with grid
            dt = t - previous_t
            if target <= 1e-300 or dt <= 0:
                c = _MAX_Z
            elif _exit_probability(grid, mass, 0.0, t, dt) <= target:
                c = 0.0  # nothing left to protect: every continuing path stops
            else:
                gap = partial(_exit_gap, grid=grid, mass=mass, t=t, dt=dt, target=target)
                c = optimize.brentq(gap, 0.0, _MAX_Z, xtol=1e-10, rtol=1e-12)
        out.append(c)
        # density of S_k on the continuation region |S_k| < c sqrt(t)
        b = c * math.sqrt(t)
        new_grid = np.linspace(-b, b, _GRID)
        weights = _simpson_weights(_GRID, new_grid[1] - new_grid[0]) if b > 0 else np.zeros(_GRID)
        if grid is None:
            density = norm.pdf(new_grid / math.sqrt(t)) / math.sqrt(t)
        else:
            sd = math.sqrt(t - previous_t)
            density = (norm.pdf((new_grid[:, None] - grid[None, :]) / sd) / sd) @ mass
        grid, mass = new_grid, density * weights
        previous_t, previous_spent = t, spent(t, alpha, spending)
    return tuple(out)


def _check_times(times: Sequence[float]) -> tuple[float, ...]:
    t = tuple(float(x) for x in times)
    if not t:
        raise ValueError("information fractions: give at least one look")
    if any(not (0 < x <= 1) for x in t) or any(b <= a for a, b in zip(t, t[1:], strict=False)):
        raise ValueError(f"information fractions must increase strictly within (0, 1], got {list(t)}")
    return t


def boundaries(times: Sequence[float], alpha: float, spending: str = "obf") -> np.ndarray:
    """Two-sided boundaries ``c_1..c_K`` (z scale) for looks at information fractions ``times``.

    Reject H0 at the first look k with ``|Z_k| ≥ c_k``. Shape (K,). Results are cached per
    (times, alpha, spending), rounded to 12 digits.
    """
    check_spending(spending)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    t = tuple(round(x, 12) for x in _check_times(times))
    return np.array(_boundaries(t, round(float(alpha), 15), spending))


def crossing_probabilities(times: Sequence[float], bounds: Sequence[float], drift: float = 0.0) -> np.ndarray:
    """P(first crossing of ``|Z_k| ≥ bounds[k]`` at look k) when ``Z(t) = W(t)/sqrt(t) + drift sqrt(t)``
    (``drift`` = the standardised effect times sqrt(maximum information)); shape (K,).

    Independent of ``boundaries``' recursion (it integrates the same density, forward only): with
    ``drift = 0`` the crossing probabilities add up to the α spent.
    """
    t = _check_times(times)
    if len(bounds) != len(t):
        raise ValueError(f"{len(t)} looks but {len(bounds)} boundaries")
    out = []
    grid = mass = None
    previous_t = 0.0
    for tk, c in zip(t, bounds, strict=True):
        b, mean_step, dt = c * math.sqrt(tk), drift * (tk - previous_t), tk - previous_t
        sd = math.sqrt(dt)
        if grid is None:
            out.append(float(norm.sf((b - mean_step) / sd) + norm.cdf((-b - mean_step) / sd)))
        else:
            out.append(float(mass @ (norm.sf((b - grid - mean_step) / sd) + norm.cdf((-b - grid - mean_step) / sd))))
        new_grid = np.linspace(-b, b, _GRID)
        weights = _simpson_weights(_GRID, new_grid[1] - new_grid[0])
        if grid is None:
            density = norm.pdf((new_grid - mean_step) / sd) / sd
        else:
            density = (norm.pdf((new_grid[:, None] - grid[None, :] - mean_step) / sd) / sd) @ mass
        grid, mass, previous_t = new_grid, density * weights, tk
    return np.array(out)

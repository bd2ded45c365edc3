"""Statistics over per-seed values: confidence intervals, paired differences, tests, corrections.

Small pure functions over 1-D arrays (one value per seed); random generators are passed in. The
conventions are those of ``../shared/notes/statistics.md``:

* ``paper-z``  (Table 2 default): half-width ``1.96 * std(x, ddof=0) / sqrt(n)``;
* ``t``        (Table 6 default): half-width ``t_{0.975, n-1} * std(x, ddof=1) / sqrt(n)``;
* ``bootstrap``: percentile bootstrap of the mean with a caller-supplied ``numpy.random.Generator``;
  the printed half-width is half the width of the 2.5–97.5 percentile interval (the interval itself
  is kept in ``Estimate.low/high``).

A confidence interval needs at least 2 values: with n = 1 every method returns a NaN half-width
(the tables then print the value without a CI, like the paper's single JTFS run).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

__all__ = [
    "CI_METHODS",
    "Z_95",
    "Estimate",
    "PairedResult",
    "check_ci",
    "paper_z_half_width",
    "t_half_width",
    "bootstrap_interval",
    "mean_ci",
    "paired_t_pvalue",
    "wilcoxon_pvalue",
    "PAIRED_TESTS",
    "NORMALITY_ALPHA",
    "TestChoice",
    "choose_paired_test",
    "cohens_dz",
    "paired_difference",
    "adjust_pvalues",
    "convergence_rate",
    "curve_band",
]

CI_METHODS = ("paper-z", "t", "bootstrap")
Z_95 = 1.96  # the paper's literal constant (not norm.ppf(0.975) = 1.95996...)
DEFAULT_RESAMPLES = 10_000
CI_DESCRIPTIONS = {
    "paper-z": "normal approximation as in the paper, 1.96 · std(ddof=0) / sqrt(n)",
    "t": "Student-t, t(0.975, n−1) · std(ddof=1) / sqrt(n)",
    "bootstrap": "percentile bootstrap of the mean, half the 2.5–97.5 % interval width",
}


def _as_values(values, name: str = "values") -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per seed), got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains non-finite values: {x[~np.isfinite(x)][:5].tolist()}")
    return x


def check_ci(method: str, rng: np.random.Generator | None = None, *, need_rng: bool = True) -> None:
    """Refuse an unknown CI ``method`` and (unless ``need_rng`` is false) a bootstrap without a
    ``numpy.random.Generator``; every table builder calls this before it computes anything."""
    if method not in CI_METHODS:
        raise ValueError(f"unknown CI method {method!r}; expected one of {', '.join(CI_METHODS)}")
    if need_rng and method == "bootstrap" and rng is None:
        raise ValueError("the bootstrap CI needs a numpy.random.Generator (rng=...)")


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95 % confidence interval.

    ``half_width`` is NaN when n = 1. ``low``/``high`` are the interval ends (``mean ∓ half_width``
    for paper-z and t, the percentile interval for the bootstrap).
    """

    mean: float
    half_width: float
    n: int
    method: str
    low: float
    high: float


def paper_z_half_width(values) -> float:
    """``1.96 * std(values, ddof=0) / sqrt(n)`` for values of shape (n,); NaN when n = 1."""
    x = _as_values(values)
    if x.size < 2:
        return math.nan
    return float(Z_95 * x.std(ddof=0) / math.sqrt(x.size))


def t_half_width(values) -> float:
    """``t_{0.975, n-1} * std(values, ddof=1) / sqrt(n)`` for values of shape (n,); NaN when n = 1."""
    x = _as_values(values)
    if x.size < 2:
        return math.nan
    return float(sps.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


def bootstrap_interval(values, rng: np.random.Generator, n_resamples: int = DEFAULT_RESAMPLES) -> tuple[float, float]:
    """Percentile-bootstrap 95 % interval of the mean.

    Args:
        values: shape (n,).
        rng: the generator used to draw ``n_resamples`` resamples of size n with replacement.
        n_resamples: number of bootstrap resamples.

    Returns:
        ``(low, high)``, the 2.5 and 97.5 percentiles (linear interpolation) of the resampled means.
    """
    x = _as_values(values)
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(0))")
    if n_resamples < 100:
        raise ValueError(f"n_resamples must be >= 100, got {n_resamples}")
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))
    means = x[idx].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def mean_ci(
    values, method: str = "paper-z", *, rng: np.random.Generator | None = None, n_resamples: int = DEFAULT_RESAMPLES
) -> Estimate:
    """Mean of ``values`` (shape (n,)) with a 95 % CI by ``method`` (see the module docstring).

    ``rng`` is required for ``method="bootstrap"`` and ignored otherwise.
    """
    check_ci(method, need_rng=False)
    x = _as_values(values)
    mean = float(x.mean())
    if x.size < 2:
        return Estimate(mean, math.nan, 1, method, math.nan, math.nan)
    if method == "paper-z":
        hw = paper_z_half_width(x)
    elif method == "t":
        hw = t_half_width(x)
    else:
        check_ci(method, rng)
        assert rng is not None  # check_ci refuses a bootstrap without one
        low, high = bootstrap_interval(x, rng, n_resamples)
        return Estimate(mean, (high - low) / 2.0, int(x.size), method, low, high)
    return Estimate(mean, hw, int(x.size), method, mean - hw, mean + hw)


def paired_t_pvalue(a, b) -> float:
    """Two-sided paired t-test p-value, ``scipy.stats.ttest_rel(b, a)``; a and b of shape (n,).

    NaN when n < 2 or when every difference is identical (the test is undefined).
    """
    a, b = _as_values(a, "a"), _as_values(b, "b")
    _same_length(a, b)
    d = b - a
    if d.size < 2 or np.all(d == d[0]):
        return math.nan
    return float(sps.ttest_rel(b, a).pvalue)


def wilcoxon_pvalue(a, b) -> float:
    """Two-sided Wilcoxon signed-rank p-value of ``b - a`` (``scipy.stats.wilcoxon`` defaults).

    NaN when every difference is zero (zeros are dropped, as in scipy's ``zero_method="wilcox"``).
    """
    a, b = _as_values(a, "a"), _as_values(b, "b")
    _same_length(a, b)
    d = b - a
    if not np.any(d != 0):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(sps.wilcoxon(d).pvalue)


PAIRED_TESTS = ("t", "wilcoxon", "auto")
NORMALITY_ALPHA = 0.05
TEST_NAMES = {"t": "paired t-test (scipy.stats.ttest_rel)", "wilcoxon": "Wilcoxon signed-rank (scipy.stats.wilcoxon)"}


@dataclass(frozen=True)
class TestChoice:
    """The test a paired comparison is decided by, and why (``shapiro_p`` is NaN unless ``auto``)."""

    test: str  # "t" or "wilcoxon"
    p_value: float
    shapiro_p: float


def choose_paired_test(a, b, test: str = "auto", normality_alpha: float = NORMALITY_ALPHA) -> TestChoice:
    """The p-value of ``b - a`` by ``test``: ``"t"`` (paired t), ``"wilcoxon"`` (signed-rank), or
    ``"auto"``, a two-stage choice in the spirit of autorank (Herbold 2020), which pretests each
    population at α/k; here the pretest is on what the paired test uses, the differences: Shapiro–Wilk
    (``scipy.stats.shapiro``); normality not rejected at ``normality_alpha`` → paired t, rejected →
    Wilcoxon. With fewer than 3 differences (Shapiro–Wilk needs 3) or all of them equal, ``auto`` keeps
    the t-test.

    What it assumes: under the paired null of exchangeable arms the differences are symmetric about 0,
    and there the two-stage type-I error stays at α (simulated in ``tests/analysis/test_stats.py`` for
    normal, heavy-tailed and bimodal differences). Wilcoxon tests that symmetry (a median-type null),
    not a zero mean: for skewed differences with mean 0, where Shapiro–Wilk rejects most, it rejects
    more often than α (lognormal, n = 20: about 0.26 against the t-test's 0.15), so ``auto`` is not a
    test of the mean Δ. With 5 pairs or fewer Wilcoxon's smallest two-sided p is 2/2⁵ > 0.05.
    """
    if test not in PAIRED_TESTS:
        raise ValueError(f"test must be one of {', '.join(PAIRED_TESTS)}, got {test!r}")
    shapiro_p = math.nan
    if test == "auto":
        d = _as_values(b, "b") - _as_values(a, "a")
        if d.size >= 3 and not np.all(d == d[0]):
            shapiro_p = float(sps.shapiro(d).pvalue)
        test = "wilcoxon" if shapiro_p < normality_alpha else "t"
    p = wilcoxon_pvalue(a, b) if test == "wilcoxon" else paired_t_pvalue(a, b)
    return TestChoice(test, p, shapiro_p)


def cohens_dz(d) -> float:
    """Effect size of paired differences ``d`` (shape (n,)): ``mean(d) / std(d, ddof=1)``.

    NaN when n < 2 or std(d) = 0.
    """
    x = _as_values(d, "d")
    if x.size < 2:
        return math.nan
    sd = x.std(ddof=1)
    if sd == 0:
        return math.nan
    return float(x.mean() / sd)


def _same_length(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"paired arrays differ in length: {a.size} vs {b.size}")


@dataclass(frozen=True)
class PairedResult:
    """Paired comparison of arm B against arm A over the same seeds (``d = b - a``)."""

    delta: Estimate  # mean(d) and its CI
    p_value: float  # paired t-test
    d_z: float  # Cohen's d_z
    wilcoxon_p: float  # Wilcoxon signed-rank


def paired_difference(
    a, b, method: str = "t", *, rng: np.random.Generator | None = None, n_resamples: int = DEFAULT_RESAMPLES
) -> PairedResult:
    """Δ = mean(b − a) ± CI (``method``), paired t-test p, d_z and Wilcoxon p.

    Args:
        a: shape (n,), the earlier arm's values, seed-aligned with ``b``.
        b: shape (n,), the later arm's values.
    """
    a, b = _as_values(a, "a"), _as_values(b, "b")
    _same_length(a, b)
    d = b - a
    return PairedResult(
        delta=mean_ci(d, method, rng=rng, n_resamples=n_resamples),
        p_value=paired_t_pvalue(a, b),
        d_z=cohens_dz(d),
        wilcoxon_p=wilcoxon_pvalue(a, b),
    )


def adjust_pvalues(pvalues, method: str = "holm") -> np.ndarray:
    """Multiple-comparison adjusted p-values (``statsmodels.stats.multitest.multipletests``).

    Args:
        pvalues: shape (m,); NaN entries (undefined tests) are left out of the family and stay NaN.
        method: any ``multipletests`` method, e.g. ``"holm"`` or ``"bonferroni"``.

    Returns:
        shape (m,), adjusted p-values.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D, got shape {p.shape}")
    out = np.full(p.shape, math.nan)
    ok = np.isfinite(p)
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p[ok][(p[ok] < 0) | (p[ok] > 1)].tolist()}")
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


def convergence_rate(steps) -> float:
    """Fraction of runs that converged; ``steps`` has shape (n,) with NaN for "never converged"."""
    x = np.asarray(steps, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"steps must be a non-empty 1-D array, got shape {x.shape}")
    return float(np.isfinite(x).mean())


def curve_band(values, method: str = "t") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise mean and 95 % CI half-width of several seeds' curves.

    Args:
        values: shape (n_seeds, n_points); NaN where a seed has no value at that point.
        method: ``"paper-z"`` or ``"t"`` (the bootstrap is not offered for bands).

    Returns:
        ``(mean, half_width, n)``, each of shape (n_points,); half_width is NaN where n < 2.
    """
    if method not in ("paper-z", "t"):
        raise ValueError(f"curve bands support the 'paper-z' and 't' CIs, not {method!r}")
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] == 0:
        raise ValueError(f"values must have shape (n_seeds, n_points), got {y.shape}")
    ok = np.isfinite(y)
    n = ok.sum(axis=0)
    safe_n = np.maximum(n, 1)
    filled = np.where(ok, y, 0.0)
    mean = np.where(n > 0, filled.sum(axis=0) / safe_n, np.nan)
    sq = np.where(ok, (y - mean) ** 2, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "paper-z":
            hw = Z_95 * np.sqrt(sq / safe_n) / np.sqrt(safe_n)
        else:
            dof = np.maximum(n - 1, 1)
            hw = sps.t.ppf(0.975, dof) * np.sqrt(sq / dof) / np.sqrt(safe_n)
    hw = np.where(n >= 2, hw, np.nan)
    return mean, hw, n

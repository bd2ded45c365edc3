"""Adaptive seeds: decide a study's paired comparisons after each wave of seeds, keeping the
family-wise type-I error at α across every look and every comparison.

The procedure (all of it a pure function of the per-seed paired differences seen so far):

1. **Per comparison, a group-sequential paired t-test.** At a look with ``n`` pairs the paired t
   statistic ``T`` (``d = later − earlier``) is put on the z scale through its p-value,
   ``Z = sign(T) Φ^{-1}(1 − p/2)`` with ``p`` the two-sided ``t(n − 1)`` p-value (the usual way to run
   normal-theory boundaries on t statistics; Jennison & Turnbull 2000, §3.8). ``Z`` is compared with a
   two-sided Lan–DeMets boundary (``analysis.group_sequential``; O'Brien–Fleming-type spending by
   default) at information fraction ``t = n / max_seeds`` (``t = 1`` at the last possible look,
   which spends what is left).
2. **Across comparisons, Holm as a graph** (Maurer & Bretz 2013, *Stat. Biopharm. Res.* 5:311–320;
   Bretz et al. 2009, *Stat. Med.* 28:586–604): each of the m comparisons starts at level α/m; when one
   crosses its boundary its level is passed on equally to the comparisons not yet shown, whose
   boundaries are recomputed at the higher level (current and later looks), and the look is tested
   again until nothing more crosses. This controls the family-wise error strongly at α for any
   number of looks, like Holm does for one look.
3. **Futility, non-binding.** Before the last look, a comparison whose conditional power under the
   current trend (Lan, Simon & Halperin 1982, *Commun. Stat. C* 1:207–219),
   ``1 − Φ((c_K − |Z|/sqrt(t)) / sqrt(1 − t))`` with ``c_K`` its final planned boundary, is below
   ``futility`` no longer keeps the study running. Its boundaries ignore the futility rule, so the
   type-I error holds whether or not the rule is followed; a futile comparison is still tested while
   the study runs for the others, and becomes "effect" if it crosses later. Untestable so far (< 3
   pairs, e.g. convergence steps where no arm converges) and, at its pairs-per-seed rate, still < 3
   at ``max_seeds``: futile too, or it alone would hold the study open to its maximum.

Decisions: ``effect`` (boundary crossed: the difference is shown, with its sign), ``futility``,
``continue``, and ``inconclusive`` (the last look passed without a crossing). The study stops adding
seeds when every comparison is ``effect`` or ``futility``, or at ``max_seeds``.

Each comparison reports its estimate (mean difference) with a **repeated confidence interval**
(Jennison & Turnbull 1989, *JRSS B* 51:305–361) at its current level and look: the interval that
excludes 0 exactly when the boundary is crossed. Assumptions: seeds are exchangeable (independent
runs); pairs are complete or missing at random (convergence steps use the seeds where both arms
converged, and their information fraction counts those pairs); the looks are not chosen from the
data (waves of a fixed size).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy import special

from analysis.group_sequential import boundaries, check_spending
from analysis.schema import CONVERGENCE_STEP, TEST_THETA_L1, VAL_TOTAL_VARIATION
from common.checks import check_int

__all__ = [
    "Design",
    "ComparisonDecision",
    "Verdict",
    "DECISIONS",
    "METRICS",
    "decide",
    "look_statistics",
    "consecutive_differences",
]

DECISIONS = ("effect", "futility", "continue", "inconclusive")
# the metrics each comparison of arms is decided on: an adaptive study's waves (study.waves) and a replay
METRICS = (TEST_THETA_L1, VAL_TOTAL_VARIATION, CONVERGENCE_STEP)
MIN_PAIRS = 3  # a paired t-test needs n - 1 >= 2 degrees of freedom here


@dataclass(frozen=True)
class Design:
    """The sequential design: family-wise ``alpha``, seeds per look, spending and futility rule.

    Looks happen at ``min_seeds``, ``min_seeds + wave``, … up to ``max_seeds`` (the last look is at
    ``max_seeds`` even when it is not on that grid). ``futility`` is the conditional-power threshold
    (0 switches the rule off). ``correction``: ``holm`` (α passed on when a comparison is shown) or
    ``bonferroni`` (each comparison keeps α/m). The defaults are the design of least expected seeds
    that keeps the fixed 20-seed design's power within 0.02 on the paper's Table 6 family in
    ``bench/sequential_seeds.py``'s simulations (waves of 5 from 10 to 20 seeds, so never more seeds than
    the fixed design, O'Brien–Fleming-type spending, futility below 20 % conditional power). A first look
    at 5 seeds costs power: conditional power estimated from 5 pairs stops true effects for futility.
    """

    alpha: float = 0.05
    min_seeds: int = 10
    wave: int = 5
    max_seeds: int = 20
    spending: str = "obf"
    futility: float = 0.2
    correction: str = "holm"

    def __post_init__(self) -> None:
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie strictly between 0 and 1, got {self.alpha!r}")
        check_int("min_seeds", self.min_seeds, MIN_PAIRS)
        check_int("wave", self.wave, 1)
        check_int("max_seeds", self.max_seeds, self.min_seeds)
        check_spending(self.spending)
        if isinstance(self.futility, bool) or not isinstance(self.futility, (int, float)) or not 0 <= self.futility < 1:
            raise ValueError(f"futility must be a conditional power in [0, 1), got {self.futility!r}")
        if self.correction not in ("holm", "bonferroni"):
            raise ValueError(f"correction must be holm or bonferroni, got {self.correction!r}")

    def looks(self) -> list[int]:
        """Seeds at each planned look, e.g. [5, 10, …, 40]."""
        out = list(range(self.min_seeds, self.max_seeds, self.wave))
        return out + [self.max_seeds]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ComparisonDecision:
    """One comparison after a look (``estimate`` … ``conditional_power`` at ``at_seeds``, the look of
    the decision for ``effect``, else the latest look)."""

    name: str
    decision: str
    at_seeds: int  # seeds run at that look
    n_pairs: int  # pairs used there (fewer than seeds when some have no value)
    estimate: float  # mean(d)
    ci_low: float  # repeated confidence interval at the current level
    ci_high: float
    z: float  # the t statistic on the z scale
    boundary: float  # |z| needed at that look
    nominal_p: float  # the two-sided p-value threshold equivalent to ``boundary``
    p_value: float  # the paired t-test's own p-value (not adjusted for the looks)
    level: float  # this comparison's share of alpha at that look
    information: float  # information fraction n_pairs / max_seeds (1 at the last look)
    conditional_power: float  # under the current trend (NaN when not computed)


@dataclass(frozen=True)
class Verdict:
    """The state after the latest look: ``stop`` says whether to add seeds, ``reason`` why."""

    design: Design
    n_seeds: int
    looks: tuple[int, ...]
    comparisons: tuple[ComparisonDecision, ...]
    stop: bool
    reason: str
    final: bool = field(default=False)

    def to_dict(self) -> dict:
        """JSON-ready (non-finite numbers become None)."""

        def clean(x):
            if isinstance(x, float) and not math.isfinite(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [clean(v) for v in x]
            return x

        return clean(
            {
                "design": self.design.to_dict(),
                "n_seeds": self.n_seeds,
                "looks": list(self.looks),
                "stop": self.stop,
                "final": self.final,
                "reason": self.reason,
                "comparisons": [asdict(c) for c in self.comparisons],
            }
        )


def look_statistics(d: np.ndarray, looks: Sequence[int]) -> dict[str, np.ndarray]:
    """Paired-t statistics of the prefixes ``d[:n]`` for every ``n`` in ``looks``.

    ``d`` has shape (n_seeds,) or (n_seeds, m) (one column per comparison; NaN = no pair for that seed).
    Returns arrays of shape (len(looks), m): ``n`` (pairs), ``mean``, ``sd`` (ddof = 1), ``t``, ``p``
    (two-sided) and ``z`` (= sign(t) Φ^{-1}(1 − p/2)); NaN where fewer than ``MIN_PAIRS`` pairs.
    """
    x = np.asarray(d, dtype=np.float64)
    x = x[:, None] if x.ndim == 1 else x
    ok = np.isfinite(x)
    filled = np.where(ok, x, 0.0)
    idx = np.asarray(looks, dtype=np.int64) - 1
    n = np.cumsum(ok, axis=0)[idx].astype(np.float64)
    s1, s2 = np.cumsum(filled, axis=0)[idx], np.cumsum(filled**2, axis=0)[idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = np.maximum(s2 - n * mean**2, 0.0) / (n - 1)
        sd = np.sqrt(var)
        t = np.where(
            sd > 1e-12 * np.maximum(np.abs(mean), 1e-300),
            mean / (sd / np.sqrt(n)),
            np.where(mean == 0, 0.0, np.sign(mean) * np.inf),
        )
        df = np.maximum(n - 1, 1)
        p = np.where(np.isfinite(t), 2.0 * special.stdtr(df, -np.abs(np.nan_to_num(t))), 0.0)
        z = np.sign(t) * -special.ndtri(p / 2.0)
    few = n < MIN_PAIRS
    for a in (mean, sd, t, p, z):
        a[few] = np.nan
    return {"n": n, "mean": mean, "sd": sd, "t": t, "p": p, "z": z}


def consecutive_differences(
    per_seed, arms: Sequence[str], metrics: Sequence[str], seeds: Sequence[int] | None = None
) -> dict[str, np.ndarray]:
    """Table 6's comparisons as ``decide`` input: for each consecutive pair of ``arms`` and each metric,
    ``later − earlier`` per seed, in the order of ``seeds`` (default: ascending), NaN where either run
    has no value. Keys: ``"B vs A: metric"``. ``per_seed`` is an ``analysis.data`` per-seed table."""
    from analysis.pairing import pair_by_seed  # lazy: keeps this module free of pandas for the bench loop

    out = {}
    for a, b in zip(arms[:-1], arms[1:], strict=True):
        for metric in metrics:
            pair = pair_by_seed(per_seed, a, b, metric, allow_missing_values=True)
            order = list(pair.seeds) if seeds is None else list(seeds)
            missing = sorted(set(order) - set(pair.seeds.tolist()))
            if missing:
                raise ValueError(f"seed(s) {', '.join(map(str, missing))} have no run in {a!r} or {b!r}")
            where = {int(s): i for i, s in enumerate(pair.seeds)}
            d = pair.b - pair.a
            out[f"{b} vs {a}: {metric}"] = np.array([d[where[int(s)]] for s in order])
    return out


def _rci(mean: float, sd: float, n: float, c: float) -> tuple[float, float]:
    """mean ± t-scale equivalent of the z boundary ``c`` × sd/sqrt(n)."""
    if not math.isfinite(c) or not np.isfinite(mean):
        return -math.inf, math.inf
    half = -float(special.stdtrit(n - 1, _norm_sf(c))) * sd / math.sqrt(n)
    return mean - half, mean + half


def decide(
    differences: Mapping[str, Sequence[float]],
    design: Design = Design(),
    *,
    looks: Sequence[int] | None = None,
    stop_early: bool = False,
) -> Verdict:
    """Run the procedure over the looks so far and return the state after the last one.

    Args:
        differences: comparison name -> per-seed paired differences ``later − earlier`` in the order
            the seeds were run, shape (n_seeds,), NaN where a seed has no pair (e.g. a run that never
            converged). Every comparison covers the same seeds.
        design: the sequential design.
        looks: seeds at each look so far (default: ``design.looks()`` up to ``n_seeds``, plus
            ``n_seeds`` itself when it is off that grid).
        stop_early: return at the first look where the study would stop (simulations).
    """
    if not differences:
        raise ValueError("no comparisons to decide")
    names = list(differences)
    columns = [np.asarray(differences[k], dtype=np.float64) for k in names]
    if any(c.ndim != 1 for c in columns) or len({c.size for c in columns}) != 1:
        raise ValueError(
            "every comparison needs one difference per seed, the same seeds for all: shapes "
            + ", ".join(f"{k} {c.shape}" for k, c in zip(names, columns, strict=True))
        )
    n_seeds = columns[0].size
    if n_seeds > design.max_seeds:
        raise ValueError(f"{n_seeds} seeds exceed the design's max_seeds = {design.max_seeds}")
    if looks is None:
        looks = [n for n in design.looks() if n <= n_seeds]
        if not looks or looks[-1] != n_seeds:
            looks.append(n_seeds)
    looks = [int(n) for n in looks]
    if not looks or looks[0] < 1 or any(b <= a for a, b in zip(looks, looks[1:], strict=False)) or looks[-1] > n_seeds:
        raise ValueError(f"looks must be increasing seed counts within 1..{n_seeds}, got {looks}")
    st = look_statistics(np.column_stack(columns), looks)
    m = len(names)
    times: list[list[float]] = [[] for _ in range(m)]
    state = ["continue"] * m
    shown: list[ComparisonDecision | None] = [None] * m
    latest: list[ComparisonDecision | None] = [None] * m
    planned = design.looks()
    for k, n_k in enumerate(looks):
        final = n_k >= design.max_seeds
        tested = []
        for i in range(m):
            n_i = st["n"][k, i]
            if n_i < MIN_PAIRS or not np.isfinite(st["z"][k, i]):
                continue
            t_i = 1.0 if final else min(n_i / design.max_seeds, 1.0)
            if times[i] and t_i <= times[i][-1]:
                continue  # no new pair since this comparison's last look
            times[i].append(t_i)
            tested.append(i)
        bound: dict[int, float] = {}
        changed = True
        while changed:  # Holm as a graph: test, pass α on, test again
            changed = False
            open_ = [i for i in range(m) if shown[i] is None]
            if not open_:
                break
            level = design.alpha / (len(open_) if design.correction == "holm" else m)
            for i in tested:
                if shown[i] is not None:
                    continue
                c = float(boundaries(times[i], level, design.spending)[-1])
                bound[i] = c
                z = st["z"][k, i]
                record = _record(names[i], "continue", n_k, st, k, i, c, level, times[i][-1], math.nan)
                latest[i] = record
                if abs(z) >= c:
                    shown[i] = _replace_decision(record, "effect")
                    state[i] = "effect"
                    changed = True
        for i in tested:
            if shown[i] is not None:
                continue
            rec = latest[i]
            assert rec is not None  # a tested comparison has a decision
            cp = math.nan
            if not final and design.futility > 0:
                future = [n / design.max_seeds for n in planned if n > n_k]
                c_final = (
                    float(boundaries(times[i] + future, rec.level, design.spending)[-1]) if future else rec.boundary
                )
                t_i, z_abs = times[i][-1], abs(st["z"][k, i])
                cp = _norm_sf((c_final - z_abs / math.sqrt(t_i)) / math.sqrt(1.0 - t_i)) if t_i < 1 else 0.0
                if cp < design.futility:
                    state[i] = "futility"
            elif final and state[i] != "futility":
                state[i] = "inconclusive"
            latest[i] = _replace_decision(rec, state[i], cp)
        for i in range(m):
            if final and shown[i] is None and state[i] != "futility":
                state[i] = "inconclusive"
            elif not final and design.futility > 0 and latest[i] is None:  # never testable so far
                if st["n"][k, i] * design.max_seeds / n_k < MIN_PAIRS:
                    state[i] = "futility"
        done = all(s in ("effect", "futility") for s in state)
        if (stop_early and (done or final)) or k == len(looks) - 1:
            return _verdict(design, names, state, shown, latest, n_k, looks[: k + 1], done, final)
    raise AssertionError("unreachable")


def _record(name, decision, n_seeds, st, k, i, c, level, t, cp) -> ComparisonDecision:
    mean, sd, n = float(st["mean"][k, i]), float(st["sd"][k, i]), float(st["n"][k, i])
    low, high = _rci(mean, sd, n, c)
    return ComparisonDecision(
        name,
        decision,
        int(n_seeds),
        int(n),
        mean,
        low,
        high,
        float(st["z"][k, i]),
        c,
        2.0 * _norm_sf(c),
        float(st["p"][k, i]),
        level,
        float(t),
        cp,
    )


def _replace_decision(rec: ComparisonDecision, decision: str, cp: float | None = None) -> ComparisonDecision:
    return replace(rec, decision=decision) if cp is None else replace(rec, decision=decision, conditional_power=cp)


def _norm_sf(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def _verdict(design, names, state, shown, latest, n_seeds, looks, done, final) -> Verdict:
    out = []
    for i, name in enumerate(names):
        rec = shown[i] or latest[i]
        if rec is None:  # never testable yet (fewer than MIN_PAIRS pairs)
            rec = ComparisonDecision(
                name,
                state[i],
                n_seeds,
                0,
                math.nan,
                -math.inf,
                math.inf,
                math.nan,
                math.nan,
                math.nan,
                math.nan,
                math.nan,
                0.0,
                math.nan,
            )
        elif rec.decision != state[i]:
            rec = _replace_decision(rec, state[i])
        out.append(rec)
    counts = {d: sum(c.decision == d for c in out) for d in DECISIONS}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    if done:
        reason = f"every comparison decided at {n_seeds} seeds ({summary})"
    elif final:
        reason = f"maximum of {design.max_seeds} seeds reached ({summary})"
    else:
        reason = f"continue: {summary} after {n_seeds} seeds"
    return Verdict(design, n_seeds, tuple(looks), tuple(out), done or final, reason, final)

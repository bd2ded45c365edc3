"""What adaptive seeds would have decided: the sequential procedure replayed on a finished fixed-seed study.

A fixed-n study ran every arm on the same N seeds. ``replay`` takes its per-seed table and runs the
adaptive-seeds procedure of ``analysis.sequential`` over those seeds as an adaptive study would have
run them — seeds in ascending order, a look at ``min_seeds``, ``min_seeds + wave``, … ``max_seeds`` —
calling the same ``decide`` the study calls (``study.waves``) at every look and stopping at the first
look where the study would have stopped. Beside the verdict it puts the fixed-n result of all N
seeds: the paired t-test of each comparison with the p-values adjusted across the same comparisons
(Holm by default, ``analysis.stats``), as ``python -m analysis table deltas`` reports them.

The comparisons are a study's: each arm against the previous one, on test θ L1, validation total
variation and convergence steps (the last on the seeds where both arms converged). Only the seeds
with a run and both required metrics in every arm are replayed ("complete" seeds); the others are
named in the caption. The replay is only as good as the assumption that the seeds are exchangeable:
an adaptive study would have run new seeds, the replay reuses the first ones of the fixed study.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from analysis import stats
from analysis.formatting import format_p_bare, format_sig
from analysis.pairing import pair_by_seed, select_arms, select_preset
from analysis.render import Cell, Column, Table
from analysis.schema import ARM_COLUMN, PAPER_SCALE, SEED_COLUMN, TEST_THETA_L1, VAL_TOTAL_VARIATION
from analysis.sequential import METRICS, MIN_PAIRS, Design, Verdict, consecutive_differences, decide
from analysis.table_parts import arm_labels
from analysis.tables_sequential import sequential_table

__all__ = ["METRICS", "ReplayInputError", "FixedResult", "Replay", "complete_seeds", "design_for", "replay"]

_REQUIRED = (TEST_THETA_L1, VAL_TOTAL_VARIATION)  # a seed without these in some arm is not complete
_SCALED = (TEST_THETA_L1, VAL_TOTAL_VARIATION)


class ReplayInputError(ValueError):
    """Bad replay input; ``option`` names the setting at fault (``arms``, ``seeds``, ``min_seeds``, …)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class FixedResult:
    """One comparison on all complete seeds (``d = later − earlier``, raw units)."""

    name: str
    n_pairs: int
    estimate: float  # mean(d)
    ci_low: float  # Student-t 95 % CI of mean(d)
    ci_high: float
    p_value: float  # paired t-test (scipy.stats.ttest_rel)
    p_adjusted: float  # across the replay's comparisons (the design's correction)
    effect: bool  # p_adjusted < alpha


@dataclass(frozen=True)
class Replay:
    """The replay: the verdict at each look replayed (the last one is where the study would have
    stopped, or the last look the available seeds allow), and the fixed-n result of all seeds."""

    design: Design
    arms: tuple[str, ...]
    seeds: tuple[int, ...]  # complete seeds, ascending (the replay's run order)
    dropped: tuple[int, ...]  # seeds left out: no run or no value in some arm
    rows: tuple[dict[str, str], ...]  # per comparison: name, arm, baseline, metric
    looks: tuple[Verdict, ...]
    fixed: tuple[FixedResult, ...]

    @property
    def verdict(self) -> Verdict:
        return self.looks[-1]

    @property
    def seeds_used(self) -> int:
        return self.verdict.n_seeds

    @property
    def ran_out(self) -> bool:
        """True when the seeds ran out before the design would have stopped."""
        return not self.verdict.stop

    def to_dict(self) -> dict:
        """JSON-ready (non-finite numbers become None)."""

        def clean(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "design": self.design.to_dict(),
            "arms": list(self.arms),
            "seeds": list(self.seeds),
            "dropped": list(self.dropped),
            "seeds_used": self.seeds_used,
            "ran_out": self.ran_out,
            "rows": [dict(r) for r in self.rows],
            "looks": [v.to_dict() for v in self.looks],
            "fixed": [{k: clean(v) if isinstance(v, float) else v for k, v in asdict(f).items()} for f in self.fixed],
        }


def complete_seeds(
    per_seed: pd.DataFrame, arms: Sequence[str], source: str = "per-seed table"
) -> tuple[list[int], list[int]]:
    """``(complete, dropped)``, both ascending: seeds with a run holding test θ L1 and validation TV in
    every arm, and the seeds some arm lacks.

    Raises:
        ReplayInputError: fewer than 2 arms, an arm without runs (``arms``); fewer than 3 complete seeds
            (``seeds``).
    """
    if len(arms) < 2:
        raise ReplayInputError("arms", f"the replay compares consecutive arms: give at least 2, got {list(arms)}")
    try:
        df = select_arms(per_seed, arms, source)
    except ValueError as err:
        raise ReplayInputError("arms", str(err)) from None
    every: set[int] = set(int(s) for s in df[SEED_COLUMN])
    have = [
        {int(s) for s in sub.loc[sub[list(_REQUIRED)].notna().all(axis=1), SEED_COLUMN]}
        for _, sub in df.groupby(ARM_COLUMN, sort=False)
    ]
    complete = sorted(set.intersection(*have)) if have else []
    dropped = sorted(every - set(complete))
    if len(complete) < MIN_PAIRS:
        raise ReplayInputError(
            "seeds",
            f"only {len(complete)} seed(s) have a run with {' and '.join(_REQUIRED)} in every arm "
            f"({', '.join(arms)}): {complete}; the replay needs at least {MIN_PAIRS}",
        )
    return complete, dropped


def design_for(
    n_seeds: int,
    *,
    alpha: float | None = None,
    min_seeds: int | None = None,
    wave: int | None = None,
    max_seeds: int | None = None,
) -> Design:
    """The replay's design: ``Design()``'s defaults, but ``max_seeds`` = the ``n_seeds`` complete seeds
    available (and ``min_seeds`` at most that) unless given.

    Raises:
        ReplayInputError: naming the field — ``min_seeds`` below 3 or above the seeds available,
            ``max_seeds`` below ``min_seeds``, ``wave`` below 1, ``alpha`` outside (0, 1).
    """
    base = Design()
    low = base.min_seeds if min_seeds is None else min_seeds
    if min_seeds is None:
        low = min(low, n_seeds)
    high = n_seeds if max_seeds is None else max_seeds
    if low < MIN_PAIRS:
        raise ReplayInputError("min_seeds", f"must be >= {MIN_PAIRS} (a paired t-test needs {MIN_PAIRS}), got {low}")
    if low > n_seeds:
        raise ReplayInputError(
            "min_seeds", f"the first look needs {low} seeds but only {n_seeds} complete seed(s) are available"
        )
    if high < low:
        raise ReplayInputError("max_seeds", f"must be >= min_seeds ({low}), got {high}")
    try:
        return Design(
            alpha=base.alpha if alpha is None else alpha,
            min_seeds=low,
            wave=base.wave if wave is None else wave,
            max_seeds=high,
        )
    except ValueError as err:
        bad = next((k for k in ("alpha", "wave") if str(err).startswith(k)), "design")
        raise ReplayInputError(bad, str(err)) from None


def _fixed(df: pd.DataFrame, arms: Sequence[str], design: Design) -> list[FixedResult]:
    raw: list[tuple[str, int, stats.PairedResult | None]] = []
    for a, b in zip(arms[:-1], arms[1:], strict=True):
        for metric in METRICS:
            pairing = pair_by_seed(df, a, b, metric, allow_missing_values=True).both_finite()
            name = f"{b} vs {a}: {metric}"
            if pairing.seeds.size == 0:
                raw.append((name, 0, None))
                continue
            raw.append((name, int(pairing.seeds.size), stats.paired_difference(pairing.a, pairing.b, "t")))
    p = [r.p_value if r is not None else math.nan for _, _, r in raw]
    adjusted = stats.adjust_pvalues(p, design.correction)
    out = []
    for (name, n, r), p_adj in zip(raw, adjusted, strict=True):
        est = r.delta if r is not None else None
        out.append(
            FixedResult(
                name,
                n,
                est.mean if est else math.nan,
                est.low if est else math.nan,
                est.high if est else math.nan,
                r.p_value if r is not None else math.nan,
                float(p_adj),
                bool(p_adj < design.alpha),
            )
        )
    return out


def replay(
    per_seed: pd.DataFrame, arms: Sequence[str], design: Design | None = None, *, preset: str | None = None
) -> Replay:
    """Replay the adaptive-seeds procedure on a finished study's per-seed table.

    Args:
        per_seed: an ``analysis.data`` per-seed table (``arm, seed, test_theta_l1, val_total_variation,
            convergence_step`` [, ``preset``]).
        arms: the arms in order; each is compared with the previous one on the three metrics.
        design: the sequential design (default: ``design_for`` the complete seeds available).
        preset: the preset to replay (needed when the table holds several).

    Returns:
        The verdict after each look, up to the first where the study would have stopped (or the last
        planned look the complete seeds allow), and the fixed-n result on all complete seeds.
    """
    try:
        df = select_preset(per_seed, preset)
    except ValueError as err:
        raise ReplayInputError("preset", str(err)) from None
    arms = list(arms)
    seeds, dropped = complete_seeds(df, arms)
    if design is None:
        design = design_for(len(seeds))
    elif design.min_seeds > len(seeds):
        raise ReplayInputError(
            "min_seeds", f"the first look needs {design.min_seeds} seeds but only {len(seeds)} are complete"
        )
    df = df[df[SEED_COLUMN].isin(seeds) & df[ARM_COLUMN].isin(arms)]
    diffs = consecutive_differences(df, arms, METRICS, seeds=seeds)
    looks: list[Verdict] = []
    for n in (k for k in design.looks() if k <= len(seeds)):
        prefix = {name: d[:n].tolist() for name, d in diffs.items()}
        verdict = decide(prefix, design)  # the study's call at n seeds
        looks.append(verdict)
        if verdict.stop:
            break
    rows = tuple(
        {"name": f"{b} vs {a}: {m}", "arm": b, "baseline": a, "metric": m}
        for a, b in zip(arms[:-1], arms[1:], strict=True)
        for m in METRICS
    )
    return Replay(
        design, tuple(arms), tuple(seeds), tuple(dropped), rows, tuple(looks), tuple(_fixed(df, arms, design))
    )


def _trail(result: Replay) -> str:
    steps = []
    for v in result.looks:
        counts = {d: sum(c.decision == d for c in v.comparisons) for d in ("effect", "futility", "continue")}
        counts["inconclusive"] = sum(c.decision == "inconclusive" for c in v.comparisons)
        steps.append(f"{v.n_seeds} seeds: " + ", ".join(f"{n} {d}" for d, n in counts.items() if n))
    return "; ".join(steps)


def replay_table(
    result: Replay, *, labels: Sequence[str] | None = None, source: str = "", notes: Sequence[str] = ()
) -> Table:
    """``sequential_table`` of where the replay stopped, with the fixed-n result of all complete seeds
    beside each comparison (Δ with its 95 % t CI, paired t-test p, adjusted p, decision at α)."""
    names = arm_labels(list(result.arms), labels)
    label_rows = [
        {"comparison": f"{names[r['arm']]} vs {names[r['baseline']]}", "metric": r["metric"]} for r in result.rows
    ]
    table = sequential_table(result.verdict.to_dict(), label_rows)
    n_all, design, corr = len(result.seeds), result.design, result.design.correction.capitalize()
    table.columns += [
        Column("fixed_estimate", f"All {n_all} seeds: Δ [95 % CI]", rf"All {n_all} seeds: $\Delta$ [95 \% CI]"),
        Column("fixed_p", "p", "$p$"),
        Column("fixed_p_adjusted", f"{corr} p", f"{corr} $p$"),
        Column(
            "fixed_decision",
            f"Fixed-n at α = {design.alpha:g}",
            rf"Fixed-$n$ at $\alpha = {design.alpha:g}$",
            text=True,
        ),
    ]
    for row, r, f in zip(table.rows, result.rows, result.fixed, strict=True):
        k = PAPER_SCALE if r["metric"] in _SCALED else 1.0
        est, low, high = f.estimate * k, f.ci_low * k, f.ci_high * k
        interval = f"[{format_sig(low, 3)}, {format_sig(high, 3)}]" if math.isfinite(low) else None
        data = {
            "estimate": est,
            "ci_low": low,
            "ci_high": high,
            "n_pairs": f.n_pairs,
            "p_value": f.p_value,
            "p_adjusted": f.p_adjusted,
            "correction": design.correction,
            "test": "paired t-test (scipy.stats.ttest_rel)",
            "unit": "x1000" if k != 1.0 else "steps",
        }
        note = f"{f.n_pairs}/{n_all} pairs" if f.n_pairs < n_all else None
        note = "; ".join(x for x in (interval, note) if x) or None
        row += [
            Cell(format_sig(est, 3), note=note, data=data),
            Cell(format_p_bare(f.p_value), data={"p_value": f.p_value}),
            Cell(format_p_bare(f.p_adjusted), data={"p_adjusted": f.p_adjusted}),
            Cell("effect" if f.effect else "no effect" if f.n_pairs else "n/a", text=True),
        ]
    used = result.seeds_used
    where = f" of {source}" if source else ""
    if result.ran_out:
        outcome = (
            f"the {n_all} complete seeds ran out before the design stopped: an adaptive study would have gone on "
            f"towards {design.max_seeds} seeds"
        )
    else:
        outcome = f"an adaptive study would have stopped after {used} of the {n_all} seeds ({100 * used / n_all:.0f} %)"
    lead = [
        f"Replay on the {n_all} complete seeds{where}, ascending (the order a study runs them; seeds used: "
        f"{', '.join(map(str, result.seeds[:used]))}): {outcome}.",
        f"Decisions at each look: {_trail(result)}.",
    ]
    if result.dropped:
        lead.append(f"Left out (no run or no value in some arm): seed(s) {', '.join(map(str, result.dropped))}.")
    tail = [
        f"Fixed n: all {n_all} seeds, Δ with its Student-t 95 % CI, two-sided paired t-test p "
        f"(scipy.stats.ttest_rel), {corr}-adjusted across the {len(result.rows)} comparisons (statsmodels "
        "multipletests); Conv. Steps on the seeds where both arms converged.",
        *notes,
    ]
    table.title = "Adaptive seeds replayed on a fixed-seed study"
    table.caption = " ".join([*lead, table.caption, *tail])
    return table

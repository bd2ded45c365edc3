"""Adaptive seeds replayed on a finished fixed-seed study (``analysis.replay``, ``table sequential``)."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from analysis import cli, data
from analysis.render import render
from analysis.replay import ReplayInputError, complete_seeds, design_for, replay, replay_table
from analysis.schema import CONVERGENCE_STEP, TEST_THETA_L1, VAL_TOTAL_VARIATION
from analysis.sequential import Design, decide

REPO = Path(__file__).resolve().parents[2]
METRICS = (TEST_THETA_L1, VAL_TOTAL_VARIATION, CONVERGENCE_STEP)
SEEDS = [100 + 3 * i for i in range(20)]  # not 0..19: the replay sorts the seeds, it does not renumber them


def _values() -> dict[tuple[str, int], tuple[float, float, float]]:
    """(arm, seed) -> (θ L1, TV, convergence step). B improves on A by a lot on every metric; C equals B
    up to noise. C never converges on every fourth seed."""
    rng = np.random.default_rng(0)
    out = {}
    for i, s in enumerate(SEEDS):
        a = (0.5 + rng.normal(0, 0.05), 0.010 + rng.normal(0, 0.001), 1000 + rng.normal(0, 100))
        b = (a[0] - 0.1 + rng.normal(0, 0.02), a[1] - 0.003 + rng.normal(0, 5e-4), a[2] - 300 + rng.normal(0, 50))
        c = (b[0] + rng.normal(0, 0.02), b[1] + rng.normal(0, 5e-4), b[2] + rng.normal(0, 50) if i % 4 else math.nan)
        out.update({("A", s): a, ("B", s): b, ("C", s): c})
    return out


VALUES = _values()


def _frame(extra: list | None = None, *, shuffle: bool = True) -> pd.DataFrame:
    rows = [[arm, seed, *v] for (arm, seed), v in VALUES.items()] + (extra or [])
    if shuffle:  # a study export lists runs in no particular seed order
        rows = [rows[i] for i in np.random.default_rng(1).permutation(len(rows))]
    raw = pd.DataFrame(rows, columns=["arm", "seed", *METRICS])
    return data.validate_per_seed(raw)


def _by_hand(arms, seeds, design):
    """The differences in ascending seed order, and ``decide`` called at each planned look until it stops."""
    diffs = {
        f"{b} vs {a}: {m}": np.array([VALUES[(b, s)][j] - VALUES[(a, s)][j] for s in seeds])
        for a, b in zip(arms[:-1], arms[1:], strict=True)
        for j, m in enumerate(METRICS)
    }
    verdicts = []
    for n in design.looks():
        if n > len(seeds):
            break
        verdicts.append(decide({k: d[:n].tolist() for k, d in diffs.items()}, design))
        if verdicts[-1].stop:
            break
    return diffs, verdicts


def test_replay_stops_at_the_look_decide_dictates():
    # an incomplete seed (no run of C) and one without a required value are left out
    df = _frame([["A", 1, 0.5, 0.01, 900], ["B", 1, 0.4, 0.007, 600], ["A", 2, 0.5, 0.01, 900]])
    no_tv = pd.DataFrame(
        [["B", 2, 0.4, math.nan, 500.0], ["C", 2, 0.4, 0.007, 500.0]], columns=["arm", "seed", *METRICS]
    )
    df = pd.concat([df, no_tv], ignore_index=True)  # e.g. read back from MLflow: a run that logged no TV
    result = replay(df, ["A", "B", "C"])
    assert result.seeds == tuple(SEEDS) and result.dropped == (1, 2)
    assert result.design == Design(max_seeds=20)  # the default design, its maximum = the complete seeds
    _, verdicts = _by_hand(["A", "B", "C"], SEEDS, result.design)
    assert [v.n_seeds for v in result.looks] == [v.n_seeds for v in verdicts] == [10, 15]
    assert [v.to_dict() for v in result.looks] == [v.to_dict() for v in verdicts]
    assert result.seeds_used == 15 and not result.ran_out and result.verdict.stop
    assert not verdicts[-2].stop  # it did not stop one look early
    decisions = {c.name: c.decision for c in result.verdict.comparisons}
    assert all(decisions[f"B vs A: {m}"] == "effect" for m in METRICS)
    assert all(decisions[f"C vs B: {m}"] == "futility" for m in METRICS)


def test_fixed_n_is_the_paired_t_test_with_holm_on_all_seeds():
    result = replay(_frame(), ["A", "B", "C"])
    p, expected = [], []
    for a, b in (("A", "B"), ("B", "C")):
        for j, _ in enumerate(METRICS):
            pairs = [(VALUES[(a, s)][j], VALUES[(b, s)][j]) for s in SEEDS]
            x, y = np.array([q for q in pairs if np.isfinite(q).all()]).T
            test = sps.ttest_rel(y, x)
            ci = test.confidence_interval(0.95)
            expected.append((x.size, float(np.mean(y - x)), ci.low, ci.high))
            p.append(test.pvalue)
    holm = multipletests(p, method="holm")[1]
    assert len(result.fixed) == 6
    for f, (n, mean, low, high), p_i, h in zip(result.fixed, expected, p, holm, strict=True):
        assert f.n_pairs == n and math.isclose(f.estimate, mean, rel_tol=1e-12)
        assert math.isclose(f.ci_low, low, rel_tol=1e-9) and math.isclose(f.ci_high, high, rel_tol=1e-9)
        assert math.isclose(f.p_value, p_i, rel_tol=1e-9) and math.isclose(f.p_adjusted, h, rel_tol=1e-9)
        assert f.effect == (h < 0.05)
    assert [f.n_pairs for f in result.fixed] == [20, 20, 20, 20, 20, 15]  # C never converged on 5 seeds
    assert [f.effect for f in result.fixed] == [True, True, True, False, False, False]


def test_seeds_run_out_before_the_design_stops():
    design = Design(max_seeds=40, futility=0.0)  # no futility: the null comparison never stops the study
    result = replay(_frame(), ["B", "C"], design)
    _, verdicts = _by_hand(["B", "C"], SEEDS, design)
    assert [v.to_dict() for v in result.looks] == [v.to_dict() for v in verdicts]
    assert [v.n_seeds for v in result.looks] == [10, 15, 20]
    assert result.ran_out and result.seeds_used == 20
    assert "ran out before the design stopped" in render(replay_table(result), "markdown")


def test_a_maximum_below_the_seeds_available_ends_there_and_fixed_n_keeps_all_seeds():
    design = Design(min_seeds=4, wave=3, max_seeds=8, futility=0.0)
    result = replay(_frame(), ["B", "C"], design)
    assert [v.n_seeds for v in result.looks] == [4, 7, 8] and result.verdict.final
    assert result.seeds_used == 8 and not result.ran_out
    assert [f.n_pairs for f in result.fixed] == [20, 20, 15]


def test_the_table_puts_the_replay_beside_the_fixed_result():
    result = replay(_frame(), ["A", "B", "C"], Design(min_seeds=5, max_seeds=20))
    table = replay_table(result, labels=["SCRAPL", "+P-Adam", "+P-SAGA"], source="per_seed.csv")
    assert [c.value for c in table.column("comparison")][::3] == ["+P-Adam vs SCRAPL", "+P-SAGA vs +P-Adam"]
    assert [c.value for c in table.column("decision")] == ["effect"] * 3 + ["futility"] * 3
    assert [c.value for c in table.column("fixed_decision")] == ["effect"] * 3 + ["no effect"] * 3
    fixed = table.column("fixed_estimate")
    assert fixed[0].data["estimate"] == result.fixed[0].estimate * 1000  # θ L1 × 1000 as in the paper
    assert fixed[2].data["estimate"] == result.fixed[2].estimate  # steps unscaled
    assert str(fixed[5].note).endswith("15/20 pairs")
    md = render(table, "markdown")
    assert "an adaptive study would have stopped after 15 of the 20 seeds (75 %)" in md
    assert "Decisions at each look: 5 seeds: 2 futility, 4 continue; 10 seeds:" in md
    assert "All 20 seeds: Δ [95 % CI]" in md and "Holm-adjusted across the 6 comparisons" in md


def test_presets_are_chosen_like_the_other_tables():
    df = _frame()
    both = pd.concat([df.assign(preset="p1"), df.assign(preset="p2")], ignore_index=True)
    assert replay(both, ["A", "B"], preset="p2").seeds_used == replay(df, ["A", "B"]).seeds_used
    with pytest.raises(ReplayInputError, match="choose one with --preset") as info:
        replay(both, ["A", "B"])
    assert info.value.option == "preset"


@pytest.mark.parametrize(
    ("call", "option", "message"),
    [
        (lambda df: complete_seeds(df, ["A", "X"]), "arms", "'X' named in --arms have no runs"),
        (lambda df: complete_seeds(df, ["A"]), "arms", "at least 2"),
        (lambda df: complete_seeds(df[df.seed < SEEDS[2]], ["A", "B"]), "seeds", "only 2 seed(s)"),
        (lambda df: design_for(20, min_seeds=8, max_seeds=6), "max_seeds", "must be >= min_seeds (8), got 6"),
        (lambda df: design_for(20, min_seeds=2), "min_seeds", "must be >= 3"),
        (lambda df: design_for(20, min_seeds=25), "min_seeds", "only 20 complete seed(s)"),
        (lambda df: design_for(20, alpha=1.5), "alpha", "alpha must lie strictly between 0 and 1"),
    ],
)
def test_bad_input_names_the_option(call, option, message):
    with pytest.raises(ReplayInputError) as info:
        call(_frame(shuffle=False))
    assert info.value.option == option and message in str(info.value)


def test_few_seeds_shrink_the_default_first_look():
    assert design_for(4) == Design(min_seeds=4, max_seeds=4)
    assert design_for(20, max_seeds=30, wave=10) == Design(min_seeds=10, wave=10, max_seeds=30)
    assert design_for(8) == Design(min_seeds=8, max_seeds=8)


# --- the command line ---------------------------------------------------------------------------------------
@pytest.fixture
def per_seed_csv(tmp_path) -> Path:
    path = tmp_path / "per_seed.csv"
    _frame().to_csv(path, index=False)
    return path


def test_cli_subprocess(per_seed_csv):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("MLFLOW_TRACKING_URI", None)
    res = subprocess.run(
        [sys.executable, "-m", "analysis", "table", "sequential", "--csv", str(per_seed_csv), "--arms", "A,B,C"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "would have stopped after 15 of the 20 seeds" in res.stdout
    lines = res.stdout.splitlines()
    assert lines[2].startswith("| Comparison | Metric | Pairs | Δ [repeated 95 % CI] |")
    assert lines[4].startswith("| B vs A | Test θ L1 % | 10 |") and lines[4].endswith("| < 0.01 | < 0.01 | effect |")


def test_cli_design_options_and_formats(per_seed_csv, capsys):
    args = ["table", "sequential", "--csv", str(per_seed_csv), "--arms", "B,C", "--max-seeds", "40"]
    assert cli.main([*args, "--min-seeds", "6", "--wave", "7", "--alpha", "0.1", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    expected = replay(_frame(), ["B", "C"], Design(alpha=0.1, min_seeds=6, wave=7, max_seeds=40))
    first = f"C vs B,Test θ L1 %,{expected.verdict.comparisons[0].decision},"
    assert out.splitlines()[1].startswith(first) and "fixed_p_adjusted" in out
    assert cli.main([*args, "--format", "latex"]) == 0 and r"\begin{tabular}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--arms", "A,X"], "--arms: "),
        (["--arms", "A,B", "--min-seeds", "8", "--max-seeds", "6"], "--max-seeds: must be >= min_seeds (8), got 6"),
        (["--arms", "A,B", "--min-seeds", "2"], "argument --min-seeds: must be >= 3, got 2"),
        (["--arms", "A,B", "--min-seeds", "21"], "--min-seeds: the first look needs 21 seeds"),
        (["--arms", "A,B", "--labels", "x"], "--labels: 1 labels for 2 arms"),
    ],
)
def test_cli_bad_input_exits_2_naming_the_option(per_seed_csv, capsys, extra, message):
    with pytest.raises(SystemExit) as info:
        cli.main(["table", "sequential", "--csv", str(per_seed_csv), *extra])
    out, err = capsys.readouterr()
    assert info.value.code == 2 and out == "" and message in err


def test_cli_too_few_complete_seeds_exits_2(tmp_path, capsys):
    path = tmp_path / "two.csv"
    df = _frame()
    df[df.seed < SEEDS[2]].to_csv(path, index=False)
    with pytest.raises(SystemExit) as info:
        cli.main(["table", "sequential", "--csv", str(path), "--arms", "A,B"])
    assert info.value.code == 2 and "--csv: only 2 seed(s)" in capsys.readouterr().err

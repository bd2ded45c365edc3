"""analysis.sequential: the adaptive-seeds procedure, piece by piece, against scipy/statsmodels and
hand-worked values."""

import json
import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from analysis.group_sequential import boundaries
from analysis.sequential import Design, consecutive_differences, decide, look_statistics


def test_look_statistics_are_paired_t_tests_of_each_prefix():
    rng = np.random.default_rng(0)
    d = np.column_stack([rng.normal(0.3, 1, 12), rng.normal(-1, 2, 12)])
    d[4, 1] = np.nan  # a seed without a pair in the second comparison
    st = look_statistics(d, [5, 12])
    for k, n in enumerate([5, 12]):
        for j in range(2):
            x = d[:n, j][np.isfinite(d[:n, j])]
            ref = sps.ttest_1samp(x, 0.0)
            assert st["n"][k, j] == x.size and st["mean"][k, j] == pytest.approx(x.mean())
            assert st["t"][k, j] == pytest.approx(ref.statistic) and st["p"][k, j] == pytest.approx(ref.pvalue)
            # z carries the t-test's p-value: 2 Φ(−|z|) = p, with the sign of t
            assert 2 * sps.norm.sf(abs(st["z"][k, j])) == pytest.approx(ref.pvalue)
            assert np.sign(st["z"][k, j]) == np.sign(ref.statistic)


def test_look_statistics_need_three_pairs_and_handle_constant_differences():
    st = look_statistics(np.array([1.0, np.nan, 2.0, 5.0, 5.0]), [3, 5])
    assert math.isnan(st["z"][0, 0]) and st["n"][0, 0] == 2
    const = look_statistics(np.array([[2.0, 0.0]] * 4), [4])
    assert const["z"][0, 0] == np.inf and const["z"][0, 1] == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_one_final_look_is_holm_on_paired_t_tests(seed):
    """With a single look at max_seeds the procedure is exactly Holm on the paired t-tests."""
    rng = np.random.default_rng(seed)
    diffs = {f"c{j}": rng.normal(effect, 1, 12) for j, effect in enumerate([0.9, 0.6, 0.4, 0.0])}
    v = decide(diffs, Design(min_seeds=12, max_seeds=12))
    p = [sps.ttest_1samp(x, 0).pvalue for x in diffs.values()]
    assert [c.decision == "effect" for c in v.comparisons] == list(multipletests(p, 0.05, "holm")[0])
    assert v.final and v.stop and all(c.decision in ("effect", "inconclusive") for c in v.comparisons)


def test_holm_passes_alpha_on_and_bonferroni_does_not():
    # two comparisons, one final look with n = 10: A has p ≈ 0.001, B has p ≈ 0.04 (between α/2 and α)
    a = np.array([1.2, 0.8, 1.5, 0.9, 1.1, 0.7, 1.3, 1.0, 0.6, 1.4])
    b = np.array([1.3, 0.6, 1.2, 0.8, 1.0, 0.4, -0.5, 1.3, -0.8, 0.4])
    pb = sps.ttest_1samp(b, 0).pvalue
    assert 0.025 < pb < 0.05
    holm = decide({"A": a, "B": b}, Design(min_seeds=10, max_seeds=10))
    bonf = decide({"A": a, "B": b}, Design(min_seeds=10, max_seeds=10, correction="bonferroni"))
    assert [c.decision for c in holm.comparisons] == ["effect", "effect"]
    assert holm.comparisons[1].level == 0.05 and holm.comparisons[1].boundary == pytest.approx(1.959964, abs=1e-6)
    assert [c.decision for c in bonf.comparisons] == ["effect", "inconclusive"]


def test_repeated_ci_at_one_look_is_the_t_interval_at_the_comparisons_level():
    x = np.array([0.5, -0.2, 0.9, 0.4, 0.1, 0.7, -0.1, 0.3])
    c = decide({"A": x}, Design(min_seeds=8, max_seeds=8)).comparisons[0]
    low, high = sps.t.interval(0.95, 7, loc=x.mean(), scale=sps.sem(x))
    assert (c.ci_low, c.ci_high) == pytest.approx((low, high), rel=1e-9)
    assert c.nominal_p == pytest.approx(0.05) and c.information == 1.0


def test_interim_boundary_and_futility_hand_worked():
    design = Design(min_seeds=5, wave=5, max_seeds=20, futility=0.2)
    x = np.array([0.3, -0.5, 0.2, 0.1, -0.2, 0.4, -0.3, 0.1, 0.2, -0.1])
    v = decide({"A": x}, design)  # looks at 5 and 10 seeds
    c = v.comparisons[0]
    times = [5 / 20, 10 / 20]
    assert c.boundary == pytest.approx(boundaries(times, 0.05)[-1])
    # conditional power under the current trend, final planned boundary c_K at (5, 10, 15, 20) / 20
    c_final = boundaries([0.25, 0.5, 0.75, 1.0], 0.05)[-1]
    t = 0.5
    cp = sps.norm.sf((c_final - abs(c.z) / math.sqrt(t)) / math.sqrt(1 - t))
    assert c.conditional_power == pytest.approx(cp, rel=1e-9)
    assert cp < 0.2 and c.decision == "futility" and v.stop and not v.final
    assert "every comparison decided at 10 seeds" in v.reason


def test_a_futile_comparison_keeps_the_study_going_only_if_another_is_open_and_may_still_be_shown():
    design = Design(min_seeds=5, wave=5, max_seeds=20, futility=0.5)
    rng = np.random.default_rng(3)
    strong = np.concatenate([[0.02, -0.03, 0.01, 0.0, -0.01], rng.normal(2.0, 0.5, 15)])
    v5 = decide({"S": strong[:5]}, design)
    assert v5.comparisons[0].decision == "futility"
    later = decide({"S": strong[:15], "W": rng.normal(0.1, 1, 15)}, design)
    assert later.comparisons[0].decision == "effect"  # non-binding: still tested, and shown


def test_a_comparison_that_cannot_get_three_pairs_does_not_hold_the_study_open():
    """Convergence steps when no arm converges: no pairs at all. At 10 seeds, 0 pairs per seed projects 0
    pairs at 20, so it is futile and the decided comparison stops the study; 2 pairs at 10 seeds project 4,
    enough to test, so that study goes on. A never-testable comparison is inconclusive at the maximum."""
    design = Design(min_seeds=10, wave=5, max_seeds=20)
    effect = np.random.default_rng(5).normal(3.0, 1.0, 20)
    none = np.full(20, np.nan)
    v = decide({"L1": effect, "steps": none}, design, stop_early=True)
    assert v.stop and not v.final and v.n_seeds == 10
    assert [c.decision for c in v.comparisons] == ["effect", "futility"] and v.comparisons[1].n_pairs == 0
    two = none.copy()
    two[[1, 6]] = [0.5, -0.2]
    v = decide({"L1": effect[:10], "steps": two[:10]}, design)
    assert not v.stop and v.comparisons[1].decision == "continue"
    v = decide({"L1": effect, "steps": none}, Design(min_seeds=10, wave=5, max_seeds=20, futility=0.0))
    assert v.n_seeds == 20 and v.comparisons[1].decision == "inconclusive"  # no futility rule: to the maximum


def test_effects_are_frozen_at_the_look_that_showed_them():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 1.0, 20)
    v = decide({"A": x, "B": rng.normal(0.0, 1, 20)}, Design(max_seeds=20, futility=0.0))
    a = v.comparisons[0]
    assert a.decision == "effect" and a.at_seeds < 20 and a.estimate == pytest.approx(x[: a.at_seeds].mean())


def test_stop_early_returns_the_first_stopping_look_and_json_is_clean():
    rng = np.random.default_rng(2)
    diffs = {"A": rng.normal(3.0, 1.0, 40), "B": rng.normal(-4.0, 1.0, 40)}
    v = decide(diffs, Design(max_seeds=40), stop_early=True)
    assert v.stop and not v.final and v.n_seeds < 40 and v.looks[-1] == v.n_seeds
    text = json.dumps(v.to_dict(), allow_nan=False)
    assert json.loads(text)["comparisons"][0]["decision"] == "effect"


def test_the_family_wise_error_stays_at_alpha_under_the_null():
    """400 null studies of 3 comparisons (t-distributed noise): any false effect in at most α + 3 s.e."""
    rng = np.random.default_rng(11)
    design = Design(min_seeds=5, wave=5, max_seeds=15, futility=0.1)
    false = sum(
        any(
            c.decision == "effect"
            for c in decide({k: rng.standard_t(5, 15) for k in "abc"}, design, stop_early=True).comparisons
        )
        for _ in range(400)
    )
    assert false / 400 <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 400)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"alpha": 1.0}, "alpha must lie strictly between 0 and 1"),
        ({"min_seeds": 2}, "min_seeds must be an integer >= 3, got 2"),
        ({"min_seeds": 10, "max_seeds": 5}, "max_seeds must be an integer >= 10, got 5"),
        ({"wave": 0}, "wave must be an integer >= 1, got 0"),
        ({"spending": "x"}, "unknown spending function"),
        ({"futility": 1.0}, "futility must be a conditional power in"),
        ({"correction": "fdr"}, "correction must be holm or bonferroni"),
    ],
)
def test_bad_designs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Design(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="no comparisons"):
        decide({})
    with pytest.raises(ValueError, match="the same seeds for all"):
        decide({"A": np.ones(5), "B": np.ones(6)})
    with pytest.raises(ValueError, match="exceed the design's max_seeds = 20"):
        decide({"A": np.ones(21)})
    with pytest.raises(ValueError, match="looks must be increasing"):
        decide({"A": np.ones(10)}, looks=[10, 5])
    assert Design(max_seeds=40).looks() == [10, 15, 20, 25, 30, 35, 40]
    assert Design(min_seeds=5, max_seeds=12).looks() == [5, 10, 12]


def test_consecutive_differences_from_a_per_seed_table(tiny_csv):
    from analysis.data import load_per_seed_csv

    df = load_per_seed_csv(tiny_csv)
    d = consecutive_differences(df, ["A", "B"], ["test_theta_l1", "convergence_step"], seeds=[2, 0, 1])
    assert list(d) == ["B vs A: test_theta_l1", "B vs A: convergence_step"]
    np.testing.assert_allclose(d["B vs A: test_theta_l1"], [0.2, 0.1, 0.2])  # seeds 2, 0, 1
    np.testing.assert_array_equal(d["B vs A: convergence_step"], [np.nan, -480.0, np.nan])
    with pytest.raises(ValueError, match="seed\\(s\\) 7 have no run"):
        consecutive_differences(df, ["A", "B"], ["test_theta_l1"], seeds=[0, 7])

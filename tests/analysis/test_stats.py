import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from analysis import stats


# --- CIs ----------------------------------------------------------------------------------------------
def test_paper_z_half_width_hand_worked():
    # x = 1, 2, 3, 4: mean 2.5, population variance (1.5² + 0.5² + 0.5² + 1.5²) / 4 = 1.25
    # half-width = 1.96 * sqrt(1.25) / sqrt(4) = 0.98 * 1.1180340 = 1.0956733
    assert stats.paper_z_half_width([1, 2, 3, 4]) == pytest.approx(0.98 * math.sqrt(1.25), rel=1e-12)


def test_t_half_width_hand_worked_and_matches_scipy_interval():
    # sample variance 5/3, sem = sqrt(5/3)/2 = 0.6454972; t(0.975, 3) = 3.1824463
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert stats.t_half_width(x) == pytest.approx(3.1824463 * 0.6454972, rel=1e-6)
    low, high = sps.t.interval(0.95, 3, loc=x.mean(), scale=sps.sem(x))
    assert stats.t_half_width(x) == pytest.approx((high - low) / 2, rel=1e-12)


def test_paper_z_is_about_nine_percent_narrower_than_t_at_n20():
    # notes: z/ddof=0 is "about 9 % narrower than a Student-t interval at n = 20";
    # the ratio does not depend on the data: 1.96 * sqrt(19/20) / t(0.975, 19)
    x = np.random.default_rng(0).normal(size=20)
    ratio = stats.paper_z_half_width(x) / stats.t_half_width(x)
    assert ratio == pytest.approx(1.96 * math.sqrt(19 / 20) / sps.t.ppf(0.975, 19), rel=1e-12)
    assert 1 - ratio == pytest.approx(0.087, abs=0.005)


def test_mean_ci_single_value_has_no_ci():
    for method in stats.CI_METHODS:
        est = stats.mean_ci([0.42], method, rng=np.random.default_rng(0))
        assert est.mean == 0.42 and est.n == 1 and math.isnan(est.half_width)


def test_mean_ci_methods_and_interval_ends():
    x = [1.0, 2.0, 3.0, 4.0]
    z = stats.mean_ci(x, "paper-z")
    assert (z.mean, z.n, z.method) == (2.5, 4, "paper-z")
    assert z.low == pytest.approx(2.5 - z.half_width) and z.high == pytest.approx(2.5 + z.half_width)
    t = stats.mean_ci(x, "t")
    assert t.half_width == pytest.approx(stats.t_half_width(x))


def test_mean_ci_rejects_unknown_method_and_missing_rng():
    with pytest.raises(ValueError, match="unknown CI method 'normal'"):
        stats.mean_ci([1, 2], "normal")
    with pytest.raises(ValueError, match="Generator"):
        stats.mean_ci([1, 2], "bootstrap")


@pytest.mark.parametrize("bad, message", [([], "empty"), ([1.0, math.nan], "non-finite"), ([[1.0, 2.0]], "1-D")])
def test_mean_ci_rejects_bad_values(bad, message):
    with pytest.raises(ValueError, match=message):
        stats.mean_ci(bad)


def test_bootstrap_two_points_hand_worked():
    # resample means of {0, 1} (n = 2) are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4:
    # the 2.5 % and 97.5 % percentiles are 0 and 1 -> half-width 0.5
    est = stats.mean_ci([0.0, 1.0], "bootstrap", rng=np.random.default_rng(1), n_resamples=4000)
    assert (est.low, est.high, est.half_width) == (0.0, 1.0, 0.5)


def test_bootstrap_constant_values_has_zero_width():
    est = stats.mean_ci([3.0, 3.0, 3.0], "bootstrap", rng=np.random.default_rng(0))
    assert est.half_width == 0.0 and est.mean == 3.0


def test_bootstrap_is_reproducible_from_the_generator_seed():
    x = np.random.default_rng(5).normal(size=15)
    a = stats.bootstrap_interval(x, np.random.default_rng(7))
    b = stats.bootstrap_interval(x, np.random.default_rng(7))
    c = stats.bootstrap_interval(x, np.random.default_rng(8))
    assert a == b and a != c


def test_bootstrap_agrees_with_scipy_percentile_bootstrap():
    x = np.random.default_rng(11).normal(loc=5, scale=2, size=20)
    ours = stats.bootstrap_interval(x, np.random.default_rng(0), n_resamples=20_000)
    ref = sps.bootstrap(
        (x,), np.mean, method="percentile", n_resamples=20_000, rng=np.random.default_rng(1)
    ).confidence_interval
    width = ref.high - ref.low
    assert ours[0] == pytest.approx(ref.low, abs=0.05 * width)
    assert ours[1] == pytest.approx(ref.high, abs=0.05 * width)


# --- paired statistics --------------------------------------------------------------------------------
def test_paired_difference_hand_worked():
    # a = 1, 2, 3; b = 2, 4, 5 -> d = 1, 2, 2; mean 5/3; sample sd = sqrt(1/3)
    # t = (5/3) / (sqrt(1/3) / sqrt(3)) = 5; two-sided p with 2 dof = 1 - 5 / sqrt(27) = 0.0377509
    # d_z = (5/3) / sqrt(1/3) = 2.8867513; CI half-width = t(0.975, 2) * 1/3 = 4.3026527 / 3
    r = stats.paired_difference([1, 2, 3], [2, 4, 5])
    assert r.delta.mean == pytest.approx(5 / 3)
    assert r.p_value == pytest.approx(1 - 5 / math.sqrt(27), rel=1e-9)
    assert r.d_z == pytest.approx(5 / 3 / math.sqrt(1 / 3))
    assert r.delta.half_width == pytest.approx(4.3026527 / 3, rel=1e-7)
    assert r.delta.method == "t"


def test_paired_t_pvalue_matches_ttest_rel_argument_order():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=12), rng.normal(0.3, 1, size=12)
    assert stats.paired_t_pvalue(a, b) == pytest.approx(sps.ttest_rel(b, a).pvalue, rel=1e-12)


def test_paired_t_pvalue_undefined_cases_are_nan():
    assert math.isnan(stats.paired_t_pvalue([1.0], [2.0]))
    assert math.isnan(stats.paired_t_pvalue([1, 2, 3], [2, 3, 4]))  # all differences equal


def test_wilcoxon_hand_worked_exact():
    # d = 1..5, all positive: the exact null distribution puts 1/32 on W+ = 15; two-sided p = 2/32
    assert stats.wilcoxon_pvalue([0] * 5, [1, 2, 3, 4, 5]) == pytest.approx(0.0625)
    assert math.isnan(stats.wilcoxon_pvalue([1, 2], [1, 2]))


def test_wilcoxon_matches_scipy():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=20), rng.normal(0.5, 1, size=20)
    assert stats.wilcoxon_pvalue(a, b) == pytest.approx(sps.wilcoxon(b - a).pvalue)


def test_cohens_dz_edge_cases():
    assert math.isnan(stats.cohens_dz([2.0]))
    assert math.isnan(stats.cohens_dz([2.0, 2.0, 2.0]))
    assert stats.cohens_dz([-1.0, -3.0]) == pytest.approx(-2 / math.sqrt(2))


def test_paired_arrays_must_have_same_length():
    with pytest.raises(ValueError, match="differ in length: 2 vs 3"):
        stats.paired_difference([1, 2], [1, 2, 3])


def test_holm_hand_worked_and_nan_passthrough():
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1 -> 0.03, 0.06, 0.04 -> running max 0.03, 0.06, 0.06
    out = stats.adjust_pvalues([0.01, math.nan, 0.04, 0.03])
    assert out[0] == pytest.approx(0.03) and math.isnan(out[1])
    assert out[2] == pytest.approx(0.06) and out[3] == pytest.approx(0.06)


def test_adjust_pvalues_matches_statsmodels():
    p = np.random.default_rng(9).random(9) ** 3
    for method in ("holm", "bonferroni"):
        np.testing.assert_allclose(stats.adjust_pvalues(p, method), multipletests(p, method=method)[1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.adjust_pvalues([0.5, 1.5])


def test_convergence_rate():
    assert stats.convergence_rate([96, math.nan, 192, math.nan]) == 0.5
    with pytest.raises(ValueError):
        stats.convergence_rate([])


def test_curve_band_hand_worked():
    # column 0: seeds 1 and 3 -> mean 2, population sd 1, sample sd sqrt(2)
    # column 1: one seed only -> no band
    values = [[1.0, 2.0], [3.0, math.nan]]
    mean, hw, n = stats.curve_band(values, "paper-z")
    assert mean.tolist() == [2.0, 2.0] and n.tolist() == [2, 1]
    assert hw[0] == pytest.approx(1.96 / math.sqrt(2)) and math.isnan(hw[1])
    _, hw_t, _ = stats.curve_band(values, "t")
    assert hw_t[0] == pytest.approx(sps.t.ppf(0.975, 1))  # t * sqrt(2) / sqrt(2)


def test_curve_band_matches_mean_ci_per_column():
    rng = np.random.default_rng(6)
    values = rng.random((5, 7))
    values[1, 3] = math.nan
    mean, hw, n = stats.curve_band(values, "t")
    for j in range(7):
        col = values[:, j][np.isfinite(values[:, j])]
        est = stats.mean_ci(col, "t")
        assert mean[j] == pytest.approx(est.mean) and hw[j] == pytest.approx(est.half_width)
    with pytest.raises(ValueError, match="bands support"):
        stats.curve_band(values, "bootstrap")


def test_check_ci_is_the_one_ci_argument_check():
    stats.check_ci("t")
    stats.check_ci("bootstrap", np.random.default_rng(0))
    stats.check_ci("bootstrap", need_rng=False)
    with pytest.raises(ValueError, match=r"^unknown CI method 'z'; expected one of paper-z, t, bootstrap$"):
        stats.check_ci("z", np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"^the bootstrap CI needs a numpy.random.Generator \(rng=...\)$"):
        stats.check_ci("bootstrap")


# --- the test chosen by its assumption (autorank's two-stage choice) ---------------------------------
def test_choose_paired_test_hand_worked():
    a = np.zeros(8)
    near_normal = np.array([-1.2, -0.4, 0.1, 0.3, 0.6, 0.9, 1.4, 2.0])
    c = stats.choose_paired_test(a, near_normal)
    assert c.test == "t" and c.shapiro_p == pytest.approx(sps.shapiro(near_normal).pvalue) and c.shapiro_p > 0.05
    assert c.p_value == pytest.approx(sps.ttest_rel(near_normal, a).pvalue)
    outlier = np.array([0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.5, 9.0])  # Shapiro-Wilk rejects: W far below 1
    c = stats.choose_paired_test(a, outlier)
    assert c.test == "wilcoxon" and c.shapiro_p < 0.01
    assert c.p_value == pytest.approx(2 / 2**8)  # exact: every difference positive, 2 of 256 sign patterns
    forced = stats.choose_paired_test(a, outlier, "t")
    assert forced.test == "t" and math.isnan(forced.shapiro_p)
    assert forced.p_value == pytest.approx(sps.ttest_rel(outlier, a).pvalue)
    assert stats.choose_paired_test(a, near_normal, "wilcoxon").p_value == pytest.approx(
        sps.wilcoxon(near_normal).pvalue
    )


def test_choose_paired_test_keeps_t_where_shapiro_is_undefined():
    assert stats.choose_paired_test([0.0, 0.0], [1.0, 3.0]).test == "t"  # n = 2 < 3
    c = stats.choose_paired_test(np.zeros(5), np.ones(5))
    assert c.test == "t" and math.isnan(c.shapiro_p) and math.isnan(c.p_value)
    with pytest.raises(ValueError, match="test must be one of t, wilcoxon, auto"):
        stats.choose_paired_test([0.0], [1.0], "welch")


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.normal(size=n),
        lambda rng, n: rng.standard_t(3, size=n),
        lambda rng, n: rng.choice([-1.0, 1.0], size=n) * rng.normal(2.0, 0.5, size=n),  # bimodal, symmetric
    ],
    ids=["normal", "t3", "bimodal"],
)
def test_two_stage_choice_keeps_type_one_error_at_alpha_by_simulation(draw):
    """Under the paired null the differences are symmetric about 0; 3000 studies of 20 pairs: the rate at
    which the two-stage choice rejects at 0.05 stays within 3 Monte-Carlo standard errors of α or below."""
    rng = np.random.default_rng(2026)
    n_sims, n, alpha = 3000, 20, 0.05
    zeros = np.zeros(n)
    rejected = sum(stats.choose_paired_test(zeros, draw(rng, n)).p_value < alpha for _ in range(n_sims))
    se = math.sqrt(alpha * (1 - alpha) / n_sims)
    assert rejected / n_sims <= alpha + 3 * se, rejected / n_sims

import math

import pytest
from statsmodels.stats.power import TTestPower

from analysis import power


def test_notes_claim_56_percent_power_at_dz_half_with_20_seeds():
    p = power.achieved_power(0.5, 20, 0.05)
    assert p == pytest.approx(TTestPower().power(effect_size=0.5, nobs=20, alpha=0.05), rel=1e-12)
    assert p == pytest.approx(0.56, abs=0.01)


def test_seeds_needed_is_the_smallest_sufficient_n():
    # d_z = 0.5 at alpha 0.05: the textbook answer for a paired t-test at 80 % power is 34
    n = power.seeds_needed(0.5, 0.05, 0.8)
    assert n == 34
    assert power.achieved_power(0.5, n, 0.05) >= 0.8 > power.achieved_power(0.5, n - 1, 0.05)
    assert power.seeds_needed(-0.5, 0.05, 0.8) == 34  # sign does not matter


def test_seeds_needed_matches_solve_power_at_adjusted_alpha():
    alpha = power.adjusted_alpha(0.05, 9, "holm")
    assert alpha == pytest.approx(0.05 / 9)
    raw = TTestPower().solve_power(effect_size=0.8, alpha=alpha, power=0.8)
    assert power.seeds_needed(0.8, alpha, 0.8) == math.ceil(raw)


def test_large_effect_power_is_finite():
    # scipy's nct.cdf returns NaN far in the lower tail; the fallback must give the upper-tail power
    p = power.achieved_power(1.59, 20, 0.05 / 9)
    assert 0.999 < p <= 1.0
    assert power.seeds_needed(3.0, 0.05 / 9, 0.8) >= 2


def test_no_effect_and_bad_arguments():
    assert power.seeds_needed(0.0, 0.05) is None
    assert power.seeds_needed(math.nan, 0.05) is None
    assert power.adjusted_alpha(0.05, 4, "none") == 0.05
    with pytest.raises(ValueError, match="alpha"):
        power.adjusted_alpha(1.5, 2)
    with pytest.raises(ValueError, match="unknown correction"):
        power.adjusted_alpha(0.05, 2, "sidak")
    with pytest.raises(ValueError, match="power"):
        power.seeds_needed(0.5, 0.05, 1.2)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        power.achieved_power(0.5, 1, 0.05)


def test_extreme_effects():
    # d_z = 0.01 at alpha 0.05/9 needs about 130 000 seeds: beyond MAX_SEEDS -> None, not a crash
    assert power.seeds_needed(0.01, 0.05 / 9) is None
    # solve_power's root finder fails (NaN) for d_z = 50; the bisection gives the minimum, 2 pairs...
    # ...unless even 2 pairs are not enough at a tiny alpha, in which case it is still small
    n = power.seeds_needed(50.0, 0.05 / 9)
    assert n is not None and 2 <= n <= 4 and power.achieved_power(50.0, n, 0.05 / 9) >= 0.8


def test_no_nan_far_beyond_the_answer():
    # scipy's non-central t gives NaN for both tails at d_z = 0.5, n = 6446; the power is 1 there
    alpha = 0.05 / 9
    assert power.achieved_power(0.5, 6446, alpha) == 1.0
    # the search must not be fooled by such points: 57 = ceil(solve_power) = 56.13 rounded up
    assert power.seeds_needed(0.5, alpha) == math.ceil(
        TTestPower().solve_power(effect_size=0.5, alpha=alpha, power=0.8)
    )
    assert power.seeds_needed(0.04, alpha) == 8170

"""analysis.group_sequential: Lan–DeMets spending and two-sided boundaries, against hand-worked values,
published boundaries and scipy's multivariate normal."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from analysis.group_sequential import boundaries, check_spending, crossing_probabilities, spent


def test_spending_functions_hand_worked():
    # O'Brien–Fleming type: 2 − 2Φ(1.959964 / sqrt(0.25)) = 2 Φ(−3.919928) = 2 × 4.42877e-05
    assert spent(0.25, 0.05, "obf") == pytest.approx(8.85754e-05, rel=1e-5)
    assert spent(1.0, 0.05, "obf") == pytest.approx(0.05, rel=1e-12)
    # Pocock type: 0.05 ln(1 + (e − 1) / 2) = 0.05 × 0.620115 = 0.0310058
    assert spent(0.5, 0.05, "pocock") == pytest.approx(0.0310058, rel=1e-5)
    # Hwang–Shih–DeCani, gamma = −4: 0.05 (1 − e^{2}) / (1 − e^{4}) = 0.05 × 0.119203 = 0.00596015
    assert spent(0.5, 0.05, "hsd:-4") == pytest.approx(0.00596015, rel=1e-5)
    assert spent(0.0, 0.05) == 0.0 and spent(1.7, 0.05) == pytest.approx(0.05)


def test_one_look_is_the_fixed_sample_test_and_the_first_look_is_exact():
    assert boundaries([1.0], 0.05)[0] == pytest.approx(1.959964, abs=1e-6)
    b = boundaries([0.3, 0.7, 1.0], 0.01, "obf")
    assert b[0] == pytest.approx(sps.norm.isf(spent(0.3, 0.01) / 2), rel=1e-10)


def test_pocock_type_boundaries_match_the_published_values():
    # Lan–DeMets Pocock-type spending, 5 equally spaced looks, two-sided alpha 0.05
    # (Jennison & Turnbull 2000, ch. 7; the same as R gsDesign sfLDPocock)
    published = [2.4380, 2.4268, 2.4101, 2.3966, 2.3859]
    np.testing.assert_allclose(boundaries([0.2, 0.4, 0.6, 0.8, 1.0], 0.05, "pocock"), published, atol=2e-4)


@pytest.mark.parametrize("spending", ["obf", "pocock", "hsd:-2"])
def test_spent_alpha_matches_scipy_multivariate_normal(spending):
    times = [0.25, 0.6, 1.0]
    b = boundaries(times, 0.05, spending)
    cov = np.sqrt(np.minimum.outer(times, times) / np.maximum.outer(times, times))
    for k in range(1, len(times) + 1):
        # P(no crossing up to look k) = 1 − α(t_k), by an independent integration (Genz QMC)
        mvn = sps.multivariate_normal(
            mean=np.zeros(k), cov=cov[:k, :k], seed=0, abseps=1e-7, releps=1e-7, maxpts=2_000_000
        )
        stay = mvn.cdf(b[:k], lower_limit=-b[:k])
        assert stay == pytest.approx(1 - spent(times[k - 1], 0.05, spending), abs=3e-5)


def test_crossing_probabilities_add_up_to_alpha_and_give_power():
    times = np.arange(1, 9) / 8
    b = boundaries(times, 0.05 / 9)
    assert crossing_probabilities(times, b).sum() == pytest.approx(0.05 / 9, rel=1e-6)
    # one look with drift delta: power = Φ(delta − c) + Φ(−delta − c)
    c = boundaries([1.0], 0.05)[0]
    assert crossing_probabilities([1.0], [c], drift=2.5)[0] == pytest.approx(
        sps.norm.cdf(2.5 - c) + sps.norm.cdf(-2.5 - c), rel=1e-9
    )


def test_boundaries_decrease_under_obf_and_tiny_spending_gives_a_large_bound():
    b = boundaries(np.arange(1, 9) / 8, 0.05 / 9)
    assert np.all(np.diff(b) < 0) and b[0] > 7.5 and math.isfinite(b[0])


@pytest.mark.parametrize("name", ["ob", "hsd:0", "hsd:x", ""])
def test_bad_spending_names(name):
    with pytest.raises(ValueError, match="unknown spending function"):
        check_spending(name)


@pytest.mark.parametrize("times", [[], [0.5, 0.5], [0.6, 0.4], [0.0, 1.0], [0.5, 1.2]])
def test_bad_information_fractions(times):
    with pytest.raises(ValueError, match="information fractions"):
        boundaries(times, 0.05)

import math

import numpy as np
import pytest

from analysis.curves import convergence_step, summarize_curve, total_variation
from analysis.schema import CONVERGENCE_STEP, VAL_TOTAL_VARIATION


def test_total_variation_divides_by_number_of_points():
    # |0.1 - 0.3| + |0.2 - 0.1| = 0.3 over n = 3 points -> 0.1 (not 0.3 / 2 = 0.15)
    assert total_variation([0.3, 0.1, 0.2]) == pytest.approx(0.1, abs=1e-15)
    # two points: |0.2 - 0.5| / 2 = 0.15
    assert total_variation(np.array([0.5, 0.2])) == pytest.approx(0.15, abs=1e-15)


def test_total_variation_flat_and_single_point_are_zero():
    assert total_variation([0.7, 0.7, 0.7, 0.7]) == 0.0
    assert total_variation([0.42]) == 0.0


def test_total_variation_matches_the_formula_on_random_curve():
    y = np.random.default_rng(3).random(57)
    assert total_variation(y) == pytest.approx(np.abs(np.diff(y)).sum() / 57, rel=1e-12)


@pytest.mark.parametrize(
    "bad, message",
    [([], "empty"), ([[0.1, 0.2]], "1-D"), ([0.1, math.nan], "non-finite"), ([0.1, math.inf], "non-finite")],
)
def test_total_variation_rejects_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        total_variation(bad)


def test_convergence_step_is_first_step_at_or_below_threshold():
    # 0.1 counts as converged (the paper's "L1 < 100 %" is L1 <= 0.1)
    assert convergence_step([96, 192, 288], [0.3, 0.1, 0.05]) == 192
    # the first crossing wins even if the curve goes back up
    assert convergence_step([96, 192, 288, 384], [0.09, 0.2, 0.3, 0.05]) == 96


def test_convergence_step_none_when_never_reached():
    assert convergence_step([96, 192, 288], [0.3, 0.1000001, 0.2]) is None


def test_convergence_step_custom_threshold_and_int_type():
    step = convergence_step(np.array([10.0, 20.0, 30.0]), [0.5, 0.4, 0.3], threshold=0.4)
    assert step == 20 and isinstance(step, int)


@pytest.mark.parametrize(
    "steps, values, message",
    [
        ([96, 192], [0.1], "differ in length"),
        ([96, 96], [0.3, 0.2], "strictly increasing"),
        ([192, 96], [0.3, 0.2], "step 192 is followed by 96"),
        ([96, 192], [0.3, math.nan], "non-finite"),
    ],
)
def test_convergence_step_rejects_bad_input(steps, values, message):
    with pytest.raises(ValueError, match=message):
        convergence_step(steps, values)


def test_summarize_curve_uses_schema_names_and_omits_unconverged_step():
    # TV = (0.2 + 0.1) / 3 = 0.1; first value <= 0.1 is at step 200
    out = summarize_curve([100, 200, 300], [0.3, 0.1, 0.2])
    assert out == {VAL_TOTAL_VARIATION: pytest.approx(0.1), CONVERGENCE_STEP: 200.0}
    never = summarize_curve([100, 200], [0.3, 0.2])
    assert set(never) == {VAL_TOTAL_VARIATION}
    assert never[VAL_TOTAL_VARIATION] == pytest.approx(0.05)

import math

import pytest

from analysis.formatting import (
    cell_text,
    format_dz,
    format_int,
    format_p,
    format_p_bare,
    format_rate,
    format_sig,
    format_value_ci,
    scale,
)


@pytest.mark.parametrize(
    "x, digits, expected",
    [
        (99.7, 3, "99.7"),
        (8.2, 2, "8.2"),
        (5.3, 3, "5.30"),
        (0.25, 2, "0.25"),
        (87.44, 3, "87.4"),
        (-12.34, 3, "-12.3"),
        (16.9, 2, "17"),
        (-3.5249, 3, "-3.52"),
        (0.1812, 2, "0.18"),
        (-2897.0, 3, "-2900"),
        (1778.0, 2, "1800"),
        (0.0249, 2, "0.025"),
        (0.2, 2, "0.20"),
        (9.96, 2, "10"),
        (102.37, 3, "102"),
        (-0.18751, 3, "-0.188"),
        (0.0, 3, "0.00"),
        (-0.0, 3, "0.00"),
        (123456.0, 3, "123000"),
    ],
)
def test_format_sig(x, digits, expected):
    assert format_sig(x, digits) == expected


def test_format_sig_non_finite_and_bad_digits():
    assert format_sig(math.nan, 3) == "n/a"
    with pytest.raises(ValueError):
        format_sig(1.0, 0)


@pytest.mark.parametrize(
    "x, expected", [(10906.4, "10906"), (1169.5, "1170"), (-0.4, "0"), (-2.5, "-3"), (672.0, "672")]
)
def test_format_int_rounds_half_away_from_zero(x, expected):
    assert format_int(x) == expected


@pytest.mark.parametrize(
    "p, expected",
    [
        (0.151, "p = 0.15"),
        (0.0099, "p < 0.01"),
        (0.01, "p = 0.01"),
        (1e-12, "p < 0.01"),
        (0.2649, "p = 0.26"),
        (math.nan, "p = n/a"),
    ],
)
def test_format_p(p, expected):
    assert format_p(p) == expected


def test_format_p_bare_rate_dz():
    assert format_p_bare(0.004) == "< 0.01" and format_p_bare(0.3) == "0.30"
    assert format_rate(0.6) == "60%" and format_rate(0.95) == "95%" and format_rate(2 / 3) == "67%"
    assert format_dz(-0.3333) == "-0.33" and format_dz(-0.001) == "0.00" and format_dz(math.nan) == "n/a"


# The notes' example cells, from unrounded inputs, through the same functions the tables use.
def test_table2_example_cells():
    assert cell_text(*format_value_ci(scale(0.09972), scale(0.00821), "value")) == "99.7 ± 8.2"
    assert cell_text(*format_value_ci(scale(0.0053), scale(0.000249), "value")) == "5.30 ± 0.25"
    assert cell_text(*format_value_ci(10906.2, 1170.4, "steps")) == "10906 ± 1170"


def test_table6_example_cells():
    assert cell_text(format_sig(-12.34, 3), format_sig(16.8, 2), format_p(0.1496)) == "-12.3 ± 17 (p = 0.15)"
    assert cell_text(format_sig(-3.521, 3), format_sig(0.1797, 2), format_p(1e-9)) == "-3.52 ± 0.18 (p < 0.01)"
    assert cell_text(format_sig(-2903.4, 3), format_sig(1778.0, 2), format_p(0.0004)) == "-2900 ± 1800 (p < 0.01)"


def test_single_run_has_no_ci():
    assert format_value_ci(42.4, math.nan, "value") == ("42.4", None)
    assert cell_text(*format_value_ci(1442.0, math.nan, "steps")) == "1442"
    with pytest.raises(ValueError, match="unknown kind"):
        format_value_ci(1.0, 1.0, "percent")


def test_cell_text_with_note():
    assert cell_text("-480", None, "p = n/a", "1/3 pairs") == "-480 (p = n/a; 1/3 pairs)"

import json
import math

import numpy as np
import pytest

from analysis import theta_is, theta_is_range
from analysis.render import to_csv
from analysis.theta_is_range import RangeRow, range_mass

# A hand-made table of P = 8 paths: (spin, rate Hz, scale cycles/octave) -> FM = rate / scale oct/s
#   0: spin 0, 4 Hz            (no FM centre)
#   1: +1, 4 Hz, 2   -> FM 2     2: -1, 4 Hz, 2  -> FM 2
#   3: +1, 4 Hz, 0.5 -> FM 8     4: +1, 1 Hz, 1  -> FM 1
#   5: -1, 1 Hz, 0.5 -> FM 2     6: +1, 8 Hz, 4  -> FM 2
#   7: -1, 16 Hz, 1  -> FM 16
ROWS = [(0, 4.0, 0.0), (1, 4.0, 2.0), (-1, 4.0, 2.0), (1, 4.0, 0.5), (1, 1.0, 1.0), (-1, 1.0, 0.5), (1, 8.0, 4.0)]
ROWS.append((-1, 16.0, 1.0))
PI = np.array([0.2, 0.15, 0.25, 0.1, 0.05, 0.05, 0.1, 0.1])


@pytest.fixture
def table(tmp_path):
    entries = [
        {"index": i, "n2": i, "n_fr": i % 3, "spin": s, "j2": 1, "rate_hz": r, "scale_cyc_per_oct": c}
        for i, (s, r, c) in enumerate(ROWS)
    ]
    entries.reverse()  # the loader sorts by index
    (tmp_path / "paths.json").write_text(json.dumps(entries))
    return theta_is.load_path_table(tmp_path / "paths.json", n_paths=PI.size)


def test_path_centres(table):
    am, fm = theta_is_range.path_centres(table)
    assert am.tolist() == [4, 4, 4, 4, 1, 1, 8, 16]
    assert math.isnan(fm[0])
    assert fm[1:].tolist() == [2, 2, 8, 1, 2, 2, 16]


def test_mass_inside_hand_worked(table):
    # AM 3-5 Hz x FM 1.5-3 oct/s, no widening: paths 1 and 2 (AM 4, FM 2)
    r = range_mass(PI, table, am_hz=(3, 5), fm_oct_per_s=(1.5, 3), widen_oct=0)
    assert r.inside.tolist() == [1, 2] and r.k == 2 and r.P == 8
    assert r.mass == pytest.approx(0.4)
    assert r.uniform_share == pytest.approx(0.25)
    assert r.ratio == pytest.approx(1.6)  # 0.4 / 0.25
    assert r.mean_ratio_inside == pytest.approx(1.6)  # 8 * (0.15 + 0.25) / 2
    assert r.mean_ratio_outside == pytest.approx(0.8)  # 8 * 0.6 / 6
    d = r.as_dict()
    assert d["k"] == 2 and d["inside"] == [1, 2] and d["spins"] == [-1, 1]


def test_one_spin(table):
    r = range_mass(PI, table, am_hz=(3, 5), fm_oct_per_s=(1.5, 3), widen_oct=0, spins=(1,))
    assert r.inside.tolist() == [1]
    assert r.ratio == pytest.approx(0.15 / 0.125)
    assert r.mean_ratio_outside == pytest.approx(8 * 0.85 / 7)


def test_bounds_inclusive_and_widening(table):
    # the bounds are inclusive: AM 4-8 x FM 2-2.5 holds paths 1, 2 (4 Hz) and 6 (8 Hz)
    assert range_mass(PI, table, am_hz=(4, 8), fm_oct_per_s=(2, 2.5), widen_oct=0).inside.tolist() == [1, 2, 6]
    # AM 4.5-6.5: nothing without widening
    empty = range_mass(PI, table, am_hz=(4.5, 6.5), fm_oct_per_s=(1.5, 3), widen_oct=0)
    assert empty.k == 0 and empty.mass == 0 and math.isnan(empty.ratio) and math.isnan(empty.mean_ratio_inside)
    assert empty.mean_ratio_outside == pytest.approx(1.0)
    # q2 = 2: widened 1/4 octave, 4.5 / 2**0.25 = 3.78 <= 4 and 6.5 * 2**0.25 = 7.73 < 8 -> paths 1, 2
    r2 = range_mass(PI, table, am_hz=(4.5, 6.5), fm_oct_per_s=(1.5, 3), q2=2)
    assert r2.widen_oct == 0.25 and r2.inside.tolist() == [1, 2]
    # q2 = 1: 1/2 octave, 6.5 * 2**0.5 = 9.19 >= 8 -> path 6 too
    r1 = range_mass(PI, table, am_hz=(4.5, 6.5), fm_oct_per_s=(1.5, 3), q2=1)
    assert r1.inside.tolist() == [1, 2, 6] and r1.mass == pytest.approx(0.5)
    # an explicit widening of one octave: AM 1.5-10 x FM 0.75-6 -> 1, 2, 6 (3 has FM 8)
    r = range_mass(PI, table, am_hz=(3, 5), fm_oct_per_s=(1.5, 3), widen_oct=1.0)
    assert r.inside.tolist() == [1, 2, 6] and r.ratio == pytest.approx(0.5 / 0.375)


def test_spin_zero_is_never_inside(table):
    r = range_mass(PI, table, am_hz=(0.1, 100), fm_oct_per_s=(0.1, 100), widen_oct=0)
    assert r.inside.tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert r.mass == pytest.approx(0.8) and r.mean_ratio_outside == pytest.approx(1.6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(am_hz=(2, 1)), "am_hz must satisfy 0 < lo < hi"),
        (dict(am_hz=(0, 1)), "am_hz must satisfy 0 < lo < hi"),
        (dict(fm_oct_per_s=(1, float("nan"))), "fm_oct_per_s must satisfy"),
        (dict(fm_oct_per_s=(1,)), "fm_oct_per_s must be a pair"),
        (dict(widen_oct=-0.5), "widen_oct must be >= 0"),
        (dict(widen_oct=None), "give widen_oct (octaves) or q2"),
        (dict(widen_oct=None, q2=0), "q2 must be a positive integer"),
        (dict(spins=(0,)), "spins must be a non-empty subset of (-1, 1)"),
        (dict(spins=()), "spins must be a non-empty subset"),
    ],
)
def test_bad_input_named(table, kwargs, message):
    args = dict(am_hz=(3, 5), fm_oct_per_s=(1.5, 3), widen_oct=0.0) | kwargs
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        range_mass(PI, table, **args)


def test_bad_pi_or_table(table):
    with pytest.raises(ValueError, match="π has 7 probabilities but the path table has 8 paths"):
        range_mass(np.full(7, 1 / 7), table, am_hz=(3, 5), fm_oct_per_s=(1, 2), widen_oct=0)
    with pytest.raises(ValueError, match="sums to"):
        range_mass(PI * 2, table, am_hz=(3, 5), fm_oct_per_s=(1, 2), widen_oct=0)
    with pytest.raises(ValueError, match="table lacks the key"):
        range_mass(PI, {"index": table["index"]}, am_hz=(3, 5), fm_oct_per_s=(1, 2), widen_oct=0)


def test_parse_range():
    assert theta_is_range.parse_range("0.5, 1", "--fm-range") == (0.5, 1.0)
    for text in ("2,1", "1", "a,b", "1,2,3", ","):
        with pytest.raises(ValueError, match="--am-range"):
            theta_is_range.parse_range(text, "--am-range")


def test_infer_q2(table):
    assert theta_is_range.infer_q2(table) == 1  # rates 1, 4, 8, 16: median step 1 octave
    half = dict(table, rate_hz=2.0 ** (-0.5 * np.arange(8)))
    assert theta_is_range.infer_q2(half) == 2
    odd = dict(table, rate_hz=2.0 ** (-0.4 * np.arange(8)))
    with pytest.raises(ValueError, match="not 1/Q2"):
        theta_is_range.infer_q2(odd)


def test_markdown_table(table, tmp_path):
    rows = [RangeRow("a", PI, table, (3, 5), (1.5, 3)), RangeRow("b", PI, table, (4.5, 6.5), (1.5, 3))]
    out = tmp_path / "mass.md"
    text = theta_is_range.range_markdown(rows, out, widen_oct=0)
    assert out.read_text() == text
    lines = text.splitlines()
    assert lines[2] == (
        "| Config | AM range (Hz) | FM range (oct/s) | Paths inside k/P | π mass inside | Uniform share k/P "
        "| Ratio mass/(k/P) | Mean P·π inside | Mean P·π outside |"
    )
    assert lines[4] == "| a | 3–5 | 1.5–3 | 2/8 | 0.4 | 0.25 | 1.6 | 1.6 | 0.8 |"
    assert lines[5] == "| b | 4.5–6.5 | 1.5–3 | 0/8 | 0 | 0 | – | – | 1 |"
    assert "widened by 0 octave" in lines[0] and "both spins" in lines[0]
    # the same table renders to CSV with the unrounded numbers
    assert "0.4" in to_csv(theta_is_range.range_table(rows, widen_oct=0))


def test_markdown_table_errors_name_the_config(table):
    with pytest.raises(ValueError, match="config 'bad': am_hz must satisfy"):
        theta_is_range.range_table([RangeRow("bad", PI, table, (5, 3), (1.5, 3))], widen_oct=0)
    with pytest.raises(ValueError, match="at least one row"):
        theta_is_range.range_table([], widen_oct=0)

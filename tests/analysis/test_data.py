import math

import numpy as np
import pandas as pd
import pytest

from analysis import data
from analysis.schema import CONVERGENCE_STEP, VAL_TOTAL_VARIATION

PER_SEED_HEADER = ["arm", "seed", "test_theta_l1", "val_total_variation", "convergence_step"]


def test_load_per_seed_types_and_missing_convergence(tiny_csv):
    df = data.load_per_seed_csv(tiny_csv)
    assert list(df.columns[:5]) == PER_SEED_HEADER
    assert df["seed"].dtype == np.int64 and df["test_theta_l1"].dtype == np.float64
    assert df["arm"].tolist() == ["A", "A", "A", "B", "B", "B", "J"]
    assert math.isnan(df.loc[2, CONVERGENCE_STEP]) and df.loc[0, CONVERGENCE_STEP] == 960.0


def test_missing_column_is_named(tmp_path, write_csv):
    path = write_csv(tmp_path / "x.csv", ["arm", "seed", "test_theta_l1"], [["A", 0, 0.1]])
    with pytest.raises(ValueError, match=r"x.csv: missing required column\(s\) 'val_total_variation', "
                                         r"'convergence_step' \(columns present: arm, seed, test_theta_l1\)"):
        data.load_per_seed_csv(path)


def test_non_numeric_values_name_line_and_value(tmp_path, write_csv):
    path = write_csv(tmp_path / "x.csv", PER_SEED_HEADER,
                     [["A", 0, 0.1, 0.004, 96], ["A", 1, "abc", 0.004, ""], ["A", 2, 0.1, "1e", "x"]])
    with pytest.raises(ValueError) as info:
        data.load_per_seed_csv(path)
    msg = str(info.value)
    assert "3 problems" in msg
    assert "column 'test_theta_l1' has non-numeric values: line 3 ('abc')" in msg
    assert "column 'val_total_variation' has non-numeric values: line 4 ('1e')" in msg
    assert "column 'convergence_step' has non-numeric values: line 4 ('x')" in msg


def test_duplicated_arm_seed_names_both_lines(tmp_path, write_csv):
    path = write_csv(tmp_path / "x.csv", PER_SEED_HEADER,
                     [["A", 0, 0.1, 0.004, 96], ["B", 0, 0.1, 0.004, 96], ["A", 0, 0.2, 0.004, 96]])
    with pytest.raises(ValueError, match=r"duplicated \(arm, seed\) runs: \(arm='A', seed=0\) at line 2, line 4"):
        data.load_per_seed_csv(path)


def test_same_arm_seed_in_two_presets_is_not_a_duplicate(tmp_path, write_csv):
    path = write_csv(tmp_path / "x.csv", ["preset"] + PER_SEED_HEADER,
                     [["c1", "A", 0, 0.1, 0.004, 96], ["c2", "A", 0, 0.2, 0.004, 96]])
    df = data.load_per_seed_csv(path)
    assert df["preset"].tolist() == ["c1", "c2"]
    with pytest.raises(ValueError, match="mix 2 presets \\(c1, c2\\); choose one with --preset"):
        data.select_preset(df, None)
    assert data.select_preset(df, "c2")["test_theta_l1"].tolist() == [0.2]
    with pytest.raises(ValueError, match="preset 'c3' has no runs; presets present: c1, c2"):
        data.select_preset(df, "c3")


@pytest.mark.parametrize("row, message", [
    (["A", 1.5, 0.1, 0.004, 96], "column 'seed' has non-integer values: line 2 ('1.5')"),
    (["A", "", 0.1, 0.004, 96], "column 'seed' has missing values: line 2"),
    (["", 0, 0.1, 0.004, 96], "column 'arm' has empty values: line 2"),
    (["A", 0, -0.1, 0.004, 96], "column 'test_theta_l1' has values below 0: line 2 ('-0.1')"),
    (["A", 0, 0.1, "", 96], "column 'val_total_variation' has missing values: line 2"),
    (["A", 0, "inf", 0.004, 96], "column 'test_theta_l1' has non-finite values: line 2 ('inf')"),
    (["A", 0, 0.1, 0.004, -96], "column 'convergence_step' has values below 0: line 2 ('-96')"),
])
def test_bad_values(tmp_path, row, message, write_csv):
    path = write_csv(tmp_path / "x.csv", PER_SEED_HEADER, [row])
    with pytest.raises(ValueError, match=f"x.csv: {message.replace('(', '[(]').replace(')', '[)]')}"):
        data.load_per_seed_csv(path)


def test_empty_inputs(tmp_path, write_csv):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.csv: the file is empty"):
        data.load_per_seed_csv(empty)
    header_only = write_csv(tmp_path / "h.csv", PER_SEED_HEADER, [])
    with pytest.raises(ValueError, match="h.csv: no runs"):
        data.load_per_seed_csv(header_only)
    with pytest.raises(ValueError, match="nope.csv: no such file"):
        data.load_per_seed_csv(tmp_path / "nope.csv")


def test_per_param_columns_are_validated(tmp_path, write_csv):
    path = write_csv(tmp_path / "x.csv", PER_SEED_HEADER + ["test_theta_l1_am", "convergence_step_am"],
                     [["A", 0, 0.1, 0.004, 96, "oops", ""]])
    with pytest.raises(ValueError, match="'test_theta_l1_am' has non-numeric values: line 2"):
        data.load_per_seed_csv(path)
    assert data.param_names(pd.DataFrame(columns=PER_SEED_HEADER + ["test_theta_l1_am", "test_theta_l1_fm"])) \
        == ["am", "fm"]


def test_select_arms_orders_and_names_missing_arm(tiny_csv):
    df = data.load_per_seed_csv(tiny_csv)
    out = data.select_arms(df, ["B", "A"])
    assert out["arm"].tolist() == ["B"] * 3 + ["A"] * 3
    with pytest.raises(ValueError, match=r"arm\(s\) 'X' named in --arms have no runs; arms present: A, B, J"):
        data.select_arms(df, ["A", "X"])
    with pytest.raises(ValueError, match="named more than once"):
        data.select_arms(df, ["A", "A"])


def test_pair_by_seed_aligns_values(tiny_csv):
    df = data.load_per_seed_csv(tiny_csv).iloc[::-1]  # order of rows must not matter
    pair = data.pair_by_seed(df, "A", "B", "test_theta_l1")
    assert pair.seeds.tolist() == [0, 1, 2]
    assert pair.a.tolist() == [0.1, 0.2, 0.3] and pair.b.tolist() == [0.2, 0.4, 0.5]


def test_pair_by_seed_convergence_keeps_only_both_converged(tiny_csv):
    df = data.load_per_seed_csv(tiny_csv)
    with pytest.raises(ValueError, match=r"arm 'A' has no 'convergence_step' value for seed\(s\) 2"):
        data.pair_by_seed(df, "A", "B", CONVERGENCE_STEP)
    both = data.pair_by_seed(df, "A", "B", CONVERGENCE_STEP, allow_missing_values=True).both_finite()
    assert both.seeds.tolist() == [0] and both.a.tolist() == [960.0] and both.b.tolist() == [480.0]


def test_unpaired_seeds_are_refused_and_named_or_dropped(tiny_csv):
    df = data.load_per_seed_csv(tiny_csv)
    df = df[~((df["arm"] == "B") & (df["seed"] == 1))]
    with pytest.raises(ValueError, match=r"seed\(s\) 1 have a run in 'A' but not in 'B'.*--drop-unpaired"):
        data.pair_by_seed(df, "A", "B", "test_theta_l1")
    pair = data.pair_by_seed(df, "A", "B", "test_theta_l1", drop_unpaired=True)
    assert pair.seeds.tolist() == [0, 2] and pair.dropped == {"A": [1]}
    with pytest.raises(ValueError, match=r"seed\(s\) 1, 2 have a run in 'A' but not in 'J'"):
        data.pair_by_seed(df, "A", "J", "test_theta_l1")


# --- curves ---------------------------------------------------------------------------------------------
CURVE_HEADER = ["arm", "seed", "step", "val_theta_l1", "elapsed_s", "val_theta_l1_am"]
# A/0: 0.3, 0.1, 0.2 at 96, 192, 288 -> TV (0.2 + 0.1) / 3 = 0.1, converged at 192; am: 0.5, 0.4, 0.05 -> 288
# A/1: 0.4, 0.2 at 96, 192         -> TV 0.2 / 2 = 0.1, never converged; am never
CURVE_ROWS = [
    ["A", 0, 96, 0.3, 1.0, 0.5], ["A", 0, 192, 0.1, 2.0, 0.4], ["A", 0, 288, 0.2, 3.0, 0.05],
    ["A", 1, 96, 0.4, 3.0, 0.5], ["A", 1, 192, 0.2, 4.0, 0.3],
]


def test_per_seed_from_curves_hand_worked(tmp_path, write_csv):
    curves = data.load_curves_csv(write_csv(tmp_path / "c.csv", CURVE_HEADER, CURVE_ROWS[::-1]))
    out = data.per_seed_from_curves(curves).set_index("seed")
    assert out.loc[0, VAL_TOTAL_VARIATION] == pytest.approx(0.1)
    assert out.loc[1, VAL_TOTAL_VARIATION] == pytest.approx(0.1)
    assert out.loc[0, CONVERGENCE_STEP] == 192 and math.isnan(out.loc[1, CONVERGENCE_STEP])
    assert out.loc[0, "convergence_step_am"] == 288 and math.isnan(out.loc[1, "convergence_step_am"])


def test_curve_matrix_fills_missing_points_and_averages_elapsed(tmp_path, write_csv):
    curves = data.load_curves_csv(write_csv(tmp_path / "c.csv", CURVE_HEADER, CURVE_ROWS))
    steps, elapsed, values = data.curve_matrix(curves, "A")
    assert steps.tolist() == [96, 192, 288]
    assert elapsed.tolist() == [2.0, 3.0, 3.0]  # (1 + 3) / 2, (2 + 4) / 2, 3
    np.testing.assert_array_equal(values, [[0.3, 0.1, 0.2], [0.4, 0.2, np.nan]])


@pytest.mark.parametrize("rows, message", [
    ([["A", 0, 0, 0.3, 1.0, 0.1]], r"column 'step' has steps <= 0 .*step-0 sanity check.*: line 2 \('0'\)"),
    ([["A", 0, 96, 0.3, 1.0, 0.1], ["A", 0, 96, 0.2, 1.0, 0.1]],
     r"duplicated curve points \(arm, seed, step\): \(arm='A', seed=0, step=96\) at line 2, line 3"),
    ([["A", 0, 96, "x", 1.0, 0.1]], "column 'val_theta_l1' has non-numeric values: line 2"),
])
def test_bad_curves(tmp_path, rows, message, write_csv):
    with pytest.raises(ValueError, match=message):
        data.load_curves_csv(write_csv(tmp_path / "c.csv", CURVE_HEADER, rows))


def test_with_curve_summaries_replaces_columns_and_checks_runs(tmp_path, write_csv):
    curves = data.load_curves_csv(write_csv(tmp_path / "c.csv", CURVE_HEADER, CURVE_ROWS))
    per_seed = data.load_per_seed_csv(
        write_csv(tmp_path / "p.csv", ["arm", "seed", "test_theta_l1"], [["A", 0, 0.1], ["A", 1, 0.2]]),
        required=("arm", "seed", "test_theta_l1"))
    merged = data.with_curve_summaries(per_seed, curves)
    assert merged[CONVERGENCE_STEP].tolist()[0] == 192 and merged["test_theta_l1"].tolist() == [0.1, 0.2]
    extra = data.load_per_seed_csv(
        write_csv(tmp_path / "q.csv", ["arm", "seed", "test_theta_l1"], [["A", 0, 0.1], ["A", 1, 0.2], ["A", 5, 0.3]]),
        required=("arm", "seed", "test_theta_l1"))
    with pytest.raises(ValueError, match=r"runs without a validation curve: \[\('A', 5\)\]"):
        data.with_curve_summaries(extra, curves)


def test_curves_keep_arm_order_of_appearance(tmp_path, write_csv):
    rows = [["B", 0, 96, 0.2, 1.0, 0.1], ["A", 0, 96, 0.3, 1.0, 0.1], ["B", 0, 192, 0.1, 2.0, 0.1]]
    curves = data.load_curves_csv(write_csv(tmp_path / "c.csv", CURVE_HEADER, rows))
    assert data.arms_in_order(curves) == ["B", "A"]
    steps, _, values = data.curve_matrix(curves, "B")
    assert steps.tolist() == [96, 192] and values.tolist() == [[0.2, 0.1]]


def test_arm_names_that_look_like_missing_tokens_are_kept(tmp_path, write_csv):
    path = write_csv(tmp_path / "x.csv", PER_SEED_HEADER, [["none", 0, 0.1, 0.004, ""], ["NA", 0, 0.1, 0.004, "nan"]])
    df = data.load_per_seed_csv(path)
    assert df["arm"].tolist() == ["none", "NA"] and df[CONVERGENCE_STEP].isna().all()

import math

import numpy as np
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
    with pytest.raises(
        ValueError,
        match=r"x.csv: missing required column\(s\) 'val_total_variation', "
        r"'convergence_step' \(columns present: arm, seed, test_theta_l1\)",
    ):
        data.load_per_seed_csv(path)


def test_non_numeric_values_name_line_and_value(tmp_path, write_csv):
    path = write_csv(
        tmp_path / "x.csv",
        PER_SEED_HEADER,
        [["A", 0, 0.1, 0.004, 96], ["A", 1, "abc", 0.004, ""], ["A", 2, 0.1, "1e", "x"]],
    )
    with pytest.raises(ValueError) as info:
        data.load_per_seed_csv(path)
    msg = str(info.value)
    assert "3 problems" in msg
    assert "column 'test_theta_l1' has non-numeric values: line 3 ('abc')" in msg
    assert "column 'val_total_variation' has non-numeric values: line 4 ('1e')" in msg
    assert "column 'convergence_step' has non-numeric values: line 4 ('x')" in msg


def test_duplicated_arm_seed_names_both_lines(tmp_path, write_csv):
    path = write_csv(
        tmp_path / "x.csv",
        PER_SEED_HEADER,
        [["A", 0, 0.1, 0.004, 96], ["B", 0, 0.1, 0.004, 96], ["A", 0, 0.2, 0.004, 96]],
    )
    with pytest.raises(ValueError, match=r"duplicated \(arm, seed\) runs: \(arm='A', seed=0\) at line 2, line 4"):
        data.load_per_seed_csv(path)


@pytest.mark.parametrize(
    "row, message",
    [
        (["A", 1.5, 0.1, 0.004, 96], "column 'seed' has non-integer values: line 2 ('1.5')"),
        (["A", "", 0.1, 0.004, 96], "column 'seed' has missing values: line 2"),
        (["", 0, 0.1, 0.004, 96], "column 'arm' has empty values: line 2"),
        (["A", 0, -0.1, 0.004, 96], "column 'test_theta_l1' has values below 0: line 2 ('-0.1')"),
        (["A", 0, 0.1, "", 96], "column 'val_total_variation' has missing values: line 2"),
        (["A", 0, "inf", 0.004, 96], "column 'test_theta_l1' has non-finite values: line 2 ('inf')"),
        (["A", 0, 0.1, 0.004, -96], "column 'convergence_step' has values below 0: line 2 ('-96')"),
    ],
)
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
    path = write_csv(
        tmp_path / "x.csv",
        PER_SEED_HEADER + ["test_theta_l1_am", "convergence_step_am"],
        [["A", 0, 0.1, 0.004, 96, "oops", ""]],
    )
    with pytest.raises(ValueError, match="'test_theta_l1_am' has non-numeric values: line 2"):
        data.load_per_seed_csv(path)


# --- curves ---------------------------------------------------------------------------------------------
CURVE_HEADER = ["arm", "seed", "step", "val_theta_l1", "elapsed_s", "val_theta_l1_am"]
# A/0: 0.3, 0.1, 0.2 at 96, 192, 288 -> TV (0.2 + 0.1) / 3 = 0.1, converged at 192; am: 0.5, 0.4, 0.05 -> 288
# A/1: 0.4, 0.2 at 96, 192         -> TV 0.2 / 2 = 0.1, never converged; am never
CURVE_ROWS = [
    ["A", 0, 96, 0.3, 1.0, 0.5],
    ["A", 0, 192, 0.1, 2.0, 0.4],
    ["A", 0, 288, 0.2, 3.0, 0.05],
    ["A", 1, 96, 0.4, 3.0, 0.5],
    ["A", 1, 192, 0.2, 4.0, 0.3],
]


def test_per_seed_from_curves_hand_worked(tmp_path, write_csv):
    curves = data.load_curves_csv(write_csv(tmp_path / "c.csv", CURVE_HEADER, CURVE_ROWS[::-1]))
    out = data.per_seed_from_curves(curves).set_index("seed")
    assert out.loc[0, VAL_TOTAL_VARIATION] == pytest.approx(0.1)
    assert out.loc[1, VAL_TOTAL_VARIATION] == pytest.approx(0.1)
    assert out.loc[0, CONVERGENCE_STEP] == 192 and math.isnan(out.loc[1, CONVERGENCE_STEP])
    assert out.loc[0, "convergence_step_am"] == 288 and math.isnan(out.loc[1, "convergence_step_am"])


@pytest.mark.parametrize(
    "rows, message",
    [
        ([["A", 0, 0, 0.3, 1.0, 0.1]], r"column 'step' has steps <= 0 .*step-0 sanity check.*: line 2 \('0'\)"),
        (
            [["A", 0, 96, 0.3, 1.0, 0.1], ["A", 0, 96, 0.2, 1.0, 0.1]],
            r"duplicated curve points \(arm, seed, step\): \(arm='A', seed=0, step=96\) at line 2, line 3",
        ),
        ([["A", 0, 96, "x", 1.0, 0.1]], "column 'val_theta_l1' has non-numeric values: line 2"),
    ],
)
def test_bad_curves(tmp_path, rows, message, write_csv):
    with pytest.raises(ValueError, match=message):
        data.load_curves_csv(write_csv(tmp_path / "c.csv", CURVE_HEADER, rows))


def test_with_curve_summaries_replaces_columns_and_checks_runs(tmp_path, write_csv):
    curves = data.load_curves_csv(write_csv(tmp_path / "c.csv", CURVE_HEADER, CURVE_ROWS))
    per_seed = data.load_per_seed_csv(
        write_csv(tmp_path / "p.csv", ["arm", "seed", "test_theta_l1"], [["A", 0, 0.1], ["A", 1, 0.2]]),
        required=("arm", "seed", "test_theta_l1"),
    )
    merged = data.with_curve_summaries(per_seed, curves)
    assert merged[CONVERGENCE_STEP].tolist()[0] == 192 and merged["test_theta_l1"].tolist() == [0.1, 0.2]
    extra = data.load_per_seed_csv(
        write_csv(tmp_path / "q.csv", ["arm", "seed", "test_theta_l1"], [["A", 0, 0.1], ["A", 1, 0.2], ["A", 5, 0.3]]),
        required=("arm", "seed", "test_theta_l1"),
    )
    with pytest.raises(ValueError, match=r"runs without a validation curve: \[\('A', 5\)\]"):
        data.with_curve_summaries(extra, curves)


def test_arm_names_that_look_like_missing_tokens_are_kept(tmp_path, write_csv):
    path = write_csv(tmp_path / "x.csv", PER_SEED_HEADER, [["none", 0, 0.1, 0.004, ""], ["NA", 0, 0.1, 0.004, "nan"]])
    df = data.load_per_seed_csv(path)
    assert df["arm"].tolist() == ["none", "NA"] and df[CONVERGENCE_STEP].isna().all()

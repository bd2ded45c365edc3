"""analysis.pairing: selecting arms and presets, pairing two arms by seed, curves on a step grid."""

import numpy as np
import pandas as pd
import pytest

from analysis import data, pairing
from analysis.schema import CONVERGENCE_STEP

PER_SEED_HEADER = ["arm", "seed", "test_theta_l1", "val_total_variation", "convergence_step"]
CURVE_HEADER = ["arm", "seed", "step", "val_theta_l1", "elapsed_s", "val_theta_l1_am"]
CURVE_ROWS = [
    ["A", 0, 96, 0.3, 1.0, 0.5],
    ["A", 0, 192, 0.1, 2.0, 0.4],
    ["A", 0, 288, 0.2, 3.0, 0.05],
    ["A", 1, 96, 0.4, 3.0, 0.5],
    ["A", 1, 192, 0.2, 4.0, 0.3],
]


def test_param_names():
    assert pairing.param_names(pd.DataFrame(columns=PER_SEED_HEADER + ["test_theta_l1_am", "test_theta_l1_fm"])) == [
        "am",
        "fm",
    ]


def test_same_arm_seed_in_two_presets_is_not_a_duplicate(tmp_path, write_csv):
    path = write_csv(
        tmp_path / "x.csv",
        ["preset"] + PER_SEED_HEADER,
        [["c1", "A", 0, 0.1, 0.004, 96], ["c2", "A", 0, 0.2, 0.004, 96]],
    )
    df = data.load_per_seed_csv(path)
    assert df["preset"].tolist() == ["c1", "c2"]
    with pytest.raises(ValueError, match="mix 2 presets \\(c1, c2\\); choose one with --preset"):
        pairing.select_preset(df, None)
    assert pairing.select_preset(df, "c2")["test_theta_l1"].tolist() == [0.2]
    with pytest.raises(ValueError, match="preset 'c3' has no runs; presets present: c1, c2"):
        pairing.select_preset(df, "c3")


def test_select_arms_orders_and_names_missing_arm(tiny_csv):
    df = data.load_per_seed_csv(tiny_csv)
    out = pairing.select_arms(df, ["B", "A"])
    assert out["arm"].tolist() == ["B"] * 3 + ["A"] * 3
    with pytest.raises(ValueError, match=r"arm\(s\) 'X' named in --arms have no runs; arms present: A, B, J"):
        pairing.select_arms(df, ["A", "X"])
    with pytest.raises(ValueError, match="named more than once"):
        pairing.select_arms(df, ["A", "A"])


def test_pair_by_seed_aligns_values(tiny_csv):
    df = data.load_per_seed_csv(tiny_csv).iloc[::-1]  # order of rows must not matter
    pair = pairing.pair_by_seed(df, "A", "B", "test_theta_l1")
    assert pair.seeds.tolist() == [0, 1, 2]
    assert pair.a.tolist() == [0.1, 0.2, 0.3] and pair.b.tolist() == [0.2, 0.4, 0.5]


def test_pair_by_seed_convergence_keeps_only_both_converged(tiny_csv):
    df = data.load_per_seed_csv(tiny_csv)
    with pytest.raises(ValueError, match=r"arm 'A' has no 'convergence_step' value for seed\(s\) 2"):
        pairing.pair_by_seed(df, "A", "B", CONVERGENCE_STEP)
    both = pairing.pair_by_seed(df, "A", "B", CONVERGENCE_STEP, allow_missing_values=True).both_finite()
    assert both.seeds.tolist() == [0] and both.a.tolist() == [960.0] and both.b.tolist() == [480.0]


def test_unpaired_seeds_are_refused_and_named_or_dropped(tiny_csv):
    df = data.load_per_seed_csv(tiny_csv)
    df = df[~((df["arm"] == "B") & (df["seed"] == 1))]
    with pytest.raises(ValueError, match=r"seed\(s\) 1 have a run in 'A' but not in 'B'.*--drop-unpaired"):
        pairing.pair_by_seed(df, "A", "B", "test_theta_l1")
    pair = pairing.pair_by_seed(df, "A", "B", "test_theta_l1", drop_unpaired=True)
    assert pair.seeds.tolist() == [0, 2] and pair.dropped == {"A": [1]}
    with pytest.raises(ValueError, match=r"seed\(s\) 1, 2 have a run in 'A' but not in 'J'"):
        pairing.pair_by_seed(df, "A", "J", "test_theta_l1")


def test_curve_matrix_fills_missing_points_and_averages_elapsed(tmp_path, write_csv):
    curves = data.load_curves_csv(write_csv(tmp_path / "c.csv", CURVE_HEADER, CURVE_ROWS))
    steps, elapsed, values = pairing.curve_matrix(curves, "A")
    assert steps.tolist() == [96, 192, 288]
    assert elapsed.tolist() == [2.0, 3.0, 3.0]  # (1 + 3) / 2, (2 + 4) / 2, 3
    np.testing.assert_array_equal(values, [[0.3, 0.1, 0.2], [0.4, 0.2, np.nan]])


def test_curves_keep_arm_order_of_appearance(tmp_path, write_csv):
    rows = [["B", 0, 96, 0.2, 1.0, 0.1], ["A", 0, 96, 0.3, 1.0, 0.1], ["B", 0, 192, 0.1, 2.0, 0.1]]
    curves = data.load_curves_csv(write_csv(tmp_path / "c.csv", CURVE_HEADER, rows))
    assert pairing.arms_in_order(curves) == ["B", "A"]
    steps, _, values = pairing.curve_matrix(curves, "B")
    assert steps.tolist() == [96, 192] and values.tolist() == [[0.2, 0.1]]

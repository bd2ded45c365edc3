import json

import numpy as np
import pytest

from analysis import theta_is

PATHS = [  # 2 rates x (spin -1, 0, +1 at scale 1 / 0 / 1)
    {"index": 0, "n2": 4, "n_fr": 0, "spin": 0, "rate_hz": 100.0, "scale_cyc_per_oct": 0.0},
    {"index": 1, "n2": 4, "n_fr": 1, "spin": 1, "rate_hz": 100.0, "scale_cyc_per_oct": 1.0},
    {"index": 2, "n2": 4, "n_fr": 2, "spin": -1, "rate_hz": 100.0, "scale_cyc_per_oct": 1.0},
    {"index": 3, "n2": 5, "n_fr": 0, "spin": 0, "rate_hz": 50.0, "scale_cyc_per_oct": 0.0},
    {"index": 4, "n2": 5, "n_fr": 1, "spin": 1, "rate_hz": 50.0, "scale_cyc_per_oct": 1.0},
    {"index": 5, "n2": 5, "n_fr": 2, "spin": -1, "rate_hz": 50.0, "scale_cyc_per_oct": 1.0},
]
PI = [0.5, 0.1, 0.1, 0.1, 0.1, 0.1]


def write(path, obj):
    path.write_text(json.dumps(obj))
    return path


def test_load_pi_json_list_object_and_npy(tmp_path):
    a = theta_is.load_pi(write(tmp_path / "pi.json", PI))
    b = theta_is.load_pi(write(tmp_path / "pi2.json", {"pi": PI}))
    np.save(tmp_path / "pi.npy", np.array(PI, dtype=np.float64))
    c = theta_is.load_pi(tmp_path / "pi.npy")
    for x in (a, b, c):
        assert x.dtype == np.float64 and x.tolist() == PI


@pytest.mark.parametrize(
    "content, message",
    [
        ([0.5, 0.6], "sums to 1.1"),
        ([1.5, -0.5], "negative or non-finite entries at indices \\[1\\]"),
        ({"probs": PI}, "under the key 'pi'"),
        (["a", "b"], "JSON list of numbers"),
        ([], "non-empty 1-D"),
    ],
)
def test_bad_pi(tmp_path, content, message):
    with pytest.raises(ValueError, match=message):
        theta_is.load_pi(write(tmp_path / "pi.json", content))


def test_bad_pi_files(tmp_path):
    (tmp_path / "pi.txt").write_text("0.5 0.5")
    with pytest.raises(ValueError, match="must be a .npy or .json file"):
        theta_is.load_pi(tmp_path / "pi.txt")
    (tmp_path / "bad.json").write_text("[0.5,")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        theta_is.load_pi(tmp_path / "bad.json")
    np.save(tmp_path / "m.npy", np.full((2, 2), 0.25))
    with pytest.raises(ValueError, match="shape \\(2, 2\\)"):
        theta_is.load_pi(tmp_path / "m.npy")


def test_path_table_and_grid_hand_worked(tmp_path):
    table = theta_is.load_path_table(write(tmp_path / "paths.json", PATHS[::-1]), n_paths=6)
    assert table["index"].tolist() == [0, 1, 2, 3, 4, 5]
    rates, scales, ratio = theta_is.path_grid(np.array(PI), table)
    assert rates.tolist() == [50.0, 100.0] and scales.tolist() == [-1.0, 0.0, 1.0]
    # P * pi: path 0 (rate 100, scale 0) = 6 * 0.5 = 3; all others 6 * 0.1 = 0.6
    np.testing.assert_allclose(ratio, [[0.6, 0.6], [0.6, 3.0], [0.6, 0.6]])


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p[0].pop("rate_hz"), "entry 0 lacks rate_hz"),
        (lambda p: p[1].update(spin="up"), "entry 1 has non-numeric spin"),
        (lambda p: p[1].update(spin=2), "'spin' is not -1, 0 or 1 for index \\[1\\]"),
        (lambda p: p[2].update(index=7), "exactly 0..5"),
        (lambda p: p[3].update(rate_hz=0), "'rate_hz' is not > 0 for index \\[3\\]"),
        (lambda p: p[4].update(scale_cyc_per_oct=-1), "'scale_cyc_per_oct' is negative for index \\[4\\]"),
    ],
)
def test_bad_path_tables(tmp_path, mutate, message):
    paths = [dict(p) for p in PATHS]
    mutate(paths)
    with pytest.raises(ValueError, match=message):
        theta_is.load_path_table(write(tmp_path / "paths.json", paths))


def test_path_count_mismatch_and_collisions(tmp_path):
    with pytest.raises(ValueError, match="6 paths but π has 5"):
        theta_is.load_path_table(write(tmp_path / "paths.json", PATHS), n_paths=5)
    clash = [dict(p) for p in PATHS]
    clash[1]["spin"] = -1  # now paths 1 and 2 share rate 100 Hz and scale -1
    table = theta_is.load_path_table(write(tmp_path / "c.json", clash))
    with pytest.raises(ValueError, match="two paths share rate 100 Hz and scale -1"):
        theta_is.path_grid(np.array(PI), table)

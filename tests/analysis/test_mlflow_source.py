import math

import numpy as np
import pytest

from analysis.mlflow_source import download_pi, experiment_name, read_study
from analysis.schema import CONVERGENCE_STEP, VAL_TOTAL_VARIATION

# the same numbers the conftest store logged (kept literal here: the test must not share the code under test)
CURVES = {
    ("A", 0): [0.30, 0.10, 0.20],
    ("A", 1): [0.40, 0.20, 0.15],
    ("A", 2): [0.25, 0.12, 0.09],
    ("B", 0): [0.20, 0.08, 0.05],
    ("B", 1): [0.15, 0.10, 0.10],
    ("B", 2): [0.12, 0.09, 0.07],
}
TEST_L1 = {("A", 0): 0.1, ("A", 1): 0.2, ("A", 2): 0.3, ("B", 0): 0.2, ("B", 1): 0.4, ("B", 2): 0.5}


def test_experiment_name():
    assert experiment_name("tiny") == "scrapl/tiny" and experiment_name("scrapl/tiny") == "scrapl/tiny"


def test_read_study_final_metrics(mlflow_store):
    runs = read_study(mlflow_store.uri, "tiny")
    df = runs.per_seed.set_index(["arm", "seed"])
    assert sorted(df.index) == sorted(CURVES)
    for key, curve in CURVES.items():
        assert df.loc[key, "test_theta_l1"] == TEST_L1[key]
        assert df.loc[key, VAL_TOTAL_VARIATION] == pytest.approx(np.abs(np.diff(curve)).sum() / 3)
        assert df.loc[key, "run_id"] == mlflow_store.run_ids[key]
    # hand-worked: A/0 first reaches <= 0.1 at step 192; A/1 never converges (metric absent -> NaN)
    assert df.loc[("A", 0), CONVERGENCE_STEP] == 192 and math.isnan(df.loc[("A", 1), CONVERGENCE_STEP])
    assert set(df["preset"]) == {"granular"} and df["steps_per_second"].tolist().count(5.0) == 3
    assert runs.arm_order == ["B", "A"] and runs.parent_run_id is not None


def test_failed_run_is_excluded_and_named(mlflow_store):
    runs = read_study(mlflow_store.uri, "tiny")
    assert runs.excluded == [f"run {mlflow_store.failed_run_id} (arm B, seed 3): status FAILED, loss became NaN"]
    both = read_study(mlflow_store.uri, "tiny", statuses=("FINISHED", "FAILED"))
    assert len(both.per_seed) == 7 and both.excluded == []


def test_curves_from_metric_history(mlflow_store):
    runs = read_study(mlflow_store.uri, "tiny", curves=True)
    c = runs.curves
    a0 = c[(c["arm"] == "A") & (c["seed"] == 0)]
    # step 192 was logged twice (a retried attempt logged 0.9 first): the latest value wins
    assert a0["step"].tolist() == [96, 192, 288] and a0["val_theta_l1"].tolist() == [0.30, 0.10, 0.20]
    assert a0["val_theta_l1_am"].tolist() == [0.15, 0.05, 0.10]
    assert a0["elapsed_s"].tolist() == [1.5, 3.0, 4.5]
    assert len(c) == 18


def test_from_curves_recomputation_equals_final_metrics(mlflow_store):
    final = read_study(mlflow_store.uri, "tiny").per_seed.set_index(["arm", "seed"]).sort_index()
    again = read_study(mlflow_store.uri, "tiny", from_curves=True).per_seed.set_index(["arm", "seed"]).sort_index()
    np.testing.assert_allclose(again[VAL_TOTAL_VARIATION], final[VAL_TOTAL_VARIATION], rtol=1e-12)
    np.testing.assert_array_equal(again[CONVERGENCE_STEP], final[CONVERGENCE_STEP])
    # per-parameter convergence from val_theta_l1_am = curve / 2: A/1 = 0.2, 0.1, 0.075 -> 192
    assert again.loc[("A", 1), "convergence_step_am"] == 192


def test_unknown_empty_duplicated_untagged(mlflow_store, tmp_path):
    with pytest.raises(
        ValueError,
        match=r"no study 'nope' \(MLflow experiment 'scrapl/nope'\).*studies there: "
        r"dup, empty, tiny, untagged",
    ):
        read_study(mlflow_store.uri, "nope")
    with pytest.raises(ValueError, match="the study is empty"):
        read_study(mlflow_store.uri, "empty")
    a, b = mlflow_store.duplicate_run_ids
    with pytest.raises(ValueError, match=rf"duplicated \(preset, arm, seed\) runs: .* at run ({a}|{b}), run ({a}|{b})"):
        read_study(mlflow_store.uri, "dup")
    with pytest.raises(ValueError, match=f"run {mlflow_store.untagged_run_id} has no scrapl.seed tag"):
        read_study(mlflow_store.uri, "untagged")
    missing = f"sqlite:///{tmp_path / 'missing.db'}"
    with pytest.raises(ValueError, match="no MLflow database at .*missing.db"):
        read_study(missing, "tiny")
    assert not (tmp_path / "missing.db").exists()  # and none was created


def test_download_pi(mlflow_store, tmp_path):
    from analysis import theta_is

    pi_file, paths_file = download_pi(mlflow_store.uri, "tiny", tmp_path)
    assert theta_is.load_pi(pi_file).tolist() == [0.5, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert theta_is.load_path_table(paths_file, n_paths=6)["rate_hz"].tolist() == [100.0] * 3 + [50.0] * 3
    with pytest.raises(ValueError, match="no θ-IS artifacts for preset 'chirplet'; present: granular"):
        download_pi(mlflow_store.uri, "tiny", tmp_path, preset="chirplet")

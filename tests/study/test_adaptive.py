"""``run ablation --seeds adaptive``: seeds in waves (each wave a stage of ``study.stages``), the
sequential procedure after each, a study that stops by itself with tables that say why; the pieces
(comparisons with missing pairs, the next wave) on hand-made data."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis import schema
from analysis.sequential import Design
from search_spaces import studies
from study import waves
from study.cli import main


def test_comparisons_pair_consecutive_arms_and_leave_missing_runs_out():
    spec = studies.ablation("a", "smoke-granular", (0, 1, 2, 5), arms=["scrapl", "p-adam", "p-adam+p-saga"])
    rows = []
    for arm, shift in (("scrapl", 0.0), ("p-adam", -1.0), ("p-adam+p-saga", -3.0)):
        for seed in (0, 1, 2, 5):
            if arm == "p-adam" and seed == 2:
                continue  # failed: no FINISHED run
            rows.append(
                {
                    schema.ARM_COLUMN: arm,
                    schema.SEED_COLUMN: seed,
                    schema.TEST_THETA_L1: seed + shift,
                    schema.VAL_TOTAL_VARIATION: 2.0 * seed + shift,
                }
            )
    diffs, labels = waves.comparisons(spec, pd.DataFrame(rows))
    assert list(diffs) == [
        f"{b} vs {a}: {m}" for a, b in (("scrapl", "p-adam"), ("p-adam", "p-adam+p-saga")) for m in waves.METRICS
    ]
    np.testing.assert_array_equal(diffs["p-adam vs scrapl: test_theta_l1"], [-1.0, -1.0, np.nan, -1.0])
    np.testing.assert_array_equal(diffs["p-adam+p-saga vs p-adam: val_total_variation"], [-2.0, -2.0, np.nan, -2.0])
    assert all(np.isnan(diffs["p-adam vs scrapl: convergence_step"]))  # no run converged: no column
    assert labels[0] == {
        "name": "p-adam vs scrapl: test_theta_l1",
        "preset": "smoke-granular",
        "arm": "p-adam",
        "baseline": "scrapl",
        "metric": schema.TEST_THETA_L1,
    }


def test_theta_is_comparisons_are_uniform_vs_theta_is_per_preset():
    presets = ("smoke-chirplet-lo-lo", "smoke-chirplet-hi-hi")
    spec = studies.theta_is("t", presets, (0, 1, 2))
    rows = [
        {
            schema.PRESET_COLUMN: p,
            schema.ARM_COLUMN: a,
            schema.SEED_COLUMN: s,
            schema.TEST_THETA_L1: s + (0.5 if a == "theta-is" else 0.0) + (10.0 if p == presets[1] else 0.0),
            schema.VAL_TOTAL_VARIATION: 1.0,
            schema.CONVERGENCE_STEP: 100.0 * (s + 1),
        }
        for p in presets
        for a in ("uniform", "theta-is")
        for s in (0, 1, 2)
    ]
    diffs, labels = waves.comparisons(spec, pd.DataFrame(rows))
    assert len(diffs) == 6 and [r["preset"] for r in labels] == [presets[0]] * 3 + [presets[1]] * 3
    np.testing.assert_array_equal(diffs[f"{presets[1]}: theta-is vs uniform: test_theta_l1"], [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(diffs[f"{presets[0]}: theta-is vs uniform: convergence_step"], [0.0, 0.0, 0.0])
    assert waves._labels(spec, labels)[0]["comparison"] == f"{presets[0]}: θ-IS vs Uniform"


def test_next_wave_reaches_the_next_planned_look():
    design = Design(min_seeds=5, wave=5, max_seeds=12)
    spec = studies.ablation("a", "smoke-granular", tuple(range(5)), arms=["scrapl", "p-adam"])
    assert waves.next_wave(spec, design) == (5, 6, 7, 8, 9)
    spec = studies.ablation("a", "smoke-granular", tuple(range(10)), arms=["scrapl", "p-adam"])
    assert waves.next_wave(spec, design) == (10, 11)  # the last look is max_seeds


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_smoke_adaptive_ablation_stops_by_itself_and_says_why(ray_cluster, tmp_path, runs, capsys):
    root = tmp_path / "studies"
    name = "adaptive"
    args = [
        "run",
        "ablation",
        "--smoke-test",
        "--arms",
        "scrapl,p-adam",
        "--seeds",
        "adaptive",
        "--min-seeds",
        "3",
        "--wave-size",
        "1",
        "--max-seeds",
        "4",
        "--name",
        name,
        "--root",
        str(root),
        "--set",
        "train.max_steps=10",
        "--progress-interval",
        "5",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    sdir = root / name
    doc = json.loads((sdir / "adaptive.json").read_text())
    assert doc["design"] == {**Design(min_seeds=3, wave=1, max_seeds=4).to_dict()}
    looks = [v["n_seeds"] for v in doc["verdicts"]]
    last = doc["verdicts"][-1]
    assert last["stop"] and looks in ([3], [3, 4]), looks
    assert "adaptive seeds, look at 3 seeds" in out
    seeds = json.loads((sdir / "spec.json").read_text())["seeds"]
    assert seeds == list(range(looks[-1]))
    history = json.loads((sdir / "extensions.json").read_text())["history"] if len(looks) > 1 else []
    assert [(h["kind"], h["seeds_added"]) for h in history] == ([("wave", [3])] if len(looks) > 1 else [])
    r = runs(f"sqlite:///{sdir / 'mlflow.db'}", name)
    by_key = r.by_key()
    (parent,) = r.parents
    assert parent.data.tags["scrapl.sequential.stop"] == "true"
    assert parent.data.tags["scrapl.sequential.reason"] == last["reason"]
    logged = {a.path for a in r.client.list_artifacts(parent.info.run_id, "tables")}
    assert {"tables/sequential.md", "tables/sequential.csv"} <= logged, logged  # in the MLflow UI too
    assert "adaptive.json" in {a.path for a in r.client.list_artifacts(parent.info.run_id)}
    assert sorted(by_key) == sorted(f"smoke-granular/{a}/{s}" for a in ("scrapl", "p-adam") for s in seeds)

    # the tables: the sequential decisions (seeds used, boundary, decision, why) and the fixed-n tables
    table = (sdir / "tables" / "sequential.md").read_text()
    assert f"{looks[-1]} seeds run" in table and last["reason"][1:] in table
    assert "Boundary \\|z\\|" in table and "Decision" in table and "+P-Adam vs SCRAPL" in table
    for c in last["comparisons"]:
        assert c["decision"] in ("effect", "futility", "inconclusive")
        assert f"| {c['decision']} |" in table
    csv = pd.read_csv(sdir / "tables" / "sequential.csv")
    assert len(csv) == 3 and set(csv["decision"]) <= {"effect", "futility", "inconclusive"}
    assert (sdir / "tables" / "ablation.md").is_file() and (sdir / "tables" / "deltas.md").is_file()
    tl1 = last["comparisons"][0]
    if tl1["n_pairs"]:
        assert math.isfinite(tl1["estimate"]) and tl1["boundary"] > 0

    # study status shows each comparison's estimate, interval and decision
    assert main(["status", name, "--root", str(root)]) == 0
    status = capsys.readouterr().out
    assert "adaptive seeds: 3..4 in waves of 1, α = 0.05" in status and "stopped: " in status
    assert "+P-Adam vs SCRAPL" in status and "test_theta_l1" in status

    # the same command again: resumes, runs nothing, decides the same
    assert main(args) == 0
    again = capsys.readouterr().out
    assert "exists with the same spec and design: resuming it" in again
    after = runs(f"sqlite:///{sdir / 'mlflow.db'}", name).by_key()
    assert {k: v.info.run_id for k, v in after.items()} == {k: v.info.run_id for k, v in by_key.items()}
    assert json.loads((sdir / "adaptive.json").read_text())["verdicts"][-1]["reason"] == last["reason"]


def test_only_a_small_max_seeds_moves_the_first_look_down_to_it():
    """--max-seeds 8 alone: the first look (default 10) comes down to 8 instead of refusing the maximum."""
    import argparse

    from study import cli_seeds

    given = argparse.Namespace(min_seeds=None, max_seeds=8, wave_size=None, alpha=None)
    assert cli_seeds.design(given) == Design(min_seeds=8, max_seeds=8)
    given = argparse.Namespace(min_seeds=None, max_seeds=30, wave_size=None, alpha=None)
    assert cli_seeds.design(given) == Design(max_seeds=30)

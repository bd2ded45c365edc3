"""End to end through the CLI, as a user runs it: a smoke ablation (4 arms × 2 seeds) on its own
embedded Ray runtime and sqlite MLflow store, then the tables, then the same command again."""

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from analysis import schema
from search_spaces import Cell, StudySpec
from trainables.config import flatten

NAME = "ablation-smoke-granular"
PRESET = "smoke-granular"
ARGS = ["run", "ablation", "--smoke-test", "--seeds", "2", "--set", "train.max_steps=10", "--progress-interval", "5"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smoke_ablation_end_to_end(tmp_path, child_session, runs, ray_cluster, capsys):
    root = tmp_path / "studies"
    child = child_session("-m", "study", *ARGS, "--root", str(root), "--gpus-per-trial", "0.5")
    code = child.proc.wait(timeout=500)
    out = child.output()
    assert code == 0, out
    assert "the Ray cluster has no GPU; --gpus-per-trial 0.5 is ignored and the trials run on CPU" in out
    assert "8/8 done · 0 running · 0 pending · 0 failed" in out
    assert "computing π over 28 paths" in out
    sdir = root / NAME
    uri = f"sqlite:///{sdir / 'mlflow.db'}"
    assert f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1" in out

    spec = StudySpec.from_dict(json.loads((sdir / "spec.json").read_text()))
    r = runs(uri, NAME)
    by_key = r.by_key()  # asserts one run per trial
    assert sorted(by_key) == sorted(c.key for c in spec.cells()) and len(by_key) == 8

    # the parent run: role, arm order, git commit, spec and θ-IS artifacts
    (parent,) = r.parents
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[schema.ARMS] == "scrapl,p-adam,p-adam+p-saga,p-adam+p-saga+theta-is"
    assert len(parent.data.tags["mlflow.source.git.commit"]) == 40
    parent_files = {a.path for a in r.client.list_artifacts(parent.info.run_id, schema.pi_artifact_dir(PRESET))}
    assert {f"theta_is/{PRESET}/{n}" for n in ("pi.npy", "curvature.npy", "paths.json")} <= parent_files
    assert "spec.json" in {a.path for a in r.client.list_artifacts(parent.info.run_id)}

    # θ-IS: π once, in the study directory, loaded by the θ-IS trials through their config
    pi_file = sdir / "theta_is" / PRESET / "pi.npy"
    pi = np.load(pi_file)
    assert pi.shape == (28,) and abs(pi.sum() - 1) < 1e-9 and (pi > 0).all()
    assert np.load(pi_file.with_name("curvature.npy")).shape == (28, 2)
    assert not pi_file.with_name("blocks").exists()  # the stage's stored chunks go once π is written
    from analysis.theta_is import load_path_table

    assert load_path_table(sdir / "theta_is" / PRESET / "paths.json", n_paths=28)["rate_hz"].shape == (28,)

    for cell in spec.cells():
        run = by_key[cell.key]
        tags = run.data.tags
        assert run.info.status == "FINISHED", (cell, tags.get(schema.FAILURE_REASON))
        assert tags[schema.PARENT_RUN_ID] == parent.info.run_id
        assert (tags[schema.STUDY], tags[schema.ARM], tags[schema.SEED], tags[schema.PRESET]) == (
            NAME,
            cell.arm,
            str(cell.seed),
            PRESET,
        )
        assert tags[schema.ROLE] == schema.ROLE_TRIAL and tags["scrapl.attempts"] == "1"
        theta_is = cell.arm.endswith("theta-is")
        extra = {"device": "cpu", "threads": 1, **({"train.theta_is_probs": str(pi_file)} if theta_is else {})}
        expected = {k: str(v) for k, v in flatten(spec.config(Cell(PRESET, cell.arm, cell.seed), extra)).items()}
        assert run.data.params == expected  # params = the flattened config, same names
        assert r.steps(run) == [9, 10]  # one point per validation, step = global step > 0
        r.assert_no_duplicate_steps(run)
        for key in (
            schema.TEST_THETA_L1,
            schema.VAL_TOTAL_VARIATION,
            schema.STEPS_PER_SECOND,
            schema.TRAIN_LOSS,
            schema.ELAPSED_S,
            schema.PATH_ENTROPY,
            "val_theta_l1_density",
            "test_theta_l1_slope",
        ):
            assert key in run.data.metrics, (cell, key)
        files = {a.path for a in r.client.list_artifacts(run.info.run_id)}
        assert {"config.json", "curves", "audio"} <= files
    # artifacts of one run, on disk in the study's artifact folder
    run = by_key[spec.cells()[0].key]
    local = Path(r.client.download_artifacts(run.info.run_id, "", str(tmp_path / "dl")))
    assert json.loads((local / "config.json").read_text())["train"]["max_steps"] == 10
    assert (local / "curves" / "validation.csv").read_text().splitlines()[0].startswith("step,")
    assert (local / "curves" / "validation.png").stat().st_size > 1000
    with wave.open(str(local / "audio" / "pair0_reconstruction.wav")) as w:
        assert (w.getframerate(), w.getnframes()) == (2048, 4096)
    assert len(list((local / "audio").glob("*.wav"))) == 6

    # the exported tables (paper order, paper labels) and the analysis CLI on the same store
    table = (sdir / "tables" / "ablation.md").read_text()
    rows = [ln.split("|")[1].strip() for ln in table.splitlines() if ln.startswith("| ") and "Method" not in ln]
    assert rows == ["SCRAPL", "+P-Adam", "+P-Adam +P-SAGA", "+P-Adam +P-SAGA +θ-IS"]
    assert (sdir / "tables" / "deltas.md").is_file() and (sdir / "tables" / "per_seed.csv").is_file()
    from analysis.cli import main as analysis_main

    capsys.readouterr()
    assert analysis_main(["table", "deltas", "--study", NAME, "--mlflow-uri", uri, "--paper"]) == 0
    deltas = capsys.readouterr().out
    # the study's paper labels travel on the parent run (tag scrapl.arm_labels): same rows as the export
    rows = [ln.split("|")[1].strip() for ln in deltas.splitlines() if ln.startswith("| ") and "Comparison" not in ln]
    assert rows == ["+P-Adam", "+P-Adam +P-SAGA", "+P-Adam +P-SAGA +θ-IS"], deltas  # --paper: row = later arm
    assert json.loads(parent.data.tags[schema.ARM_LABELS])["p-adam+p-saga"] == "+P-Adam +P-SAGA"

    # list / status / sync read the study back
    from study.cli import main

    capsys.readouterr()
    assert main(["list", "--root", str(root)]) == 0
    listing = capsys.readouterr().out
    assert NAME in listing and "ablation" in listing
    assert main(["status", NAME, "--root", str(root)]) == 0
    status = capsys.readouterr().out
    assert (
        "finished 8" in status and f"{PRESET}/p-adam+p-saga+theta-is/1" in status and "Tune state restorable" in status
    )
    assert main(["sync", NAME, "--root", str(root)]) == 0
    assert "nothing spooled" in capsys.readouterr().out

    # the same command again (here on the session's runtime): resumes, re-runs nothing, reuses π

    assert main([*ARGS, "--root", str(root)]) == 0
    again = capsys.readouterr().out
    assert "exists with the same spec: resuming it" in again
    assert f"θ-IS {PRESET}: reusing π" in again and "computing π" not in again
    r2 = runs(uri, NAME)
    assert {k: (v.info.run_id, v.info.end_time) for k, v in r2.by_key().items()} == {
        k: (v.info.run_id, v.info.end_time) for k, v in by_key.items()
    }

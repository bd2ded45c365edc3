"""HPO: Optuna (TPE) + ASHA inside Tune with persistent RDB storage, interrupted by a driver crash and
resumed; the best config then seeds an ablation."""

import sqlite3
import time
from contextlib import closing

import pytest

from study import runner
from study.cli import build_parser, spec_from_args

NAME = "tune-it"


def complete_trials_so_far(sdir) -> int:
    """COMPLETE Optuna trials, read without creating anything: an ``RDBStorage`` opened here while the
    study's driver creates the database races it (both create the tables; one fails)."""
    db = sdir / "hpo" / "optuna.db"
    if not db.is_file():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
            return con.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
    except sqlite3.Error:  # tables not created yet
        return 0


def optuna_trials(sdir):
    import optuna

    storage = optuna.storages.RDBStorage(f"sqlite:///{sdir / 'hpo' / 'optuna.db'}")
    return optuna.load_study(study_name=NAME, storage=storage).trials


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_hpo_survives_a_driver_crash_and_seeds_an_ablation(ray_cluster, tmp_path, child_session, runs):
    import optuna
    from ray import tune

    root = tmp_path / "studies"
    sdir = root / NAME
    child = child_session(
        "-m",
        "study",
        "run",
        "hpo",
        "--smoke-test",
        "--name",
        NAME,
        "--root",
        str(root),
        "--arm",
        "p-adam+p-saga",
        "--num-samples",
        "6",
        "--max-concurrent",
        "1",
        "--set",
        "train.epochs=3",
    )
    deadline = time.time() + 300
    while time.time() < deadline and child.proc.poll() is None:
        time.sleep(0.5)
        if complete_trials_so_far(sdir) >= 2 and tune.Tuner.can_restore(str(sdir / "ray" / "trials")):
            break
    assert child.proc.poll() is None, "the HPO ended before the crash could be injected:\n" + child.output()
    child.kill_driver()
    child.stop()

    lines = []
    outcome = runner.resume(NAME, runner.Settings(root=root, progress_interval=5), say=lines.append)
    text = "\n".join(lines)
    assert outcome.exit_code == 0, text
    best = outcome.best
    assert best is not None and set(best["params"]) == {
        "train.lr",
        "data.batch_size",
        "train.weight_decay",
        "train.beta1",
        "train.beta2",
    }
    assert 1e-4 <= best["params"]["train.lr"] <= 1e-2 and best["params"]["data.batch_size"] in (4, 8, 16)
    assert (sdir / "hpo" / "best.json").is_file()

    # persistent Optuna storage: every sample is there; none is left RUNNING by the crash
    states = [t.state for t in optuna_trials(sdir)]
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 6
    assert optuna.trial.TrialState.RUNNING not in states

    r = runs(outcome.tracking_uri, NAME)
    finished = [run for run in r.trials if run.info.status == "FINISHED"]
    assert len(finished) == 6  # one per Tune trial
    for run in r.trials:
        r.assert_no_duplicate_steps(run)
        if run.info.status != "FINISHED":  # a sample the crash orphaned (drawn again after the resume)
            assert run.info.status == "KILLED" and run.data.tags["scrapl.failure_reason"].startswith("orphaned")
    for run in finished:
        assert run.data.params["train.p_adam"] == "True" and 1e-4 <= float(run.data.params["train.lr"]) <= 1e-2
        if run.data.tags.get("scrapl.early_stopped") != "true":  # ASHA-stopped runs are tagged, not FAILED
            assert "test_theta_l1" in run.data.metrics

    args = build_parser().parse_args(
        ["run", "ablation", "--smoke-test", "--seeds", "2", "--from-hpo", NAME, "--set", "train.max_steps=4"]
    )
    seeded = spec_from_args(args, root)
    overrides = dict(seeded.overrides)
    assert overrides["train.lr"] == best["params"]["train.lr"] and overrides["train.max_steps"] == 4
    assert all(seeded.config(c).data.batch_size == best["params"]["data.batch_size"] for c in seeded.cells())

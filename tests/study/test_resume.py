"""Driver crash: the study's driver is SIGKILLed mid-study; ``study resume`` finishes it without
re-running finished trials, without a second MLflow run for any trial and without duplicated steps."""

import time

import pytest

from analysis import schema
from study import runner

NAME = "crashy"


def finished_runs(uri: str) -> dict:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(schema.EXPERIMENT_PREFIX + NAME)
    if exp is None:
        return {}
    found = client.search_runs(
        [exp.experiment_id], f"tags.`{schema.ROLE}` = 'trial' and attributes.status = 'FINISHED'"
    )
    return {r.data.tags[schema.TRIAL_ID]: r for r in found}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_resume_after_a_driver_crash_reruns_nothing_finished(ray_cluster, tmp_path, child_session, runs):
    from ray import tune

    root = tmp_path / "studies"
    sdir = root / NAME
    uri = f"sqlite:///{sdir / 'mlflow.db'}"
    child = child_session(
        "-m",
        "study",
        "run",
        "ablation",
        "--smoke-test",
        "--seeds",
        "2",
        "--arms",
        "scrapl,p-adam",
        "--name",
        NAME,
        "--root",
        str(root),
        "--set",
        "train.max_steps=18",
        "--max-concurrent",
        "1",
    )
    deadline = time.time() + 300
    done: dict = {}
    while time.time() < deadline and child.proc.poll() is None:
        time.sleep(0.5)
        if (sdir / "settings.json").is_file():  # written once the driver has created the MLflow store
            try:
                done = finished_runs(uri)
            except Exception:  # noqa: BLE001 - the child may be creating the store right now
                continue
        if done and tune.Tuner.can_restore(str(sdir / "ray" / "trials")):
            break
    assert done and child.proc.poll() is None, "the study ended before the crash could be injected:\n" + child.output()
    child.kill_driver()  # SIGKILL: no cleanup, no state saved on the way out
    child.stop()
    before = {k: (r.info.run_id, r.info.end_time) for k, r in finished_runs(uri).items()}
    assert 1 <= len(before) < 4

    lines = []
    outcome = runner.resume(NAME, runner.Settings(root=root, progress_interval=5), say=lines.append)
    text = "\n".join(lines)
    assert outcome.exit_code == 0, text
    assert "resuming the Tune experiment" in text
    r = runs(uri, NAME)
    by_key = r.by_key()  # one MLflow run per trial
    assert len(by_key) == 4
    for key, run in by_key.items():
        assert run.info.status == "FINISHED", key
        assert r.steps(run) == [9, 18], key
        r.assert_no_duplicate_steps(run)
        if key in before:  # finished before the crash: not trained again
            assert (run.info.run_id, run.info.end_time) == before[key]
            assert run.data.tags["scrapl.attempts"] == "1"
    (parent,) = r.parents
    assert parent.info.status == "FINISHED"

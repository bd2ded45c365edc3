"""study.tracking against real sqlite MLflow stores (no Ray): one run per trial key whatever the
number of attempts, steps never logged twice, back-fill from a checkpoint's history, and the spool
that keeps calls made while the tracking server is unreachable until ``sync_spool`` delivers them."""
import socket

import pytest

from analysis import schema
from search_spaces import ablation
from study import tracking
from study.errors import StudyError


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One store for the module (creating a sqlite store costs seconds); tests use distinct trial keys."""
    tmp_path = tmp_path_factory.mktemp("tracking")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = ablation("track", "smoke-granular", (0, 1))
    exp_id, parent_id = tracking.ensure_study_run(uri, spec, artifact_location=(tmp_path / "art").as_uri())
    return uri, exp_id, parent_id, tmp_path


def run_of(uri, exp_id, key):
    (run,) = [r for r in tracking.find_trial_runs(uri, exp_id) if r.data.tags[schema.TRIAL_ID] == key]
    return run


def history(uri, run_id, key="val_theta_l1"):
    return [(int(m.step), m.value) for m in tracking.client(uri).get_metric_history(run_id, key)]


def test_parent_run_is_created_once(store):
    uri, exp_id, parent_id, _ = store
    again = tracking.ensure_study_run(uri, ablation("track", "smoke-granular", (0, 1)))
    assert again == (exp_id, parent_id)
    parent = tracking.client(uri).get_run(parent_id)
    assert parent.data.tags[schema.ROLE] == schema.ROLE_STUDY
    assert parent.data.tags[schema.ARMS] == "scrapl,p-adam,p-adam+p-saga,p-adam+p-saga+theta-is"
    assert parent.data.params["seeds"] == "0,1"


def test_one_run_per_trial_across_attempts_and_no_duplicate_steps(store):
    uri, exp_id, parent_id, tmp = store
    tags = {schema.ARM: "scrapl", schema.SEED: "0"}
    first = tracking.TrialLog(uri, exp_id, parent_id, "p/scrapl/0", tmp / "spool").open("r", tags, {"train.lr": 1e-3})
    first.log_metrics(9, {"val_theta_l1": 0.3, "train_loss": 2.0})
    first.log_metrics(18, {"val_theta_l1": 0.2, "train_loss": 1.5})
    first.terminate("FAILED", reason="RuntimeError: boom")  # the attempt dies after step 18

    second = tracking.TrialLog(uri, exp_id, parent_id, "p/scrapl/0", tmp / "spool").open("r", tags, {"train.lr": 1e-3})
    assert second.run_id == first.run_id and second.attempts == 2 and second.logged_steps == {9, 18}
    run = tracking.client(uri).get_run(second.run_id)
    assert run.info.status == "RUNNING" and schema.FAILURE_REASON not in run.data.tags
    assert run.data.tags[tracking.RETRIED_AFTER] == "RuntimeError: boom"
    # resumed from the checkpoint at step 9: history up to there is back-filled (nothing new), the
    # re-run of step 18 is skipped, step 27 is new
    assert second.backfill([{"step": 9, "val_theta_l1": 0.3}]) == 0
    second.log_metrics(18, {"val_theta_l1": 0.2})
    second.log_metrics(27, {"val_theta_l1": 0.1}, flush=True)
    second.log_final(27, {"test_theta_l1": 0.15})
    second.log_final(27, {"test_theta_l1": 0.15})
    second.terminate("FINISHED")
    assert history(uri, second.run_id) == [(9, 0.3), (18, 0.2), (27, 0.1)]
    assert history(uri, second.run_id, "test_theta_l1") == [(27, 0.15)]

    third = tracking.TrialLog(uri, exp_id, parent_id, "p/scrapl/0", tmp / "spool").open("r", tags, {})
    assert third.finished and third.final_metrics["test_theta_l1"] == 0.15
    run = run_of(uri, exp_id, "p/scrapl/0")  # exactly one
    assert run.data.tags[schema.PARENT_RUN_ID] == parent_id
    assert run.data.params == {"train.lr": "0.001"}


def test_backfill_adds_what_a_crashed_attempt_never_flushed(store):
    uri, exp_id, parent_id, tmp = store
    log = tracking.TrialLog(uri, exp_id, parent_id, "p/p-adam/1", tmp / "spool", flush_s=3600).open("r", {}, {})
    log.log_metrics(9, {"val_theta_l1": 0.3})  # buffered, then the worker dies
    again = tracking.TrialLog(uri, exp_id, parent_id, "p/p-adam/1", tmp / "spool").open("r", {}, {})
    assert again.logged_steps == set()
    assert again.backfill([{"step": 9, "val_theta_l1": 0.3}, {"step": 18, "val_theta_l1": 0.25}]) == 2
    again.terminate("FINISHED")
    assert history(uri, again.run_id) == [(9, 0.3), (18, 0.25)]


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_spools_and_sync_delivers_everything_once(store):
    uri, exp_id, parent_id, tmp = store
    dead = f"http://127.0.0.1:{dead_port()}"
    warnings = []
    log = tracking.TrialLog(dead, exp_id, parent_id, "p/scrapl/1", tmp / "spool", warn=warnings.append)
    log.open("scrapl · seed 1", {schema.ARM: "scrapl", schema.SEED: "1"}, {"train.lr": 1e-3})
    assert log.spooling and "spooling to" in warnings[0]
    log.log_metrics(9, {"val_theta_l1": 0.3}, flush=True)  # training goes on
    log.log_metrics(18, {"val_theta_l1": 0.2}, flush=True)
    art = tmp / "art-src"
    (art / "curves").mkdir(parents=True)
    (art / "curves" / "validation.csv").write_text("step,val_theta_l1\n9,0.3\n18,0.2\n")
    log.log_artifacts(art)
    log.log_final(18, {"test_theta_l1": 0.25})
    log.terminate("FINISHED")
    assert log.spool_file in tracking.spooled_trials(tmp / "spool")

    with pytest.raises(Exception):  # still down: nothing is lost
        tracking.sync_spool(dead, tmp / "spool")
    assert log.spool_file.is_file()

    done = tracking.sync_spool(uri, tmp / "spool", keys=["p/scrapl/1"])  # back (here: the same store by sqlite)
    assert done == {"p/scrapl/1": 6}
    assert not log.spool_file.exists()
    run = run_of(uri, exp_id, "p/scrapl/1")
    assert run.info.status == "FINISHED" and run.data.tags[schema.TRIAL_ID] == "p/scrapl/1"
    assert run.data.tags[tracking.ATTEMPTS] == "1"  # the attempt that started while unreachable counts
    assert run.data.params == {"train.lr": "0.001"}
    assert history(uri, run.info.run_id) == [(9, 0.3), (18, 0.2)]
    assert history(uri, run.info.run_id, "test_theta_l1") == [(18, 0.25)]
    files = [a.path for a in tracking.client(uri).list_artifacts(run.info.run_id, "curves")]
    assert files == ["curves/validation.csv"]


@pytest.mark.parametrize("uri, text", [
    ("sqlite:///rel.db", "use an absolute sqlite URI"),
    ("sqlite:////no/such/dir/mlflow.db", "directory /no/such/dir does not exist"),
    ("file:///tmp/mlruns", "file stores are deprecated"),
    ("ftp://example.org", "unsupported tracking URI"),
])
def test_check_tracking_uri(uri, text):
    with pytest.raises(StudyError) as err:
        tracking.check_tracking_uri(uri)
    assert err.value.option == "--mlflow-uri" and text in str(err.value)


def test_check_tracking_uri_unreachable_server_is_fast():
    import time

    tic = time.time()
    with pytest.raises(StudyError, match="cannot reach an MLflow server"):
        tracking.check_tracking_uri(f"http://127.0.0.1:{dead_port()}")
    assert time.time() - tic < 5


def test_interrupted_runs_are_closed_and_reopened_by_the_next_attempt(store):
    uri, exp_id, parent_id, tmp = store
    log = tracking.TrialLog(uri, exp_id, parent_id, "p/p-adam/0", tmp / "spool").open("r", {}, {})
    log.log_metrics(9, {"val_theta_l1": 0.3}, flush=True)  # then the job is stopped: the worker is killed
    closed = tracking.close_interrupted_runs(uri, exp_id, "study interrupted; continue it with `study resume`")
    assert "p/p-adam/0" in closed
    run = run_of(uri, exp_id, "p/p-adam/0")
    assert run.info.status == "KILLED" and run.data.tags[schema.FAILURE_REASON].startswith("study interrupted")
    again = tracking.TrialLog(uri, exp_id, parent_id, "p/p-adam/0", tmp / "spool").open("r", {}, {})
    assert again.run_id == log.run_id and again.attempts == 2
    run = run_of(uri, exp_id, "p/p-adam/0")
    assert run.info.status == "RUNNING" and schema.FAILURE_REASON not in run.data.tags
    assert run.data.tags[tracking.RETRIED_AFTER].startswith("study interrupted")
    again.terminate("FINISHED")
    assert "p/p-adam/0" not in tracking.close_interrupted_runs(uri, exp_id, "x")


def test_a_trial_that_ended_its_run_on_the_stop_gets_the_study_reason(store):
    """The stop can reach a trial in time: it ends its run KILLED with Tune's generic reason itself. The
    driver's reason replaces it, except in an HPO study, where ASHA stops trials the same way."""
    uri, exp_id, parent_id, tmp = store
    for key in ("p/scrapl/5", "p/scrapl/6"):
        log = tracking.TrialLog(uri, exp_id, parent_id, key, tmp / "spool").open("r", {}, {})
        log.terminate("KILLED", reason=tracking.TUNE_STOPPED_REASON if key.endswith("5") else "other")
    assert "p/scrapl/5" not in tracking.close_interrupted_runs(uri, exp_id, "hpo stop", relabel_tune_stopped=False)
    assert run_of(uri, exp_id, "p/scrapl/5").data.tags[schema.FAILURE_REASON] == tracking.TUNE_STOPPED_REASON
    closed = tracking.close_interrupted_runs(uri, exp_id, "study interrupted; continue it")
    assert "p/scrapl/5" in closed and "p/scrapl/6" not in closed
    run = run_of(uri, exp_id, "p/scrapl/5")
    assert run.info.status == "KILLED" and run.data.tags[schema.FAILURE_REASON] == "study interrupted; continue it"
    assert run_of(uri, exp_id, "p/scrapl/6").data.tags[schema.FAILURE_REASON] == "other"


def test_the_end_of_the_study_run_is_spooled_and_synced(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    exp_id, parent_id = tracking.ensure_study_run(uri, ablation("ends", "smoke-granular", (0,)))
    spool = tmp_path / "spool"
    assert tracking.sync_study_finish(uri, spool) is None  # nothing pending
    tracking.spool_study_finish(spool, parent_id, "FINISHED", {"done": 4}, export=True)
    assert tracking.pending_study_finish(spool)["export"] is True
    assert tracking.spooled_trials(spool) == []  # not mistaken for a trial's spool
    with pytest.raises(Exception):
        tracking.sync_study_finish(f"http://127.0.0.1:{dead_port()}", spool)
    assert tracking.pending_study_finish(spool) is not None  # kept while unreachable
    assert tracking.sync_study_finish(uri, spool)["status"] == "FINISHED"
    parent = tracking.client(uri).get_run(parent_id)
    assert parent.info.status == "FINISHED" and '"done": 4' in parent.data.tags["scrapl.summary"]
    assert tracking.pending_study_finish(spool) is None

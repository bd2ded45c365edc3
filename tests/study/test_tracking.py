"""study.tracking (the driver's MLflow calls) against real sqlite MLflow stores (no Ray): the parent run
is created once, tracking URIs are checked before anything starts, interrupted trial runs are closed
with the study's reason, and the end of the study run waits in the spool for ``study sync``."""

import socket
import time

import pytest

from analysis import schema
from search_spaces import ablation
from study import tracking, trial_log
from study.errors import StudyError
from study.trial_log import TrialLog


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


def test_parent_run_is_created_once(store):
    uri, exp_id, parent_id, _ = store
    again = tracking.ensure_study_run(uri, ablation("track", "smoke-granular", (0, 1)))
    assert again == (exp_id, parent_id)
    parent = tracking.client(uri).get_run(parent_id)
    assert parent.data.tags[schema.ROLE] == schema.ROLE_STUDY
    assert parent.data.tags[schema.ARMS] == "scrapl,p-adam,p-adam+p-saga,p-adam+p-saga+theta-is"
    assert parent.data.params["seeds"] == "0,1"


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "uri, text",
    [
        ("sqlite:///rel.db", "use an absolute sqlite URI"),
        ("sqlite:////no/such/dir/mlflow.db", "directory /no/such/dir does not exist"),
        ("file:///tmp/mlruns", "file stores are deprecated"),
        ("ftp://example.org", "unsupported tracking URI"),
    ],
)
def test_check_tracking_uri(uri, text):
    with pytest.raises(StudyError) as err:
        tracking.check_tracking_uri(uri)
    assert err.value.option == "--mlflow-uri" and text in str(err.value)


def test_check_tracking_uri_unreachable_server_is_fast():
    tic = time.time()
    with pytest.raises(StudyError, match="cannot reach an MLflow server"):
        tracking.check_tracking_uri(f"http://127.0.0.1:{dead_port()}")
    assert time.time() - tic < 5


def test_interrupted_runs_are_closed_and_reopened_by_the_next_attempt(store):
    uri, exp_id, parent_id, tmp = store
    log = TrialLog(uri, exp_id, parent_id, "p/p-adam/0", tmp / "spool").open("r", {}, {})
    log.log_metrics(9, {"val_theta_l1": 0.3}, flush=True)  # then the job is stopped: the worker is killed
    closed = tracking.close_interrupted_runs(uri, exp_id, "study interrupted; continue it with `study resume`")
    assert "p/p-adam/0" in closed
    run = run_of(uri, exp_id, "p/p-adam/0")
    assert run.info.status == "KILLED" and run.data.tags[schema.FAILURE_REASON].startswith("study interrupted")
    again = TrialLog(uri, exp_id, parent_id, "p/p-adam/0", tmp / "spool").open("r", {}, {})
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
        log = TrialLog(uri, exp_id, parent_id, key, tmp / "spool").open("r", {}, {})
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
    assert trial_log.spooled_trials(spool) == []  # not mistaken for a trial's spool
    with pytest.raises(Exception):  # noqa: B017 - whatever the MLflow client raises on a refused connection
        tracking.sync_study_finish(f"http://127.0.0.1:{dead_port()}", spool)
    assert tracking.pending_study_finish(spool) is not None  # kept while unreachable
    assert tracking.sync_study_finish(uri, spool)["status"] == "FINISHED"
    parent = tracking.client(uri).get_run(parent_id)
    assert parent.info.status == "FINISHED" and '"done": 4' in parent.data.tags["scrapl.summary"]
    assert tracking.pending_study_finish(spool) is None

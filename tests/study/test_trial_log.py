"""study.trial_log against real sqlite MLflow stores (no Ray): one run per trial key whatever the number
of attempts, steps never logged twice, back-fill from a checkpoint's history, the spool that keeps calls
made while the tracking server is unreachable until ``sync_spool`` delivers them, and the log's own
state (``from_header``, ``timed``)."""

import json
import socket
import time

import pytest

from analysis import schema
from search_spaces import ablation
from study import tracking, trial_log
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


def history(uri, run_id, key="val_theta_l1"):
    return [(int(m.step), m.value) for m in tracking.client(uri).get_metric_history(run_id, key)]


def test_one_run_per_trial_across_attempts_and_no_duplicate_steps(store):
    uri, exp_id, parent_id, tmp = store
    tags = {schema.ARM: "scrapl", schema.SEED: "0"}
    first = TrialLog(uri, exp_id, parent_id, "p/scrapl/0", tmp / "spool").open("r", tags, {"train.lr": 1e-3})
    first.log_metrics(9, {"val_theta_l1": 0.3, "train_loss": 2.0})
    first.log_metrics(18, {"val_theta_l1": 0.2, "train_loss": 1.5})
    first.terminate("FAILED", reason="RuntimeError: boom")  # the attempt dies after step 18

    second = TrialLog(uri, exp_id, parent_id, "p/scrapl/0", tmp / "spool").open("r", tags, {"train.lr": 1e-3})
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

    third = TrialLog(uri, exp_id, parent_id, "p/scrapl/0", tmp / "spool").open("r", tags, {})
    assert third.finished and third.final_metrics["test_theta_l1"] == 0.15
    run = run_of(uri, exp_id, "p/scrapl/0")  # exactly one
    assert run.data.tags[schema.PARENT_RUN_ID] == parent_id
    assert run.data.params == {"train.lr": "0.001"}


def test_backfill_adds_what_a_crashed_attempt_never_flushed(store):
    uri, exp_id, parent_id, tmp = store
    log = TrialLog(uri, exp_id, parent_id, "p/p-adam/1", tmp / "spool", flush_s=3600).open("r", {}, {})
    log.log_metrics(9, {"val_theta_l1": 0.3})  # buffered, then the worker dies
    again = TrialLog(uri, exp_id, parent_id, "p/p-adam/1", tmp / "spool").open("r", {}, {})
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
    log = TrialLog(dead, exp_id, parent_id, "p/scrapl/1", tmp / "spool", warn=warnings.append)
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
    assert log.spool_file in trial_log.spooled_trials(tmp / "spool")

    with pytest.raises(Exception):  # noqa: B017 - still down (any client error): nothing is lost
        trial_log.sync_spool(dead, tmp / "spool")
    assert log.spool_file.is_file()

    done = trial_log.sync_spool(uri, tmp / "spool", keys=["p/scrapl/1"])  # back (here: the same store by sqlite)
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


def test_a_fresh_log_has_its_whole_state_and_its_spool_header_rebuilds_it(store, tmp_path):
    """Every field is set by the constructor (a log that fails before ``open`` still writes a complete
    header), and ``from_header`` reads the header back into an equal log."""
    uri, exp_id, parent_id, _ = store
    dead = f"http://127.0.0.1:{dead_port()}"
    log = TrialLog(dead, exp_id, parent_id, "p/scrapl/9", tmp_path / "spool", warn=lambda msg: None)
    assert (log.run_name, log.tags, log.params, log.run_id, log.attempts, log.seconds) == (
        "p/scrapl/9",
        {},
        {},
        None,
        0,
        0.0,
    )
    log.open("scrapl · seed 9", {schema.ARM: "scrapl"}, {"train.lr": 1e-3, "seed": 9})
    header = json.loads(log.spool_file.read_text().splitlines()[0])
    assert header["op"] == "open" and header["attempt"] is True
    again = TrialLog.from_header(uri, tmp_path / "spool", header)
    assert (again.key, again.experiment_id, again.parent_run_id) == ("p/scrapl/9", exp_id, parent_id)
    assert (again.run_name, again.tags, again.params) == (
        "scrapl · seed 9",
        {schema.ARM: "scrapl"},
        {"train.lr": "0.001", "seed": "9"},
    )
    assert again.uri == uri and again.run_id is None  # nothing was contacted yet


def test_timed_counts_as_tracking_overhead_and_seconds_is_read_only(store, tmp_path):
    uri, exp_id, parent_id, _ = store
    log = TrialLog(uri, exp_id, parent_id, "p/scrapl/8", tmp_path / "spool")
    with log.timed():
        time.sleep(0.05)
    assert log.seconds >= 0.05
    with pytest.raises(ValueError), log.timed():  # counted even when the block raises
        raise ValueError("boom")
    before = log.seconds
    log.open("r", {}, {})  # the MLflow calls themselves count too
    assert log.seconds > before
    with pytest.raises(AttributeError):
        log.seconds = 0.0

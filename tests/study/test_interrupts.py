"""An interrupted study never reports success: one study on the session's Ray runtime, stopped three times
and resumed each time — SIGINT before any trial has checkpointed, SIGTERM between checkpoints, SIGINT
during the final export. Each time: exit status 3, the summary's counts equal MLflow's run states,
no run left RUNNING, the study's run KILLED; the last ``study resume`` finishes it (exit 0, every trial
trained once per attempt with no step logged twice, the tables on the study's run). Without the fix in
``study.progress`` stage 1 reports the interrupted trials as finished and exits 0."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from pathlib import Path

import pytest

from analysis import schema
from search_spaces import ablation
from study import runner

NAME = "interrupted"
KEYS = {f"smoke-granular/{a}/{s}" for a in ("scrapl", "p-adam") for s in (0, 1)}


def checkpoints(sdir: Path) -> set[str]:
    return {str(p) for p in (sdir / "ray").rglob("checkpoint_*")} if (sdir / "ray").is_dir() else set()


def trial_states(uri: str) -> Counter:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(schema.EXPERIMENT_PREFIX + NAME)
    if exp is None:
        return Counter()
    return Counter(r.info.status for r in client.search_runs([exp.experiment_id], f"tags.`{schema.ROLE}` = 'trial'"))


class Watcher:
    """Sends ``sig`` to this process once ``condition()`` holds (polled from a thread)."""

    def __init__(self, condition, sig: int) -> None:
        self.condition, self.sig, self.fired, self._stop = condition, sig, False, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                ready = self.condition()
            except Exception:  # noqa: BLE001 - the store is being created
                continue
            if ready:
                self.fired = True
                os.kill(os.getpid(), self.sig)
                return

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)


def assert_interrupted(outcome, lines: list[str], runs) -> None:
    text = "\n".join(lines)
    assert outcome.exit_code == 3, text
    r = runs(outcome.tracking_uri, NAME)
    states = Counter(run.info.status for run in r.trials)
    assert "RUNNING" not in states, (states, text)
    assert (outcome.counts["done"], outcome.counts["failed"]) == (states["FINISHED"], states["FAILED"]), (states, text)
    assert outcome.unfinished == len(KEYS) - states["FINISHED"] - states["FAILED"]
    assert (
        f"study {NAME}: {states['FINISHED']} finished, {states['FAILED']} failed, {outcome.unfinished} unfinished"
    ) in text
    (parent,) = r.parents
    assert parent.info.status == "KILLED", text
    assert f"python -m study resume {NAME}" in text


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sigint_and_sigterm_at_three_points_then_resume(ray_cluster, tmp_path, runs):
    caught: list[int] = []
    previous = {
        s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        _scenario(tmp_path, runs)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _scenario(tmp_path: Path, runs) -> None:
    spec = ablation(NAME, "smoke-granular", (0, 1), arms=["scrapl", "p-adam"], overrides={"train.epochs": 4})
    settings = runner.Settings(root=tmp_path, max_concurrent=2, flush_s=1, progress_interval=5)
    sdir = tmp_path / NAME
    uri = f"sqlite:///{sdir / 'mlflow.db'}"

    # 1. SIGINT while the first trials train, before any has checkpointed
    watcher = Watcher(lambda: trial_states(uri)["RUNNING"] and not checkpoints(sdir), signal.SIGINT)
    lines: list[str] = []
    outcome = runner.run(spec, settings, say=lines.append)
    watcher.stop()
    assert watcher.fired, "\n".join(lines)
    assert_interrupted(outcome, lines, runs)

    # 2. SIGTERM (`ray job stop`'s default) once a new checkpoint is written
    seen = checkpoints(sdir)
    watcher = Watcher(lambda: checkpoints(sdir) - seen and trial_states(uri)["FINISHED"] < len(KEYS), signal.SIGTERM)
    lines = []
    outcome = runner.resume(NAME, settings, say=lines.append)
    watcher.stop()
    assert watcher.fired, "\n".join(lines)
    assert_interrupted(outcome, lines, runs)
    assert outcome.unfinished, "the study ended before it could be interrupted between checkpoints"

    # 3. SIGINT during the final export (every trial has ended): the study's run stays KILLED
    def say(line: str) -> None:
        lines.append(line)
        if line.startswith("logged ") and "to the study's MLflow run" in line:
            os.kill(os.getpid(), signal.SIGINT)  # handled right here, inside the export

    lines = []
    outcome = runner.resume(NAME, settings, say=say)
    text = "\n".join(lines)
    assert outcome.unfinished == 0 and outcome.interrupted and "during the export" in outcome.interrupted, text
    assert_interrupted(outcome, lines, runs)
    assert f"study {NAME}: 4 finished, 0 failed, 0 unfinished" in text
    assert "the study was interrupted by SIGINT during the export" in text

    # 4. resume finishes the rest: nothing re-trained, the tables written and on the study's run
    lines = []
    outcome = runner.resume(NAME, settings, say=lines.append)
    assert outcome.exit_code == 0, "\n".join(lines)
    assert outcome.counts == {"done": 4, "running": 0, "pending": 0, "failed": 0}
    assert not [ln for ln in lines if "as the study stopped" in ln]  # restored finished trials count as done
    r = runs(uri, NAME)
    by_key = r.by_key()
    assert set(by_key) == KEYS
    for key, run in by_key.items():
        assert run.info.status == "FINISHED", key
        assert r.steps(run) == [9, 18, 27, 36], key
        r.assert_no_duplicate_steps(run)
    (parent,) = r.parents
    assert parent.info.status == "FINISHED"
    files = {a.path for a in r.client.list_artifacts(parent.info.run_id, "tables")}
    assert {"tables/ablation.md", "tables/ablation.html", "tables/per_seed.csv"} <= files


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigint_before_the_trials_closes_the_books_from_mlflow(ray_cluster, tmp_path, runs):
    """A signal outside Tune's graceful stop (here during the θ-IS stage) still ends with exit status 3, the
    study's run KILLED and every trial counted unfinished (``study.finish.finish_interrupted``)."""
    spec = ablation("early", "smoke-granular", (0, 1), arms=["p-adam+p-saga+theta-is"], overrides={"train.epochs": 1})
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if "computing π" in line:
            os.kill(os.getpid(), signal.SIGINT)  # raised right here, inside the θ-IS stage

    outcome = runner.run(spec, runner.Settings(root=tmp_path, progress_interval=5), say=say)
    text = "\n".join(lines)
    assert outcome.exit_code == 3 and outcome.counts == {"done": 0, "running": 0, "pending": 2, "failed": 0}, text
    assert "study early: 0 finished, 0 failed, 2 unfinished" in text
    assert "the study was interrupted by SIGINT before its trials ended" in text
    r = runs(outcome.tracking_uri, "early")
    assert not r.trials and r.parents[0].info.status == "KILLED"
    assert not (tmp_path / "early" / "driver.lock").exists()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_failed_theta_is_stage_stops_the_driver_cleanly_and_resume_retries(ray_cluster, tmp_path, runs):
    """A Ray task of the θ-IS stage raises (here a warm-up batch larger than the train split): the driver
    names the error, closes its books like an interrupt (exit 3, the study's run KILLED, the lock freed)
    instead of a traceback, and ``resume`` runs the stage again."""
    spec = ablation(
        "stage-fails",
        "smoke-granular",
        (0,),
        arms=["p-adam+p-saga+theta-is"],
        overrides={"train.epochs": 1, "train.theta_is_batch_size": 1000},
    )
    lines: list[str] = []
    outcome = runner.run(spec, runner.Settings(root=tmp_path, progress_interval=5), say=lines.append)
    text = "\n".join(lines)
    assert outcome.exit_code == 3, text
    assert "error: the driver stopped on ValueError in a Ray task: train.theta_is_batch_size: 1000" in text, text
    assert "interrupted by ValueError in a Ray task before its trials ended" in text, text
    assert "theta_is_batch_size" in (tmp_path / "stage-fails" / "driver-error.log").read_text()
    assert runs(outcome.tracking_uri, "stage-fails").parents[0].info.status == "KILLED"
    assert not (tmp_path / "stage-fails" / "driver.lock").exists()
    again: list[str] = []
    outcome = runner.resume("stage-fails", runner.Settings(root=tmp_path, progress_interval=5), say=again.append)
    assert outcome.exit_code == 3 and any("computing π" in line for line in again), "\n".join(again)


def test_only_ray_failures_are_booked_as_a_stop():
    """A RuntimeError raised in Ray's own code (Tune's actor manager after an OOM kill) counts as a Ray
    failure; one raised in ours is a bug that keeps its traceback."""
    from study.guard import _RAY_DIR, _from_ray

    def raised(filename: str) -> BaseException:
        try:
            exec(compile("raise RuntimeError('boom')", filename, "exec"))
        except RuntimeError as err:
            return err
        raise AssertionError("not raised")

    assert _from_ray(raised(str(_RAY_DIR / "tune" / "execution" / "x.py")))
    assert not _from_ray(raised(__file__))
    assert not _from_ray(RuntimeError("never raised"))

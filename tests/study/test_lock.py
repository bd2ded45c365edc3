"""One driver per study (``study.lock``): a second driver is refused at once, naming the first; a dead
driver's lock is taken over (its pid gone or reused on this host, or its heartbeat too old from another
host); of several drivers taking over a stale lock at once exactly one wins; a driver whose lock was
taken over is told. End to end: a study started twice at once trains every trial once, and the first
driver, interrupted with Ctrl-C (SIGINT to its whole process group, as a terminal sends it), exits 3
with counts equal to MLflow's run states; ``study resume`` finishes it."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis import schema
from study import lock
from study.cli import main as study_main


def write_lock(study: Path, **fields) -> Path:
    doc = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "since": time.time(),
        "heartbeat": time.time(),
        "token": "someone-else",
        "started": "",
        "boot": "",
        "ray_job": "",
        "command": "python -m study run x",
    }
    doc.update(fields)
    path = study / lock.LOCK_NAME
    path.write_text(json.dumps(doc))
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_driver_is_refused_naming_the_first(tmp_path):
    held = lock.acquire(tmp_path, interval_s=0.2)
    try:
        with pytest.raises(lock.StudyBusy) as info:
            lock.acquire(tmp_path)
        text = str(info.value)
        assert f"driver pid {os.getpid()} on host {socket.gethostname()} since " in text
        assert "`python -m study resume " in text and f"kill -INT {os.getpid()}" in text
        before = json.loads((tmp_path / lock.LOCK_NAME).read_text())["heartbeat"]
        time.sleep(0.6)
        assert json.loads((tmp_path / lock.LOCK_NAME).read_text())["heartbeat"] > before  # the heartbeat beats
        with pytest.raises(lock.StudyBusy):
            lock.check_free(tmp_path)
    finally:
        held.release()
    assert not (tmp_path / lock.LOCK_NAME).exists()
    lock.check_free(tmp_path)
    lock.acquire(tmp_path).release()  # free again


def test_stale_locks_are_taken_over(tmp_path):
    write_lock(tmp_path, pid=dead_pid())  # same host, process gone
    held = lock.acquire(tmp_path)
    assert "is gone" in held.took_over
    held.release()

    # same host, the pid now belongs to another process (this one, started at another time)
    write_lock(tmp_path, pid=os.getpid(), started="1")
    held = lock.acquire(tmp_path)
    assert "is another process now" in held.took_over
    held.release()

    # another host: alive while its heartbeat is fresh, dead once it is older than the timeout
    write_lock(tmp_path, host="elsewhere", pid=1, heartbeat=time.time() - 5)
    with pytest.raises(lock.StudyBusy) as info:
        lock.acquire(tmp_path, timeout_s=60)
    assert "driver pid 1 on host elsewhere" in str(info.value)
    write_lock(tmp_path, host="elsewhere", pid=1, heartbeat=time.time() - 120)
    held = lock.acquire(tmp_path, timeout_s=60)
    assert "heartbeat (from host elsewhere) is 120 s old" in held.took_over
    held.release()

    # a live driver of this host (this test's parent process) is never taken over
    write_lock(tmp_path, pid=os.getppid(), heartbeat=0.0)
    with pytest.raises(lock.StudyBusy):
        lock.acquire(tmp_path)


def _contend(study: str, barrier, results) -> None:
    barrier.wait()
    try:
        held = lock.acquire(study)
        results.put(("won", held.took_over))
        time.sleep(1.0)  # hold it while the others try
        held.release()
    except lock.StudyBusy:
        results.put(("refused", None))


def test_of_several_drivers_taking_over_a_stale_lock_one_wins(tmp_path):
    write_lock(tmp_path, pid=dead_pid())
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(str(tmp_path), barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    outcomes = sorted(results.get(timeout=5)[0] for _ in procs)
    assert outcomes == ["refused", "refused", "refused", "won"]
    assert not [p for p in tmp_path.iterdir() if p.name != lock.LOCK_NAME and "lock" in p.name]  # no claim left


def test_a_driver_whose_lock_is_taken_over_is_told(tmp_path):
    lost = []
    held = lock.acquire(tmp_path, interval_s=0.1, on_lost=lost.append)
    write_lock(tmp_path, host="elsewhere", token="the-new-owner")  # as a takeover from another host
    deadline = time.time() + 10
    while not lost and time.time() < deadline:
        time.sleep(0.05)
    assert lost and "taken over by pid" in lost[0] and "host elsewhere" in lost[0]
    held.release()
    assert json.loads((tmp_path / lock.LOCK_NAME).read_text())["token"] == "the-new-owner"  # not removed


NAME = "twice"


def trial_runs(uri: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(schema.EXPERIMENT_PREFIX + NAME)
    return client.search_runs([exp.experiment_id], f"tags.`{schema.ROLE}` = 'trial'") if exp else []


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_study_started_twice_trains_once_and_ctrl_c_reports_interrupted(
    ray_cluster, tmp_path, child_session, runs, capsys
):
    root = tmp_path / "studies"
    sdir, argv = (
        root / NAME,
        [
            "run",
            "ablation",
            "--smoke-test",
            "--arms",
            "scrapl",
            "--seeds",
            "0,1",
            "--name",
            NAME,
            "--set",
            "train.epochs=6",
            "--max-concurrent",
            "1",
            "--progress-interval",
            "2",
        ],
    )
    uri = f"sqlite:///{sdir / 'mlflow.db'}"
    first = child_session("-m", "study", *argv, "--root", str(root), "--num-cpus", "2")
    deadline = time.time() + 240
    while not (sdir / "settings.json").is_file() and time.time() < deadline and first.proc.poll() is None:
        time.sleep(0.2)
    assert (sdir / lock.LOCK_NAME).is_file(), first.output()

    # the same command again, and `study sync`, while the first driver runs: refused at once (exit 5)
    capsys.readouterr()
    assert study_main([*argv, "--root", str(root)]) == lock.BUSY_EXIT
    assert study_main(["sync", NAME, "--root", str(root)]) == lock.BUSY_EXIT
    err = capsys.readouterr().err
    assert f"error: study {NAME} is already running: driver pid {first.proc.pid} on host {socket.gethostname()}" in err

    # Ctrl-C in the first driver's terminal (the whole process group) once a trial has checkpointed
    deadline = time.time() + 300
    while time.time() < deadline and first.proc.poll() is None:
        if any(r.data.metrics.get(schema.VAL_THETA_L1) is not None for r in trial_runs(uri)):
            break
        time.sleep(0.3)
    assert first.proc.poll() is None, "the study ended before it could be interrupted:\n" + first.output()
    os.killpg(first.proc.pid, signal.SIGINT)
    assert first.proc.wait(timeout=120) == 3, first.output()
    out = first.output()
    mid = runs(uri, NAME)
    states = [r.info.status for r in mid.trials]
    assert "RUNNING" not in states and mid.parents[0].info.status == "KILLED", (states, out)
    finished, failed = states.count("FINISHED"), states.count("FAILED")
    assert f"study {NAME}: {finished} finished, {failed} failed, {2 - finished - failed} unfinished" in out, out
    assert finished < 2
    assert not (sdir / lock.LOCK_NAME).exists()  # released on the way out

    # `study resume` finishes the rest; every trial trained once (one run, no step twice)
    capsys.readouterr()
    assert study_main(["resume", NAME, "--root", str(root)]) == 0
    r = runs(uri, NAME)
    by_key = r.by_key()
    assert len(by_key) == 2 and r.parents[0].info.status == "FINISHED"
    for key, run in by_key.items():
        assert run.info.status == "FINISHED", key
        assert r.steps(run) == [9 * e for e in range(1, 7)], key
        r.assert_no_duplicate_steps(run)
        assert int(run.data.tags["scrapl.attempts"]) <= 2, key  # at most the interrupted attempt and the resume

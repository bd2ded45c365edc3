"""Fault injection against the real cluster (``ray start``) and tracking server (``mlflow server``): each
study is submitted with ``ray job submit --working-dir . -- python -m study ...``, a fault is injected
from outside, and MLflow must end with exactly one complete run per trial.

1. a trial's worker process is SIGKILLed mid-training → retried from its last checkpoint, same final
   metrics as an uninterrupted run with the same seed, one MLflow run, no duplicated step;
2. the study's driver is SIGKILLed mid-study → ``study resume`` completes it: finished trials are not
   re-run, no run duplicated or left RUNNING, and the dead driver left no trial process behind;
3. ``ray job stop`` → resubmitting the same command resumes rather than restarts;
4. the MLflow server goes away mid-study → training goes on, calls are spooled in the study directory,
   ``study sync`` delivers them once the server is back (same port and backend): nothing lost, nothing
   RUNNING; while it is down a new study refuses to start, naming ``--mlflow-uri``.

(5, a NaN loss, is part of the submitted ablation in ``test_submit_ablation.py``; crash-once/exit-once
faults raised inside trials are covered on the embedded runtime by ``tests/study/test_faults.py``.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis import schema

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PRESET = "smoke-granular"
STEPS_PER_EPOCH = 9  # smoke-granular: 84 training examples / batch 8 → 9 steps per epoch (one validation each)


def val_steps(epochs: int) -> list[int]:
    return [STEPS_PER_EPOCH * (e + 1) for e in range(epochs)]


def study_args(name: str, root: Path, uri: str, *extra: str) -> list[str]:
    return [
        "run",
        "ablation",
        "--smoke-test",
        "--name",
        name,
        "--root",
        str(root),
        "--mlflow-uri",
        uri,
        "--progress-interval",
        "5",
        *extra,
    ]


def runs_by_status(uri: str, name: str) -> dict[str, list]:
    """``{status: [trial runs]}`` of a study while it runs ({} before its experiment exists)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(schema.EXPERIMENT_PREFIX + name)
    if exp is None:
        return {}
    out: dict[str, list] = {}
    for r in client.search_runs([exp.experiment_id], f"tags.`{schema.ROLE}` = '{schema.ROLE_TRIAL}'"):
        out.setdefault(r.info.status, []).append(r)
    return out


def wait_for(condition, what: str, timeout: float, ray_head=None, job_id: str | None = None, poll: float = 0.5):
    """Poll ``condition()`` until truthy; fail with the job's logs if the job ended or time ran out."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if job_id is not None:
            info = ray_head.job(job_id)
            if info["status"] in ("SUCCEEDED", "FAILED", "STOPPED"):
                raise AssertionError(
                    f"the job ended ({info['status']}) before {what}:\n" + ray_head.logs(job_id)[-5000:]
                )
        if time.time() > deadline:
            logs = ray_head.logs(job_id)[-5000:] if job_id else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")
        time.sleep(poll)


def restorable(root: Path, name: str) -> bool:
    from ray import tune

    return tune.Tuner.can_restore(str(root / name / "ray" / "trials"))


def assert_complete(study_runs, uri: str, name: str, keys: set[str], steps: list[int]):
    """Every trial exactly once, FINISHED, with all its validation steps once; the parent FINISHED;
    nothing RUNNING in the experiment. Returns the reader."""
    r = study_runs(uri, name)
    by_key = r.by_key()
    assert set(by_key) == keys
    for key, run in by_key.items():
        assert run.info.status == "FINISHED", (key, run.info.status, run.data.tags.get(schema.FAILURE_REASON))
        assert r.steps(run) == steps, key
        r.assert_no_duplicate_steps(run)
        assert schema.TEST_THETA_L1 in run.data.metrics, key
    (parent,) = r.parents
    assert parent.info.status == "FINISHED"
    assert not [x.info.run_name for x in r.all if x.info.status == "RUNNING"]
    return r


def trial_processes(ray_head) -> list[tuple[int, str]]:
    """Processes of the cluster currently running a Tune trial (Ray names them after the trainable)."""
    out = []
    for pid in ray_head.pids():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("ray::") and ("ImplicitFunc" in cmd or "run_trial" in cmd):
            out.append((pid, cmd.strip()))
    return out


# --- 1 ------------------------------------------------------------------------------------------------
@pytest.mark.timeout(600)
def test_sigkill_of_a_trial_worker_resumes_from_its_checkpoint(ray_head, mlflow_server, tmp_path, study_runs):
    from search_spaces import StudySpec
    from study import tracking
    from trainables.train import train

    name, root, epochs = "e2e-sigkill", tmp_path / "studies", 16
    key = f"{PRESET}/scrapl/0"
    job_id = ray_head.submit(
        ray_head.study_entry(
            *study_args(
                name,
                root,
                mlflow_server.uri,
                "--arms",
                "scrapl",
                "--seeds",
                "0,1",
                "--set",
                f"train.epochs={epochs}",
                "--max-failures",
                "2",
            )
        )
    )

    def victim():
        """The worker pid of trial scrapl/0 once it has checkpointed at least 3 times (not yet finished)."""
        ckpts = list((root / name / "ray" / "trials").glob(f"{PRESET}_scrapl_0_*/checkpoint_*"))
        # Tune keeps the latest 2 checkpoints: index 2 means epochs 1-3 are done
        index = max((int(p.name.split("_")[-1]) for p in ckpts), default=-1)
        if index < 2:
            return None
        running = {r.data.tags[schema.TRIAL_ID]: r for r in runs_by_status(mlflow_server.uri, name).get("RUNNING", [])}
        run = running.get(key)
        return (int(run.data.tags[tracking.WORKER_PID]), index) if run is not None else None

    pid, index = wait_for(victim, "trial scrapl/0 to checkpoint 3 epochs", 300, ray_head, job_id, poll=0.2)
    assert pid in ray_head.pids(), f"pid {pid} from the MLflow tag is not a process of this cluster"
    os.kill(pid, signal.SIGKILL)
    info = ray_head.wait(job_id, timeout=400)
    logs = ray_head.logs(job_id)
    assert info["status"] == "SUCCEEDED", logs[-5000:]
    assert f"study {name}: 2 finished, 0 failed, 0 unfinished" in logs

    r = assert_complete(study_runs, mlflow_server.uri, name, {key, f"{PRESET}/scrapl/1"}, val_steps(epochs))
    run = r.by_key()[key]
    tags = run.data.tags
    assert tags[tracking.ATTEMPTS] == "2", tags  # one retry, in the same MLflow run
    assert int(tags[tracking.WORKER_PID]) != pid  # ... in a new worker process
    resumed = int(tags[tracking.RESUMED_FROM])
    assert resumed >= STEPS_PER_EPOCH * (index + 1) and resumed % STEPS_PER_EPOCH == 0, (
        f"retried from step {resumed}, but checkpoint {index} (step {STEPS_PER_EPOCH * (index + 1)}) existed"
    )
    assert r.by_key()[f"{PRESET}/scrapl/1"].data.tags[tracking.ATTEMPTS] == "1"

    # exact resume: an uninterrupted run of the same config and seed ends with the same metrics
    spec = StudySpec.from_dict(json.loads((root / name / "spec.json").read_text()))
    (cell,) = [c for c in spec.cells() if c.key == key]
    reference = train(spec.config(cell, {"device": "cpu", "threads": 1}))
    for metric in (schema.TEST_THETA_L1, schema.VAL_TOTAL_VARIATION):
        assert run.data.metrics[metric] == pytest.approx(reference.metrics[metric], rel=1e-6), metric
    curve = {int(m.step): m.value for m in r.client.get_metric_history(run.info.run_id, schema.VAL_THETA_L1)}
    assert curve == pytest.approx({int(h["step"]): h[schema.VAL_THETA_L1] for h in reference.history}, rel=1e-6)


# --- 2 and 3 -------------------------------------------------------------------------------------------
def first_finished(uri: str, name: str, root: Path):
    """Some trials FINISHED (not all) and Tune's state restorable: the moment to interrupt."""
    done = runs_by_status(uri, name).get("FINISHED", [])
    if done and len(done) < 4 and restorable(root, name):
        return {r.data.tags[schema.TRIAL_ID]: (r.info.run_id, r.info.end_time) for r in done}
    return None


INTERRUPTIBLE = ("--arms", "scrapl,p-adam", "--seeds", "0,1", "--set", "train.epochs=6", "--max-concurrent", "1")
KEYS = {f"{PRESET}/{a}/{s}" for a in ("scrapl", "p-adam") for s in (0, 1)}


@pytest.mark.timeout(600)
def test_driver_sigkill_then_resume_reruns_nothing_finished(ray_head, mlflow_server, tmp_path, study_runs):
    from study import tracking

    name, root = "e2e-driver-crash", tmp_path / "studies"
    job_id = ray_head.submit(ray_head.study_entry(*study_args(name, root, mlflow_server.uri, *INTERRUPTIBLE)))
    before = wait_for(
        lambda: first_finished(mlflow_server.uri, name, root), "a first finished trial", 300, ray_head, job_id
    )
    driver = ray_head.job(job_id).get("driver_info") or {}
    pid = int(driver["pid"])
    assert pid in ray_head.pids()
    os.kill(pid, signal.SIGKILL)  # no cleanup, no state saved on the way out
    info = ray_head.wait(job_id, timeout=120)
    assert info["status"] == "FAILED", info
    # the dead driver's trial actors go with it: nothing keeps training (or holds CPUs) for nobody
    wait_for(lambda: not trial_processes(ray_head), "the dead driver's trial processes to exit", 60)
    interrupted = runs_by_status(mlflow_server.uri, name)
    assert len(interrupted.get("FINISHED", [])) < 4, "the study finished before the driver was killed"

    job2 = ray_head.submit(
        ray_head.study_entry(
            "resume", name, "--root", str(root), "--mlflow-uri", mlflow_server.uri, "--progress-interval", "5"
        )
    )
    info = ray_head.wait(job2, timeout=400)
    logs = ray_head.logs(job2)
    assert info["status"] == "SUCCEEDED", logs[-5000:]
    assert "resuming the Tune experiment" in logs and f"study {name}: 4 finished, 0 failed" in logs

    r = assert_complete(study_runs, mlflow_server.uri, name, KEYS, val_steps(6))
    for key, run in r.by_key().items():
        if key in before:  # finished before the crash: not trained again
            assert (run.info.run_id, run.info.end_time) == before[key], key
            assert run.data.tags[tracking.ATTEMPTS] == "1", key


@pytest.mark.timeout(600)
def test_ray_job_stop_then_resubmit_resumes(ray_head, mlflow_server, tmp_path, study_runs):
    from study import tracking

    name, root = "e2e-job-stop", tmp_path / "studies"
    entry = ray_head.study_entry(*study_args(name, root, mlflow_server.uri, *INTERRUPTIBLE))
    job_id = ray_head.submit(entry)
    before = wait_for(
        lambda: first_finished(mlflow_server.uri, name, root), "a first finished trial", 300, ray_head, job_id
    )
    tic = time.time()
    out = ray_head.stop_job(job_id)
    assert out.returncode == 0, out.stdout + out.stderr
    info = ray_head.wait(job_id, timeout=120)
    stop_s = time.time() - tic
    logs = ray_head.logs(job_id)
    assert info["status"] == "STOPPED", info
    # SIGINT (RAY_JOB_STOP_SIGNAL) let Tune save and the study say how to go on, before the 30 s SIGKILL
    assert stop_s < 30, f"the job took {stop_s:.0f} s to stop: it was killed, not stopped gracefully"
    assert f"continue it with `python -m study resume {name}" in logs, logs[-5000:]
    mid = study_runs(mlflow_server.uri, name)
    (parent,) = mid.parents
    assert parent.info.status == "KILLED"  # the study says it is unfinished
    # the trial that was training when the job stopped is not left RUNNING: KILLED, with the reason
    assert not [x.info.run_name for x in mid.all if x.info.status == "RUNNING"]
    killed = {x.data.tags[schema.TRIAL_ID]: x for x in mid.trials if x.info.status == "KILLED"}
    assert killed, "no trial was interrupted"
    for x in killed.values():
        assert (
            f"study interrupted; continue it with `python -m study resume {name}`" in x.data.tags[schema.FAILURE_REASON]
        )
    wait_for(lambda: not trial_processes(ray_head), "the stopped job's trial processes to exit", 60)

    job2 = ray_head.submit(entry)  # the very same command
    info = ray_head.wait(job2, timeout=400)
    logs = ray_head.logs(job2)
    assert info["status"] == "SUCCEEDED", logs[-5000:]
    assert "exists with the same spec: resuming it" in logs and "resuming the Tune experiment" in logs
    r = assert_complete(study_runs, mlflow_server.uri, name, KEYS, val_steps(6))
    for key, run in r.by_key().items():
        if key in before:
            assert (run.info.run_id, run.info.end_time) == before[key], key
            assert run.data.tags[tracking.ATTEMPTS] == "1", key
        if key in killed:  # continued in the same run, from its checkpoint
            assert run.info.run_id == killed[key].info.run_id
            assert (
                run.data.tags[tracking.ATTEMPTS] == "2" and "study interrupted" in run.data.tags[tracking.RETRIED_AFTER]
            )
            assert schema.FAILURE_REASON not in run.data.tags


# --- 4 ------------------------------------------------------------------------------------------------
@pytest.mark.timeout(600)
def test_mlflow_server_outage_is_spooled_and_synced(ray_head, new_mlflow_server, tmp_path, study_runs):
    server = new_mlflow_server()  # its own server: this test stops it
    name, root, epochs = "e2e-mlflow-down", tmp_path / "studies", 8
    job_id = ray_head.submit(
        ray_head.study_entry(
            *study_args(
                name,
                root,
                server.uri,
                "--arms",
                "scrapl,p-adam",
                "--seeds",
                "0,1",
                "--set",
                f"train.epochs={epochs}",
                "--max-concurrent",
                "2",
            )
        )
    )
    # down while the first trials train (they have logged to the server already)
    wait_for(
        lambda: runs_by_status(server.uri, name).get("RUNNING"), "a trial run to start", 300, ray_head, job_id, poll=0.2
    )
    server.stop()
    assert not server.healthy()

    # while it is down, a new study refuses to start and leaves nothing behind
    other = tmp_path / "other"
    refused = subprocess.run(
        [sys.executable, "-m", "study", *study_args("refused", other, server.uri)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"error: --mlflow-uri: cannot reach an MLflow server at {server.uri}" in refused.stderr
    assert not other.exists() or not any(other.iterdir())

    info = ray_head.wait(job_id, timeout=400)  # training goes on without the server
    logs = ray_head.logs(job_id)
    assert f"study {name}: 4 finished, 0 failed, 0 unfinished" in logs, logs[-5000:]
    # exit status 4: the trials ran, MLflow misses some of it; the job's log says what to do
    assert info["status"] == "FAILED" and "exit code 4" in (info.get("message") or ""), info
    assert f"(nothing is lost); when it is back run `python -m study sync {name} --root {root}`" in logs
    spool = root / name / "spool"
    spooled = sorted(p.name for p in spool.glob("*.jsonl"))
    assert spooled and (spool / "study.json").is_file(), f"nothing was spooled in {spool}:\n{logs[-3000:]}"
    assert json.loads((spool / "study.json").read_text())["status"] == "FINISHED"
    assert not (root / name / "tables").exists()  # tables come from MLflow: written by the sync
    print(f"\n[e2e] MLflow down: job {info['status']}, spooled {spooled}")

    server.start()  # back on the same port and backend
    sync = subprocess.run(
        [sys.executable, "-m", "study", "sync", name, "--root", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert f"trial(s) synced to {server.uri}" in sync.stdout
    assert f"study {name}: its MLflow run ended FINISHED" in sync.stdout
    assert not [p for p in spool.rglob("*") if p.is_file()], "spool not emptied after a successful sync"
    assert (root / name / "tables" / "ablation.md").is_file(), sync.stdout

    keys = {f"{PRESET}/{a}/{s}" for a in ("scrapl", "p-adam") for s in (0, 1)}
    r = assert_complete(study_runs, server.uri, name, keys, val_steps(epochs))
    for key, run in r.by_key().items():
        files = {a.path for a in r.client.list_artifacts(run.info.run_id)}
        assert {"config.json", "curves", "audio"} <= files, key
        assert run.data.tags["scrapl.attempts"] == "1", key  # spooled attempts are counted once, at the sync
    again = subprocess.run(
        [sys.executable, "-m", "study", "sync", name, "--root", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0 and "nothing spooled" in again.stdout

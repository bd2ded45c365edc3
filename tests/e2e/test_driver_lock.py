"""End to end: the same study submitted twice with ``ray job submit`` while the first job runs. The second job
is refused at once (exit status 5), naming the first job's driver (pid, host, Ray job id) and what to do;
the first job finishes alone: one MLflow run per trial, one attempt each, no validation step twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from study import lock

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PRESET = "smoke-granular"
EPOCHS = 3


@pytest.mark.timeout(600)
def test_the_same_study_submitted_twice_trains_every_trial_once(ray_head, mlflow_server, tmp_path, study_runs):
    name, root = "e2e-twice", tmp_path / "studies"
    entry = ray_head.study_entry(
        "run",
        "ablation",
        "--smoke-test",
        "--arms",
        "scrapl",
        "--seeds",
        "0,1",
        "--name",
        name,
        "--root",
        str(root),
        "--mlflow-uri",
        mlflow_server.uri,
        "--set",
        f"train.epochs={EPOCHS}",
        "--progress-interval",
        "5",
    )
    first = ray_head.submit(entry)
    lock_file = Path(root) / name / lock.LOCK_NAME
    deadline = time.time() + 300
    while not lock_file.is_file():
        assert ray_head.job(first)["status"] in ("PENDING", "RUNNING"), ray_head.logs(first)[-4000:]
        assert time.time() < deadline, "the first job never took the study's lock:\n" + ray_head.logs(first)[-4000:]
        time.sleep(0.5)

    second = ray_head.submit(entry)  # the very same command while the first job runs
    info = ray_head.wait(second, timeout=240)
    logs = ray_head.logs(second)
    assert info["status"] == "FAILED" and f"exit code {lock.BUSY_EXIT}" in (info.get("message") or ""), (info, logs)
    pid = int(ray_head.job(first)["driver_info"]["pid"])
    assert f"error: study {name} is already running: driver pid {pid} on host " in logs, logs
    assert f"(Ray job {first})" in logs and f"`ray job stop {first}`" in logs, logs
    assert ray_head.job(first)["status"] == "RUNNING", "the refused job disturbed the running one"

    info = ray_head.wait(first, timeout=400)
    logs = ray_head.logs(first)
    assert info["status"] == "SUCCEEDED", logs[-5000:]
    assert f"study {name}: 2 finished, 0 failed, 0 unfinished" in logs
    assert not lock_file.exists()
    r = study_runs(mlflow_server.uri, name)
    by_key = r.by_key()  # one run per trial
    assert set(by_key) == {f"{PRESET}/scrapl/{s}" for s in (0, 1)}
    for key, run in by_key.items():
        assert run.info.status == "FINISHED", key
        assert run.data.tags["scrapl.attempts"] == "1", key  # trained by one driver only
        assert r.steps(run) == [9 * e for e in range(1, EPOCHS + 1)], key
        r.assert_no_duplicate_steps(run)

"""MLflow on PostgreSQL: a throwaway PostgreSQL cluster (``postgres``: Debian's server, ``initdb`` in a
temporary folder, 127.0.0.1 only, run as the ``postgres`` user) as the backend store of an ``mlflow server``
(``pg_mlflow_server``), with studies submitted by ``ray job submit`` to the ``ray start`` cluster.

1. ten trials run at once (``--cpus-per-trial 0.2`` on 2 CPUs) and log through the server: every metric
   step arrives exactly once, and at least eight trial runs were open at the same instant (ten, not eight,
   so that a slow worker start on a loaded CI machine does not leave the first run closed before the last
   opens);
2. two different studies submitted at once to the same cluster, server and study root: separate
   experiments, each run in its own study's experiment under its own parent run, nothing clobbered;
3. the PostgreSQL database restarted mid-study (down while the trials train and when the study ends;
   the ``mlflow server`` stays up and answers 503): the trials keep training, the spool keeps what
   could not be logged (exit 4), and ``study sync`` delivers everything once the database is back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis import schema

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PRESET = "smoke-granular"
STEPS_PER_EPOCH = 9  # smoke-granular: 84 training examples / batch 8


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


def assert_complete(study_runs, uri: str, name: str, keys: set[str], steps: list[int]):
    """Every trial exactly once, FINISHED, every metric's steps once and the validations all there; the
    parent FINISHED; nothing RUNNING. Returns the reader."""
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


def max_overlap(runs) -> int:
    """The most trial runs open (between start and end time) at the same instant."""
    events = sorted(
        [(x.info.start_time, 1) for x in runs] + [(x.info.end_time, -1) for x in runs], key=lambda e: (e[0], e[1])
    )
    level = peak = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


# --- 1 ------------------------------------------------------------------------------------------------
@pytest.mark.timeout(600)
def test_eight_concurrent_trials_log_every_step_once(ray_head, pg_mlflow_server, tmp_path, study_runs):
    tic = time.time()
    # 16 epochs: trials must outlast Ray's staggered start of ten workers (with 8, the faster path engine let
    # the first trials finish before the last started: 6 of 10 open at once)
    name, root, epochs = "e2e-pg-concurrent", tmp_path / "studies", 16
    arms, seeds = ("scrapl", "p-adam"), (0, 1, 2, 3, 4)
    job_id = ray_head.submit(
        ray_head.study_entry(
            *study_args(
                name,
                root,
                pg_mlflow_server.uri,
                "--arms",
                ",".join(arms),
                "--seeds",
                ",".join(map(str, seeds)),
                "--set",
                f"train.epochs={epochs}",
                "--cpus-per-trial",
                "0.2",
            )
        )
    )
    info = ray_head.wait(job_id, timeout=540)
    logs = ray_head.logs(job_id)
    assert info["status"] == "SUCCEEDED", logs[-5000:]
    assert f"study {name}: 10 finished, 0 failed, 0 unfinished" in logs, logs[-5000:]

    keys = {f"{PRESET}/{a}/{s}" for a in arms for s in seeds}
    r = assert_complete(study_runs, pg_mlflow_server.uri, name, keys, val_steps(epochs))
    for run in r.trials:  # every validation metric holds exactly the validation steps
        for key in (schema.VAL_THETA_L1, "val_loss"):
            assert r.steps(run, key) == val_steps(epochs), (run.info.run_name, key)
    overlap = max_overlap(r.trials)
    assert overlap >= 8, f"at most {overlap} trial runs were open at once: the trials did not log concurrently"
    print(f"\n[e2e] PostgreSQL-backed server: 10 trials, {overlap} logging at once; test {time.time() - tic:.0f} s")


# --- 2 ------------------------------------------------------------------------------------------------
@pytest.mark.timeout(600)
def test_two_studies_at_once_do_not_interfere(ray_head, pg_mlflow_server, tmp_path, study_runs):
    from study import tracking

    tic = time.time()
    root, epochs = tmp_path / "studies", 3  # one root for both: the studies share the folder too
    studies = {"e2e-pg-twin-a": "scrapl", "e2e-pg-twin-b": "p-adam"}
    jobs = {
        name: ray_head.submit(
            ray_head.study_entry(
                *study_args(
                    name,
                    root,
                    pg_mlflow_server.uri,
                    "--arms",
                    arm,
                    "--seeds",
                    "0,1",
                    "--set",
                    f"train.epochs={epochs}",
                    "--cpus-per-trial",
                    "0.5",
                )
            )
        )
        for name, arm in studies.items()
    }
    for name, job_id in jobs.items():
        info = ray_head.wait(job_id, timeout=480)
        logs = ray_head.logs(job_id)
        assert info["status"] == "SUCCEEDED", logs[-5000:]
        assert f"study {name}: 2 finished, 0 failed, 0 unfinished" in logs, logs[-5000:]
        other = next(n for n in studies if n != name)
        assert other not in logs, f"study {other} appears in the log of {name}"

    experiments = set()
    for name, arm in studies.items():
        r = assert_complete(
            study_runs, pg_mlflow_server.uri, name, {f"{PRESET}/{arm}/{s}" for s in (0, 1)}, val_steps(epochs)
        )
        (parent,) = r.parents
        assert len(r.all) == 3, [x.info.run_name for x in r.all]  # nothing of the other study here
        for run in r.trials:
            tags = run.data.tags
            assert (tags[schema.STUDY], tags[schema.ARM]) == (name, arm)
            assert tags[schema.PARENT_RUN_ID] == parent.info.run_id and tags[tracking.ATTEMPTS] == "1"
        settings = json.loads((root / name / "settings.json").read_text())
        assert (settings["experiment_id"], settings["parent_run_id"]) == (r.experiment_id, parent.info.run_id)
        table = (root / name / "tables" / "ablation.md").read_text()
        assert table.count("| SCRAPL") + table.count("| +P-Adam") == 1, table  # its own arm only
        experiments.add(r.experiment_id)
    assert len(experiments) == 2
    print(f"\n[e2e] two studies at once on PostgreSQL: test {time.time() - tic:.0f} s")


# --- 3 ------------------------------------------------------------------------------------------------
@pytest.mark.timeout(600)
def test_postgres_restart_mid_study_is_spooled_and_synced(
    ray_head, new_postgres, new_mlflow_server, tmp_path, study_runs, runs_by_status
):
    tic = time.time()
    pg = new_postgres()  # its own database and server: this test stops the database
    server = new_mlflow_server(pg.uri)
    name, root, epochs = "e2e-pg-restart", tmp_path / "studies", 8
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
    ray_head.wait_until(job_id, lambda: runs_by_status(server.uri, name).get("RUNNING"), "a trial run to start")
    pg.stop()
    assert server.healthy(), "the mlflow server itself stays up (its /health does not read the database)"

    info = ray_head.wait(job_id, timeout=420)  # training goes on without the database
    logs = ray_head.logs(job_id)
    assert f"study {name}: 4 finished, 0 failed, 0 unfinished" in logs, logs[-5000:]
    assert info["status"] == "FAILED" and "exit code 4" in (info.get("message") or ""), (info, logs[-3000:])
    assert f"when it is back run `python -m study sync {name} --root {root}`" in logs, logs[-3000:]
    spool = root / name / "spool"
    spooled = sorted(p.name for p in spool.glob("*.jsonl"))
    assert spooled and (spool / "study.json").is_file(), f"nothing spooled in {spool}"

    pg.start()  # back on the same port with the same data
    sync = subprocess.run(
        [sys.executable, "-m", "study", "sync", name, "--root", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert f"study {name}: its MLflow run ended FINISHED" in sync.stdout, sync.stdout
    assert not [p for p in spool.rglob("*") if p.is_file()], "spool not emptied after a successful sync"
    assert (root / name / "tables" / "ablation.md").is_file(), sync.stdout

    keys = {f"{PRESET}/{a}/{s}" for a in ("scrapl", "p-adam") for s in (0, 1)}
    r = assert_complete(study_runs, server.uri, name, keys, val_steps(epochs))
    for key, run in r.by_key().items():
        assert {"config.json", "curves", "audio"} <= {a.path for a in r.client.list_artifacts(run.info.run_id)}, key
        assert run.data.tags["scrapl.attempts"] == "1", key
    print(
        f"\n[e2e] PostgreSQL down mid-study: {len(spooled)} trial spool(s) + the study's end synced; "
        f"test {time.time() - tic:.0f} s"
    )

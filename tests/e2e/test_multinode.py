"""A study on a multi-node Ray cluster that loses a node (``ray_cluster``: a head and a worker node started
with ``ray start`` on this machine, each with its own node address, temp dir, ports and tag; 2 fake GPUs
and a custom resource on the worker).

A smoke ablation submitted with ``ray job submit`` trains on both nodes at once (the node address each
trial run is tagged with, and its worker pid among the worker node's processes, prove it). The worker
node is then SIGKILLed, all its processes at once (as when a machine dies; never ``ray stop``, which
would kill every Ray process of this machine). Its trial is retried on the surviving node from its last
checkpoint in the same MLflow run: 0 runs lost, 0 duplicated, none left RUNNING, and the retried trial
ends with the metrics of an uninterrupted run (rel 1e-6). The study folder (Tune's ``storage_path``,
the checkpoints the worker wrote) is a path both nodes see: the same machine here, NFS or another
shared filesystem on a real cluster (see the README's cluster recipe).

What the node loss cost is printed: the steps re-run (checkpoint step at the kill vs the step the retry
resumed from) and the time from the kill to the retried attempt's first report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from analysis import schema

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PRESET = "smoke-granular"
STEPS_PER_EPOCH = 9  # smoke-granular: 84 training examples / batch 8
EPOCHS = 20  # ~0.8 s an epoch on one core: time to kill the worker mid-trial
SEEDS = (0, 1, 2)
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"


def last_checkpoint_step(root: Path, name: str, key: str) -> int:
    """The step of the newest checkpoint Tune holds for trial ``key`` (0 = none yet)."""
    cell = key.replace("/", "_").replace("+", "-")
    ckpts = list((root / name / "ray" / "trials").glob(f"{cell}_*/checkpoint_*"))
    index = max((int(p.name.split("_")[-1]) for p in ckpts), default=-1)
    return STEPS_PER_EPOCH * (index + 1)


@pytest.mark.timeout(600)
def test_worker_node_lost_mid_study(ray_cluster, mlflow_server, tmp_path, study_runs, runs_by_status):
    from search_spaces import StudySpec
    from study import tracking
    from trainables.train import train

    head, worker = ray_cluster
    node = head.node(WORKER_IP)
    assert node is not None, f"worker node {WORKER_IP} is not ALIVE"
    assert node["resources_total"].get("GPU") == 2 and node["resources_total"].get("e2e_worker") == 1, node
    assert head.node(HEAD_IP) is not None
    tic = time.time()
    name, root = "e2e-multinode", tmp_path / "studies"
    job_id = head.submit(
        head.study_entry(
            "run",
            "ablation",
            "--smoke-test",
            "--arms",
            "scrapl",
            "--seeds",
            ",".join(map(str, SEEDS)),
            "--name",
            name,
            "--root",
            str(root),
            "--mlflow-uri",
            mlflow_server.uri,
            "--set",
            f"train.epochs={EPOCHS}",
            "--cpus-per-trial",
            "1",
            "--max-failures",
            "2",
            "--progress-interval",
            "5",
        )
    )

    # both nodes train at once (1 CPU each, 1 CPU per trial); the worker's trial is the victim once it
    # has checkpointed 2 epochs and is still training
    def victim():
        running = runs_by_status(mlflow_server.uri, name).get("RUNNING", [])
        nodes = {r.data.tags.get(tracking.WORKER_NODE): r for r in running}
        if HEAD_IP not in nodes or WORKER_IP not in nodes:
            return None
        run = nodes[WORKER_IP]
        key = run.data.tags[schema.TRIAL_ID]
        step = last_checkpoint_step(root, name, key)
        return (run, key, step) if step >= 2 * STEPS_PER_EPOCH else None

    run, key, ckpt_before = head.wait_until(job_id, victim, "a trial on each node, the worker's with 2 checkpoints")
    pid = int(run.data.tags[tracking.WORKER_PID])
    assert pid in worker.pids(), f"trial {key} (pid {pid}) is tagged {WORKER_IP} but is no process of the worker node"
    killed = worker.kill()
    t_kill = time.time()
    ckpt_step = last_checkpoint_step(root, name, key)  # the newest one on disk when the node died
    assert pid in killed

    info = head.wait(job_id, timeout=420)
    logs = head.logs(job_id)
    assert info["status"] == "SUCCEEDED", logs[-5000:]
    assert f"study {name}: {len(SEEDS)} finished, 0 failed, 0 unfinished" in logs, logs[-5000:]
    assert head.node(WORKER_IP) is None, "the killed worker node is still ALIVE for Ray"

    # 0 lost, 0 duplicated (by_key asserts one run per trial), none RUNNING, every step once
    r = study_runs(mlflow_server.uri, name)
    by_key = r.by_key()
    assert set(by_key) == {f"{PRESET}/scrapl/{s}" for s in SEEDS}
    steps = [STEPS_PER_EPOCH * (e + 1) for e in range(EPOCHS)]
    for k, x in by_key.items():
        assert x.info.status == "FINISHED", (k, x.info.status, x.data.tags.get(schema.FAILURE_REASON))
        assert r.steps(x) == steps, k
        r.assert_no_duplicate_steps(x)
        assert schema.TEST_THETA_L1 in x.data.metrics, k
    assert not [x.info.run_name for x in r.all if x.info.status == "RUNNING"]
    (parent,) = r.parents
    assert parent.info.status == "FINISHED"

    # the victim: retried once, on the surviving node, in the same MLflow run, from its last checkpoint
    retried = by_key[key]
    tags = retried.data.tags
    assert retried.info.run_id == run.info.run_id
    assert tags[tracking.ATTEMPTS] == "2" and tags[tracking.WORKER_NODE] == HEAD_IP, tags
    resumed = int(tags[tracking.RESUMED_FROM])
    assert ckpt_before <= resumed <= ckpt_step and resumed % STEPS_PER_EPOCH == 0, (ckpt_before, resumed, ckpt_step)
    for k, x in by_key.items():
        if k != key:
            assert x.data.tags[tracking.ATTEMPTS] == "1", k

    # exact resume: an uninterrupted run of the same cell ends with the same metrics
    spec = StudySpec.from_dict(json.loads((root / name / "spec.json").read_text()))
    (cell,) = [c for c in spec.cells() if c.key == key]
    reference = train(spec.config(cell, {"device": "cpu", "threads": 1}))
    for metric in (schema.TEST_THETA_L1, schema.VAL_TOTAL_VARIATION):
        assert retried.data.metrics[metric] == pytest.approx(reference.metrics[metric], rel=1e-6), metric
    curve = {int(m.step): m.value for m in r.client.get_metric_history(retried.info.run_id, schema.VAL_THETA_L1)}
    assert curve == pytest.approx({int(h["step"]): h[schema.VAL_THETA_L1] for h in reference.history}, rel=1e-6)

    # what the node loss cost: the retried attempt's first validation after the kill, from MLflow
    first = min(
        (
            m.timestamp
            for m in r.client.get_metric_history(retried.info.run_id, schema.VAL_THETA_L1)
            if m.step > resumed
        ),
        default=None,
    )
    recovery = f"{first / 1000 - t_kill:.0f} s" if first else "n/a"
    print(
        f"\n[e2e] node loss: trial {key} killed on {WORKER_IP} with its checkpoint at step {ckpt_step}; "
        f"retried on {HEAD_IP} from step {resumed}: {ckpt_step - resumed} checkpointed step(s) re-run, plus the "
        f"at most {STEPS_PER_EPOCH - 1} steps of the epoch in progress; kill -> first new validation {recovery}; "
        f"test {time.time() - tic:.0f} s"
    )

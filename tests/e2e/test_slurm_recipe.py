"""The SLURM recipe for real: ``deploy/slurm/ray-study.sbatch`` submitted with ``sbatch`` to a single-node
SLURM cluster of this machine (``slurm``: Debian's slurmctld + slurmd + munged, configured in a temporary
folder). The script starts the Ray head under ``srun`` (2 fake GPUs per node, its own ports and temp
dir), submits a smoke study with ``ray job submit`` to it, logging to the MLflow server, and follows it to
the end; the job's exit status is the study's, and no Ray process outlives the allocation."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from analysis import schema

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "slurm" / "ray-study.sbatch"


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.mark.timeout(600)
def test_sbatch_script_runs_a_study_on_the_allocation(slurm, mlflow_server, tmp_path, study_runs):
    tic = time.time()
    name, root = "e2e-slurm", tmp_path / "studies"
    ray_tmp = Path(tempfile.mkdtemp(prefix="scrapl-sl-", dir="/tmp"))  # short: Ray's sockets live under it
    gcs, dash, agent, agent_grpc, metrics, renv, nm, om, client = free_ports(9)
    ports = (
        f"--dashboard-agent-listen-port={agent} --dashboard-agent-grpc-port={agent_grpc} "
        f"--metrics-export-port={metrics} --runtime-env-agent-port={renv} --node-manager-port={nm} "
        f"--object-manager-port={om} --ray-client-server-port={client} --min-worker-port=0 --max-worker-port=0"
    )
    env = {
        "SCRAPL_REPO": str(REPO),
        "SCRAPL_STUDY_ROOT": str(root),
        "MLFLOW_TRACKING_URI": mlflow_server.uri,
        "GPUS_PER_NODE": "2",
        "RAY_PORT": str(gcs),
        "RAY_DASHBOARD_PORT": str(dash),
        "RAY_START_ARGS": ports,
        "RAY_TMPDIR": str(ray_tmp),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    try:
        status, log, left = slurm.sbatch(
            SCRIPT,
            [
                "run",
                "ablation",
                "--smoke-test",
                "--arms",
                "scrapl",
                "--seeds",
                "0,1",
                "--name",
                name,
                "--set",
                "train.epochs=2",
                "--progress-interval",
                "5",
            ],
            options=["--nodes=1", "--cpus-per-task=2", "--job-name=scrapl-e2e"],
            env=env,
        )
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert status == 0, log[-6000:]
    assert "1 node(s), 2 GPU(s) and 2 CPU(s) per node" in log and "all 1 node(s) joined" in log, log[-6000:]
    assert f"study {name}: 2 finished, 0 failed, 0 unfinished" in log, log[-6000:]
    assert not left, f"processes {left} outlived the SLURM job"
    assert not list(root.glob(".ray-token-*")), "the allocation's Ray token was left behind"

    r = study_runs(mlflow_server.uri, name)
    assert {k: run.info.status for k, run in r.by_key().items()} == {
        f"smoke-granular/scrapl/{s}": "FINISHED" for s in (0, 1)
    }
    (parent,) = r.parents
    assert parent.info.status == "FINISHED" and parent.data.tags[schema.STUDY] == name
    print(f"\n[e2e] SLURM recipe: sbatch -> study finished; test {time.time() - tic:.0f} s")

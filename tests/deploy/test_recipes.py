"""The cluster recipes in deploy/: the SLURM batch script (bash syntax, shellcheck, its usage path, the GPUs
per node as a parameter of both Ray node kinds) and the KubeRay RayJob manifest (YAML with the fields
KubeRay needs, an entrypoint the study CLI accepts, the MLflow URI from the environment, one shared
studies volume on every pod)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import ray
import yaml

from study.cli_parser import build_parser

REPO = Path(__file__).resolve().parents[2]
SBATCH = REPO / "deploy" / "slurm" / "ray-study.sbatch"
RAYJOB = REPO / "deploy" / "kuberay" / "rayjob-study.yaml"


# --- SLURM ---------------------------------------------------------------------------------------------
def test_sbatch_script_is_valid_bash():
    out = subprocess.run(["bash", "-n", str(SBATCH)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_sbatch_script_passes_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.fail(
            "shellcheck is not installed: `make shellcheck` (Debian's shellcheck; `make test` runs it)", pytrace=False
        )
    out = subprocess.run(
        ["shellcheck", "--shell=bash", "--severity=style", str(SBATCH)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_sbatch_script_without_a_study_prints_its_usage():
    out = subprocess.run(["bash", str(SBATCH)], capture_output=True, text=True, cwd=REPO, timeout=30)
    assert out.returncode == 2 and "usage: sbatch" in out.stderr, out.stdout + out.stderr


def test_sbatch_script_starts_head_and_workers_with_the_gpus_per_node_parameter():
    text = SBATCH.read_text()
    directives = [line for line in text.splitlines() if line.startswith("#SBATCH")]
    assert "#SBATCH --ntasks-per-node=1" in directives  # one Ray node per machine
    assert 'GPUS_PER_NODE="${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-0}}"' in text
    starts = [cmd for cmd in text.split("srun ")[1:] if "ray start" in cmd]
    head = [c for c in starts if "--head" in c]
    workers = [c for c in starts if "--head" not in c]
    assert len(head) == 1 and len(workers) == 1, starts
    for cmd in head + workers:
        assert '--num-gpus="$GPUS_PER_NODE"' in cmd and "--block" in cmd, cmd
    assert '--address="$ADDRESS"' in workers[0]
    assert "ray job submit" in text and 'python -m study "$@" --root "$ROOT"' in text


# --- KubeRay -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rayjob() -> dict:
    return yaml.safe_load(RAYJOB.read_text())


def containers(pod_template: dict) -> list[dict]:
    return pod_template["spec"]["containers"]


def test_rayjob_has_the_fields_kuberay_requires(rayjob):
    assert rayjob["apiVersion"] == "ray.io/v1" and rayjob["kind"] == "RayJob"
    assert rayjob["metadata"]["name"]
    spec = rayjob["spec"]
    assert spec["entrypoint"] and spec["shutdownAfterJobFinishes"] is True
    cluster = spec["rayClusterSpec"]
    assert cluster["rayVersion"] == ray.__version__  # the image runs the Ray this project pins
    head = cluster["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict) and containers(head["template"])[0]["image"]
    (group,) = cluster["workerGroupSpecs"]
    assert group["groupName"] and group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    assert isinstance(group["rayStartParams"], dict)
    (worker,) = containers(group["template"])
    assert worker["image"] == containers(head["template"])[0]["image"]
    assert int(worker["resources"]["limits"]["nvidia.com/gpu"]) >= 1
    env = yaml.safe_load(spec["runtimeEnvYAML"])["env_vars"]
    assert env["RAY_JOB_STOP_SIGNAL"] == "SIGINT"  # `ray job stop` lets the study save its state


def test_rayjob_entrypoint_is_a_study_the_cli_accepts(rayjob):
    argv = shlex.split(rayjob["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", "study"]
    args = build_parser().parse_args(argv[3:])
    assert args.mlflow_uri == "$MLFLOW_TRACKING_URI"  # expanded by the job's shell, from the pod's env
    assert str(args.root) == "/studies"


def test_rayjob_pods_share_the_studies_volume_and_get_the_mlflow_uri(rayjob):
    cluster = rayjob["spec"]["rayClusterSpec"]
    templates = [cluster["headGroupSpec"]["template"]] + [g["template"] for g in cluster["workerGroupSpecs"]]
    root = shlex.split(rayjob["spec"]["entrypoint"])
    root = root[root.index("--root") + 1]
    claims = set()
    for template in templates:
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        for c in containers(template):
            env = {e["name"]: e for e in c["env"]}
            assert "secretKeyRef" in env["MLFLOW_TRACKING_URI"]["valueFrom"], c["name"]
            (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == root]
            claims.add(volumes[mount["name"]]["persistentVolumeClaim"]["claimName"])
    assert len(claims) == 1, f"the pods mount different studies volumes: {claims}"

"""Shared helpers for the analysis tests: tiny hand-made per-seed and curve tables."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

PER_SEED_HEADER = ["arm", "seed", "test_theta_l1", "val_total_variation", "convergence_step"]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


# The hand-worked study used across test_tables / test_cli (raw units):
#   arm A: L1 0.1, 0.2, 0.3   TV 0.004, 0.006, 0.005   conv 960, 1920, (never)
#   arm B: L1 0.2, 0.4, 0.5   TV 0.003, 0.004, 0.005   conv 480, (never), 960
#   arm J: a single run       L1 0.05  TV 0.002        conv 96
TINY_ROWS = [
    ["A", 0, 0.1, 0.004, 960],
    ["A", 1, 0.2, 0.006, 1920],
    ["A", 2, 0.3, 0.005, ""],
    ["B", 0, 0.2, 0.003, 480],
    ["B", 1, 0.4, 0.004, ""],
    ["B", 2, 0.5, 0.005, 960],
    ["J", 0, 0.05, 0.002, 96],
]


@pytest.fixture(name="write_csv")
def write_csv_fixture():
    """The ``write_csv(path, header, rows)`` helper (test modules cannot import conftest)."""
    return write_csv


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    return write_csv(tmp_path / "per_seed.csv", PER_SEED_HEADER, TINY_ROWS)


# --- a real local MLflow store, laid out as analysis.schema documents --------------------------------------
# Validation curves (steps 96, 192, 288) of the "tiny" study; every run's final metrics are computed
# from its curve with analysis.curves.summarize_curve, as the trainer will.
MLFLOW_CURVES = {
    ("A", 0): [0.30, 0.10, 0.20],  # TV (0.2 + 0.1) / 3 = 0.1, converged at 192
    ("A", 1): [0.40, 0.20, 0.15],  # never converged
    ("A", 2): [0.25, 0.12, 0.09],  # converged at 288
    ("B", 0): [0.20, 0.08, 0.05],
    ("B", 1): [0.15, 0.10, 0.10],
    ("B", 2): [0.12, 0.09, 0.07],
}
MLFLOW_TEST_L1 = {("A", 0): 0.1, ("A", 1): 0.2, ("A", 2): 0.3, ("B", 0): 0.2, ("B", 1): 0.4, ("B", 2): 0.5}
MLFLOW_STEPS = [96, 192, 288]
PI_VALUES = [0.5, 0.1, 0.1, 0.1, 0.1, 0.1]
PATH_TABLE = [
    {
        "index": i,
        "n2": 4 + i // 3,
        "n_fr": i % 3,
        "spin": [0, 1, -1][i % 3],
        "rate_hz": [100.0, 50.0][i // 3],
        "scale_cyc_per_oct": [0.0, 1.0, 1.0][i % 3],
    }
    for i in range(6)
]


@dataclass
class MlflowStore:
    uri: str
    run_ids: dict  # (arm, seed) -> run id of the tiny study
    failed_run_id: str
    duplicate_run_ids: list
    untagged_run_id: str


def _log_trial(
    client, exp_id, parent_id, arm, seed, curve, test_l1, *, status="FINISHED", t0=0, retry_step=None, extra_tags=None
):
    from mlflow.entities import Metric

    from analysis import schema
    from analysis.curves import summarize_curve

    tags = {
        schema.ROLE: schema.ROLE_TRIAL,
        schema.STUDY: "tiny",
        schema.ARM: arm,
        schema.SEED: str(seed),
        schema.PRESET: "granular",
        schema.TRIAL_ID: f"{arm}_{seed}",
        schema.PARENT_RUN_ID: parent_id,
    }
    tags.update(extra_tags or {})
    run = client.create_run(exp_id, tags=tags, start_time=t0)
    rid = run.info.run_id
    ts = 1_000_000 + t0
    metrics = []
    if retry_step is not None:  # an attempt that died after logging this step with another value
        metrics.append(Metric(schema.VAL_THETA_L1, 0.9, ts, retry_step))
    for i, (step, y) in enumerate(zip(MLFLOW_STEPS, curve, strict=True)):
        metrics += [
            Metric(schema.VAL_THETA_L1, y, ts + 10 + i, step),
            Metric(schema.per_param(schema.VAL_THETA_L1, "am"), y / 2, ts + 10 + i, step),
            Metric(schema.ELAPSED_S, 1.5 * (i + 1) + seed, ts + 10 + i, step),
        ]
    final = summarize_curve(MLFLOW_STEPS, curve)
    final[schema.TEST_THETA_L1] = test_l1
    final[schema.STEPS_PER_SECOND] = 10.0 if arm == "A" else 5.0
    metrics += [Metric(k, v, ts + 20, MLFLOW_STEPS[-1]) for k, v in final.items()]
    client.log_batch(rid, metrics=metrics)
    client.set_terminated(rid, status=status)
    return rid


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory) -> MlflowStore:
    from mlflow.tracking import MlflowClient

    from analysis import schema

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    artifacts = (root / "artifacts").as_uri()

    exp = client.create_experiment(schema.EXPERIMENT_PREFIX + "tiny", artifact_location=artifacts + "/tiny")
    parent = client.create_run(
        exp, tags={schema.ROLE: schema.ROLE_STUDY, schema.STUDY: "tiny", schema.ARMS: "B,A"}, start_time=0
    )
    pid = parent.info.run_id
    local = root / "pi"
    local.mkdir()
    (local / schema.PI_JSON).write_text(json.dumps(PI_VALUES))
    (local / schema.PATHS_JSON).write_text(json.dumps(PATH_TABLE))
    client.log_artifact(pid, str(local / schema.PI_JSON), schema.pi_artifact_dir("granular"))
    client.log_artifact(pid, str(local / schema.PATHS_JSON), schema.pi_artifact_dir("granular"))
    client.set_terminated(pid)
    run_ids = {}
    for t0, ((arm, seed), curve) in enumerate(MLFLOW_CURVES.items()):
        run_ids[(arm, seed)] = _log_trial(
            client,
            exp,
            pid,
            arm,
            seed,
            curve,
            MLFLOW_TEST_L1[(arm, seed)],
            t0=t0 + 1,
            retry_step=192 if (arm, seed) == ("A", 0) else None,
        )
    failed = _log_trial(
        client,
        exp,
        pid,
        "B",
        3,
        [0.5, 0.5, 0.5],
        0.5,
        status="FAILED",
        t0=50,
        extra_tags={schema.FAILURE_REASON: "loss became NaN"},
    )

    empty = client.create_experiment(schema.EXPERIMENT_PREFIX + "empty", artifact_location=artifacts + "/empty")
    client.create_run(empty, tags={schema.ROLE: schema.ROLE_STUDY})

    dup = client.create_experiment(schema.EXPERIMENT_PREFIX + "dup", artifact_location=artifacts + "/dup")
    dup_ids = [_log_trial(client, dup, "p", "A", 0, [0.3, 0.2, 0.1], 0.1, t0=i) for i in range(2)]

    bad = client.create_experiment(schema.EXPERIMENT_PREFIX + "untagged", artifact_location=artifacts + "/bad")
    run = client.create_run(bad, tags={schema.ROLE: schema.ROLE_TRIAL, schema.ARM: "A"})
    client.set_terminated(run.info.run_id)
    return MlflowStore(uri, run_ids, failed, dup_ids, run.info.run_id)

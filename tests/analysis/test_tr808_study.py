"""TR-808 studies read back from MLflow: the setting comes from the run's synth.max_shift, runs on
recordings (no θ) are accepted, and `table tr808 --study` renders Tables 4/8/9 from them."""

import json
import subprocess
import sys

import pytest

from analysis.mlflow_source import read_study
from analysis.schema import (
    ARM,
    ARM_LABELS,
    EXPERIMENT_PREFIX,
    PARENT_RUN_ID,
    PRESET,
    ROLE,
    ROLE_STUDY,
    ROLE_TRIAL,
    SEED,
    STUDY,
    TR808_METRICS,
)


def _log_study(client, study: str, shifts: tuple[int, ...]) -> None:
    exp = client.create_experiment(EXPERIMENT_PREFIX + study)
    labels = json.dumps({"scrapl": "SCRAPL", "mss": "MSS"}) if study == "drums-micro" else ""
    parent = client.create_run(exp, tags={ROLE: ROLE_STUDY, STUDY: study, ARM_LABELS: labels}).info.run_id
    for arm, base in (("scrapl", 1.0), ("mss", 2.0)):
        for shift in shifts:
            for seed in (0, 1):
                run = client.create_run(
                    exp,
                    tags={
                        ROLE: ROLE_TRIAL,
                        STUDY: study,
                        ARM: arm,
                        SEED: str(seed),
                        PRESET: f"drums-{shift}",
                        PARENT_RUN_ID: parent,
                    },
                ).info.run_id
                client.log_param(run, "synth.kind", "tr808")
                client.log_param(run, "synth.max_shift", str(shift))
                for i, metric in enumerate(TR808_METRICS):
                    if metric != "test_fad":  # FAD is off by default: absent
                        client.log_metric(run, metric, base + i + seed * 0.1 + (shift > 0))
                client.set_terminated(run, "FINISHED")


@pytest.fixture(scope="module")
def tr808_store(tmp_path_factory):
    """One store: study 'drums' runs both settings; 'drums-micro' and 'drums-meso' one each (the
    usual case: a tr808-micro and a tr808-meso study logged to a shared --mlflow-uri)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    client = MlflowClient(uri)
    _log_study(client, "drums", (0, 2048))
    _log_study(client, "drums-micro", (0,))
    _log_study(client, "drums-meso", (2048,))
    return uri


def test_setting_from_max_shift_and_no_theta_required(tr808_store):
    runs = read_study(tr808_store, "drums", required=("arm", "seed"))
    df = runs.per_seed
    assert len(df) == 8
    assert sorted(df.groupby("setting").size().items()) == [("meso", 4), ("micro", 4)]
    assert set(df.columns) >= set(m for m in TR808_METRICS if m != "test_fad")
    with pytest.raises(ValueError, match="test_theta_l1"):  # Table 2/6 reading still wants θ
        read_study(tr808_store, "drums")


def test_table_tr808_from_the_study(tr808_store):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "table",
            "tr808",
            "--study",
            "drums",
            "--mlflow-uri",
            tr808_store,
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    rows = out.stdout.splitlines()
    # scrapl, MSS log+lin, micro, seeds 0/1: 1.0 + 0 and 1.1 -> mean 1.05
    assert any(r.startswith("scrapl,test_mss_log_lin/micro,1.05,") for r in rows), out.stdout
    assert any(r.startswith("scrapl,test_mss_log_lin/meso,2.05,") for r in rows), out.stdout
    md = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "table",
            "tr808",
            "--study",
            "drums",
            "--mlflow-uri",
            tr808_store,
            "--group",
            "transient",
        ],
        capture_output=True,
        text=True,
    )
    assert md.returncode == 0 and "| scrapl |" in md.stdout and "| mss |" in md.stdout


def test_table_tr808_from_a_micro_and_a_meso_study(tr808_store):
    both = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "table",
            "tr808",
            "--study",
            "drums-micro,drums-meso",
            "--mlflow-uri",
            tr808_store,
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
    )
    one = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "table",
            "tr808",
            "--study",
            "drums",
            "--mlflow-uri",
            tr808_store,
            "--format",
            "csv",
        ],
        capture_output=True,
        text=True,
    )
    assert both.returncode == 0, both.stderr
    # same runs split over two studies; the labels of drums-micro's parent run (tag scrapl.arm_labels)
    assert both.stdout == one.stdout.replace("scrapl,", "SCRAPL,").replace("mss,", "MSS,"), both.stdout
    twice = subprocess.run(
        [
            sys.executable,
            "-m",
            "analysis",
            "table",
            "tr808",
            "--study",
            "drums-meso,drums",
            "--mlflow-uri",
            tr808_store,
        ],
        capture_output=True,
        text=True,
    )
    assert twice.returncode == 1 and "duplicate" in twice.stderr.lower(), twice.stderr

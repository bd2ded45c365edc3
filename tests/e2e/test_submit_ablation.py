"""End to end with the components a user runs: a smoke ablation submitted with
``ray job submit --working-dir . -- python -m study run ...`` to a ``ray start`` cluster, logged to an
``mlflow server``; the Table 2/6 style tables exported FROM THE SERVER with the analysis CLI; the study's
runs in the MLflow UI rendered by headless Chromium; no secret in MLflow or the job's logs.

Fault 5 is folded in: one trial's loss becomes NaN (``--fault p-adam+p-saga/2:nan@12``); it ends FAILED
with the reason in MLflow and in the study summary, every other trial finishes.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from analysis import schema

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAME = "e2e-ablation"
PRESET = "smoke-granular"
ARMS = ["scrapl", "p-adam", "p-adam+p-saga", "p-adam+p-saga+theta-is"]
LABELS = ["SCRAPL", "+P-Adam", "+P-Adam +P-SAGA", "+P-Adam +P-SAGA +θ-IS"]
SEEDS = [0, 1, 2]
NAN = ("p-adam+p-saga", 2, 12)  # arm, seed, step: validations at 9, 18, 27, 36 (4 epochs × 9 steps)
VAL_STEPS = [9, 18, 27, 36]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def git_head() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


@pytest.fixture(scope="module")
def job(ray_head, mlflow_server, tmp_path_factory):
    """The submitted study, run once for the module's tests."""
    root = tmp_path_factory.mktemp("studies")
    arm, seed, step = NAN
    tic = time.time()
    job_id = ray_head.submit(
        ray_head.study_entry(
            "run",
            "ablation",
            "--smoke-test",
            "--seeds",
            ",".join(map(str, SEEDS)),
            "--name",
            NAME,
            "--root",
            str(root),
            "--mlflow-uri",
            mlflow_server.uri,
            "--fault",
            f"{arm}/{seed}:nan@{step}",
            "--progress-interval",
            "5",
        ),
        env_vars={"SCRAPL_GIT_COMMIT": git_head()} if git_head() else None,
    )
    info = ray_head.wait(job_id, timeout=600)
    wall = time.time() - tic
    logs = ray_head.logs(job_id)
    print(f"\n[e2e] ablation job {job_id}: {info['status']} in {wall:.0f} s (submit → terminal)")
    return {"id": job_id, "info": info, "logs": logs, "root": root, "wall_s": wall}


def test_job_completes_with_the_nan_trial_reported(job):
    info, logs = job["info"], job["logs"]
    # exit status 1 = "some trials failed": the job is FAILED for Ray, the study itself completed
    assert info["status"] == "FAILED" and "exit code 1" in (info.get("message") or ""), (info, logs[-4000:])
    assert "12/12 done" not in logs and "11/12 done · 0 running · 0 pending · 1 failed" in logs, logs[-4000:]
    assert f"study {NAME}: 11 finished, 1 failed, 0 unfinished" in logs, logs[-4000:]
    arm, seed, step = NAN
    assert f"failed: {arm} s{seed}: loss is nan at step {step}" in logs, logs[-4000:]


def test_every_arm_and_seed_once_in_the_mlflow_server(job, mlflow_server, study_runs):
    r = study_runs(mlflow_server.uri, NAME)
    (parent,) = r.parents
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[schema.ARMS] == ",".join(ARMS)
    if git_head():
        assert parent.data.tags["mlflow.source.git.commit"] == git_head()
    by_key = r.by_key()  # asserts one run per trial key
    expected = {f"{PRESET}/{a}/{s}" for a in ARMS for s in SEEDS}
    assert set(by_key) == expected
    assert len(r.all) == 1 + len(expected)  # nothing else in the experiment
    nan_arm, nan_seed, nan_step = NAN
    for key, run in by_key.items():
        _, arm, seed = key.split("/")
        tags = run.data.tags
        assert (tags[schema.ARM], tags[schema.SEED], tags[schema.PRESET]) == (arm, seed, PRESET)
        assert tags[schema.PARENT_RUN_ID] == parent.info.run_id
        assert tags["scrapl.attempts"] == "1", key
        r.assert_no_duplicate_steps(run)
        if (arm, int(seed)) == (nan_arm, nan_seed):
            assert run.info.status == "FAILED"
            assert tags[schema.FAILURE_REASON].startswith(f"loss is nan at step {nan_step}")
            assert r.steps(run) == [9] and schema.TEST_THETA_L1 not in run.data.metrics
            continue
        assert run.info.status == "FINISHED", (key, tags.get(schema.FAILURE_REASON))
        assert r.steps(run) == VAL_STEPS, key
        assert schema.TEST_THETA_L1 in run.data.metrics and schema.FAILURE_REASON not in tags
        files = {a.path for a in r.client.list_artifacts(run.info.run_id)}
        assert {"config.json", "curves", "audio"} <= files, key  # proxied artifact upload through the server


def analysis_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def table_rows(markdown: str) -> list[str]:
    lines = [ln for ln in markdown.splitlines() if ln.startswith("|")]
    return [ln.split("|")[1].strip() for ln in lines[2:]]  # after the header and the |---| rule


def test_tables_exported_from_the_mlflow_server(job, mlflow_server):
    ARTIFACTS.mkdir(exist_ok=True)
    out = analysis_cli("table", "ablation", "--study", NAME, "--mlflow-uri", mlflow_server.uri)
    assert out.returncode == 0, out.stderr
    # Table 2: one row per arm, in the study's order, under the study's paper labels (parent-run tag)
    assert table_rows(out.stdout) == LABELS, out.stdout
    nan_arm, nan_seed, _ = NAN
    n_runs = ", ".join(f"{label} {2 if arm == nan_arm else 3}" for arm, label in zip(ARMS, LABELS, strict=True))
    assert f"n runs by arm: {n_runs}." in out.stdout, out.stdout
    assert f"(arm {nan_arm}, seed {nan_seed}): status FAILED, loss is nan" in out.stdout, out.stdout
    out = analysis_cli(
        "table",
        "ablation",
        "--study",
        NAME,
        "--mlflow-uri",
        mlflow_server.uri,
        "--arms",
        ",".join(ARMS),
        "--labels",
        ",".join(LABELS),
    )
    assert out.returncode == 0, out.stderr
    assert table_rows(out.stdout) == LABELS, out.stdout  # the paper's row names
    (ARTIFACTS / "e2e-table2.md").write_text(out.stdout)

    # Table 6 pairs by seed: the NaN trial leaves one arm without seed 2, refused unless asked for
    refused = analysis_cli("table", "deltas", "--study", NAME, "--mlflow-uri", mlflow_server.uri)
    assert refused.returncode != 0 and "unpaired" in refused.stderr.lower(), refused.stderr
    out = analysis_cli(
        "table",
        "deltas",
        "--study",
        NAME,
        "--mlflow-uri",
        mlflow_server.uri,
        "--drop-unpaired",
        "--arms",
        ",".join(ARMS),
        "--labels",
        ",".join(LABELS),
    )
    assert out.returncode == 0, out.stderr
    (ARTIFACTS / "e2e-table6.md").write_text(out.stdout)
    rows = table_rows(out.stdout)
    assert len(rows) == len(ARMS) - 1, out.stdout  # each arm vs the previous one
    for later in LABELS[1:]:
        assert any(later in row for row in rows), (later, rows)


def ui_runs_url(server_uri: str, experiment_id: str) -> str:
    """The runs table of an experiment in MLflow 3.17's UI, listing the trial runs flat.

    ``/#/experiments/<id>`` opens the experiment's overview, ``.../runs`` the runs table. The trials are
    nested runs, collapsed under the study's parent run unless the table is filtered *and* sorted by
    something other than the creation date: filter on the trial role, sort by run name."""
    query = urlencode(
        {
            "searchFilter": f"tags.`{schema.ROLE}` = '{schema.ROLE_TRIAL}'",
            "orderByKey": "tags.`mlflow.runName`",
            "orderByAsc": "true",
        },
        quote_via=quote,
    )
    return f"{server_uri}/#/experiments/{experiment_id}/runs?{query}"


def test_mlflow_ui_lists_the_study_runs(job, mlflow_server, chromium):
    exp = mlflow_server.client().get_experiment_by_name(schema.EXPERIMENT_PREFIX + NAME)
    url = ui_runs_url(mlflow_server.uri, exp.experiment_id)
    dom = chromium.dom(url)
    text = re.sub(r"<[^>]+>", " ", dom)
    missing = [
        f"{arm} · seed {seed} · {PRESET}"
        for arm in ARMS
        for seed in SEEDS
        if f"{arm} · seed {seed} · {PRESET}" not in dom
    ]
    if missing:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "mlflow-ui-e2e-ablation.html").write_text(dom)
    assert not missing, f"runs {missing} not in the rendered runs table of {url} (DOM in test-artifacts/)"
    n = len(ARMS) * len(SEEDS)
    assert re.search(rf"\b{n}\s+matching runs", text), f"no '{n} matching runs' in the page of {url}"
    shot = chromium.screenshot(url, ARTIFACTS / "mlflow-ui-e2e-ablation.png", window="1280,900")
    assert shot.stat().st_size < 500_000


def test_no_token_or_secret_in_mlflow_or_logs(job, ray_head, mlflow_server, study_runs):
    token = ray_head.token
    r = study_runs(mlflow_server.uri, NAME)
    for run in r.all:
        for where, values in (("params", run.data.params), ("tags", run.data.tags)):
            for k, v in values.items():
                assert token not in v and token not in k, f"the Ray token is in {where} {k} of {run.info.run_name}"
            # nothing that looks like a credential is logged either
            assert not [k for k in values if any(w in k.lower() for w in ("token", "secret", "password"))], values
    assert token not in job["logs"]
    assert token not in mlflow_server.log.read_text()
    for path in Path(job["root"]).rglob("*"):  # the study directory (spec, settings, tables, Tune state)
        if path.is_file() and path.stat().st_size < 5_000_000:
            assert token.encode() not in path.read_bytes(), path
    # and the job API really requires it
    assert ray_head.api(f"/api/jobs/{job['id']}", token=False)[0] == 401


def markdown_cells(markdown: str) -> list[str]:
    """The cells of a Markdown table's body rows, as the UI renders them (no ** bold, no \\ escapes)."""
    cells = []
    for row in [ln for ln in markdown.splitlines() if ln.startswith("|")][2:]:
        for cell in row.strip().strip("|").split("|"):
            text = cell.strip().replace("**", "").replace("\\", "")
            if text:
                cells.append(text)
    return cells


def test_the_study_run_carries_table2_and_figures_in_the_mlflow_ui(job, mlflow_server, chromium):
    """The parent run's artifacts: Table 2 (Markdown, HTML, CSV), the per-seed CSV and the figures; the run's
    artifact view, opened by the deep link the driver prints, renders Table 2's cells."""
    import html

    from study import mlflow_ui

    c = mlflow_server.client()
    exp = c.get_experiment_by_name(schema.EXPERIMENT_PREFIX + NAME)
    (parent,) = c.search_runs([exp.experiment_id], f"tags.`{schema.ROLE}` = '{schema.ROLE_STUDY}'")
    rid = parent.info.run_id
    tables = {a.path for a in c.list_artifacts(rid, "tables")}
    assert {"tables/ablation.md", "tables/ablation.html", "tables/ablation.csv", "tables/per_seed.csv"} <= tables, (
        tables
    )
    figures = {a.path for a in c.list_artifacts(rid, "figures")}
    assert {"figures/validation_curves.png", "figures/accuracy_vs_cost.png"} <= figures, figures
    assert exp.tags.get(mlflow_ui.EXPERIMENT_KIND_TAG) == mlflow_ui.MODEL_TRAINING
    url = mlflow_ui.run_url(mlflow_server.uri, exp.experiment_id, rid, "tables/ablation.md")
    assert url in job["logs"], "the driver did not print the Table 2 link"
    local = Path(c.download_artifacts(rid, "tables/ablation.md", str(ARTIFACTS / "e2e-parent-run")))
    cells = markdown_cells(local.read_text())
    assert [cell for cell in cells if cell in LABELS] == LABELS, cells

    dom = chromium.dom(url)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())
    missing = [cell for cell in cells if " ".join(cell.split()) not in text]
    if missing:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "mlflow-ui-table2.html").write_text(dom)
    assert not missing, f"Table 2 cells {missing} not in the rendered artifact view of {url} (DOM in test-artifacts/)"
    shot = chromium.screenshot(url, ARTIFACTS / "mlflow-ui-table2.png", window="1280,900")
    assert shot.stat().st_size < 500_000


def test_extend_under_ray_job_submit_runs_only_the_new_seed(job, ray_head, mlflow_server, study_runs):
    """Last in the module (it grows the study the tests above read): ``study extend NAME --seeds 0,1,2,3``
    submitted as a Ray job trains exactly the 4 new (arm, seed 3) trials on the same MLflow server; the 12
    runs of the first job keep their ids, end times and attempts, and the study's run records the
    extension. The exit status is the extension's (its 4 trials finished); the tables still leave out the
    seed-2 NaN trial of the first job and say so."""
    from study import tracking

    before = {k: (r.info.run_id, r.info.end_time) for k, r in study_runs(mlflow_server.uri, NAME).by_key().items()}
    job_id = ray_head.submit(
        ray_head.study_entry(
            "extend", NAME, "--seeds", "0,1,2,3", "--root", str(job["root"]), "--progress-interval", "5"
        )
    )
    info = ray_head.wait(job_id, timeout=600)
    logs = ray_head.logs(job_id)
    assert info["status"] == "SUCCEEDED", logs[-5000:]
    assert "extend 1: seeds 3 added (4 seeds now); 4 new trial(s)" in logs
    assert "left out of the tables (not FINISHED): run" in logs and "arm p-adam+p-saga, seed 2" in logs
    r = study_runs(mlflow_server.uri, NAME)
    by_key = r.by_key()  # one run per trial key
    new = {f"{PRESET}/{a}/3" for a in ARMS}
    assert set(by_key) == set(before) | new and len(r.all) == 1 + len(before) + len(new)
    for key, run in by_key.items():
        if key in before:
            assert (run.info.run_id, run.info.end_time) == before[key], key
        else:
            assert run.info.status == "FINISHED" and run.data.tags[tracking.ATTEMPTS] == "1", key
            assert r.steps(run) == VAL_STEPS, key
    (parent,) = r.parents
    assert parent.data.tags["scrapl.seeds"] == "0,1,2,3", parent.data.tags

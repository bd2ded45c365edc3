"""A study's results on its parent MLflow run (``study.export.publish``): after a smoke study the parent run
carries Table 2 and 6 as Markdown, HTML and CSV, the per-seed CSV and the figures (PNG and PDF), the
experiment is tagged as model training and the driver prints deep links into the UI; publishing again
replaces the previous version (a file it no longer writes is deleted, a changed one overwritten)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analysis import schema
from search_spaces import ablation
from study import export, mlflow_ui, runner
from study.layout import StudyDir

LABELS = ["SCRAPL", "+P-Adam"]


def files_of(client, run_id: str, folder: str) -> set[str]:
    out = set()
    for item in client.list_artifacts(run_id, folder):
        out |= files_of(client, run_id, item.path) if item.is_dir else {item.path}
    return out


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_parent_run_carries_tables_and_figures_replaced_on_each_publish(ray_cluster, tmp_path, runs):
    spec = ablation("published", "smoke-granular", (0, 1), arms=["scrapl", "p-adam"], overrides={"train.max_steps": 10})
    lines: list[str] = []
    outcome = runner.run(spec, runner.Settings(root=tmp_path, progress_interval=5), say=lines.append)
    text = "\n".join(lines)
    assert outcome.exit_code == 0, text
    r = runs(outcome.tracking_uri, "published")
    (parent,) = r.parents
    rid, c = parent.info.run_id, r.client
    expected = {f"tables/{stem}.{ext}" for stem in ("ablation", "deltas") for ext in ("md", "html", "csv")}
    expected |= {"tables/per_seed.csv"} | {
        f"figures/{stem}.{ext}" for stem in ("validation_curves", "accuracy_vs_cost") for ext in ("png", "pdf")
    }
    assert files_of(c, rid, "tables") | files_of(c, rid, "figures") == expected
    local = Path(c.download_artifacts(rid, "", str(tmp_path / "dl")))
    page = (local / "tables" / "ablation.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page
    assert all(re.search(rf"<td[^>]*>{re.escape(label)}</td>", page) for label in LABELS), page
    assert (local / "figures" / "validation_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (local / "tables" / "ablation.md").read_text() == (
        tmp_path / "published" / "tables" / "ablation.md"
    ).read_text()
    assert r.experiment.tags[mlflow_ui.EXPERIMENT_KIND_TAG] == mlflow_ui.MODEL_TRAINING
    base, exp_id = mlflow_ui.LOCAL_UI, r.experiment_id
    assert f"Table 2:          {mlflow_ui.run_url(base, exp_id, rid, export.TABLE2_ARTIFACT)}" in text
    assert f"the study's runs: {mlflow_ui.runs_url(base, exp_id)}" in text

    # an earlier version: a table this export no longer writes, and a stale Table 2
    stale = tmp_path / "old"
    stale.mkdir()
    (stale / "losses.md").write_text("| old |\n")
    (stale / "ablation.md").write_text("| OLD TABLE |\n")
    for f in ("losses.md", "ablation.md"):
        c.log_artifact(rid, str(stale / f), "tables")
    assert "tables/losses.md" in files_of(c, rid, "tables")
    said: list[str] = []
    export.publish(spec, StudyDir.of(tmp_path, "published"), outcome.tracking_uri, say=said.append)
    assert files_of(c, rid, "tables") | files_of(c, rid, "figures") == expected, said
    again = Path(c.download_artifacts(rid, "tables/ablation.md", str(tmp_path / "dl2"))).read_text()
    assert "OLD TABLE" not in again and all(label in again for label in LABELS)
    assert c.get_run(rid).info.status == "FINISHED"  # publishing does not reopen the finished study run
    assert schema.ROLE_STUDY == c.get_run(rid).data.tags[schema.ROLE]

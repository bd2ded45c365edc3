"""The deep links into MLflow 3.17's UI that a study's driver prints (``study.mlflow_ui``); that the experiment
gets its kind tag and the driver prints them after a study: tests/study/test_publish.py."""

from study import mlflow_ui


def test_deep_links():
    base = "http://10.0.0.5:5000"
    assert mlflow_ui.run_url(base, "3", "abc") == f"{base}/#/experiments/3/runs/abc?workflowType=machine_learning"
    assert mlflow_ui.run_url(base, "3", "abc", "tables/ablation.md") == (
        f"{base}/#/experiments/3/runs/abc/artifacts/tables/ablation.md?workflowType=machine_learning"
    )
    runs = mlflow_ui.runs_url(base, "3")
    assert runs.startswith(f"{base}/#/experiments/3/runs?workflowType=machine_learning&searchFilter=")
    assert "scrapl.role%60%20%3D%20%27trial%27" in runs and "orderByKey=tags.%60mlflow.runName%60" in runs
    lines = mlflow_ui.hint_lines("sqlite:////x/mlflow.db", "3", "abc", "tables/ablation.md")
    assert lines[0].startswith("MLflow UI: mlflow ui --backend-store-uri sqlite:////x/mlflow.db --host 127.0.0.1")
    assert [ln.split(": ", 1)[1].strip() for ln in lines[1:]] == [
        mlflow_ui.runs_url(mlflow_ui.LOCAL_UI, "3"),
        mlflow_ui.run_url(mlflow_ui.LOCAL_UI, "3", "abc"),
        mlflow_ui.run_url(mlflow_ui.LOCAL_UI, "3", "abc", "tables/ablation.md"),
    ]
    assert mlflow_ui.hint_lines(base + "/", "3")[0] == f"MLflow UI: {base}"

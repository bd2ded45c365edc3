"""A study in MLflow's web UI (MLflow 3.17): the deep links the driver prints, and the experiment's kind.

What MLflow 3.17's UI shows for an experiment is decided in the browser, not by the experiment: the
navigation reads a *workflow type* ("genai", the default, or "machine_learning") from the page URL's
``workflowType`` query parameter, else from the browser's local storage (key ``mlflow.workflowType``,
set by the GenAI / ML switch in the side bar), and derives the experiment kind from it; the
experiment tag ``mlflow.experimentKind`` is read only when that workflow-based navigation is switched
off, which 3.17 never does (its feature flag is hard-wired on). So a fresh browser lands in the GenAI
overview (traces, token usage) whatever the tag says. Every link printed here therefore carries
``workflowType=machine_learning``, which opens the model-training view (runs, metrics, artifacts)
without changing the user's stored choice; the tag is still set (``mark_experiment``: the kind
MLflow's own "set experiment type" action writes, read by other MLflow versions and by the API).

Links (hash routes of the UI):

* the study's runs: ``#/experiments/<id>/runs`` filtered to the trial runs and sorted by run name, so
  the trials are listed flat (unfiltered, they are collapsed under the study's parent run);
* the parent run: ``#/experiments/<id>/runs/<run id>``; one of its artifacts:
  ``.../runs/<run id>/artifacts/<path>`` (Markdown, CSV and images render in the page).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from analysis import schema
from study import tracking

__all__ = [
    "EXPERIMENT_KIND_TAG",
    "MODEL_TRAINING",
    "WORKFLOW_PARAM",
    "LOCAL_UI",
    "ui_base",
    "runs_url",
    "run_url",
    "mark_experiment",
    "hint_lines",
]

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"
WORKFLOW_PARAM = ("workflowType", "machine_learning")
LOCAL_UI = "http://127.0.0.1:5000"


def ui_base(uri: str) -> str:
    """The UI's address for a tracking URI: the server itself, or ``mlflow ui``'s default for a store."""
    return uri.rstrip("/") if uri.startswith(("http://", "https://")) else LOCAL_UI


def _query(**params: str) -> str:
    return urlencode({WORKFLOW_PARAM[0]: WORKFLOW_PARAM[1], **params}, quote_via=quote)


def runs_url(base: str, experiment_id: str) -> str:
    """The study's trial runs, flat, by run name (``arm · seed · preset``)."""
    return f"{base}/#/experiments/{experiment_id}/runs?" + _query(
        searchFilter=f"tags.`{schema.ROLE}` = '{schema.ROLE_TRIAL}'",
        orderByKey="tags.`mlflow.runName`",
        orderByAsc="true",
    )


def run_url(base: str, experiment_id: str, run_id: str, artifact: str | None = None) -> str:
    """A run's page, or one of its artifacts in the run's artifact view."""
    path = f"{base}/#/experiments/{experiment_id}/runs/{run_id}"
    if artifact:
        path += "/artifacts/" + quote(artifact.strip("/"))
    return f"{path}?{_query()}"


def mark_experiment(uri: str, experiment_id: str) -> None:
    """Tag the study's experiment as model training (see the module docstring for what 3.17 makes of it)."""
    tracking.client(uri).set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)


def hint_lines(
    uri: str, experiment_id: str | None = None, parent_run_id: str | None = None, table: str | None = None
) -> list[str]:
    """How to open the study in the UI: the command (for a store), then the deep links."""
    if uri.startswith(("http://", "https://")):
        lines = [f"MLflow UI: {ui_base(uri)}"]
    else:
        lines = [f"MLflow UI: mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000   then open:"]
    if experiment_id is None:
        return [lines[0] + (f" {LOCAL_UI}" if not uri.startswith(("http://", "https://")) else "")]
    base = ui_base(uri)
    lines.append(f"  the study's runs: {runs_url(base, experiment_id)}")
    if parent_run_id:
        lines.append(f"  the study's run:  {run_url(base, experiment_id, parent_run_id)}")
        if table:
            lines.append(f"  Table 2:          {run_url(base, experiment_id, parent_run_id, table)}")
    return lines

"""The driver's MLflow calls (plain ``MlflowClient``); the trials' own calls are ``study.trial_log``.

Layout (``analysis.schema``): experiment ``scrapl/<study>``; one parent run (tag ``scrapl.role=study``)
per study; one nested child run per trial (``mlflow.parentRunId``), found again by its
``scrapl.trial_id`` tag, so each trial has exactly one run whatever happens (retries, restores,
driver crashes, a second ``study run`` of the same study).

* Before Ray starts: ``check_tracking_uri``.
* The study's run: ``ensure_study_run`` (the driver creates the store, the experiment and the parent
  run before any trial: concurrent creation by trials races), ``log_parent_files``,
  ``finish_study_run``; when the server is unreachable at the end, ``spool_study_finish`` keeps the
  end for ``study sync`` (``sync_study_finish``).
* The trials' runs seen from the driver: ``find_trial_runs``, ``close_interrupted_runs``.
* The tags this project adds to the schema's, shared with ``study.trial_log``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mlflow.entities import Param
from mlflow.tracking import MlflowClient

from analysis import schema
from study.errors import StudyError
from study.layout import write_json_atomic

__all__ = [
    "check_tracking_uri",
    "experiment_name",
    "client",
    "search_runs",
    "tag_filter",
    "ensure_study_run",
    "log_parent_files",
    "parent_has_artifact",
    "finish_study_run",
    "close_interrupted_runs",
    "spool_study_finish",
    "pending_study_finish",
    "sync_study_finish",
    "STUDY_SPOOL",
    "find_trial_runs",
    "ATTEMPTS",
    "RAY_TRIAL_ID",
    "EARLY_STOPPED",
    "TUNE_STOPPED_REASON",
    "RETRIED_AFTER",
    "KIND",
    "WORKER_PID",
    "WORKER_NODE",
    "RESUMED_FROM",
]

# Tags added to the schema's (extra tags are allowed by the layout)
ATTEMPTS = "scrapl.attempts"  # training attempts of a trial (1 = never retried)
RAY_TRIAL_ID = "scrapl.ray_trial_id"  # Tune's id of the latest attempt
EARLY_STOPPED = "scrapl.early_stopped"  # "true" when ASHA stopped an HPO trial
# failure reason a trial gives its run when Tune stops it (ASHA, or the study was interrupted)
TUNE_STOPPED_REASON = "stopped by Ray Tune (scheduler decision or study interrupted)"
RETRIED_AFTER = "scrapl.retried_after"  # failure reason of the last failed attempt before a retry
KIND = "scrapl.kind"  # on the parent run: ablation | losses | theta-is | hpo
WORKER_PID = "scrapl.worker_pid"  # pid of the process running the latest attempt (to find or kill it)
WORKER_NODE = "scrapl.worker_node"  # Ray node IP of that process
RESUMED_FROM = "scrapl.resumed_from_step"  # the checkpoint step the latest attempt resumed from


def experiment_name(study: str) -> str:
    return schema.EXPERIMENT_PREFIX + study


def _configure_http() -> None:
    """Fail fast against a dead server (MLflow's defaults retry for minutes); user settings win."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")


def client(uri: str) -> MlflowClient:
    _configure_http()
    return MlflowClient(tracking_uri=uri)


# --- driver side -----------------------------------------------------------------------------------
def check_tracking_uri(uri: str, option: str = "--mlflow-uri", timeout: float = 5.0) -> None:
    """Raise ``StudyError(option)`` unless ``uri`` is a usable tracking store. No store is created."""
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        url = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                if resp.status != 200:
                    raise OSError(f"HTTP {resp.status}")
        except (OSError, urllib.error.URLError) as err:
            raise StudyError(
                option,
                f"cannot reach an MLflow server at {uri} ({url}: {err}); start one "
                "(e.g. `mlflow server --host 127.0.0.1 --port 5000 --backend-store-uri "
                "sqlite:////abs/mlflow.db`) or omit the option to log to the study's "
                "own sqlite store",
            ) from None
        return
    if parsed.scheme == "sqlite":
        path = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else ""
        if not path.startswith("/"):
            raise StudyError(
                option,
                f"{uri!r}: use an absolute sqlite URI, sqlite:////abs/path/mlflow.db "
                "(trials run in scratch working directories)",
            )
        if not Path(path).parent.is_dir():
            raise StudyError(option, f"{uri!r}: directory {Path(path).parent} does not exist")
        return
    if parsed.scheme in ("", "file"):
        raise StudyError(
            option,
            f"{uri!r}: file stores are deprecated in MLflow 3; use an MLflow server "
            "(http://127.0.0.1:5000) or sqlite:////abs/path/mlflow.db",
        )
    if parsed.scheme.split("+")[0] in ("postgresql", "mysql", "mssql"):
        try:
            client(uri).search_experiments(max_results=1)
        except Exception as err:  # noqa: BLE001 - any driver error means "unusable"
            raise StudyError(option, f"cannot use the tracking store {uri}: {err}") from None
        return
    raise StudyError(
        option, f"unsupported tracking URI {uri!r}; expected http(s)://, sqlite:////abs/path or a database URI"
    )


def search_runs(c: MlflowClient, experiment_id: str, filter_string: str) -> list:
    """Every run of the experiment matching ``filter_string`` (all pages)."""
    runs, token = [], None
    while True:
        page = c.search_runs([experiment_id], filter_string=filter_string, max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def tag_filter(tag: str, value: str) -> str:
    return f"tags.`{tag}` = '{value}'"


def ensure_study_run(
    uri: str,
    spec,
    *,
    artifact_location: str | None = None,
    git: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> tuple[str, str]:
    """Create (or find, on resume) the study's experiment and parent run; return their ids."""
    c = client(uri)
    name = experiment_name(spec.name)
    exp = c.get_experiment_by_name(name)
    if exp is not None and exp.lifecycle_stage != "active":
        raise StudyError(
            "--name",
            f"MLflow experiment {name!r} at {uri} is deleted; restore it in the UI or choose another study name",
        )
    exp_id = (
        exp.experiment_id
        if exp is not None
        else c.create_experiment(
            name, artifact_location=artifact_location, tags={schema.STUDY: spec.name, KIND: spec.kind}
        )
    )
    parents = search_runs(c, exp_id, tag_filter(schema.ROLE, schema.ROLE_STUDY))
    if parents:
        run = min(parents, key=lambda r: r.info.start_time or 0)
        c.update_run(run.info.run_id, status="RUNNING")
        return exp_id, run.info.run_id
    tags = {
        schema.ROLE: schema.ROLE_STUDY,
        schema.STUDY: spec.name,
        KIND: spec.kind,
        schema.ARMS: ",".join(spec.arm_names),
        "mlflow.note.content": spec.description,
        schema.ARM_LABELS: json.dumps({a.name: a.display for a in spec.arms}, ensure_ascii=False),
    }
    for key, value in (git or {}).items():
        tags[key] = value
    run = c.create_run(exp_id, run_name=spec.name, tags=tags)
    params = {
        "kind": spec.kind,
        "presets": ",".join(spec.presets),
        "arms": ",".join(spec.arm_names),
        "seeds": ",".join(map(str, spec.seeds)),
        "n_trials": len(spec.cells()) if spec.hpo is None else spec.hpo.num_samples,
        "theta_is_seed": spec.theta_is_seed,
        "smoke_test": spec.smoke_test,
    }
    params.update({f"override.{k}": v for k, v in spec.overrides})
    params.update({f"settings.{k}": v for k, v in (settings or {}).items()})
    c.log_batch(run.info.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])
    return exp_id, run.info.run_id


def log_parent_files(uri: str, parent_run_id: str, files, artifact_path: str) -> None:
    c = client(uri)
    for f in files:
        c.log_artifact(parent_run_id, str(f), artifact_path)


def parent_has_artifact(uri: str, parent_run_id: str, path: str) -> bool:
    folder, _, name = path.rpartition("/")
    try:
        return any(Path(a.path).name == name for a in client(uri).list_artifacts(parent_run_id, folder or None))
    except Exception:  # noqa: BLE001 - a missing folder reads as "absent"
        return False


def finish_study_run(uri: str, parent_run_id: str, status: str, summary: Mapping[str, Any] | None = None) -> None:
    c = client(uri)
    if summary:
        c.set_tag(parent_run_id, "scrapl.summary", json.dumps(dict(summary))[:5000])
    c.set_terminated(parent_run_id, status)


STUDY_SPOOL = "study.json"  # in the spool directory: the parent run's end, when the server was unreachable


def spool_study_finish(
    spool_dir: str | Path, parent_run_id: str, status: str, summary: Mapping[str, Any], *, export: bool
) -> Path:
    """Keep the end of the study's own run for ``study sync`` (the server was unreachable when the study
    ended). ``export``: the sync also writes the study's tables (they come from MLflow)."""
    path = Path(spool_dir) / STUDY_SPOOL
    write_json_atomic(
        path, {"parent_run_id": parent_run_id, "status": status, "summary": dict(summary), "export": export}
    )
    return path


def pending_study_finish(spool_dir: str | Path) -> dict[str, Any] | None:
    path = Path(spool_dir) / STUDY_SPOOL
    return json.loads(path.read_text()) if path.is_file() else None


def sync_study_finish(uri: str, spool_dir: str | Path) -> dict[str, Any] | None:
    """Deliver a spooled end of the study's run (after the trials' spools); returns what was delivered."""
    doc = pending_study_finish(spool_dir)
    if doc is None:
        return None
    finish_study_run(uri, doc["parent_run_id"], doc["status"], doc.get("summary"))
    (Path(spool_dir) / STUDY_SPOOL).unlink()
    return doc


def close_interrupted_runs(
    uri: str, experiment_id: str, reason: str, *, relabel_tune_stopped: bool = True
) -> list[str]:
    """End the trial runs still RUNNING after an interrupted ``fit`` (``ray job stop``, Ctrl-C): KILLED, with
    the reason. Tune stops such trials by killing their workers, which cannot end their runs; the next
    attempt reopens the same run (the reason then moves to ``scrapl.retried_after``). A trial that saw
    the stop in time ended its run itself with the generic ``TUNE_STOPPED_REASON``; with
    ``relabel_tune_stopped`` (studies without a scheduler that stops trials, i.e. not HPO) that run gets
    ``reason`` too. Returns their keys."""
    c = client(uri)
    closed = []
    for run in find_trial_runs(uri, experiment_id):
        stopped_itself = (
            relabel_tune_stopped
            and run.info.status == "KILLED"
            and run.data.tags.get(schema.FAILURE_REASON) == TUNE_STOPPED_REASON
        )
        if run.info.status == "RUNNING" or stopped_itself:
            c.set_tag(run.info.run_id, schema.FAILURE_REASON, reason)
            c.set_terminated(run.info.run_id, "KILLED")
            closed.append(run.data.tags.get(schema.TRIAL_ID, run.info.run_id))
    return closed


def find_trial_runs(uri: str, experiment_id: str) -> list:
    """All trial runs of a study (for ``study status`` and the driver's bookkeeping)."""
    return search_runs(client(uri), experiment_id, tag_filter(schema.ROLE, schema.ROLE_TRIAL))

"""Every MLflow call of the study layer goes through this module (plain ``MlflowClient``).

Layout (``analysis.schema``): experiment ``scrapl/<study>``; one parent run (tag ``scrapl.role=study``)
per study; one nested child run per trial (``mlflow.parentRunId``), found again by its
``scrapl.trial_id`` tag, so each trial has exactly one run whatever happens (retries, restores,
driver crashes, a second ``study run`` of the same study).

* Driver side: ``check_tracking_uri`` (before Ray starts), ``ensure_study_run`` (the driver creates
  the store, the experiment and the parent run before any trial: concurrent creation by trials
  races), ``log_parent_artifacts``, ``finish_study_run``.
* Trial side: ``TrialLog``. Metric points are buffered and written with ``log_batch`` at most every
  ``flush_s`` seconds (and at the end); a step already in MLflow is never logged again, and steps
  missing from MLflow but present in the checkpoint's history are back-filled on resume. If a call
  fails (server down), the trial keeps training and the call goes to a local **spool**
  (``<study>/spool/<trial>.jsonl`` + artifact copies), replayed in order by ``sync_spool``
  (``study sync``, the next attempt of that trial, or the driver at the end of the study).
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from analysis import schema
from study.errors import StudyError

__all__ = ["check_tracking_uri", "experiment_name", "client", "ensure_study_run", "log_parent_artifacts",
           "log_parent_files", "parent_has_artifact", "finish_study_run", "close_interrupted_runs",
           "spool_study_finish", "pending_study_finish", "sync_study_finish", "STUDY_SPOOL", "TrialLog", "sync_spool", "spooled_trials", "find_trial_runs", "ATTEMPTS",
           "RAY_TRIAL_ID", "EARLY_STOPPED", "TUNE_STOPPED_REASON", "RETRIED_AFTER", "KIND", "WORKER_PID", "WORKER_NODE", "RESUMED_FROM"]

# Tags added to the schema's (extra tags are allowed by the layout)
ATTEMPTS = "scrapl.attempts"          # training attempts of a trial (1 = never retried)
RAY_TRIAL_ID = "scrapl.ray_trial_id"  # Tune's id of the latest attempt
EARLY_STOPPED = "scrapl.early_stopped"  # "true" when ASHA stopped an HPO trial
# failure reason a trial gives its run when Tune stops it (ASHA, or the study was interrupted)
TUNE_STOPPED_REASON = "stopped by Ray Tune (scheduler decision or study interrupted)"
RETRIED_AFTER = "scrapl.retried_after"  # failure reason of the last failed attempt before a retry
KIND = "scrapl.kind"                  # on the parent run: ablation | losses | theta-is | hpo
WORKER_PID = "scrapl.worker_pid"      # pid of the process running the latest attempt (to find or kill it)
WORKER_NODE = "scrapl.worker_node"    # Ray node IP of that process
RESUMED_FROM = "scrapl.resumed_from_step"  # the checkpoint step the latest attempt resumed from
_TERMINAL = ("FINISHED", "FAILED", "KILLED")


def experiment_name(study: str) -> str:
    return schema.EXPERIMENT_PREFIX + study


def _configure_http() -> None:
    """Fail fast against a dead server (MLflow's defaults retry for minutes); user settings win."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")


def client(uri: str):
    from mlflow.tracking import MlflowClient

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
            raise StudyError(option, f"cannot reach an MLflow server at {uri} ({url}: {err}); start one "
                                     "(e.g. `mlflow server --host 127.0.0.1 --port 5000 --backend-store-uri "
                                     "sqlite:////abs/mlflow.db`) or omit the option to log to the study's "
                                     "own sqlite store") from None
        return
    if parsed.scheme == "sqlite":
        path = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
        if not path.startswith("/"):
            raise StudyError(option, f"{uri!r}: use an absolute sqlite URI, sqlite:////abs/path/mlflow.db "
                                     "(trials run in scratch working directories)")
        if not Path(path).parent.is_dir():
            raise StudyError(option, f"{uri!r}: directory {Path(path).parent} does not exist")
        return
    if parsed.scheme in ("", "file"):
        raise StudyError(option, f"{uri!r}: file stores are deprecated in MLflow 3; use an MLflow server "
                                 "(http://127.0.0.1:5000) or sqlite:////abs/path/mlflow.db")
    if parsed.scheme.split("+")[0] in ("postgresql", "mysql", "mssql"):
        try:
            client(uri).search_experiments(max_results=1)
        except Exception as err:  # noqa: BLE001 - any driver error means "unusable"
            raise StudyError(option, f"cannot use the tracking store {uri}: {err}") from None
        return
    raise StudyError(option, f"unsupported tracking URI {uri!r}; expected http(s)://, sqlite:////abs/path or a "
                             "database URI")


def _search(c, experiment_id: str, filter_string: str) -> list:
    runs, token = [], None
    while True:
        page = c.search_runs([experiment_id], filter_string=filter_string, max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _tag_filter(tag: str, value: str) -> str:
    return f"tags.`{tag}` = '{value}'"


def ensure_study_run(uri: str, spec, *, artifact_location: str | None = None, git: Mapping[str, str] | None = None,
                     settings: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """Create (or find, on resume) the study's experiment and parent run; return their ids."""
    c = client(uri)
    name = experiment_name(spec.name)
    exp = c.get_experiment_by_name(name)
    if exp is not None and exp.lifecycle_stage != "active":
        raise StudyError("--name", f"MLflow experiment {name!r} at {uri} is deleted; restore it in the UI "
                                   "or choose another study name")
    exp_id = exp.experiment_id if exp is not None else c.create_experiment(
        name, artifact_location=artifact_location, tags={schema.STUDY: spec.name, KIND: spec.kind})
    parents = _search(c, exp_id, _tag_filter(schema.ROLE, schema.ROLE_STUDY))
    if parents:
        run = min(parents, key=lambda r: r.info.start_time or 0)
        c.update_run(run.info.run_id, status="RUNNING")
        return exp_id, run.info.run_id
    tags = {schema.ROLE: schema.ROLE_STUDY, schema.STUDY: spec.name, KIND: spec.kind,
            schema.ARMS: ",".join(spec.arm_names), "mlflow.note.content": spec.description,
            schema.ARM_LABELS: json.dumps({a.name: a.display for a in spec.arms}, ensure_ascii=False)}
    for key, value in (git or {}).items():
        tags[key] = value
    run = c.create_run(exp_id, run_name=spec.name, tags=tags)
    from mlflow.entities import Param

    params = {"kind": spec.kind, "presets": ",".join(spec.presets), "arms": ",".join(spec.arm_names),
              "seeds": ",".join(map(str, spec.seeds)), "n_trials": len(spec.cells()) if spec.hpo is None
              else spec.hpo.num_samples, "theta_is_seed": spec.theta_is_seed, "smoke_test": spec.smoke_test}
    params.update({f"override.{k}": v for k, v in spec.overrides})
    params.update({f"settings.{k}": v for k, v in (settings or {}).items()})
    c.log_batch(run.info.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])
    return exp_id, run.info.run_id


def log_parent_artifacts(uri: str, parent_run_id: str, local_dir: str | Path, artifact_path: str | None = None) -> None:
    client(uri).log_artifacts(parent_run_id, str(local_dir), artifact_path)


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


def spool_study_finish(spool_dir: str | Path, parent_run_id: str, status: str, summary: Mapping[str, Any],
                       *, export: bool) -> Path:
    """Keep the end of the study's own run for ``study sync`` (the server was unreachable when the study
    ended). ``export``: the sync also writes the study's tables (they come from MLflow)."""
    from study.layout import write_json_atomic

    path = Path(spool_dir) / STUDY_SPOOL
    write_json_atomic(path, {"parent_run_id": parent_run_id, "status": status, "summary": dict(summary),
                             "export": export})
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


def close_interrupted_runs(uri: str, experiment_id: str, reason: str, *, relabel_tune_stopped: bool = True
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
        stopped_itself = (relabel_tune_stopped and run.info.status == "KILLED"
                          and run.data.tags.get(schema.FAILURE_REASON) == TUNE_STOPPED_REASON)
        if run.info.status == "RUNNING" or stopped_itself:
            c.set_tag(run.info.run_id, schema.FAILURE_REASON, reason)
            c.set_terminated(run.info.run_id, "KILLED")
            closed.append(run.data.tags.get(schema.TRIAL_ID, run.info.run_id))
    return closed


def find_trial_runs(uri: str, experiment_id: str) -> list:
    """All trial runs of a study (for ``study status`` and the driver's bookkeeping)."""
    return _search(client(uri), experiment_id, _tag_filter(schema.ROLE, schema.ROLE_TRIAL))


# --- trial side ------------------------------------------------------------------------------------
def _safe(key: str) -> str:
    return quote(key, safe="")


class TrialLog:
    """The MLflow run of one trial (found by ``scrapl.trial_id`` or created under the parent run).

    Never raises on a tracking failure: after the first failed call the attempt writes to the spool.
    ``seconds`` accumulates the wall time spent in tracking calls (its overhead).
    """

    def __init__(self, uri: str, experiment_id: str, parent_run_id: str, key: str, spool_dir: str | Path, *,
                 flush_s: float = 10.0, warn=None) -> None:
        self.uri, self.experiment_id, self.parent_run_id, self.key = uri, experiment_id, parent_run_id, key
        self.spool_dir = Path(spool_dir)
        self.flush_s = flush_s
        self.run_id: str | None = None
        self.status: str | None = None
        self.attempts = 0
        self.logged_steps: set[int] = set()
        self.final_metrics: dict[str, float] = {}
        self.seconds = 0.0
        self.spooling = False
        self._buffer: list[tuple[str, float, int, int]] = []
        self._last_flush = time.monotonic()
        self._warn = warn or (lambda msg: print(f"[scrapl tracking] {msg}", file=sys.stderr, flush=True))
        self._client = None

    # -- plumbing --------------------------------------------------------------------------------------
    @property
    def spool_file(self) -> Path:
        return self.spool_dir / f"{_safe(self.key)}.jsonl"

    def _c(self):
        if self._client is None:
            self._client = client(self.uri)
        return self._client

    def _spool(self, op: dict[str, Any]) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        with open(self.spool_file, "a") as f:
            f.write(json.dumps(op, default=str) + "\n")

    def _call(self, op: dict[str, Any], live) -> Any:
        """Run ``live()`` unless spooling; on failure spool ``op`` and switch to spooling."""
        tic = time.perf_counter()
        try:
            if not self.spooling:
                try:
                    return live()
                except Exception as err:  # noqa: BLE001 - any tracking failure must not stop training
                    self.spooling = True
                    self._warn(f"MLflow call {op['op']} failed for trial {self.key} ({type(err).__name__}: "
                               f"{str(err)[:300]}); spooling to {self.spool_file} — run `python -m study sync`")
                    self._spool(self._header_op())
            self._spool(op)
            return None
        finally:
            self.seconds += time.perf_counter() - tic

    def _header_op(self) -> dict[str, Any]:
        return {"op": "open", "experiment_id": self.experiment_id, "parent_run_id": self.parent_run_id,
                "key": self.key, "run_name": getattr(self, "_run_name", self.key),
                "tags": getattr(self, "_tags", {}), "params": getattr(self, "_params", {})}

    # -- lifecycle -------------------------------------------------------------------------------------
    def open(self, run_name: str, tags: Mapping[str, str], params: Mapping[str, Any], *,
             new_attempt: bool = True) -> "TrialLog":
        """Find or create the run, mark it RUNNING, count the attempt, remember what is logged."""
        self._run_name, self._tags = run_name, dict(tags)
        self._params = {k: _param_value(v) for k, v in params.items()}
        tic = time.perf_counter()
        try:
            if self.spool_file.exists():
                sync_spool(self.uri, self.spool_dir, keys=[self.key], warn=self._warn)
            self._open_live(new_attempt)
        except Exception as err:  # noqa: BLE001
            self.spooling = True
            self._warn(f"cannot open the MLflow run of trial {self.key} at {self.uri} ({type(err).__name__}: "
                       f"{str(err)[:300]}); spooling to {self.spool_file} — run `python -m study sync`")
            # this attempt was not counted in MLflow: the replay counts it
            self._spool({**self._header_op(), "attempt": bool(new_attempt)})
        finally:
            self.seconds += time.perf_counter() - tic
        return self

    def _open_live(self, new_attempt: bool) -> None:
        from mlflow.entities import Param, RunTag

        c = self._c()
        runs = _search(c, self.experiment_id, _tag_filter(schema.TRIAL_ID, self.key))
        runs = [r for r in runs if r.data.tags.get(schema.ROLE) == schema.ROLE_TRIAL]
        if len(runs) > 1:
            self._warn(f"trial {self.key} has {len(runs)} MLflow runs ({', '.join(r.info.run_id for r in runs)}); "
                       "using the oldest")
        if runs:
            run = min(runs, key=lambda r: (r.info.start_time or 0, r.info.run_id))
            self.run_id, self.status = run.info.run_id, run.info.status
            self.attempts = int(run.data.tags.get(ATTEMPTS, "0") or 0)
            self.final_metrics = dict(run.data.metrics)
            if self.status == "FINISHED":
                return
            self.logged_steps = {int(m.step) for m in c.get_metric_history(self.run_id, schema.VAL_THETA_L1)}
            reason = run.data.tags.get(schema.FAILURE_REASON)
            if reason and new_attempt:  # a new attempt: the reason now describes an earlier one
                c.set_tag(self.run_id, RETRIED_AFTER, reason)
                c.delete_tag(self.run_id, schema.FAILURE_REASON)
            if not run.data.params:
                c.log_batch(self.run_id, params=[Param(k, v) for k, v in self._params.items()])
        else:
            tags = {schema.PARENT_RUN_ID: self.parent_run_id, schema.ROLE: schema.ROLE_TRIAL,
                    schema.TRIAL_ID: self.key, **self._tags}
            run = c.create_run(self.experiment_id, run_name=self._run_name, tags=tags)
            self.run_id, self.status = run.info.run_id, "RUNNING"
            items = [Param(k, v) for k, v in self._params.items()]
            for i in range(0, len(items), 100):
                c.log_batch(self.run_id, params=items[i:i + 100])
        if new_attempt:
            self.attempts += 1
        tags = [RunTag(k, v) for k, v in self._tags.items()] + [RunTag(ATTEMPTS, str(self.attempts))]
        c.log_batch(self.run_id, tags=tags)
        if self.status != "RUNNING":
            c.update_run(self.run_id, status="RUNNING")
            self.status = "RUNNING"

    @property
    def finished(self) -> bool:
        return self.status == "FINISHED"

    # -- metrics ---------------------------------------------------------------------------------------
    def log_metrics(self, step: int, metrics: Mapping[str, float], timestamp_ms: int | None = None,
                    flush: bool = False) -> None:
        """Buffer one validation's metrics at ``step`` (skipped when MLflow already has that step)."""
        if step in self.logged_steps or step <= 0:
            return
        ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        self._buffer.extend((k, float(v), ts, int(step)) for k, v in metrics.items() if _is_number(v))
        self.logged_steps.add(step)
        if flush or time.monotonic() - self._last_flush >= self.flush_s:
            self.flush()

    def backfill(self, history: Iterable[Mapping[str, Any]]) -> int:
        """Log validation points of a checkpoint's history that MLflow does not have; returns how many."""
        n = 0
        for point in history:
            step = int(point["step"])
            if step not in self.logged_steps:
                self.log_metrics(step, {k: v for k, v in point.items() if k != "step"})
                n += 1
        return n

    def flush(self) -> None:
        if not self._buffer:
            return
        points, self._buffer = self._buffer, []
        self._last_flush = time.monotonic()

        def live():
            from mlflow.entities import Metric

            c = self._c()
            for i in range(0, len(points), 1000):
                c.log_batch(self.run_id, metrics=[Metric(k, v, ts, s) for k, v, ts, s in points[i:i + 1000]])

        self._call({"op": "metrics", "points": points}, live)

    def log_final(self, step: int, metrics: Mapping[str, float]) -> None:
        """Final summary metrics, once: keys the run already holds are not logged again."""
        fresh = {k: v for k, v in metrics.items() if k not in self.final_metrics and _is_number(v)}
        if not fresh:
            return
        ts = int(time.time() * 1000)
        self._buffer.extend((k, float(v), ts, int(step)) for k, v in fresh.items())
        self.final_metrics.update(fresh)
        self.flush()

    # -- the rest --------------------------------------------------------------------------------------
    def set_tags(self, tags: Mapping[str, str]) -> None:
        tags = {k: str(v)[:5000] for k, v in tags.items()}

        def live():
            from mlflow.entities import RunTag

            self._c().log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

        self._call({"op": "tags", "tags": tags}, live)

    def log_artifacts(self, local_dir: str | Path) -> None:
        local_dir = Path(local_dir)

        def live():
            self._c().log_artifacts(self.run_id, str(local_dir))

        if self.spooling:
            self._spool_artifacts(local_dir)
            return
        self._call({"op": "artifacts", "dir": None}, live)
        if self.spooling:  # the live call just failed: keep a copy
            self._spool_artifacts(local_dir)

    def _spool_artifacts(self, local_dir: Path) -> None:
        dst = self.spool_dir / f"{_safe(self.key)}.artifacts" / f"{time.time_ns()}"
        shutil.copytree(local_dir, dst)
        self._spool({"op": "artifacts", "dir": str(dst)})

    def terminate(self, status: str, reason: str | None = None) -> None:
        """Flush, record the failure reason (tag) and end the run (FINISHED | FAILED | KILLED)."""
        self.flush()
        if reason is not None:
            self.set_tags({schema.FAILURE_REASON: reason})

        def live():
            self._c().set_terminated(self.run_id, status)

        self._call({"op": "terminate", "status": status}, live)
        self.status = status
        if not self.spooling and self.spool_file.exists():
            sync_spool(self.uri, self.spool_dir, keys=[self.key], warn=self._warn)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _param_value(v: Any) -> str:
    return str(v)[:6000]


# --- spool replay ----------------------------------------------------------------------------------
def spooled_trials(spool_dir: str | Path) -> list[Path]:
    spool_dir = Path(spool_dir)
    return sorted(spool_dir.glob("*.jsonl")) if spool_dir.is_dir() else []


def sync_spool(uri: str, spool_dir: str | Path, *, keys: Iterable[str] | None = None, warn=None) -> dict[str, int]:
    """Replay spooled calls into MLflow, in order, idempotently; delete what was delivered.

    Returns ``{trial key: replayed operations}``. Raises on tracking errors (nothing is deleted then).
    """
    from mlflow.entities import Metric, RunTag

    spool_dir = Path(spool_dir)
    files = spooled_trials(spool_dir)
    if keys is not None:
        wanted = {f"{_safe(k)}.jsonl" for k in keys}
        files = [f for f in files if f.name in wanted]
    done: dict[str, int] = {}
    for path in files:
        ops = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        header = next((o for o in ops if o["op"] == "open"), None)
        if header is None:
            raise ValueError(f"{path}: spool without an 'open' record")
        log = TrialLog(uri, header["experiment_id"], header["parent_run_id"], header["key"], spool_dir, warn=warn)
        log._run_name, log._tags, log._params = header["run_name"], header["tags"], header["params"]
        log._open_live(new_attempt=False)  # raises if still unreachable
        c = log._c()
        uncounted = sum(1 for o in ops if o["op"] == "open" and o.get("attempt"))
        if uncounted:  # attempts that started while the server was unreachable
            c.set_tag(log.run_id, ATTEMPTS, str(log.attempts + uncounted))
        present: dict[str, set[int]] = {}
        for op in ops:
            kind = op["op"]
            if kind == "metrics":
                fresh = []
                for k, v, ts, s in op["points"]:
                    if k not in present:
                        present[k] = {int(m.step) for m in c.get_metric_history(log.run_id, k)}
                    if int(s) not in present[k]:
                        fresh.append(Metric(k, float(v), int(ts), int(s)))
                        present[k].add(int(s))
                for i in range(0, len(fresh), 1000):
                    c.log_batch(log.run_id, metrics=fresh[i:i + 1000])
            elif kind == "tags":
                c.log_batch(log.run_id, tags=[RunTag(k, v) for k, v in op["tags"].items()])
            elif kind == "artifacts" and op.get("dir"):
                c.log_artifacts(log.run_id, op["dir"])
            elif kind == "terminate":
                c.set_terminated(log.run_id, op["status"])
        path.unlink()
        shutil.rmtree(spool_dir / f"{path.stem}.artifacts", ignore_errors=True)
        done[header["key"]] = len(ops)
    return done

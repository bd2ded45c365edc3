"""The MLflow run of one trial, as the trial writes it (``TrialLog``), and its spool.

A trial's run is found again by its ``scrapl.trial_id`` tag (else created under the study's parent
run), so each trial has exactly one run whatever happens. Metric points are buffered and written
with ``log_batch`` at most every ``flush_s`` seconds (and at the end); a step already in MLflow is
never logged again, and steps missing from MLflow but present in the checkpoint's history are
back-filled on resume. If a call fails (server down), the trial keeps training and the call goes to
a local **spool** (``<study>/spool/<trial>.jsonl`` + artifact copies): an ``open`` header record,
then one record per call, replayed in order by ``sync_spool`` (``study sync``, the next attempt of
that trial, or the driver at the end of the study).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlflow.entities import Metric, Param, RunTag

from analysis import schema
from study.tracking import ATTEMPTS, RETRIED_AFTER, client, search_runs, tag_filter

__all__ = ["TrialLog", "sync_spool", "spooled_trials"]

Warn = Callable[[str], None]
_BATCH = 1000  # metrics per log_batch call (MLflow's limit)
_PARAM_BATCH = 100  # params per log_batch call (MLflow's limit)


def _safe(key: str) -> str:
    return quote(key, safe="")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _param_value(v: Any) -> str:
    return str(v)[:6000]


def _stderr_warn(msg: str) -> None:
    print(f"[scrapl tracking] {msg}", file=sys.stderr, flush=True)


class TrialLog:
    """The MLflow run of one trial (found by ``scrapl.trial_id`` or created under the parent run).

    Never raises on a tracking failure: after the first failed call the attempt writes to the spool.
    ``seconds`` is the wall time spent in tracking (its overhead): every MLflow call, plus whatever the
    caller wraps in ``timed()``. ``run_name``, ``tags`` and ``params`` describe the run as ``open``
    creates it (and as the spool's header records it).
    """

    def __init__(
        self,
        uri: str,
        experiment_id: str,
        parent_run_id: str,
        key: str,
        spool_dir: str | Path,
        *,
        flush_s: float = 10.0,
        warn: Warn | None = None,
    ) -> None:
        self.uri, self.experiment_id, self.parent_run_id, self.key = uri, experiment_id, parent_run_id, key
        self.spool_dir = Path(spool_dir)
        self.flush_s = flush_s
        self.run_name: str = key
        self.tags: dict[str, str] = {}
        self.params: dict[str, str] = {}
        self.run_id: str | None = None
        self.status: str | None = None
        self.attempts = 0
        self.logged_steps: set[int] = set()
        self.final_metrics: dict[str, float] = {}
        self.spooling = False
        self._seconds = 0.0
        self._buffer: list[tuple[str, float, int, int]] = []
        self._last_flush = time.monotonic()
        self._warn: Warn = warn or _stderr_warn
        self._client = None

    @classmethod
    def from_header(
        cls, uri: str, spool_dir: str | Path, header: Mapping[str, Any], *, warn: Warn | None = None
    ) -> TrialLog:
        """The log a spool's ``open`` record describes (to replay the spool into ``uri``)."""
        log = cls(uri, header["experiment_id"], header["parent_run_id"], header["key"], spool_dir, warn=warn)
        log.run_name, log.tags, log.params = header["run_name"], dict(header["tags"]), dict(header["params"])
        return log

    # -- plumbing --------------------------------------------------------------------------------------
    @property
    def seconds(self) -> float:
        return self._seconds

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        """Count the wall time of the ``with`` block as tracking overhead (``seconds``)."""
        tic = time.perf_counter()
        try:
            yield
        finally:
            self._seconds += time.perf_counter() - tic

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

    def _call(self, op: dict[str, Any], live: Callable[[], Any]) -> Any:
        """Run ``live()`` unless spooling; on failure spool ``op`` and switch to spooling."""
        with self.timed():
            if not self.spooling:
                try:
                    return live()
                except Exception as err:  # noqa: BLE001 - any tracking failure must not stop training
                    self.spooling = True
                    self._warn(
                        f"MLflow call {op['op']} failed for trial {self.key} ({type(err).__name__}: "
                        f"{str(err)[:300]}); spooling to {self.spool_file} — run `python -m study sync`"
                    )
                    self._spool(self._header_op())
            self._spool(op)
            return None

    def _header_op(self) -> dict[str, Any]:
        return {
            "op": "open",
            "experiment_id": self.experiment_id,
            "parent_run_id": self.parent_run_id,
            "key": self.key,
            "run_name": self.run_name,
            "tags": self.tags,
            "params": self.params,
        }

    # -- lifecycle -------------------------------------------------------------------------------------
    def open(
        self, run_name: str, tags: Mapping[str, str], params: Mapping[str, Any], *, new_attempt: bool = True
    ) -> TrialLog:
        """Find or create the run, mark it RUNNING, count the attempt, remember what is logged."""
        self.run_name, self.tags = run_name, dict(tags)
        self.params = {k: _param_value(v) for k, v in params.items()}
        with self.timed():
            try:
                if self.spool_file.exists():
                    sync_spool(self.uri, self.spool_dir, keys=[self.key], warn=self._warn)
                self._open_live(new_attempt)
            except Exception as err:  # noqa: BLE001
                self.spooling = True
                self._warn(
                    f"cannot open the MLflow run of trial {self.key} at {self.uri} ({type(err).__name__}: "
                    f"{str(err)[:300]}); spooling to {self.spool_file} — run `python -m study sync`"
                )
                # this attempt was not counted in MLflow: the replay counts it
                self._spool({**self._header_op(), "attempt": bool(new_attempt)})
        return self

    def _open_live(self, new_attempt: bool) -> None:
        c = self._c()
        runs = search_runs(c, self.experiment_id, tag_filter(schema.TRIAL_ID, self.key))
        runs = [r for r in runs if r.data.tags.get(schema.ROLE) == schema.ROLE_TRIAL]
        if len(runs) > 1:
            self._warn(
                f"trial {self.key} has {len(runs)} MLflow runs ({', '.join(r.info.run_id for r in runs)}); "
                "using the oldest"
            )
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
                c.log_batch(self.run_id, params=[Param(k, v) for k, v in self.params.items()])
        else:
            tags = {
                schema.PARENT_RUN_ID: self.parent_run_id,
                schema.ROLE: schema.ROLE_TRIAL,
                schema.TRIAL_ID: self.key,
                **self.tags,
            }
            run = c.create_run(self.experiment_id, run_name=self.run_name, tags=tags)
            self.run_id, self.status = run.info.run_id, "RUNNING"
            items = [Param(k, v) for k, v in self.params.items()]
            for i in range(0, len(items), _PARAM_BATCH):
                c.log_batch(self.run_id, params=items[i : i + _PARAM_BATCH])
        if new_attempt:
            self.attempts += 1
        tags = [RunTag(k, v) for k, v in self.tags.items()] + [RunTag(ATTEMPTS, str(self.attempts))]
        c.log_batch(self.run_id, tags=tags)
        if self.status != "RUNNING":
            c.update_run(self.run_id, status="RUNNING")
            self.status = "RUNNING"

    @property
    def finished(self) -> bool:
        return self.status == "FINISHED"

    # -- metrics ---------------------------------------------------------------------------------------
    def log_metrics(
        self, step: int, metrics: Mapping[str, float], timestamp_ms: int | None = None, flush: bool = False
    ) -> None:
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

        def live() -> None:
            c = self._c()
            for i in range(0, len(points), _BATCH):
                c.log_batch(self.run_id, metrics=[Metric(k, v, ts, s) for k, v, ts, s in points[i : i + _BATCH]])

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

        def live() -> None:
            self._c().log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

        self._call({"op": "tags", "tags": tags}, live)

    def log_artifacts(self, local_dir: str | Path) -> None:
        local_dir = Path(local_dir)

        def live() -> None:
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

        def live() -> None:
            self._c().set_terminated(self.run_id, status)

        self._call({"op": "terminate", "status": status}, live)
        self.status = status
        if not self.spooling and self.spool_file.exists():
            sync_spool(self.uri, self.spool_dir, keys=[self.key], warn=self._warn)

    # -- spool replay ----------------------------------------------------------------------------------
    def replay(self, ops: Iterable[Mapping[str, Any]]) -> None:
        """Deliver spooled calls to MLflow, in order and idempotently (steps MLflow has are skipped).
        Raises when MLflow is unreachable."""
        ops = list(ops)
        self._open_live(new_attempt=False)
        c = self._c()
        uncounted = sum(1 for o in ops if o["op"] == "open" and o.get("attempt"))
        if uncounted:  # attempts that started while the server was unreachable
            self.attempts += uncounted
            c.set_tag(self.run_id, ATTEMPTS, str(self.attempts))
        present: dict[str, set[int]] = {}
        for op in ops:
            kind = op["op"]
            if kind == "metrics":
                fresh = []
                for k, v, ts, s in op["points"]:
                    if k not in present:
                        present[k] = {int(m.step) for m in c.get_metric_history(self.run_id, k)}
                    if int(s) not in present[k]:
                        fresh.append(Metric(k, float(v), int(ts), int(s)))
                        present[k].add(int(s))
                for i in range(0, len(fresh), _BATCH):
                    c.log_batch(self.run_id, metrics=fresh[i : i + _BATCH])
            elif kind == "tags":
                c.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in op["tags"].items()])
            elif kind == "artifacts" and op.get("dir"):
                c.log_artifacts(self.run_id, op["dir"])
            elif kind == "terminate":
                c.set_terminated(self.run_id, op["status"])
                self.status = op["status"]


def spooled_trials(spool_dir: str | Path) -> list[Path]:
    spool_dir = Path(spool_dir)
    return sorted(spool_dir.glob("*.jsonl")) if spool_dir.is_dir() else []


def sync_spool(
    uri: str, spool_dir: str | Path, *, keys: Iterable[str] | None = None, warn: Warn | None = None
) -> dict[str, int]:
    """Replay spooled calls into MLflow, in order, idempotently; delete what was delivered.

    Returns ``{trial key: replayed operations}``. Raises on tracking errors (nothing is deleted then).
    """
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
        TrialLog.from_header(uri, spool_dir, header, warn=warn).replay(ops)  # raises if still unreachable
        path.unlink()
        shutil.rmtree(spool_dir / f"{path.stem}.artifacts", ignore_errors=True)
        done[header["key"]] = len(ops)
    return done

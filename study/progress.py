"""A compact live summary of a running study instead of Ray's trial tables (a ``tune.Callback``).

  [ablation-demo 00:41] 5/12 done · 2 running · 5 pending · 0 failed · ETA 00:58 · best val_theta_l1 0.1834 (p-adam s1)

On a terminal the line is rewritten in place; in a log (``ray job logs``, CI) a new line is printed
when a count changes or every ``interval`` seconds. Failures are printed as they happen, with their
reason. The callback also keeps what the driver needs afterwards: each trial's status, failure
reason, start/end times and its final timing metrics (``train_s``, ``tracking_s``, ``trial_s``).

An interrupted study is counted as such. On a graceful stop (SIGINT) Tune saves its state with the
running trials RUNNING, then its clean-up stops their actors and sets them TERMINATED, the status of
a finished trial, without calling ``on_trial_complete``. So a trial counts as done only when Tune
completed it (``on_trial_complete``: it ran to the end, or a scheduler stopped it) or its final
result says so (``scrapl_done``/``scrapl_skipped``), or it was TERMINATED before this driver started
(restored from Tune's saved state, which is saved before the clean-up); a TERMINATED trial without
either was stopped by the interruption and counts as running (unfinished). ``stop_trial_actors`` then
makes sure no actor of such a trial is still alive (and writing to MLflow) when the driver closes the
study's runs.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import ray
from ray import tune

__all__ = ["TrialRecord", "SummaryLine", "format_duration"]


def _error_line(trial) -> str:
    """The last line of a trial's error trace (``ExcType: message``), shortened."""
    try:
        text = trial.get_error() or ""
    except Exception:  # noqa: BLE001 - best effort
        text = ""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ":" in ln and not ln.startswith(("File ", "^", "~")):
            return ln[:300]
    return lines[-1][:300] if lines else "unknown error"


def format_duration(seconds: float) -> str:
    seconds = int(max(0, round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


@dataclass
class TrialRecord:
    label: str
    status: str = "PENDING"
    failed: bool = False
    reason: str | None = None
    starts: list[float] = field(default_factory=list)  # wall-clock (time.time) of each (re)start
    end: float | None = None
    iterations: int = 0
    final: dict[str, Any] = field(default_factory=dict)
    completed: bool = False  # Tune completed it (on_trial_complete / on_trial_error), not its clean-up
    busy_s: float = 0.0  # wall time from each (re)start in this driver to its last result (for the ETA)
    # iterations it reported in this driver, for the ETA (not a restored checkpoint's; a skipped trial's one
    # report is not work)
    ran: int = 0
    last_t: float | None = None  # its latest (re)start or result in this driver

    def category(self) -> str:
        """``done``, ``failed``, ``running`` (unfinished) or ``pending``, from its Tune ``status``."""
        if self.status == "TERMINATED":
            if self.failed:
                return "failed"
            if self.completed or self.final or not self.starts:  # not started here: restored as finished
                return "done"
            return "running"  # stopped by Tune's clean-up of an interrupted study (see the module docstring)
        if self.status == "ERROR":
            return "failed"
        return "running" if self.status == "RUNNING" else "pending"


_ACTIVE: list[SummaryLine] = []


def _active_summary() -> SummaryLine:
    """Unpickling target: the summary of the study running in this driver (see ``__reduce__``)."""
    if not _ACTIVE:
        raise RuntimeError("no active study summary to attach the restored callback to")
    return _ACTIVE[-1]


class SummaryLine(tune.Callback):
    """Live summary; ``label(trial)`` names a trial, ``expected_iterations(config)`` = the reports a
    trial makes when it runs to the end (for the ETA). ``cost_group(config)``: trials of one group cost
    the same per iteration (an arm on a preset: a full-JTFS iteration costs ~20 MSS ones); the ETA
    prices each trial's iterations at its own group's rate. ``None``: one group."""

    def __init__(
        self,
        study: str,
        total: int,
        *,
        label: Callable[[Any], str],
        expected_iterations: Callable[[dict], int],
        cost_group: Callable[[dict], Any] | None = None,
        metric: str = "val_theta_l1",
        interval: float = 30.0,
        stream: TextIO | None = None,
        live: bool | None = None,
    ) -> None:
        self.study, self.total, self.label, self.expected = study, total, label, expected_iterations
        self.cost_group = cost_group or (lambda config: None)
        self.metric, self.interval = metric, interval
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.t0 = time.time()
        self.records: dict[str, TrialRecord] = {}
        self.best: tuple[float, str] | None = None
        self._last_print = 0.0
        self._last_counts: tuple | None = None
        self._last_text = ""
        self.max_running = 0  # peak number of trials Ray ran at once
        self._trials: list = []
        self._actors: dict[str, Any] = {}  # trial id -> the Ray actor handle that ran it last

    # Tune pickles callbacks into its experiment state and ``Tuner.restore`` brings the old objects
    # back (stale clock, stale counts). A summary pickles as a reference to the summary registered by
    # the driver that is running now, so a restored study reports through the new one.
    def activate(self) -> SummaryLine:
        _ACTIVE.append(self)
        return self

    def deactivate(self) -> None:
        if self in _ACTIVE:
            _ACTIVE.remove(self)

    def __reduce__(self):
        return _active_summary, ()

    # --- Tune hooks ------------------------------------------------------------------------------------
    def _record(self, trial) -> TrialRecord:
        rec = self.records.get(trial.trial_id)
        if rec is None:
            rec = self.records[trial.trial_id] = TrialRecord(self.label(trial))
        return rec

    def _started(self, trial) -> None:
        rec = self._record(trial)
        rec.last_t = now = time.time()
        rec.starts.append(now)
        actor = getattr(getattr(trial, "temporary_state", None), "ray_actor", None)
        if actor is not None:
            self._actors[trial.trial_id] = actor

    def on_trial_start(self, iteration, trials, trial, **info):
        self._started(trial)

    def on_trial_restore(self, iteration, trials, trial, **info):
        self._started(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        rec = self._record(trial)
        iteration = int(result.get("training_iteration", rec.iterations))
        rec.iterations = iteration
        now = time.time()
        if rec.last_t is not None and not result.get("scrapl_skipped"):
            rec.busy_s += now - rec.last_t
            rec.ran += 1
        rec.last_t = now
        value = result.get(self.metric)
        if isinstance(value, (int, float)) and math.isfinite(value) and not result.get("scrapl_failed"):
            if self.best is None or value < self.best[0]:
                self.best = (float(value), rec.label)
        if result.get("scrapl_failed"):
            rec.failed, rec.reason = True, str(result.get("failure_reason"))
        if result.get("scrapl_done") or result.get("scrapl_failed") or result.get("scrapl_skipped"):
            rec.final = {k: result[k] for k in ("train_s", "tracking_s", "trial_s", "scrapl_skipped") if k in result}

    def on_trial_complete(self, iteration, trials, trial, **info):
        rec = self._record(trial)
        rec.end, rec.completed = time.time(), True
        if rec.failed:
            self._say(f"trial {rec.label} failed: {rec.reason}")
        self._update(trials, force=True)

    def on_trial_recover(self, iteration, trials, trial, **info):
        self._say(
            f"trial {self._record(trial).label} failed ({_error_line(trial)}); retrying from its last "
            f"checkpoint (failure {trial.num_failures})"
        )

    def on_trial_error(self, iteration, trials, trial, **info):
        rec = self._record(trial)
        rec.end, rec.failed, rec.completed = time.time(), True, True
        rec.reason = _error_line(trial)
        err = getattr(trial, "error_file", None)
        self._say(f"trial {rec.label} failed after all retries: {rec.reason}" + (f" (traceback: {err})" if err else ""))
        self._update(trials, force=True)

    def on_step_end(self, iteration, trials, **info):
        self._update(trials)

    def on_experiment_end(self, trials, **info):
        self._update(trials, force=True, final=True)

    # --- summary ---------------------------------------------------------------------------------------
    def counts(self, trials=None) -> dict[str, int]:
        trials = self._trials if trials is None else trials
        c = {"done": 0, "running": 0, "pending": 0, "failed": 0}
        for t in trials:
            rec = self._record(t)
            rec.status = t.status
            c[rec.category()] += 1
        c["pending"] += max(0, self.total - len(trials))
        return c

    @property
    def interrupted(self) -> bool:
        """Some trial did not end (the study was stopped before it had run every trial)."""
        c = self.counts()
        return bool(c["running"] or c["pending"])

    def stop_trial_actors(self, timeout_s: float = 30.0, grace_s: float = 1.0) -> int:
        """Kill the actors of the trials this study ran and wait until Ray reports them dead (then
        ``grace_s`` for their processes to exit): after an interrupted ``fit`` none may still write to
        MLflow while the driver closes the runs. Tune's clean-up has asked them to stop already; an
        actor that is gone is skipped. Returns how many were killed here."""
        handles = list(self._actors.values())
        self._actors.clear()
        refs = []
        for handle in handles:
            try:
                ray.kill(handle, no_restart=True)
                refs.append(handle.__ray_ready__.remote())
            except Exception:  # noqa: BLE001 - dead already, or Ray is going away
                continue
        deadline = time.monotonic() + timeout_s
        for ref in refs:
            try:
                ray.get(ref, timeout=max(0.1, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - ActorDiedError: what we wait for
                pass
        if refs:
            time.sleep(grace_s)
        return len(refs)

    def eta_s(self, trials=None) -> float | None:
        """Seconds left at this driver's own rate, or None before it has a rate.

        Done here: the iterations trials ran in this driver (not those done before a resume: finished
        trials, restored checkpoints, the one report of a trial skipped as finished) and the wall time each
        trial spent on them. Each cost group's seconds per iteration (``cost_group``; all trials' together for
        a group that has not run yet) prices what is left: the iterations unfinished trials still owe
        (finished, failed and early-stopped trials owe none), and the trials Tune has not created yet at the
        mean cost of the created ones. Trial-seconds left become wall seconds at the concurrency so far
        (trial-seconds done over the time since this driver's first trial started). With one group this is
        ``elapsed × iterations left / iterations run``.
        """
        trials = self._trials if trials is None else trials
        if not trials:
            return None
        self.counts(trials)  # refreshes every record's status
        recs = [self._record(t) for t in trials]
        expected = [max(1, self.expected(t.config)) for t in trials]
        groups = [self.cost_group(t.config) for t in trials]
        owed = [
            max(0, e - r.iterations) if r.category() in ("running", "pending") else 0
            for r, e in zip(recs, expected, strict=True)
        ]
        unseen = self.total - len(trials)
        if not (sum(owed) or unseen):
            return 0.0
        busy: dict[Any, float] = {}
        ran: dict[Any, int] = {}
        for r, g in zip(recs, groups, strict=True):
            if r.ran:
                busy[g] = busy.get(g, 0.0) + r.busy_s
                ran[g] = ran.get(g, 0) + r.ran
        starts = [min(r.starts) for r in recs if r.starts]
        busy_all, ran_all = sum(busy.values()), sum(ran.values())
        if ran_all <= 0 or busy_all <= 0 or not starts:
            return None

        def rate(g) -> float:  # trial-seconds per iteration
            return busy[g] / ran[g] if ran.get(g, 0) > 0 else busy_all / ran_all

        left_s = sum(n * rate(g) for n, g in zip(owed, groups, strict=True) if n)
        # a trial Tune has not created yet costs what the created ones cost on average
        left_s += unseen * sum(e * rate(g) for e, g in zip(expected, groups, strict=True)) / len(trials)
        return (time.time() - min(starts)) * left_s / busy_all

    def line(self, trials=None) -> str:
        trials = self._trials if trials is None else trials
        c = self.counts(trials)
        elapsed = time.time() - self.t0
        eta_s = self.eta_s(trials)
        eta = "—" if eta_s is None else format_duration(eta_s)
        best = f" · best {self.metric} {self.best[0]:.4g} ({self.best[1]})" if self.best else ""
        return (
            f"[{self.study} {format_duration(elapsed)}] {c['done']}/{self.total} done · {c['running']} running"
            f" · {c['pending']} pending · {c['failed']} failed · ETA {eta}{best}"
        )

    def _update(self, trials, force: bool = False, final: bool = False) -> None:
        """Terminal: rewrite the line at most once a second. Log: a new line when the done/failed
        counts change or every ``interval`` seconds, never the same text twice."""
        self._trials = trials
        c = self.counts(trials)
        self.max_running = max(self.max_running, c["running"])
        key = (c["done"], c["failed"])
        now = time.time()
        if self.live:
            if not (final or force) and now - self._last_print < 1.0:
                return
        elif not (final or key != self._last_counts or now - self._last_print >= self.interval):
            return
        text = self.line(trials)
        if text == self._last_text and not self.live:
            return
        self._last_counts, self._last_print, self._last_text = key, now, text
        if self.live:
            self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _say(self, text: str) -> None:
        if self.live:
            self.stream.write("\r\x1b[2K")
        self.stream.write(text + "\n")
        self.stream.flush()

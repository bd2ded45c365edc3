"""What a study's driver holds while it runs (``guarded``): the study's lock (``study.lock``: one driver per
study; a second one is refused with exit status 5) and its signal handling (``study.interrupts``: SIGINT
and SIGTERM stop the study, which then reports itself interrupted, exit status 3).

``guarded(sdir, settings, say, body, hold=...)`` runs ``body(guard)`` (the runner's ``_execute``):

* ``hold=True`` (resume, extend: the study directory exists) takes the lock before anything else, before
  Ray starts; a fresh study takes it with ``guard.hold`` right after creating its directory;
* a ``KeyboardInterrupt`` that escapes the body (a signal before the trials, during the θ-IS stage, or a
  second one that cut Tune's graceful stop short) is turned into an interrupted ``Outcome`` by
  ``study.finish.finish_interrupted`` (trial runs left RUNNING → KILLED, the parent run → KILLED);
  before the study had an MLflow run there is nothing to close and the interrupt goes on to the CLI;
* a Ray failure that escapes the body (a θ-IS stage task that raised, Tune giving up after Ray killed a
  trial's worker for memory: a ``RayError``, or a ``RuntimeError`` raised inside Ray's code) is booked the
  same way after an ``error:`` line naming it (its traceback in ``<study>/driver-error.log``): nothing
  finished is lost and ``study resume`` continues. Any other exception keeps its traceback (exit 1);
* the lock is released at the end, whatever happened. Should another driver take the lock over (this
  one was judged dead: no heartbeat for a minute), this driver stops its study as on SIGINT.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import ray
from ray.exceptions import RayError, RayTaskError

from search_spaces.spec import StudySpec
from study import lock
from study.finish import Outcome, finish_interrupted
from study.interrupts import Interrupts
from study.layout import StudyDir
from study.settings import Settings

__all__ = ["Guard", "guarded", "DRIVER_ERROR_LOG"]

DRIVER_ERROR_LOG = "driver-error.log"  # <study>/driver-error.log: the traceback of the last Ray failure
_RAY_DIR = Path(ray.__file__).resolve().parent

Say = Callable[[str], None]


class Guard:
    """One driver's hold on a study: its lock and its ``Interrupts``."""

    def __init__(self, say: Say) -> None:
        self.say = say
        self.interrupts = Interrupts()
        self.lock: lock.DriverLock | None = None

    def hold(self, study_dir) -> None:
        """Take the study's lock (``lock.StudyBusy`` when a live driver holds it)."""
        if self.lock is None:
            self.lock = lock.acquire(study_dir, on_lost=self._lost)
            if self.lock.took_over:
                self.say(f"took over the study's lock from a dead driver ({self.lock.took_over})")

    def _lost(self, why: str) -> None:
        self.say(f"error: {why}; another driver runs this study now: stopping this one (SIGINT)")
        os.kill(os.getpid(), signal.SIGINT)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def guarded(
    sdir: StudyDir, spec: StudySpec, settings: Settings, say: Say, body: Callable[[Guard], Outcome], *, hold: bool
) -> Outcome:
    """``body(guard)`` under the study's lock and signal handling (see the module docstring)."""
    guard = Guard(say)
    t0 = time.time()
    try:
        with guard.interrupts.raising():
            if hold:
                guard.hold(sdir.path)
            try:
                return body(guard)
            except KeyboardInterrupt:
                cause = f"by {guard.interrupts.received}" if guard.interrupts.received else "by SIGINT"
                outcome = _stopped(sdir, spec, settings, say, guard, cause, t0)
                if outcome is None:
                    raise
                return outcome
            except (RayError, RuntimeError) as err:  # Ray gave up (a task failed, a worker was OOM-killed)
                if not _from_ray(err):  # our own bugs keep their traceback and exit status 1
                    raise
                cause = getattr(err, "cause", None) or err  # a Ray task's own exception
                name = type(cause).__name__ + (" in a Ray task" if isinstance(err, RayTaskError) else "")
                first = (str(cause).strip().splitlines() or [""])[0][:300]
                log = sdir.path / DRIVER_ERROR_LOG
                log.write_text("".join(traceback.format_exception(err)), encoding="utf-8")
                say(f"error: the driver stopped on {name}: {first} (traceback in {log})")
                outcome = _stopped(sdir, spec, settings, say, guard, f"by {name}", t0)
                if outcome is None:
                    raise
                return outcome
    finally:
        guard.release()


def _from_ray(err: BaseException) -> bool:
    """A Ray exception, or a RuntimeError raised inside Ray's own code (Tune's actor manager re-raises a
    worker killed for memory as a RuntimeError)."""
    if isinstance(err, RayError):
        return True
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(_RAY_DIR)


def _stopped(
    sdir: StudyDir, spec: StudySpec, settings: Settings, say: Say, guard: Guard, cause: str, t0: float
) -> Outcome | None:
    """The books of a driver stopped outside Tune's graceful stop (``finish_interrupted``: exit status 3,
    ``study resume`` continues); None before the study had an MLflow run."""
    try:  # the spec on disk: a grown study (extend, adaptive waves) has more seeds than it started with
        spec = StudySpec.from_dict(sdir.read_json(sdir.spec_file))
    except (OSError, ValueError):
        pass
    where = guard.interrupts.stage
    stage = cause + (f" during {where}" if where and where != "the study" else " before its trials ended")
    return finish_interrupted(
        spec, sdir, settings, say, stage=stage, wall_s=time.time() - t0, interrupts=guard.interrupts
    )

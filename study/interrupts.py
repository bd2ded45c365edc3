"""How the study driver treats SIGINT (Ctrl-C, ``ray job stop`` with ``RAY_JOB_STOP_SIGNAL=SIGINT``) and
SIGTERM (``ray job stop``'s default, ``kill``): an interrupted study never reports success.

``Interrupts`` records which signal came and when, in three modes (main thread only; elsewhere the
handlers stay as they are):

* ``raising()`` — the signal raises ``KeyboardInterrupt`` (SIGTERM too, as SIGINT would): the driver
  around its stages (Ray start, MLflow parent run, θ-IS stage, the export). While Tune's ``fit`` runs,
  Tune's own SIGINT handler replaces this one (a graceful stop that saves Tune's state;
  ``study.fit`` forwards SIGTERM to it) and puts it back after the first signal;
* ``deferred(say)`` — the signal is recorded, not raised: closing the study's MLflow runs (a run must
  not be left RUNNING half-closed) and ending the parent run;
* ``received`` / ``stage`` — whether (and during which stage) a signal came.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

__all__ = ["Interrupts"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """What the driver received; see the module docstring."""

    def __init__(self) -> None:
        self.received: str | None = None  # "SIGINT" or "SIGTERM"
        self.stage: str | None = None  # the stage it arrived in
        self._stage = "the study"

    def note(self, signum: int) -> None:
        if self.received is None:
            self.received, self.stage = signal.Signals(signum).name, self._stage

    @contextlib.contextmanager
    def _handlers(self, handler: Callable) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, handler) for s in _SIGNALS}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    @contextlib.contextmanager
    def raising(self, stage: str = "the study") -> Iterator[Interrupts]:
        """SIGINT and SIGTERM raise ``KeyboardInterrupt`` inside (recorded first)."""

        def handler(signum, frame):
            self.note(signum)
            raise KeyboardInterrupt(signal.Signals(signum).name)

        outer, self._stage = self._stage, stage
        try:
            with self._handlers(handler):
                yield self
        finally:
            self._stage = outer

    @contextlib.contextmanager
    def deferred(
        self, say: Callable[[str], None], stage: str = "closing the study's MLflow runs"
    ) -> Iterator[Interrupts]:
        """SIGINT and SIGTERM are recorded inside, not raised; the driver finishes the step first (and says
        so after it: printing from a signal handler can break a print the main thread is in)."""
        got: list[int] = []

        def handler(signum, frame):
            self.note(signum)
            got.append(signum)

        outer, self._stage = self._stage, stage
        try:
            with self._handlers(handler):
                yield self
        finally:
            self._stage = outer
            if got:
                say(f"{signal.Signals(got[0]).name} received while {stage}: finished that first")

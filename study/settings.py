"""How a study runs (``Settings``: where, with which resources, how it reports), not what it runs (that is
the ``StudySpec``). Light on purpose (stdlib and ``common``): the CLI imports it at start, without Ray."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from common.checks import IntMessages, check_int
from study.errors import StudyError

__all__ = ["Settings"]


def _count(option: str, value: Any, low: int) -> None:
    """``--max-failures: must be an integer >= 0, got -1`` (also for a value that is not an integer)."""
    text = f"must be an integer >= {low}, got {{value!r}}"
    check_int(option, value, low, error=partial(StudyError, option), messages=IntMessages(text, text))


@dataclass(frozen=True)
class Settings:
    """How a study runs (not what it runs: that is the ``StudySpec``)."""

    root: Path
    address: str | None = None
    mlflow_uri: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None
    memory_per_trial: int | None = None  # bytes of Ray's ``memory`` resource per trial and θ-IS task
    max_failures: int = 2
    max_concurrent: int | None = None
    num_cpus: int | None = None  # size of the embedded runtime (default: this machine's CPUs)
    flush_s: float = 10.0  # MLflow metric buffering of a trial
    export: bool = True
    verbose: bool = False  # forward trial output (Ray's log_to_driver)
    progress_interval: float = 30.0
    progress: bool = True  # print the live summary line
    theta_is_tasks: int | None = None  # Ray tasks of the θ-IS stage (default: the cluster's free CPUs)

    def check(self) -> None:
        """Raise ``StudyError`` naming the option of the first bad setting."""

        def number(option: str, value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise StudyError(option, f"expected a number, got {value!r}")
            return float(value)

        if number("--cpus-per-trial", self.cpus_per_trial) <= 0:
            raise StudyError("--cpus-per-trial", f"must be > 0, got {self.cpus_per_trial}")
        if self.cpus_per_trial > 1 and not float(self.cpus_per_trial).is_integer():
            raise StudyError("--cpus-per-trial", f"above 1 must be a whole number, got {self.cpus_per_trial}")
        if self.gpus_per_trial is not None:
            g = number("--gpus-per-trial", self.gpus_per_trial)
            if g <= 0:
                raise StudyError("--gpus-per-trial", f"must be > 0 (omit it to run on CPU), got {g:g}")
            if g > 1 and not g.is_integer():
                raise StudyError(
                    "--gpus-per-trial",
                    f"above 1 must be a whole number of GPUs (Ray packs only fractions below 1), got {g:g}",
                )
        if self.memory_per_trial is not None:
            _count("--memory-per-trial", self.memory_per_trial, 1)
        _count("--max-failures", self.max_failures, 0)
        for option, value in (("--max-concurrent", self.max_concurrent), ("--num-cpus", self.num_cpus)):
            if value is not None:
                _count(option, value, 1)
        root = str(Path(self.root).resolve())
        if "/runtime_resources/" in root and "/session_" in root:
            raise StudyError(
                "--root",
                f"{root} is inside Ray's temporary job working directory and would be "
                "deleted; pass an absolute --root (e.g. --root $PWD/studies)",
            )

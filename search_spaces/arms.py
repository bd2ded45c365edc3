"""The pieces of a grid study: ``Arm`` (named config overrides), ``Fault`` (an injected fault), ``Cell``
(one trial: preset, arm, seed). No Ray, no MLflow, no torch at import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from search_spaces.spec_checks import SpecError, check_name, check_overrides, check_spec_int

__all__ = ["Arm", "Fault", "Cell", "FAULT_KINDS"]

# nan: the training loss becomes NaN at STEP (config field train.inject_nan_at_step; the trial fails)
# crash-once: the trial raises once after the validation at STEP (retried from its checkpoint)
# exit-once: the trial's worker process exits once after the validation at STEP (like a SIGKILL)
FAULT_KINDS = ("nan", "crash-once", "exit-once")


@dataclass(frozen=True)
class Arm:
    """A named set of dotted config overrides, e.g. ``Arm("p-adam", (("train.p_adam", True),))``.

    ``label``: display name in tables (default: the name). ``n_seeds``: run only the first
    ``n_seeds`` seeds of the study (still paired with the other arms on those seeds).
    """

    name: str
    overrides: tuple[tuple[str, Any], ...] = ()
    label: str | None = None
    n_seeds: int | None = None

    def __post_init__(self) -> None:
        check_name("arms", self.name, "an arm name")
        object.__setattr__(self, "overrides", check_overrides(f"arms[{self.name}].overrides", self.overrides))
        if self.label is not None and (not isinstance(self.label, str) or not self.label.strip()):
            raise SpecError(f"arms[{self.name}].label", f"expected a non-empty string, got {self.label!r}")
        if self.n_seeds is not None:
            check_spec_int(f"arms[{self.name}].n_seeds", self.n_seeds, 1)

    @property
    def display(self) -> str:
        return self.label or self.name

    def overrides_dict(self) -> dict[str, Any]:
        return dict(self.overrides)


@dataclass(frozen=True)
class Fault:
    """A fault injected into one trial (reliability tests): ``kind`` at global step ``step``."""

    arm: str
    seed: int
    kind: str
    step: int

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise SpecError("faults", f"kind must be one of {', '.join(FAULT_KINDS)}, got {self.kind!r}")
        check_spec_int("faults", self.seed, 0, 2**31 - 1)
        check_spec_int("faults", self.step, 1)

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``ARM/SEED:KIND@STEP``, e.g. ``p-adam/1:nan@5``."""
        m = re.fullmatch(r"([^/]+)/(\d+):([a-z-]+)@(\d+)", text.strip())
        if not m:
            raise SpecError(
                "faults", f"expected ARM/SEED:KIND@STEP (KIND one of {', '.join(FAULT_KINDS)}), got {text!r}"
            )
        return cls(m.group(1), int(m.group(2)), m.group(3), int(m.group(4)))


@dataclass(frozen=True, order=True)
class Cell:
    """One trial of a grid study."""

    preset: str
    arm: str
    seed: int

    @property
    def key(self) -> str:
        """Stable identity of the trial within its study (MLflow tag ``scrapl.trial_id``)."""
        return f"{self.preset}/{self.arm}/{self.seed}"

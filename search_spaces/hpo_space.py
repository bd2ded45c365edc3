"""The search space of an HPO study: ``Param`` (a dotted config key and its distribution) and
``HpoSettings`` (the params, Optuna/ASHA settings, seeds per trial). No Ray, no MLflow, no torch at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from search_spaces.spec_checks import SpecError, check_overrides, check_spec_int

__all__ = ["Param", "HpoSettings", "PARAM_KINDS"]

PARAM_KINDS = ("log", "uniform", "int", "choice")


@dataclass(frozen=True)
class Param:
    """One hyperparameter of an HPO search: a dotted config key and its distribution.

    ``log``/``uniform``: floats in [low, high] (log scale for ``log``); ``int``: integers in
    [low, high]; ``choice``: one of ``choices``.
    """

    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()

    def __post_init__(self) -> None:
        where = f"hpo.params[{self.key}]"
        check_overrides(where, ((self.key, None),))
        if self.kind not in PARAM_KINDS:
            raise SpecError(where, f"kind must be one of {', '.join(PARAM_KINDS)}, got {self.kind!r}")
        if self.kind == "choice":
            if isinstance(self.choices, list):
                object.__setattr__(self, "choices", tuple(self.choices))
            if not isinstance(self.choices, tuple) or not self.choices:
                raise SpecError(where, f"a choice needs a non-empty list of choices, got {self.choices!r}")
            if len(set(map(repr, self.choices))) != len(self.choices):
                raise SpecError(where, f"duplicate choices in {list(self.choices)}")
            if self.low is not None or self.high is not None:
                raise SpecError(where, "a choice takes choices, not low/high")
            return
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SpecError(where, f"{name} must be a number, got {value!r}")
        if self.choices:
            raise SpecError(where, f"a {self.kind} parameter takes low/high, not choices")
        if not self.low < self.high:
            raise SpecError(where, f"low must be < high, got low={self.low}, high={self.high}")
        if self.kind == "log" and self.low <= 0:
            raise SpecError(where, f"a log-scale parameter needs low > 0, got {self.low}")
        if self.kind == "int" and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise SpecError(where, f"an int parameter needs integer bounds, got {self.low}, {self.high}")

    def corners(self) -> list:
        """Values that bound what the search can sample (used to validate the space up front)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [float(self.low), float(self.high)]


@dataclass(frozen=True)
class HpoSettings:
    """Optuna (TPE) + ASHA over ``params`` for the study's single arm, on one seed.

    ``metric``: a validation metric reported every epoch (minimised); ``num_samples``: trials;
    ASHA stops poor trials at epochs ``grace_period · reduction_factor^k``. ``seeds_per_trial`` K:
    each trial trains its configuration on the K paired seeds ``seed … seed + K − 1`` in lockstep and
    reports the mean of each metric (the objective ASHA and Optuna see).
    """

    params: tuple[Param, ...]
    num_samples: int = 20
    metric: str = "val_theta_l1"
    grace_period: int = 1
    reduction_factor: int = 2
    sampler_seed: int = 0
    seeds_per_trial: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.params, list):
            object.__setattr__(self, "params", tuple(self.params))
        if not self.params or not all(isinstance(p, Param) for p in self.params):
            raise SpecError("hpo.params", "expected at least one Param")
        keys = [p.key for p in self.params]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise SpecError("hpo.params", f"{', '.join(dup)} given twice")
        check_spec_int("hpo.num_samples", self.num_samples, 1, 100_000)
        if self.metric not in ("val_theta_l1", "val_loss"):
            raise SpecError("hpo.metric", f"expected val_theta_l1 or val_loss, got {self.metric!r}")
        check_spec_int("hpo.grace_period", self.grace_period, 1)
        check_spec_int("hpo.reduction_factor", self.reduction_factor, 2)
        check_spec_int("hpo.sampler_seed", self.sampler_seed, 0)
        check_spec_int("hpo.seeds_per_trial", self.seeds_per_trial, 1, 1000)

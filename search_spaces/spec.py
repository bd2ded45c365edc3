"""A study as data: frozen, validated dataclasses, and the trial cells they expand to.

A study is a set of **arms** (named sets of dotted config overrides) run on one or more **presets**
with one **seed list**: every arm runs the same seeds (an arm may use only the first ``n_seeds`` of
them, e.g. the expensive full-JTFS arm), so seeds are paired by construction. One trial = one
``Cell(preset, arm, seed)``; its config is ``preset → study overrides → arm overrides → seed``.

Everything is validated at construction; a ``SpecError`` names the offending field (``seeds``,
``arms[p-adam].overrides``, ...) in its ``field`` attribute and at the start of its message.
``to_dict`` / ``from_dict`` round-trip through JSON (``spec.json`` of a study) and reject unknown keys.
No Ray, no MLflow, no torch at import.

This module holds ``StudySpec`` (with its JSON form) and ``parse_seeds``; it re-exports the pieces it is
built from: ``SpecError`` and the field checks (``search_spaces.spec_checks``), ``Arm``/``Fault``/``Cell``
(``search_spaces.arms``) and the HPO search space ``Param``/``HpoSettings`` (``search_spaces.hpo_space``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any

from search_spaces.arms import FAULT_KINDS, Arm, Cell, Fault
from search_spaces.hpo_space import PARAM_KINDS, HpoSettings, Param
from search_spaces.spec_checks import NAME_PATTERN, SpecError, check_name, check_overrides, check_spec_int, config_keys

__all__ = [
    "SpecError",
    "Arm",
    "Fault",
    "Cell",
    "Param",
    "HpoSettings",
    "StudySpec",
    "STUDY_KINDS",
    "FAULT_KINDS",
    "PARAM_KINDS",
    "NAME_PATTERN",
    "config_keys",
    "parse_seeds",
]

STUDY_KINDS = ("ablation", "losses", "theta-is", "hpo")


@dataclass(frozen=True)
class StudySpec:
    """A whole study. Build one with ``search_spaces.studies`` (``ablation``, ``losses``, ...).

    ``overrides`` apply to every trial before the arm's own (e.g. ``--set train.max_steps=8`` or the
    best config of an HPO study); they may not touch keys an arm sets.
    """

    kind: str
    name: str
    presets: tuple[str, ...]
    arms: tuple[Arm, ...]
    seeds: tuple[int, ...]
    overrides: tuple[tuple[str, Any], ...] = ()
    faults: tuple[Fault, ...] = ()
    hpo: HpoSettings | None = None
    theta_is_seed: int = 0  # the encoder of this seed computes θ-IS π (paper: once per study, seed 0)
    smoke_test: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in STUDY_KINDS:
            raise SpecError("kind", f"unknown study {self.kind!r}; choose one of {', '.join(STUDY_KINDS)}")
        check_name("name", self.name, "a study name")
        for name in ("presets", "arms", "seeds", "faults"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        self._check_presets()
        self._check_seeds()
        self._check_arms()
        object.__setattr__(self, "overrides", check_overrides("overrides", self.overrides))
        clash = sorted({k for k, _ in self.overrides} & {k for a in self.arms for k, _ in a.overrides})
        if clash:
            raise SpecError(
                "overrides",
                f"{', '.join(clash)} {'is' if len(clash) == 1 else 'are'} set by the "
                f"arms of this study ({', '.join(a.name for a in self.arms)})",
            )
        self._check_faults()
        if (self.kind == "hpo") != (self.hpo is not None):
            raise SpecError("hpo", "HPO settings are required for (and only for) an hpo study")
        if self.kind == "hpo" and (len(self.arms) != 1 or len(self.seeds) != 1 or len(self.presets) != 1):
            raise SpecError("arms", "an hpo study tunes one arm on one preset and one seed")
        check_spec_int("theta_is_seed", self.theta_is_seed, 0, 2**31 - 1)
        if not isinstance(self.smoke_test, bool):
            raise SpecError("smoke_test", f"expected true or false, got {self.smoke_test!r}")
        if not isinstance(self.description, str):
            raise SpecError("description", f"expected a string, got {self.description!r}")
        self._check_configs()

    # --- validation -----------------------------------------------------------------------------------
    def _check_presets(self) -> None:
        # lazy: a spec is read without torch (the presets build torch modules)
        from trainables.presets import PRESETS

        if not self.presets:
            raise SpecError("presets", "at least one preset is needed")
        for p in self.presets:
            if p not in PRESETS:
                raise SpecError("presets", f"unknown preset {p!r}; choose one of: {', '.join(sorted(PRESETS))}")
        dup = sorted({p for p in self.presets if self.presets.count(p) > 1})
        if dup:
            raise SpecError("presets", f"duplicate preset(s) {', '.join(dup)}")

    def _check_seeds(self) -> None:
        if not self.seeds:
            raise SpecError("seeds", "at least one seed is needed")
        for s in self.seeds:
            check_spec_int("seeds", s, 0, 2**31 - 1)
        dup = sorted(s for s, n in Counter(self.seeds).items() if n > 1)  # linear: --seeds 100000 is checked at once
        if dup:
            raise SpecError(
                "seeds",
                f"duplicate seed(s) {', '.join(map(str, dup))}: each seed is one paired replicate and may appear once",
            )

    def _check_arms(self) -> None:
        if not self.arms or not all(isinstance(a, Arm) for a in self.arms):
            raise SpecError("arms", "at least one Arm is needed")
        names = [a.name for a in self.arms]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpecError("arms", f"duplicate arm name(s) {', '.join(dup)}")
        for a in self.arms:
            if a.n_seeds is not None and a.n_seeds > len(self.seeds):
                raise SpecError(
                    f"arms[{a.name}].n_seeds", f"{a.n_seeds} is more than the study's {len(self.seeds)} seeds"
                )

    def _check_faults(self) -> None:
        cells = set(self.cells())
        seen = set()
        for f in self.faults:
            if not isinstance(f, Fault):
                raise SpecError("faults", f"expected Fault entries, got {f!r}")
            if f.arm not in self.arm_names:
                raise SpecError("faults", f"unknown arm {f.arm!r}; arms: {', '.join(self.arm_names)}")
            if not any(c.arm == f.arm and c.seed == f.seed for c in cells):
                raise SpecError("faults", f"arm {f.arm} does not run seed {f.seed}")
            if (f.arm, f.seed, f.kind) in seen:
                raise SpecError("faults", f"two {f.kind} faults for {f.arm}/{f.seed}")
            seen.add((f.arm, f.seed, f.kind))

    def _check_configs(self) -> None:
        """Every trial's config must validate now, not in a worker an hour later."""
        # lazy: a spec is read without torch (the presets build torch modules)
        from trainables.config import ConfigError

        for preset in self.presets:
            for arm in self.arms:
                seeds = self.seeds_of(arm)
                try:
                    self.config(Cell(preset, arm.name, seeds[0]))
                except ConfigError as err:
                    where = (
                        "overrides"
                        if any(str(err).startswith(k + ":") for k, _ in self.overrides)
                        else f"arms[{arm.name}].overrides"
                    )
                    raise SpecError(where, f"invalid config for arm {arm.name} on preset {preset}: {err}") from None
                if self.hpo is not None:
                    for p in self.hpo.params:
                        for value in p.corners():
                            try:
                                self.config(Cell(preset, arm.name, seeds[0]), {p.key: value})
                            except ConfigError as err:
                                raise SpecError(
                                    f"hpo.params[{p.key}]",
                                    f"value {value!r} gives an invalid config on preset {preset}: {err}",
                                ) from None

    # --- expansion -------------------------------------------------------------------------------------
    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arms)

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise KeyError(name)

    def seeds_of(self, arm: Arm) -> tuple[int, ...]:
        return self.seeds if arm.n_seeds is None else self.seeds[: arm.n_seeds]

    def cells(self) -> list[Cell]:
        """Every trial, preset-major then seed-major (a partly run study has complete seed pairs)."""
        runs = {a.name: set(self.seeds_of(a)) for a in self.arms}  # sets: linear in the seeds
        return [Cell(p, a.name, s) for p in self.presets for s in self.seeds for a in self.arms if s in runs[a.name]]

    @property
    def theta_is_presets(self) -> tuple[str, ...]:
        """Presets on which some arm uses θ-IS (they need a π before their trials start)."""
        if not any(dict(a.overrides).get("train.theta_is") for a in self.arms):
            return ()
        return self.presets

    def config(self, cell: Cell, extra: Mapping[str, Any] | None = None):
        """The validated ``RunConfig`` of a cell; ``extra`` (e.g. an HPO sample, π's file) goes last."""
        # lazy: a spec is read without torch (the presets build torch modules)
        from trainables.config import override
        from trainables.presets import get_preset

        arm = self.arm(cell.arm)
        dotted: dict[str, Any] = dict(self.overrides)
        dotted.update(arm.overrides)
        for f in self.faults:
            if f.kind == "nan" and f.arm == cell.arm and f.seed == cell.seed:
                dotted["train.inject_nan_at_step"] = f.step
        dotted.update(extra or {})
        dotted["seed"] = cell.seed
        return override(get_preset(cell.preset), **dotted)

    def faults_of(self, cell: Cell) -> list[Fault]:
        return [f for f in self.faults if f.arm == cell.arm and f.seed == cell.seed]

    # --- (de)serialisation -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "presets": list(self.presets),
            "arms": [
                {"name": a.name, "overrides": dict(a.overrides), "label": a.label, "n_seeds": a.n_seeds}
                for a in self.arms
            ],
            "seeds": list(self.seeds),
            "overrides": dict(self.overrides),
            "faults": [{"arm": f.arm, "seed": f.seed, "kind": f.kind, "step": f.step} for f in self.faults],
            "hpo": None,
            "theta_is_seed": self.theta_is_seed,
            "smoke_test": self.smoke_test,
            "description": self.description,
        }
        if self.hpo is not None:
            h = self.hpo
            out["hpo"] = {
                "params": [
                    {"key": p.key, "kind": p.kind, "low": p.low, "high": p.high, "choices": list(p.choices)}
                    for p in h.params
                ],
                "num_samples": h.num_samples,
                "metric": h.metric,
                "grace_period": h.grace_period,
                "reduction_factor": h.reduction_factor,
                "sampler_seed": h.sampler_seed,
                "seeds_per_trial": h.seeds_per_trial,
            }
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> StudySpec:
        """Inverse of ``to_dict``; unknown keys anywhere raise ``SpecError`` naming them."""
        if not isinstance(doc, Mapping):
            raise SpecError("spec", f"expected a JSON object, got {type(doc).__name__}")
        _reject_unknown("spec", doc, cls)
        doc = dict(doc)
        arms = []
        for i, a in enumerate(_json_list("arms", doc.get("arms"))):
            _reject_unknown(f"arms[{i}]", _json_object(f"arms[{i}]", a), Arm)
            arms.append(
                Arm(
                    a.get("name"),
                    tuple(_json_object(f"arms[{i}].overrides", a.get("overrides")).items()),
                    a.get("label"),
                    a.get("n_seeds"),
                )
            )
        faults = []
        for i, f in enumerate(_json_list("faults", doc.get("faults"))):
            _reject_unknown(f"faults[{i}]", _json_object(f"faults[{i}]", f), Fault)
            _require(f"faults[{i}]", f, Fault)
            faults.append(Fault(**f))
        hpo = None
        if doc.get("hpo") is not None:
            h = _json_object("hpo", doc["hpo"])
            _reject_unknown("hpo", h, HpoSettings)
            params = []
            for i, p in enumerate(_json_list("hpo.params", h.pop("params", None))):
                _reject_unknown(f"hpo.params[{i}]", _json_object(f"hpo.params[{i}]", p), Param)
                _require(f"hpo.params[{i}]", p, Param)
                p = dict(p)
                p["choices"] = tuple(_json_list(f"hpo.params[{i}].choices", p.get("choices")))
                params.append(Param(**p))
            hpo = HpoSettings(params=tuple(params), **h)
        doc.update(
            arms=tuple(arms),
            faults=tuple(faults),
            hpo=hpo,
            presets=tuple(_json_list("presets", doc.get("presets"))),
            seeds=tuple(_json_list("seeds", doc.get("seeds"))),
            overrides=tuple(_json_object("overrides", doc.get("overrides")).items()),
        )
        _require("", doc, cls)
        return cls(**doc)


def _json_list(where: str, value: Any) -> list:
    """A JSON array field of ``from_dict`` (absent/null = empty); anything else names the field."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise SpecError(where, f"expected a list, got {type(value).__name__} {value!r}")
    return list(value)


def _json_object(where: str, value: Any) -> dict:
    """A JSON object field of ``from_dict`` (absent/null = empty); anything else names the field."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecError(where, f"expected an object, got {type(value).__name__} {value!r}")
    return dict(value)


def _require(where: str, doc: Mapping[str, Any], cls: type) -> None:
    """Name the first field of ``cls`` without a default that ``doc`` lacks (``where.field``)."""
    missing = [f.name for f in fields(cls) if f.name not in doc and f.default is MISSING]
    if missing:
        raise SpecError(f"{where}.{missing[0]}" if where else missing[0], "missing")


def _reject_unknown(where: str, doc: Mapping[str, Any], cls: type) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(doc) - known)
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(known))})")


def parse_seeds(text: str | int | Sequence[int]) -> tuple[int, ...]:
    """``"20"`` → seeds 0..19; ``"0,3,7"`` → those seeds (an explicit list; ``"7,"`` = just seed 7).
    Duplicates are left for ``StudySpec`` to reject."""
    if isinstance(text, int) and not isinstance(text, bool):
        count = text
    elif isinstance(text, str) and text.strip().isdigit() and "," not in text:
        count = int(text)
    else:
        items: Iterable = text.split(",") if isinstance(text, str) else text
        if isinstance(text, str) and text.strip().endswith(","):  # "7," = the single seed 7
            items = text.strip()[:-1].split(",")
        seeds = []
        for item in items:
            try:
                seeds.append(int(str(item).strip()))
            except ValueError:
                raise SpecError(
                    "seeds", f"expected a count N or a comma-separated list of integers, got {text!r}"
                ) from None
        return tuple(seeds)
    if count < 1:
        raise SpecError("seeds", f"the seed count must be >= 1, got {count}")
    return tuple(range(count))

"""Study spec → flat Ray ``param_space`` (dotted config keys, as ``trainables.config.flatten``).

A grid study is one ``tune.grid_search`` over its cells (``study.cell`` = ``preset/arm/seed``, seed-
major so a partly run study holds complete seed pairs); every dotted key that varies between cells
is a ``tune.sample_from`` that looks the cell's value up, every other key a constant. So each trial's
config is exactly its flattened ``RunConfig`` plus ``study.*`` keys, and Tune's result columns
(``config/train.lr``) carry the config field names. A cross product would not do: the ``losses``
study runs fewer seeds for its ``jtfs`` arm.

An HPO study's param space is the arm's flattened config with the tuned keys replaced by Tune
domains (``loguniform``, ``uniform``, ``randint``, ``choice``), which ``OptunaSearch`` converts.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ray import tune

from search_spaces.spec import Cell, Param, StudySpec

__all__ = ["CELL_KEY", "CellValue", "cell_configs", "grid_param_space", "hpo_param_space", "tune_domain"]

CELL_KEY = "study.cell"


class CellValue:
    """``tune.sample_from`` callable: the value of ``key`` in the trial's cell."""

    def __init__(self, table: Mapping[str, Mapping[str, Any]], key: str) -> None:
        self.table, self.key = table, key

    def __call__(self, config: Mapping[str, Any]) -> Any:
        return self.table[config[CELL_KEY]][self.key]


def cell_configs(spec: StudySpec, extra: Callable[[Cell], Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{cell key: flat config + per-cell study.* keys}``; ``extra(cell)`` adds config overrides
    decided at run time (θ-IS π file, threads, device)."""
    from trainables.config import flatten

    out = {}
    for cell in spec.cells():
        flat = flatten(spec.config(cell, extra(cell)))
        flat.update({"study.arm": cell.arm, "study.trial_key": cell.key,
                     "study.faults": [[f.kind, f.step] for f in spec.faults_of(cell) if f.kind != "nan"]})
        out[cell.key] = flat
    return out


def grid_param_space(configs: Mapping[str, Mapping[str, Any]], study_keys: Mapping[str, Any]) -> dict[str, Any]:
    cells = list(configs)
    keys = list(next(iter(configs.values())))
    space: dict[str, Any] = {CELL_KEY: tune.grid_search(cells)}
    table = {c: dict(v) for c, v in configs.items()}
    for key in keys:
        values = [table[c][key] for c in cells]
        if all(v == values[0] for v in values[1:]):
            space[key] = values[0]
        else:
            space[key] = tune.sample_from(CellValue(table, key))
    space.update(study_keys)
    return space


def tune_domain(p: Param):
    if p.kind == "log":
        return tune.loguniform(p.low, p.high)
    if p.kind == "uniform":
        return tune.uniform(p.low, p.high)
    if p.kind == "int":
        return tune.randint(int(p.low), int(p.high) + 1)
    return tune.choice(list(p.choices))


def hpo_param_space(spec: StudySpec, extra: Mapping[str, Any], study_keys: Mapping[str, Any]) -> dict[str, Any]:
    from trainables.config import flatten

    arm = spec.arms[0]
    cell = Cell(spec.presets[0], arm.name, spec.seeds[0])
    space: dict[str, Any] = flatten(spec.config(cell, extra))
    for p in spec.hpo.params:
        space[p.key] = tune_domain(p)
    space.update({"study.arm": arm.name, "study.trial_key": None, "study.faults": []})
    space.update(study_keys)
    return space

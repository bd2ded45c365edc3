"""Study spec → what Tune explores, keyed by the config's own dotted names (``trainables.config.flatten``).

A grid study's trials are its cells (``study.cell`` = ``preset/arm/seed``, seed-major so a partly run
study holds complete seed pairs). ``CellSearcher`` hands Tune one complete flat config per cell: each
trial's config is exactly its flattened ``RunConfig`` plus ``study.*`` keys (``study.searchers``), so
Tune's result columns (``config/train.lr``), MLflow params and config fields share one name. Neither a cross-product
``grid_search`` (the ``losses`` study runs fewer seeds for its ``jtfs`` arm) nor per-key
``sample_from`` lookups (Ray 2.60 restores not-yet-started trials with unresolved ``sample_from``
placeholders after a driver crash, and they then fail) would do.

An HPO study's param space is the arm's flattened config with the tuned keys replaced by Tune
domains (``loguniform``, ``uniform``, ``randint``, ``choice``), which ``OptunaSearch`` converts; with
``seeds_per_trial`` K > 1, ``study.seeds`` lists the K paired seeds every trial trains (``study.seed_group``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray import tune

from search_spaces.spec import Cell, Param, StudySpec
from study.seed_group import group_seeds
from trainables.config import RunConfig, flatten

__all__ = ["CELL_KEY", "cell_configs", "hpo_cell", "hpo_param_space", "tune_domain"]

CELL_KEY = "study.cell"


def cell_configs(spec: StudySpec, runs: Mapping[Cell, RunConfig]) -> dict[str, dict[str, Any]]:
    """``{cell key: flat config + per-cell study.* keys}`` in the order of ``runs``, which holds the
    ``RunConfig`` of each cell to run (``spec.config(cell, ...)`` with the overrides decided at run time;
    every cell of the spec, or those of one stage of a grown study, ``study.stages``)."""
    out = {}
    for cell, cfg in runs.items():
        flat = flatten(cfg)
        flat.update(
            {
                CELL_KEY: cell.key,
                "study.arm": cell.arm,
                "study.trial_key": cell.key,
                "study.faults": [[f.kind, f.step] for f in spec.faults_of(cell) if f.kind != "nan"],
            }
        )
        out[cell.key] = flat
    return out


def tune_domain(p: Param):
    if p.kind == "log":
        return tune.loguniform(p.low, p.high)
    if p.kind == "uniform":
        return tune.uniform(p.low, p.high)
    if p.kind == "int":
        return tune.randint(int(p.low), int(p.high) + 1)
    return tune.choice(list(p.choices))


def hpo_cell(spec: StudySpec) -> Cell:
    """The one cell an HPO study tunes (its preset, arm and seed)."""
    return Cell(spec.presets[0], spec.arms[0].name, spec.seeds[0])


def hpo_param_space(spec: StudySpec, base: RunConfig, study_keys: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` (the tuned cell's ``RunConfig``) flattened, the tuned keys replaced by Tune domains."""
    arm = spec.arms[0]
    space: dict[str, Any] = flatten(base)
    for p in spec.hpo.params:
        space[p.key] = tune_domain(p)
    k = spec.hpo.seeds_per_trial
    space.update(
        {
            "study.arm": arm.name,
            "study.trial_key": None,
            "study.faults": [],
            "study.seeds": list(group_seeds(spec.seeds[0], k)) if k > 1 else [],
        }
    )
    space.update(study_keys)
    return space

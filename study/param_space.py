"""Study spec → what Tune explores, keyed by the config's own dotted names (``trainables.config.flatten``).

A grid study's trials are its cells (``study.cell`` = ``preset/arm/seed``, seed-major so a partly run
study holds complete seed pairs). ``CellSearcher`` hands Tune one complete flat config per cell: each
trial's config is exactly its flattened ``RunConfig`` plus ``study.*`` keys, so Tune's result columns
(``config/train.lr``), MLflow params and config fields share one name. Neither a cross-product
``grid_search`` (the ``losses`` study runs fewer seeds for its ``jtfs`` arm) nor per-key
``sample_from`` lookups (Ray 2.60 restores not-yet-started trials with unresolved ``sample_from``
placeholders after a driver crash, and they then fail) would do.

An HPO study's param space is the arm's flattened config with the tuned keys replaced by Tune
domains (``loguniform``, ``uniform``, ``randint``, ``choice``), which ``OptunaSearch`` converts.
"""
from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from typing import Any

from ray import tune
from ray.tune.search import Searcher

from search_spaces.spec import Cell, Param, StudySpec

__all__ = ["CELL_KEY", "CellSearcher", "cell_configs", "hpo_param_space", "tune_domain"]

CELL_KEY = "study.cell"


def cell_configs(spec: StudySpec, extra: Callable[[Cell], Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{cell key: flat config + per-cell study.* keys}`` in the spec's cell order; ``extra(cell)``
    adds config overrides decided at run time (θ-IS π file, threads, device)."""
    from trainables.config import flatten

    out = {}
    for cell in spec.cells():
        flat = flatten(spec.config(cell, extra(cell)))
        flat.update({CELL_KEY: cell.key, "study.arm": cell.arm, "study.trial_key": cell.key,
                     "study.faults": [[f.kind, f.step] for f in spec.faults_of(cell) if f.kind != "nan"]})
        out[cell.key] = flat
    return out


class CellSearcher(Searcher):
    """A grid as a Tune searcher: suggests each cell's complete config once, in order. Its position is
    saved with Tune's experiment state, so a restored study continues with the next cell."""

    def __init__(self, configs: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__()
        self.configs = {k: dict(v) for k, v in configs.items()}
        self.order = list(self.configs)
        self.position = 0

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return True

    def suggest(self, trial_id: str):
        if self.position >= len(self.order):
            return Searcher.FINISHED
        key = self.order[self.position]
        self.position += 1
        return dict(self.configs[key])

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        pass

    def get_state(self) -> dict:
        return {"configs": self.configs, "order": self.order, "position": self.position}

    def set_state(self, state: dict) -> None:
        self.configs, self.order, self.position = state["configs"], state["order"], state["position"]

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.get_state(), f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.set_state(pickle.load(f))


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

"""Tune searchers of the studies, both safe across ``Tuner.restore`` after a driver crash.

* ``CellSearcher``: a grid study's cells, one complete flat config each, in order.
* ``ResumableOptunaSearch``: ``OptunaSearch`` on a persistent ``RDBStorage``. Tune snapshots its
  state at most every few seconds while the Optuna database is always current, so after a crash a
  restored study can replay results of a trial Optuna already finished; ``OptunaSearch`` then
  raises ``UpdateFinishedTrialError`` from inside Tune's loop and the driver dies. Such replays are
  skipped instead (the values Optuna holds are the ones that were reported).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

__all__ = ["CellSearcher", "ResumableOptunaSearch"]


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


class ResumableOptunaSearch(OptunaSearch):
    """``OptunaSearch`` that ignores results for trials its storage has already finished."""

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        try:
            super().on_trial_result(trial_id, result)
        except UpdateFinishedTrialError:
            self._completed_trials.add(trial_id)  # told before the crash; Tune's snapshot is older

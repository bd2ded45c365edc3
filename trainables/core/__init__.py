"""SCRAPL core: pure PyTorch + kymatio 0.3.0 filter banks (never imports Ray).

Public API::

    from trainables.core import SCRAPLLoss, JTFSLoss, JTFSPaths, PathSampler, PathwiseSGD
    from trainables.core import theta_is      # curvature(), probabilities(), merge_curvature()

The names load on first use (PEP 562), so ``trainables.core.settings`` (the JTFS hyperparameters that
``trainables.config`` validates) is importable without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "JTFSLoss": "trainables.core.loss",
    "JTFSPaths": "trainables.core.jtfs",
    "JTFSSettings": "trainables.core.settings",
    "NAMED_SETTINGS": "trainables.core.settings",
    "PathSampler": "trainables.core.sampler",
    "PathwiseSGD": "trainables.core.optim",
    "SCRAPLLoss": "trainables.core.loss",
    "path_distance": "trainables.core.loss",
}

if TYPE_CHECKING:
    from trainables.core import theta_is
    from trainables.core.jtfs import JTFSPaths
    from trainables.core.loss import JTFSLoss, SCRAPLLoss, path_distance
    from trainables.core.optim import PathwiseSGD
    from trainables.core.sampler import PathSampler
    from trainables.core.settings import NAMED_SETTINGS, JTFSSettings


def __getattr__(name: str) -> Any:
    if name == "theta_is":
        return importlib.import_module("trainables.core.theta_is")
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'trainables.core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "JTFSLoss",
    "JTFSPaths",
    "JTFSSettings",
    "NAMED_SETTINGS",
    "PathSampler",
    "PathwiseSGD",
    "SCRAPLLoss",
    "path_distance",
    "theta_is",
]

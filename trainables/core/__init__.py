"""SCRAPL core: pure PyTorch + kymatio 0.3.0 filter banks (never imports Ray).

Public API::

    from trainables.core import SCRAPLLoss, JTFSLoss, JTFSPaths, PathSampler, PathwiseSGD
    from trainables.core import theta_is      # curvature(), probabilities(), merge_curvature()
"""

from trainables.core import theta_is
from trainables.core.jtfs import JTFSPaths
from trainables.core.loss import JTFSLoss, SCRAPLLoss, path_distance
from trainables.core.optim import PathwiseSGD
from trainables.core.sampler import PathSampler
from trainables.core.settings import NAMED_SETTINGS, JTFSSettings

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

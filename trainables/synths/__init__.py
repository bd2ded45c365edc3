"""Differentiable synthesizers for the sound-matching experiments (notes §9.1, §9.2; paper §4.2–4.3).

Every synth follows one interface (``Synth``): ``theta_names``, ``sample_rate``, ``n_samples`` and
``forward(theta, seed) -> x`` with ``theta`` of shape ``(B, U)`` in ``[0, 1]``, ``seed`` of shape
``(B,)`` (int64) and ``x`` of shape ``(B, 1, N)``. Output is differentiable in ``theta`` and a pure
function of ``(theta, seed)``; the random draws depend on ``seed`` only, so ``x`` and ``x_hat``
rendered with the same seed share grains / time shifts.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor

from trainables.synths.chirplet import CHIRPLET_CONFIGS, ChirpletRanges, ChirpletSynth
from trainables.synths.granular import GranularSynth


@runtime_checkable
class Synth(Protocol):
    """What the encoder/training code relies on; a future TR-808 synth implements the same."""

    theta_names: tuple[str, ...]
    sample_rate: int
    n_samples: int

    def __call__(self, theta: Tensor, seed: Tensor) -> Tensor: ...


__all__ = ["CHIRPLET_CONFIGS", "ChirpletRanges", "ChirpletSynth", "GranularSynth", "Synth"]

"""Path sampler: one path per training step, shared by the whole mini-batch (notes §5).

``p ~ Categorical(π)`` with π uniform (1/P) or from θ-IS, kept in float64 on the CPU and drawn with
``torch.multinomial`` from the sampler's own seeded ``torch.Generator``, so the path sequence depends
on nothing else in the program and ``state_dict()`` resumes it exactly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def validate_probs(probs, n_paths: int) -> Tensor:
    """Return ``probs`` as a float64 CPU tensor of shape ``(n_paths,)`` or raise ``ValueError``."""
    probs = torch.as_tensor(probs, dtype=torch.float64).detach().cpu()
    if probs.shape != (n_paths,):
        raise ValueError(f"probs must have shape ({n_paths},) (one probability per path), got {tuple(probs.shape)}")
    if not torch.isfinite(probs).all() or (probs < 0).any():
        raise ValueError("probs must be finite and non-negative")
    total = float(probs.sum())
    if not math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-6):
        raise ValueError(f"probs must sum to 1, got {total:.9g}")
    return probs / total


class PathSampler:
    """Draws path indices in ``[0, n_paths)`` from π (uniform when ``probs`` is None).

    ``counts`` is the histogram of paths drawn so far (for entropy / coverage metrics).
    """

    def __init__(self, n_paths: int, probs=None, seed: int = 0) -> None:
        if isinstance(n_paths, bool) or not isinstance(n_paths, int) or n_paths < 1:
            raise ValueError(f"n_paths must be a positive integer, got {n_paths!r}")
        self.n_paths = n_paths
        self.probs = (
            torch.full((n_paths,), 1.0 / n_paths, dtype=torch.float64)
            if probs is None
            else validate_probs(probs, n_paths)
        )
        self.uniform = probs is None
        self.generator = torch.Generator().manual_seed(int(seed))
        self.counts = torch.zeros(n_paths, dtype=torch.int64)

    def sample(self) -> int:
        p = int(torch.multinomial(self.probs, 1, generator=self.generator))
        self.counts[p] += 1
        return p

    def entropy(self) -> float:
        """Entropy (nats) of the empirical histogram of drawn paths; 0 before any draw."""
        total = int(self.counts.sum())
        if total == 0:
            return 0.0
        freq = self.counts[self.counts > 0].double() / total
        return float(-(freq * freq.log()).sum())

    def state_dict(self) -> dict:
        return {
            "generator": self.generator.get_state(),
            "counts": self.counts.clone(),
            "probs": self.probs.clone(),
            "uniform": self.uniform,
        }

    def load_state_dict(self, state: dict) -> None:
        probs = torch.as_tensor(state["probs"], dtype=torch.float64)
        if probs.shape != self.probs.shape or not torch.allclose(probs, self.probs, rtol=0, atol=1e-12):
            raise ValueError("state_dict was saved with a different path distribution π")
        self.generator.set_state(state["generator"])
        self.counts = state["counts"].clone()

"""Power iteration for θ-IS (notes §8): the dominant eigenvalue of a matrix-free operator, and the seed of
each initial vector (a BLAKE2b hash of ``(seed, path, θ-dimension, group)``, so chunked and parallel runs
reproduce one full run). ``theta_is.curvature`` runs it on every ``M_u``; both are re-exported there.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["power_iteration", "power_iteration_seed"]


def power_iteration_seed(seed: int, path: int, theta_dim: int, group: int = 0) -> int:
    """Seed of the initial vector for ``(path, theta_dim, group)``: BLAKE2b of the four integers.

    Stable across processes and platforms (unlike ``hash``), so chunked and parallel runs reproduce
    one full run. Returns an integer in ``[0, 2**63)``.
    """
    digest = hashlib.blake2b(struct.pack("<4q", seed, path, theta_dim, group), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def power_iteration(
    operator: Callable[[Tensor], Tensor], v: Tensor, *, n_iter: int = 20, tol: float = 1e-4
) -> tuple[float, int]:
    """Dominant eigenvalue of a matrix-free linear ``operator`` by power iteration (notes §8).

    ``v`` is the initial vector (1-D; not normalised first, like the released code). Returns
    ``(λ, n_applied)``: the signed Rayleigh estimate and the number of operator applications.
    Dot products and norms are accumulated in float64. Raises ``FloatingPointError`` if the operator
    returns non-finite values.
    """
    lam, lam_prev = 0.0, 0.0
    for i in range(1, n_iter + 1):
        y = operator(v)
        y_norm = float(torch.linalg.vector_norm(y, dtype=torch.float64))
        if not math.isfinite(y_norm):
            raise FloatingPointError(f"the operator returned non-finite values at iteration {i}")
        if y_norm == 0.0:
            return 0.0, i
        lam = float(torch.dot(v.to(torch.float64), y.to(torch.float64)))
        v = y / y_norm
        if lam != 0.0 and abs(lam - lam_prev) / abs(lam) < tol:
            return lam, i
        lam_prev = lam
    return lam, n_iter

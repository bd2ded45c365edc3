"""θ-IS, from curvature to the path distribution: merge the ``C`` blocks of chunked ``curvature`` calls and
apply Eq. 10 (with the released code's floor, notes §8). Also the index checks ``theta_is`` shares.

Arrays are indexed ``C[p, u]``, shape ``(P, U)`` (one row per path), as ``theta_is.curvature`` returns them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from common.checks import RANGE, check_int

__all__ = ["check_index", "check_indices", "merge_curvature", "probabilities"]


def check_index(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high)`` (``>= low`` without ``high``); NumPy and 0-d integer torch
    values are accepted (anything with ``__index__``), bools are not."""
    return check_int(name, value, low, high, messages=RANGE, high_exclusive=True, index=True)


def check_indices(name: str, values: Sequence[int], high: int | None) -> tuple[int, ...]:
    """A non-empty sequence of distinct indices in ``[0, high)``."""
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of integers, got {values!r}") from None
    if not values:
        raise ValueError(f"{name} must not be empty")
    values = tuple(check_index(f"{name} entry", v, 0, high) for v in values)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not contain duplicates, got {list(values)}")
    return values


def merge_curvature(
    blocks: Iterable[tuple[Sequence[int], Sequence[int], Tensor]], n_paths: int, n_theta: int
) -> Tensor:
    """Assemble ``(paths, theta_dims, C_block)`` results of ``curvature`` into the full ``(P, U)``.

    Each block's values have shape ``(len(paths), len(theta_dims))``. Every cell ``(p, u)`` must be
    covered exactly once; a missing, duplicated or out-of-range cell raises ``ValueError``.
    Returns float64 on the CPU.
    """
    check_index("n_paths", n_paths, 1)
    check_index("n_theta", n_theta, 1)
    full = torch.zeros(n_paths, n_theta, dtype=torch.float64)
    seen = torch.zeros(n_paths, n_theta, dtype=torch.bool)
    for k, block in enumerate(blocks):
        try:
            paths, dims, values = block
        except (TypeError, ValueError):
            raise ValueError(f"blocks[{k}] must be a (paths, theta_dims, values) triple") from None
        paths = check_indices(f"blocks[{k}] paths", paths, n_paths)
        dims = check_indices(f"blocks[{k}] theta_dims", dims, n_theta)
        values = torch.as_tensor(values, dtype=torch.float64).cpu()
        if values.shape != (len(paths), len(dims)):
            raise ValueError(
                f"blocks[{k}] values must have shape ({len(paths)}, {len(dims)}), got {tuple(values.shape)}"
            )
        rows, cols = torch.tensor(paths)[:, None], torch.tensor(dims)[None, :]
        overlap = seen[rows, cols].nonzero()
        if len(overlap):
            i, j = overlap[0].tolist()
            raise ValueError(f"blocks[{k}] duplicates cell (path {paths[i]}, theta_dim {dims[j]})")
        seen[rows, cols] = True
        full[rows, cols] = values
    missing = (~seen).nonzero()
    if len(missing):
        cells = [tuple(c) for c in missing[:5].tolist()]
        raise ValueError(f"blocks leave {len(missing)} (path, theta_dim) cells missing, e.g. {cells}")
    return full


def probabilities(C: Tensor, min_prob_frac: float = 0.0) -> Tensor:
    """Path distribution π from curvature ``C`` of shape ``(P, U)`` (Eq. 10 with the code's floor).

    ``q[p, u] = C[p, u] / Σ_p' C[p', u]`` and ``π_p = (1/U) Σ_u [(1 − f) q[p, u] + f/P]`` with
    ``f = min_prob_frac`` (0 in every experiment, giving exactly Eq. 10; then ``π_p ≥ f/P``). As in
    the released code, ``C`` is clamped to ``≥ 1e-12`` and normalised in log space in float64, so a
    θ-dimension whose column is all zero contributes a uniform ``q``.
    Returns ``(P,)`` float64 on the CPU, summing to 1.
    """
    if not isinstance(C, Tensor):
        raise ValueError(f"C must be a tensor of shape (P, U), got {type(C).__name__}")
    if C.ndim != 2 or C.shape[0] == 0 or C.shape[1] == 0:
        raise ValueError(f"C must have shape (P, U) with P, U >= 1, got {tuple(C.shape)}")
    C = C.detach().to("cpu", torch.float64)
    if not torch.isfinite(C).all():
        raise ValueError("C must be finite")
    if (C < 0).any():
        raise ValueError("C must be non-negative")
    if isinstance(min_prob_frac, bool) or not isinstance(min_prob_frac, (int, float)) or not 0.0 <= min_prob_frac < 1.0:
        raise ValueError(f"min_prob_frac must be in [0, 1), got {min_prob_frac!r}")
    n_paths = C.shape[0]
    log_c = C.clamp_min(1e-12).log()
    q = (log_c - torch.logsumexp(log_c, dim=0, keepdim=True)).exp()  # (P, U), columns sum to 1
    pi = ((1.0 - min_prob_frac) * q + min_prob_frac / n_paths).mean(dim=1)
    return pi / pi.sum()

"""SCRAPL's per-path loss and the full-JTFS baseline loss (notes §5).

``L_p(x_hat, x) = mean_b || ρ(S_p(x)[b]) − ρ(S_p(x_hat)[b]) ||_2`` — the unsquared Frobenius norm
over one example's ``(frequency, time)`` array, averaged over the batch (channels folded into it),
without the paper's factor P (notes §11.1). ρ is the identity, or ``log1p(s / 1e-3)`` with
``use_rho_log1p`` (TR-808). The target's coefficients are computed without a graph unless ``x``
itself requires a gradient.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import Tensor, nn

from trainables.core.jtfs import JTFSPaths
from trainables.core.sampler import PathSampler


def path_distance(S_hat: Tensor, S: Tensor, p: int = 2) -> Tensor:
    """Batch mean of the per-example ``p``-norm over ``(frequency, time)``: ``(B, F, T)`` × 2 → scalar."""
    return torch.linalg.vector_norm(S - S_hat, ord=p, dim=(-2, -1)).mean()


class _JTFSDistance(nn.Module):
    def __init__(
        self,
        shape: int,
        J: int,
        Q1: int,
        Q2: int,
        J_fr: int,
        Q_fr: int,
        T: int | None,
        F: int | None,
        p: int,
        use_rho_log1p: bool,
        log1p_eps: float,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        if p not in (1, 2):
            raise ValueError(f"p must be 1 or 2, got {p!r}")
        if not log1p_eps > 0:
            raise ValueError(f"log1p_eps must be > 0, got {log1p_eps!r}")
        self.jtfs = JTFSPaths(shape, J, Q1, Q2, J_fr, Q_fr, T, F, dtype=dtype)
        self.p, self.use_rho_log1p, self.log1p_eps = p, bool(use_rho_log1p), float(log1p_eps)

    @property
    def n_paths(self) -> int:
        return self.jtfs.n_paths

    def rho(self, S: Tensor) -> Tensor:
        return torch.log1p(S / self.log1p_eps) if self.use_rho_log1p else S

    def _check_pair(self, x_hat: Tensor, x: Tensor) -> None:
        self.jtfs.check_input(x_hat, "x_hat")
        self.jtfs.check_input(x, "x")
        if x_hat.shape != x.shape:
            raise ValueError(f"x_hat and x must have the same shape, got {tuple(x_hat.shape)} and {tuple(x.shape)}")

    def _target_context(self, x: Tensor):
        return nullcontext() if x.requires_grad else torch.no_grad()


class SCRAPLLoss(_JTFSDistance):
    """Stochastic single-path JTFS loss (SCRAPL), a drop-in for the released ``scrapl-loss``.

    ``loss(x_hat, x, path_idx=None)`` → scalar: the distance on one path, drawn from π by the
    loss's own ``PathSampler`` when ``path_idx`` is None; ``last_path`` holds the path used.
    Inputs are ``(batch, 1, N)``. P-Adam and P-SAGA are not gradient hooks here: they live in
    ``trainables.core.optim.PathwiseSGD``, stepped with ``optimizer.step(loss.last_path)``.

    Args: JTFS settings as ``JTFSPaths``; ``p`` (norm order, 2), ``use_rho_log1p`` and
    ``log1p_eps`` (ρ), ``probs`` (π over the P paths, uniform if None), ``seed`` (path sampler),
    ``dtype`` (float32, or float64 for exactness checks).
    """

    def __init__(
        self,
        shape: int,
        J: int,
        Q1: int,
        Q2: int,
        J_fr: int,
        Q_fr: int,
        T: int | None = None,
        F: int | None = None,
        p: int = 2,
        use_rho_log1p: bool = False,
        log1p_eps: float = 1e-3,
        probs=None,
        seed: int = 0,
        use_p_adam: bool = False,
        use_p_saga: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if use_p_adam or use_p_saga:
            raise ValueError(
                "use_p_adam/use_p_saga: P-Adam and P-SAGA are an optimizer here, not loss "
                "hooks: build trainables.core.PathwiseSGD(params, n_paths=loss.n_paths, "
                "use_p_adam=..., use_p_saga=...) and call optimizer.step(loss.last_path)"
            )
        super().__init__(shape, J, Q1, Q2, J_fr, Q_fr, T, F, p, use_rho_log1p, log1p_eps, dtype)
        self.sampler = PathSampler(self.n_paths, probs, seed)
        self.last_path: int | None = None

    def forward(self, x_hat: Tensor, x: Tensor, path_idx: int | None = None) -> Tensor:
        self._check_pair(x_hat, x)
        p = self.sampler.sample() if path_idx is None else self.jtfs.check_path(path_idx)
        self.last_path = p
        with self._target_context(x):
            S = self.rho(self.jtfs.coefficients(x, p))
        return path_distance(self.rho(self.jtfs.coefficients(x_hat, p)), S, self.p)

    loss = forward


class JTFSLoss(_JTFSDistance):
    """Full-JTFS baseline (Tables 1/5): mean over the batch and over every joint coefficient
    (the 1+K first-order ``phi_t`` paths and the P SCRAPL paths, time un-padded) of the same
    unsquared per-path norm. Inputs ``(batch, 1, N)``."""

    def __init__(
        self,
        shape: int,
        J: int,
        Q1: int,
        Q2: int,
        J_fr: int,
        Q_fr: int,
        T: int | None = None,
        F: int | None = None,
        p: int = 2,
        use_rho_log1p: bool = False,
        log1p_eps: float = 1e-3,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(shape, J, Q1, Q2, J_fr, Q_fr, T, F, p, use_rho_log1p, log1p_eps, dtype)

    @property
    def n_coefficients(self) -> int:
        return self.n_paths + self.jtfs.fb.K + 1

    def forward(self, x_hat: Tensor, x: Tensor) -> Tensor:
        self._check_pair(x_hat, x)
        with self._target_context(x):
            S = [self.rho(s) for s in self.jtfs.full_coefficients(x)]
        S_hat = [self.rho(s) for s in self.jtfs.full_coefficients(x_hat)]
        return torch.stack([path_distance(a, b, self.p) for a, b in zip(S_hat, S, strict=True)]).mean()

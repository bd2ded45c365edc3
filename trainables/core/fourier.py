"""Fourier-domain building blocks of the path engine: filter-then-decimate, done sparsely.

The released code filters a full spectrum ``H`` by a real filter ``h`` and decimates by ``2**d``
(mean over ``2**d`` Fourier blocks, notes §2.4). Every filter here is band-limited enough to be
alias-free after its decimation, so all but one or two blocks of ``h`` are numerically zero. We keep
only blocks whose peak exceeds ``TOL`` times the filter's peak (the dropped terms are far below float32
resolution) and, for real inputs, read the needed bins from a half-length ``rfft`` (the upper half of
a real signal's spectrum is the conjugate mirror of the lower half). Along the short n1 axis the
filters become small precomputed matrices.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

TOL = 1e-13


def full_spectrum(H_half: Tensor, L: int) -> Tensor:
    """Full FFT of a real length-``L`` signal from its ``rfft`` (conjugate mirror of bins 1..L/2-1)."""
    return torch.cat([H_half, H_half[..., 1 : L // 2].flip(-1).conj()], dim=-1)


def half_spectrum_block(H_half: Tensor, L: int, m: int, width: int) -> Tensor:
    """Bins ``[m*width, (m+1)*width)`` of the full spectrum of a real signal, from its ``rfft``.

    Needs ``width <= L/2`` so that no block straddles the Nyquist bin.
    """
    start = m * width
    if start < L // 2:
        return H_half[..., start : start + width]
    return H_half[..., L - start - width + 1 : L - start + 1].flip(-1).conj()


def _interleaved(w: np.ndarray, dtype: torch.dtype) -> Tensor:
    """Real weights as ``(..., 2)`` pairs ``[w, w]``, to multiply ``view_as_real`` data elementwise
    (a broadcast size-1 innermost dim defeats vectorisation and costs ~5x on CPU)."""
    w = torch.as_tensor(np.asarray(w), dtype=dtype)
    return torch.stack([w, w], dim=-1).contiguous()


class SparseDecimation(nn.Module):
    """``y = decimate(H * h, d)`` for ``H = fft(u)`` of a REAL signal ``u``, computed from ``rfft(u)``.

    ``h`` is one real filter ``(L,)`` shared by every row of the input, or one filter per row
    ``(R, L)`` applied to a shared input. Input: ``rfft(u)`` of shape ``(..., L//2 + 1)``; output:
    ``(..., [R,] L / 2**d)`` complex. Only the Fourier blocks where ``h`` exceeds ``TOL`` times its
    peak are read (one or two for an alias-free filter); the rest contribute below float32 resolution.
    """

    def __init__(self, h: np.ndarray, d: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        h = np.asarray(h, dtype=float)
        self.L, self.d, self.per_row = h.shape[-1], d, h.ndim == 2
        rows = h.reshape(-1, self.L)
        if d == 0:  # no decimation: one block, the whole spectrum
            self.blocks: list[int] = []
            self.register_buffer("weight", _interleaved(h, dtype), persistent=False)
            return
        width = self.L >> d
        peaks = np.abs(rows).max(axis=1, keepdims=True)
        parts = rows.reshape(len(rows), 2**d, width)
        keep = np.abs(parts).max(axis=2) > TOL * peaks  # (R, 2**d)
        self.blocks = [int(m) for m in np.flatnonzero(keep.any(axis=0))]
        n_slots = int(keep.sum(axis=1).max())
        select = np.zeros((len(rows), n_slots), dtype=np.int64)  # row r, slot s -> position in blocks
        weight = np.zeros((len(rows), n_slots, width))
        for r in range(len(rows)):
            for s, m in enumerate(np.flatnonzero(keep[r])):
                select[r, s] = self.blocks.index(int(m))
                weight[r, s] = parts[r, m] / 2**d
        if not self.per_row:
            select, weight = select[0], weight[0]
        self.register_buffer("select", torch.from_numpy(select.reshape(-1)), persistent=False)
        self.register_buffer("weight", _interleaved(weight, dtype), persistent=False)
        self.n_slots = n_slots

    def forward(self, H_half: Tensor) -> Tensor:
        if self.d == 0:
            H = full_spectrum(H_half, self.L)
            if self.per_row:
                H = H.unsqueeze(-2)
            return torch.view_as_complex(torch.view_as_real(H) * self.weight)
        width = self.L >> self.d
        H = torch.stack([half_spectrum_block(H_half, self.L, m, width) for m in self.blocks], dim=-2)
        if self.per_row:  # shared input (..., n_blocks, width) -> per-row slots (..., R, slots, width)
            H = H.index_select(-2, self.select).unflatten(-2, (-1, self.n_slots))
        elif len(self.blocks) != self.n_slots:
            H = H.index_select(-2, self.select)
        prod = torch.view_as_real(H) * self.weight
        return torch.view_as_complex(prod.sum(dim=-3) if self.n_slots > 1 else prod.select(-3, 0))


def filter_matrix(h: np.ndarray, d: int, n_in: int, n_cols: int | None = None) -> np.ndarray:
    """The linear map ``v -> ifft(decimate(fft(v, n=len(h)) * h, d))`` as a complex matrix.

    Input vectors have ``n_cols`` (default ``n_in``) entries zero-padded to ``len(h)``; the result has
    shape ``(len(h) / 2**d, n_cols)``.
    """
    L = len(h)
    n_cols = n_in if n_cols is None else n_cols
    basis = np.zeros((L, n_cols))
    basis[np.arange(n_cols), np.arange(n_cols)] = 1.0
    spec = np.fft.fft(basis, axis=0) * h[:, None]
    spec = spec.reshape(2**d, L >> d, n_cols).mean(axis=0)
    return np.fft.ifft(spec, axis=0)

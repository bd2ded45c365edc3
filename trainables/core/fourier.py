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
FLUSH = 1e-20  # filter entries below FLUSH x the filter's peak are set to 0 (see ``flush_tiny``)


def flush_tiny(a: np.ndarray, peak: np.ndarray | float | None = None) -> np.ndarray:
    """``a`` with the entries below ``FLUSH`` times ``peak`` (default: ``a``'s largest magnitude) set to 0.

    Their contributions sit 13 orders of magnitude below float32 resolution (and 4 below float64's),
    but in float32 many are denormal numbers, and arithmetic on denormals runs ~100x slower on x86.
    """
    peak = np.abs(a).max() if peak is None else peak
    return np.where(np.abs(a) < FLUSH * peak, 0, a)


class _RFFT(torch.autograd.Function):
    """``torch.fft.rfft`` over the last dimension with a half-length backward.

    torch's own backward zero-pads the gradient to the full length and runs a complex FFT. The same
    gradient, ``grad_x[n] = Re sum_k g[k] exp(2πikn/L)`` over the half spectrum, is one inverse real FFT
    of ``g`` with its interior bins halved (the bins with a mirror image). The backward is made of torch
    operations, so it is differentiable again (θ-IS Hessian-vector products).
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        ctx.n = x.shape[-1]
        return torch.fft.rfft(x)

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        n = ctx.n
        scale = torch.ones(g.shape[-1], dtype=g.real.dtype, device=g.device)
        scale[1 : (n + 1) // 2] = 0.5
        return torch.fft.irfft(g * scale, n=n, norm="forward")  # complex times real: one vectorised pass


def rfft(x: Tensor) -> Tensor:
    """``torch.fft.rfft(x)`` (last dimension) with a cheaper backward (``_RFFT``)."""
    return _RFFT.apply(x)


def linear_pair(name: str, apply_map, apply_adjoint):
    """Two autograd Functions for a linear map ``y = apply_map(x, weight, plan)`` and its adjoint
    ``apply_adjoint(g, weight, plan)``, each the other's backward, so both are differentiable any number of times
    (θ-IS differentiates a backward again for its Hessian-vector products). ``weight`` (a tensor) and ``plan``
    (anything) are constants: neither gets a gradient."""

    functions: dict[str, type[torch.autograd.Function]] = {}

    def function(kind: str, apply, partner: str) -> type[torch.autograd.Function]:
        class Linear(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x: Tensor, weight: Tensor, plan) -> Tensor:
                ctx.save_for_backward(weight)
                ctx.plan = plan
                return apply(x, weight, plan)

            @staticmethod
            def backward(ctx, g: Tensor):
                (weight,) = ctx.saved_tensors
                return functions[partner].apply(g, weight, ctx.plan), None, None

        Linear.__name__ = Linear.__qualname__ = kind  # what profiles and autograd graphs show
        functions[kind] = Linear
        return Linear

    return function(name, apply_map, f"{name}Adjoint"), function(f"{name}Adjoint", apply_adjoint, name)


def _row_bands_adjoint(g: Tensor, weight: Tensor, bands: tuple[tuple[int, int], ...]) -> Tensor:
    out = g.new_zeros(*g.shape[:-3], *g.shape[-2:])
    for r, (a, b) in enumerate(bands):
        out[..., a:b, :].addcmul_(g[..., r, a:b, :], weight[r, a:b])
    return out


# ``out[..., r, k, :] = G[..., k, :] * w[r, k, :]``: a per-row filter over a shared input, where row ``r``'s weights
# are zero outside its band ``[a, b)`` of bins (``row_bands``). The first order's wavelets are each nonzero on one
# band of 28-30 % of their bins. The forward is the broadcast multiply (one pass; computing band by band and
# zero-filling the rest was 2x slower), but the backward (the adjoint) sums the rows over their bands only, where
# autograd's backward of the broadcast multiply made the full ``(..., R, width, 2)`` product and summed it over
# every row. Forward + backward of the finest row group at tiny batch 4: 6.4 -> 4.4 ms (alternating rounds in one
# process); a tiny path step -3.5 %.
_RowBands, _RowBandsAdjoint = linear_pair("RowBands", lambda G, w, bands: G.unsqueeze(-3) * w, _row_bands_adjoint)


def row_bands(weight: np.ndarray) -> tuple[tuple[int, int], ...]:
    """``[a, b)`` per row of ``weight`` ``(R, width, 2)``: from its first to its last nonzero bin (``(0, 0)``: none)."""
    bands = []
    for row in np.abs(weight).max(axis=-1):
        nz = np.flatnonzero(row)
        bands.append((int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, 0))
    return tuple(bands)


class BandPlan:
    """Where a shared filter's nonzero bands sit: ``segments`` ``(slot, lo, hi, src, step)``, each mapping the
    output bins ``[lo, hi)`` of decimation slot ``slot`` to half-spectrum bins ``src, src + step, ...`` (``step``
    -1: the mirror image, read backwards), and the output bins no segment covers (``gaps``).

    ``gather`` is ``SparseDecimation``'s forward for a shared filter without the full-width copies: each segment
    is multiplied straight into its slice of the output and the gaps are zero-filled, where the plain forward
    concatenated the block and its mirror, multiplied every slot over the whole width and summed the slots.
    ``scatter`` is its adjoint (the backward), which adds each segment into the half spectrum's gradient.
    Values equal the plain forward's: the weights are exactly zero outside the bands. On the second order (the
    shared filters) a tiny path step took -7 % and a granular one -9 % (means over the paths, interleaved A/B in one
    process, Intel Xeon, issue 12).
    """

    def __init__(self, weight: np.ndarray, select: np.ndarray, runs: list[tuple[int, int, int]], n_in: int) -> None:
        width = weight.shape[1]
        self.width, self.n_in = width, n_in
        offsets = np.cumsum([0] + [n for _, n, _ in runs])
        segments = []
        for slot, (a, b) in enumerate(row_bands(weight)):
            base = int(select[slot]) * width
            for (first, n, step), off in zip(runs, offsets, strict=False):
                lo, hi = max(base + a, int(off)), min(base + b, int(off) + n)
                if lo < hi:
                    segments.append((slot, lo - base, hi - base, first + step * (lo - int(off)), step))
        self.segments = tuple(sorted(segments, key=lambda seg: seg[1]))
        ends = [0] + [hi for _, _, hi, _, _ in self.segments]
        self.disjoint = all(seg[1] >= end for seg, end in zip(self.segments, ends, strict=False))
        covered = np.zeros(width, dtype=bool)
        for _, lo, hi, _, _ in self.segments:
            covered[lo:hi] = True
        self.gaps = tuple((first, first + n) for first, n, _ in contiguous_runs(np.flatnonzero(~covered)))

    @staticmethod
    def _source(G: Tensor, src: int, n: int, step: int) -> Tensor:
        return G[..., src : src + n, :] if step == 1 else G[..., src - n + 1 : src + 1, :].flip(-2)

    def gather(self, G: Tensor, weight: Tensor) -> Tensor:
        """``(..., n_in, 2)`` real view of the half spectrum -> ``(..., width, 2)``."""
        out = G.new_empty(*G.shape[:-2], self.width, 2)
        if not self.disjoint:
            out.zero_()
        for lo, hi in self.gaps if self.disjoint else ():
            out[..., lo:hi, :].zero_()
        for slot, lo, hi, src, step in self.segments:
            source, w = self._source(G, src, hi - lo, step), weight[slot, lo:hi]
            if self.disjoint:
                torch.mul(source, w, out=out[..., lo:hi, :])
            else:
                out[..., lo:hi, :].addcmul_(source, w)
        return out

    def scatter(self, g: Tensor, weight: Tensor) -> Tensor:
        """The adjoint of ``gather``: ``(..., width, 2)`` -> ``(..., n_in, 2)``."""
        out = g.new_zeros(*g.shape[:-2], self.n_in, 2)
        for slot, lo, hi, src, step in self.segments:
            n = hi - lo
            if step == 1:
                out[..., src : src + n, :].addcmul_(g[..., lo:hi, :], weight[slot, lo:hi])
            else:
                out[..., src - n + 1 : src + 1, :].addcmul_(g[..., lo:hi, :].flip(-2), weight[slot, lo:hi].flip(-2))
        return out


# ``BandPlan.gather`` with its adjoint ``scatter`` as backward
_Gather, _Scatter = linear_pair("Gather", lambda G, w, plan: plan.gather(G, w), lambda g, w, plan: plan.scatter(g, w))


def half_spectrum_index(L: int, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where full-spectrum ``bins`` of a real length-``L`` signal live in its ``rfft``: the source
    bin and whether it must be conjugated (the upper half mirrors the lower one)."""
    upper = bins > L // 2
    return np.where(upper, L - bins, bins), upper


def contiguous_runs(index: np.ndarray) -> list[tuple[int, int, int]]:
    """``index`` as runs ``(first, length, step)`` of consecutive integers, ``step`` +1 or -1 (a run of one is +1)."""
    runs: list[tuple[int, int, int]] = []
    i, n = 0, len(index)
    while i < n:
        step = int(index[i + 1] - index[i]) if i + 1 < n and abs(int(index[i + 1] - index[i])) == 1 else 1
        j = i + 1
        while j < n and index[j] - index[j - 1] == step:
            j += 1
        runs.append((int(index[i]), j - i, step))
        i = j
    return runs


class SparseDecimation(nn.Module):
    """``y = decimate(H * h, d)`` for ``H = fft(u)`` of a REAL signal ``u``, computed from ``rfft(u)``.

    ``h`` is one real filter ``(L,)`` shared by every row of the input, or one filter per row
    ``(R, L)`` applied to a shared input. Input: ``rfft(u)`` of shape ``(..., L//2 + 1)``; output:
    ``(..., [R,] L / 2**d)`` complex. Only the Fourier blocks where ``h`` exceeds ``TOL`` times its
    peak are read (one or two for an alias-free filter); the rest contribute below float32 resolution.
    The needed bins are read as slices (conjugation folded into the weights). A shared filter reads only its
    bands of nonzero weights (``BandPlan``); per-row filters over one block sum their backward over bands
    (``_RowBands``).
    """

    weight: Tensor  # buffers (registered in __init__)
    select: Tensor
    BANDED = 0.6  # per-row filters whose bands cover at most this share of the block take _RowBands' backward
    SEGMENTS = True  # a shared filter gathers its bands straight into the output (BandPlan); False: the plain forward

    def __init__(self, h: np.ndarray, d: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        h = np.asarray(h, dtype=float)
        L = h.shape[-1]
        self.per_row = h.ndim == 2
        rows = h.reshape(-1, L)
        width = L >> d
        parts = rows.reshape(len(rows), 2**d, width)
        peaks = np.abs(rows).max(axis=1, keepdims=True)
        keep = np.abs(parts).max(axis=2) > TOL * peaks  # (R, 2**d)
        keep[:, 0] |= ~keep.any(axis=1)  # an all-zero filter still needs one block
        blocks = [int(m) for m in np.flatnonzero(keep.any(axis=0))]
        bins = (np.asarray(blocks)[:, None] * width + np.arange(width)).reshape(-1)
        src, conj = half_spectrum_index(L, bins)
        conj = conj.reshape(len(blocks), width)
        self.n_slots = int(keep.sum(axis=1).max())
        select = np.zeros((len(rows), self.n_slots), dtype=np.int64)
        weight = np.zeros((len(rows), self.n_slots, width, 2))
        for r in range(len(rows)):
            for slot, m in enumerate(np.flatnonzero(keep[r])):
                u = blocks.index(int(m))
                w = flush_tiny(parts[r, m] / 2**d, peaks[r] / 2**d)
                select[r, slot] = u
                weight[r, slot, :, 0] = w
                weight[r, slot, :, 1] = np.where(conj[u], -w, w)
        self.n_blocks = len(blocks)
        # Per-row filters over a single shared block broadcast instead of selecting rows; when their bands of
        # nonzero bins cover at most BANDED of the block, the backward sums each row over its band (_RowBands).
        self.broadcast = self.per_row and self.n_blocks == 1
        self.bands = row_bands(weight[:, 0]) if self.broadcast else None
        if self.bands is not None and sum(b - a for a, b in self.bands) > self.BANDED * len(rows) * width:
            self.bands = None
        if not self.per_row:
            select, weight = select[0], weight[0]
        self.runs = contiguous_runs(src)
        self.plan = None if self.per_row or not self.SEGMENTS else BandPlan(weight, select, self.runs, L // 2 + 1)
        self.register_buffer("select", torch.from_numpy(select.reshape(-1)), persistent=False)
        self.register_buffer("weight", torch.as_tensor(weight, dtype=dtype), persistent=False)
        self.width = width

    def forward(self, H_half: Tensor) -> Tensor:
        if self.plan is not None:
            return torch.view_as_complex(_Gather.apply(torch.view_as_real(H_half), self.weight, self.plan))
        # The source bins are one or two runs of consecutive bins (a block, or its mirror image read
        # backwards): slices and flips, 15x faster than an index_select of the same bins.
        parts = [
            H_half.narrow(-1, a, n) if step == 1 else H_half.narrow(-1, a - n + 1, n).flip(-1)
            for a, n, step in self.runs
        ]
        G = torch.view_as_real(parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1))  # (..., n_blocks * width, 2)
        if self.bands is not None:  # (..., width, 2) -> (..., R, width, 2)
            return torch.view_as_complex(_RowBands.apply(G, self.weight[:, 0], self.bands))
        G = G.unflatten(-2, (self.n_blocks, self.width))  # (..., n_blocks, width, 2)
        if self.broadcast:
            G = G.unsqueeze(-4)  # (..., 1, 1, width, 2) against (R, 1, width, 2)
        elif self.per_row:
            G = G.index_select(-3, self.select).unflatten(-3, (-1, self.n_slots))  # (..., R, slots, width, 2)
        elif self.n_blocks != self.n_slots:
            G = G.index_select(-3, self.select)
        prod = G * self.weight
        # squeeze, not select: select's backward zero-fills a gradient of the full shape, then copies into it
        return torch.view_as_complex(prod.sum(dim=-3) if self.n_slots > 1 else prod.squeeze(-3))


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
    return flush_tiny(np.fft.ifft(spec, axis=0))


def lowpass_matrix(h: np.ndarray, d: int) -> np.ndarray:
    """The linear map ``a -> Re ifft(decimate(fft(a) * h, d))`` for REAL ``a`` of length ``len(h)`` and a
    real, symmetric filter ``h`` (the temporal low-pass), as a real ``(len(h), len(h) / 2**d)`` matrix.

    In time it is the circular convolution with ``g = ifft(h)`` (real) kept at every ``2**d``-th sample:
    ``out[t] = sum_m a[m] g[(t 2**d - m) mod L]``. A dense matmul with it is several times faster on a CPU
    than the FFT, gather and inverse FFT it replaces (few output frames), and exact to float64 rounding.
    """
    L = len(h)
    g = np.fft.ifft(h).real
    t = np.arange(L >> d) << d
    return flush_tiny(g[(t[None, :] - np.arange(L)[:, None]) % L])

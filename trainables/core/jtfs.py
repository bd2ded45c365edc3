"""The JTFS path engine: one SCRAPL path ``S_p(x)`` for a batch, and the full JTFS on the same filters.

Computes exactly ``../shared/notes/algorithm.md`` §4 (forward of one path) on the filters of
``filters.py``:

1. reflect-pad, FFT;
2. first order ``U1[n1] = |x * psi1[n1]| + 1e-12``, only for the rows ``j1 < j2`` the path needs,
   each decimated to ``k1 = min(j1, log2_T)``;
3. second-order temporal filtering ``Y[n1] = U1[n1] * psi2[n2]`` down to ``N_pad / 2**j2``;
4. zero-pad the n1 axis to ``N_fr``; frequential filtering ``Z = Y *_fr psi_fr[n_fr]`` (output rows whose
   filter entries all stay below ``TOL`` of its peak are left out and take the modulus of a zero row);
5. ``A = |Z| + 1e-12``; temporal low-pass ``phi_T``; frequential low-pass ``phi_F`` if spin != 0.

Filters at coarse rates are periodised with the SUM convention (notes §2.4); decimation in Fourier
is the MEAN over blocks. The output keeps the padded time axis (the released single-path code does),
while ``full_coefficients`` un-pads time like the full-JTFS baseline.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from trainables.core import chunking, kernels
from trainables.core.filters import periodize_sum
from trainables.core.fourier import TOL, SparseDecimation, filter_matrix, lowpass_matrix, rfft
from trainables.core.settings import JTFSSettings

EPS = 1e-12  # added to every complex modulus, as in the released code (notes §11.16)


def decimate(H: Tensor, k: int, dim: int = -1) -> Tensor:
    """Fourier-domain equivalent of keeping every ``2**k``-th sample: mean over ``2**k`` blocks."""
    if k == 0:
        return H
    dim = dim % H.ndim
    return H.unflatten(dim, (2**k, H.shape[dim] >> k)).mean(dim)


class _Modulus(torch.autograd.Function):
    """``|z| + eps`` with the released gradient ``z * g / (|z| + eps)`` (finite at z = 0).

    About 3x faster than ``torch.abs`` on complex64 on CPU in torch ops, 8x faster again as one fused pass
    (``kernels``, CPU), and twice differentiable (θ-IS HVPs).
    """

    @staticmethod
    def forward(ctx, z: Tensor) -> Tensor:
        # Squares of |z| < 1e-19 are float32 denormals, whose square root runs ~4x slower on x86: raising them
        # to the smallest normal number moves |z| + 1e-12 by at most one float32 ulp.
        if kernels.usable(z):  # one fused pass on a CPU (kernels.py)
            r = kernels.modulus(z, EPS)
        else:
            sq = torch.view_as_real(z).square()  # contiguous: 3x faster than squaring the strided z.real
            r = (sq[..., 0] + sq[..., 1]).clamp_min_(torch.finfo(sq.dtype).tiny).sqrt_().add_(EPS)
        ctx.save_for_backward(z, r)
        return r

    @staticmethod
    def backward(ctx, g: Tensor) -> Tensor:
        z, r = ctx.saved_tensors
        if not torch.is_grad_enabled() and kernels.usable(z, g):  # a backward not differentiated again
            return kernels.modulus_grad(z, g, r)
        return torch.view_as_complex(torch.view_as_real(z) * (g / r).unsqueeze(-1))


def _cat(parts: list[Tensor], dim: int = 0) -> Tensor:
    """``torch.cat`` that returns a single part as it is (``cat`` would copy it)."""
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=dim)


def modulus(z: Tensor) -> Tensor:
    """Complex modulus plus 1e-12, as every modulus of the released code (notes §4)."""
    if not z.is_complex():
        raise TypeError("modulus expects a complex tensor")
    return _Modulus.apply(z)


class JTFSPaths(nn.Module):
    """SCRAPL's JTFS paths ``(n2, n_fr)`` computed one at a time.

    Args mirror the released ``scrapl-loss``: ``shape`` (signal length N), ``J``, ``Q1``, ``Q2``,
    ``J_fr``, ``Q_fr``, ``T`` (default ``2**J``), ``F`` (default ``2**J_fr``).

    ``coefficients(x, path_idx)`` maps ``x`` of shape ``(B, 1, N)`` (or ``(B, C, N)``, channels
    folded into the batch) to the real ``(B, N_fr / 2**log2_F, N_pad / 2**log2_T)`` coefficients of
    one path. Paths are indexed ``p = (n2 - n2_min) * (2K+1) + n_fr`` (notes §3).

    ``batch_chunk``: examples computed together. On a CPU the stages are bound by memory traffic: a
    stage's arrays must stay in cache (on AMD EPYC, one example at a time is 3x faster than the whole batch
    for the finest first-order rows on the granular config), while the coarse rows' arrays are so small that
    per-operation overhead dominates unless many examples share each operation. ``None`` (default)
    picks, on a CPU, the chunk of each row group and of the frequential stage from its arrays' size
    (``CHUNK_ELEMENTS`` per chunk, measured per CPU vendor: ``chunking``), and the whole batch on other
    devices (a GPU wants it at once); an integer is used for every stage. The values do not depend on it.
    """

    # Elements of one frequential-stage block (rows x time samples): time is cut into blocks this size.
    FREQUENTIAL_BLOCK = 2**18
    # Elements (examples x rows x time samples) of a stage's chunk of examples on a CPU (``batch_chunk``),
    # measured per CPU vendor (``chunking``): 2**18 on AMD EPYC, 2**21 on Intel Xeon.
    CHUNK_ELEMENTS = chunking.chunk_elements()

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
        dtype: torch.dtype = torch.float32,
        batch_chunk: int | None = None,
    ) -> None:
        super().__init__()
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if batch_chunk is not None and (
            isinstance(batch_chunk, bool) or not isinstance(batch_chunk, int) or batch_chunk < 1
        ):
            raise ValueError(f"batch_chunk must be a positive integer or None, got {batch_chunk!r}")
        self.batch_chunk = batch_chunk
        cdtype = self.cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        self.dtype = dtype
        self.settings = JTFSSettings(shape, J, Q1, Q2, J_fr, Q_fr, T, F)
        fb = self.fb = self.settings.filter_bank
        self.N, self.N_pad, self.N_fr = fb.N, fb.N_pad, fb.N_fr
        self.pad_left, self.pad_right = fb.padding[1], fb.padding[2]
        self.log2_T, self.log2_F = fb.log2_T, fb.log2_F
        n1_count = len(fb.j1)

        # First order: rows grouped by their decimation k1 = min(j1, log2_T) (contiguous: j1 sorted).
        self._row_groups: list[tuple[int, int, int]] = []  # (k1, start, end)
        for n1, j1 in enumerate(fb.j1):
            k = min(int(j1), self.log2_T)
            if self._row_groups and self._row_groups[-1][0] == k:
                self._row_groups[-1] = (k, self._row_groups[-1][1], n1 + 1)
            else:
                self._row_groups.append((k, n1, n1 + 1))
        psi1 = fb.psi1
        self.first = nn.ModuleList(SparseDecimation(psi1[a:b], k, dtype) for k, a, b in self._row_groups)

        # Second order: psi2[n2] periodised (sum) to every rate k1 it receives, decimated to j2.
        self._j2 = {int(n2): int(fb.j2[n2]) for n2 in fb.kept_n2}
        self.second = nn.ModuleDict()
        for n2, j2 in self._j2.items():
            psi2 = fb.psi2(n2)
            for k1, a, _ in self._row_groups:
                if a < fb.n1_max(j2):
                    self.second[f"{n2}_{k1}"] = SparseDecimation(periodize_sum(psi2, k1), j2 - k1, dtype)
        # Temporal low-pass phi_T from every rate j to the output rate log2_T: dense real matrices, made on
        # first use for each (rate, device, dtype) (the finest ones are large and only the full JTFS needs them).
        self._lowpass_t: dict[tuple[int, torch.device, torch.dtype], Tensor] = {}
        self._zero_row: dict[tuple[int, torch.device, torch.dtype], Tensor] = {}  # see zero_row

        # Frequential filters along n1 as small matrices: psi_fr[n_fr] (complex), phi_F (real).
        self._j_fr = [int(j) for j in fb.j_fr]
        self._k_fr = [min(j, self.log2_F) for j in self._j_fr]
        self._spin = [int(s) for s in fb.spin]
        # A path fills the first n1_max(j2) of psi_fr's columns. The rows whose entries in those columns all stay
        # below TOL times the filter's peak contribute below float32 resolution (as the Fourier blocks that
        # SparseDecimation drops): they are left out of the product and take the modulus of a zero row. The
        # kept rows of each (n_fr, n_rows) are the buffers psi_fr_{n_fr}_{n_rows} (matrix) and ..._rows (index).
        self._kept: dict[tuple[int, int], str] = {}
        widths = sorted({fb.n1_max(j2) for j2 in self._j2.values()} | {n1_count})
        for n_fr, (h, k) in enumerate(zip(fb.psi_fr, self._k_fr, strict=True)):
            M = filter_matrix(h, k, fb.N_fr, n1_count)
            self.register_buffer(f"psi_fr_{n_fr}", torch.as_tensor(M, dtype=cdtype), persistent=False)
            for n in widths:
                kept = np.flatnonzero(np.abs(M[:, :n]).max(axis=1) > TOL * np.abs(M).max())
                if len(kept) < len(M):
                    name = self._kept[(n_fr, n)] = f"psi_fr_{n_fr}_{n}"
                    self.register_buffer(name, torch.as_tensor(M[kept, :n], dtype=cdtype), persistent=False)
                    self.register_buffer(f"{name}_rows", torch.as_tensor(kept), persistent=False)
        for k in sorted(set(self._k_fr)):
            L = fb.N_fr >> k
            M = filter_matrix(periodize_sum(fb.phi_F, k), self.log2_F - k, L).real
            self.register_buffer(f"phi_F_{k}", torch.as_tensor(M, dtype=dtype), persistent=False)

    # --- bookkeeping --------------------------------------------------------------------------------
    @property
    def n_paths(self) -> int:
        return self.fb.n_paths

    def path(self, path_idx: int) -> tuple[int, int]:
        """``(n2, n_fr)`` of a path index."""
        return self.fb.path(self.check_path(path_idx))

    def check_path(self, path_idx: int) -> int:
        if isinstance(path_idx, Tensor):
            path_idx = int(path_idx)
        if isinstance(path_idx, bool) or not isinstance(path_idx, int) or not 0 <= path_idx < self.n_paths:
            raise ValueError(f"path_idx must be an integer in [0, {self.n_paths}), got {path_idx!r}")
        return path_idx

    def check_input(self, x: Tensor, name: str = "x") -> Tensor:
        """Validate ``(B, C, N)`` real input and fold channels into the batch: ``(B*C, N)``."""
        if not isinstance(x, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor of shape (batch, 1, {self.N})")
        if x.ndim != 3 or x.shape[-1] != self.N or x.shape[0] == 0:
            raise ValueError(f"{name} must have shape (batch, 1, {self.N}), got {tuple(x.shape)}")
        if x.is_complex() or not x.is_floating_point():
            raise ValueError(f"{name} must be a real floating-point tensor, got {x.dtype}")
        return x.reshape(-1, self.N)

    # --- stages (public so benchmarks can time them) --------------------------------------------------
    def spectrum(self, x: Tensor) -> Tensor:
        """``(B, N)`` → half spectrum (``rfft``) of the reflect-padded signal, ``(B, N_pad/2 + 1)``."""
        padded = nn.functional.pad(x.unsqueeze(1), (self.pad_left, self.pad_right), mode="reflect")
        return rfft(padded.squeeze(1))

    def _groups(self, n_rows: int) -> list[tuple[int, int, int]]:
        """``(group, k1, rows)`` of the row groups that hold the scalogram rows ``n1 < n_rows``."""
        return [
            (g, k1, min(end, n_rows) - start) for g, (k1, start, end) in enumerate(self._row_groups) if start < n_rows
        ]

    def _first_rows(self, X: Tensor, group: int, rows: int) -> Tensor:
        """The first ``rows`` scalogram rows of one row group: ``(B, rows, N_pad/2**k1)``."""
        Z = self.first[group](X)
        return modulus(torch.fft.ifft(Z if rows == Z.shape[1] else Z[:, :rows]))

    def _second_rows(self, U: Tensor, n2: int, k1: int) -> Tensor:
        return torch.fft.ifft(self.second[f"{n2}_{k1}"](rfft(U)))

    def first_order(self, X: Tensor, n_rows: int) -> list[tuple[int, Tensor]]:
        """Scalogram rows ``n1 < n_rows`` as ``[(k1, U1 of shape (B, rows, N_pad/2**k1)), ...]``."""
        return [(k1, self._first_rows(X, g, rows)) for g, k1, rows in self._groups(n_rows)]

    def second_order(self, U1: list[tuple[int, Tensor]], n2: int) -> Tensor:
        """Temporal wavelet ``psi2[n2]`` on every row: ``(B, n1_max, N_pad / 2**j2)`` complex."""
        return _cat([self._second_rows(U, n2, k1) for k1, U in U1], dim=1)

    def lowpass_t(self, j: int, like: Tensor) -> Tensor:
        """``(N_pad/2**j, N_pad/2**log2_T)`` real matrix of the temporal low-pass ``phi_T`` from rate ``j``
        (``fourier.lowpass_matrix``), on ``like``'s device in this engine's dtype; cached."""
        key = (j, like.device, self.dtype)
        M = self._lowpass_t.get(key)
        if M is None:
            m = lowpass_matrix(periodize_sum(self.fb.phi_T, j), self.log2_T - j)
            M = self._lowpass_t[key] = torch.as_tensor(m, dtype=self.dtype, device=like.device)
        return M

    def zero_row(self, j: int, like: Tensor) -> Tensor:
        """``|0| * phi_T`` from rate ``j``: what ``frequential`` gives a row that is zero, ``(N_pad/2**log2_T,)``;
        cached per (rate, device, dtype)."""
        key = (j, like.device, self.dtype)
        row = self._zero_row.get(key)
        if row is None:
            M = self.lowpass_t(j, like)
            zero = torch.zeros(M.shape[0], dtype=self.cdtype, device=like.device)
            row = self._zero_row[key] = torch.matmul(modulus(zero), M)
        return row

    def _psi_fr(self, n_fr: int, n_rows: int) -> tuple[Tensor, Tensor | None]:
        """``psi_fr[n_fr]`` on its first ``n_rows`` columns without its negligible rows (see ``__init__``), and
        the index of the rows kept (None: all of them)."""
        kept = self._kept.get((n_fr, n_rows))
        if kept is None:
            return getattr(self, f"psi_fr_{n_fr}")[:, :n_rows], None
        return getattr(self, kept), getattr(self, f"{kept}_rows")

    def frequential_rows(self, n_fr: int, n_rows: int) -> int:
        """Rows of ``|psi_fr @ Y|`` that ``frequential`` computes for ``n_rows`` input rows (the rest: negligible)."""
        return self._psi_fr(n_fr, n_rows)[0].shape[0]

    def frequential(self, Y: Tensor, n_fr: int, j: int) -> Tensor:
        """Frequential filter ``n_fr``, modulus and low-passes of rows at rate ``j``:
        ``(B, rows, N_pad/2**j)`` → ``(B, N_fr/2**log2_F, N_pad/2**log2_T)``.

        ``|psi_fr @ Y|`` has ``N_fr/2**k_fr`` rows at the full rate ``j``, the largest array of a path: it is
        made and reduced by ``phi_T`` one block of time samples at a time, so it never leaves the cache.
        """
        psi, kept = self._psi_fr(n_fr, Y.shape[1])
        M = self.lowpass_t(j, Y)
        Y = Y.to(psi.dtype)
        step = max(1, self.FREQUENTIAL_BLOCK // (psi.shape[0] * Y.shape[0]))
        if step >= Y.shape[-1]:
            S = torch.matmul(modulus(torch.matmul(psi, Y)), M)
        else:
            S = None
            for Yb, Mb in zip(Y.split(step, dim=-1), M.split(step, dim=0), strict=True):
                part = torch.matmul(modulus(torch.matmul(psi, Yb)), Mb)
                S = part if S is None else S + part
        assert S is not None  # at least one block
        if kept is not None:  # the negligible rows (see __init__)
            n_out = getattr(self, f"psi_fr_{n_fr}").shape[0]
            S = self.zero_row(j, Y).expand(S.shape[0], n_out, -1).index_copy(1, kept, S)
        if self._spin[n_fr] != 0:
            S = torch.matmul(getattr(self, f"phi_F_{self._k_fr[n_fr]}"), S)
        return S

    def _chunk_size(self, batch: Tensor, per_example: int) -> int:
        """Examples per chunk of a stage whose arrays hold ``per_example`` elements per example (class docstring)."""
        if self.batch_chunk is not None:
            return self.batch_chunk
        if batch.device.type != "cpu":
            return batch.shape[0]
        return max(1, self.CHUNK_ELEMENTS // per_example)

    def _spectrum_chunks(self, flat: Tensor) -> list[Tensor]:
        """The half spectra of ``flat`` (``spectrum``) in chunks sized to the whole first order (``batch_chunk``).

        The whole batch goes through one FFT, whatever the chunks: MKL's real FFT of a single row of 2**14
        points or more takes as long as four rows together (and its backward likewise)."""
        X = self.spectrum(flat)
        size = self._chunk_size(flat, sum((end - start) * (self.N_pad >> k1) for k1, start, end in self._row_groups))
        return [X] if size >= flat.shape[0] else list(X.split(size))

    # --- public API ---------------------------------------------------------------------------------------
    def coefficients(self, x: Tensor, path_idx: int) -> Tensor:
        """One path's coefficients, ``(B, frequency, time)``, for ``x`` of shape ``(B, 1, N)``."""
        n2, n_fr = self.path(path_idx)
        j2 = self._j2[n2]
        n_rows = self.fb.n1_max(j2)
        X = self.spectrum(self.check_input(x))
        # Each row group and the frequential stage take example chunks sized to their arrays (class
        # docstring); the batch is first cut at the largest of these sizes, so that a stage working one
        # example at a time never has the whole batch's arrays materialised between stages.
        groups = self._groups(n_rows)
        sizes = [self._chunk_size(X, rows * (self.N_pad >> k1)) for _, k1, rows in groups]
        size_fr = self._chunk_size(X, self.frequential_rows(n_fr, n_rows) * (self.N_pad >> j2))
        out: list[Tensor] = []
        for Xo in X.split(max(*sizes, size_fr)):
            Y = _cat(
                [
                    _cat([self._second_rows(self._first_rows(Xc, g, rows), n2, k1) for Xc in Xo.split(size)])
                    for (g, k1, rows), size in zip(groups, sizes, strict=True)
                ],
                dim=1,
            )
            out.extend(self.frequential(Yc, n_fr, j2) for Yc in Y.split(size_fr))
        return _cat(out)

    forward = coefficients

    def full_coefficients(self, x: Tensor) -> list[Tensor]:
        """Every joint coefficient of the full JTFS, time un-padded: the 1+K first-order ``phi_t``
        paths (``S1 *_fr psi_fr`` for spin >= 0) followed by the P second-order paths in index order.

        The first-order joint paths are our construction (the notes do not pin them down): the
        time-averaged scalogram ``S1 = U1 * phi_T`` at ``N_pad / 2**log2_T`` frames, filtered along n1
        like a second-order row (modulus, ``phi_T`` at that level, ``phi_F`` for spin != 0).
        """
        chunks = [self._full_coefficients(Xc) for Xc in self._spectrum_chunks(self.check_input(x))]
        if len(chunks) == 1:
            return chunks[0]
        return [torch.cat(parts) for parts in zip(*chunks, strict=True)]

    def _full_coefficients(self, X: Tensor) -> list[Tensor]:
        U1 = self.first_order(X, len(self.fb.j1))
        start, end = self.fb.unpadded_frames()
        out = []
        S1 = torch.cat([torch.matmul(U, self.lowpass_t(k1, U)) for k1, U in U1], dim=1)
        for n_fr in range(self.fb.K + 1):
            out.append(self.frequential(S1, n_fr, self.log2_T)[..., start:end])
        for n2 in self.fb.kept_n2:
            n2 = int(n2)
            j2 = self._j2[n2]
            U = [(k1, u[:, :rows]) for (_, k1, rows), (_, u) in zip(self._groups(self.fb.n1_max(j2)), U1, strict=False)]
            Y = self.second_order(U, n2)
            for n_fr in range(self.fb.n_fr_count):
                out.append(self.frequential(Y, n_fr, j2)[..., start:end])
        return out

    def path_table(self, sample_rate: float) -> list[dict]:
        """One row per path: index, n2, n_fr, spin, j2, rate (Hz), |scale| (cycles/octave)."""
        return self.fb.path_table(sample_rate)

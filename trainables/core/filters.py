"""Filter banks of SCRAPL's joint time–frequency scattering, built on kymatio 0.3.0's 1-D helpers.

Pure numpy (no torch): every filter is a real float64 array in the Fourier domain. Notation and
formulas follow ``../shared/notes/algorithm.md`` §2 (filter banks) and §3 (path set):

* temporal wavelets ``psi1[n1]`` (first order, ``Q1``) and ``psi2[n2]`` (second order, ``Q2``) of
  length ``N_pad``, with their subsampling levels ``j1``/``j2``;
* the temporal low-pass ``phi_T`` (width ``T``);
* frequential filters ``psi_fr[n_fr]`` of length ``N_fr`` along the first-order index ``n1``:
  ``n_fr = 0`` low-pass of width ``2**J_fr`` (spin 0), ``1..K`` spin +1 wavelets, ``K+1..2K`` their
  spin -1 mirrors; and the frequential low-pass ``phi_F`` (width ``F``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from kymatio.scattering1d.filter_bank import compute_params_filterbank, compute_temporal_support, gauss_1d, morlet_1d

SIGMA0 = 0.1  # width of the low-pass at j = 0 (kymatio default)
ALPHA = 5.0  # aliasing tolerance of the dyadic subsampling (kymatio default)
R_PSI = math.sqrt(0.5)  # wavelet overlap (kymatio default)


def morlet_params(J_bank: int, Q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre frequencies ``xi``, widths ``sigma`` and subsampling levels ``j`` of a Morlet bank.

    kymatio's generator with ``sigma_min = 0.1 / 2**J_bank``; ``j`` is recomputed with ``|xi|``
    (kymatio 0.3.0 omits the absolute value; notes §2.1). Filters are ordered by decreasing ``xi``.
    """
    xis, sigmas, _ = compute_params_filterbank(SIGMA0 / 2**J_bank, Q, ALPHA, R_PSI)
    js = [math.floor(-math.log2(min(abs(xi) + ALPHA * s, 0.5))) - 1 for xi, s in zip(xis, sigmas, strict=True)]
    return np.asarray(xis, float), np.asarray(sigmas, float), np.asarray(js, int)


def temporal_padding(N: int, T: int) -> tuple[int, int, int]:
    """``(N_pad, pad_left, pad_right)`` exactly as kymatio 0.3.0's ``Scattering1D`` computes them."""
    min_to_pad = 3 * compute_temporal_support(gauss_1d(N, SIGMA0 / T).reshape(1, -1), 1e-3)
    log2_pad = min(math.ceil(math.log2(N + 2 * min_to_pad)), math.floor(math.log2(3 * N - 2)))
    N_pad = 2**log2_pad
    pad_left = (N_pad - N) // 2
    return N_pad, pad_left, N_pad - N - pad_left


def frequential_length(J: int, Q1: int, J_fr: int, F: int) -> int:
    """Padded length ``N_fr`` of the n1 axis (notes §2.3; floor division, ``(J+1)*Q1`` on purpose)."""
    return ((J + 1) * Q1 + 8 * min(F, 2**J_fr)) // 2**J_fr * 2**J_fr


def periodize_sum(h: np.ndarray, k: int) -> np.ndarray:
    """Filter for an input decimated by ``2**k``: the SUM of its ``2**k`` Fourier aliases (§2.4)."""
    return h.reshape(2**k, -1).sum(axis=0) if k else h


@dataclass(frozen=True)
class JTFSFilterBank:
    """All filters and path bookkeeping of one JTFS configuration (validated by ``JTFSSettings``)."""

    N: int
    J: int
    Q1: int
    Q2: int
    J_fr: int
    Q_fr: int
    T: int
    F: int

    @property
    def log2_T(self) -> int:
        return int(math.floor(math.log2(self.T)))

    @property
    def log2_F(self) -> int:
        return int(math.floor(math.log2(self.F)))

    @cached_property
    def padding(self) -> tuple[int, int, int]:
        return temporal_padding(self.N, self.T)

    @property
    def N_pad(self) -> int:
        return self.padding[0]

    @property
    def N_fr(self) -> int:
        return frequential_length(self.J, self.Q1, self.J_fr, self.F)

    # --- temporal banks ---------------------------------------------------------------------------
    @cached_property
    def first_order(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return morlet_params(self.J, self.Q1)

    @cached_property
    def second_order(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return morlet_params(self.J, self.Q2)

    @property
    def j1(self) -> np.ndarray:
        return self.first_order[2]

    @property
    def j2(self) -> np.ndarray:
        return self.second_order[2]

    @cached_property
    def psi1(self) -> np.ndarray:
        """``(n1_count, N_pad)`` first-order wavelets, decreasing xi."""
        xi, sigma, _ = self.first_order
        return np.stack([morlet_1d(self.N_pad, x, s) for x, s in zip(xi, sigma, strict=True)])

    def psi2(self, n2: int) -> np.ndarray:
        xi, sigma, _ = self.second_order
        return morlet_1d(self.N_pad, xi[n2], sigma[n2])

    @cached_property
    def phi_T(self) -> np.ndarray:
        return gauss_1d(self.N_pad, SIGMA0 / self.T)

    def n1_max(self, j2: int) -> int:
        """Number of first-order rows with ``j1 < j2`` (they are the first ones: j1 is sorted)."""
        return int(np.sum(self.j1 < j2))

    # --- frequential bank -------------------------------------------------------------------------
    @cached_property
    def frequential_params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return morlet_params(self.J_fr, self.Q_fr)

    @property
    def K(self) -> int:
        """Number of frequential band-pass wavelets per spin."""
        return len(self.frequential_params[0])

    @cached_property
    def psi_fr(self) -> np.ndarray:
        """``(2K+1, N_fr)``: low-pass (spin 0), K spin +1 wavelets, K spin -1 mirrors."""
        xi, sigma, _ = self.frequential_params
        low = gauss_1d(self.N_fr, SIGMA0 / 2**self.J_fr)
        up = [morlet_1d(self.N_fr, x, s) for x, s in zip(xi, sigma, strict=True)]
        down = [morlet_1d(self.N_fr, -x, s) for x, s in zip(xi, sigma, strict=True)]
        return np.stack([low, *up, *down])

    @cached_property
    def j_fr(self) -> np.ndarray:
        """Subsampling level of each ``psi_fr`` row (``J_fr`` for the low-pass)."""
        js = self.frequential_params[2]
        return np.concatenate([[self.J_fr], js, js]).astype(int)

    @cached_property
    def spin(self) -> np.ndarray:
        return np.concatenate([[0], np.ones(self.K, int), -np.ones(self.K, int)])

    @cached_property
    def xi_fr(self) -> np.ndarray:
        """Signed centre frequency of each ``psi_fr`` row in cycles per n1 bin (0 for the low-pass)."""
        xi = self.frequential_params[0]
        return np.concatenate([[0.0], xi, -xi])

    @cached_property
    def phi_F(self) -> np.ndarray:
        return gauss_1d(self.N_fr, SIGMA0 / self.F)

    # --- paths ------------------------------------------------------------------------------------
    @cached_property
    def kept_n2(self) -> np.ndarray:
        """Second-order indices with at least one admissible n1 (``j2 > min j1``), ascending."""
        return np.flatnonzero(self.j2 > self.j1.min())

    @property
    def n_fr_count(self) -> int:
        return 2 * self.K + 1

    @property
    def n_paths(self) -> int:
        return len(self.kept_n2) * self.n_fr_count

    def path(self, path_idx: int) -> tuple[int, int]:
        """``(n2, n_fr)`` of path ``p = (n2 - n2_min) * (2K+1) + n_fr`` (notes §3 index order)."""
        n2 = int(self.kept_n2[path_idx // self.n_fr_count])
        return n2, path_idx % self.n_fr_count

    def path_index(self, n2: int, n_fr: int) -> int:
        pos = np.flatnonzero(self.kept_n2 == n2)
        if len(pos) != 1 or not 0 <= n_fr < self.n_fr_count:
            raise ValueError(f"(n2={n2}, n_fr={n_fr}) is not a SCRAPL path of this JTFS")
        return int(pos[0]) * self.n_fr_count + n_fr

    def unpadded_frames(self) -> tuple[int, int]:
        """``[start, end)`` of the output frames covering the real signal (kymatio's border rule)."""
        start, end = self.padding[1], self.padding[1] + self.N
        for _ in range(self.log2_T):
            start, end = start // 2 + start % 2, end // 2 + end % 2
        return start, end

    def path_table(self, sample_rate: float) -> list[dict]:
        """One row per path: ``index, n2, n_fr, spin, j2``, the temporal rate ``rate_hz = xi2 * sr``
        and the frequential scale magnitude ``scale_cyc_per_oct = |xi_fr| * Q1`` (0 for the
        low-pass; the direction is the spin). The format ``analysis.theta_is.load_path_table`` reads."""
        xi2 = self.second_order[0]
        rows = []
        for p in range(self.n_paths):
            n2, n_fr = self.path(p)
            rows.append(
                dict(
                    index=p,
                    n2=n2,
                    n_fr=n_fr,
                    spin=int(self.spin[n_fr]),
                    j2=int(self.j2[n2]),
                    rate_hz=float(xi2[n2] * sample_rate),
                    scale_cyc_per_oct=float(abs(self.xi_fr[n_fr]) * self.Q1),
                )
            )
        return rows

"""The Fourier-domain building blocks against their literal definitions (float64)."""

import numpy as np
import pytest
import torch

from trainables.core.fourier import SparseDecimation, contiguous_runs


@pytest.mark.parametrize(
    "index, runs",
    [
        ([4, 5, 6, 7], [(4, 4, 1)]),
        ([0, 1, 2, 9, 8, 7], [(0, 3, 1), (9, 3, -1)]),
        ([3], [(3, 1, 1)]),
        ([5, 3, 4], [(5, 1, 1), (3, 2, 1)]),
        ([2, 1, 7, 8], [(2, 2, -1), (7, 2, 1)]),
    ],
)
def test_contiguous_runs_by_hand(index, runs):
    assert contiguous_runs(np.asarray(index)) == runs


def gaussian(L: int, centre: float, width: float) -> np.ndarray:
    k = np.arange(L)
    return sum(np.exp(-0.5 * ((k - centre + m * L) / width) ** 2) for m in (-1, 0, 1))


@pytest.mark.parametrize("centre, width, d", [(40.0, 6.0, 2), (0.0, 5.0, 3), (200.0, 8.0, 1), (128.0, 4.0, 2)])
def test_sparse_decimation_equals_the_literal_filter_then_decimate(centre, width, d):
    """``decimate(fft(u) * h, d)`` read from ``rfft(u)``: filters in the lower half, straddling DC (a block read
    backwards from the mirror image) and around Nyquist; one filter shared, and one filter per row."""
    L = 256
    rng = np.random.default_rng(0)
    u = rng.standard_normal((3, L))
    h = gaussian(L, centre, width)
    want = (np.fft.fft(u) * h).reshape(3, 2**d, L >> d).mean(axis=1)
    shared = SparseDecimation(h, d, torch.float64)
    got = shared(torch.fft.rfft(torch.from_numpy(u))).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10 * np.abs(want).max())
    rows = np.stack([h, gaussian(L, centre + 3, width)])
    per_row = SparseDecimation(rows, d, torch.float64)
    got = per_row(torch.fft.rfft(torch.from_numpy(u[:1]))).numpy()
    want = (np.fft.fft(u[:1]) * rows).reshape(2, 2**d, L >> d).mean(axis=1)
    np.testing.assert_allclose(got[0], want, rtol=1e-10, atol=1e-10 * np.abs(want).max())

"""The Fourier-domain building blocks against their literal definitions (float64)."""

import numpy as np
import pytest
import torch

from trainables.core.fourier import BandPlan, SparseDecimation, contiguous_runs, row_bands


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


def test_row_bands_by_hand():
    w = np.zeros((3, 8, 2))
    w[0, 2:5, 0] = 1.0
    w[1, 6, 1] = -2.0  # a band of one bin, nonzero in the imaginary weight only
    assert row_bands(w) == ((2, 5), (6, 7), (0, 0))


def narrow_rows(L: int) -> np.ndarray:
    """Three narrow filters (the last read from the mirror image), centres and widths in proportion to ``L``."""
    return np.stack([gaussian(L, c * L / 256, 4.0 * L / 256) for c in (30.0, 60.0, 200.0)])


def test_per_row_filters_run_band_by_band_with_the_broadcast_values_and_gradients(monkeypatch):
    """Narrow per-row filters over one block take ``_RowBands``: the literal values, and the gradient of the
    broadcast multiply it replaces (``BANDED`` < 0 turns the bands off)."""
    L = 256
    rows = narrow_rows(L)
    banded = SparseDecimation(rows, 0, torch.float64)
    assert banded.bands is not None and sum(b - a for a, b in banded.bands) < 0.6 * 3 * L
    monkeypatch.setattr(SparseDecimation, "BANDED", -1.0)
    plain = SparseDecimation(rows, 0, torch.float64)
    assert plain.bands is None
    rng = np.random.default_rng(1)
    u = torch.from_numpy(rng.standard_normal((2, L))).requires_grad_(True)
    want = np.fft.fft(u.detach().numpy())[:, None, :] * rows
    out = []
    for module in (banded, plain):
        y = module(torch.fft.rfft(u))
        np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-10, atol=1e-10 * np.abs(want).max())
        g = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(2))
        out.append(torch.autograd.grad((y * g.conj()).real.sum(), u)[0])
    torch.testing.assert_close(out[0], out[1], rtol=1e-12, atol=1e-12)


def test_row_bands_are_twice_differentiable():
    """gradcheck and gradgradcheck through the banded map (θ-IS differentiates its backward again)."""
    module = SparseDecimation(narrow_rows(64), 0, torch.float64)
    assert module.bands is not None
    H = torch.randn(2, 33, dtype=torch.complex128, generator=torch.Generator().manual_seed(3), requires_grad=True)
    assert torch.autograd.gradcheck(module, (H,))
    assert torch.autograd.gradgradcheck(module, (H,))


def test_band_plan_by_hand():
    """L = 8, no decimation: the full spectrum's bins 0..7 are read from the half spectrum as 0..4 then 3, 2, 1
    backwards (runs (0, 5, +1), (3, 3, -1)). A band over bins [2, 7) splits at the mirror: bins 2..4 read forwards
    from bin 2, bins 5..6 backwards from bin 3; bins 0, 1 and 7 are gaps."""
    w = np.zeros((1, 8, 2))
    w[0, 2:7] = 1.0
    plan = BandPlan(w, np.array([0]), [(0, 5, 1), (3, 3, -1)], n_in=5)
    assert plan.segments == ((0, 2, 5, 2, 1), (0, 5, 7, 3, -1))
    assert plan.disjoint and plan.gaps == ((0, 2), (7, 8))
    G = torch.arange(10.0).reshape(5, 2)  # half-spectrum bin k = (2k, 2k + 1)
    got = plan.gather(G, torch.as_tensor(w))
    want = torch.tensor([[0, 0], [0, 0], [4, 5], [6, 7], [8, 9], [6, 7], [4, 5], [0, 0]], dtype=got.dtype)
    torch.testing.assert_close(got, want)
    # the adjoint: bins 2 and 3 are read twice (forwards and from the mirror), bin 4 once, bins 0 and 1 never
    want_adjoint = torch.tensor([[0, 0], [0, 0], [2, 2], [2, 2], [1, 1]], dtype=got.dtype)
    torch.testing.assert_close(plan.scatter(torch.ones(8, 2), torch.as_tensor(w)), want_adjoint)


SEGMENT_CASES = [(40.0, 6.0, 2), (0.0, 5.0, 3), (128.0, 4.0, 2), (40.0, 2.0, 1), (120.0, 2.0, 1)]


def test_band_plans_cover_disjoint_and_overlapping_slots():
    """The cases below exercise both of ``gather``'s ways: slots whose bands overlap in the output (aliasing) add
    up, disjoint ones are written straight into the output."""
    kinds = {SparseDecimation(gaussian(256, c, w), d, torch.float64).plan.disjoint for c, w, d in SEGMENT_CASES}
    assert kinds == {True, False}


@pytest.mark.parametrize("centre, width, d", SEGMENT_CASES)
def test_shared_filters_gather_with_the_plain_values_and_gradients(monkeypatch, centre, width, d):
    """A shared filter's forward through its ``BandPlan`` gives the plain forward's values and gradients
    (``SEGMENTS`` False: concatenate the blocks, multiply every slot, sum)."""
    L = 256
    h = gaussian(L, centre, width)
    banded = SparseDecimation(h, d, torch.float64)
    monkeypatch.setattr(SparseDecimation, "SEGMENTS", False)
    plain = SparseDecimation(h, d, torch.float64)
    assert banded.plan is not None and plain.plan is None
    u = torch.from_numpy(np.random.default_rng(4).standard_normal((2, 3, L))).requires_grad_(True)
    out = []
    for module in (banded, plain):
        y = module(torch.fft.rfft(u))
        g = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(5))
        out.append((y.detach(), torch.autograd.grad((y * g.conj()).real.sum(), u)[0]))
    torch.testing.assert_close(out[0][0], out[1][0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out[0][1], out[1][1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("centre, width, d", [(40.0, 6.0, 2), (120.0, 2.0, 1)])
def test_band_plans_are_twice_differentiable(centre, width, d):
    """gradcheck and gradgradcheck through ``gather`` (θ-IS differentiates its backward again)."""
    module = SparseDecimation(gaussian(64, centre / 4, width / 4), d, torch.float64)
    assert module.plan is not None
    H = torch.randn(2, 33, dtype=torch.complex128, generator=torch.Generator().manual_seed(6), requires_grad=True)
    assert torch.autograd.gradcheck(module, (H,))
    assert torch.autograd.gradgradcheck(module, (H,))

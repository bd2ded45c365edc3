"""The fused CPU kernels against the torch formulas they replace, and the modulus's use of them."""

import pytest
import torch

from trainables.core import kernels
from trainables.core.jtfs import EPS, modulus

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")


def complex_sample(dtype: torch.dtype, shape=(3, 5, 64)) -> torch.Tensor:
    z = torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(0))
    z[0, 0, :4] = 0  # |z| = 0: raised to the smallest normal square
    z[0, 1, :4] *= 1e-25  # squares below float32's smallest normal
    return z


@pytest.mark.parametrize("dtype, rtol", [(torch.complex64, 2.4e-7), (torch.complex128, 1e-15)])
def test_modulus_kernel_equals_the_torch_formula(dtype, rtol):
    z = complex_sample(dtype)
    real = z.real.dtype
    sq = torch.view_as_real(z).square()
    expected = (sq[..., 0] + sq[..., 1]).clamp_min(torch.finfo(real).tiny).sqrt() + EPS
    got = kernels.modulus(z, EPS)
    assert got.dtype == real and got.shape == z.shape
    torch.testing.assert_close(got, expected, rtol=rtol, atol=0)
    assert torch.all(got[0, 0, :4] == torch.finfo(real).tiny ** 0.5 + EPS)


def test_modulus_kernel_takes_views_and_conjugates():
    z = complex_sample(torch.complex64)
    for view in (z.transpose(0, 2), z[:, ::2], z.conj()):
        torch.testing.assert_close(kernels.modulus(view, EPS), view.abs() + EPS, rtol=3e-7, atol=1e-30)


@pytest.mark.parametrize("dtype, rtol", [(torch.complex64, 2.4e-7), (torch.complex128, 1e-15)])
def test_modulus_grad_kernel_equals_the_torch_formula(dtype, rtol):
    z = complex_sample(dtype)
    r = z.abs() + EPS
    g = torch.randn(r.shape, dtype=r.dtype, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(kernels.modulus_grad(z, g, r), z * (g / r), rtol=rtol, atol=0)
    g_row = g[:1, :1]  # broadcast against r, as autograd may hand it over
    torch.testing.assert_close(kernels.modulus_grad(z, g_row.expand(r.shape), r), z * (g_row / r), rtol=rtol, atol=0)


def spy(monkeypatch, name: str) -> list:
    calls: list = []
    real = getattr(kernels, name)

    def counted(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(kernels, name, counted)
    return calls


def test_modulus_runs_the_kernels_on_a_cpu_and_gives_the_torch_values(monkeypatch):
    z = complex_sample(torch.complex128).requires_grad_(True)
    fused, bw = spy(monkeypatch, "modulus"), spy(monkeypatch, "modulus_grad")
    r = modulus(z)
    r.square().sum().backward()
    assert len(fused) == 1 and len(bw) == 1
    grad = z.grad.clone()
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    z.grad = None
    r_torch = modulus(z)
    r_torch.square().sum().backward()
    assert len(fused) == 1 and len(bw) == 1  # the torch ops ran
    torch.testing.assert_close(r, r_torch, rtol=1e-15, atol=0)
    torch.testing.assert_close(grad, z.grad, rtol=1e-15, atol=0)


def test_modulus_stays_twice_differentiable_with_the_kernels(monkeypatch):
    """θ-IS differentiates the backward again: that backward must be torch ops, not the kernel."""
    z = complex_sample(torch.complex128, (2, 3, 8)) + 0.5
    bw = spy(monkeypatch, "modulus_grad")
    assert torch.autograd.gradcheck(modulus, (z.requires_grad_(True),))
    assert torch.autograd.gradgradcheck(modulus, (z,))
    assert bw  # gradcheck's first-order backward used the kernel

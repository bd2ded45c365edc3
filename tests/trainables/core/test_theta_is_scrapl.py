"""θ-IS through the real JTFS path engine: its double backward gives exact Hessian-vector products,
C equals the dominant |eigenvalue| of the explicitly built matrix, and π follows Eq. 10."""

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from trainables.core import SCRAPLLoss
from trainables.core.theta_is import curvature, power_iteration_seed, probabilities

SMALL = dict(shape=1024, J=5, Q1=4, Q2=2, J_fr=2, Q_fr=1)
N, U, B = 1024, 2, 3
DT = torch.float64


def make_encoder():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, U), nn.Sigmoid()).to(DT)  # 46 weights


def features(x):
    """A fixed, non-trainable front end: 8 band energies of the signal (like the CQT, under no_grad)."""
    spec = torch.fft.rfft(x[:, 0]).abs()
    return torch.log1p(spec[:, 1:513].reshape(len(x), 8, 64).mean(-1))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = make_encoder()

    def forward(self, x):
        with torch.no_grad():
            f = features(x)
        return self.net(f)


def synth(theta, seed):
    """AM tone: θ0 sets the AM rate, θ1 the carrier; the seed sets the phase."""
    n = torch.arange(N, dtype=theta.dtype)
    phase = (seed.to(theta.dtype) * 0.37) % (2 * math.pi)
    carrier = torch.sin(2 * math.pi * (40 + 80 * theta[:, 1:2]) * n / N + phase[:, None])
    am = 1 + 0.8 * torch.sin(2 * math.pi * (2 + 10 * theta[:, :1]) * n / N)
    return (carrier * am)[:, None, :]


@pytest.fixture(scope="module")
def setup():
    loss = SCRAPLLoss(**SMALL, dtype=DT)  # float64 filters, for a 1e-8 exactness check
    g = torch.Generator().manual_seed(3)
    theta = torch.rand(B, U, generator=g, dtype=DT)
    x = synth(theta, torch.arange(B)) + 0.05 * torch.randn(B, 1, N, generator=g, dtype=DT)
    batch = (x, torch.arange(100, 100 + B))
    return loss, Encoder(), [batch]


def explicit_M(encoder, loss, batch, p, u):
    names = [n for n, _ in encoder.named_parameters()]
    shapes = [w.shape for w in encoder.parameters()]
    sizes = [w.numel() for w in encoder.parameters()]
    w0 = torch.cat([w.detach().reshape(-1) for w in encoder.parameters()])
    x, seed_hat = batch

    def h_u(w_flat):
        params = {n: c.view(s) for n, c, s in zip(names, torch.split(w_flat, sizes), shapes, strict=True)}
        theta_hat = functional_call(encoder, params, (x,))
        (s,) = torch.autograd.grad(loss(synth(theta_hat, seed_hat), x, p), theta_hat, create_graph=True)
        cot = torch.zeros_like(s)
        cot[:, u] = s[:, u]
        grads = torch.autograd.grad(theta_hat, list(params.values()), cot, create_graph=True)
        return torch.cat([gr.reshape(-1) for gr in grads])

    return torch.autograd.functional.jacobian(h_u, w0)


@pytest.mark.parametrize("p", [3, 17])
def test_hessian_vector_products_through_the_path_engine_are_exact(setup, p):
    loss, encoder, batches = setup
    C1 = curvature(encoder, synth, loss, batches, [p], n_iter=1)
    for u in range(U):
        M = explicit_M(encoder, loss, batches[0], p, u)
        gen = torch.Generator().manual_seed(power_iteration_seed(0, p, u, 0))
        v0 = torch.rand(M.shape[0], generator=gen, dtype=DT)
        assert M.abs().max() > 0
        assert C1[0, u].item() == pytest.approx(abs(float(v0 @ M @ v0)), rel=1e-8)


def test_curvature_is_the_dominant_eigenvalue_and_pi_follows_eq_10(setup):
    loss, encoder, batches = setup
    paths = [3, 17]
    C = curvature(encoder, synth, loss, batches, paths, n_iter=400, tol=1e-12)
    for i, p in enumerate(paths):
        for u in range(U):
            eig = torch.linalg.eigvals(explicit_M(encoder, loss, batches[0], p, u)).abs().sort(descending=True).values
            assert eig[1] < 0.9 * eig[0]  # a clear dominant eigenvalue, so power iteration converges
            assert C[i, u].item() == pytest.approx(eig[0].item(), rel=1e-3)
    pi = probabilities(C)
    assert pi.dtype == torch.float64 and pi.sum().item() == pytest.approx(1.0, abs=1e-12)
    torch.testing.assert_close(pi, (C / C.sum(0)).mean(1))


def test_factored_method_equals_the_released_double_backward_through_the_path_engine(setup):
    loss, encoder, batches = setup
    two = batches + [(batches[0][0].flip(-1), batches[0][1] + 7)]
    for rebuild in (False, True):
        kw = dict(n_iter=3, tol=0.0, rebuild_graphs=rebuild)
        fast = curvature(encoder, synth, loss, two, [3, 17, 40], method="factored", **kw)
        slow = curvature(encoder, synth, loss, two, [3, 17, 40], method="hvp", **kw)
        torch.testing.assert_close(fast, slow, rtol=1e-10, atol=0)

"""SCRAPLLoss / JTFSLoss: the per-path distance of notes §5, golden gradients, sampling, Proposition 3.1,
bad input."""

import numpy as np
import pytest
import torch

from trainables.core import JTFSLoss, SCRAPLLoss
from trainables.core.jtfs import JTFSPaths

SMALL = dict(shape=1024, J=5, Q1=4, Q2=2, J_fr=2, Q_fr=1)
TINY = dict(shape=8192, J=8, Q1=8, Q2=2, J_fr=3, Q_fr=2)


def noise(seed: int) -> torch.Tensor:
    """White noise from NumPy's legacy generator (its stream is frozen), float32, shape (1, 1, 8192)."""
    return torch.tensor(np.random.RandomState(seed).standard_normal(8192).astype(np.float32)).view(1, 1, -1)


# Gradient golden values, tiny config, B = 1: x = noise(0), y = noise(1). White noise puts energy in every
# band, so every modulus has a well-defined gradient (on the sparse signals of notes §12.3 the gradient inside
# silent bands is the rounding noise of either implementation). Our float64 values, full precision, same on 1
# and 2 threads; p: (d(x, y), ‖∇_x d‖₂, ⟨∇_x d, noise(2)⟩). The released scrapl-loss 0.1.0 (float32, run on
# the test machine) agrees with our float64 gradient vectors within 2.5e-6 relative L2 and its distances
# within 4.1e-7 on these paths. Recompute with `python tests/trainables/core/test_loss.py`.
GRAD_GOLDEN = {
    0: (0.0004390858194116906, 0.00030190486640376793, 4.929300970118924e-05),
    7: (0.0003609827569940007, 0.00021962161161363257, 8.184655578968373e-05),
    8: (0.0004475586886489334, 0.0002282895073157621, -0.00033171419629913357),
    60: (0.006613016242495605, 0.002917171833351566, -0.002990481097369302),
    120: (0.010019027146223974, 0.003665617289452691, -0.006061074512300199),
    194: (0.007610576476426898, 0.003730432431000609, -0.001074867140724731),
}
# float32 gradient vs our float64 gradient, relative L2: measured spread <= 2.5e-6 over 1 and 2 threads (all
# six paths); tolerance 4 × spread + 1e-5, rounded up.
GRAD_FLOAT32_RTOL = 2e-5


def distance_and_gradient(loss: SCRAPLLoss, p: int) -> tuple[float, torch.Tensor]:
    dtype = loss.jtfs.dtype
    x = noise(0).to(dtype).requires_grad_(True)
    d = loss(x, noise(1).to(dtype), path_idx=p)
    d.backward()
    return d.item(), x.grad.double().reshape(-1)


@pytest.fixture(scope="module")
def tiny_losses():
    return SCRAPLLoss(**TINY), SCRAPLLoss(**TINY, dtype=torch.float64)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize("p", sorted(GRAD_GOLDEN))
def test_golden_gradients(tiny_losses, threads, p):
    f32, f64 = tiny_losses
    d64, g64 = distance_and_gradient(f64, p)
    probe = noise(2).double().reshape(-1)
    assert (d64, g64.norm().item(), (g64 @ probe).item()) == pytest.approx(GRAD_GOLDEN[p], rel=1e-9)
    d32, g32 = distance_and_gradient(f32, p)
    assert d32 == pytest.approx(d64, rel=GRAD_FLOAT32_RTOL)
    assert ((g32 - g64).norm() / g64.norm()).item() < GRAD_FLOAT32_RTOL


@pytest.fixture(scope="module")
def signals():
    g = torch.Generator().manual_seed(0)
    return torch.randn(3, 1, 1024, generator=g), torch.randn(3, 1, 1024, generator=g)


def test_per_path_loss_is_batch_mean_of_unsquared_frobenius_norms(signals):
    x_hat, x = signals
    loss = SCRAPLLoss(**SMALL)
    jtfs = loss.jtfs
    for p in (0, 7, loss.n_paths - 1):
        per_example = [
            torch.linalg.norm(jtfs.coefficients(x[b : b + 1], p)[0] - jtfs.coefficients(x_hat[b : b + 1], p)[0])
            for b in range(3)
        ]
        torch.testing.assert_close(loss(x_hat, x, path_idx=p), torch.stack(per_example).mean())


def test_log1p_rho(signals):
    x_hat, x = signals
    loss = SCRAPLLoss(**SMALL, use_rho_log1p=True)
    S, S_hat = loss.jtfs.coefficients(x, 4), loss.jtfs.coefficients(x_hat, 4)
    expected = torch.linalg.vector_norm(torch.log1p(S / 1e-3) - torch.log1p(S_hat / 1e-3), dim=(-2, -1)).mean()
    torch.testing.assert_close(loss(x_hat, x, 4), expected)


def test_symmetric_and_zero_on_identical_inputs(signals):
    x_hat, x = signals
    loss = SCRAPLLoss(**SMALL)
    torch.testing.assert_close(loss(x_hat, x, 3), loss(x, x_hat, 3))
    assert loss(x, x, 3).item() == 0.0


def test_sampling_uses_the_seeded_sampler_and_records_the_path(signals):
    x_hat, x = signals
    a, b = SCRAPLLoss(**SMALL, seed=5), SCRAPLLoss(**SMALL, seed=5)
    drawn = []
    for _ in range(6):
        a(x_hat, x)
        b(x_hat, x)
        assert a.last_path == b.last_path
        drawn.append(a.last_path)
    assert len(set(drawn)) > 1
    probs = torch.zeros(a.n_paths, dtype=torch.float64)
    probs[11] = 1.0
    c = SCRAPLLoss(**SMALL, probs=probs)
    c(x_hat, x)
    assert c.last_path == 11
    c(x_hat, x, path_idx=2)  # an explicit path does not touch the sampler
    assert c.last_path == 2 and int(c.sampler.counts.sum()) == 1


def test_target_has_no_graph_unless_it_requires_grad(signals):
    x_hat, x = signals
    x_hat = x_hat.clone().requires_grad_(True)
    loss = SCRAPLLoss(**SMALL)
    loss(x_hat, x, 5).backward()
    assert x_hat.grad is not None and x_hat.grad.abs().sum() > 0
    x_req = x.clone().requires_grad_(True)
    loss(x_hat.detach(), x_req, 5).backward()
    assert x_req.grad is not None and x_req.grad.abs().sum() > 0


def test_proposition_3_1_mean_of_path_gradients_is_gradient_of_mean_loss(signals):
    """E_{p~U}[∇(L_p ∘ F)(w)] = ∇(mean_p L_p ∘ F)(w) for a small autoencoder F_w (paper Prop. 3.1)."""
    _, x = signals
    loss = SCRAPLLoss(**SMALL)
    torch.manual_seed(1)
    F = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 9, padding=4), torch.nn.Tanh(), torch.nn.Conv1d(2, 1, 9, padding=4))
    w = list(F.parameters())

    per_path = []
    for p in range(loss.n_paths):
        per_path.append(torch.autograd.grad(loss(F(x), x, p), w))
    mean_of_grads = [torch.stack(gs).mean(0) for gs in zip(*per_path, strict=True)]
    full = torch.stack([loss(F(x), x, p) for p in range(loss.n_paths)]).mean()
    grad_of_mean = torch.autograd.grad(full, w)
    for a, b in zip(mean_of_grads, grad_of_mean, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-9)
        assert b.abs().sum() > 0


def test_full_jtfs_loss_is_the_mean_over_all_joint_coefficients(signals):
    x_hat, x = signals
    loss = JTFSLoss(**SMALL)
    jtfs = JTFSPaths(**SMALL)
    assert loss.n_coefficients == jtfs.n_paths + jtfs.fb.K + 1
    norms = [
        torch.linalg.vector_norm(a - b, dim=(-2, -1)).mean()
        for a, b in zip(jtfs.full_coefficients(x_hat), jtfs.full_coefficients(x), strict=True)
    ]
    torch.testing.assert_close(loss(x_hat, x), torch.stack(norms).mean())
    x_hat = x_hat.clone().requires_grad_(True)
    loss(x_hat, x).backward()
    assert torch.isfinite(x_hat.grad).all() and x_hat.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: SCRAPLLoss(**SMALL, use_p_adam=True), "PathwiseSGD"),
        (lambda: SCRAPLLoss(**SMALL, p=3), "p must be 1 or 2"),
        (lambda: SCRAPLLoss(**SMALL, log1p_eps=0.0), "log1p_eps"),
        (lambda: SCRAPLLoss(**SMALL, probs=torch.ones(3)), r"probs must have shape"),
    ],
)
def test_bad_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_mismatched_shapes(signals):
    x_hat, x = signals
    loss = SCRAPLLoss(**SMALL)
    with pytest.raises(ValueError, match="same shape"):
        loss(x_hat[:2], x, 0)
    with pytest.raises(ValueError, match="x_hat must have shape"):
        loss(x_hat[..., :512], x, 0)
    with pytest.raises(ValueError, match="path_idx"):
        loss(x_hat, x, loss.n_paths)


if __name__ == "__main__":  # print float64 gradient golden values and the float32 spread (see GRAD_GOLDEN)
    f32, f64 = SCRAPLLoss(**TINY), SCRAPLLoss(**TINY, dtype=torch.float64)
    for p in sorted(GRAD_GOLDEN):
        d64, g64 = distance_and_gradient(f64, p)
        spread = 0.0
        for n in (1, 2):
            torch.set_num_threads(n)
            d32, g32 = distance_and_gradient(f32, p)
            spread = max(spread, abs(d32 - d64) / d64, ((g32 - g64).norm() / g64.norm()).item())
        print(
            f"{p}: ({d64!r}, {g64.norm().item()!r}, {(g64 @ noise(2).double().reshape(-1)).item()!r}),"
            f"  # float32 spread {spread:.2g}"
        )

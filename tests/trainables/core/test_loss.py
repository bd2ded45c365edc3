"""SCRAPLLoss / JTFSLoss: the per-path distance of notes §5, sampling, Proposition 3.1, bad input."""
import pytest
import torch

from trainables.core import JTFSLoss, SCRAPLLoss
from trainables.core.jtfs import JTFSPaths

SMALL = dict(shape=1024, J=5, Q1=4, Q2=2, J_fr=2, Q_fr=1)


@pytest.fixture(scope="module")
def signals():
    g = torch.Generator().manual_seed(0)
    return torch.randn(3, 1, 1024, generator=g), torch.randn(3, 1, 1024, generator=g)


def test_per_path_loss_is_batch_mean_of_unsquared_frobenius_norms(signals):
    x_hat, x = signals
    loss = SCRAPLLoss(**SMALL)
    jtfs = loss.jtfs
    for p in (0, 7, loss.n_paths - 1):
        per_example = [torch.linalg.norm(jtfs.coefficients(x[b:b + 1], p)[0] - jtfs.coefficients(x_hat[b:b + 1], p)[0])
                       for b in range(3)]
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
    mean_of_grads = [torch.stack(gs).mean(0) for gs in zip(*per_path)]
    full = torch.stack([loss(F(x), x, p) for p in range(loss.n_paths)]).mean()
    grad_of_mean = torch.autograd.grad(full, w)
    for a, b in zip(mean_of_grads, grad_of_mean):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-9)
        assert b.abs().sum() > 0


def test_full_jtfs_loss_is_the_mean_over_all_joint_coefficients(signals):
    x_hat, x = signals
    loss = JTFSLoss(**SMALL)
    jtfs = JTFSPaths(**SMALL)
    assert loss.n_coefficients == jtfs.n_paths + jtfs.fb.K + 1
    norms = [torch.linalg.vector_norm(a - b, dim=(-2, -1)).mean()
             for a, b in zip(jtfs.full_coefficients(x_hat), jtfs.full_coefficients(x))]
    torch.testing.assert_close(loss(x_hat, x), torch.stack(norms).mean())
    x_hat = x_hat.clone().requires_grad_(True)
    loss(x_hat, x).backward()
    assert torch.isfinite(x_hat.grad).all() and x_hat.grad.abs().sum() > 0


@pytest.mark.parametrize("make, match", [
    (lambda: SCRAPLLoss(**SMALL, use_p_adam=True), "PathwiseSGD"),
    (lambda: SCRAPLLoss(**SMALL, p=3), "p must be 1 or 2"),
    (lambda: SCRAPLLoss(**SMALL, log1p_eps=0.0), "log1p_eps"),
    (lambda: SCRAPLLoss(**SMALL, probs=torch.ones(3)), r"probs must have shape"),
])
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

"""θ-IS (notes §8): curvature against explicitly built matrices, Eq. 10, chunking, determinism, errors.

The toy problem has 46 encoder weights, so every M_u (46 × 46) is built with
``torch.autograd.functional.jacobian`` of an independently written ``h_u(w)`` and its eigenvalues
computed densely.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.func import functional_call

from trainables.core.theta_is import (
    PathCurvature,
    check_is_deterministic,
    curvature,
    merge_curvature,
    power_iteration_seed,
    probabilities,
)

N, U, P, B = 8, 2, 4, 8
DT = torch.float64
# Converged settings for the exactness tests; the defaults (20, 1e-4) are tested separately.
TIGHT = dict(n_iter=500, tol=1e-12)


def make_encoder(dropout: float = 0.0, dtype=DT) -> nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        layers = [nn.Flatten(), nn.Linear(N, 4), nn.Tanh()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Linear(4, U), nn.Sigmoid()]
        return nn.Sequential(*layers).to(dtype)  # 32 + 4 + 8 + 2 = 46 weights


def synth(theta: torch.Tensor, seed: torch.Tensor) -> torch.Tensor:
    """Smooth toy synth, separable in θ: an amplitude (θ0) and a frequency (θ1) component, phase
    from the per-example seed. (B, U) -> (B, 1, N)."""
    n = torch.arange(N, dtype=theta.dtype)
    phase = (seed.to(theta.dtype) * 0.7) % (2 * math.pi)
    amp = (0.5 + theta[:, :1]) * torch.sin(2 * math.pi * n / N + phase[:, None])
    chirp = torch.cos(2 * math.pi * (0.5 + 2.0 * theta[:, 1:2]) * n / N)
    return (amp + chirp)[:, None, :]


def noisy_synth(theta, seed):
    return synth(theta, seed) + 1e-3 * torch.randn(theta.shape[0], 1, N, dtype=theta.dtype)


_A = torch.randn(P, 6, N, generator=torch.Generator().manual_seed(1), dtype=DT)


def path_loss(x_hat, x, path_idx):
    """Unsquared L2 of a fixed random projection per path, batch mean (like notes §5)."""
    d = (x_hat - x)[:, 0, :] @ _A[path_idx].to(x_hat.dtype).T
    return d.norm(dim=1).mean()


def make_batch(k: int, dtype=DT):
    """Targets = synth output + a ramp the synth cannot produce (a residual that never vanishes, as
    with the meso seeds). With this toy every M_u has a real dominant eigenvalue with
    |λ2/λ1| <= 0.54 and median asymmetry ~5%, like the real encoder; a toy with strongly coupled θ
    (e.g. amplitude × frequency products) gives asymmetries ~100%, near-ties and complex dominant
    pairs, where no power iteration (the released one included) can return max|eig|."""
    g = torch.Generator().manual_seed(100 + k)
    theta = torch.rand(B, U, generator=g, dtype=dtype)
    seed = torch.randint(0, 1000, (B,), generator=g)
    seed_hat = torch.randint(1000, 2000, (B,), generator=g)
    return synth(theta, seed) + 3.0 * torch.linspace(-1, 1, N, dtype=dtype), seed_hat


def explicit_M(encoder, batches, p, u) -> torch.Tensor:
    """Σ_batches ∂h_u/∂w built densely: h_u(w) = Σ_b s[b,u] ∇_w θ̂[b,u] written functionally."""
    names = [n for n, w in encoder.named_parameters()]
    shapes = [w.shape for w in encoder.parameters()]
    sizes = [w.numel() for w in encoder.parameters()]
    w0 = torch.cat([w.detach().reshape(-1) for w in encoder.parameters()])
    encoder.eval()

    def h_u(w_flat):
        params = {n: c.view(s) for n, c, s in zip(names, torch.split(w_flat, sizes), shapes, strict=True)}
        out = 0
        for x, seed_hat in batches:
            theta_hat = functional_call(encoder, params, (x,))
            loss = path_loss(synth(theta_hat, seed_hat), x, p)
            (s,) = torch.autograd.grad(loss, theta_hat, create_graph=True)
            cot = torch.zeros_like(s)
            cot[:, u] = s[:, u]
            grads = torch.autograd.grad(theta_hat, list(params.values()), cot, create_graph=True)
            out = out + torch.cat([g.reshape(-1) for g in grads])
        return out

    return torch.autograd.functional.jacobian(h_u, w0)


def max_abs_eig(M: torch.Tensor) -> float:
    return float(torch.linalg.eigvals(M).abs().max())


@pytest.fixture(scope="module")
def toy():
    encoder = make_encoder()
    batches = [make_batch(0), make_batch(1)]
    Ms = {(p, u, k): explicit_M(encoder, [batches[k]], p, u) for p in range(P) for u in range(U) for k in range(2)}
    return encoder, batches, Ms


# ------------------------------------------------------------------------------ exactness


def test_curvature_equals_max_abs_eigenvalue_of_explicit_matrix(toy):
    encoder, batches, Ms = toy
    C = curvature(encoder, synth, path_loss, batches[:1], range(P), **TIGHT)
    assert C.shape == (P, U) and C.dtype == torch.float64
    expected = torch.tensor([[max_abs_eig(Ms[p, u, 0]) for u in range(U)] for p in range(P)], dtype=DT)
    torch.testing.assert_close(C, expected, rtol=1e-3, atol=0)
    assert (C > 0).all()


def test_default_settings_are_within_1e_3_on_toy(toy):
    encoder, batches, Ms = toy
    C = curvature(encoder, synth, path_loss, batches[:1], range(P))  # n_iter=20, tol=1e-4
    expected = torch.tensor([[max_abs_eig(Ms[p, u, 0]) for u in range(U)] for p in range(P)], dtype=DT)
    torch.testing.assert_close(C, expected, rtol=1e-3, atol=0)


def test_first_rayleigh_estimate_uses_unnormalised_uniform_init(toy):
    # With n_iter=1, λ = v0·(M v0) for the documented init v0 ~ U[0,1) seeded per (seed, p, u, 0):
    # a tight check of the HVP operator, independent of convergence.
    encoder, batches, Ms = toy
    C = curvature(encoder, synth, path_loss, batches[:1], [1, 3], n_iter=1, seed=7)
    for row, p in enumerate([1, 3]):
        for u in range(U):
            g = torch.Generator().manual_seed(power_iteration_seed(7, p, u, 0))
            v0 = torch.rand(Ms[p, u, 0].shape[0], generator=g, dtype=DT)
            assert math.isclose(C[row, u].item(), abs(float(v0 @ Ms[p, u, 0] @ v0)), rel_tol=1e-10)


def test_operator_is_slightly_asymmetric(toy):
    # Informational (notes §8 measured 0.7% on the real encoder): M_u = Σ s∇²θ̂ + ∇θ̂ ⊗ ∇s is not
    # symmetric, so the code takes |λ_dom|, not a symmetric eigensolver's λ_max.
    _, _, Ms = toy
    asym = torch.tensor([float((M - M.T).norm() / M.norm()) for M in Ms.values()])
    assert (asym > 1e-8).all() and asym.median() < 0.1


def test_several_batches_sum_the_operators(toy):
    encoder, batches, Ms = toy
    C = curvature(encoder, synth, path_loss, batches, range(P), **TIGHT)
    expected = torch.tensor([[max_abs_eig(Ms[p, u, 0] + Ms[p, u, 1]) for u in range(U)] for p in range(P)], dtype=DT)
    torch.testing.assert_close(C, expected, rtol=1e-3, atol=0)
    # Caching both graphs instead of rebuilding them in every application gives the same numbers.
    C_cached = curvature(encoder, synth, path_loss, batches, range(P), rebuild_graphs=False, **TIGHT)
    torch.testing.assert_close(C_cached, C, rtol=1e-12, atol=0)


@pytest.mark.parametrize("agg", ["mean", "max", "med"])
def test_per_tensor_aggregation_uses_diagonal_blocks(toy, agg):
    encoder, batches, Ms = toy
    C = curvature(encoder, synth, path_loss, batches[:1], [0, 2], agg=agg, **TIGHT)
    sizes = [w.numel() for w in encoder.parameters()]
    edges = [0] + torch.tensor(sizes).cumsum(0).tolist()
    reduce = {"mean": torch.mean, "max": torch.max, "med": lambda t: torch.quantile(t, 0.5)}[agg]
    for row, p in enumerate([0, 2]):
        for u in range(U):
            M = Ms[p, u, 0]
            lams = torch.tensor([max_abs_eig(M[a:b, a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)])
            assert math.isclose(C[row, u].item(), float(reduce(lams)), rel_tol=1e-3)


def test_float32_encoder_agrees_with_float64(toy):
    encoder, batches, _ = toy
    C64 = curvature(encoder, synth, path_loss, batches[:1], range(P))
    enc32 = make_encoder(dtype=torch.float32)
    b32 = [(x.float(), s) for x, s in batches[:1]]
    C32 = curvature(enc32, synth, path_loss, b32, range(P))
    assert C32.dtype == torch.float64
    torch.testing.assert_close(C32, C64, rtol=1e-3, atol=0)


# ----------------------------------------------------------------------------- power iteration


@pytest.mark.parametrize("rebuild, agg", [(False, "none"), (True, "none"), (False, "mean"), (True, "max")])
def test_factored_method_is_the_released_operator(toy, rebuild, agg):
    """ "factored" (JTFS once per path and batch, encoder-only power iteration) and "hvp" (the released
    double backward through everything) give the same C, batch sums and per-tensor blocks included."""
    encoder, batches, _ = toy
    kw = dict(n_iter=6, tol=0.0, agg=agg, rebuild_graphs=rebuild)
    fast = curvature(encoder, synth, path_loss, batches, range(P), method="factored", **kw)
    slow = curvature(encoder, synth, path_loss, batches, range(P), method="hvp", **kw)
    torch.testing.assert_close(fast, slow, rtol=1e-11, atol=0)


def coupled_synth(theta, seed):
    """A synth whose examples leak into each other (not the SCRAPL setting)."""
    x = synth(theta, seed)
    return x + 0.5 * x.roll(1, dims=0)


def test_factored_method_refuses_a_synth_that_couples_examples(toy):
    encoder, batches, _ = toy
    with pytest.raises(ValueError, match="treat examples independently.*method='hvp'"):
        curvature(encoder, coupled_synth, path_loss, batches[:1], [0], n_iter=2)
    # in float32 too, where the check's tolerance allows for rounding
    x32, s32 = batches[0][0].float(), batches[0][1]
    with pytest.raises(ValueError, match="treat examples independently"):
        curvature(make_encoder(dtype=torch.float32), coupled_synth, path_loss, [(x32, s32)], [0], n_iter=2)
    C = curvature(encoder, coupled_synth, path_loss, batches[:1], [0], n_iter=2, method="hvp")
    assert torch.isfinite(C).all() and (C > 0).all()


@pytest.mark.parametrize("shift", [2, B // 2])
def test_factored_method_refuses_a_coupling_between_examples_of_the_same_parity(toy, shift):
    """Example b mixed with b + 2 (or with b + B/2, a transposed reshape): an even/odd probe alone sees
    nothing (both examples weighted alike); the bit probes separate every pair."""
    encoder, batches, _ = toy

    def far_coupled(theta, seed):
        x = synth(theta, seed)
        return x + 0.5 * x.roll(shift, dims=0)

    with pytest.raises(ValueError, match="treat examples independently"):
        curvature(encoder, far_coupled, path_loss, batches[:1], [0], n_iter=2)


# ------------------------------------------------------------------------------- probabilities


def test_probabilities_match_eq_10_by_hand():
    # C (P=3 rows, U=2 columns):     column sums 4, 4
    #   [[1, 2],                      q[:,0] = [1/4, 3/4, 0],  q[:,1] = [2/4, 0, 2/4]
    #    [3, 0],                      π = mean over u = [(1/4+1/2)/2, (3/4+0)/2, (0+1/2)/2]
    #    [0, 2]]                        = [0.375, 0.375, 0.25]
    # (the zeros are clamped to 1e-12, moving π by ~1e-13)
    C = torch.tensor([[1.0, 2.0], [3.0, 0.0], [0.0, 2.0]], dtype=DT)
    pi = probabilities(C)
    assert pi.dtype == torch.float64 and pi.shape == (3,)
    torch.testing.assert_close(pi, torch.tensor([0.375, 0.375, 0.25], dtype=DT), rtol=0, atol=1e-12)
    # Floor f = 0.5: π_p = 0.5·π_p(f=0) + 0.5/3.
    pi_f = probabilities(C, min_prob_frac=0.5)
    torch.testing.assert_close(pi_f, 0.5 * torch.tensor([0.375, 0.375, 0.25], dtype=DT) + 0.5 / 3, rtol=0, atol=1e-12)


def test_probabilities_sum_to_one_floor_and_column_scale_invariance():
    C = torch.rand(315, 2, generator=torch.Generator().manual_seed(3), dtype=DT) ** 4 * 1e-6
    C[7] = 0.0
    for f in (0.0, 0.1, 0.9):
        pi = probabilities(C, f)
        assert math.isclose(pi.sum().item(), 1.0, abs_tol=1e-12)
        assert (pi >= f / 315 * (1 - 1e-12)).all()
    # Plain Eq. 10 and invariance to rescaling each u's column (only relative curvature matters).
    Cc = C.clamp_min(1e-12)
    plain = (Cc / Cc.sum(0, keepdim=True)).mean(1)
    torch.testing.assert_close(probabilities(C), plain, rtol=0, atol=1e-12)
    C_pos = C + 1e-9  # away from the 1e-12 clamp
    torch.testing.assert_close(
        probabilities(C_pos * torch.tensor([1e3, 1e-2], dtype=DT)), probabilities(C_pos), rtol=1e-12, atol=0
    )


# ------------------------------------------------------------------------------- chunking


def test_chunks_merge_to_the_full_call(toy):
    encoder, batches, _ = toy
    kw = dict(seed=11, n_paths=P)
    full = curvature(encoder, synth, path_loss, batches[:1], range(4), **kw)
    blocks = [
        ([2, 3], [0, 1], curvature(encoder, synth, path_loss, batches[:1], [2, 3], **kw)),
        ([0, 1], [1], curvature(encoder, synth, path_loss, batches[:1], [0, 1], [1], **kw)),
        ([1, 0], [0], curvature(encoder, synth, path_loss, batches[:1], [1, 0], [0], **kw)),
    ]
    merged = merge_curvature(blocks, n_paths=P, n_theta=U)
    # Integer-like indices (NumPy / torch scalars, as a Ray fan-out may pass) are accepted.
    torch.testing.assert_close(
        curvature(encoder, synth, path_loss, batches[:1], torch.arange(2, 4), **kw), blocks[0][2], rtol=0, atol=0
    )
    torch.testing.assert_close(merged, full, rtol=1e-12, atol=0)
    # Same seed, same values; the init depends on the seed.
    torch.testing.assert_close(curvature(encoder, synth, path_loss, batches[:1], range(4), **kw), full, rtol=0, atol=0)
    other = curvature(encoder, synth, path_loss, batches[:1], range(4), n_iter=1, seed=12)
    assert not torch.equal(other, curvature(encoder, synth, path_loss, batches[:1], range(4), n_iter=1, seed=11))


def test_merge_rejects_missing_duplicate_and_bad_blocks():
    ones = torch.ones(2, 2)
    with pytest.raises(ValueError, match="missing"):
        merge_curvature([([0, 1], [0, 1], ones)], n_paths=3, n_theta=2)
    with pytest.raises(ValueError, match="duplicates cell"):
        merge_curvature([([0, 1], [0, 1], ones), ([1, 2], [0, 1], ones)], n_paths=3, n_theta=2)
    with pytest.raises(ValueError, match="paths"):
        merge_curvature([([0, 3], [0, 1], ones)], n_paths=3, n_theta=2)
    with pytest.raises(ValueError, match="shape"):
        merge_curvature([([0, 1, 2], [0, 1], ones)], n_paths=3, n_theta=2)


# ----------------------------------------------------------------------------- state hygiene


def test_dropout_encoder_is_switched_to_eval_and_modes_restored(toy):
    _, batches, _ = toy
    enc = make_encoder(dropout=0.5)
    enc.train()
    with pytest.raises(ValueError, match="encoder is not deterministic"):
        check_is_deterministic(enc, synth, *batches[0])
    enc[1].eval()  # mixed modes must come back exactly as they were
    before = [m.training for m in enc.modules()]
    C = curvature(enc, synth, path_loss, batches[:1], [0, 1])
    assert [m.training for m in enc.modules()] == before
    # Dropout is the identity in eval mode: same weights without dropout give the same numbers.
    plain = curvature(make_encoder(), synth, path_loss, batches[:1], [0, 1])
    torch.testing.assert_close(C, plain, rtol=1e-12, atol=0)
    assert all(w.grad is None for w in enc.parameters())


def test_nondeterministic_synth_is_caught(toy):
    encoder, batches, _ = toy
    with pytest.raises(ValueError, match="synth is not deterministic"):
        curvature(encoder, noisy_synth, path_loss, batches[:1], [0])
    check_is_deterministic(encoder, synth, *batches[0])  # the clean synth passes


def test_mode_restored_after_error_and_no_grad_left(toy):
    _, batches, _ = toy
    enc = make_encoder()
    enc.train()
    with pytest.raises(ValueError):
        curvature(enc, noisy_synth, path_loss, batches[:1], [0])
    assert all(m.training for m in enc.modules())
    curvature(enc, synth, path_loss, batches[:1], [0], n_iter=2)
    assert all(m.training for m in enc.modules())
    assert all(w.grad is None for w in enc.parameters())


def test_existing_grad_or_hooks_are_rejected(toy):
    _, batches, _ = toy
    enc = make_encoder()
    enc[1].weight.grad = torch.zeros_like(enc[1].weight)
    with pytest.raises(ValueError, match=r"\.grad"):
        curvature(enc, synth, path_loss, batches[:1], [0])
    enc = make_encoder()
    enc[3].bias.register_hook(lambda g: 1e8 * g)
    with pytest.raises(ValueError, match="hooks"):
        curvature(enc, synth, path_loss, batches[:1], [0])


def test_frozen_weights_are_excluded_and_progress_reports_each_path(toy):
    _, batches, _ = toy
    enc = make_encoder()
    enc[1].requires_grad_(False)
    reports: list[PathCurvature] = []
    C = curvature(enc, synth, path_loss, batches, [3, 1], [1], n_iter=5, tol=0.0, progress=reports.append)
    assert [r.path for r in reports] == [3, 1]
    for row, r in enumerate(reports):
        assert r.theta_dims == (1,) and torch.equal(r.values, C[row])
        assert r.iterations.tolist() == [[5]]
        assert r.n_hvp == 5 * len(batches)  # one HVP per batch per application
    assert all(w.grad is None for w in enc.parameters())


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(paths=[]), "paths"),
        (dict(paths=[0, 4], n_paths=4), "paths"),
        (dict(paths=[1, 1]), "paths"),
        (dict(paths=[-1]), "paths"),
        (dict(paths=[0.5]), "paths"),
        (dict(paths=[True]), "paths"),
        (dict(theta_dims=[2]), "theta_dims"),
        (dict(theta_dims=[]), "theta_dims"),
        (dict(agg="median"), "agg"),
        (dict(n_iter=0), "n_iter"),
        (dict(tol=-1.0), "tol"),
        (dict(batches=[]), "batches"),
        (dict(n_paths=0), "n_paths"),
    ],
)
def test_bad_curvature_arguments(toy, kwargs, match):
    encoder, batches, _ = toy
    args = dict(encoder=encoder, synth=synth, path_loss=path_loss, batches=batches[:1], paths=[0])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        curvature(**args)


def test_bad_seed_shape_and_non_scalar_loss(toy):
    encoder, batches, _ = toy
    x, _ = batches[0]
    with pytest.raises(ValueError, match="seed_hat"):
        curvature(encoder, synth, path_loss, [(x, torch.zeros(B + 1, dtype=torch.int64))], [0])
    with pytest.raises(ValueError, match="path_loss"):
        curvature(encoder, synth, lambda xh, xx, p: (xh - xx).abs().mean(dim=(1, 2)), batches[:1], [0])


@pytest.mark.parametrize(
    "C, f, match",
    [
        (torch.tensor([[1.0, -1.0]]), 0.0, "non-negative"),
        (torch.tensor([[1.0, float("nan")]]), 0.0, "finite"),
        (torch.tensor([[1.0, float("inf")]]), 0.0, "finite"),
        (torch.ones(3), 0.0, "shape"),
        (torch.ones(0, 2), 0.0, "shape"),
        (torch.ones(3, 2), 1.0, "min_prob_frac"),
        (torch.ones(3, 2), -0.1, "min_prob_frac"),
    ],
)
def test_bad_probability_arguments(C, f, match):
    with pytest.raises(ValueError, match=match):
        probabilities(C, f)

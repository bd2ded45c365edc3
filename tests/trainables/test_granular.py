"""GranularSynth (notes §9.1): laws by hand, determinism, placement, gradients, bad input."""

import math

import pytest
import torch

from trainables.synths import GranularSynth, Synth

SMOKE = dict(sample_rate=2048, n_samples=4096, n_grains=8, grain_n_samples=512, f0_min_hz=64.0, f0_max_hz=512.0)


def smoke(**overrides) -> GranularSynth:
    return GranularSynth(**{**SMOKE, **overrides})


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_interface_shape_dtype_and_unit_norm():
    synth = smoke()
    assert isinstance(synth, Synth)
    assert synth.theta_names == ("density", "slope")
    assert (synth.sample_rate, synth.n_samples) == (2048, 4096)
    theta = torch.tensor([[0.1, 0.2], [0.9, 0.7], [1.0, 0.0]])
    x = synth(theta, torch.tensor([0, 1, 2]))
    assert x.shape == (3, 1, 4096) and x.dtype == torch.float32
    torch.testing.assert_close(x.norm(dim=-1), torch.ones(3, 1))


def test_paper_scale_forward():
    synth = GranularSynth()
    x = synth(torch.tensor([[0.5, 0.5]]), torch.tensor([7]))
    assert x.shape == (1, 1, 32768)
    assert torch.isfinite(x).all()
    assert float(x.norm()) == pytest.approx(1.0, abs=1e-5)


def test_same_seed_identical_different_seed_differs():
    synth = smoke()
    theta = torch.tensor([[0.4, 0.8], [0.4, 0.8]])
    a = synth(theta, torch.tensor([3, 4]))
    b = synth(theta, torch.tensor([3, 4]))
    assert torch.equal(a, b)
    assert not torch.allclose(a[0], a[1], atol=1e-3)  # seeds 3 and 4 differ
    f0, onset = synth.draw_grains(torch.tensor([3, 3, 4]))
    assert torch.equal(f0[0], f0[1]) and torch.equal(onset[0], onset[1])
    assert not torch.equal(onset[0], onset[2])


def test_draws_are_independent_of_theta_and_global_rng():
    # With one grain, a/max(a) = 1 whatever θ_d: the audio must not depend on θ_d at all.
    synth = smoke(n_grains=1)
    seed = torch.tensor([11, 11])
    x = synth(torch.tensor([[0.05, 0.3], [0.95, 0.3]]), seed)
    torch.testing.assert_close(x[0], x[1])
    torch.manual_seed(0)
    before = torch.get_rng_state()
    synth(torch.tensor([[0.2, 0.6]]), torch.tensor([5]))
    assert torch.equal(before, torch.get_rng_state())


def test_draw_ranges():
    synth = smoke()
    f0, onset = synth.draw_grains(torch.arange(50))
    assert f0.shape == onset.shape == (50, 8)
    assert f0.min() >= 64.0 and f0.max() <= 512.0
    assert onset.min() >= 0 and onset.max() <= 4096 - 512
    # log-uniform: about half of log2 f0 below the middle octave (6 + 9)/2 = 7.5
    frac_low = (torch.log2(f0) < 7.5).float().mean()
    assert 0.4 < float(frac_low) < 0.6


def test_density_law_by_hand():
    synth = GranularSynth()  # G = 64
    a = synth.grain_amplitudes(torch.tensor([1.0, 0.0, 0.5]))
    assert a.shape == (3, 64)
    torch.testing.assert_close(a[0], torch.ones(64))  # θ_d = 1: all grains equal
    # θ_d = 0: c = 0, z_i = i, a_i = 1 − σ(2i), normalised by a_0 = 1/2
    expected = [1.0, 2 * (1 - sigmoid(2)), 2 * (1 - sigmoid(4)), 2 * (1 - sigmoid(6))]
    torch.testing.assert_close(a[1, :4], torch.tensor(expected))
    # θ_d = 0.5: c = 0.3125, 64c = 20, z_i = 0.5(i − 20): a_i = (1 − σ(i − 20)) / σ(20)
    for i in (0, 19, 20, 21, 25):
        assert float(a[2, i]) == pytest.approx((1 - sigmoid(i - 20)) / sigmoid(20), rel=1e-4)
    assert float(a[2, 63]) < 1e-6  # soft cutoff near 64c = 20
    assert float(a[2].max()) == 1.0


def test_chirp_rate_endpoints():
    synth = GranularSynth()
    gamma = synth.chirp_rate(torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    g_max = (2 / 3) * math.tan(0.475 * math.pi)
    assert g_max == pytest.approx(8.4708, abs=1e-4)
    torch.testing.assert_close(gamma, torch.tensor([-g_max, 0.0, g_max], dtype=torch.float64))
    assert synth.max_chirp_rate == pytest.approx(g_max)


def test_single_grain_exact_waveform_and_placement():
    """θ_s = 1/2 (γ = 0): one grain = sin(2π f0 (n+1)/sr)·hann/√f0 at [o, o+L), unit norm."""
    synth = smoke(n_grains=1)
    seed = torch.tensor([21])
    x = synth(torch.tensor([[0.3, 0.5]], dtype=torch.float64), seed)[0, 0]
    f0, onset = synth.draw_grains(seed)
    f0, o, L = float(f0[0, 0]), int(onset[0, 0]), 512
    n = torch.arange(L, dtype=torch.float64)
    grain = torch.sin(2 * math.pi * f0 * (n + 1) / 2048) * torch.sin(math.pi * n / L) ** 2
    expected = torch.zeros(4096, dtype=torch.float64)
    expected[o : o + L] = grain / grain.norm()
    torch.testing.assert_close(x, expected, atol=2e-5, rtol=0)


def test_chirped_grain_follows_exponential_frequency():
    """θ_s = 0.9: instantaneous frequency f0·2^(γτ), τ centred on the grain (float64 reference)."""
    synth = smoke(n_grains=1)
    seed = torch.tensor([2])
    theta = torch.tensor([[1.0, 0.9]], dtype=torch.float64)
    x = synth(theta, seed)[0, 0]
    gamma = float(synth.chirp_rate(theta[:, 1]))
    assert gamma == pytest.approx((1 / 6) * math.tan(0.475 * math.pi * 0.8))
    f0, onset = synth.draw_grains(seed)
    f0, o, L, sr = float(f0[0, 0]), int(onset[0, 0]), 512, 2048
    tau = (torch.arange(L, dtype=torch.float64) - L / 2) / sr
    phase = 2 * math.pi * torch.cumsum(f0 * torch.exp2(gamma * tau) / sr, 0)
    grain = torch.sin(phase) * torch.sin(math.pi * torch.arange(L) / L) ** 2
    torch.testing.assert_close(x[o : o + L], grain / grain.norm(), atol=1e-5, rtol=0)


def test_gradients_reach_both_parameters():
    synth = smoke()
    seed = torch.tensor([0, 1])
    target = synth(torch.tensor([[0.3, 0.2], [0.7, 0.9]]), seed)
    theta = torch.tensor([[0.6, 0.4], [0.4, 0.6]], requires_grad=True)
    loss = (synth(theta, seed) - target).pow(2).sum()
    loss.backward()
    assert torch.isfinite(theta.grad).all()
    assert (theta.grad.abs() > 1e-6).all()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(sample_rate=0), "sample_rate"),
        (dict(n_samples=256), "grain_n_samples"),  # grain longer than the signal
        (dict(n_grains=0), "n_grains"),
        (dict(f0_min_hz=600.0), "f0_min_hz"),
        (dict(f0_max_hz=1024.0), "f0_max_hz"),  # Nyquist at sr 2048
        (dict(max_theta_slope=1.0), "max_theta_slope"),
        (dict(Q=0), "Q"),
        (dict(hop=2.5), "hop"),
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        smoke(**kwargs)


def test_bad_inputs():
    synth = smoke()
    with pytest.raises(ValueError, match="theta"):
        synth(torch.rand(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="seed"):
        synth(torch.rand(2, 2), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="seed"):
        synth(torch.rand(2, 2), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="non-negative"):
        synth(torch.rand(1, 2), torch.tensor([-1]))

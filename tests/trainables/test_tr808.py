"""TR808Synth (paper §4.4, Table 12): normalisers, interface, shift, randomness, filter, gradients."""

import math

import numpy as np
import pytest
import torch
from scipy import signal

from trainables.synths import Synth
from trainables.synths.tr808 import (
    MESO_MAX_SHIFT,
    TR808_ONSET,
    TR808_RANGES,
    TR808_THETA_NAMES,
    ParamRange,
    TR808Synth,
    default_ranges,
    highpass_magnitude,
    shift_and_zero,
)

SR = 44100


def theta_of(synth, **values):
    """θ (1, 14) float64 from physical values, the rest at θ = 0.5."""
    phys = {n: synth.ranges[n].to_physical(torch.tensor(0.5, dtype=torch.float64)) for n in synth.theta_names}
    phys.update({k: torch.tensor(float(v), dtype=torch.float64) for k, v in values.items()})
    return synth.normalise(phys).reshape(1, 14)


def test_fourteen_named_parameters_with_documented_ranges():
    assert TR808Synth.theta_names == TR808_THETA_NAMES and len(TR808_THETA_NAMES) == 14
    assert len(set(TR808_THETA_NAMES)) == 14
    assert set(TR808_RANGES) == set(TR808_THETA_NAMES)
    r = TR808_RANGES
    assert (r["osc1_freq"].low, r["osc1_freq"].high, r["osc1_freq"].scale) == (20.0, 2000.0, "log")
    assert r["osc2_freq"] == r["osc1_freq"]
    assert r["osc1_gain"] == r["osc2_gain"] == r["noise_gain"] == ParamRange(-60.0, 0.0, "linear", "dB")
    for name in ("osc1_decay", "osc2_decay", "noise_decay", "pitch_decay", "noise_cutoff", "noise_q"):
        assert r[name].scale == "log"
    assert r["osc1_freq"].high * 2 ** r["osc1_mod"].high < SR / 2  # the sweep stays below Nyquist


@pytest.mark.parametrize("name", TR808_THETA_NAMES)
def test_normaliser_endpoints_midpoint_and_inverse(name):
    r = TR808_RANGES[name]
    theta = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    v = r.to_physical(theta)
    mid = math.sqrt(r.low * r.high) if r.scale == "log" else (r.low + r.high) / 2
    torch.testing.assert_close(v, torch.tensor([r.low, mid, r.high], dtype=torch.float64))
    u = torch.rand(100, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(r.to_unit(r.to_physical(u)), u)


def test_param_range_validation():
    with pytest.raises(ValueError, match="low must be < high"):
        ParamRange(2.0, 1.0)
    with pytest.raises(ValueError, match="low must be > 0"):
        ParamRange(0.0, 1.0, "log")
    with pytest.raises(ValueError, match="scale"):
        ParamRange(1.0, 2.0, "exp")
    with pytest.raises(ValueError, match="high must be a finite number"):
        ParamRange(1.0, math.inf)


def test_synth_physical_and_normalise_are_inverse():
    synth = TR808Synth()
    theta = torch.rand(5, 14, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    phys = synth.physical(theta)
    assert set(phys) == set(TR808_THETA_NAMES)
    torch.testing.assert_close(synth.normalise(phys), theta)
    with pytest.raises(ValueError, match="missing"):
        synth.normalise({"osc1_freq": 100.0})


@pytest.mark.parametrize(
    "kwargs, arg",
    [
        (dict(sample_rate=0), "sample_rate"),
        (dict(n_samples=-1), "n_samples"),
        (dict(max_shift=44100), "max_shift"),
        (dict(max_shift=-1), "max_shift"),
        (dict(max_shift=1.5), "max_shift"),
        (dict(onset=44100), "onset"),
        (dict(onset=-2), "onset"),
        (dict(ranges={"nope": ParamRange(1, 2)}), "ranges"),
        (dict(ranges={"osc1_freq": (20, 2000)}), "ranges"),
        (dict(ranges={"osc1_mod": ParamRange(0, 5)}), "ranges"),  # 2000 Hz · 2^5 > Nyquist
        (dict(ranges={"noise_cutoff": ParamRange(20, 30000, "log")}), "ranges"),
        (dict(ranges=[1, 2]), "ranges"),
    ],
)
def test_constructor_validation_names_the_argument(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        TR808Synth(**kwargs)


def test_default_ranges_fit_low_sample_rates():
    assert default_ranges(SR) == TR808_RANGES
    small = default_ranges(8192)
    assert small["osc1_freq"].high * 8 < 4096 and small["noise_cutoff"].high < 4096
    assert small["osc1_freq"].low == 20.0
    synth = TR808Synth(sample_rate=8192, n_samples=8192, onset=256, max_shift=256)
    x = synth(torch.rand(2, 14), torch.tensor([0, 1]))
    assert x.shape == (2, 1, 8192) and torch.isfinite(x).all()
    with pytest.raises(ValueError, match="too low"):
        default_ranges(200)


def test_interface_shape_dtype_range_and_silence_before_onset():
    synth = TR808Synth(max_shift=0)
    assert isinstance(synth, Synth) and synth.sample_rate == SR and synth.n_samples == SR
    theta = torch.rand(3, 14, generator=torch.Generator().manual_seed(2))
    x = synth(theta, torch.tensor([0, 1, 2]))
    assert x.shape == (3, 1, SR) and x.dtype == torch.float32
    assert torch.isfinite(x).all() and x.abs().max() <= 1.0  # tanh output
    assert torch.all(x[..., :TR808_ONSET] == 0) and x[..., TR808_ONSET:].abs().amax(-1).min() > 0
    assert synth(theta.double(), torch.tensor([0, 1, 2])).dtype == torch.float64


def test_same_seed_same_audio_other_seed_other_noise():
    synth = TR808Synth()
    theta = torch.full((2, 14), 0.5)
    theta[:, TR808_THETA_NAMES.index("noise_gain")] = 1.0  # loud noise
    a = synth(theta, torch.tensor([7, 8]))
    assert torch.equal(a, synth(theta, torch.tensor([7, 8])))
    assert not torch.allclose(a[0], a[1])
    micro = TR808Synth(max_shift=0)
    b = micro(theta, torch.tensor([7, 8]))
    assert not torch.allclose(b[0], b[1])  # noise differs even unshifted


def test_micro_has_no_shift_meso_shifts_within_range():
    seeds = torch.arange(300)
    assert torch.all(TR808Synth(max_shift=0).draw_shift(seeds) == 0)
    shifts = TR808Synth().draw_shift(seeds)
    assert TR808Synth().max_shift == MESO_MAX_SHIFT == 2048
    assert shifts.min() >= -2048 and shifts.max() <= 2048
    assert shifts.min() < -1000 and shifts.max() > 1000 and torch.equal(shifts, TR808Synth().draw_shift(seeds))


def test_meso_output_is_the_voice_rolled_with_the_wrap_zeroed():
    synth = TR808Synth()
    theta = torch.rand(6, 14, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    seeds = torch.arange(6) + 40
    shift, noise = synth.draw_randomness(seeds)
    voice = synth.voice(theta, noise)
    x = synth(theta, seeds)[:, 0]
    for b in range(6):
        d = int(shift[b])
        expect = torch.zeros(SR, dtype=torch.float64)
        if d >= 0:
            expect[d:] = voice[b, : SR - d]
        else:
            expect[: SR + d] = voice[b, -d:]
        torch.testing.assert_close(x[b], expect)
    torch.testing.assert_close(shift_and_zero(voice, shift), x)
    # the draws depend on the seed only (not on θ)
    s2, n2 = synth.draw_randomness(seeds)
    assert torch.equal(s2, shift) and torch.equal(n2, noise)
    assert torch.equal(synth.draw_shift(seeds), shift)


def test_highpass_matches_rbj_cookbook_freqz():
    omega = torch.linspace(0, math.pi, 513, dtype=torch.float64)
    for fc, q in [(100.0, 0.707), (2000.0, 4.0), (15000.0, 0.5)]:
        mag = highpass_magnitude(
            omega, torch.tensor([fc], dtype=torch.float64), torch.tensor([q], dtype=torch.float64), SR
        )[0]
        w0 = 2 * math.pi * fc / SR
        alpha = math.sin(w0) / (2 * q)
        b = np.array([(1 + math.cos(w0)) / 2, -(1 + math.cos(w0)), (1 + math.cos(w0)) / 2])
        a = np.array([1 + alpha, -2 * math.cos(w0), 1 - alpha])
        _, h = signal.freqz(b, a, worN=omega.numpy())
        np.testing.assert_allclose(mag.numpy(), np.abs(h), rtol=1e-9, atol=1e-12)
        at_w0 = highpass_magnitude(
            torch.tensor([w0], dtype=torch.float64),
            torch.tensor([fc], dtype=torch.float64),
            torch.tensor([q], dtype=torch.float64),
            SR,
        )
        assert float(at_w0) == pytest.approx(q) and float(mag[0]) == 0.0 and float(mag[-1]) == pytest.approx(1.0)


def test_noise_source_is_the_zero_phase_filtered_noise():
    synth = TR808Synth(max_shift=0)
    theta = theta_of(synth, noise_cutoff=5000.0, noise_q=2.0, noise_gain=0.0, noise_decay=2.0)
    noise = torch.randn(1, synth.n_voice, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    src = synth.sources(theta, noise)["noise"][0]
    mag = highpass_magnitude(
        synth.omega, torch.tensor([5000.0], dtype=torch.float64), torch.tensor([2.0], dtype=torch.float64), SR
    )[0]
    filtered = torch.fft.irfft(torch.fft.rfft(noise[0]) * mag, n=synth.n_voice)
    env = torch.exp(-math.log(1000) * synth.t / 2.0)
    torch.testing.assert_close(src, filtered * env)
    spec = torch.fft.rfft(src).abs() ** 2
    f = torch.fft.rfftfreq(synth.n_voice, 1 / SR)
    assert spec[f < 1000].mean() < 0.02 * spec[(f > 6000) & (f < 10000)].mean()  # high-passed


def test_oscillator_frequency_sweep_decay_and_no_click():
    synth = TR808Synth(max_shift=0)
    theta = theta_of(synth, osc1_freq=100.0, osc1_mod=0.0, osc1_decay=0.1, osc1_gain=0.0)
    osc = synth.sources(theta, torch.zeros(1, synth.n_voice, dtype=torch.float64))["osc1"][0]
    assert float(osc[0]) == 0.0  # starts at phase 0
    # mod = 0: a 100 Hz sine; T60 = 0.1 s = 4410 samples = 10 whole periods → power ratio exactly 1e-6
    a, w = 441, 4410
    ratio = osc[a + 4410 : a + 4410 + w].pow(2).sum() / osc[a : a + w].pow(2).sum()
    assert float(ratio) == pytest.approx(1e-6, rel=1e-6)
    spec = torch.fft.rfft(osc[:4410] * torch.hann_window(4410, dtype=torch.float64)).abs()
    assert float(torch.fft.rfftfreq(4410, 1 / SR)[spec.argmax()]) == pytest.approx(100.0, abs=10.0)
    # pitch envelope: F(t) = 100·2^(2·10^(−3t/0.5)) Hz — 400 Hz at the onset, gliding down to 100 Hz
    theta = theta_of(synth, osc1_freq=100.0, osc1_mod=2.0, pitch_decay=0.5, osc1_decay=2.0, osc1_gain=0.0)
    osc = synth.sources(theta, torch.zeros(1, synth.n_voice, dtype=torch.float64))["osc1"][0]
    crossings = torch.nonzero((osc[:-1] < 0) & (osc[1:] >= 0)).flatten().double() / SR
    for k in (0, 10, 40):
        t_mid = float(crossings[k] + crossings[k + 1]) / 2
        expected = 100 * 2 ** (2 * 10 ** (-3 * t_mid / 0.5))
        assert 1 / float(crossings[k + 1] - crossings[k]) == pytest.approx(expected, rel=0.02)
    assert 1 / float(crossings[1] - crossings[0]) > 350 > 1 / float(crossings[41] - crossings[40])


def test_gradients_reach_all_14_parameters():
    synth = TR808Synth()
    g = torch.Generator().manual_seed(5)
    theta = (0.2 + 0.6 * torch.rand(4, 14, generator=g, dtype=torch.float64)).requires_grad_()
    target = synth(0.2 + 0.6 * torch.rand(4, 14, generator=g, dtype=torch.float64), torch.arange(4) + 100)
    loss = (synth(theta, torch.arange(4)) - target).pow(2).sum()
    loss.backward()
    grad = theta.grad
    assert torch.isfinite(grad).all()
    per_param = grad.abs().sum(0)
    assert torch.all(per_param > 0), dict(zip(TR808_THETA_NAMES, per_param.tolist(), strict=True))
    # float32 also finite (the training dtype), including θ at the ends of [0, 1]
    t32 = torch.tensor([[0.0] * 7 + [1.0] * 7, [1.0] * 7 + [0.0] * 7]).requires_grad_()
    synth(t32, torch.tensor([0, 1])).sum().backward()
    assert torch.isfinite(t32.grad).all()


def test_bad_inputs():
    synth = TR808Synth()
    with pytest.raises(ValueError, match="theta must lie in"):
        synth(torch.full((1, 14), 1.5), torch.tensor([0]))
    with pytest.raises(ValueError, match="theta must have shape"):
        synth(torch.rand(1, 2), torch.tensor([0]))
    with pytest.raises(ValueError, match="seed"):
        synth(torch.rand(2, 14), torch.tensor([0]))

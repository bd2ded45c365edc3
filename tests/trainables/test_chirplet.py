"""ChirpletSynth (notes §9.2): configs, mappings, instantaneous frequency, shift, gradients."""

import math

import pytest
import torch

from trainables.synths import CHIRPLET_CONFIGS, ChirpletRanges, ChirpletSynth, Synth

SMOKE = dict(sample_rate=2048, n_samples=4096, f0_hz=256.0, max_shift=512)


def test_named_configs_both_range_sets():
    released = {
        "lo-lo": ((0.9899, 1.9799), (0.5, 1.0)),
        "lo-med": ((0.9899, 1.9799), (2.0, 4.0)),
        "hi-med": ((3.9598, 7.9196), (2.0, 4.0)),
        "hi-hi": ((3.9598, 7.9196), (8.0, 16.0)),
    }
    paper = {
        "lo-lo": ((1.0, 2.0), (0.5, 1.0)),
        "lo-med": ((1.0, 2.0), (2.0, 4.0)),
        "hi-med": ((2.8, 8.4), (2.0, 4.0)),
        "hi-hi": ((2.8, 8.4), (4.0, 12.0)),
    }
    assert set(CHIRPLET_CONFIGS) == set(released) | {f"{k}-paper" for k in paper}
    for name, (am, fm) in released.items():
        assert CHIRPLET_CONFIGS[name] == ChirpletRanges(am_hz=am, fm_oct_per_s=fm)
    for name, (am, fm) in paper.items():
        assert CHIRPLET_CONFIGS[f"{name}-paper"] == ChirpletRanges(am_hz=am, fm_oct_per_s=fm)
    assert ChirpletSynth().ranges == CHIRPLET_CONFIGS["lo-lo"]  # default = released
    assert ChirpletSynth("hi-hi-paper").ranges.fm_oct_per_s == (4.0, 12.0)


def test_log_uniform_mappings():
    synth = ChirpletSynth("hi-med")
    theta = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    torch.testing.assert_close(
        synth.am_hz(theta), torch.tensor([3.9598, math.sqrt(3.9598 * 7.9196), 7.9196], dtype=torch.float64)
    )
    torch.testing.assert_close(synth.fm_oct_per_s(theta), torch.tensor([2.0, math.sqrt(8.0), 4.0], dtype=torch.float64))


def test_interface_shape_and_determinism():
    synth = ChirpletSynth("lo-med", **SMOKE)
    assert isinstance(synth, Synth) and synth.theta_names == ("am", "fm")
    theta = torch.tensor([[0.2, 0.8], [0.2, 0.8]])
    x = synth(theta, torch.tensor([1, 2]))
    assert x.shape == (2, 1, 4096) and x.dtype == torch.float32
    assert torch.equal(x, synth(theta, torch.tensor([1, 2])))
    assert not torch.allclose(x[0], x[1])  # different shifts


def test_shift_draws():
    synth = ChirpletSynth(**SMOKE)
    shifts = synth.draw_shift(torch.arange(400))
    assert shifts.dtype == torch.long and shifts.shape == (400,)
    assert shifts.min() >= -512 and shifts.max() <= 512
    assert shifts.min() < -256 and shifts.max() > 256  # covers the range
    assert torch.equal(shifts, synth.draw_shift(torch.arange(400)))


def test_shift_rolls_and_zeroes_wrapped_samples_same_for_any_theta():
    synth = ChirpletSynth("lo-med", **SMOKE)
    seeds = torch.arange(40)
    shifts = synth.draw_shift(seeds)
    pos, neg = int(torch.argmax(shifts)), int(torch.argmin(shifts))
    assert shifts[pos] > 0 > shifts[neg]
    for theta_row in ([0.1, 0.9], [0.8, 0.3]):  # δ must not depend on θ
        theta = torch.tensor([theta_row, theta_row])
        y = synth(theta, seeds[[pos, neg]])[:, 0]
        base = synth.unshifted(theta)
        for k, d in enumerate((int(shifts[pos]), int(shifts[neg]))):
            expected = torch.zeros(4096)
            if d > 0:
                expected[d:] = base[k, :-d]
            else:
                expected[:d] = base[k, -d:]
            assert torch.equal(y[k], expected)


def test_instantaneous_frequency_by_zero_crossings():
    """Paper scale, δ = 0: the carrier's zero crossings in t ∈ [0.05, 0.6] s number 2·Δφ with
    φ(t) = f0/(fm ln2)·(2^(fm t) − 1), i.e. instantaneous frequency f0·2^(fm t)."""
    synth = ChirpletSynth("lo-lo", max_shift=0)
    x = synth(torch.tensor([[0.0, 0.0]], dtype=torch.float64), torch.tensor([0]))[0, 0]
    fm, f0, sr, N = 0.5, 512.0, 8192, 32768
    n1, n2 = N // 2 + int(0.05 * sr), N // 2 + int(0.6 * sr)
    seg = x[n1:n2]
    crossings = int(((seg[:-1] > 0) != (seg[1:] > 0)).sum())

    def phi(t):
        return f0 / (fm * math.log(2)) * (2 ** (fm * t) - 1)

    expected = 2 * (phi((n2 - 1 - N / 2) / sr) - phi((n1 - N / 2) / sr))
    assert abs(crossings - expected) <= 2
    assert abs(crossings - 2 * f0 * 0.55) > 20  # an unmodulated tone fails


def test_samples_match_the_closed_form():
    """x[n] = sin(2πφ(t))·fm·exp(−(n−N/2)²/(2σ²))·sin(π·am·t), σ = 0.1·2·sr/fm (float64)."""
    synth = ChirpletSynth("lo-med", max_shift=0)
    theta_am, theta_fm = 0.3, 0.6
    x = synth(torch.tensor([[theta_am, theta_fm]], dtype=torch.float64), torch.tensor([0]))[0, 0]
    am = 2 ** (theta_am * (math.log2(1.9799) - math.log2(0.9899)) + math.log2(0.9899))
    fm = 2 ** (1 + theta_fm)  # 2..4 oct/s, log-uniform
    sigma = 0.1 * 2 * 8192 / fm
    for n in (16384 + 37, 16384 + 300, 16384 - 555, 16384 + int(sigma), 16384 - 2 * int(sigma)):
        t = (n - 16384) / 8192
        phi = 512 / (fm * math.log(2)) * (2 ** (fm * t) - 1)
        expected = (
            math.sin(2 * math.pi * phi) * fm * math.exp(-0.5 * ((n - 16384) / sigma) ** 2) * math.sin(math.pi * am * t)
        )
        assert float(x[n]) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_window_and_envelope():
    """At the centre the envelope sin(π·am·t) is zero; the Gaussian std is 0.2·sr/fm samples."""
    synth = ChirpletSynth("lo-lo", max_shift=0)
    x = synth.unshifted(torch.tensor([[0.0, 1.0]], dtype=torch.float64))[0]
    assert float(x[32768 // 2]) == 0.0
    # fm = 1 oct/s: std = 1638.4 samples; beyond 8 std everything is ~0
    assert float(x[: 16384 - 8 * 1639].abs().max()) < 1e-12


def test_gradients_reach_both_parameters():
    synth = ChirpletSynth("lo-med", **SMOKE)
    seed = torch.tensor([3, 4])
    target = synth(torch.tensor([[0.3, 0.2], [0.7, 0.9]]), seed)
    theta = torch.tensor([[0.6, 0.4], [0.4, 0.6]], requires_grad=True)
    (synth(theta, seed) - target).pow(2).sum().backward()
    assert torch.isfinite(theta.grad).all()
    assert (theta.grad.abs() > 1e-6).all()


def test_paper_scale_hi_hi_is_finite_with_gradients():
    synth = ChirpletSynth("hi-hi")
    theta = torch.tensor([[1.0, 1.0]], requires_grad=True)
    x = synth(theta, torch.tensor([9]))
    x.pow(2).sum().backward()
    assert torch.isfinite(x).all() and torch.isfinite(theta.grad).all()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(ranges="lo-hi"), "ranges"),
        (dict(max_shift=4096), "max_shift"),
        (dict(max_shift=-1), "max_shift"),
        (dict(f0_hz=1024.0), "f0_hz"),
        (dict(bw_oct=0.0), "bw_oct"),
        (dict(ranges=ChirpletRanges(am_hz=(1.0, 2.0), fm_oct_per_s=(1.0, 80.0))), "fm_oct_per_s"),
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ChirpletSynth(**{**SMOKE, **kwargs})


def test_inverted_ranges_rejected():
    with pytest.raises(ValueError, match="am_hz"):
        ChirpletRanges(am_hz=(2.0, 1.0), fm_oct_per_s=(0.5, 1.0))
    with pytest.raises(ValueError, match="fm_oct_per_s"):
        ChirpletRanges(am_hz=(1.0, 2.0), fm_oct_per_s=(0.0, 1.0))

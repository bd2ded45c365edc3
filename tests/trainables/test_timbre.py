"""The six timbre metrics (``trainables.timbre``): frame features of known signals, transient/decay split,
onset alignment, argument checks."""

import math

import pytest
import torch

from trainables.perceptual import PerceptualMetrics
from trainables.timbre import TimbreFeatures, a_weighting, hz_to_mel

SR = 44100
ONSET = 2048


def burst_then_tone(tone_hz: float, burst: str = "noise", seed: int = 0) -> torch.Tensor:
    """(1, 1, SR): silence, a 40 ms loud burst at ONSET, silence, then from 60 ms after the onset a
    quiet tone at ``tone_hz`` for 0.4 s."""
    x = torch.zeros(SR, dtype=torch.float64)
    n_burst, start, n_tone = int(0.040 * SR), ONSET + int(0.060 * SR), int(0.4 * SR)
    if burst == "noise":
        b = torch.randn(n_burst, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)).clamp(-3, 3) / 6
    else:
        b = 0.5 * torch.sin(2 * math.pi * 5000 * torch.arange(n_burst, dtype=torch.float64) / SR)
    x[ONSET : ONSET + n_burst] = b
    x[ONSET] = 0.5
    x[start : start + n_tone] = 0.1 * torch.sin(2 * math.pi * tone_hz * torch.arange(n_tone, dtype=torch.float64) / SR)
    return x.view(1, 1, SR)


def test_frame_features_of_known_signals():
    tf = TimbreFeatures(onset=0)
    t = torch.arange(SR, dtype=torch.float64) / SR
    sine = torch.sin(2 * math.pi * 1000 * t).view(1, 1, SR)
    f, centres = tf.frames(sine)
    mid = slice(5, -5)
    assert f["loudness"][0, mid].mean().item() == pytest.approx(-3.01, abs=0.05)  # full-scale 1 kHz sine
    assert f["centroid"][0, mid].mean().item() == pytest.approx(float(hz_to_mel(torch.tensor(1000.0))), rel=0.02)
    assert f["flatness"][0, mid].mean().item() < -40
    noise = torch.randn(1, 1, SR, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 0.1
    fn, _ = tf.frames(noise)
    assert fn["flatness"][0, mid].mean().item() == pytest.approx(-2.5, abs=0.5)  # e^−γ of a periodogram
    fs, _ = tf.frames(torch.zeros(1, 1, SR))
    assert torch.all(fs["loudness"] == -80.0)  # floor
    assert torch.equal(centres, torch.arange(centres.numel()) * 256)
    assert float(a_weighting(torch.tensor(1000.0))) == pytest.approx(1.0, abs=1e-3)
    assert 20 * math.log10(float(a_weighting(torch.tensor(100.0)))) == pytest.approx(-19.1, abs=0.1)


def test_transient_and_decay_are_measured_separately():
    tf = TimbreFeatures(onset=ONSET)
    x = burst_then_tone(300.0)
    other_decay = tf(burst_then_tone(3000.0), x)  # same transient, different decay
    for name in ("loudness", "centroid", "flatness"):
        assert float(other_decay[f"transient_{name}_l1"]) == 0.0
    assert float(other_decay["decay_centroid_l1"]) > 1000  # mel(3000) − mel(300) ≈ 1300
    assert float(other_decay["decay_flatness_l1"]) > 0
    other_transient = tf(burst_then_tone(300.0, burst="sine"), x)  # different transient, same decay
    for name in ("loudness", "centroid", "flatness"):
        assert float(other_transient[f"decay_{name}_l1"]) == 0.0
    assert float(other_transient["transient_flatness_l1"]) > 10 and float(other_transient["transient_centroid_l1"]) > 50


def test_detected_onsets_make_the_timbre_metrics_shift_invariant():
    x = burst_then_tone(300.0)
    shifted = torch.roll(x, 300, dims=-1)
    detect = TimbreFeatures()(shifted, x)
    assert all(float(v) == pytest.approx(0.0, abs=1e-9) for v in detect.values()), detect
    fixed = TimbreFeatures(onset=ONSET)(shifted, x)
    assert float(fixed["transient_loudness_l1"]) > 1


def test_timbre_argument_checks():
    for kwargs, arg in [
        (dict(n_fft=1023), "n_fft"),
        (dict(hop=0), "hop"),
        (dict(transient_ms=0), "transient_ms"),
        (dict(onset="first"), "onset"),
        (dict(floor_db=10), "floor_db"),
        (dict(onset_threshold=0), "onset_threshold"),
    ]:
        with pytest.raises(ValueError, match=arg):
            TimbreFeatures(**kwargs)
    with pytest.raises(ValueError, match="no transient or no decay"):
        TimbreFeatures(transient_ms=5000)(torch.zeros(1, 1, SR), torch.zeros(1, 1, SR))
    with pytest.raises(ValueError, match="shape"):
        PerceptualMetrics().per_example(torch.zeros(2, SR), torch.zeros(2, SR))

"""TR-808 evaluation metrics (paper Tables 4, 8, 9): timbre features, transient/decay split, MSS,
pluggable JTFS, Fréchet distance and pluggable FAD embedding."""

import math

import numpy as np
import pytest
import torch
from scipy import linalg

from analysis import schema
from trainables.baselines import MSSLogLinearLoss
from trainables.perceptual import (
    METRICS,
    TIMBRE_METRICS,
    AudioEmbedding,
    PerceptualMetrics,
    TimbreFeatures,
    a_weighting,
    embedding_statistics,
    frechet_audio_distance,
    frechet_distance,
    hz_to_mel,
    load_embedding,
)
from trainables.synths.tr808 import TR808Synth

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


@pytest.fixture(scope="module")
def pair():
    synth = TR808Synth(max_shift=0)
    g = torch.Generator().manual_seed(0)
    x = synth(torch.rand(4, 14, generator=g), torch.arange(4))
    x_hat = synth(torch.rand(4, 14, generator=g), torch.arange(4) + 100)
    return x_hat, x


def test_metric_names_match_the_schema_columns():
    assert len(METRICS) == 9 and TIMBRE_METRICS == (
        "transient_loudness_l1",
        "transient_centroid_l1",
        "transient_flatness_l1",
        "decay_loudness_l1",
        "decay_centroid_l1",
        "decay_flatness_l1",
    )
    assert tuple(schema.tr808_column(m) for m in METRICS) == schema.TR808_METRICS


def test_zero_for_identical_positive_and_symmetric_otherwise(pair):
    x_hat, x = pair
    metrics = PerceptualMetrics()
    same = metrics.per_example(x, x)
    assert set(same) == {"mss_log_lin", *TIMBRE_METRICS}
    assert all(v.shape == (4,) and torch.all(v == 0) for v in same.values()), same
    diff = metrics.per_example(x_hat, x)
    assert all(torch.all(v > 0) for v in diff.values()), diff
    swapped = metrics.per_example(x, x_hat)
    for k in TIMBRE_METRICS:
        torch.testing.assert_close(diff[k], swapped[k])


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


def test_mss_per_example_matches_the_loss(pair):
    x_hat, x = pair
    values = PerceptualMetrics().per_example(x_hat, x)["mss_log_lin"]
    loss = MSSLogLinearLoss(SR)
    for i in range(4):
        assert float(values[i]) == pytest.approx(float(loss(x_hat[i : i + 1], x[i : i + 1])), rel=1e-6)
    assert float(values.mean()) == pytest.approx(float(loss(x_hat, x)), rel=1e-4)


def test_pluggable_jtfs_and_fad_accumulate_over_batches(pair):
    x_hat, x = pair

    def l1(a, b):  # stand-in for a JTFSLoss module
        return (a - b).abs().mean()

    def embed(a):  # (B, 3)
        return torch.stack([a.std(-1), a.abs().amax(-1), a.abs().mean(-1)], -1)[:, 0]

    metrics = PerceptualMetrics(jtfs=l1, fad_embedding=embed)
    assert metrics.names == METRICS
    first = metrics.update(x_hat[:2], x[:2])
    second = metrics.update(x_hat[2:], x[2:])
    out = metrics.compute()
    assert set(out) == set(METRICS)
    for k in first:
        assert out[k] == pytest.approx(float(torch.cat([first[k], second[k]]).mean()))
    assert out["jtfs"] == pytest.approx(float((x_hat - x).abs().mean(-1).mean()), rel=1e-5)
    assert out["fad"] == pytest.approx(frechet_audio_distance(embed(x_hat).double(), embed(x).double()))
    metrics.reset()
    with pytest.raises(ValueError, match="no batch"):
        metrics.compute()
    assert PerceptualMetrics(mss=False).names == TIMBRE_METRICS
    with pytest.raises(ValueError, match="jtfs=True builds the TR-808 JTFS"):
        PerceptualMetrics(8192, 8192, jtfs=True)
    with pytest.raises(ValueError, match="jtfs must be"):
        PerceptualMetrics(jtfs="yes")


# --- Fréchet distance -------------------------------------------------------------------------------
def test_frechet_distance_closed_forms():
    # 1-D: (μ1 − μ2)² + σ1² + σ2² − 2σ1σ2 = (μ1 − μ2)² + (σ1 − σ2)²
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)
    # 2-D diagonal, hand-worked: |Δμ|² = 1 + 4, tr = (1 + 4) + (4 + 9) − 2(1·2 + 2·3) = 2 → 7
    assert frechet_distance([0, 0], np.diag([1.0, 4.0]), [1, 2], np.diag([4.0, 9.0])) == pytest.approx(7.0)
    # general (non-commuting) covariances against scipy.linalg.sqrtm
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    s1, s2 = a @ a.T + 0.1 * np.eye(3), b @ b.T + 0.1 * np.eye(3)
    mu1, mu2 = rng.normal(size=3), rng.normal(size=3)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * np.real(linalg.sqrtm(s1 @ s2)))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="shape"):
        frechet_distance([0, 0], np.eye(3), [0, 0], np.eye(2))


def test_frechet_audio_distance_from_embedding_sets():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 2)) * [1.0, 2.0]
    b = rng.normal(size=(400, 2)) * [2.0, 3.0] + [1.0, 2.0]
    mu_a, cov_a = embedding_statistics(a)
    np.testing.assert_allclose(cov_a, np.cov(a, rowvar=False))
    assert frechet_audio_distance(a, b) == pytest.approx(frechet_distance(mu_a, cov_a, *embedding_statistics(b)))
    assert frechet_audio_distance(a, b) == pytest.approx(7.0, abs=0.8)  # population value 7
    assert frechet_audio_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="n >= 2"):
        embedding_statistics(a[:1])


class _Embed(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x[:, 0, : (x.shape[-1] // 4) * 4].reshape(x.shape[0], -1, 4)  # (B, T, 4)
        return self.proj(frames)  # (B, T, 3) frame embeddings


def test_load_embedding_from_a_local_checkpoint(tmp_path):
    torch.manual_seed(0)
    module = _Embed()
    x = torch.randn(2, 1, 64)
    expected = module(x).reshape(-1, 3).double()
    scripted = tmp_path / "embed.pt"
    torch.jit.script(module).save(str(scripted))
    emb = load_embedding(scripted, sample_rate=SR, input_rate=SR)
    torch.testing.assert_close(emb(x), expected)
    weights = tmp_path / "embed_state.pt"
    torch.save(module.state_dict(), weights)
    torch.testing.assert_close(load_embedding(weights, sample_rate=SR, input_rate=SR, factory=_Embed)(x), expected)
    torch.testing.assert_close(load_embedding(module, sample_rate=SR, input_rate=SR)(x), expected)
    # resampled to the embedding's rate first (44.1 kHz → 22.05 kHz halves the frames)
    assert AudioEmbedding(module, 22050, SR)(torch.randn(2, 1, 64)).shape == (2 * 8, 3)
    with pytest.raises(ValueError, match="does not exist"):
        load_embedding(tmp_path / "missing.pt", sample_rate=SR)
    with pytest.raises(ValueError, match="not a TorchScript file"):
        load_embedding(weights, sample_rate=SR)
    with pytest.raises(ValueError, match="must return"):
        AudioEmbedding(lambda a: a.sum(), SR, SR)(x)

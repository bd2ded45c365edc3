"""TR-808 evaluation metrics (paper Tables 4, 8, 9) as a set: names, zero and symmetry, MSS, pluggable JTFS and
FAD accumulated over batches. (The timbre features: ``test_timbre.py``; the Fréchet distance: ``test_fad.py``.)"""

import pytest
import torch

from analysis import schema
from trainables.baselines import MSSLogLinearLoss
from trainables.perceptual import METRICS, TIMBRE_METRICS, PerceptualMetrics, frechet_audio_distance
from trainables.synths.tr808 import TR808Synth

SR = 44100


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

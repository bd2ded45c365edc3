"""CQT front end and Spectral2DCNN (notes §9.4; paper Tables 10–12)."""

import math

import pytest
import torch

from trainables.encoder import CQTFrontEnd, Spectral2DCNN, count_parameters, default_fmin

TR808 = dict(
    sample_rate=44100,
    n_samples=44100,
    n_octaves=9,
    latent=128,
    dropout=0.25,
    pools=((2, 2), (2, 2), (2, 3), (3, 3), (3, 3)),
)
SMOKE = dict(sample_rate=2048, n_samples=4096, hop_length=64, channels=4, latent=8)


def test_default_fmin_rule():
    assert default_fmin(8192, 5) == pytest.approx(102.4)
    assert default_fmin(44100, 9) == pytest.approx(44100 * 0.4 / 512)
    # the 9th octave of the TR-808 CQT ends below Nyquist (top bin at 0.4·sr·2^(-1/12))
    assert default_fmin(44100, 9) * 2 ** (107 / 12) < 22050


def test_paper_encoder_parameter_count_sizes_and_forward():
    torch.manual_seed(0)
    enc = Spectral2DCNN(n_params=2)
    assert count_parameters(enc) == (604_106, 28)
    assert enc.block_input_sizes == [(60, 129), (30, 64), (15, 32), (7, 16), (3, 8)]
    assert enc.output_size == (1, 4)
    assert enc.cqt.fmin == pytest.approx(102.4)
    enc.eval()
    x = torch.randn(1, 1, 32768) / 100
    theta_hat = enc(x)
    assert theta_hat.shape == (1, 2)
    assert ((theta_hat > 0) & (theta_hat < 1)).all()
    torch.testing.assert_close(enc(x), theta_hat)  # eval: deterministic


def test_tr808_encoder_parameter_count_and_input_size():
    enc = Spectral2DCNN(n_params=14, **TR808)
    assert count_parameters(enc) == (724_642, 88)
    assert enc.block_input_sizes[0] == (108, 173)
    assert enc.output_size == (1, 1)
    assert enc.cqt.fmin == pytest.approx(34.453125)
    theta_hat = enc.eval()(torch.randn(1, 1, 44100) / 100)  # the real CQT is 108×173
    assert theta_hat.shape == (1, 14)


def test_cqt_front_end_shape_no_grad_not_trainable_not_saved():
    cqt = CQTFrontEnd(sample_rate=2048)
    assert list(cqt.parameters()) == []
    assert cqt.state_dict() == {}  # kernels are rebuilt, not saved
    x = torch.randn(2, 1, 4096, requires_grad=True)
    U = cqt(x)
    assert U.shape == (2, 60, 4096 // 256 + 1)
    assert not U.requires_grad
    assert torch.equal(cqt(torch.zeros(1, 1, 4096)), torch.zeros(1, 60, 17))  # log1p(0) = 0
    assert (U >= 0).all()


def test_cqt_peak_at_the_tone_bin():
    """A sinusoid at the k-th CQT centre frequency fmin·2^(k/12) peaks in bin k."""
    cqt = CQTFrontEnd(sample_rate=8192)
    t = torch.arange(32768) / 8192
    for k in (5, 30, 55):
        f = 102.4 * 2 ** (k / 12)
        U = cqt(torch.sin(2 * math.pi * f * t).view(1, 1, -1))
        assert int(U[0, :, 20:-20].mean(-1).argmax()) == k


def test_small_variant_trains():
    torch.manual_seed(0)
    enc = Spectral2DCNN(n_params=3, **SMOKE)
    assert enc.block_input_sizes[0] == (60, 65)
    assert count_parameters(enc)[1] == 10 + 5 + 3 + 3 * 5
    x = torch.randn(4, 1, 4096)
    theta_hat = enc(x)
    assert theta_hat.shape == (4, 3)
    theta_hat.sum().backward()
    grads = [p.grad for p in enc.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert enc.blocks[0][1].weight.grad.abs().sum() > 0  # reaches the first conv


def test_forward_features_matches_forward():
    torch.manual_seed(0)
    enc = Spectral2DCNN(n_params=2, **SMOKE).eval()
    x = torch.randn(2, 1, 4096)
    torch.testing.assert_close(enc.forward_features(enc.cqt(x)), enc(x))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(hop_length=256), "pools"),  # 17 frames cannot take 5 (2,2) pools
        (dict(pools=((2, 2),) * 4), "pools"),  # one pool per block
        (dict(n_samples=1000, n_blocks=2, pools=((2, 2),) * 2), "n_samples"),  # shorter than padding
        (dict(dropout=1.0), "dropout"),
        (dict(latent=1), "latent"),
        (dict(n_params=0), "n_params"),
        (dict(fmin=40.0, n_octaves=6), "fmin"),  # top bin above Nyquist
    ],
)
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Spectral2DCNN(**{"n_params": 2, **SMOKE, **kwargs})


def test_bad_input_shape():
    enc = Spectral2DCNN(n_params=2, **SMOKE)
    with pytest.raises(ValueError, match="x must have shape"):
        enc(torch.randn(2, 4096))
    with pytest.raises(ValueError, match="x must have shape"):
        enc(torch.randn(2, 1, 2048))

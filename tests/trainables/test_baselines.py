"""Baseline losses: MSS variants (auraloss) and P-loss."""

import numpy as np
import pytest
import torch

from trainables.baselines import (
    BASELINE_LOSSES,
    MSSLinearLoss,
    MSSLogLinearLoss,
    MSSRandomLoss,
    PLoss,
    clip_resolutions,
    largest_fft_size,
    make_baseline_loss,
)

N = 2048


def signals(seed=0, n=N, batch=2):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n) / 2048
    x = torch.sin(2 * torch.pi * 200 * t).repeat(batch, 1, 1) + 0.1 * torch.randn(batch, 1, n, generator=g)
    return x, x + 0.3 * torch.randn(batch, 1, n, generator=g)


def stft_mag(x, fft, hop, win):
    spec = torch.stft(x.view(-1, x.shape[-1]), fft, hop, win, torch.hann_window(win), return_complex=True)
    return torch.sqrt(torch.clamp(spec.real**2 + spec.imag**2, min=1e-8))


@pytest.mark.parametrize("name", sorted(BASELINE_LOSSES))
def test_zero_on_equal_positive_otherwise_and_gradients(name):
    loss = make_baseline_loss(name, sample_rate=2048, n_samples=N)
    x, y = signals()
    assert float(loss(x, x)) == 0.0
    x_hat = y.clone().requires_grad_(True)
    value = loss(x_hat, x)
    assert value.ndim == 0 and float(value.detach()) > 0
    value.backward()
    assert torch.isfinite(x_hat.grad).all() and x_hat.grad.abs().sum() > 0


def test_mss_linear_and_log_linear_values_by_hand():
    x, y = signals(1)
    ffts = [f for f in (2048, 1024, 512, 256, 128, 64) if f <= N // 2]  # clipped at N = 2048
    lin, log = [], []
    for fft in ffts:
        a, b = stft_mag(y, fft, fft // 4, fft), stft_mag(x, fft, fft // 4, fft)
        lin.append((a - b).abs().mean())
        log.append((a.log() - b.log()).abs().mean())
    lin, log = torch.stack(lin).mean(), torch.stack(log).mean()
    torch.testing.assert_close(MSSLinearLoss(N)(y, x), lin)
    torch.testing.assert_close(MSSLogLinearLoss(N)(y, x), lin + log)


def test_resolutions_are_clipped_for_short_signals():
    assert largest_fft_size(32768) == 16384 and largest_fft_size(300) == 128
    paper = MSSLinearLoss(32768)
    assert paper.fft_sizes == (2048, 1024, 512, 256, 128, 64)
    assert paper.hop_sizes == (512, 256, 128, 64, 32, 16)
    short = MSSLinearLoss(256)
    assert short.fft_sizes == (128, 64) and short.hop_sizes == (32, 16)
    # 1024 and 2048 both clip to (512, 60, 300) and are merged; the native 512 one stays
    assert clip_resolutions([1024, 2048, 512], [120, 240, 50], [600, 1200, 240], 1024) == (
        [512, 512],
        [60, 50],
        [300, 240],
    )
    x, y = signals(n=256)
    for name in BASELINE_LOSSES:
        assert float(make_baseline_loss(name, 2048, 256)(y, x)) > 0


def test_mss_random_reproducible_resumable_and_in_range():
    x, y = signals(2)
    a, b = MSSRandomLoss(N, seed=3), MSSRandomLoss(N, seed=3)
    np_state = np.random.get_state()[1].copy()
    values_a = [float(a(y, x)) for _ in range(4)]
    assert np.array_equal(np_state, np.random.get_state()[1])  # numpy global RNG untouched
    values_b = [float(b(y, x)) for _ in range(2)]
    assert values_a[:2] == values_b
    assert len(set(values_a)) > 1  # new resolutions every call
    saved = b.state_dict()
    c = MSSRandomLoss(N, seed=99)
    c.load_state_dict(saved)  # exact resume
    assert [float(c(y, x)) for _ in range(2)] == values_a[2:]
    for fft, hop, win, window in a.draw_resolutions() + a.last_resolutions:
        assert 16 <= fft <= largest_fft_size(N) // 2 and 1 <= hop < fft and win <= fft
        assert window in MSSRandomLoss.WINDOWS


def test_p_loss():
    theta_hat = torch.tensor([[0.2, 0.5], [1.0, 0.0]], requires_grad=True)
    theta = torch.tensor([[0.1, 0.5], [0.5, 0.5]])
    value = PLoss()(theta_hat, theta)
    assert float(value.detach()) == pytest.approx((0.01 + 0 + 0.25 + 0.25) / 4)
    value.backward()
    torch.testing.assert_close(theta_hat.grad, (theta_hat - theta).detach() / 2)
    assert float(PLoss()(theta, theta)) == 0.0
    with pytest.raises(ValueError, match="theta_hat and theta"):
        PLoss()(theta, theta[:, :1])


def test_factory_and_input_errors():
    with pytest.raises(ValueError, match="mss-linear.*mss-log-linear.*mss-random.*mss-revisited"):
        make_baseline_loss("mss", 2048, N)
    with pytest.raises(ValueError, match="sample_rate"):
        make_baseline_loss("mss-linear", 0, N)
    with pytest.raises(ValueError, match="n_samples"):
        make_baseline_loss("mss-linear", 2048, 2)
    with pytest.raises(ValueError, match="max_fft_size"):
        MSSRandomLoss(N, max_fft_size=4096)
    x, _ = signals()
    with pytest.raises(ValueError, match="x_hat and x"):
        make_baseline_loss("mss-log-linear", 2048, N)(x, x[..., :1024])

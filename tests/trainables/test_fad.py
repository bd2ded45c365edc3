"""Fréchet distance and FAD (``trainables.fad``): closed forms, scipy's ``sqrtm``, embedding sets, local
embedding checkpoints."""

import numpy as np
import pytest
import torch
from scipy import linalg

from trainables.fad import (
    AudioEmbedding,
    embedding_statistics,
    frechet_audio_distance,
    frechet_distance,
    load_embedding,
)

SR = 44100


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

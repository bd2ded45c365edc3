"""Fréchet Audio Distance (Kilgour et al. 2019) for the TR-808 experiment (paper §4.4, Tables 4, 8, 9).

``frechet_distance`` between two Gaussians, ``frechet_audio_distance`` between two embedding sets, and a
pluggable embedding (``AudioEmbedding``, ``load_embedding``): the paper's embedding (EnCodec, Défossez et
al. 2023; VGGish in Kilgour et al.) is a pretrained network that cannot be downloaded here, so FAD is off
unless a local one is given. ``trainables.perceptual`` adds FAD to the other metrics of the tables.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from trainables.audio_io import resample

__all__ = ["AudioEmbedding", "embedding_statistics", "frechet_audio_distance", "frechet_distance", "load_embedding"]


def embedding_statistics(embeddings) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (n, d) → (mean (d,), covariance (d, d), ddof = 1) in float64; n >= 2."""
    e = np.asarray(embeddings.detach().cpu() if isinstance(embeddings, Tensor) else embeddings, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 2:
        raise ValueError(f"embeddings must have shape (n >= 2, d), got {e.shape}")
    if not np.all(np.isfinite(e)):
        raise ValueError("embeddings contain non-finite values")
    return e.mean(axis=0), np.atleast_2d(np.cov(e, rowvar=False))


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2):
    ``|μ1 − μ2|² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½)``.

    ``tr((Σ1Σ2)^½)`` is computed as ``Σ_i sqrt(λ_i)`` of the symmetric PSD matrix
    ``Σ1^½ Σ2 Σ1^½`` (same eigenvalues as Σ1Σ2) with symmetric eigendecompositions — no complex
    round-off as with a general ``sqrtm``; negative round-off eigenvalues are clipped to 0.
    Shapes: mu (d,), sigma (d, d), symmetric PSD. Returns a float >= 0 (clipped at 0).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(
            f"expected mu1, mu2 of shape (d,) and sigma1, sigma2 of shape (d, d); got "
            f"{mu1.shape}, {s1.shape}, {mu2.shape}, {s2.shape}"
        )
    r1 = _psd_sqrt(s1)
    m = r1 @ s2 @ r1
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(eig, 0, None)).sum())
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)
    return max(value, 0.0)


def frechet_audio_distance(embeddings_a, embeddings_b) -> float:
    """FAD between two embedding sets (n_a, d) and (n_b, d) (Kilgour et al. 2019)."""
    return frechet_distance(*embedding_statistics(embeddings_a), *embedding_statistics(embeddings_b))


class AudioEmbedding:
    """A pluggable audio embedding for FAD: ``fn(audio (B, 1, M) at sample_rate)`` → (B, D) clip
    embeddings or (B, T, D) frame embeddings (each frame is one sample of the distribution, as
    in Kilgour et al.). Input audio at ``input_rate`` is resampled to ``sample_rate``
    (``scipy.signal.resample_poly``) first."""

    def __init__(self, fn: Callable[[Tensor], Tensor], sample_rate: int, input_rate: int = 44100) -> None:
        if not callable(fn):
            raise ValueError(f"fn must be callable, got {fn!r}")
        self.fn, self.sample_rate, self.input_rate = fn, int(sample_rate), int(input_rate)

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        """(B, 1, N) at ``input_rate`` → (B·T, D) float64 embeddings on the CPU."""
        if self.sample_rate != self.input_rate:
            x = torch.from_numpy(resample(x.detach().cpu().double().numpy(), self.input_rate, self.sample_rate)).float()
        e = self.fn(x)
        if not isinstance(e, Tensor) or e.ndim not in (2, 3):
            raise ValueError(f"the embedding must return (B, D) or (B, T, D), got {tuple(getattr(e, 'shape', ()))}")
        return e.reshape(-1, e.shape[-1]).detach().cpu().double()


def load_embedding(
    source: str | Path | Callable,
    *,
    sample_rate: int,
    input_rate: int = 44100,
    factory: Callable[[], nn.Module] | None = None,
) -> AudioEmbedding:
    """An ``AudioEmbedding`` from a local source (nothing is downloaded):

    * a Python callable (e.g. an ``nn.Module``) — used as is;
    * a TorchScript file (``torch.jit.save``) — ``torch.jit.load``;
    * a ``state_dict`` file — needs ``factory()`` returning the architecture; loaded with
      ``torch.load(weights_only=True)``.

    ``sample_rate`` is the embedding's input rate (EnCodec 24 kHz, VGGish 16 kHz). Modules are put
    in eval mode.
    """
    if callable(source) and not isinstance(source, (str, Path)):
        if isinstance(source, nn.Module):
            source.eval()
        return AudioEmbedding(source, sample_rate, input_rate)
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"embedding checkpoint {str(path)!r} does not exist")
    if factory is None:
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # noqa: BLE001 - re-raised as ValueError naming the file
            raise ValueError(
                f"{path}: not a TorchScript file ({exc}); for a state_dict pass factory=<callable returning the module>"
            ) from None
    else:
        module = factory()
        try:
            module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as exc:  # noqa: BLE001 - re-raised as ValueError naming the file
            raise ValueError(f"{path}: cannot load the state_dict into factory()'s module ({exc})") from None
    module.eval()
    return AudioEmbedding(module, sample_rate, input_rate)

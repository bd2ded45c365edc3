"""Evaluation metrics of the TR-808 experiment (paper §4.4, Tables 4, 8, 9).

Nine metrics per run, each a mean over the test set of a per-example distance between a
reconstruction ``x̂`` and its target ``x`` (both (B, 1, N) at 44.1 kHz), except FAD (one value per
set):

* ``mss_log_lin`` — MSS log + linear distance (``trainables.baselines.MSSLogLinearLoss``, the
  DDSP configuration), per example;
* ``jtfs`` — the full-JTFS distance (``trainables.core.JTFSLoss`` at the TR-808 settings of Table
  12 with ρ = log1p, the training loss of the JTFS arm), per example. **Off by default**: it costs
  about 28 s per example pair on one CPU thread (measured; the first-order + 483 joint paths of a
  44 100-sample signal), i.e. about an hour for a 128-example test set. Pass ``jtfs=True`` or any
  ``loss(x_hat, x)`` module;
* ``fad`` — Fréchet Audio Distance (Kilgour et al. 2019) between the embeddings of the
  reconstructions and of the targets. **Off by default**: the paper's embedding (EnCodec,
  Défossez et al. 2023; VGGish in Kilgour et al.) is a pretrained network that cannot be
  downloaded here. The Fréchet distance is implemented (``frechet_distance``); plug an embedding
  with ``load_embedding(path_or_callable, sample_rate=...)``;
* six timbre features after Shier et al. (2024), each an L1 between frame-wise feature curves,
  computed separately on the **transient** and the **decay** portion of the sound:
  ``{transient,decay}_{loudness,centroid,flatness}_l1`` (see ``TimbreFeatures``).

Definitions of the six (the paper and Shier et al. leave these details open; choices made here):

* **Onset and portions.** Each sound is aligned on its own onset (``onset="detect"``: the first
  sample with ``|x| >= 0.1·max|x|``, ``trainables.oneshots.detect_onset``), so a pure time shift
  does not change the timbre metrics; ``onset=<int>`` uses a fixed sample for every sound instead
  (then misalignment is penalised). Frames of ``n_fft = 1024`` samples (23 ms, Hann) every
  ``hop = 256`` (5.8 ms) are centred at ``k·hop`` samples after the onset, ``k = 0, 1, …``. The
  **transient** = frames centred in the first ``transient_ms = 50`` ms after the onset (the
  attack, click and pitch sweep of an 808 voice), the **decay** = every later frame up to the end
  of the 1-s window.
* **Loudness** (dB): A-weighted frame power (IEC 61672 A-curve applied to the power spectrum,
  normalised so a full-scale 1 kHz sine reads −3 dB), ``10·log10``, floored at ``floor_db = −80``.
  A-weighted power is a simple perceptual loudness proxy (Shier et al. use a perceptual loudness
  model; no pretrained or table-driven model is needed here).
* **Spectral centroid** (mel): the magnitude-weighted mean frequency of the frame, mapped to mel
  (``2595·log10(1 + f/700)``) — "perceptually scaled".
* **Spectral flatness** (dB): ``10·log10(geometric mean / arithmetic mean)`` of the frame's power
  spectrum (+1e-10), <= 0 dB (0 dB = white).
* **L1.** Loudness: mean over the portion's frames of ``|L̂_k − L_k|`` (dB). Centroid and flatness
  are **loudness-weighted**: ``Σ_k w_k |ĉ_k − c_k| / Σ_k w_k`` with ``w_k = max(L_k, L̂_k) − floor_db``
  (how far the louder of the two frames is above the floor), so inaudible frames, whose centroid
  and flatness are meaningless, do not count; 0 when both sounds are silent in the portion.

Every distance is 0 for identical inputs and symmetric in (x̂, x).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from trainables.audio_io import resample
from trainables.baselines import MSSLogLinearLoss
from trainables.core import NAMED_SETTINGS, JTFSLoss
from trainables.oneshots import detect_onset
from trainables.synths.tr808 import shift_and_zero

PORTIONS = ("transient", "decay")
FEATURES = ("loudness", "centroid", "flatness")
TIMBRE_METRICS = tuple(f"{p}_{f}_l1" for p in PORTIONS for f in FEATURES)
"""``transient_loudness_l1``, ``transient_centroid_l1``, ``transient_flatness_l1``, then decay_*."""
METRICS = ("mss_log_lin", "jtfs", "fad") + TIMBRE_METRICS
"""The nine metric names (per-run columns are ``analysis.schema.tr808_column(name)`` =
``"test_" + name``)."""


def _check_pair(x_hat: Tensor, x: Tensor) -> None:
    if (
        not isinstance(x_hat, Tensor)
        or not isinstance(x, Tensor)
        or x_hat.ndim != 3
        or x_hat.shape[1] != 1
        or x_hat.shape != x.shape
    ):
        raise ValueError(
            f"x_hat and x must both have shape (B, 1, N); got "
            f"{tuple(getattr(x_hat, 'shape', ()))} and {tuple(getattr(x, 'shape', ()))}"
        )


# --- timbre features ------------------------------------------------------------------------------
def a_weighting(freqs_hz: Tensor) -> Tensor:
    """IEC 61672 A-weighting as an amplitude gain (any shape), 1.0 at 1 kHz, 0 at DC."""
    f2 = freqs_hz.double() ** 2
    ra = (12194.0**2 * f2**2) / ((f2 + 20.6**2) * torch.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2))
    return ra * 10 ** (2.0 / 20)


def hz_to_mel(f: Tensor) -> Tensor:
    """HTK mel scale ``2595·log10(1 + f/700)``."""
    return 2595.0 * torch.log10(1.0 + f / 700.0)


class TimbreFeatures(nn.Module):
    """Frame-wise loudness / centroid / flatness and their transient/decay L1 (module docstring).

    Args:
        sample_rate: Hz (44100).
        n_fft, hop: frame length and hop in samples (1024, 256); ``n_fft`` even.
        transient_ms: length of the transient portion after the onset (50 ms).
        onset: ``"detect"`` (per-sound onset) or an int sample index used for every sound.
        onset_threshold: fraction of the peak for ``detect_onset`` (0.1).
        floor_db: loudness floor (−80 dB).

    ``frames(x)``: (B, 1, N) → {"loudness", "centroid", "flatness"} each (B, T) and the frame
    centres relative to the onset (T,) in samples. ``forward(x_hat, x)`` → {metric: (B,)} for the six
    ``TIMBRE_METRICS``.
    """

    def __init__(
        self,
        sample_rate: int = 44100,
        n_fft: int = 1024,
        hop: int = 256,
        transient_ms: float = 50.0,
        onset: str | int = "detect",
        onset_threshold: float = 0.1,
        floor_db: float = -80.0,
    ) -> None:
        super().__init__()
        for name, value, low in (("sample_rate", sample_rate, 1), ("n_fft", n_fft, 4), ("hop", hop, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if n_fft % 2:
            raise ValueError(f"n_fft must be even, got {n_fft}")
        if (
            isinstance(transient_ms, bool)
            or not isinstance(transient_ms, (int, float))
            or not (transient_ms > 0 and math.isfinite(transient_ms))
        ):
            raise ValueError(f"transient_ms must be a positive number, got {transient_ms!r}")
        if not (onset == "detect" or (isinstance(onset, int) and not isinstance(onset, bool) and onset >= 0)):
            raise ValueError(f"onset must be 'detect' or a non-negative sample index, got {onset!r}")
        if not 0 < onset_threshold <= 1:
            raise ValueError(f"onset_threshold must be in (0, 1], got {onset_threshold!r}")
        if isinstance(floor_db, bool) or not isinstance(floor_db, (int, float)) or not floor_db < 0:
            raise ValueError(f"floor_db must be a negative number, got {floor_db!r}")
        self.sample_rate, self.n_fft, self.hop = sample_rate, n_fft, hop
        self.transient_ms, self.onset, self.onset_threshold = float(transient_ms), onset, onset_threshold
        self.floor_db = float(floor_db)
        self.transient_samples = int(round(transient_ms * sample_rate / 1000))
        freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * sample_rate / n_fft
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        # one-sided Parseval weights: mean square of the windowed frame = Σ_k c_k |X_k|² / (n_fft Σw²)
        c = torch.full_like(freqs, 2.0)
        c[0] = 1.0
        c[-1] = 1.0
        self.register_buffer("freqs", freqs, persistent=False)
        self.register_buffer("window", window, persistent=False)
        self.register_buffer(
            "power_weights", c * a_weighting(freqs) ** 2 / (n_fft * window.pow(2).sum()), persistent=False
        )

    def onsets(self, x: Tensor) -> Tensor:
        """(B, 1, N) → onset samples (B,) int64."""
        if self.onset == "detect":
            return detect_onset(x, self.onset_threshold)
        return torch.full((x.shape[0],), self.onset, dtype=torch.long, device=x.device)

    def frames(self, x: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """Frame features of ``x`` (B, 1, N) aligned on its onset (see the class docstring)."""
        if x.ndim != 3 or x.shape[1] != 1:
            raise ValueError(f"x must have shape (B, 1, N), got {tuple(x.shape)}")
        n = x.shape[-1]
        if n < self.n_fft:
            raise ValueError(f"signals of {n} samples are shorter than n_fft={self.n_fft}")
        half = self.n_fft // 2
        xd = x[:, 0].detach().double()
        # a[m] = x[onset + m − n_fft/2]: frame k (start k·hop) is centred k·hop samples after the onset
        aligned = shift_and_zero(xd, half - self.onsets(x).to(x.device))
        spec = torch.stft(
            aligned, self.n_fft, self.hop, window=self.window.to(x.device), center=False, return_complex=True
        )  # (B, K, T)
        power = spec.real**2 + spec.imag**2
        mag = power.sqrt()
        ms = (power * self.power_weights.to(x.device).unsqueeze(-1)).sum(1)  # (B, T)
        loudness = 10 * torch.log10(ms.clamp_min(10 ** (self.floor_db / 10)))
        freqs = self.freqs.to(x.device).unsqueeze(-1)
        centroid_hz = (freqs * mag).sum(1) / mag.sum(1).clamp_min(1e-20)
        p = power + 1e-10
        flatness = 10 * (torch.log(p).mean(1).exp() / p.mean(1)).log10()
        centres = torch.arange(spec.shape[-1], device=x.device) * self.hop
        return {"loudness": loudness, "centroid": hz_to_mel(centroid_hz), "flatness": flatness}, centres

    def portion_masks(self, centres: Tensor) -> dict[str, Tensor]:
        """Frame centres (T,) → {"transient": bool (T,), "decay": bool (T,)}."""
        transient = centres < self.transient_samples
        if not transient.any() or transient.all():
            raise ValueError(
                f"transient_ms={self.transient_ms} leaves no transient or no decay frame "
                f"({centres.numel()} frames of hop {self.hop})"
            )
        return {"transient": transient, "decay": ~transient}

    def forward(self, x_hat: Tensor, x: Tensor) -> dict[str, Tensor]:
        """``x_hat``, ``x`` (B, 1, N) → {``<portion>_<feature>_l1``: (B,) float64}."""
        _check_pair(x_hat, x)
        f_hat, centres = self.frames(x_hat)
        f, _ = self.frames(x)
        masks = self.portion_masks(centres)
        weight = torch.maximum(f["loudness"], f_hat["loudness"]) - self.floor_db  # (B, T) >= 0
        out = {}
        for portion, mask in masks.items():
            m = mask.to(weight.dtype)
            out[f"{portion}_loudness_l1"] = ((f_hat["loudness"] - f["loudness"]).abs() * m).sum(-1) / m.sum()
            w = weight * m
            total = w.sum(-1)
            for name in ("centroid", "flatness"):
                d = ((f_hat[name] - f[name]).abs() * w).sum(-1)
                out[f"{portion}_{name}_l1"] = torch.where(total > 0, d / total.clamp_min(1e-12), torch.zeros_like(d))
        return out


# --- Fréchet distance -----------------------------------------------------------------------------
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


# --- the metric set -------------------------------------------------------------------------------
def make_tr808_jtfs(use_rho_log1p: bool = True) -> nn.Module:
    """Full-JTFS distance at the TR-808 settings of Table 12 (N 44100, J 12, Q1 8, Q2 2, J_fr 5,
    Q_fr 2, T 2048, F 1; ρ = log1p as in training). Expensive (see the module docstring)."""
    settings, _ = NAMED_SETTINGS["tr808"]
    return JTFSLoss(**settings.as_kwargs(), use_rho_log1p=use_rho_log1p)


class PerceptualMetrics:
    """The metrics of Tables 4, 8, 9 over a test set (module docstring).

    Args:
        sample_rate, n_samples: of the audio (44100, 44100).
        mss: compute ``mss_log_lin`` (True).
        jtfs: False/None (default, off), True (``make_tr808_jtfs()``; needs n_samples = 44100) or a
            ``loss(x_hat, x) -> scalar`` module (e.g. a smaller ``JTFSLoss`` for a smoke scale).
        fad_embedding: None (default, off) or an ``AudioEmbedding`` / callable (``load_embedding``).
        **timbre: keyword arguments of ``TimbreFeatures`` (``transient_ms``, ``onset``, ...).

    ``per_example(x_hat, x)`` → {name: (B,) float64} (every enabled metric but FAD).
    ``update(x_hat, x)`` accumulates them (and the FAD embeddings); ``compute()`` → {name: float},
    the means over every example seen and the FAD of the whole set; ``reset()`` clears.
    """

    def __init__(
        self,
        sample_rate: int = 44100,
        n_samples: int = 44100,
        *,
        mss: bool = True,
        jtfs: bool | nn.Module | None = False,
        fad_embedding: AudioEmbedding | Callable | None = None,
        **timbre,
    ) -> None:
        self.sample_rate, self.n_samples = sample_rate, n_samples
        self.timbre = TimbreFeatures(sample_rate, **timbre)
        self.mss = None
        if mss:
            self.mss = MSSLogLinearLoss(n_samples)
        if jtfs is True:
            if n_samples != 44100:
                raise ValueError(
                    f"jtfs=True builds the TR-808 JTFS (N = 44100); for n_samples={n_samples} pass a JTFSLoss module"
                )
            jtfs = make_tr808_jtfs()
        if jtfs is not None and jtfs is not False and not callable(jtfs):
            raise ValueError(f"jtfs must be False, True or a loss module, got {jtfs!r}")
        self.jtfs = jtfs or None
        if fad_embedding is not None and not isinstance(fad_embedding, AudioEmbedding):
            fad_embedding = AudioEmbedding(fad_embedding, sample_rate, sample_rate)
        self.fad_embedding = fad_embedding
        self.reset()

    @property
    def names(self) -> tuple[str, ...]:
        """The metrics ``compute()`` returns, in ``METRICS`` order."""
        on = {"mss_log_lin": self.mss is not None, "jtfs": self.jtfs is not None, "fad": self.fad_embedding is not None}
        return tuple(m for m in METRICS if on.get(m, True))

    def reset(self) -> None:
        self._values: dict[str, list[Tensor]] = {}
        self._emb: tuple[list[Tensor], list[Tensor]] = ([], [])

    @torch.no_grad()
    def per_example(self, x_hat: Tensor, x: Tensor) -> dict[str, Tensor]:
        _check_pair(x_hat, x)
        if x.shape[-1] != self.n_samples:
            raise ValueError(f"expected signals of {self.n_samples} samples, got {x.shape[-1]}")
        out = {}
        for name, fn in (("mss_log_lin", self.mss), ("jtfs", self.jtfs)):
            if fn is not None:
                a, b = x_hat.detach().float(), x.detach().float()  # the losses run in float32
                out[name] = torch.stack(
                    [fn(a[i : i + 1], b[i : i + 1]).detach().double().cpu() for i in range(x.shape[0])]
                )
        out.update({k: v.cpu() for k, v in self.timbre(x_hat, x).items()})
        return {k: out[k] for k in self.names if k in out}

    def update(self, x_hat: Tensor, x: Tensor) -> dict[str, Tensor]:
        """Accumulate a batch; returns its per-example values."""
        values = self.per_example(x_hat, x)
        for k, v in values.items():
            self._values.setdefault(k, []).append(v)
        if self.fad_embedding is not None:
            self._emb[0].append(self.fad_embedding(x_hat))
            self._emb[1].append(self.fad_embedding(x))
        return values

    def compute(self) -> dict[str, float]:
        """Means over every example seen (and FAD over the whole set)."""
        if not self._values:
            raise ValueError("no batch was given to update()")
        out = {k: float(torch.cat(v).mean()) for k, v in self._values.items()}
        if self.fad_embedding is not None:
            out["fad"] = frechet_audio_distance(torch.cat(self._emb[0]), torch.cat(self._emb[1]))
        return {k: out[k] for k in self.names}


__all__ = [
    "AudioEmbedding",
    "FEATURES",
    "METRICS",
    "PORTIONS",
    "PerceptualMetrics",
    "TIMBRE_METRICS",
    "TimbreFeatures",
    "a_weighting",
    "embedding_statistics",
    "frechet_audio_distance",
    "frechet_distance",
    "hz_to_mel",
    "load_embedding",
    "make_tr808_jtfs",
]

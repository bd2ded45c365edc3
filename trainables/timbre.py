"""The six timbre metrics of the TR-808 experiment (paper §4.4, Tables 4, 8, 9), after Shier et al. (2024).

Each is an L1 between frame-wise feature curves of a reconstruction ``x̂`` and its target ``x`` (both
(B, 1, N)), computed separately on the **transient** and the **decay** portion of the sound:
``{transient,decay}_{loudness,centroid,flatness}_l1`` (``TimbreFeatures``; ``trainables.perceptual``
combines them with the other metrics of the tables).

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

import torch
from torch import Tensor, nn

from trainables.oneshots import detect_onset
from trainables.synths.tr808 import shift_and_zero

__all__ = ["FEATURES", "PORTIONS", "TIMBRE_METRICS", "TimbreFeatures", "a_weighting", "check_pair", "hz_to_mel"]

PORTIONS = ("transient", "decay")
FEATURES = ("loudness", "centroid", "flatness")
TIMBRE_METRICS = tuple(f"{p}_{f}_l1" for p in PORTIONS for f in FEATURES)
"""``transient_loudness_l1``, ``transient_centroid_l1``, ``transient_flatness_l1``, then decay_*."""


def check_pair(x_hat: Tensor, x: Tensor) -> None:
    """Raise ``ValueError`` unless ``x_hat`` and ``x`` are tensors of one shape (B, 1, N)."""
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
        check_pair(x_hat, x)
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

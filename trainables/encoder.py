"""Encoder E_x: CQT front end + ``Spectral2DCNN`` (paper Tables 10–12; notes §9.4).

``Spectral2DCNN`` maps audio ``x`` (B, 1, N) to ``θ̂`` (B, U) in (0, 1): a fixed nnAudio CQT
(``log1p(|CQT(x)|/1e-3)``, no gradient), five conv blocks, a mean over (frequency, time), a shared
dense layer and one sigmoid head per synth parameter. At the paper's granular/chirplet sizes it has
604,106 parameters in 28 tensors; the TR-808 variant (Table 12) has 724,642.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from nnAudio.features import CQT
from torch import Tensor, nn

from trainables.core.checks import check_int


def default_fmin(sample_rate: float, n_octaves: int) -> float:
    """Lowest CQT bin of the released configs: ``fmin = 0.4·sr / 2**n_octaves`` (Hz).

    The top octave then ends at ``0.4·sr`` = 0.8 × Nyquist, so the ``n_octaves`` octaves fit below
    Nyquist with margin: granular (sr 8192, 5 octaves) gives 102.4 Hz (notes §9.4); TR-808
    (sr 44100, 9 octaves) gives 34.45 Hz, top bin 34.45·2^(107/12) ≈ 16.6 kHz < 22.05 kHz.
    """
    return 0.4 * sample_rate / 2**n_octaves


class CQTFrontEnd(nn.Module):
    """Fixed log-magnitude CQT: ``x`` (B, 1, N) → ``log1p(|CQT(x)| / eps)`` (B, n_bins, n_frames).

    nnAudio 0.3.4 ``features.CQT`` (= CQT1992v2) with ``hop_length``, ``bins_per_octave``,
    ``n_bins = bins_per_octave·n_octaves``, ``fmin`` (default ``default_fmin``), output
    "Magnitude" and nnAudio's defaults otherwise (filter_scale 1, norm 1, hann, center, reflect).
    ``n_frames = N // hop_length + 1``. Runs under ``torch.no_grad`` and has no parameters; the CQT
    kernels are non-persistent buffers (rebuilt from the arguments, kept out of checkpoints).
    """

    def __init__(
        self,
        sample_rate: int = 8192,
        hop_length: int = 256,
        n_octaves: int = 5,
        bins_per_octave: int = 12,
        fmin: float | None = None,
        eps: float = 1e-3,
    ) -> None:
        super().__init__()
        self.sample_rate = check_int("sample_rate", sample_rate, 1)
        self.hop_length = check_int("hop_length", hop_length, 1)
        self.n_octaves = check_int("n_octaves", n_octaves, 1)
        self.bins_per_octave = check_int("bins_per_octave", bins_per_octave, 1)
        self.n_bins = n_octaves * bins_per_octave
        if fmin is None:
            fmin = default_fmin(sample_rate, n_octaves)
        if isinstance(fmin, bool) or not isinstance(fmin, (int, float)) or not fmin > 0:
            raise ValueError(f"fmin must be a positive number of Hz, got {fmin!r}")
        top = fmin * 2 ** ((self.n_bins - 1) / bins_per_octave)
        if not top < sample_rate / 2:
            raise ValueError(
                f"fmin={fmin} Hz puts the top CQT bin at {top:.1f} Hz, above Nyquist "
                f"({sample_rate / 2} Hz) for n_octaves={n_octaves}"
            )
        self.fmin = float(fmin)
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps!r}")
        self.eps = float(eps)
        self.cqt = CQT(
            sr=sample_rate,
            hop_length=hop_length,
            fmin=self.fmin,
            n_bins=self.n_bins,
            bins_per_octave=bins_per_octave,
            output_format="Magnitude",
            verbose=False,
        )
        for name, buf in list(self.cqt.named_buffers(recurse=False)):
            self.cqt.register_buffer(name, buf, persistent=False)
        self.requires_grad_(False)

    @property
    def kernel_width(self) -> int:
        """Length of the longest CQT kernel; ``center`` reflect-pads by half of it."""
        return int(self.cqt.kernel_width)

    def n_frames(self, n_samples: int) -> int:
        """Number of CQT frames for a signal of ``n_samples`` (``center=True``)."""
        return n_samples // self.hop_length + 1

    def check_n_samples(self, n_samples: int) -> None:
        """``ValueError`` if the reflect padding (kernel_width // 2) is not shorter than the signal."""
        if self.kernel_width // 2 >= n_samples:
            raise ValueError(
                f"n_samples={n_samples} is too short for fmin={self.fmin:.3g} Hz: "
                f"the CQT reflect-pads by {self.kernel_width // 2} samples; "
                f"raise fmin or n_samples"
            )

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (B, 1, N) audio → (B, n_bins, N // hop_length + 1)."""
        if x.ndim != 3 or x.shape[1] != 1:
            raise ValueError(f"x must have shape (B, 1, N), got {tuple(x.shape)}")
        self.check_n_samples(x.shape[-1])
        with torch.no_grad():
            return torch.log1p(self.cqt(x) / self.eps)


class Spectral2DCNN(nn.Module):
    """CNN encoder over the log-CQT (notes §9.4): audio (B, 1, N) → θ̂ (B, n_params) in (0, 1).

    Block k (k = 0..n_blocks−1): ``LayerNorm([bins_k, frames_k], no affine) → Conv2d(3×3, stride 1,
    padding 'same', channels) → MaxPool2d(pools[k]) → PReLU(one slope)``. Then the mean over
    (frequency, time), ``Linear(channels, latent) → PReLU → Dropout(dropout)``, and per parameter
    ``Linear(latent, latent//2) → PReLU → Dropout → Linear(latent//2, 1) → Sigmoid``. PyTorch default
    initialisation.

    Paper sizes: granular/chirplet (Tables 10, 11) = the defaults: sr 8192, N 32768, 60×129 input,
    spatial sizes 60×129 → 30×64 → 15×32 → 7×16 → 3×8 → 1×4, 604,106 parameters. TR-808 (Table
    12): ``sample_rate=44100, n_samples=44100, n_octaves=9, n_params=14, latent=128,
    dropout=0.25, pools=((2, 2), (2, 2), (2, 3), (3, 3), (3, 3))``: 108×173 input, 724,642
    parameters. A ``ValueError`` is raised if the pools shrink a spatial size to zero.

    ``forward(x)``: audio (B, 1, N) → θ̂ (B, n_params). ``forward_features(U)``: log-CQT
    (B, bins, frames) → θ̂, for callers that precompute the CQT.
    """

    def __init__(
        self,
        n_params: int,
        sample_rate: int = 8192,
        n_samples: int = 32768,
        channels: int = 128,
        n_blocks: int = 5,
        pools: Sequence[tuple[int, int]] | None = None,
        latent: int = 64,
        dropout: float = 0.5,
        hop_length: int = 256,
        n_octaves: int = 5,
        bins_per_octave: int = 12,
        fmin: float | None = None,
    ) -> None:
        super().__init__()
        self.n_params = check_int("n_params", n_params, 1)
        self.n_samples = check_int("n_samples", n_samples, 1)
        check_int("channels", channels, 1)
        check_int("n_blocks", n_blocks, 1)
        check_int("latent", latent, 1)
        if latent < 2:
            raise ValueError(f"latent must be >= 2 (the heads use latent // 2), got {latent}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (0 <= dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        pools = ((2, 2),) * n_blocks if pools is None else tuple(tuple(p) for p in pools)
        if len(pools) != n_blocks or not all(
            len(p) == 2 and all(isinstance(k, int) and k >= 1 for k in p) for p in pools
        ):
            raise ValueError(
                f"pools must be {n_blocks} (freq, time) pairs of positive integers (one per block), got {pools!r}"
            )
        self.pools = pools

        self.cqt = CQTFrontEnd(sample_rate, hop_length, n_octaves, bins_per_octave, fmin)
        self.cqt.check_n_samples(n_samples)
        size = (self.cqt.n_bins, self.cqt.n_frames(n_samples))
        self.block_input_sizes: list[tuple[int, int]] = []
        blocks = []
        in_ch = 1
        for k, pool in enumerate(pools):
            self.block_input_sizes.append(size)
            blocks.append(
                nn.Sequential(
                    nn.LayerNorm(list(size), elementwise_affine=False),
                    nn.Conv2d(in_ch, channels, kernel_size=3, stride=1, padding="same"),
                    nn.MaxPool2d(pool),
                    nn.PReLU(),
                )
            )
            size = (size[0] // pool[0], size[1] // pool[1])
            if min(size) < 1:
                raise ValueError(
                    f"pools={pools!r} shrink the {self.block_input_sizes[0][0]}×"
                    f"{self.block_input_sizes[0][1]} CQT to {size[0]}×{size[1]} after block {k}; "
                    f"use fewer blocks (n_blocks), smaller pools, or a smaller hop_length"
                )
            in_ch = channels
        self.output_size: tuple[int, int] = size
        self.blocks = nn.Sequential(*blocks)
        self.dense = nn.Sequential(nn.Linear(channels, latent), nn.PReLU(), nn.Dropout(dropout))
        self.heads = nn.ModuleList(
            nn.Sequential(
                nn.Linear(latent, latent // 2), nn.PReLU(), nn.Dropout(dropout), nn.Linear(latent // 2, 1), nn.Sigmoid()
            )
            for _ in range(n_params)
        )

    def forward_features(self, U: Tensor) -> Tensor:
        """Log-CQT ``U`` (B, bins, frames) → θ̂ (B, n_params) in (0, 1)."""
        expected = self.block_input_sizes[0]
        if U.ndim != 3 or tuple(U.shape[1:]) != expected:
            raise ValueError(f"U must have shape (B, {expected[0]}, {expected[1]}), got {tuple(U.shape)}")
        h = self.blocks(U.unsqueeze(1))  # (B, C, bins', frames')
        h = self.dense(h.mean(dim=(-2, -1)))  # (B, latent)
        return torch.cat([head(h) for head in self.heads], dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        """Audio ``x`` (B, 1, N) → θ̂ (B, n_params) in (0, 1)."""
        if x.ndim != 3 or x.shape[1] != 1 or x.shape[-1] != self.n_samples:
            raise ValueError(f"x must have shape (B, 1, {self.n_samples}), got {tuple(x.shape)}")
        return self.forward_features(self.cqt(x))


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(number of trainable scalars, number of trainable tensors) of ``module``."""
    params = [p for p in module.parameters() if p.requires_grad]
    return sum(p.numel() for p in params), len(params)


__all__ = ["CQTFrontEnd", "Spectral2DCNN", "count_parameters", "default_fmin"]

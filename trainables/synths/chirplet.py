"""AM/FM chirplet synth (paper §4.3, Table 11; notes §9.2, released ``ChirpletSynth``).

Two parameters in ``[0, 1]``: ``am`` (amplitude-modulation rate, Hz) and ``fm`` (frequency-
modulation rate, octaves/s), each mapped log-uniformly onto a range. The four configurations of
paper Table 3 come in two versions (notes §11.11), see ``CHIRPLET_CONFIGS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainables.core.checks import check_int, check_positive
from trainables.synths.granular import check_theta_seed, example_generators


@dataclass(frozen=True)
class ChirpletRanges:
    """θ ranges of one chirplet configuration: ``am_hz = (min, max)``, ``fm_oct_per_s = (min, max)``.

    Both bounds positive and ``min < max`` (a ``ValueError`` names the field otherwise).
    """

    am_hz: tuple[float, float]
    fm_oct_per_s: tuple[float, float]

    def __post_init__(self) -> None:
        for name in ("am_hz", "fm_oct_per_s"):
            value = getattr(self, name)
            if (
                not isinstance(value, tuple)
                or len(value) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            ):
                raise ValueError(f"{name} must be a (min, max) tuple of numbers, got {value!r}")
            lo, hi = value
            if not 0 < lo < hi:
                raise ValueError(f"{name} must satisfy 0 < min < max, got {value!r}")


CHIRPLET_CONFIGS: dict[str, ChirpletRanges] = {
    # Released configs ("chirplet2"; notes §9.2 table, §11.11). They produced the paper's numbers
    # and the released θ-IS files: these are the defaults.
    "lo-lo": ChirpletRanges(am_hz=(0.9899, 1.9799), fm_oct_per_s=(0.5, 1.0)),
    "lo-med": ChirpletRanges(am_hz=(0.9899, 1.9799), fm_oct_per_s=(2.0, 4.0)),
    "hi-med": ChirpletRanges(am_hz=(3.9598, 7.9196), fm_oct_per_s=(2.0, 4.0)),
    "hi-hi": ChirpletRanges(am_hz=(3.9598, 7.9196), fm_oct_per_s=(8.0, 16.0)),
    # The paper's printed ranges (Section 4.3 list 1–4). They equal the released repo's unused v1
    # configs; offered for a paper-exact variant only.
    "lo-lo-paper": ChirpletRanges(am_hz=(1.0, 2.0), fm_oct_per_s=(0.5, 1.0)),
    "lo-med-paper": ChirpletRanges(am_hz=(1.0, 2.0), fm_oct_per_s=(2.0, 4.0)),
    "hi-med-paper": ChirpletRanges(am_hz=(2.8, 8.4), fm_oct_per_s=(2.0, 4.0)),
    "hi-hi-paper": ChirpletRanges(am_hz=(2.8, 8.4), fm_oct_per_s=(4.0, 12.0)),
}
"""Named chirplet configurations (paper Table 3 order: slow/slow, slow/moderate, fast/moderate,
fast/fast). ``"<name>"`` = released ranges (default, reproduce the paper's numbers);
``"<name>-paper"`` = the ranges printed in paper Section 4.3."""


def _log_uniform(theta: Tensor, lo: float, hi: float) -> Tensor:
    return torch.exp2(theta * (math.log2(hi) - math.log2(lo)) + math.log2(lo))


class ChirpletSynth(nn.Module):
    """One AM/FM chirplet with a random integer time shift (notes §9.2).

    Args:
        ranges: a ``ChirpletRanges`` or a key of ``CHIRPLET_CONFIGS`` (default ``"lo-lo"``).
        sample_rate: sr in Hz (paper 8192).
        n_samples: N (paper 32768).
        f0_hz: carrier centre frequency (paper 512 Hz), below Nyquist.
        bw_oct: chirplet bandwidth in octaves (paper 2).
        sigma0: window width constant (0.1).
        max_shift: shifts ``δ`` are integers in ``[−max_shift, max_shift]`` (paper 2048), < N.

    Per example:

    * ``am = 2^(θ_am·(log2 am_max − log2 am_min) + log2 am_min)`` Hz, same law for ``fm`` (oct/s);
    * ``t = (n − N/2)/sr``; phase (cycles) ``φ(t) = f0/(fm·ln2)·(2^(fm t) − 1)``, so the
      instantaneous frequency is ``f0·2^(fm t)``;
    * Gaussian window over n centred at N/2 with std ``sigma0·bw_oct·sr/fm`` samples (±0.2 octave
      of sweep per std at the defaults, independent of fm);
    * ``chirp = sin(2πφ)·fm·window·sin(2π(am/2)t)`` (the envelope magnitude oscillates at ``am``;
      the factor ``fm`` compensates energy). No further normalisation.
    * shift: ``δ`` drawn from the example's generator; the chirp is rolled by ``δ`` and the
      wrapped-around samples are zeroed: ``y[n] = x[n − δ]`` if ``0 <= n − δ < N`` else 0.

    ``forward(theta, seed)``: ``theta`` (B, 2) = (am, fm) in [0, 1], ``seed`` (B,) int64 → (B, 1, N).
    """

    theta_names: tuple[str, ...] = ("am", "fm")

    def __init__(
        self,
        ranges: ChirpletRanges | str = "lo-lo",
        sample_rate: int = 8192,
        n_samples: int = 32768,
        f0_hz: float = 512.0,
        bw_oct: float = 2.0,
        sigma0: float = 0.1,
        max_shift: int = 2048,
    ) -> None:
        super().__init__()
        if isinstance(ranges, str):
            if ranges not in CHIRPLET_CONFIGS:
                raise ValueError(
                    f"ranges must be a ChirpletRanges or one of {sorted(CHIRPLET_CONFIGS)}, got {ranges!r}"
                )
            ranges = CHIRPLET_CONFIGS[ranges]
        if not isinstance(ranges, ChirpletRanges):
            raise ValueError(f"ranges must be a ChirpletRanges or a config name, got {ranges!r}")
        self.ranges = ranges
        self.sample_rate = check_int("sample_rate", sample_rate, 1)
        self.n_samples = check_int("n_samples", n_samples, 1)
        self.f0_hz = check_positive("f0_hz", f0_hz)
        if not self.f0_hz < sample_rate / 2:
            raise ValueError(f"f0_hz must be below Nyquist ({sample_rate / 2} Hz), got {f0_hz}")
        self.bw_oct = check_positive("bw_oct", bw_oct)
        self.sigma0 = check_positive("sigma0", sigma0)
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or not (0 <= max_shift < n_samples):
            raise ValueError(f"max_shift must be an integer in [0, n_samples={n_samples}), got {max_shift!r}")
        self.max_shift = max_shift
        # The phase grows like 2^(fm·t) with |t| <= N/(2 sr): keep it far from float32 overflow
        # (the window makes those samples zero, but inf·0 would be NaN).
        half_duration = n_samples / (2 * sample_rate)
        if ranges.fm_oct_per_s[1] * half_duration > 64:
            raise ValueError(
                f"ranges.fm_oct_per_s max {ranges.fm_oct_per_s[1]} oct/s sweeps more "
                f"than 64 octaves over ±{half_duration} s; reduce it or n_samples"
            )
        n = torch.arange(n_samples, dtype=torch.float64) - n_samples / 2
        # Derived from the arguments (not in the state_dict); float64, cast to θ's dtype.
        self.register_buffer("t", n / sample_rate, persistent=False)  # s
        self.register_buffer("n_centered", n, persistent=False)  # samples

    @property
    def n_params(self) -> int:
        return len(self.theta_names)

    def am_hz(self, theta_am: Tensor) -> Tensor:
        """``theta_am`` (B,) in [0, 1] → AM rate in Hz (B,), log-uniform over ``ranges.am_hz``."""
        return _log_uniform(theta_am, *self.ranges.am_hz)

    def fm_oct_per_s(self, theta_fm: Tensor) -> Tensor:
        """``theta_fm`` (B,) in [0, 1] → FM rate in oct/s (B,), log-uniform over the range."""
        return _log_uniform(theta_fm, *self.ranges.fm_oct_per_s)

    def draw_shift(self, seed: Tensor) -> Tensor:
        """``seed`` (B,) → integer shifts ``δ`` (B,) int64 in ``[−max_shift, max_shift]``."""
        out = [torch.randint(-self.max_shift, self.max_shift + 1, (1,), generator=g) for g in example_generators(seed)]
        return torch.cat(out) if out else torch.empty(0, dtype=torch.long)

    def unshifted(self, theta: Tensor) -> Tensor:
        """The chirplet before the time shift: ``theta`` (B, 2) → (B, N)."""
        am = self.am_hz(theta[:, 0]).unsqueeze(-1)
        fm = self.fm_oct_per_s(theta[:, 1]).unsqueeze(-1)
        t, n = self.t.to(theta), self.n_centered.to(theta)
        phase = self.f0_hz / (fm * math.log(2)) * (torch.exp2(fm * t) - 1.0)  # cycles
        std = self.sigma0 * self.bw_oct * self.sample_rate / fm  # samples
        window = torch.exp(-0.5 * (n / std).pow(2))
        return torch.sin(2 * math.pi * phase) * fm * window * torch.sin(math.pi * am * t)

    def forward(self, theta: Tensor, seed: Tensor) -> Tensor:
        """``theta`` (B, 2) = (am, fm) in [0, 1], ``seed`` (B,) int64 → x (B, 1, N)."""
        check_theta_seed(theta, seed, self.n_params)
        x = self.unshifted(theta)
        shift = self.draw_shift(seed).to(theta.device).unsqueeze(-1)  # (B, 1)
        source = torch.arange(self.n_samples, device=theta.device) - shift  # (B, N): n − δ
        valid = (source >= 0) & (source < self.n_samples)
        y = torch.gather(x, 1, source.clamp(0, self.n_samples - 1)) * valid.to(x.dtype)
        return y.unsqueeze(1)

    def extra_repr(self) -> str:
        return (
            f"ranges={self.ranges}, sample_rate={self.sample_rate}, "
            f"n_samples={self.n_samples}, f0_hz={self.f0_hz}, bw_oct={self.bw_oct}, "
            f"sigma0={self.sigma0}, max_shift={self.max_shift}"
        )

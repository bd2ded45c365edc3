"""Differentiable 808-style drum voice with 14 continuous parameters (paper §4.4, Table 12).

Structure after the TR-808 DDSP model of Shier et al. (2024, NIME, "Real-time timbre remapping
with differentiable DSP"), written from that description (no code copied):

* two sinusoidal oscillators i = 1, 2 with base frequency ``f_i`` and a pitch-envelope amount
  ``m_i`` (octaves) that share one exponentially decaying pitch envelope ``e_p(t)``:
  instantaneous frequency ``f_i · 2^(m_i · e_p(t))`` (a downward sweep that settles on ``f_i``);
* an exponential amplitude decay per oscillator;
* white Gaussian noise through a resonant high-pass biquad (RBJ cookbook; cutoff, Q) with its
  own exponential amplitude decay;
* a gain in dB per source (osc1, osc2, noise), summed into a ``tanh`` waveshaper with an input
  gain ("drive", dB): ``y = tanh(drive · (osc1 + osc2 + noise))``.

Every decay is a T60 (seconds to fall by 60 dB): ``e(t) = exp(−ln(1000)·t / T60) = 10^(−3t/T60)``.
The hit starts at sample ``onset`` (silence before), so that a negative time shift (meso setting,
±``max_shift``) does not cut the attack when ``max_shift <= onset``. The one-shot loader aligns
recordings to the same ``TR808_ONSET`` position (``trainables.oneshots``).

Randomness (per example, from a ``torch.Generator`` seeded by the example's seed, as the other
synths): first the integer time shift ``δ ∈ [−max_shift, max_shift]``, then ``N − onset`` standard
normal noise samples. A target and a reconstruction rendered with different seeds differ in noise
(and, in the meso setting, in shift): the decoder is nondeterministic, as in the paper.

**High-pass filter choice.** The biquad is applied in the frequency domain as a zero-phase filter:
the noise's rFFT is multiplied by ``|H(e^{jω})|`` of the RBJ cookbook high-pass, evaluated in closed
form, then inverted. Why: (1) it is exact *in distribution* — the input is stationary white
Gaussian noise, and a Gaussian process is determined by its power spectrum, so filtering by ``|H|``
(zero phase, circular) or by the causal IIR ``H`` gives noise with the same distribution (up to the
IIR's start-up transient); the amplitude envelope is applied *after* filtering, so the filter's
phase never meets a transient; (2) one FFT pair per batch, fully vectorised, smooth in
cutoff and Q (``|B(e^{jω})| = b0·2(1 − cos ω)`` has no ``abs`` kink, ``|A|`` > 0 for a stable
biquad), versus a sample-by-sample recursion (44 100 sequential Python steps) or a parallel scan
(extra complexity for a filter whose phase does not matter here).

``forward(theta, seed)``: ``theta`` (B, 14) in [0, 1] (order ``TR808_THETA_NAMES``), ``seed`` (B,)
int64 → ``x`` (B, 1, N). Differentiable in all 14 parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from trainables.core.checks import check_int
from trainables.synths.granular import check_theta_seed, example_generators

TR808_SAMPLE_RATE = 44100
TR808_N_SAMPLES = 44100
TR808_ONSET = 2048
"""Sample at which the hit starts (synth) and at which recordings' onsets are placed (loader)."""
MESO_MAX_SHIFT = 2048
"""Paper §4.4: meso = unaligned by up to ±46 ms (±2048 samples at 44.1 kHz); micro = 0."""

_LN1000 = math.log(1000.0)


@dataclass(frozen=True)
class ParamRange:
    """Normaliser of one synth parameter: θ ∈ [0, 1] ↔ a physical value in ``[low, high]``.

    ``scale="linear"``: ``v = low + θ·(high − low)``; ``scale="log"``: ``v = low·(high/low)^θ``
    (log-uniform; needs ``low > 0``). ``unit`` is documentation only. θ = 0 gives ``low`` and θ = 1
    gives ``high``; ``to_unit`` is the exact inverse.
    """

    low: float
    high: float
    scale: str = "linear"
    unit: str = ""

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
        if not self.low < self.high:
            raise ValueError(f"low must be < high, got low={self.low}, high={self.high}")
        if self.scale not in ("linear", "log"):
            raise ValueError(f"scale must be 'linear' or 'log', got {self.scale!r}")
        if self.scale == "log" and not self.low > 0:
            raise ValueError(f"low must be > 0 for scale='log', got {self.low}")

    def to_physical(self, theta: Tensor) -> Tensor:
        """θ (any shape) in [0, 1] → physical value (same shape)."""
        if self.scale == "log":
            return self.low * torch.exp(theta * math.log(self.high / self.low))
        return self.low + theta * (self.high - self.low)

    def to_unit(self, value: Tensor) -> Tensor:
        """Physical value (any shape) → θ (same shape); inverse of ``to_physical``."""
        if self.scale == "log":
            return torch.log(value / self.low) / math.log(self.high / self.low)
        return (value - self.low) / (self.high - self.low)


TR808_THETA_NAMES: tuple[str, ...] = (
    "osc1_freq",
    "osc1_mod",
    "osc1_decay",
    "osc1_gain",
    "osc2_freq",
    "osc2_mod",
    "osc2_decay",
    "osc2_gain",
    "pitch_decay",
    "noise_decay",
    "noise_cutoff",
    "noise_q",
    "noise_gain",
    "drive",
)
"""The 14 θ of the voice, in the order of the columns of ``theta``."""

_FREQ = ParamRange(20.0, 2000.0, "log", "Hz")
_MOD = ParamRange(0.0, 3.0, "linear", "octaves")
_DECAY = ParamRange(0.01, 2.0, "log", "s (T60)")
_GAIN = ParamRange(-60.0, 0.0, "linear", "dB")

TR808_RANGES: dict[str, ParamRange] = {
    "osc1_freq": _FREQ,  # base (settling) frequency of oscillator 1
    "osc1_mod": _MOD,  # pitch-envelope amount: start at f·2^mod (≤ 2000·8 = 16 kHz < Nyquist)
    "osc1_decay": _DECAY,  # amplitude T60 of oscillator 1
    "osc1_gain": _GAIN,
    "osc2_freq": _FREQ,
    "osc2_mod": _MOD,
    "osc2_decay": _DECAY,
    "osc2_gain": _GAIN,
    "pitch_decay": ParamRange(0.002, 0.5, "log", "s (T60)"),  # shared pitch envelope
    "noise_decay": _DECAY,
    "noise_cutoff": ParamRange(20.0, 20000.0, "log", "Hz"),  # high-pass biquad f0
    "noise_q": ParamRange(0.5, 10.0, "log", ""),  # biquad Q (0.707 = Butterworth)
    "noise_gain": _GAIN,
    "drive": ParamRange(-24.0, 24.0, "linear", "dB"),  # tanh input gain
}
"""Default normalisers (choices: Shier et al. and the paper give no numeric ranges; the oscillator
frequencies follow the brief, 20–2000 Hz log-uniform)."""


def default_ranges(sample_rate: int) -> dict[str, ParamRange]:
    """``TR808_RANGES`` fitted below Nyquist for ``sample_rate`` (for reduced smoke scales).

    Unchanged at 44.1 kHz and above. Otherwise the frequency ranges shrink to keep the sweep and
    the filter below 0.95 × Nyquist: ``osc*_freq`` high = min(2000, 0.95·nyq / 2^3) (3 = the
    ``osc*_mod`` maximum) and ``noise_cutoff`` high = min(20000, 0.95·nyq); the lows stay 20 Hz.
    """
    nyq = check_int("sample_rate", sample_rate, 1) / 2
    osc_high = min(2000.0, 0.95 * nyq / 2 ** TR808_RANGES["osc1_mod"].high)
    cutoff_high = min(20000.0, 0.95 * nyq)
    if osc_high <= _FREQ.low or cutoff_high <= TR808_RANGES["noise_cutoff"].low:
        raise ValueError(
            f"sample_rate={sample_rate} is too low for the TR-808 ranges "
            f"(oscillators from {_FREQ.low} Hz with 3 octaves of sweep)"
        )
    out = dict(TR808_RANGES)
    if osc_high < _FREQ.high:
        out["osc1_freq"] = out["osc2_freq"] = ParamRange(_FREQ.low, osc_high, "log", "Hz")
    if cutoff_high < TR808_RANGES["noise_cutoff"].high:
        out["noise_cutoff"] = ParamRange(TR808_RANGES["noise_cutoff"].low, cutoff_high, "log", "Hz")
    return out


def db_to_amplitude(db: Tensor) -> Tensor:
    """``10^(dB/20)`` (any shape)."""
    return torch.pow(10.0, db / 20.0)


def highpass_magnitude(omega: Tensor, cutoff_hz: Tensor, q: Tensor, sample_rate: float) -> Tensor:
    """``|H(e^{jω})|`` of the RBJ-cookbook high-pass biquad (Bristow-Johnson, "Audio EQ cookbook").

    ``omega`` (K,) rad/sample in [0, π]; ``cutoff_hz`` and ``q`` (B,) → (B, K). With
    ``w0 = 2π f0/sr``, ``α = sin(w0)/(2Q)``: ``b = (1+cos w0)/2 · (1, −2, 1)``,
    ``a = (1+α, −2 cos w0, 1−α)``; ``|B(e^{jω})| = b0·2(1 − cos ω)`` (double zero at DC), and
    ``|H| = |B|/|A|``. ``|H(0)| = 0``, ``|H(π)| = 1``, ``|H(e^{j w0})| = Q``.
    """
    w0 = (2 * math.pi / sample_rate) * cutoff_hz.unsqueeze(-1)  # (B, 1)
    cw = torch.cos(w0)
    alpha = torch.sin(w0) / (2 * q.unsqueeze(-1))
    a0, a1, a2 = 1 + alpha, -2 * cw, 1 - alpha
    c1, c2, s1, s2 = torch.cos(omega), torch.cos(2 * omega), torch.sin(omega), torch.sin(2 * omega)
    re = a0 + a1 * c1 + a2 * c2
    im = a1 * s1 + a2 * s2
    num = (1 + cw) / 2 * 2 * (1 - c1)
    return num / torch.sqrt((re * re + im * im).clamp_min(1e-30))


def shift_and_zero(x: Tensor, shift: Tensor) -> Tensor:
    """Roll ``x`` (B, N) by ``shift`` (B,) int64 samples and zero the wrapped-around samples:
    ``y[n] = x[n − δ]`` if ``0 <= n − δ < N`` else 0 (as the chirplet synth)."""
    n = x.shape[-1]
    source = torch.arange(n, device=x.device) - shift.unsqueeze(-1)
    valid = (source >= 0) & (source < n)
    return torch.gather(x, 1, source.clamp(0, n - 1)) * valid.to(x.dtype)


class TR808Synth(nn.Module):
    """14-parameter 808-style drum voice (module docstring; Shier et al. 2024; paper Table 12).

    Args:
        sample_rate: Hz (paper 44100).
        n_samples: N (paper 44100 = 1 s).
        max_shift: time shifts δ are integers in ``[−max_shift, max_shift]``; paper meso 2048
            (``MESO_MAX_SHIFT``), micro 0. Must be < n_samples.
        onset: the hit starts at this sample (default ``TR808_ONSET`` = 2048; silence before).
            Must be < n_samples. With ``max_shift > onset`` a negative shift cuts the attack.
        ranges: optional overrides (name → ``ParamRange``) of ``default_ranges(sample_rate)``
            (= ``TR808_RANGES`` at 44.1 kHz).

    Signal, with ``t = (n − onset)/sr`` for ``n >= onset`` (zero before) and physical values
    ``v = ranges[name].to_physical(θ)``:

    * ``e_p(t) = 10^(−3t/pitch_decay)``; oscillator i: frequency ``F_i(t) = freq_i·2^(mod_i·e_p(t))``,
      phase (cycles) ``φ_i[n] = Σ_{k<n} F_i[k]/sr`` (φ_i = 0 at the onset: no click), signal
      ``10^(gain_i/20) · 10^(−3t/decay_i) · sin(2π φ_i)``;
    * noise ``w ~ N(0, 1)`` (from the seed), high-passed as ``irfft(rfft(w)·|H|)`` (see the module
      docstring), times ``10^(noise_gain/20) · 10^(−3t/noise_decay)``;
    * ``x = tanh(10^(drive/20) · (osc1 + osc2 + noise))``, then shifted by δ (roll, zero the wrap).

    ``forward(theta, seed)``: ``theta`` (B, 14) in [0, 1], ``seed`` (B,) int64 → (B, 1, N), θ's
    dtype. θ outside [0, 1] raises ``ValueError`` (the normalisers would extrapolate, e.g. above
    Nyquist).
    """

    theta_names: tuple[str, ...] = TR808_THETA_NAMES

    def __init__(
        self,
        sample_rate: int = TR808_SAMPLE_RATE,
        n_samples: int = TR808_N_SAMPLES,
        max_shift: int = MESO_MAX_SHIFT,
        onset: int = TR808_ONSET,
        ranges: Mapping[str, ParamRange] | None = None,
    ) -> None:
        super().__init__()
        self.sample_rate = check_int("sample_rate", sample_rate, 1)
        self.n_samples = check_int("n_samples", n_samples, 1)
        for name, value in (("max_shift", max_shift), ("onset", onset)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n_samples:
                raise ValueError(f"{name} must be an integer in [0, n_samples={n_samples}), got {value!r}")
        self.max_shift, self.onset = max_shift, onset
        if ranges is not None and not isinstance(ranges, Mapping):
            raise ValueError(f"ranges must be a mapping name -> ParamRange, got {ranges!r}")
        unknown = sorted(set(ranges or {}) - set(TR808_THETA_NAMES))
        if unknown:
            raise ValueError(f"ranges has unknown parameter name(s) {unknown}; known: {', '.join(TR808_THETA_NAMES)}")
        merged = dict(default_ranges(sample_rate), **(ranges or {}))
        for name, r in merged.items():
            if not isinstance(r, ParamRange):
                raise ValueError(f"ranges[{name!r}] must be a ParamRange, got {r!r}")
        nyquist = sample_rate / 2
        for i in (1, 2):
            f, m = merged[f"osc{i}_freq"], merged[f"osc{i}_mod"]
            if not (f.low > 0 and m.low >= 0):
                raise ValueError(f"ranges: osc{i}_freq must be > 0 Hz and osc{i}_mod >= 0 octaves")
            if f.high * 2**m.high >= nyquist:
                raise ValueError(
                    f"ranges: osc{i}_freq max {f.high} Hz × 2^(osc{i}_mod max "
                    f"{m.high}) reaches Nyquist ({nyquist} Hz): reduce them"
                )
        if merged["noise_cutoff"].low <= 0 or merged["noise_cutoff"].high >= nyquist:
            raise ValueError(f"ranges: noise_cutoff must lie in (0, Nyquist={nyquist}) Hz")
        for name in ("pitch_decay", "osc1_decay", "osc2_decay", "noise_decay", "noise_q"):
            if merged[name].low <= 0:
                raise ValueError(f"ranges: {name} must be > 0")
        self.ranges: dict[str, ParamRange] = {n: merged[n] for n in TR808_THETA_NAMES}

        L = n_samples - onset
        self.n_voice = L
        # Derived from the arguments (not in the state_dict): float64, cast in forward.
        self.register_buffer("t", torch.arange(L, dtype=torch.float64) / sample_rate, persistent=False)
        self.register_buffer("omega", 2 * math.pi * torch.arange(L // 2 + 1, dtype=torch.float64) / L, persistent=False)

    @property
    def n_params(self) -> int:
        return len(self.theta_names)

    # --- parameters ------------------------------------------------------------------------------
    def physical(self, theta: Tensor) -> dict[str, Tensor]:
        """``theta`` (B, 14) in [0, 1] → {name: physical value (B,)} (Hz, octaves, s, dB, Q)."""
        return {name: self.ranges[name].to_physical(theta[:, i]) for i, name in enumerate(self.theta_names)}

    def normalise(self, values: Mapping[str, Tensor | float]) -> Tensor:
        """Physical values {name: (B,) or scalar} (all 14 names) → θ (B, 14); inverse of
        ``physical``. Values outside a range give θ outside [0, 1] (not clipped)."""
        missing = [n for n in self.theta_names if n not in values]
        if missing:
            raise ValueError(f"values is missing parameter(s) {missing}")
        cols = [self.ranges[n].to_unit(torch.as_tensor(values[n], dtype=torch.float64)) for n in self.theta_names]
        return torch.stack(torch.broadcast_tensors(*cols), dim=-1)

    # --- randomness ------------------------------------------------------------------------------
    def draw_randomness(self, seed: Tensor) -> tuple[Tensor, Tensor]:
        """``seed`` (B,) → (shift δ (B,) int64, white noise (B, N − onset) float32).

        Per example, with the generator seeded by the seed: first δ (one ``randint`` even when
        ``max_shift = 0``), then the noise. Depends on the seed only.
        """
        shifts, noise = [], []
        for g in example_generators(seed):
            shifts.append(torch.randint(-self.max_shift, self.max_shift + 1, (1,), generator=g))
            noise.append(torch.randn(self.n_voice, generator=g))
        if not shifts:
            return torch.empty(0, dtype=torch.long), torch.empty(0, self.n_voice)
        return torch.cat(shifts), torch.stack(noise)

    def draw_shift(self, seed: Tensor) -> Tensor:
        """``seed`` (B,) → integer shifts δ (B,) int64 in ``[−max_shift, max_shift]`` (the first draw
        of ``draw_randomness``, without drawing the noise)."""
        out = [torch.randint(-self.max_shift, self.max_shift + 1, (1,), generator=g) for g in example_generators(seed)]
        return torch.cat(out) if out else torch.empty(0, dtype=torch.long)

    # --- signal ----------------------------------------------------------------------------------
    def sources(self, theta: Tensor, noise: Tensor) -> dict[str, Tensor]:
        """The three sources before the waveshaper, each (B, N − onset) in θ's dtype, from the
        onset on: ``osc1``, ``osc2``, ``noise`` (gains and decays applied)."""
        p = self.physical(theta)
        dtype = theta.dtype
        t = self.t.to(device=theta.device)  # float64 (L,)
        t_x = t.to(dtype)

        def decay(t60: Tensor) -> Tensor:  # (B,) → (B, L)
            return torch.exp((-_LN1000 / t60).unsqueeze(-1) * t_x)

        # pitch envelope and phases in float64 (the phase accumulates ~10^3–10^4 cycles)
        env_p = torch.exp((-_LN1000 / p["pitch_decay"].double()).unsqueeze(-1) * t)
        out = {}
        for i in (1, 2):
            freq = p[f"osc{i}_freq"].double().unsqueeze(-1)
            inst = freq * torch.exp2(p[f"osc{i}_mod"].double().unsqueeze(-1) * env_p)  # Hz
            phase = (torch.cumsum(inst, dim=-1) - inst) / self.sample_rate  # cycles
            phase = phase - torch.floor(phase.detach())
            amp = db_to_amplitude(p[f"osc{i}_gain"]).unsqueeze(-1) * decay(p[f"osc{i}_decay"])
            out[f"osc{i}"] = amp * torch.sin(2 * math.pi * phase).to(dtype)

        spectrum = torch.fft.rfft(noise.to(device=theta.device, dtype=dtype), dim=-1)
        mag = highpass_magnitude(
            self.omega.to(device=theta.device, dtype=dtype), p["noise_cutoff"], p["noise_q"], self.sample_rate
        )
        filtered = torch.fft.irfft(spectrum * mag, n=self.n_voice, dim=-1)
        out["noise"] = db_to_amplitude(p["noise_gain"]).unsqueeze(-1) * decay(p["noise_decay"]) * filtered
        return out

    def voice(self, theta: Tensor, noise: Tensor) -> Tensor:
        """The unshifted drum hit: ``theta`` (B, 14), ``noise`` (B, N − onset) → (B, N)."""
        s = self.sources(theta, noise)
        drive = db_to_amplitude(self.physical(theta)["drive"]).unsqueeze(-1)
        hit = torch.tanh(drive * (s["osc1"] + s["osc2"] + s["noise"]))
        return nn.functional.pad(hit, (self.onset, 0))

    def forward(self, theta: Tensor, seed: Tensor) -> Tensor:
        """``theta`` (B, 14) in [0, 1], ``seed`` (B,) int64 → x (B, 1, N)."""
        check_theta_seed(theta, seed, self.n_params)
        if theta.numel() and not bool(((theta >= 0) & (theta <= 1)).all()):
            raise ValueError(
                f"theta must lie in [0, 1], got values in [{float(theta.min()):.4g}, {float(theta.max()):.4g}]"
            )
        shift, noise = self.draw_randomness(seed)
        x = self.voice(theta, noise)
        return shift_and_zero(x, shift.to(theta.device)).unsqueeze(1)

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_samples={self.n_samples}, "
            f"max_shift={self.max_shift}, onset={self.onset}"
        )


__all__ = [
    "MESO_MAX_SHIFT",
    "ParamRange",
    "TR808Synth",
    "TR808_N_SAMPLES",
    "TR808_ONSET",
    "TR808_RANGES",
    "TR808_SAMPLE_RATE",
    "TR808_THETA_NAMES",
    "db_to_amplitude",
    "default_ranges",
    "highpass_magnitude",
    "shift_and_zero",
]

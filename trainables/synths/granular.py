"""Granular synth of chirplet grains (paper §4.2, Table 10; notes §9.1, released ``ChirpTextureSynth``).

Two parameters, both in ``[0, 1]``: ``density`` (how many grains are audible) and ``slope`` (the
common chirp rate of all grains). Per example, a private ``torch.Generator`` seeded with the
example's seed draws the grain pitches and onsets; these draws never depend on ``theta``, so a
target ``x = synth(theta, seed)`` and a reconstruction ``synth(theta_hat, seed)`` share the same
grains and differ only through ``theta``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from trainables.core.checks import check_int, check_positive


def check_theta_seed(theta: Tensor, seed: Tensor, n_params: int) -> None:
    """Validate the synth inputs: ``theta`` (B, U) floating, ``seed`` (B,) integer, non-negative."""
    if not isinstance(theta, Tensor) or theta.ndim != 2 or theta.shape[1] != n_params:
        shape = tuple(theta.shape) if isinstance(theta, Tensor) else type(theta).__name__
        raise ValueError(f"theta must have shape (B, {n_params}), got {shape}")
    if not theta.is_floating_point():
        raise ValueError(f"theta must be a floating-point tensor, got {theta.dtype}")
    if not isinstance(seed, Tensor) or seed.ndim != 1 or seed.shape[0] != theta.shape[0]:
        shape = tuple(seed.shape) if isinstance(seed, Tensor) else type(seed).__name__
        raise ValueError(f"seed must have shape ({theta.shape[0]},) to match theta, got {shape}")
    if seed.is_floating_point() or seed.is_complex() or seed.dtype == torch.bool:
        raise ValueError(f"seed must be an integer tensor (int64), got {seed.dtype}")
    if seed.numel() and int(seed.min()) < 0:
        raise ValueError(f"seed must be non-negative, got min {int(seed.min())}")


def example_generators(seed: Tensor) -> list[torch.Generator]:
    """One CPU ``torch.Generator`` per example, seeded with that example's seed (shape (B,)).

    Draws are made on the CPU and moved to the signal's device, so unlike the released code (which
    used a device-specific generator, notes §9.1) the audio does not depend on the device.
    """
    return [torch.Generator(device="cpu").manual_seed(int(s)) for s in seed.tolist()]


class GranularSynth(nn.Module):
    """Texture of ``n_grains`` Hann-windowed exponential chirps (notes §9.1).

    Args:
        sample_rate: sr in Hz (paper 8192).
        n_samples: N, output length (paper 32768 = 4 s).
        n_grains: G, grains per example (paper 64).
        grain_n_samples: L, grain length (paper 4096 = 0.5 s); must be <= N.
        f0_min_hz, f0_max_hz: pitch range, drawn log-uniformly per grain (paper 256–2048 Hz);
            ``f0_max_hz`` must be below Nyquist.
        max_theta_slope: in (0, 1); ``|γ|`` is at most ``tan(max_theta_slope·π/2)·sr/(4·Q·hop)``.
        Q, hop: constants of the released slope→chirp-rate scaling (12 and 256).

    Parameter laws (i = 0..G−1):

    * density → amplitudes: ``c = 0.25·θ_d + 0.75·θ_d²``, ``z_i = (1−θ_d)·(i − G·c)``,
      ``a_i = 1 − sigmoid(2 z_i)``, ``a ← a / max_i a_i``. θ_d = 1 gives equal grains.
    * slope → chirp rate: ``γ = tan(max_theta_slope·(2θ_s − 1)·π/2) · sr/(Q·hop)/4`` octaves/s;
      at the paper's sizes ``γ = (2/3)·tan(0.475π·(2θ_s − 1))``, ``|γ| <= 8.47``.
    * grain i: ``τ_n = (n − L/2)/sr``, ``f_n = f0_i·2^(γ τ_n)``, ``φ_n = 2π·cumsum(f/sr)``,
      ``grain = sin(φ)·a_i·w_hann/sqrt(f0_i)`` with ``w_hann[n] = sin²(πn/L)``.
    * mix: grain i is added at samples ``[o_i, o_i + L)``, then ``x ← x/||x||₂`` per example.

    Random draws per example (generator seeded by the seed): G uniforms for ``log2 f0``, then G
    uniforms ``u`` for the onsets ``o_i = floor(u·(N − L))``. The chirp may alias above Nyquist
    for steep slopes and high pitches, as in the released synth.

    ``forward(theta, seed)``: ``theta`` (B, 2) = (density, slope) in [0, 1], ``seed`` (B,) int64
    → ``x`` (B, 1, N) with unit L2 norm. Gradients reach ``θ_d`` through the amplitudes and ``θ_s``
    through ``γ``.
    """

    theta_names: tuple[str, ...] = ("density", "slope")

    def __init__(
        self,
        sample_rate: int = 8192,
        n_samples: int = 32768,
        n_grains: int = 64,
        grain_n_samples: int = 4096,
        f0_min_hz: float = 256.0,
        f0_max_hz: float = 2048.0,
        max_theta_slope: float = 0.95,
        Q: int = 12,
        hop: int = 256,
    ) -> None:
        super().__init__()
        self.sample_rate = check_int("sample_rate", sample_rate, 1)
        self.n_samples = check_int("n_samples", n_samples, 1)
        self.n_grains = check_int("n_grains", n_grains, 1)
        self.grain_n_samples = check_int("grain_n_samples", grain_n_samples, 1)
        if self.grain_n_samples < 2 or self.grain_n_samples > self.n_samples:
            raise ValueError(f"grain_n_samples must be in [2, n_samples={n_samples}], got {grain_n_samples}")
        self.f0_min_hz = check_positive("f0_min_hz", f0_min_hz)
        self.f0_max_hz = check_positive("f0_max_hz", f0_max_hz)
        if not self.f0_min_hz < self.f0_max_hz:
            raise ValueError(f"f0_min_hz must be below f0_max_hz, got {f0_min_hz} >= {f0_max_hz}")
        if not self.f0_max_hz < sample_rate / 2:
            raise ValueError(f"f0_max_hz must be below Nyquist ({sample_rate / 2} Hz), got {f0_max_hz}")
        if isinstance(max_theta_slope, bool) or not 0 < max_theta_slope < 1:
            raise ValueError(f"max_theta_slope must be in (0, 1), got {max_theta_slope!r}")
        self.max_theta_slope = float(max_theta_slope)
        self.Q = check_int("Q", Q, 1)
        self.hop = check_int("hop", hop, 1)

        L = self.grain_n_samples
        n = torch.arange(L, dtype=torch.float64)
        # Derived from the constructor arguments (not in the state_dict); float64, cast to θ's
        # dtype in forward.
        self.register_buffer("tau", (n - L / 2) / sample_rate, persistent=False)
        self.register_buffer("hann", torch.sin(math.pi * n / L).pow(2), persistent=False)
        self.register_buffer("grain_index", torch.arange(self.n_grains, dtype=torch.float64), persistent=False)

    @property
    def n_params(self) -> int:
        return len(self.theta_names)

    @property
    def max_chirp_rate(self) -> float:
        """``|γ|`` at θ_s ∈ {0, 1}, octaves/s (8.47 at the paper's sizes)."""
        return math.tan(self.max_theta_slope * math.pi / 2) * self.sample_rate / (self.Q * self.hop) / 4

    def grain_amplitudes(self, theta_density: Tensor) -> Tensor:
        """Density law: ``theta_density`` (B,) → amplitudes ``a`` (B, G) with ``max_i a_i = 1``."""
        d = theta_density.unsqueeze(-1)
        c = 0.25 * d + 0.75 * d.pow(2)
        z = (1.0 - d) * (self.grain_index.to(d) - self.n_grains * c)
        a = 1.0 - torch.sigmoid(2.0 * z)
        return a / a.amax(dim=-1, keepdim=True)

    def chirp_rate(self, theta_slope: Tensor) -> Tensor:
        """Slope law: ``theta_slope`` (B,) in [0, 1] → chirp rate γ (B,) in octaves/s."""
        s = 2.0 * theta_slope - 1.0
        scale = self.sample_rate / (self.Q * self.hop) / 4
        return torch.tan(self.max_theta_slope * s * (math.pi / 2)) * scale

    def draw_grains(self, seed: Tensor) -> tuple[Tensor, Tensor]:
        """Per-example random draws: ``seed`` (B,) → (``f0`` (B, G) Hz float32, onsets (B, G) int64).

        Depends on the seed only (never on θ). Order per example: G uniforms for ``log2 f0``, then G
        uniforms for the onsets.
        """
        G, lo, hi = self.n_grains, math.log2(self.f0_min_hz), math.log2(self.f0_max_hz)
        log2_f0, onset = [], []
        for g in example_generators(seed):
            log2_f0.append(lo + torch.rand(G, generator=g) * (hi - lo))
            onset.append(torch.floor(torch.rand(G, generator=g) * (self.n_samples - self.grain_n_samples)))
        if not log2_f0:
            return torch.empty(0, G), torch.empty(0, G, dtype=torch.long)
        return torch.exp2(torch.stack(log2_f0)), torch.stack(onset).long()

    def forward(self, theta: Tensor, seed: Tensor) -> Tensor:
        """``theta`` (B, 2) = (density, slope) in [0, 1], ``seed`` (B,) int64 → x (B, 1, N)."""
        check_theta_seed(theta, seed, self.n_params)
        B, G, L, N = theta.shape[0], self.n_grains, self.grain_n_samples, self.n_samples
        f0, onset = self.draw_grains(seed)
        f0, onset = f0.to(theta), onset.to(theta.device)

        amp = self.grain_amplitudes(theta[:, 0])  # (B, G)
        gamma = self.chirp_rate(theta[:, 1])  # (B,)
        tau = self.tau.to(theta)  # (L,)
        # φ_n = 2π·cumsum_n(f0·2^(γτ)/sr) = (2π f0/sr)·cumsum_n(2^(γτ)): the cumsum is shared by
        # all grains of an example, so only one (B, G, L) product is needed.
        sweep = torch.cumsum(torch.exp2(gamma.unsqueeze(-1) * tau), dim=-1)  # (B, L)
        phase = ((2 * math.pi / self.sample_rate) * f0).unsqueeze(-1) * sweep.unsqueeze(1)
        gain = amp / f0.sqrt()  # (B, G)
        grains = torch.sin(phase) * (gain.unsqueeze(-1) * self.hann.to(theta))  # (B, G, L)

        index = onset.unsqueeze(-1) + torch.arange(L, device=theta.device)  # (B, G, L)
        x = theta.new_zeros(B, N).scatter_add(1, index.view(B, G * L), grains.view(B, G * L))
        x = x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp_min(1e-12)
        return x.unsqueeze(1)

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_samples={self.n_samples}, "
            f"n_grains={self.n_grains}, grain_n_samples={self.grain_n_samples}, "
            f"f0_hz=({self.f0_min_hz}, {self.f0_max_hz}), "
            f"max_theta_slope={self.max_theta_slope}, Q={self.Q}, hop={self.hop}"
        )

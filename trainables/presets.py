"""Named experiment presets: the paper's configurations (Tables 10–11) and a smoke scale of each.

* ``granular`` — Table 10 (lr 1e-5, 200 epochs, θ-IS on 10 batches of 32);
* ``chirplet-<cfg>`` — Table 11 (lr 1e-4, 50 epochs, θ-IS on 1 batch of 32) for ``cfg`` in
  ``lo-lo, lo-med, hi-med, hi-hi`` (the released AM/FM ranges, which produced the paper's numbers)
  and ``<cfg>-paper`` (the ranges printed in paper Section 4.3);
* ``smoke-granular``, ``smoke-chirplet-<cfg>`` — the same pipeline shrunk to run on one CPU core in
  seconds (4096 samples at 2048 Hz, a small JTFS with P = 28 paths, an 8-channel encoder, an 8×8
  θ grid, 4 epochs). Plumbing only: this JTFS (T = 64 samples) is too short to see the synths'
  slow modulations, so SCRAPL does not learn at this scale;
* ``tr808-micro``, ``tr808-meso`` — Table 12 (44.1 kHz one-shots, JTFS with J_fr = 5, T = 2048,
  F = 1, log1p ρ, P = 483; batch 8; lr 1e-4 → 1e-5 linearly over 50 epochs; θ-IS on 1 batch of 16;
  no grad_mult). Micro: aligned reconstruction; meso: reconstruction shifted by up to ±2048
  samples. Targets default to synthetic one-shots (``data.source=oneshot-synthetic``, 681 examples
  split 425/128/128 by the run seed); train on your recordings with
  ``--set data.source=oneshot-folder --set data.oneshot_root=/path/to/wavs``. Test metrics are the
  audio metrics of Tables 4, 8, 9 (``eval.jtfs=true`` adds the slow JTFS distance);
* ``smoke-tr808-micro``, ``smoke-tr808-meso`` (also ``smoke-tr808``) — the TR-808 pipeline at
  8192 Hz, 1 s, on 48 synthetic one-shots, in seconds;
* ``mini-granular``, ``mini-chirplet-<cfg>`` — a reduced scale for real comparisons on a CPU in
  minutes: same signals, a JTFS with ``J = 9`` (T = 0.25 s, P = 49) that resolves modulations
  down to ~2 Hz, a 16-channel encoder, a 16×16 θ grid (307 training examples), batch 16, 40 epochs.
* ``repl-granular``, ``repl-chirplet-<cfg>`` — the replication scale of issue 16 (calibrated on one CPU
  core, ``results/replication/calibration.md``): the mini presets with a granular synth at 4096 Hz
  (16 grains, J = 10) and, for the chirplets, encoder dropout 0.1; 2–3 CPU-minutes per trial.

``get_preset(name)`` returns a validated ``RunConfig``; arms and seeds are set on top of it.
"""

from __future__ import annotations

from dataclasses import replace

from trainables.config import DataConfig, EncoderConfig, EvalConfig, JTFSConfig, RunConfig, SynthConfig, TrainConfig
from trainables.synths import CHIRPLET_CONFIGS

_PAPER_JTFS = JTFSConfig(J=12, Q1=8, Q2=2, J_fr=3, Q_fr=2)  # T = 4096, F = 8 by default; P = 315

GRANULAR = RunConfig(
    preset="granular",
    synth=SynthConfig(
        kind="granular",
        sample_rate=8192,
        n_samples=32768,
        n_grains=64,
        grain_n_samples=4096,
        f0_min_hz=256.0,
        f0_max_hz=2048.0,
    ),
    jtfs=_PAPER_JTFS,
    encoder=EncoderConfig(),
    data=DataConfig(grid_size=32, n_seeds_per_theta=5, batch_size=32),
    train=TrainConfig(lr=1e-5, epochs=200, theta_is_batches=10, theta_is_batch_size=32),
)


def _chirplet(ranges: str) -> RunConfig:
    return replace(
        GRANULAR,
        preset=f"chirplet-{ranges}",
        synth=SynthConfig(
            kind="chirplet", sample_rate=8192, n_samples=32768, chirplet_ranges=ranges, f0_hz=512.0, max_shift=2048
        ),
        train=TrainConfig(lr=1e-4, epochs=50, theta_is_batches=1, theta_is_batch_size=32),
    )


# Smoke scale: same code paths, seconds on one core.
_SMOKE_JTFS = JTFSConfig(J=6, Q1=4, Q2=1, J_fr=2, Q_fr=1)  # N = 4096: P = 28
_SMOKE_ENCODER = EncoderConfig(channels=8, latent=8, hop_length=64)
_SMOKE_DATA = DataConfig(grid_size=8, n_seeds_per_theta=2, batch_size=8)  # 78 / 26 / 24 examples


def _smoke(base: RunConfig, synth: SynthConfig, lr: float) -> RunConfig:
    return replace(
        base,
        preset=f"smoke-{base.preset}",
        synth=synth,
        jtfs=_SMOKE_JTFS,
        encoder=_SMOKE_ENCODER,
        data=_SMOKE_DATA,
        train=TrainConfig(lr=lr, epochs=4, theta_is_batches=1, theta_is_batch_size=4, theta_is_iters=3),
    )


PRESETS: dict[str, RunConfig] = {"granular": GRANULAR}
for _name in CHIRPLET_CONFIGS:
    PRESETS[f"chirplet-{_name}"] = _chirplet(_name)
PRESETS["smoke-granular"] = _smoke(
    GRANULAR,
    SynthConfig(
        kind="granular",
        sample_rate=2048,
        n_samples=4096,
        n_grains=8,
        grain_n_samples=512,
        f0_min_hz=64.0,
        f0_max_hz=512.0,
    ),
    lr=1e-3,
)
for _name in CHIRPLET_CONFIGS:
    PRESETS[f"smoke-chirplet-{_name}"] = _smoke(
        PRESETS[f"chirplet-{_name}"],
        SynthConfig(
            kind="chirplet", sample_rate=2048, n_samples=4096, chirplet_ranges=_name, f0_hz=256.0, max_shift=256
        ),
        lr=1e-3,
    )


def _tr808(setting: str) -> RunConfig:
    return RunConfig(
        preset=f"tr808-{setting}",
        synth=SynthConfig(
            kind="tr808", sample_rate=44100, n_samples=44100, onset=2048, max_shift=2048 if setting == "meso" else 0
        ),
        jtfs=JTFSConfig(J=12, Q1=8, Q2=2, J_fr=5, Q_fr=2, T=2048, F=1, use_rho_log1p=True),  # P = 483
        encoder=EncoderConfig(
            channels=128,
            n_blocks=5,
            pools=((2, 2), (2, 2), (2, 3), (3, 3), (3, 3)),
            latent=128,
            dropout=0.25,
            hop_length=256,
            n_octaves=9,
            bins_per_octave=12,
        ),
        data=DataConfig(source="oneshot-synthetic", split_sizes=(425, 128, 128), n_examples=681, batch_size=8),
        train=TrainConfig(
            lr=1e-4,
            lr_schedule="linear",
            lr_end=1e-5,
            epochs=50,
            grad_mult=1.0,
            theta_is_batches=1,
            theta_is_batch_size=16,
        ),
        eval=EvalConfig(perceptual=True),
    )


def _smoke_tr808(setting: str, name: str) -> RunConfig:
    return RunConfig(
        preset=name,
        synth=SynthConfig(
            kind="tr808", sample_rate=8192, n_samples=8192, onset=256, max_shift=256 if setting == "meso" else 0
        ),
        jtfs=JTFSConfig(J=8, Q1=4, Q2=1, J_fr=2, Q_fr=1, use_rho_log1p=True),  # N = 8192: P = 42
        encoder=EncoderConfig(channels=8, latent=8, hop_length=64, dropout=0.25),
        data=DataConfig(source="oneshot-synthetic", split_sizes=(32, 8, 8), n_examples=48, batch_size=8),
        train=TrainConfig(
            lr=1e-3, epochs=3, grad_mult=1.0, theta_is_batches=1, theta_is_batch_size=4, theta_is_iters=3
        ),
        eval=EvalConfig(perceptual=True, jtfs=True),
    )


for _setting in ("micro", "meso"):
    PRESETS[f"tr808-{_setting}"] = _tr808(_setting)
PRESETS["smoke-tr808"] = _smoke_tr808("meso", "smoke-tr808")  # the meso smoke scale, under a short name
PRESETS["smoke-tr808-meso"] = _smoke_tr808("meso", "smoke-tr808-meso")  # smoke twin of tr808-meso
PRESETS["smoke-tr808-micro"] = _smoke_tr808("micro", "smoke-tr808-micro")

_MINI_JTFS = JTFSConfig(J=9, Q1=4, Q2=1, J_fr=2, Q_fr=1)  # N = 4096: P = 49
for _name, _smoke_cfg in list(PRESETS.items()):
    if _name.startswith("smoke-") and _smoke_cfg.data.source == "grid":
        PRESETS["mini-" + _name[len("smoke-") :]] = replace(
            _smoke_cfg,
            preset="mini-" + _name[len("smoke-") :],
            jtfs=_MINI_JTFS,
            encoder=EncoderConfig(channels=16, latent=16, hop_length=64),
            data=DataConfig(grid_size=16, n_seeds_per_theta=2, batch_size=16),
            train=replace(_smoke_cfg.train, epochs=40, theta_is_batch_size=16, theta_is_iters=20),
        )


def get_preset(name: str) -> RunConfig:
    """The validated ``RunConfig`` of a preset; ``ValueError`` lists the known names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(sorted(PRESETS))}") from None


# Replication scale (issue 16): the mini presets calibrated on one CPU core (results/replication/calibration.md).
# repl-granular: 4096 Hz, 2 s (8192 samples), 16 grains of 0.5 s between 128 and 1024 Hz, J = 10 (T = 0.25 s),
# the mini encoder (dropout 0.5);
# repl-chirplet-<cfg>: the mini chirplet (2048 Hz, 2 s, J = 9) with encoder dropout 0.1. Both keep the paper's
# algorithm (released P-Adam/P-SAGA rule, grad_mult 1e8, 60/20/20 fold split, θ-IS with 20 power iterations).
_REPL_GRANULAR_SYNTH = SynthConfig(
    kind="granular",
    sample_rate=4096,
    n_samples=8192,
    n_grains=16,
    grain_n_samples=2048,
    f0_min_hz=128.0,
    f0_max_hz=1024.0,
)
PRESETS["repl-granular"] = replace(
    PRESETS["mini-granular"], preset="repl-granular", synth=_REPL_GRANULAR_SYNTH, jtfs=replace(_MINI_JTFS, J=10)
)
for _name in CHIRPLET_CONFIGS:
    _mini = PRESETS[f"mini-chirplet-{_name}"]
    PRESETS[f"repl-chirplet-{_name}"] = replace(
        _mini, preset=f"repl-chirplet-{_name}", encoder=replace(_mini.encoder, dropout=0.1)
    )

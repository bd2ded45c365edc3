"""The run config's sections: one frozen dataclass per concern, each validated at construction.

``SynthConfig`` (the decoder), ``JTFSConfig`` (SCRAPL's and the full-JTFS baseline's scattering),
``EncoderConfig``, ``DataConfig`` (where targets come from), ``TrainConfig`` (loss, SCRAPL toggles,
optimisation) and ``EvalConfig`` (extra test metrics), with the choices their fields accept. A bad value
raises ``ConfigError`` naming its dotted field. ``trainables.config.RunConfig`` holds one of each, checks
what spans sections, and converts to and from dotted keys; it re-exports everything here.
"""

from __future__ import annotations

from dataclasses import dataclass

from trainables.config_checks import ConfigError, choice_field, fail, float_field, int_field
from trainables.split_sizes import SPLITS, SplitSizeError, check_sizes, is_fractional, split_counts

__all__ = [
    "CHECKPOINT_METRICS",
    "DATA_SOURCES",
    "LOSSES",
    "LR_SCHEDULES",
    "SYNTHS",
    "VAL_PATHS",
    "DataConfig",
    "EncoderConfig",
    "EvalConfig",
    "JTFSConfig",
    "SynthConfig",
    "TrainConfig",
]

SYNTHS = ("granular", "chirplet", "tr808")
LOSSES = ("scrapl", "jtfs", "mss-linear", "mss-log-linear", "mss-revisited", "mss-random", "p-loss")
LR_SCHEDULES = ("none", "linear")
CHECKPOINT_METRICS = ("val_loss", "val_theta_l1")
DATA_SOURCES = ("grid", "oneshot-synthetic", "oneshot-folder")
VAL_PATHS = ("uniform", "pi")


@dataclass(frozen=True)
class SynthConfig:
    """The decoder D (notes §9.1–9.2). Fields of the other synth kinds are ignored."""

    kind: str = "granular"
    sample_rate: int = 8192
    n_samples: int = 32768
    # granular (Table 10)
    n_grains: int = 64
    grain_n_samples: int = 4096
    f0_min_hz: float = 256.0
    f0_max_hz: float = 2048.0
    # chirplet (Table 11): named AM/FM ranges ("lo-lo" ... released; "...-paper" as printed)
    chirplet_ranges: str = "lo-lo"
    f0_hz: float = 512.0
    max_shift: int = 2048  # random time shift ±max_shift samples (chirplet; TR-808 meso; 0 = micro)
    # TR-808 (Table 12): sample where the hit starts (and where recordings' onsets are aligned)
    onset: int = 2048

    def __post_init__(self) -> None:
        choice_field("synth.kind", self.kind, SYNTHS)
        int_field("synth.sample_rate", self.sample_rate, 8)
        int_field("synth.n_samples", self.n_samples, 64)
        if self.kind == "granular":
            int_field("synth.n_grains", self.n_grains, 1)
            int_field("synth.grain_n_samples", self.grain_n_samples, 8, self.n_samples)
            float_field("synth.f0_min_hz", self.f0_min_hz, 0.0, strict=True)
            float_field("synth.f0_max_hz", self.f0_max_hz, 0.0, strict=True, high=self.sample_rate / 2)
            if self.f0_max_hz <= self.f0_min_hz:
                fail("synth.f0_max_hz", f"must be > synth.f0_min_hz ({self.f0_min_hz}), got {self.f0_max_hz}")
        else:
            int_field("synth.max_shift", self.max_shift, 0, self.n_samples // 2)
        if self.kind == "tr808":
            int_field("synth.onset", self.onset, 0, self.n_samples - 1)
        if self.kind == "chirplet":
            # lazy: these modules import torch; the run config stays torch-free
            from trainables.synths import CHIRPLET_CONFIGS

            float_field("synth.f0_hz", self.f0_hz, 0.0, strict=True, high=self.sample_rate / 2)
            choice_field("synth.chirplet_ranges", self.chirplet_ranges, tuple(CHIRPLET_CONFIGS))


@dataclass(frozen=True)
class JTFSConfig:
    """JTFS hyperparameters of SCRAPL and the full-JTFS baseline (Tables 10–12); N = synth.n_samples."""

    J: int = 12
    Q1: int = 8
    Q2: int = 2
    J_fr: int = 3
    Q_fr: int = 2
    T: int | None = None  # default 2**J
    F: int | None = None  # default 2**J_fr
    use_rho_log1p: bool = False

    def __post_init__(self) -> None:
        for name in ("J", "Q1", "Q2", "J_fr", "Q_fr"):
            int_field(f"jtfs.{name}", getattr(self, name), 1)
        for name in ("T", "F"):
            if getattr(self, name) is not None:
                int_field(f"jtfs.{name}", getattr(self, name), 1)


@dataclass(frozen=True)
class EncoderConfig:
    """CQT front end + 5-block CNN (notes §9.4, Table 10)."""

    channels: int = 128
    n_blocks: int = 5
    pools: tuple[tuple[int, int], ...] = ((2, 2),) * 5
    latent: int = 64
    dropout: float = 0.5
    hop_length: int = 256
    n_octaves: int = 5
    bins_per_octave: int = 12

    def __post_init__(self) -> None:
        int_field("encoder.channels", self.channels, 1)
        int_field("encoder.n_blocks", self.n_blocks, 1)
        if (
            not isinstance(self.pools, tuple)
            or len(self.pools) != self.n_blocks
            or not all(
                isinstance(p, tuple) and len(p) == 2 and all(isinstance(k, int) and k >= 1 for k in p)
                for p in self.pools
            )
        ):
            fail("encoder.pools", f"expected {self.n_blocks} (freq, time) pairs of positive ints, got {self.pools!r}")
        int_field("encoder.latent", self.latent, 2)
        float_field("encoder.dropout", self.dropout, 0.0, high=0.99)
        int_field("encoder.hop_length", self.hop_length, 1)
        int_field("encoder.n_octaves", self.n_octaves, 1)
        int_field("encoder.bins_per_octave", self.bins_per_octave, 1)


@dataclass(frozen=True)
class DataConfig:
    """Where targets come from.

    ``grid`` (granular / chirplet, notes §9.3): grid_size² θ combinations × n_seeds_per_theta, split
    60/20/20 by θ combination. ``oneshot-folder`` (TR-808, paper §4.4): the audio one-shots under
    ``oneshot_root`` (WAV, FLAC, AIFF, OGG, MP3; no θ), split ``split_sizes`` by the run seed.
    ``oneshot-synthetic``: the same interface with ``n_examples`` random θ rendered by the synth (θ
    known; tests and demos). ``split_sizes`` are counts (paper 425/128/128) or fractions summing to 1
    (``trainables.split_sizes``).
    """

    source: str = "grid"
    grid_size: int = 32
    n_seeds_per_theta: int = 5
    batch_size: int = 32
    oneshot_root: str | None = None
    split_sizes: tuple[int | float, ...] = (425, 128, 128)  # paper: 681 TR-808 one-shots; or [0.6, 0.2, 0.2]
    n_examples: int = 681
    skip_bad: bool = False  # skip (and report) unreadable / empty / silent / ... files instead of failing
    max_duration_s: float | None = None  # refuse longer files (e.g. loops); None: every file is cut to the window
    cache_dir: str | None = None  # decode cache of oneshot_root (the study sets <study>/data); None: decode here

    def __post_init__(self) -> None:
        choice_field("data.source", self.source, DATA_SOURCES)
        int_field("data.grid_size", self.grid_size, 2)
        int_field("data.n_seeds_per_theta", self.n_seeds_per_theta, 1)
        int_field("data.batch_size", self.batch_size, 1)
        try:
            sizes = check_sizes(self.split_sizes)
        except SplitSizeError as err:
            raise ConfigError(str(err)) from None
        int_field("data.n_examples", self.n_examples, 3)
        if not isinstance(self.skip_bad, bool):
            fail("data.skip_bad", f"expected true or false, got {self.skip_bad!r}")
        if self.max_duration_s is not None:
            float_field("data.max_duration_s", self.max_duration_s, 0.0, strict=True)
        if self.cache_dir is not None and not isinstance(self.cache_dir, str):
            fail("data.cache_dir", f"expected a folder path, got {self.cache_dir!r}")
        if self.source == "oneshot-folder" and not self.oneshot_root:
            fail("data.oneshot_root", "required by data.source='oneshot-folder' (a folder of audio one-shots)")
        if self.source == "oneshot-synthetic":
            if not is_fractional(sizes) and sum(sizes) > self.n_examples:
                fail(
                    "data.split_sizes",
                    f"{self.split_sizes} needs {sum(sizes)} examples, data.n_examples is {self.n_examples}",
                )
            try:
                split_counts(self.n_examples, sizes, what="synthetic examples")
            except SplitSizeError as err:
                raise ConfigError(str(err)) from None

    def known_split_counts(self) -> dict[str, int] | None:
        """{"train", "val", "test"} → examples, when known without reading data: always for synthetic
        one-shots and for counts; None for fractions of a folder (known once it is loaded) and the θ grid
        (``trainables.data.ThetaGrid``)."""
        if self.source == "oneshot-synthetic":
            return split_counts(self.n_examples, self.split_sizes)
        if self.source == "oneshot-folder" and not is_fractional(self.split_sizes):
            return dict(zip(SPLITS, self.split_sizes, strict=True))
        return None


@dataclass(frozen=True)
class EvalConfig:
    """Extra evaluation (TR-808 Tables 4, 8, 9): audio metrics of test reconstructions."""

    perceptual: bool = False  # MSS log+lin distance, transient/decay loudness, centroid, flatness L1
    jtfs: bool = False  # add the full-JTFS distance to the test metrics (slow: ~30 s/example on CPU)
    val_jtfs: bool = False  # full-JTFS distance of validation reconstructions at every validation
    fad_embedding: str | None = None  # local embedding checkpoint for FAD (off: none ships offline)
    fad_sample_rate: int = 16000
    # SCRAPL's validation loss, one path per batch: drawn "uniform"ly (default: the same estimand, the mean
    # path distance, for every arm, so a θ-IS arm's checkpoint is not chosen on the paths it trains on) or
    # from the run's π ("pi", the released code's choice; equal to uniform without θ-IS).
    val_paths: str = "uniform"

    def __post_init__(self) -> None:
        for name in ("perceptual", "jtfs", "val_jtfs"):
            if not isinstance(getattr(self, name), bool):
                fail(f"eval.{name}", f"expected true or false, got {getattr(self, name)!r}")
        if self.val_paths not in VAL_PATHS:
            fail("eval.val_paths", f"expected one of {', '.join(VAL_PATHS)}, got {self.val_paths!r}")
        int_field("eval.fad_sample_rate", self.fad_sample_rate, 1000)


@dataclass(frozen=True)
class TrainConfig:
    """Loss, SCRAPL toggles and optimisation (notes §6–8, Tables 10–12).

    The optimizer follows the released code: SGD (momentum 0, coupled weight decay) after the
    P-Adam/P-SAGA transform when either is on; AdamW for plain SCRAPL and every baseline.
    """

    loss: str = "scrapl"
    p_adam: bool = False
    p_saga: bool = False
    theta_is: bool = False
    lr: float = 1e-5
    lr_schedule: str = "none"
    lr_end: float | None = None  # final lr of the "linear" schedule (TR-808: 1e-4 -> 1e-5)
    epochs: int = 200
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    grad_mult: float = 1e8  # released default; 1 with log1p ρ (TR-808)
    pathwise_variant: str = "released"  # or "paper" (Eqs. 6-9 exactly)
    checkpoint_metric: str = "val_loss"  # the released code keeps the lowest val/loss
    max_steps: int | None = None  # stop early (smoke tests); None = all epochs
    # θ-IS (notes §8): warm-up batches, power iterations, floor, and a precomputed π (.npy/.json)
    theta_is_batches: int = 1
    theta_is_batch_size: int = 32
    theta_is_iters: int = 20
    theta_is_min_prob_frac: float = 0.0
    theta_is_probs: str | None = None
    # Fault injection for reliability tests: the training loss is NaN at this global step.
    inject_nan_at_step: int | None = None

    def __post_init__(self) -> None:
        choice_field("train.loss", self.loss, LOSSES)
        for name in ("p_adam", "p_saga", "theta_is"):
            if not isinstance(getattr(self, name), bool):
                fail(f"train.{name}", f"expected true or false, got {getattr(self, name)!r}")
        if self.loss != "scrapl" and (self.p_adam or self.p_saga or self.theta_is):
            fail("train.loss", f"P-Adam, P-SAGA and θ-IS apply to the scrapl loss only, got loss={self.loss!r}")
        float_field("train.lr", self.lr, 0.0, strict=True)
        choice_field("train.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.lr_schedule == "linear":
            if self.lr_end is None:
                fail("train.lr_end", "required by lr_schedule='linear'")
            float_field("train.lr_end", self.lr_end, 0.0, strict=True)
        int_field("train.epochs", self.epochs, 1)
        float_field("train.weight_decay", self.weight_decay, 0.0)
        float_field("train.beta1", self.beta1, 0.0, high=0.999999)
        float_field("train.beta2", self.beta2, 0.0, high=0.999999)
        float_field("train.eps", self.eps, 0.0)
        float_field("train.grad_mult", self.grad_mult, 0.0, strict=True)
        choice_field("train.pathwise_variant", self.pathwise_variant, ("released", "paper"))
        choice_field("train.checkpoint_metric", self.checkpoint_metric, CHECKPOINT_METRICS)
        if self.max_steps is not None:
            int_field("train.max_steps", self.max_steps, 1)
        int_field("train.theta_is_batches", self.theta_is_batches, 1)
        int_field("train.theta_is_batch_size", self.theta_is_batch_size, 1)
        int_field("train.theta_is_iters", self.theta_is_iters, 1)
        float_field("train.theta_is_min_prob_frac", self.theta_is_min_prob_frac, 0.0, high=0.999)
        if self.inject_nan_at_step is not None:
            int_field("train.inject_nan_at_step", self.inject_nan_at_step, 1)

    @property
    def pathwise(self) -> bool:
        """True when the P-Adam/P-SAGA optimizer (followed by SGD) is used."""
        return self.p_adam or self.p_saga

"""Typed, validated run configuration: one frozen dataclass per concern, flattened to dotted keys.

A config field, its Ray param-space key, its MLflow param and its results column share one name:
``train.lr`` is ``RunConfig.train.lr`` everywhere. ``flatten`` / ``from_flat`` convert both ways;
``from_flat`` and ``override`` reject unknown keys and type changes (the nanoGPT property, without
``exec``). Every dataclass validates itself at construction and names the offending field.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

from common.checks import FIELD, check_int
from trainables.split_sizes import SPLITS, SplitSizeError, check_sizes, is_fractional, split_counts

SYNTHS = ("granular", "chirplet", "tr808")
LOSSES = ("scrapl", "jtfs", "mss-linear", "mss-log-linear", "mss-revisited", "mss-random", "p-loss")
LR_SCHEDULES = ("none", "linear")
CHECKPOINT_METRICS = ("val_loss", "val_theta_l1")
DEVICES = ("auto", "cpu", "cuda")
DATA_SOURCES = ("grid", "oneshot-synthetic", "oneshot-folder")


class ConfigError(ValueError):
    """An invalid configuration value; the message starts with the dotted field name."""


def _fail(name: str, message: str) -> None:
    raise ConfigError(f"{name}: {message}")


def _int(name: str, value: Any, low: int | None = None, high: int | None = None) -> None:
    check_int(name, value, low, high, error=ConfigError, messages=FIELD)


def _float(name: str, value: Any, low: float | None = None, *, strict: bool = False, high: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(name, f"expected a finite number, got {value!r}")
    if low is not None and (value <= low if strict else value < low):
        _fail(name, f"must be {'>' if strict else '>='} {low}, got {value}")
    if high is not None and value > high:
        _fail(name, f"must be <= {high}, got {value}")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        _fail(name, f"expected one of {', '.join(choices)}; got {value!r}")


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
        _choice("synth.kind", self.kind, SYNTHS)
        _int("synth.sample_rate", self.sample_rate, 8)
        _int("synth.n_samples", self.n_samples, 64)
        if self.kind == "granular":
            _int("synth.n_grains", self.n_grains, 1)
            _int("synth.grain_n_samples", self.grain_n_samples, 8, self.n_samples)
            _float("synth.f0_min_hz", self.f0_min_hz, 0.0, strict=True)
            _float("synth.f0_max_hz", self.f0_max_hz, 0.0, strict=True, high=self.sample_rate / 2)
            if self.f0_max_hz <= self.f0_min_hz:
                _fail("synth.f0_max_hz", f"must be > synth.f0_min_hz ({self.f0_min_hz}), got {self.f0_max_hz}")
        else:
            _int("synth.max_shift", self.max_shift, 0, self.n_samples // 2)
        if self.kind == "tr808":
            _int("synth.onset", self.onset, 0, self.n_samples - 1)
        if self.kind == "chirplet":
            # lazy: these modules import torch; trainables.config itself stays torch-free
            from trainables.synths import CHIRPLET_CONFIGS

            _float("synth.f0_hz", self.f0_hz, 0.0, strict=True, high=self.sample_rate / 2)
            _choice("synth.chirplet_ranges", self.chirplet_ranges, tuple(CHIRPLET_CONFIGS))


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
            _int(f"jtfs.{name}", getattr(self, name), 1)
        for name in ("T", "F"):
            if getattr(self, name) is not None:
                _int(f"jtfs.{name}", getattr(self, name), 1)


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
        _int("encoder.channels", self.channels, 1)
        _int("encoder.n_blocks", self.n_blocks, 1)
        if (
            not isinstance(self.pools, tuple)
            or len(self.pools) != self.n_blocks
            or not all(
                isinstance(p, tuple) and len(p) == 2 and all(isinstance(k, int) and k >= 1 for k in p)
                for p in self.pools
            )
        ):
            _fail("encoder.pools", f"expected {self.n_blocks} (freq, time) pairs of positive ints, got {self.pools!r}")
        _int("encoder.latent", self.latent, 2)
        _float("encoder.dropout", self.dropout, 0.0, high=0.99)
        _int("encoder.hop_length", self.hop_length, 1)
        _int("encoder.n_octaves", self.n_octaves, 1)
        _int("encoder.bins_per_octave", self.bins_per_octave, 1)


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
        _choice("data.source", self.source, DATA_SOURCES)
        _int("data.grid_size", self.grid_size, 2)
        _int("data.n_seeds_per_theta", self.n_seeds_per_theta, 1)
        _int("data.batch_size", self.batch_size, 1)
        try:
            sizes = check_sizes(self.split_sizes)
        except SplitSizeError as err:
            raise ConfigError(str(err)) from None
        _int("data.n_examples", self.n_examples, 3)
        if not isinstance(self.skip_bad, bool):
            _fail("data.skip_bad", f"expected true or false, got {self.skip_bad!r}")
        if self.max_duration_s is not None:
            _float("data.max_duration_s", self.max_duration_s, 0.0, strict=True)
        if self.cache_dir is not None and not isinstance(self.cache_dir, str):
            _fail("data.cache_dir", f"expected a folder path, got {self.cache_dir!r}")
        if self.source == "oneshot-folder" and not self.oneshot_root:
            _fail("data.oneshot_root", "required by data.source='oneshot-folder' (a folder of audio one-shots)")
        if self.source == "oneshot-synthetic":
            if not is_fractional(sizes) and sum(sizes) > self.n_examples:
                _fail(
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


VAL_PATHS = ("uniform", "pi")


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
                _fail(f"eval.{name}", f"expected true or false, got {getattr(self, name)!r}")
        if self.val_paths not in VAL_PATHS:
            _fail("eval.val_paths", f"expected one of {', '.join(VAL_PATHS)}, got {self.val_paths!r}")
        _int("eval.fad_sample_rate", self.fad_sample_rate, 1000)


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
        _choice("train.loss", self.loss, LOSSES)
        for name in ("p_adam", "p_saga", "theta_is"):
            if not isinstance(getattr(self, name), bool):
                _fail(f"train.{name}", f"expected true or false, got {getattr(self, name)!r}")
        if self.loss != "scrapl" and (self.p_adam or self.p_saga or self.theta_is):
            _fail("train.loss", f"P-Adam, P-SAGA and θ-IS apply to the scrapl loss only, got loss={self.loss!r}")
        _float("train.lr", self.lr, 0.0, strict=True)
        _choice("train.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.lr_schedule == "linear":
            if self.lr_end is None:
                _fail("train.lr_end", "required by lr_schedule='linear'")
            _float("train.lr_end", self.lr_end, 0.0, strict=True)
        _int("train.epochs", self.epochs, 1)
        _float("train.weight_decay", self.weight_decay, 0.0)
        _float("train.beta1", self.beta1, 0.0, high=0.999999)
        _float("train.beta2", self.beta2, 0.0, high=0.999999)
        _float("train.eps", self.eps, 0.0)
        _float("train.grad_mult", self.grad_mult, 0.0, strict=True)
        _choice("train.pathwise_variant", self.pathwise_variant, ("released", "paper"))
        _choice("train.checkpoint_metric", self.checkpoint_metric, CHECKPOINT_METRICS)
        if self.max_steps is not None:
            _int("train.max_steps", self.max_steps, 1)
        _int("train.theta_is_batches", self.theta_is_batches, 1)
        _int("train.theta_is_batch_size", self.theta_is_batch_size, 1)
        _int("train.theta_is_iters", self.theta_is_iters, 1)
        _float("train.theta_is_min_prob_frac", self.theta_is_min_prob_frac, 0.0, high=0.999)
        if self.inject_nan_at_step is not None:
            _int("train.inject_nan_at_step", self.inject_nan_at_step, 1)

    @property
    def pathwise(self) -> bool:
        """True when the P-Adam/P-SAGA optimizer (followed by SGD) is used."""
        return self.p_adam or self.p_saga


@dataclass(frozen=True)
class RunConfig:
    """Everything one training run needs. ``seed`` fixes initialisation, data order, the path draws
    and the synth's reconstruction seeds, so two arms with the same seed are a proper pair."""

    preset: str = "granular"
    seed: int = 0
    synth: SynthConfig = field(default_factory=SynthConfig)
    jtfs: JTFSConfig = field(default_factory=JTFSConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    device: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.preset, str) or not self.preset:
            _fail("preset", f"expected a non-empty name, got {self.preset!r}")
        _int("seed", self.seed, 0, 2**31 - 1)
        _choice("device", self.device, DEVICES)
        if self.threads is not None:
            _int("threads", self.threads, 1)
        self._check_cross_fields()

    @property
    def has_theta(self) -> bool:
        """Whether targets come with their true θ (not for recordings)."""
        return self.data.source != "oneshot-folder"

    def _check_cross_fields(self) -> None:
        # lazy: these modules import torch; trainables.config itself stays torch-free
        from trainables.data import ThetaGrid

        grid = self.data.source == "grid"
        if grid != (self.synth.kind in ("granular", "chirplet")):
            _fail(
                "data.source",
                f"synth.kind={self.synth.kind!r} needs "
                f"{'data.source=grid' if not grid else 'a oneshot-* data.source'}, got {self.data.source!r}",
            )
        if grid:
            sizes = ThetaGrid(self.data.grid_size, self.data.n_seeds_per_theta).split_sizes()
        else:  # None for fractions of a folder: checked when the folder is loaded
            sizes = self.data.known_split_counts()
        smallest = min(sizes, key=sizes.get) if sizes else None
        if smallest is not None and self.data.batch_size > sizes[smallest]:
            _fail(
                "data.batch_size",
                f"{self.data.batch_size} is larger than the {smallest} split "
                f"({sizes[smallest]} examples; splits {sizes})",
            )
        if not self.has_theta:
            if self.train.loss == "p-loss":
                _fail("train.loss", "p-loss needs the true θ, which recordings (data.source='oneshot-folder') lack")
            if self.train.checkpoint_metric == "val_theta_l1":
                _fail("train.checkpoint_metric", "val_theta_l1 needs the true θ, which recordings lack")
        if self.train.loss in ("scrapl", "jtfs"):
            try:
                self.jtfs_settings()
            except ValueError as err:
                arg = str(err).split()[0]
                _fail("synth.n_samples" if arg == "shape" else f"jtfs.{arg}", str(err))

    def jtfs_settings(self):
        # lazy: these modules import torch; trainables.config itself stays torch-free
        from trainables.core.settings import JTFSSettings

        j = self.jtfs
        return JTFSSettings(self.synth.n_samples, j.J, j.Q1, j.Q2, j.J_fr, j.Q_fr, j.T, j.F)


# --- flat dotted keys -------------------------------------------------------------------------------
def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """``RunConfig`` → ``{"synth.kind": ..., "train.lr": ..., "seed": ...}`` (dataclass fields only)."""
    out: dict[str, Any] = {}
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        key = f"{prefix}{f.name}"
        if is_dataclass(value):
            out.update(flatten(value, key + "."))
        else:
            out[key] = value
    return out


def _field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Accept ``value`` for a field typed ``hint`` (exactly, or a lossless int→float); else raise."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        last: Exception | None = None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(key, value, option)
            except ConfigError as err:
                last = err
        raise last or ConfigError(f"{key}: unexpected value {value!r}")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is tuple:
        if isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        if not isinstance(value, tuple):
            raise ConfigError(f"{key}: expected a tuple, got {type(value).__name__} {value!r}")
        return value
    if hint in (int, float, str, bool) and type(value) is not hint:
        raise ConfigError(f"{key}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def from_flat(flat: dict[str, Any], base: RunConfig | None = None) -> RunConfig:
    """Rebuild a ``RunConfig`` from dotted keys, starting from ``base`` (defaults when None).

    Unknown keys and type changes raise ``ConfigError`` naming the key; values are re-validated.
    Keys not starting with a config field (e.g. Ray's own ``study.*`` entries) must be removed first.
    """
    base = base or RunConfig()
    known = flatten(base)
    unknown = sorted(set(flat) - set(known))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown config key (known keys: {', '.join(sorted(known))})")
    groups: dict[str, dict[str, Any]] = {}
    top: dict[str, Any] = {}
    hints = _field_types(RunConfig)
    for key, value in flat.items():
        if "." in key:
            group, name = key.split(".", 1)
            sub_hints = _field_types(type(getattr(base, group)))
            groups.setdefault(group, {})[name] = _coerce(key, value, sub_hints[name])
        else:
            top[key] = _coerce(key, value, hints[key])
    subs = {g: replace(getattr(base, g), **kv) for g, kv in groups.items()}
    return replace(base, **top, **subs)


def override(cfg: RunConfig, **dotted: Any) -> RunConfig:
    """``override(cfg, **{"train.lr": 1e-4})``: a validated copy with dotted keys replaced."""
    return from_flat(dotted, cfg)


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    """Nested plain dict (for JSON / checkpoints)."""
    return dataclasses.asdict(cfg)


def from_dict(nested: dict[str, Any]) -> RunConfig:
    """Inverse of ``to_dict`` (validated; unknown keys rejected)."""
    flat: dict[str, Any] = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return from_flat(flat)

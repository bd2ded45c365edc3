"""Typed, validated run configuration: one frozen dataclass per concern, flattened to dotted keys.

A config field, its Ray param-space key, its MLflow param and its results column share one name:
``train.lr`` is ``RunConfig.train.lr`` everywhere. ``flatten`` / ``from_flat`` convert both ways;
``from_flat`` and ``override`` reject unknown keys and type changes (the nanoGPT property, without
``exec``). Every dataclass validates itself at construction and names the offending field.

This module holds ``RunConfig`` (one of each section, and the checks that span sections) and the dotted-key
conversions; it re-exports the pieces it is built from: ``ConfigError`` and the field checks
(``trainables.config_checks``) and the sections with their choices (``trainables.config_sections``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

from trainables.config_checks import ConfigError, choice_field, fail, int_field
from trainables.config_sections import (
    CHECKPOINT_METRICS,
    DATA_SOURCES,
    LOSSES,
    LR_SCHEDULES,
    SYNTHS,
    VAL_PATHS,
    DataConfig,
    EncoderConfig,
    EvalConfig,
    JTFSConfig,
    SynthConfig,
    TrainConfig,
)
from trainables.split_sizes import grid_split_counts

__all__ = [
    "CHECKPOINT_METRICS",
    "DATA_SOURCES",
    "DEVICES",
    "LOSSES",
    "LR_SCHEDULES",
    "SYNTHS",
    "VAL_PATHS",
    "ConfigError",
    "DataConfig",
    "EncoderConfig",
    "EvalConfig",
    "JTFSConfig",
    "RunConfig",
    "SynthConfig",
    "TrainConfig",
    "flatten",
    "from_dict",
    "from_flat",
    "override",
    "to_dict",
]

DEVICES = ("auto", "cpu", "cuda")


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
            fail("preset", f"expected a non-empty name, got {self.preset!r}")
        int_field("seed", self.seed, 0, 2**31 - 1)
        choice_field("device", self.device, DEVICES)
        if self.threads is not None:
            int_field("threads", self.threads, 1)
        self._check_cross_fields()

    @property
    def has_theta(self) -> bool:
        """Whether targets come with their true θ (not for recordings)."""
        return self.data.source != "oneshot-folder"

    def _check_cross_fields(self) -> None:
        grid = self.data.source == "grid"
        if grid != (self.synth.kind in ("granular", "chirplet")):
            fail(
                "data.source",
                f"synth.kind={self.synth.kind!r} needs "
                f"{'data.source=grid' if not grid else 'a oneshot-* data.source'}, got {self.data.source!r}",
            )
        if grid:
            try:
                sizes = grid_split_counts(self.data.grid_size, self.data.n_seeds_per_theta)
            except ValueError as err:
                fail("data.grid_size", str(err))
        else:  # None for fractions of a folder: checked when the folder is loaded
            sizes = self.data.known_split_counts()
        smallest = min(sizes, key=sizes.get) if sizes else None
        if smallest is not None and self.data.batch_size > sizes[smallest]:
            fail(
                "data.batch_size",
                f"{self.data.batch_size} is larger than the {smallest} split "
                f"({sizes[smallest]} examples; splits {sizes})",
            )
        if not self.has_theta:
            if self.train.loss == "p-loss":
                fail("train.loss", "p-loss needs the true θ, which recordings (data.source='oneshot-folder') lack")
            if self.train.checkpoint_metric == "val_theta_l1":
                fail("train.checkpoint_metric", "val_theta_l1 needs the true θ, which recordings lack")
        if self.train.loss in ("scrapl", "jtfs"):
            try:
                self.jtfs_settings()
            except ValueError as err:
                arg = str(err).split()[0]
                fail("synth.n_samples" if arg == "shape" else f"jtfs.{arg}", str(err))

    def jtfs_settings(self):
        # lazy: the filter banks (numpy, scipy, kymatio: ~0.3 s) only when JTFS settings are checked
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

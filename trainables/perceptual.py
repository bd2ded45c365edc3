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

Definitions of the six timbre metrics: ``trainables.timbre``; the Fréchet distance and FAD embeddings:
``trainables.fad``. Both are re-exported here.

Every distance is 0 for identical inputs and symmetric in (x̂, x).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from trainables.baselines import MSSLogLinearLoss
from trainables.core import NAMED_SETTINGS, JTFSLoss
from trainables.fad import (
    AudioEmbedding,
    embedding_statistics,
    frechet_audio_distance,
    frechet_distance,
    load_embedding,
)
from trainables.timbre import FEATURES, PORTIONS, TIMBRE_METRICS, TimbreFeatures, a_weighting, check_pair, hz_to_mel

METRICS = ("mss_log_lin", "jtfs", "fad") + TIMBRE_METRICS
"""The nine metric names (per-run columns are ``analysis.schema.tr808_column(name)`` =
``"test_" + name``)."""


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
        check_pair(x_hat, x)
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

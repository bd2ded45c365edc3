"""One-shot drum datasets for the TR-808 experiment (paper §4.4, Table 12; notes §9.6).

Two sources behind one interface, ``OneShotData``:

* ``OneShotData.from_folder(root, ...)``: every audio file under a folder (recursively; WAV, FLAC,
  AIFF, OGG, MP3, ...), loaded by ``trainables.oneshot_folder.load_oneshot_folder`` — resampled to
  44.1 kHz, mono, onset-aligned, cut or zero-padded to 1 s, peak-normalised, labelled by drum type from
  the file and folder names. With ``cache_dir`` the folder is decoded once and memory-mapped
  (``trainables.oneshot_cache``). Real recordings have no θ.
* ``OneShotData.synthetic(n_examples, ...)``: random θ ~ U[0, 1]^14 rendered through the TR-808
  synth with a per-example seed (targets with known θ, for tests and the smoke preset).

Both split deterministically by a seed into train / val / test — counts (paper: 425 / 128 / 128 of
681) or fractions (0.6 / 0.2 / 0.2), ``trainables.split_sizes`` — one split per run seed, and give
batches whose order is a pure function of (run seed, epoch), through ``trainables.data.epoch_order``
— so a run resumed at any step knows the next batch::

    data = OneShotData.from_folder("~/808", sizes=(0.6, 0.2, 0.2), split_seed=run_seed)
    train = data.split("train")
    batch = train.batch_at_step(batch_size, run_seed, step)     # OneShotBatch
    batch.audio (B, 1, N)    batch.theta (B, 14) or None
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from trainables.audio_io import resample
from trainables.core.checks import check_int
from trainables.data import SeededBatches, order_seed
from trainables.oneshot_cache import load_folder
from trainables.oneshot_folder import (
    BadFile,
    OneShotFolder,
    detect_onset,
    list_audio_files,
    load_oneshot_folder,
    prepare_oneshot,
)
from trainables.oneshot_labels import DRUM_TYPES, drum_label
from trainables.split_sizes import PAPER_SPLIT, SPLITS, split_counts
from trainables.synths.tr808 import TR808Synth

_SPLIT_STREAM = 1 << 41  # order_seed stream of the split permutation (epochs use < 2**40)
_THETA_STREAM = 1 << 42  # order_seed stream of the synthetic θ draws


def split_indices(
    n: int, sizes: Sequence[int] | Sequence[float], seed: int, *, what: str = "examples"
) -> dict[str, Tensor]:
    """Deterministic disjoint split of ``range(n)``: {"train", "val", "test"} → sorted LongTensor.

    A permutation drawn by a private generator seeded with ``order_seed(seed, 2**41)`` (a stream
    disjoint from the epoch orders); train takes its first ``counts["train"]`` entries, then val,
    then test; each split's rows are returned in ascending order (fixed evaluation order).
    """
    counts = split_counts(n, sizes, what=what)
    check_int("seed", seed, 0)
    g = torch.Generator(device="cpu").manual_seed(order_seed(seed, _SPLIT_STREAM))
    perm = torch.randperm(n, generator=g)
    out, start = {}, 0
    for name in SPLITS:
        out[name] = perm[start : start + counts[name]].sort().values
        start += counts[name]
    return out


# --- the common interface -------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class OneShotBatch:
    """One batch: ``audio`` (b, 1, N) targets; ``theta`` (b, U) or None (recordings); ``seed`` (b,)
    int64 (the targets' synth seeds for synthetic data, the dataset row for recordings); ``rows``
    (b,) positions in the split; ``names`` and ``labels`` per example."""

    audio: Tensor
    theta: Tensor | None
    seed: Tensor
    rows: Tensor
    names: tuple[str, ...]
    labels: tuple[str | None, ...]

    def __len__(self) -> int:
        return int(self.rows.shape[0])


@dataclass(frozen=True, eq=False)
class OneShotSplit(SeededBatches):
    """One split. ``index`` (n,) rows of the parent dataset (ascending); ``theta`` (n, U) or None;
    ``seed`` (n,) int64; ``names``, ``labels``. Targets are the rows ``index`` of the parent's
    ``stored_audio`` (recordings, (M, 1, N), possibly memory-mapped: a batch reads only its rows) or are
    rendered on demand by ``synth(theta, seed)`` (synthetic). Batching as
    ``trainables.data.SeededBatches``; unlike the θ grid, evaluation keeps the last partial batch
    (the paper's 128-example val/test splits divide by 8 anyway, and a user's folder should be
    evaluated in full)."""

    FIXED_DROP_LAST = False

    name: str
    index: Tensor
    names: tuple[str, ...]
    labels: tuple[str | None, ...]
    seed: Tensor
    theta: Tensor | None = None
    stored_audio: Tensor | None = field(default=None, repr=False)
    synth: nn.Module | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @property
    def has_theta(self) -> bool:
        return self.theta is not None

    def target_audio(self, rows: Tensor) -> Tensor:
        """Targets of ``rows`` (b,) (positions in this split) → (b, 1, N) float32, no graph."""
        if self.stored_audio is not None:
            return self.stored_audio[self.index[rows]]
        with torch.no_grad():
            return self.synth(self.theta[rows], self.seed[rows])

    @property
    def audio(self) -> Tensor:
        """All targets (n, 1, N). For synthetic data this renders the whole split (use
        ``target_audio`` / batches in loops)."""
        return self.target_audio(torch.arange(len(self)))

    def batch(self, rows: Tensor) -> OneShotBatch:
        rows = torch.as_tensor(rows, dtype=torch.long)
        r = rows.tolist()
        return OneShotBatch(
            self.target_audio(rows),
            None if self.theta is None else self.theta[rows],
            self.seed[rows],
            rows,
            tuple(self.names[i] for i in r),
            tuple(self.labels[i] for i in r),
        )


class OneShotData:
    """A one-shot dataset split into train / val / test by ``split_seed`` (module docstring).

    Build with ``from_folder`` (recordings, no θ) or ``synthetic`` (θ known). Attributes:
    ``names``, ``labels``, ``seed`` (M,), ``theta`` (M, U) or None, ``skipped`` (bad files left out),
    ``counts`` (split sizes), ``split_seed``.
    """

    def __init__(
        self,
        *,
        names: Sequence[str],
        labels: Sequence[str | None],
        seed: Tensor,
        sizes: Sequence[int] | Sequence[float],
        split_seed: int,
        audio: Tensor | None = None,
        theta: Tensor | None = None,
        synth: nn.Module | None = None,
        skipped: Sequence[BadFile] = (),
        what: str = "examples",
    ) -> None:
        if (audio is None) == (synth is None):
            raise ValueError("give exactly one of audio (recordings) or synth (synthetic targets)")
        if synth is not None and theta is None:
            raise ValueError("synthetic targets need theta")
        self.names, self.labels = tuple(names), tuple(labels)
        self.seed, self.theta, self.audio, self.synth = seed, theta, audio, synth
        self.skipped = tuple(skipped)
        self.split_seed = check_int("split_seed", split_seed, 0)
        extra = f" ({len(self.skipped)} bad file(s) skipped)" if self.skipped else ""
        self._index = split_indices(len(self.names), sizes, split_seed, what=what + extra)
        self.counts = {k: int(v.numel()) for k, v in self._index.items()}

    def __len__(self) -> int:
        return len(self.names)

    @property
    def has_theta(self) -> bool:
        return self.theta is not None

    @classmethod
    def from_folder(
        cls,
        root: str | Path,
        sizes: Sequence[int] | Sequence[float] = PAPER_SPLIT,
        split_seed: int = 0,
        *,
        cache_dir: str | Path | None = None,
        **loader_kwargs,
    ) -> OneShotData:
        """Recordings under ``root`` (``load_oneshot_folder(root, **loader_kwargs)``, e.g.
        ``skip_bad=True``), split by ``split_seed``; with ``cache_dir`` through the decode cache
        (``trainables.oneshot_cache.load_folder``: decoded once, memory-mapped). Too few usable files
        for ``sizes`` raises a ``SplitSizeError`` (a ``ValueError``) with the counts."""
        if cache_dir:
            folder = load_folder(root, cache_dir, **loader_kwargs)
        else:
            folder = load_oneshot_folder(root, **loader_kwargs)
        return cls.from_loaded(folder, sizes, split_seed)

    @classmethod
    def from_loaded(
        cls, folder: OneShotFolder, sizes: Sequence[int] | Sequence[float] = PAPER_SPLIT, split_seed: int = 0
    ) -> OneShotData:
        """A dataset over an already loaded ``OneShotFolder``, split by ``split_seed``."""
        return cls(
            names=folder.names,
            labels=folder.labels,
            seed=torch.arange(len(folder)),
            sizes=sizes,
            split_seed=split_seed,
            audio=folder.audio,
            skipped=folder.skipped,
            what=f"usable audio files under {str(folder.root)!r}",
        )

    @classmethod
    def synthetic(
        cls,
        n_examples: int = 681,
        sizes: Sequence[int] | Sequence[float] = PAPER_SPLIT,
        split_seed: int = 0,
        data_seed: int = 0,
        synth: nn.Module | None = None,
    ) -> OneShotData:
        """``n_examples`` targets ``synth(θ_i, i)`` with ``θ_i ~ U[0, 1]^U`` drawn from a generator
        seeded by ``order_seed(data_seed, 2**42)`` and synth seed ``i`` (row index, disjoint from the
        reconstruction seeds ``trainables.data.SEED_HAT_LOW..``). The default synth is
        ``TR808Synth(max_shift=0)``: aligned targets, like the loader's recordings (the meso
        misalignment then comes from the reconstruction's shift only, as with real data).
        Labels are ``"synthetic"``, names ``"synthetic/00000"``...
        """
        check_int("n_examples", n_examples, 1)
        check_int("data_seed", data_seed, 0)
        if synth is None:
            synth = TR808Synth(max_shift=0)
        n_params = len(synth.theta_names)
        g = torch.Generator(device="cpu").manual_seed(order_seed(data_seed, _THETA_STREAM))
        theta = torch.rand(n_examples, n_params, generator=g)
        return cls(
            names=[f"synthetic/{i:05d}" for i in range(n_examples)],
            labels=["synthetic"] * n_examples,
            seed=torch.arange(n_examples),
            sizes=sizes,
            split_seed=split_seed,
            theta=theta,
            synth=synth,
            what="synthetic examples",
        )

    def split(self, name: str) -> OneShotSplit:
        """``"train"``, ``"val"`` or ``"test"``."""
        if name not in self._index:
            raise ValueError(f"name must be one of {SPLITS}, got {name!r}")
        idx = self._index[name]
        r = idx.tolist()
        return OneShotSplit(
            name,
            idx,
            tuple(self.names[i] for i in r),
            tuple(self.labels[i] for i in r),
            self.seed[idx],
            None if self.theta is None else self.theta[idx],
            self.audio,
            self.synth,
        )

    def split_sizes(self) -> dict[str, int]:
        """{"train": n, "val": n, "test": n} (paper 425 / 128 / 128)."""
        return dict(self.counts)


__all__ = [
    "BadFile",
    "DRUM_TYPES",
    "OneShotBatch",
    "OneShotData",
    "OneShotFolder",
    "OneShotSplit",
    "PAPER_SPLIT",
    "SPLITS",
    "detect_onset",
    "drum_label",
    "list_audio_files",
    "load_oneshot_folder",
    "prepare_oneshot",
    "resample",
    "split_counts",
    "split_indices",
]

"""One-shot drum datasets for the TR-808 experiment (paper §4.4, Table 12; notes §9.6).

Two sources behind one interface, ``OneShotData``:

* ``OneShotData.from_folder(root, ...)``: every WAV file under a folder (recursively), loaded by
  ``load_oneshot_folder`` — resampled to 44.1 kHz, mono, onset-aligned, cut or zero-padded to 1 s,
  peak-normalised, labelled by drum type from the sub-folder names. Real recordings have no θ.
* ``OneShotData.synthetic(n_examples, ...)``: random θ ~ U[0, 1]^14 rendered through the TR-808
  synth with a per-example seed (targets with known θ, for tests and the smoke preset).

Both split deterministically by a seed into train / val / test (paper: 425 / 128 / 128 of 681,
one split per run seed) and give batches whose order is a pure function of (run seed, epoch),
through ``trainables.data.epoch_order`` — so a run resumed at any step knows the next batch::

    data = OneShotData.from_folder("~/808", sizes=(425, 128, 128), split_seed=run_seed)
    train = data.split("train")
    batch = train.batch_at_step(batch_size, run_seed, step)     # OneShotBatch
    batch.audio (B, 1, N)    batch.theta (B, 14) or None
"""
from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from trainables.core.checks import check_int, check_positive
from trainables.data import SeededBatches, order_seed

SPLITS = ("train", "val", "test")
PAPER_SPLIT = (425, 128, 128)
"""Paper Table 12: N_train / N_val / N_test of the 681 TR-808 one-shots."""

DRUM_TYPES = ("bass_drum", "snare", "tom", "hi_hat")
"""Canonical labels of the paper's four drum types (Table 12)."""

_SPLIT_STREAM = 1 << 41     # order_seed stream of the split permutation (epochs use < 2**40)
_THETA_STREAM = 1 << 42     # order_seed stream of the synthetic θ draws
_MAX_POLY_FACTOR = 1000     # resample_poly up/down above this: FFT resampling instead

# Folder name (lower-case, non-alphanumerics removed, trailing "s" dropped) → drum type.
_LABEL_KEYWORDS = {
    "bass_drum": ("bd", "kick", "kickdrum", "bassdrum", "bass", "808bd"),
    "snare": ("sd", "snare", "snaredrum", "808sd"),
    "tom": ("tom", "lt", "mt", "ht", "lowtom", "midtom", "hitom", "hightom", "808tom"),
    "hi_hat": ("hh", "hat", "hihat", "ch", "oh", "closedhat", "openhat", "closedhihat", "openhihat",
               "808hh", "808ch", "808oh"),
}
_KEYWORD_TO_LABEL = {k: label for label, keys in _LABEL_KEYWORDS.items() for k in keys}


# --- onset ----------------------------------------------------------------------------------------
def detect_onset(x: Tensor, threshold: float = 0.1) -> Tensor:
    """Onset sample of each signal: the first ``n`` with ``|x[n]| >= threshold · max|x|``.

    ``x`` (B, N) or (B, 1, N) → LongTensor (B,). A silent signal (all zeros) gives 0. The envelope
    is the raw magnitude ``|x|`` (no smoothing): with the default threshold (−20 dB re the peak) a
    noise floor below −20 dB never triggers, and a percussive attack crosses it within its first
    millisecond.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    if x.ndim == 3:
        x = x[:, 0]
    if x.ndim != 2:
        raise ValueError(f"x must have shape (B, N) or (B, 1, N), got {tuple(x.shape)}")
    mag = x.detach().abs()
    peak = mag.amax(dim=-1, keepdim=True)
    above = (mag >= threshold * peak) & (peak > 0)
    first = torch.argmax(above.to(torch.uint8), dim=-1)      # first True (0 when none)
    return first.long()


# --- WAV reading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BadFile:
    """A file that could not be used: ``name`` (path relative to the root) and why."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


class _Bad(Exception):
    pass


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a WAV file as float64 in [−1, 1]: returns (audio (channels, frames), sample rate).

    PCM 8 (unsigned), 16, 24 (scipy gives it left-justified in int32), 32 bit and float formats
    (``scipy.io.wavfile``). Raises ``ValueError`` naming the file when it is empty, unreadable or
    truncated (scipy's "Reached EOF prematurely" warning).
    """
    from scipy.io import wavfile

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ValueError(f"{path}: unreadable ({exc})") from None
    if size == 0:
        raise ValueError(f"{path}: empty file (0 bytes)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rate, data = wavfile.read(path)
        except Exception as exc:  # scipy raises ValueError, struct.error, EOFError, ...
            raise ValueError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    for w in caught:
        if "EOF" in str(w.message):
            raise ValueError(f"{path}: truncated ({w.message})")
    data = np.asarray(data)
    if data.dtype == np.uint8:
        audio = (data.astype(np.float64) - 128.0) / 128.0
    elif np.issubdtype(data.dtype, np.integer):
        audio = data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))
    elif np.issubdtype(data.dtype, np.floating):
        audio = data.astype(np.float64)
    else:
        raise ValueError(f"{path}: unsupported sample format {data.dtype}")
    audio = audio.reshape(audio.shape[0], -1).T if audio.ndim > 1 else audio[None, :]
    return audio, int(rate)


def resample(x: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample ``x`` (..., n) from ``orig_rate`` to ``target_rate`` along the last axis.

    ``scipy.signal.resample_poly`` with the reduced ratio ``up/down`` (e.g. 48 kHz → 44.1 kHz is
    147/160); when the reduced factors exceed 1000 (odd rates such as 44 056 Hz) the FFT method
    ``scipy.signal.resample`` to ``round(n · target/orig)`` samples is used instead.
    """
    from scipy import signal

    if orig_rate == target_rate:
        return x
    g = math.gcd(orig_rate, target_rate)
    up, down = target_rate // g, orig_rate // g
    if max(up, down) <= _MAX_POLY_FACTOR:
        return signal.resample_poly(x, up, down, axis=-1)
    n_out = max(1, round(x.shape[-1] * target_rate / orig_rate))
    return signal.resample(x, n_out, axis=-1)


def drum_label(relative_path: str | Path) -> str | None:
    """Drum type of a file from its folder names (``relative_path`` relative to the dataset root).

    The folders are scanned from the innermost outwards; the first whose name — joined
    (lower-case, non-alphanumerics removed) or any of its words, with or without a trailing "s" —
    is a known keyword gives the type (``DRUM_TYPES``: e.g. "BD", "Kicks", "Bass Drum" → ``bass_drum``; "SD" → ``snare``;
    "Toms", "LT" → ``tom``; "HH", "Hi-Hats", "CH", "OH" → ``hi_hat``). Otherwise the innermost
    folder name, lower-cased (an unknown type, e.g. "claps"); ``None`` for a file in the root.
    """
    parts = Path(relative_path).parts[:-1]
    for part in reversed(parts):
        tokens = [t for t in re.split(r"[^a-z0-9]+", part.lower()) if t]
        for key in ["".join(tokens), *tokens]:
            for candidate in (key, key[:-1] if key.endswith("s") else ""):
                if candidate in _KEYWORD_TO_LABEL:
                    return _KEYWORD_TO_LABEL[candidate]
    return parts[-1].lower() if parts else None


@dataclass(frozen=True, eq=False)
class OneShotFolder:
    """Result of ``load_oneshot_folder``: ``audio`` (M, 1, N) float32, and per row ``names`` (paths
    relative to the root, POSIX, sorted), ``labels`` (``drum_label``), ``source_rates`` (the files'
    original sample rates); ``skipped`` lists the bad files left out (only with ``skip_bad``)."""

    root: Path
    audio: Tensor
    names: tuple[str, ...]
    labels: tuple[str | None, ...]
    source_rates: tuple[int, ...]
    skipped: tuple[BadFile, ...] = ()

    def __len__(self) -> int:
        return int(self.audio.shape[0])


def list_wav_files(root: str | Path) -> list[Path]:
    """Every ``*.wav`` / ``*.wave`` (any case) under ``root``, recursively, sorted by relative path.

    Hidden files and folders (name starting with ".", e.g. macOS "._x.wav" resource forks) are
    ignored.
    """
    root = Path(root)
    files = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.suffix.lower() in (".wav", ".wave") and p.is_file():
            files.append(p)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def prepare_oneshot(audio: np.ndarray, rate: int, *, sample_rate: int, n_samples: int, onset: int,
                    onset_threshold: float, peak: float) -> np.ndarray:
    """One recording → the model's input: (channels, frames) at ``rate`` → (n_samples,) float32.

    Steps: mono (mean of the channels) → resample to ``sample_rate`` → onset ``o`` by
    ``detect_onset`` → shift so that ``o`` lands on sample ``onset`` (material more than ``onset``
    samples before it is dropped, zeros are prepended when there is less) → cut or zero-pad to
    ``n_samples`` → peak-normalise the window to ``peak``. Raises ``_Bad`` for silent audio.
    """
    mono = audio.mean(axis=0)
    mono = resample(mono, rate, sample_rate)
    if not np.all(np.isfinite(mono)):
        raise _Bad("non-finite samples")
    if not np.any(mono != 0):
        raise _Bad("silent (every sample is zero)")
    o = int(detect_onset(torch.from_numpy(mono)[None], onset_threshold)[0])
    out = np.zeros(n_samples, dtype=np.float64)
    start = o - onset                         # source index of output sample 0
    src_lo, dst_lo = max(start, 0), max(-start, 0)
    count = min(mono.size - src_lo, n_samples - dst_lo)
    out[dst_lo:dst_lo + count] = mono[src_lo:src_lo + count]
    top = np.abs(out).max()
    if top == 0:
        raise _Bad("silent after alignment")
    return (out * (peak / top)).astype(np.float32)


def load_oneshot_folder(
    root: str | Path,
    *,
    sample_rate: int = 44100,
    n_samples: int = 44100,
    onset: int = 2048,
    onset_threshold: float = 0.1,
    peak: float = 0.5,
    max_duration_s: float = 2.0,
    min_sample_rate: int = 16000,
    skip_bad: bool = False,
) -> OneShotFolder:
    """Load every WAV under ``root`` as a one-shot (module docstring; paper §4.4).

    Args:
        root: the dataset folder; sub-folder names give the drum type (``drum_label``).
        sample_rate, n_samples: output rate and length (paper 44.1 kHz, 1 s).
        onset: output sample where every recording's onset is placed (default 2048 =
            ``trainables.synths.tr808.TR808_ONSET``, where the synth's hit starts).
        onset_threshold: onset = first sample with ``|x| >= onset_threshold · peak`` (``detect_onset``).
        peak: peak amplitude after normalisation. Peak rather than RMS: RMS over the 1-s window
            would push short hits (hi-hats) far above full scale, while peak keeps every
            attack — the most salient part of a drum hit — at the same level. 0.5 (−6 dBFS) sits
            inside the synth's ``tanh`` output range without requiring saturation.
        max_duration_s: files longer than this (before alignment) are bad ("multi-second"): a
            one-shot is at most a second or so; a longer file is a loop, a phrase or a wrong file.
            Files between 1 s and this limit are cut after the 1-s window.
        min_sample_rate: files recorded below this rate are bad ("unsupported sample rate"): any
            rate above it is resampled, but below 16 kHz the noise bands of snares and hi-hats
            (above 8 kHz) are missing, so the synth would be asked to match a band-limited copy.
        skip_bad: when False (default) any bad file raises one ``ValueError`` listing every bad
            file and why; when True they are left out and listed in ``OneShotFolder.skipped``.

    Bad files: empty (0 bytes or 0 frames), unreadable or truncated, multi-second, unsupported
    sample rate, non-finite or all-zero samples.

    Raises:
        ValueError: ``root`` is not a directory or holds no WAV file; bad files (unless
            ``skip_bad``); no usable file left.
    """
    check_int("sample_rate", sample_rate, 1)
    check_int("n_samples", n_samples, 1)
    if isinstance(onset, bool) or not isinstance(onset, int) or not 0 <= onset < n_samples:
        raise ValueError(f"onset must be an integer in [0, n_samples={n_samples}), got {onset!r}")
    if isinstance(onset_threshold, bool) or not isinstance(onset_threshold, (int, float)) or not (
            0 < onset_threshold <= 1):
        raise ValueError(f"onset_threshold must be in (0, 1], got {onset_threshold!r}")
    check_positive("peak", peak)
    check_positive("max_duration_s", max_duration_s)
    check_int("min_sample_rate", min_sample_rate, 1)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ValueError(f"root {str(root)!r} is not a directory")
    files = list_wav_files(root)
    if not files:
        raise ValueError(f"root {str(root)!r} holds no .wav file (searched recursively)")

    audio, names, labels, rates, bad = [], [], [], [], []
    for path in files:
        name = path.relative_to(root).as_posix()
        try:
            try:
                x, rate = read_wav(path)
            except ValueError as exc:
                raise _Bad(str(exc).removeprefix(f"{path}: ")) from None
            if x.shape[-1] == 0:
                raise _Bad("empty (no audio frames)")
            if rate < min_sample_rate:
                raise _Bad(f"unsupported sample rate {rate} Hz (minimum {min_sample_rate} Hz)")
            duration = x.shape[-1] / rate
            if duration > max_duration_s:
                raise _Bad(f"multi-second: {duration:.2f} s > the {max_duration_s:g} s limit "
                           f"for a one-shot")
            y = prepare_oneshot(x, rate, sample_rate=sample_rate, n_samples=n_samples, onset=onset,
                                onset_threshold=onset_threshold, peak=peak)
        except _Bad as exc:
            bad.append(BadFile(name, str(exc)))
            continue
        audio.append(torch.from_numpy(y))
        names.append(name)
        labels.append(drum_label(name))
        rates.append(rate)
    if bad and not skip_bad:
        raise ValueError(f"{len(bad)} bad file(s) under {str(root)!r} (pass skip_bad=True to leave "
                         f"them out):\n" + "\n".join(f"  - {b}" for b in bad))
    if not audio:
        raise ValueError(f"no usable .wav file under {str(root)!r}: all {len(files)} were bad:\n"
                         + "\n".join(f"  - {b}" for b in bad))
    return OneShotFolder(root, torch.stack(audio).unsqueeze(1), tuple(names), tuple(labels),
                         tuple(rates), tuple(bad))


# --- split ----------------------------------------------------------------------------------------
def split_counts(n: int, sizes: Sequence[int] | Sequence[float], *, what: str = "examples"
                 ) -> dict[str, int]:
    """(train, val, test) sizes → counts for ``n`` examples.

    ``sizes``: three integers (counts; their sum may be below n — the rest is unused) or three
    fractions in [0, 1] summing to at most 1. Fractions: ``val = round(f_val·n)``,
    ``test = round(f_test·n)`` (half up), ``train = n − val − test`` when the fractions sum to 1,
    else ``round(f_train·n)``. Every split needs at least one example.

    Raises:
        ValueError: malformed sizes, or too few examples — the message gives the counts.
    """
    check_int("n", n, 0)
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) != 3:
        raise ValueError(f"sizes must be (train, val, test), got {sizes!r}")
    if all(isinstance(s, int) and not isinstance(s, bool) for s in sizes):
        if any(s < 1 for s in sizes):
            raise ValueError(f"sizes must be positive counts, got {tuple(sizes)}")
        counts = dict(zip(SPLITS, sizes))
    elif all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in sizes):
        f = [float(s) for s in sizes]
        if any(not (0 < s <= 1) for s in f) or sum(f) > 1 + 1e-9:
            raise ValueError(f"fractional sizes must lie in (0, 1] and sum to at most 1, got {tuple(sizes)}")

        def rnd(v: float) -> int:
            return int(math.floor(v * n + 0.5))

        val, test = rnd(f[1]), rnd(f[2])
        train = n - val - test if abs(sum(f) - 1) <= 1e-9 else rnd(f[0])
        counts = {"train": train, "val": val, "test": test}
        if min(counts.values()) < 1:
            raise ValueError(f"too few {what} for the split: {n} {what} with fractions "
                             f"{tuple(sizes)} give train {train}, val {val}, test {test}; "
                             f"every split needs at least 1")
    else:
        raise ValueError(f"sizes must be three integers (counts) or three fractions, got {sizes!r}")
    total = sum(counts.values())
    if total > n:
        raise ValueError(f"too few {what} for the split: {n} available but train {counts['train']} "
                         f"+ val {counts['val']} + test {counts['test']} = {total} requested")
    return counts


def split_indices(n: int, sizes: Sequence[int] | Sequence[float], seed: int, *,
                  what: str = "examples") -> dict[str, Tensor]:
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
        out[name] = perm[start:start + counts[name]].sort().values
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
    ``seed`` (n,) int64; ``names``, ``labels``. Targets come from ``stored_audio`` (recordings,
    (n, 1, N)) or are rendered on demand by ``synth(theta, seed)`` (synthetic). Batching as
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
            return self.stored_audio[rows]
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
        return OneShotBatch(self.target_audio(rows),
                            None if self.theta is None else self.theta[rows], self.seed[rows], rows,
                            tuple(self.names[i] for i in r), tuple(self.labels[i] for i in r))


class OneShotData:
    """A one-shot dataset split into train / val / test by ``split_seed`` (module docstring).

    Build with ``from_folder`` (recordings, no θ) or ``synthetic`` (θ known). Attributes:
    ``names``, ``labels``, ``seed`` (M,), ``theta`` (M, U) or None, ``skipped`` (bad files left out),
    ``counts`` (split sizes), ``split_seed``.
    """

    def __init__(self, *, names: Sequence[str], labels: Sequence[str | None], seed: Tensor,
                 sizes: Sequence[int] | Sequence[float], split_seed: int,
                 audio: Tensor | None = None, theta: Tensor | None = None,
                 synth: nn.Module | None = None, skipped: Sequence[BadFile] = (),
                 what: str = "examples") -> None:
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
    def from_folder(cls, root: str | Path, sizes: Sequence[int] | Sequence[float] = PAPER_SPLIT,
                    split_seed: int = 0, **loader_kwargs) -> "OneShotData":
        """Recordings under ``root`` (``load_oneshot_folder(root, **loader_kwargs)``, e.g.
        ``skip_bad=True``), split by ``split_seed``. Too few usable files for ``sizes`` raises a
        ``ValueError`` with the counts."""
        folder = load_oneshot_folder(root, **loader_kwargs)
        return cls(names=folder.names, labels=folder.labels, seed=torch.arange(len(folder)),
                   sizes=sizes, split_seed=split_seed, audio=folder.audio, skipped=folder.skipped,
                   what=f"usable .wav files under {str(folder.root)!r}")

    @classmethod
    def synthetic(cls, n_examples: int = 681, sizes: Sequence[int] | Sequence[float] = PAPER_SPLIT,
                  split_seed: int = 0, data_seed: int = 0, synth: nn.Module | None = None,
                  ) -> "OneShotData":
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
            from trainables.synths.tr808 import TR808Synth

            synth = TR808Synth(max_shift=0)
        n_params = len(synth.theta_names)
        g = torch.Generator(device="cpu").manual_seed(order_seed(data_seed, _THETA_STREAM))
        theta = torch.rand(n_examples, n_params, generator=g)
        return cls(names=[f"synthetic/{i:05d}" for i in range(n_examples)],
                   labels=["synthetic"] * n_examples, seed=torch.arange(n_examples),
                   sizes=sizes, split_seed=split_seed, theta=theta, synth=synth,
                   what="synthetic examples")

    def split(self, name: str) -> OneShotSplit:
        """``"train"``, ``"val"`` or ``"test"``."""
        if name not in self._index:
            raise ValueError(f"name must be one of {SPLITS}, got {name!r}")
        idx = self._index[name]
        r = idx.tolist()
        return OneShotSplit(
            name, idx, tuple(self.names[i] for i in r), tuple(self.labels[i] for i in r),
            self.seed[idx], None if self.theta is None else self.theta[idx],
            None if self.audio is None else self.audio[idx], self.synth)

    def split_sizes(self) -> dict[str, int]:
        """{"train": n, "val": n, "test": n} (paper 425 / 128 / 128)."""
        return dict(self.counts)


__all__ = ["BadFile", "DRUM_TYPES", "OneShotBatch", "OneShotData", "OneShotFolder", "OneShotSplit",
           "PAPER_SPLIT", "SPLITS", "detect_onset", "drum_label", "list_wav_files",
           "load_oneshot_folder", "prepare_oneshot", "read_wav", "resample", "split_counts",
           "split_indices"]

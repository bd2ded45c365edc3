"""Loading a user's folder of drum one-shots (paper §4.4): every audio file under it, decoded, resampled
to the model's rate, mixed to mono, onset-aligned, cut or zero-padded to the window, peak-normalised.

``load_oneshot_folder(root)`` → ``OneShotFolder`` (audio (M, 1, N), names, labels, the files' formats and
rates, the bad files); ``describe_folder`` is the summary a user reads (what the loader understood). Files
are read with ``trainables.audio_io.read_audio`` (any format libsndfile reads, detected from the content)
and labelled by ``trainables.oneshot_labels.drum_label`` (file and folder names).

Long files are not refused: the paper cuts every sound to its 1-s window after onset alignment, and so
does the loader (a TR-808 bass drum with a long decay is the textbook one-shot). A file is bad, and named
with its reason, when it is empty, unreadable, corrupt or truncated, in an unsupported format or codec,
silent or non-finite, or recorded below ``min_sample_rate``; a length cap (``max_duration_s``) is an
explicit opt-in. Several separated hits in one file (a loop) are not detected: no test of that is
reliable across real libraries, so set ``max_duration_s`` when a folder may hold loops.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from trainables.audio_io import AudioReadError, is_audio_name, read_audio, resample, to_mono
from trainables.core.checks import check_int, check_positive
from trainables.oneshot_labels import drum_label, label_counts

LOADER_DEFAULTS = dict(
    sample_rate=44100,
    n_samples=44100,
    onset=2048,
    onset_threshold=0.1,
    peak=0.5,
    max_duration_s=None,
    min_sample_rate=16000,
)
"""``load_oneshot_folder``'s decoding settings and their defaults (they key the decode cache)."""


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
    return torch.argmax(above.to(torch.uint8), dim=-1).long()  # first True (0 when none)


@dataclass(frozen=True)
class BadFile:
    """A file that could not be used: ``name`` (path relative to the root) and why."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


class BadAudio(ValueError):
    """One file is unusable; ``str(err)`` is the reason."""


@dataclass(frozen=True, eq=False)
class OneShotFolder:
    """Result of ``load_oneshot_folder``: ``audio`` (M, 1, N) float32, and per row ``names`` (paths relative
    to the root, POSIX, sorted), ``labels`` (``drum_label``), ``source_rates`` and ``formats`` (container
    and encoding, e.g. ``"FLAC/PCM_24"``) of the files, ``durations_s`` (before the cut); ``skipped`` lists
    the bad files (left out)."""

    root: Path
    audio: Tensor
    names: tuple[str, ...]
    labels: tuple[str | None, ...]
    source_rates: tuple[int, ...]
    formats: tuple[str, ...] = ()
    durations_s: tuple[float, ...] = ()
    channels: tuple[int, ...] = ()
    skipped: tuple[BadFile, ...] = ()

    def __len__(self) -> int:
        return int(self.audio.shape[0])


def list_audio_files(root: str | Path) -> list[Path]:
    """Every audio file under ``root`` (name ending in ``trainables.audio_io.AUDIO_SUFFIXES``, any case),
    recursively, sorted by relative path. Hidden files and folders (name starting with ".", e.g. macOS
    "._x.wav" resource forks) are ignored; symbolic links to files are followed."""
    root = Path(root)
    files = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.startswith(".") and is_audio_name(name):
                files.append(Path(folder, name))
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def prepare_oneshot(
    audio: np.ndarray, rate: int, *, sample_rate: int, n_samples: int, onset: int, onset_threshold: float, peak: float
) -> np.ndarray:
    """One recording → the model's input: (channels, frames) at ``rate`` → (n_samples,) float32.

    Steps: mono (mean of the channels) → resample to ``sample_rate`` → onset ``o`` by ``detect_onset``
    → shift so that ``o`` lands on sample ``onset`` (material more than ``onset`` samples before it is
    dropped, zeros are prepended when there is less) → cut (a longer tail is dropped) or zero-pad to
    ``n_samples`` → peak-normalise the window to ``peak``. Raises ``BadAudio`` for silent or
    non-finite audio.
    """
    mono = to_mono(audio)
    if not np.all(np.isfinite(mono)):
        raise BadAudio("non-finite samples (NaN or infinity)")
    if not np.any(mono != 0):
        raise BadAudio("silent (every sample is zero)")
    mono = resample(mono, rate, sample_rate)
    mag = np.abs(mono)
    o = int(np.argmax(mag >= onset_threshold * mag.max()))  # detect_onset's rule, in NumPy
    out = np.zeros(n_samples, dtype=np.float64)
    start = o - onset  # source index of output sample 0
    src_lo, dst_lo = max(start, 0), max(-start, 0)
    count = min(mono.size - src_lo, n_samples - dst_lo)
    out[dst_lo : dst_lo + count] = mono[src_lo : src_lo + count]
    top = np.abs(out).max()
    if top == 0:
        raise BadAudio("silent after alignment")
    return (out * (peak / top)).astype(np.float32)


def check_loader_settings(
    sample_rate: int,
    n_samples: int,
    onset: int,
    onset_threshold: float,
    peak: float,
    max_duration_s: float | None,
    min_sample_rate: int,
) -> None:
    """``ValueError`` naming the first invalid decoding setting."""
    check_int("sample_rate", sample_rate, 1)
    check_int("n_samples", n_samples, 1)
    if isinstance(onset, bool) or not isinstance(onset, int) or not 0 <= onset < n_samples:
        raise ValueError(f"onset must be an integer in [0, n_samples={n_samples}), got {onset!r}")
    if (
        isinstance(onset_threshold, bool)
        or not isinstance(onset_threshold, (int, float))
        or not (0 < onset_threshold <= 1)
    ):
        raise ValueError(f"onset_threshold must be in (0, 1], got {onset_threshold!r}")
    check_positive("peak", peak)
    if max_duration_s is not None:
        check_positive("max_duration_s", max_duration_s)
    check_int("min_sample_rate", min_sample_rate, 1)


def decode_file(
    path: Path,
    *,
    sample_rate: int,
    n_samples: int,
    onset: int,
    onset_threshold: float,
    peak: float,
    max_duration_s: float | None,
    min_sample_rate: int,
) -> tuple[np.ndarray, dict]:
    """One file → ((n_samples,) float32, {"rate", "format", "duration_s", "channels"}); ``BadAudio`` with
    the reason when it cannot be used."""
    try:
        a = read_audio(path)
    except AudioReadError as exc:
        raise BadAudio(str(exc)) from None
    if a.frames == 0:
        raise BadAudio("empty (no audio frames)")
    if a.rate < min_sample_rate:
        raise BadAudio(f"unsupported sample rate {a.rate} Hz (minimum {min_sample_rate} Hz)")
    duration = a.frames / a.rate
    if max_duration_s is not None and duration > max_duration_s:
        raise BadAudio(f"too long: {duration:.2f} s > data.max_duration_s = {max_duration_s:g} s")
    y = prepare_oneshot(
        a.samples,
        a.rate,
        sample_rate=sample_rate,
        n_samples=n_samples,
        onset=onset,
        onset_threshold=onset_threshold,
        peak=peak,
    )
    return y, {"rate": a.rate, "format": f"{a.format}/{a.subtype}", "duration_s": duration, "channels": a.channels}


def load_oneshot_folder(root: str | Path, *, skip_bad: bool = False, **settings) -> OneShotFolder:
    """Load every audio file under ``root`` as a one-shot (module docstring; paper §4.4).

    Settings (``LOADER_DEFAULTS``):
        sample_rate, n_samples: output rate and length (paper 44.1 kHz, 1 s).
        onset: output sample where every recording's onset is placed (default 2048 =
            ``trainables.synths.tr808.TR808_ONSET``, where the synth's hit starts).
        onset_threshold: onset = first sample with ``|x| >= onset_threshold · peak`` (``detect_onset``).
        peak: peak amplitude after normalisation. Peak rather than RMS: RMS over the 1-s window
            would push short hits (hi-hats) far above full scale, while peak keeps every
            attack — the most salient part of a drum hit — at the same level. 0.5 (−6 dBFS) sits
            inside the synth's ``tanh`` output range without requiring saturation.
        max_duration_s: None (default) cuts every file to the window whatever its length; a number
            refuses files longer than that many seconds (before alignment), e.g. to keep loops out.
        min_sample_rate: files recorded below this rate are bad ("unsupported sample rate"): any
            rate above it is resampled, but below 16 kHz the noise bands of snares and hi-hats
            (above 8 kHz) are missing, so the synth would be asked to match a band-limited copy.
    ``skip_bad``: when False (default) any bad file raises one ``ValueError`` listing every bad file and
    why; when True they are left out and listed in ``OneShotFolder.skipped``.

    Raises:
        ValueError: ``root`` is not a directory or holds no audio file; bad files (unless ``skip_bad``);
            no usable file left.
    """
    folder = decode_folder(root, **settings)
    check_usable(folder, skip_bad)
    return folder


def decode_folder(root: str | Path, **settings) -> OneShotFolder:
    """Decode every audio file under ``root`` (``load_oneshot_folder``'s settings); bad files are listed in
    ``skipped``, never raised. ``ValueError`` only for bad settings, a missing folder or one without audio
    files."""
    unknown = sorted(set(settings) - set(LOADER_DEFAULTS))
    if unknown:
        raise TypeError(f"unknown loader setting(s) {', '.join(unknown)}")
    cfg = {**LOADER_DEFAULTS, **settings}
    check_loader_settings(**cfg)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ValueError(f"root {str(root)!r} is not a directory")
    files = list_audio_files(root)
    if not files:
        raise ValueError(
            f"root {str(root)!r} holds no audio file (searched recursively for .wav, .flac, .aiff, .ogg, .mp3, ...)"
        )
    audio, names, info, bad = [], [], [], []
    for path in files:
        name = path.relative_to(root).as_posix()
        try:
            y, meta = decode_file(path, **cfg)
        except BadAudio as exc:
            bad.append(BadFile(name, str(exc)))
            continue
        audio.append(y)
        names.append(name)
        info.append(meta)
    stacked = np.stack(audio) if audio else np.zeros((0, cfg["n_samples"]), dtype=np.float32)
    return OneShotFolder(
        root,
        torch.from_numpy(stacked).unsqueeze(1),
        tuple(names),
        tuple(drum_label(n) for n in names),
        tuple(m["rate"] for m in info),
        tuple(m["format"] for m in info),
        tuple(m["duration_s"] for m in info),
        tuple(m["channels"] for m in info),
        tuple(bad),
    )


def check_usable(folder: OneShotFolder, skip_bad: bool) -> None:
    """The loader's verdict on a decoded folder: ``ValueError`` listing the bad files unless ``skip_bad``,
    or when no usable file is left."""
    bad, root = folder.skipped, str(folder.root)
    listing = "\n".join(f"  - {b}" for b in bad)
    if bad and not skip_bad:
        raise ValueError(
            f"{len(bad)} bad file(s) under {root!r} (set data.skip_bad=true to leave them out):\n{listing}"
        )
    if len(folder) == 0:
        raise ValueError(f"no usable audio file under {root!r}: all {len(bad)} were bad:\n{listing}")


def describe_folder(folder: OneShotFolder, sample_rate: int | None = None, n_samples: int | None = None) -> str:
    """What the loader understood, for a person: counts, formats, rates, channels, lengths, labels, and
    the bad files left out with their reasons (multi-line text)."""
    n, m = len(folder), len(folder.skipped)
    lines = [f"{folder.root}: {n} one-shot(s) loaded" + (f", {m} bad file(s) left out" if m else "")]
    if n:
        fmts = Counter(folder.formats)
        lines.append("  formats:  " + ", ".join(f"{k} {v}" for k, v in sorted(fmts.items(), key=lambda kv: -kv[1])))
        rates = Counter(folder.source_rates)
        resampled = sum(v for r, v in rates.items() if sample_rate is not None and r != sample_rate)
        lines.append(
            "  rates:    "
            + ", ".join(f"{r} Hz {v}" for r, v in sorted(rates.items()))
            + (f" ({resampled} resampled to {sample_rate} Hz)" if resampled else "")
        )
        multi = sum(1 for c in folder.channels if c > 1)
        if multi:
            lines.append(f"  channels: {multi} file(s) with 2 or more channels mixed to mono")
        if sample_rate and n_samples:
            window = n_samples / sample_rate
            longer = sum(1 for d in folder.durations_s if d > window)
            lines.append(
                f"  lengths:  {min(folder.durations_s):.2f}-{max(folder.durations_s):.2f} s; "
                f"{longer} longer than the {window:g}-s window (tails cut after onset alignment)"
            )
        lines.append("  labels:   " + ", ".join(f"{k} {v}" for k, v in label_counts(folder.labels).items()))
    for b in folder.skipped:
        lines.append(f"  left out: {b}")
    return "\n".join(lines)


__all__ = [
    "BadAudio",
    "BadFile",
    "LOADER_DEFAULTS",
    "OneShotFolder",
    "check_loader_settings",
    "check_usable",
    "decode_file",
    "decode_folder",
    "describe_folder",
    "detect_onset",
    "list_audio_files",
    "load_oneshot_folder",
    "prepare_oneshot",
]

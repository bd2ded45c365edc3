"""Reading audio files of any common format, and resampling (the TR-808 folder loader's I/O).

``read_audio`` goes through soundfile (libsndfile): WAV (PCM 8/16/24/32 bit, float, WAVE_FORMAT_EXTENSIBLE,
RF64, W64), FLAC, AIFF / AIFF-C, CAF, OGG (Vorbis, Opus) and MP3 (libsndfile >= 1.1). The format is
detected from the file's content, never from its extension: a ``.wav`` that is AIFF inside loads as
AIFF. Problems raise ``AudioReadError`` with a short reason (``empty file (0 bytes)``, ``unreadable
(permission denied)``, ``unknown or unsupported format ...``, ``corrupt ...``, ``truncated ...``) that the
loader reports next to the file's name.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from scipy import signal

AUDIO_SUFFIXES = (
    ".wav",
    ".wave",
    ".bwf",
    ".rf64",
    ".w64",
    ".flac",
    ".aif",
    ".aiff",
    ".aifc",
    ".caf",
    ".ogg",
    ".oga",
    ".opus",
    ".mp3",
)
"""File name endings the folder loader lists (any case). Listing needs a name; decoding ignores it."""

_MAX_POLY_FACTOR = 1000  # resample_poly up/down above this: FFT resampling instead
_PLAIN_WAVE_TAGS = (0x0001, 0x0003, 0xFFFE)  # PCM, IEEE float, WAVE_FORMAT_EXTENSIBLE
# libsndfile's header log: a data chunk whose declared size exceeds what the file holds, e.g.
# "data : 88200 (should be 44078)" (WAV) or "SSND : 88208 (should be 44081)" (AIFF)
_SHORT_CHUNK = re.compile(r"^\s*(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


class AudioReadError(ValueError):
    """A file that cannot be decoded; ``str(err)`` is the reason (without the file name)."""


@dataclass(frozen=True, eq=False)
class Audio:
    """A decoded file: ``samples`` (channels, frames) float32 in [-1, 1], its ``rate`` in Hz, and the
    container ``format`` and ``subtype`` libsndfile found (e.g. ``"FLAC"``, ``"PCM_24"``)."""

    samples: np.ndarray
    rate: int
    format: str
    subtype: str

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])


def read_audio(path: str | Path) -> Audio:
    """Decode ``path`` completely (module docstring). Raises ``AudioReadError`` naming the reason."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb"):  # permission problems as such, not as libsndfile's "System error"
            pass
    except PermissionError:
        raise AudioReadError("unreadable (permission denied)") from None
    except OSError as exc:
        raise AudioReadError(f"unreadable ({exc.strerror or exc})") from None
    if size == 0:
        raise AudioReadError("empty file (0 bytes)")
    try:
        with soundfile.SoundFile(path) as f:
            declared, rate, fmt, subtype = f.frames, f.samplerate, f.format, f.subtype
            data = f.read(dtype="float32", always_2d=True)
            log = f.extra_info
    except soundfile.LibsndfileError as exc:
        tag = _wave_format_tag(path)
        if tag is not None and tag not in _PLAIN_WAVE_TAGS:
            raise AudioReadError(
                f"unsupported codec (WAVE format tag 0x{tag:04X}; libsndfile: {_message(exc)})"
            ) from None
        raise AudioReadError(_describe(exc)) from None
    except (RuntimeError, ValueError, OSError) as exc:  # decoder errors surfacing while reading
        raise AudioReadError(f"corrupt ({type(exc).__name__}: {exc})") from None
    short = _SHORT_CHUNK.search(log)
    if short and int(short.group(3)) < int(short.group(2)):
        raise AudioReadError(
            f"truncated ({short.group(1)} chunk declares {short.group(2)} bytes, the file holds {short.group(3)})"
        )
    if 0 < data.shape[0] < declared:
        raise AudioReadError(f"truncated ({data.shape[0]} of the {declared} frames its header declares)")
    if rate <= 0:
        raise AudioReadError(f"invalid sample rate {rate} Hz in the header")
    return Audio(np.ascontiguousarray(data.T), int(rate), str(fmt), str(subtype))


def _message(exc: Exception) -> str:
    return str(getattr(exc, "error_string", "") or exc).strip().rstrip(".")


def _describe(exc: Exception) -> str:
    """libsndfile's message → a reason a user can act on."""
    text = _message(exc)
    low = text.lower()
    if "not recognised" in low or "not recognized" in low or "unsupported" in low or "unknown format" in low:
        return f"unknown or unsupported format (libsndfile: {text})"
    if "malformed" in low or "decoder" in low or "lost sync" in low:
        return f"corrupt (libsndfile: {text})"
    return f"unreadable (libsndfile: {text})"


def _wave_format_tag(path: Path) -> int | None:
    """The codec tag of a RIFF/WAVE file's ``fmt `` chunk (1 = PCM, 3 = float, ...), or None when the
    file is not RIFF/WAVE or has no readable ``fmt `` chunk in its first 64 KiB."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX", b"RF64") or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], int.from_bytes(head[pos + 4 : pos + 8], "little")
        if chunk == b"fmt ":
            return int.from_bytes(head[pos + 8 : pos + 10], "little") if pos + 10 <= len(head) else None
        pos += 8 + size + (size & 1)
    return None


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(channels, frames) → (frames,): the mean of the channels (float64)."""
    return np.asarray(samples, dtype=np.float64).mean(axis=0)


def resample(x: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample ``x`` (..., n) from ``orig_rate`` to ``target_rate`` along the last axis.

    ``scipy.signal.resample_poly`` with the reduced ratio ``up/down`` (e.g. 48 kHz → 44.1 kHz is
    147/160); when the reduced factors exceed 1000 (odd rates such as 44 056 Hz) the FFT method
    ``scipy.signal.resample`` to ``round(n · target/orig)`` samples is used instead.
    """
    if orig_rate == target_rate:
        return x
    g = math.gcd(orig_rate, target_rate)
    up, down = target_rate // g, orig_rate // g
    if max(up, down) <= _MAX_POLY_FACTOR:
        return signal.resample_poly(x, up, down, axis=-1)
    n_out = max(1, round(x.shape[-1] * target_rate / orig_rate))
    return signal.resample(x, n_out, axis=-1)


def is_audio_name(name: str) -> bool:
    """Whether a file name ends in one of ``AUDIO_SUFFIXES`` (any case)."""
    return os.path.splitext(name)[1].lower() in AUDIO_SUFFIXES


__all__ = ["AUDIO_SUFFIXES", "Audio", "AudioReadError", "is_audio_name", "read_audio", "resample", "to_mono"]

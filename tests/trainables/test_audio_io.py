"""Audio files of every common format through soundfile/libsndfile: content-based format detection, sample
encodings, channel counts, and the reasons given for files that cannot be decoded."""

import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile

from trainables.audio_io import AudioReadError, is_audio_name, read_audio, resample, to_mono

SIGNAL = 0.5 * np.sin(2 * np.pi * 440 * np.arange(4410) / 44100)


def write(path: Path, data=SIGNAL, rate=44100, **kwargs) -> Path:
    soundfile.write(path, data, rate, **kwargs)
    return path


@pytest.mark.parametrize(
    "fmt, subtype, tol",
    [
        ("WAV", "PCM_U8", 1 / 64),
        ("WAV", "PCM_16", 1e-4),
        ("WAV", "PCM_24", 1e-6),
        ("WAV", "PCM_32", 1e-6),
        ("WAV", "FLOAT", 1e-6),
        ("WAV", "DOUBLE", 1e-6),
        ("WAVEX", "PCM_24", 1e-6),
        ("RF64", "PCM_16", 1e-4),
        ("W64", "PCM_16", 1e-4),
        ("FLAC", "PCM_16", 1e-4),
        ("FLAC", "PCM_24", 1e-6),
        ("AIFF", "PCM_16", 1e-4),
        ("AIFF", "FLOAT", 1e-6),
        ("CAF", "PCM_16", 1e-4),
    ],
)
def test_lossless_formats_decode_exactly(tmp_path, fmt, subtype, tol):
    a = read_audio(write(tmp_path / "x.snd", format=fmt, subtype=subtype))  # the name carries no format
    assert (a.format, a.subtype, a.rate, a.samples.shape) == (fmt, subtype, 44100, (1, 4410))
    assert a.samples.dtype == np.float32
    np.testing.assert_allclose(a.samples[0], SIGNAL, atol=tol)


@pytest.mark.parametrize(
    "fmt, subtype, rate", [("OGG", "VORBIS", 44100), ("OGG", "OPUS", 48000), ("MP3", "MPEG_LAYER_III", 44100)]
)
def test_lossy_formats_decode(tmp_path, fmt, subtype, rate):
    if fmt not in soundfile.available_formats():
        pytest.skip(f"this libsndfile ({soundfile.__libsndfile_version__}) has no {fmt}")
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    a = read_audio(write(tmp_path / f"x.{fmt.lower()}", tone, rate, format=fmt, subtype=subtype))
    assert a.format == fmt and a.rate == rate and a.channels == 1
    spectrum = np.abs(np.fft.rfft(a.samples[0]))
    assert np.fft.rfftfreq(a.frames, 1 / rate)[spectrum.argmax()] == pytest.approx(440, abs=2)


def test_format_comes_from_the_content_not_the_extension(tmp_path):
    aiff_named_wav = write(tmp_path / "snare.wav", format="AIFF", subtype="PCM_16")
    flac_named_aif = write(tmp_path / "kick.aif", format="FLAC", subtype="PCM_16")
    assert read_audio(aiff_named_wav).format == "AIFF"
    assert read_audio(flac_named_aif).format == "FLAC"


def test_channels_are_kept_and_mixed_by_to_mono(tmp_path):
    six = np.stack([SIGNAL * (k + 1) / 8 for k in range(6)], axis=1)
    a = read_audio(write(tmp_path / "surround.wav", six, format="WAVEX", subtype="PCM_24"))
    assert a.channels == 6 and a.frames == 4410
    np.testing.assert_allclose(to_mono(a.samples), SIGNAL * 3.5 / 8, atol=1e-5)


def wave_with_codec(tag: int) -> bytes:
    fmt = struct.pack("<HHIIHHH", tag, 1, 44100, 88200, 2, 16, 0)
    data = b"\x00\x01" * 100
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_bad_files_give_their_reason(tmp_path):
    flac = write(tmp_path / "ok.flac", format="FLAC").read_bytes()
    aiff = write(tmp_path / "ok.aiff", format="AIFF").read_bytes()
    wav = write(tmp_path / "ok.wav", subtype="PCM_16").read_bytes()
    garbage = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    cases = {
        "empty.wav": (b"", "empty file (0 bytes)"),
        "notes.wav": (b"these are notes, not audio", "unknown or unsupported format"),
        "cut.wav": (wav[: len(wav) // 2], "truncated (data chunk declares"),
        "cut.aiff": (aiff[: len(aiff) // 2], "truncated (SSND chunk declares"),
        "cut.flac": (flac[: len(flac) // 2], "corrupt (libsndfile"),
        "corrupt.flac": (flac[:64] + garbage, "corrupt (libsndfile"),
        "header.aiff": (aiff[:30], "unreadable (libsndfile"),
        "ac3.wav": (wave_with_codec(0x2000), "unsupported codec (WAVE format tag 0x2000"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(AudioReadError) as info:
            read_audio(tmp_path / name)
        assert str(info.value).startswith(reason), (name, str(info.value))
    with pytest.raises(AudioReadError, match="unreadable"):
        read_audio(tmp_path / "missing.wav")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_permissions(tmp_path):
    path = write(tmp_path / "locked.wav")
    path.chmod(0)
    with pytest.raises(AudioReadError, match=r"^unreadable \(permission denied\)"):
        read_audio(path)


def test_resample_keeps_frequency_and_duration():
    for rate in (48000, 22050, 44056):  # 44056: FFT fallback
        tone = np.sin(2 * np.pi * 1000 * np.arange(rate) / rate)  # 1 s at 1 kHz
        y = resample(tone, rate, 44100)
        assert y.shape == (44100,)
        spectrum = np.abs(np.fft.rfft(y))
        assert np.fft.rfftfreq(y.shape[0], 1 / 44100)[spectrum.argmax()] == pytest.approx(1000, abs=1)
    assert resample(tone, 44100, 44100) is tone


@pytest.mark.parametrize(
    "name, ok",
    [
        ("a.WAV", True),
        ("b.flac", True),
        ("c.aif", True),
        ("d.AIFF", True),
        ("e.ogg", True),
        ("f.mp3", True),
        ("g.txt", False),
        ("wav", False),
    ],
)
def test_audio_names(name, ok):
    assert is_audio_name(name) is ok

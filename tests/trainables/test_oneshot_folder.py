"""The one-shot folder loader: generated files of mixed formats, rates and channels (alignment, resampling,
mono, long tails cut), bad files named with their reason, the printed summary, and a real library
(Debian's hydrogen-data and hydrogen-drumkits kits)."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from trainables.oneshot_folder import (
    LOADER_DEFAULTS,
    decode_folder,
    describe_folder,
    detect_onset,
    list_audio_files,
    load_oneshot_folder,
)
from trainables.synths.tr808 import TR808_ONSET

SR = 44100


def write(path: Path, data: np.ndarray, rate: int, fmt: str = "WAV", subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, data, rate, format=fmt, subtype=subtype)
    return path


def hit(rate: int, seconds: float, onset_s: float, freq: float = 200.0, decay_s: float = 0.1) -> np.ndarray:
    """A decaying sine starting (at its peak) at ``onset_s`` after silence: (frames,)."""
    t = np.arange(int(round(seconds * rate))) / rate - onset_s
    return np.where(t >= 0, np.cos(2 * np.pi * freq * t) * np.exp(-np.maximum(t, 0) / decay_s), 0.0) * 0.8


@pytest.fixture
def good_folder(tmp_path):
    root = tmp_path / "pack"
    write(root / "BD" / "kick.wav", hit(SR, 0.5, 0.1, 60.0), SR)  # onset 4410
    stereo = np.stack([hit(48000, 0.3, 0.01, 1000.0), np.zeros(14400)], axis=1)  # L only
    write(root / "Snares" / "snare_48k.flac", stereo, 48000, "FLAC", "PCM_24")
    write(root / "Hi-Hats" / "hat_22k.aiff", hit(22050, 1.5, 0.5, 3000.0, 1.0), 22050, "AIFF")
    write(root / "Toms" / "Low Tom" / "tom24.wav", hit(SR, 0.2, 0.0, 120.0), SR, "WAV", "PCM_24")
    write(root / "loose.wav", hit(SR, 0.4, 0.02), SR, "AIFF")  # AIFF inside
    (root / "notes.txt").write_text("not audio")
    (root / "._kick.wav").write_bytes(b"\x00\x05\x16\x07")  # macOS fork: ignored
    (root / ".hidden").mkdir()
    write(root / ".hidden" / "x.wav", hit(SR, 0.2, 0.0), SR)  # hidden folder: ignored
    return root


def add_bad_files(root: Path) -> dict[str, str]:
    """Bad files of every kind under root/bad/ → {name: the start of its reason}."""
    bad = root / "bad"
    bad.mkdir()
    flac = write(root / "tmp.flac", hit(SR, 0.5, 0.1), SR, "FLAC").read_bytes()
    aiff = write(root / "tmp.aiff", hit(SR, 0.5, 0.1), SR, "AIFF").read_bytes()
    (root / "tmp.flac").unlink(), (root / "tmp.aiff").unlink()
    noise = np.random.default_rng(0).integers(0, 256, 8000, dtype=np.uint8).tobytes()
    (bad / "empty.wav").write_bytes(b"")
    (bad / "header.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    (bad / "text.ogg").write_text("not audio at all")
    write(bad / "lofi.wav", hit(8000, 0.5, 0.1), 8000)
    write(bad / "silent.flac", np.zeros(4410), SR, "FLAC")
    write(bad / "noframes.wav", np.zeros(0), SR)
    write(bad / "nan.wav", np.full(100, np.nan), SR, "WAV", "FLOAT")
    full = (root / "BD" / "kick.wav").read_bytes()
    (bad / "cut.wav").write_bytes(full[: len(full) // 2])
    (bad / "cut.aiff").write_bytes(aiff[: len(aiff) // 2])
    (bad / "corrupt.flac").write_bytes(flac[:64] + noise)
    (bad / "cut.flac").write_bytes(flac[: len(flac) // 2])
    return {
        "bad/empty.wav": "empty file",
        "bad/header.wav": "unreadable",
        "bad/text.ogg": "unknown or unsupported",
        "bad/lofi.wav": "unsupported sample rate 8000 Hz",
        "bad/silent.flac": "silent",
        "bad/noframes.wav": "empty (no audio frames)",
        "bad/nan.wav": "non-finite samples",
        "bad/cut.wav": "truncated",
        "bad/cut.aiff": "truncated",
        "bad/corrupt.flac": "corrupt",
        "bad/cut.flac": "corrupt",
    }


def test_folder_loads_every_format_resamples_aligns_and_labels(good_folder):
    folder = load_oneshot_folder(good_folder)
    assert folder.names == (
        "BD/kick.wav",
        "Hi-Hats/hat_22k.aiff",
        "Snares/snare_48k.flac",
        "Toms/Low Tom/tom24.wav",
        "loose.wav",
    )
    assert folder.labels == ("bass_drum", "hi_hat", "snare", "tom", None)
    assert folder.source_rates == (SR, 22050, 48000, SR, SR)
    assert folder.formats == ("WAV/PCM_16", "AIFF/PCM_16", "FLAC/PCM_24", "WAV/PCM_24", "AIFF/PCM_16")
    assert folder.channels == (1, 1, 2, 1, 1)
    assert folder.audio.shape == (5, 1, SR) and folder.audio.dtype == torch.float32
    assert folder.skipped == ()
    torch.testing.assert_close(folder.audio.abs().amax(-1).flatten(), torch.full((5,), 0.5))  # peak 0.5
    assert detect_onset(folder.audio).tolist() == [TR808_ONSET] * 5  # onset 2048
    native = [folder.names.index(n) for n in ("BD/kick.wav", "Toms/Low Tom/tom24.wav", "loose.wav")]
    assert torch.all(folder.audio[native, :, :TR808_ONSET] == 0)  # silence before the onset
    assert folder.audio[..., :TR808_ONSET].abs().max() < 0.05  # resampled: only filter pre-ringing


def test_resampling_mono_length_and_long_tails_cut(good_folder, tmp_path):
    folder = load_oneshot_folder(good_folder)
    snare = folder.audio[folder.names.index("Snares/snare_48k.flac"), 0].double()
    nonzero = torch.nonzero(snare.abs() > 1e-3).flatten()  # 0.29 s of tone after the onset
    assert int(nonzero[-1]) - TR808_ONSET == pytest.approx(0.29 * SR, abs=200)
    spec = torch.fft.rfft(snare).abs()
    assert float(torch.fft.rfftfreq(SR, 1 / SR)[spec.argmax()]) == pytest.approx(1000.0, abs=2.0)
    tom = folder.audio[folder.names.index("Toms/Low Tom/tom24.wav"), 0]
    assert torch.all(tom[TR808_ONSET + int(0.2 * SR) + 1 :] == 0)  # 0.2 s: zero-padded
    hat = folder.audio[folder.names.index("Hi-Hats/hat_22k.aiff"), 0]
    assert hat[-1000:].abs().max() > 0  # 1.5 s: cut to the window
    # a 3 s and a 12 s file are one-shots with long tails: cut after alignment, not refused
    write(tmp_path / "long" / "boom.wav", hit(SR, 3.0, 0.25, 50.0, 2.0), SR)
    write(tmp_path / "long" / "crash.flac", hit(48000, 12.0, 0.01, 4000.0, 3.0), 48000, "FLAC")
    long = load_oneshot_folder(tmp_path / "long")
    assert long.names == ("boom.wav", "crash.flac") and long.durations_s == (3.0, 12.0)
    boom = hit(SR, 3.0, 0.25, 50.0, 2.0)[int(0.25 * SR) - TR808_ONSET :][:SR]
    np.testing.assert_allclose(long.audio[0, 0].numpy(), boom * 0.5 / np.abs(boom).max(), atol=1e-4)


def test_mono_is_the_mean_of_the_channels(tmp_path):
    s = hit(SR, 0.5, 0.1, 300.0)
    write(tmp_path / "mono.wav", 0.75 * s, SR)
    write(tmp_path / "stereo.flac", np.stack([s, 0.5 * s], axis=1), SR, "FLAC")
    write(tmp_path / "zz_cancel.wav", np.stack([s, -s], axis=1), SR, "WAV", "FLOAT")  # mean = 0: silent
    folder = load_oneshot_folder(tmp_path, skip_bad=True)
    assert folder.names == ("mono.wav", "stereo.flac")
    torch.testing.assert_close(folder.audio[0], folder.audio[1], atol=1e-4, rtol=0)
    assert [str(b) for b in folder.skipped] == ["zz_cancel.wav: silent (every sample is zero)"]


def test_onset_threshold_and_positions(tmp_path):
    write(tmp_path / "late.wav", hit(SR, 0.8, 0.3), SR)  # onset 13230 > 1000: material before is dropped
    write(tmp_path / "early.wav", hit(SR, 0.8, 100 / SR), SR)  # onset 100 < 1000: zeros are prepended
    folder = load_oneshot_folder(tmp_path, onset=1000)
    assert detect_onset(folder.audio).tolist() == [1000, 1000]
    stop = 1000 + int(0.5 * SR)
    torch.testing.assert_close(folder.audio[0, :, :stop], folder.audio[1, :, :stop], atol=1e-4, rtol=0)
    assert torch.all(folder.audio[1, :, stop:] == 0) and torch.all(folder.audio[:, :, :1000] == 0)
    x = torch.tensor([[0.0, 0.05, -0.2, 1.0, 0.1], [0.0] * 5])
    assert detect_onset(x, 0.1).tolist() == [2, 0] and detect_onset(x, 0.01).tolist() == [1, 0]
    with pytest.raises(ValueError, match="threshold"):
        detect_onset(x, 0.0)


def test_bad_files_are_named_with_their_reason(good_folder):
    expected = add_bad_files(good_folder)
    with pytest.raises(ValueError) as info:
        load_oneshot_folder(good_folder)
    message = str(info.value)
    assert f"{len(expected)} bad file(s)" in message and "data.skip_bad=true" in message
    for name, reason in expected.items():
        line = next(line for line in message.splitlines() if line.strip().startswith(f"- {name}:"))
        assert reason in line, line
    folder = load_oneshot_folder(good_folder, skip_bad=True)
    assert len(folder) == 5 and {b.name for b in folder.skipped} == set(expected)
    assert decode_folder(good_folder).skipped == folder.skipped  # decode_folder never raises for them


def test_length_cap_and_rate_floor_are_opt_in(good_folder, tmp_path):
    add_bad_files(good_folder)
    assert LOADER_DEFAULTS["max_duration_s"] is None
    capped = load_oneshot_folder(good_folder, skip_bad=True, max_duration_s=1.0)
    assert "Hi-Hats/hat_22k.aiff" not in capped.names
    assert any(
        b.name == "Hi-Hats/hat_22k.aiff" and b.reason.startswith("too long: 1.50 s > data.max_duration_s = 1 s")
        for b in capped.skipped
    )
    lofi = load_oneshot_folder(good_folder, skip_bad=True, min_sample_rate=8000)
    assert "bad/lofi.wav" in lofi.names


def test_loader_argument_and_folder_errors(tmp_path, good_folder):
    with pytest.raises(ValueError, match="not a directory"):
        load_oneshot_folder(tmp_path / "missing")
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "emptydir" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="holds no audio file"):
        load_oneshot_folder(tmp_path / "emptydir")
    for kwargs, arg in [
        (dict(onset=SR), "onset"),
        (dict(peak=0), "peak"),
        (dict(onset_threshold=2), "onset_threshold"),
        (dict(max_duration_s=-1), "max_duration_s"),
        (dict(sample_rate=0), "sample_rate"),
    ]:
        with pytest.raises(ValueError, match=arg):
            load_oneshot_folder(good_folder, **kwargs)
    with pytest.raises(TypeError, match="unknown loader setting"):
        load_oneshot_folder(good_folder, rate=44100)
    only_bad = tmp_path / "onlybad"
    only_bad.mkdir()
    (only_bad / "x.flac").write_bytes(b"")
    with pytest.raises(ValueError, match="(?s)no usable audio file.*all 1 were bad.*x.flac: empty"):
        load_oneshot_folder(only_bad, skip_bad=True)


def test_listing_finds_every_audio_suffix_and_follows_file_links(tmp_path):
    for name in ("a.WAV", "b.flac", "c.aif", "d.AIFF", "e.ogg", "f.mp3", "g.txt", "sub/h.wav", ".i.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "link.wav").symlink_to(tmp_path / "a.WAV")
    assert [p.relative_to(tmp_path).as_posix() for p in list_audio_files(tmp_path)] == [
        "a.WAV",
        "b.flac",
        "c.aif",
        "d.AIFF",
        "e.ogg",
        "f.mp3",
        "link.wav",
        "sub/h.wav",
    ]


def test_summary_says_what_the_loader_understood(good_folder):
    add_bad_files(good_folder)
    folder = load_oneshot_folder(good_folder, skip_bad=True)
    text = describe_folder(folder, SR, SR)
    assert text.splitlines()[0] == f"{good_folder}: 5 one-shot(s) loaded, 11 bad file(s) left out"
    assert "AIFF/PCM_16 2" in text and "FLAC/PCM_24 1" in text and "WAV/PCM_16 1" in text
    assert "22050 Hz 1, 44100 Hz 3, 48000 Hz 1 (2 resampled to 44100 Hz)" in text
    assert "1 file(s) with 2 or more channels mixed to mono" in text
    assert "1 longer than the 1-s window (tails cut after onset alignment)" in text
    assert "labels:   bass_drum 1, snare 1, tom 1, hi_hat 1, (unlabelled) 1" in text
    assert "left out: bad/corrupt.flac: corrupt" in text


def test_a_real_mixed_format_library_loads(hydrogen_kits):
    """Debian's hydrogen-data and hydrogen-drumkits: 856 WAV/FLAC/AIFF files (one .wav is AIFF inside),
    22.05-48 kHz, mono and stereo, up to 12 s. At least 98 % load; the rest are refused with a reason."""
    files = list_audio_files(hydrogen_kits)
    folder = load_oneshot_folder(hydrogen_kits, skip_bad=True)
    assert len(files) >= 800 and len(folder) + len(folder.skipped) == len(files)
    assert len(folder) >= 0.98 * len(files), describe_folder(folder)
    assert all(b.reason for b in folder.skipped)
    assert {b.name for b in folder.skipped} == {"HardElectro1/emptySample.flac", "Millo-Drums_v.1/emptySample.flac"}
    assert all(b.reason == "silent (every sample is zero)" for b in folder.skipped)
    kinds = {f.split("/")[0] for f in folder.formats}
    assert kinds == {"WAV", "FLAC", "AIFF"}
    i = folder.names.index("Audiophob/25671__walter-odington__garage-city-snare-snappy.wav")
    assert folder.formats[i] == "AIFF/PCM_16" and folder.labels[i] == "snare"
    assert max(folder.durations_s) >= 10 and 48000 in folder.source_rates and 2 in folder.channels
    assert torch.isfinite(folder.audio).all() and folder.audio.shape[1:] == (1, SR)
    labels = dict(zip(folder.names, folder.labels, strict=True))
    assert labels["TR808EmulationKit/808_Kick_Long.flac"] == "bass_drum"
    assert labels["GMRockKit/HatClosed-Hard.wav"] == "hi_hat"
    assert labels["BJA_Pacific/BD_01.aiff"] == "bass_drum"
    labelled = sum(lab in ("bass_drum", "snare", "tom", "hi_hat") for lab in folder.labels)
    assert labelled >= 300

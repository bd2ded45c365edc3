"""One-shot datasets (paper §4.4, Table 12): folder loader on generated WAVs, bad files, splits,
batches, synthetic targets."""
import math
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from trainables.data import epoch_order
from trainables.oneshots import (
    PAPER_SPLIT, OneShotData, detect_onset, drum_label, load_oneshot_folder, read_wav, split_counts,
    split_indices,
)
from trainables.synths.tr808 import TR808_ONSET, TR808Synth

SR = 44100


def write_wav(path: Path, data: np.ndarray, rate: int, sampwidth: int = 2) -> Path:
    """``data`` (frames,) or (frames, channels) float in [-1, 1] → PCM WAV via the ``wave`` module."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.asarray(data, dtype=np.float64)
    data = data[:, None] if data.ndim == 1 else data
    if sampwidth == 1:
        raw = np.clip(np.round(data * 127 + 128), 0, 255).astype(np.uint8).tobytes()
    elif sampwidth == 2:
        raw = np.clip(np.round(data * 32767), -32768, 32767).astype("<i2").tobytes()
    elif sampwidth == 3:
        ints = np.clip(np.round(data * (2 ** 23 - 1)), -2 ** 23, 2 ** 23 - 1).astype("<i4")
        raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints.ravel())
    else:
        raise ValueError(sampwidth)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(data.shape[1])
        w.setsampwidth(sampwidth)
        w.setframerate(rate)
        w.writeframes(raw)
    return path


def hit(rate: int, seconds: float, onset_s: float, freq: float = 200.0, decay_s: float = 0.1) -> np.ndarray:
    """A decaying sine starting (at its peak) at ``onset_s`` after silence: (frames,)."""
    t = np.arange(int(round(seconds * rate))) / rate - onset_s
    return np.where(t >= 0, np.cos(2 * np.pi * freq * t) * np.exp(-np.maximum(t, 0) / decay_s), 0.0) * 0.8


@pytest.fixture
def good_folder(tmp_path):
    root = tmp_path / "pack"
    write_wav(root / "BD" / "kick.wav", hit(SR, 0.5, 0.1, 60.0), SR)                       # onset 4410
    stereo = np.stack([hit(48000, 0.3, 0.01, 1000.0), np.zeros(14400)], axis=1)           # L only
    write_wav(root / "Snares" / "snare_48k.wav", stereo, 48000)
    write_wav(root / "Hi-Hats" / "hat_22k.wav", hit(22050, 1.5, 0.5, 3000.0, 1.0), 22050, sampwidth=1)
    write_wav(root / "Toms" / "Low Tom" / "tom24.wav", hit(SR, 0.2, 0.0, 120.0), SR, sampwidth=3)
    write_wav(root / "loose.wav", hit(SR, 0.4, 0.02), SR)
    (root / "notes.txt").write_text("not audio")
    (root / "._kick.wav").write_bytes(b"\x00\x05\x16\x07")                                 # macOS fork: ignored
    return root


def add_bad_files(root: Path) -> dict[str, str]:
    (root / "bad").mkdir()
    (root / "bad" / "empty.wav").write_bytes(b"")
    (root / "bad" / "header.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    write_wav(root / "bad" / "long.wav", hit(SR, 3.0, 0.1), SR)
    write_wav(root / "bad" / "lofi.wav", hit(8000, 0.5, 0.1), 8000)
    write_wav(root / "bad" / "silent.wav", np.zeros(4410), SR)
    write_wav(root / "bad" / "noframes.wav", np.zeros(0), SR)
    full = (root / "BD" / "kick.wav").read_bytes()
    (root / "bad" / "cut.wav").write_bytes(full[:len(full) // 2])                           # truncated data
    return {"bad/empty.wav": "empty", "bad/header.wav": "unreadable", "bad/long.wav": "multi-second",
            "bad/lofi.wav": "unsupported sample rate", "bad/silent.wav": "silent",
            "bad/noframes.wav": "empty", "bad/cut.wav": "truncated"}


# --- loader -----------------------------------------------------------------------------------------
def test_folder_loads_resamples_aligns_and_labels(good_folder):
    folder = load_oneshot_folder(good_folder)
    assert folder.names == ("BD/kick.wav", "Hi-Hats/hat_22k.wav", "Snares/snare_48k.wav",
                            "Toms/Low Tom/tom24.wav", "loose.wav")
    assert folder.labels == ("bass_drum", "hi_hat", "snare", "tom", None)
    assert folder.source_rates == (SR, 22050, 48000, SR, SR)
    assert folder.audio.shape == (5, 1, SR) and folder.audio.dtype == torch.float32
    assert folder.skipped == ()
    # peak-normalised to 0.5 and every onset on sample 2048
    torch.testing.assert_close(folder.audio.abs().amax(-1).flatten(), torch.full((5,), 0.5))
    assert detect_onset(folder.audio).tolist() == [TR808_ONSET] * 5
    native = [folder.names.index(n) for n in ("BD/kick.wav", "Toms/Low Tom/tom24.wav", "loose.wav")]
    assert torch.all(folder.audio[native, :, :TR808_ONSET] == 0)     # silence before the onset
    assert folder.audio[..., :TR808_ONSET].abs().max() < 0.05        # resampled: only filter pre-ringing


def test_resampling_mono_and_length(good_folder):
    folder = load_oneshot_folder(good_folder)
    snare = folder.audio[folder.names.index("Snares/snare_48k.wav"), 0].double()
    # 0.29 s of tone after the onset at 48 kHz stays 0.29 s at 44.1 kHz, then zeros up to 1 s
    nonzero = torch.nonzero(snare.abs() > 1e-3).flatten()
    assert int(nonzero[-1]) - TR808_ONSET == pytest.approx(0.29 * SR, abs=200)
    spec = torch.fft.rfft(snare).abs()
    assert float(torch.fft.rfftfreq(SR, 1 / SR)[spec.argmax()]) == pytest.approx(1000.0, abs=2.0)
    assert 0.4 < float(snare[TR808_ONSET]) <= 0.5
    # a 1.5 s file (hi-hat) is cut to 1 s; a 0.2 s file (tom) is zero-padded
    tom = folder.audio[folder.names.index("Toms/Low Tom/tom24.wav"), 0]
    assert torch.all(tom[TR808_ONSET + int(0.2 * SR) + 1:] == 0)
    hat = folder.audio[folder.names.index("Hi-Hats/hat_22k.wav"), 0]
    assert hat[-1000:].abs().max() > 0                               # 1 s of the 1.5 s file, cut


def test_mono_is_the_mean_of_the_channels(tmp_path):
    s = hit(SR, 0.5, 0.1, 300.0)
    write_wav(tmp_path / "mono.wav", 0.75 * s, SR)
    write_wav(tmp_path / "stereo.wav", np.stack([s, 0.5 * s], axis=1), SR)
    write_wav(tmp_path / "zz_cancel.wav", np.stack([s, -s], axis=1), SR)          # mean = 0: silent
    folder = load_oneshot_folder(tmp_path, skip_bad=True)
    assert folder.names == ("mono.wav", "stereo.wav")
    torch.testing.assert_close(folder.audio[0], folder.audio[1], atol=1e-4, rtol=0)
    assert [str(b) for b in folder.skipped] == ["zz_cancel.wav: silent (every sample is zero)"]


def test_onset_threshold_and_positions(tmp_path):
    write_wav(tmp_path / "late.wav", hit(SR, 0.8, 0.3), SR)     # onset 13230 > 2048: material before is dropped
    write_wav(tmp_path / "early.wav", hit(SR, 0.8, 100 / SR), SR)  # onset 100 < 1000: zeros are prepended
    folder = load_oneshot_folder(tmp_path, onset=1000)
    assert folder.names == ("early.wav", "late.wav")
    assert detect_onset(folder.audio).tolist() == [1000, 1000]
    stop = 1000 + int(0.5 * SR)                                   # "late" has 0.5 s after its onset
    torch.testing.assert_close(folder.audio[0, :, :stop], folder.audio[1, :, :stop], atol=1e-4, rtol=0)
    assert torch.all(folder.audio[1, :, stop:] == 0) and torch.all(folder.audio[:, :, :1000] == 0)
    x = torch.tensor([[0.0, 0.05, -0.2, 1.0, 0.1], [0.0] * 5])
    assert detect_onset(x, 0.1).tolist() == [2, 0] and detect_onset(x, 0.01).tolist() == [1, 0]
    with pytest.raises(ValueError, match="threshold"):
        detect_onset(x, 0.0)


def test_bad_files_are_reported_by_name(good_folder):
    expected = add_bad_files(good_folder)
    with pytest.raises(ValueError) as info:
        load_oneshot_folder(good_folder)
    message = str(info.value)
    assert f"{len(expected)} bad file(s)" in message and "skip_bad=True" in message
    for name, reason in expected.items():
        line = next(l for l in message.splitlines() if l.strip().startswith(f"- {name}:"))
        assert reason in line, line
    folder = load_oneshot_folder(good_folder, skip_bad=True)
    assert len(folder) == 5 and {b.name for b in folder.skipped} == set(expected)
    assert all(reason in b.reason for b in folder.skipped for name, reason in expected.items() if b.name == name)


def test_limits_are_configurable(good_folder):
    add_bad_files(good_folder)
    folder = load_oneshot_folder(good_folder, skip_bad=True, max_duration_s=4.0, min_sample_rate=8000)
    assert "bad/long.wav" in folder.names and "bad/lofi.wav" in folder.names


def test_loader_argument_and_folder_errors(tmp_path, good_folder):
    with pytest.raises(ValueError, match="not a directory"):
        load_oneshot_folder(tmp_path / "missing")
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(ValueError, match="holds no .wav"):
        load_oneshot_folder(tmp_path / "emptydir")
    for kwargs, arg in [(dict(onset=SR), "onset"), (dict(peak=0), "peak"), (dict(onset_threshold=2), "onset_threshold"),
                        (dict(max_duration_s=-1), "max_duration_s"), (dict(sample_rate=0), "sample_rate")]:
        with pytest.raises(ValueError, match=arg):
            load_oneshot_folder(good_folder, **kwargs)
    only_bad = tmp_path / "onlybad"
    only_bad.mkdir()
    (only_bad / "x.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="(?s)no usable .wav file.*x.wav: empty"):
        load_oneshot_folder(only_bad, skip_bad=True)


def test_read_wav_formats(tmp_path):
    x = np.array([0.0, 0.5, -0.5, 0.25])
    for width, tol in ((1, 1 / 100), (2, 1e-4), (3, 1e-6)):
        audio, rate = read_wav(write_wav(tmp_path / f"w{width}.wav", x, 16000, width))
        assert rate == 16000 and audio.shape == (1, 4)
        np.testing.assert_allclose(audio[0], x, atol=tol)
    audio, _ = read_wav(write_wav(tmp_path / "st.wav", np.stack([x, -x], 1), 16000))
    assert audio.shape == (2, 4)


@pytest.mark.parametrize("path, label", [
    ("BD/a.wav", "bass_drum"), ("Roland TR-808/Kicks/x.wav", "bass_drum"), ("808 Kick/a.wav", "bass_drum"),
    ("Bass Drum/a.wav", "bass_drum"), ("SD/a.wav", "snare"), ("Snares/long/a.wav", "snare"),
    ("Toms/a.wav", "tom"), ("LT/a.wav", "tom"), ("Hi-Hats/Open/a.wav", "hi_hat"), ("CH/a.wav", "hi_hat"),
    ("Claps/a.wav", "claps"), ("a.wav", None),
])
def test_drum_labels_from_folder_names(path, label):
    assert drum_label(path) == label


# --- split ------------------------------------------------------------------------------------------
def test_paper_split_sizes_disjoint_and_deterministic():
    assert split_counts(681, PAPER_SPLIT) == {"train": 425, "val": 128, "test": 128}
    idx = split_indices(681, PAPER_SPLIT, seed=3)
    sets = [set(idx[k].tolist()) for k in ("train", "val", "test")]
    assert [len(s) for s in sets] == [425, 128, 128]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert set().union(*sets) == set(range(681))
    assert all(torch.equal(idx[k], idx[k].sort().values) for k in idx)
    again = split_indices(681, PAPER_SPLIT, seed=3)
    assert all(torch.equal(idx[k], again[k]) for k in idx)
    other = split_indices(681, PAPER_SPLIT, seed=4)
    assert not torch.equal(idx["test"], other["test"])


def test_fractional_and_partial_splits():
    assert split_counts(100, (0.6, 0.2, 0.2)) == {"train": 60, "val": 20, "test": 20}
    assert split_counts(681, (0.625, 0.1875, 0.1875)) == {"train": 425, "val": 128, "test": 128}
    assert split_counts(10, (0.5, 0.2, 0.1)) == {"train": 5, "val": 2, "test": 1}    # 2 unused
    assert split_counts(10, (5, 2, 1)) == {"train": 5, "val": 2, "test": 1}
    idx = split_indices(10, (5, 2, 1), seed=0)
    assert sum(v.numel() for v in idx.values()) == 8


def test_too_few_examples_fail_with_counts():
    with pytest.raises(ValueError, match=r"100 available but train 425 \+ val 128 \+ test 128 = 681 requested"):
        split_counts(100, PAPER_SPLIT)
    with pytest.raises(ValueError, match=r"2 examples with fractions .* give train 2, val 0, test 0"):
        split_counts(2, (0.6, 0.2, 0.2))
    for bad in [(1, 2), (0, 1, 1), (0.5, 0.5, 0.5), (1, 0.5, 0.5), "abc", (-0.1, 0.5, 0.5)]:
        with pytest.raises(ValueError, match="sizes"):
            split_counts(10, bad)


# --- the common interface ---------------------------------------------------------------------------
def test_folder_dataset_splits_and_too_few_files(good_folder):
    with pytest.raises(ValueError, match=r"5 available but train 425 \+ val 128 \+ test 128 = 681 requested") as info:
        OneShotData.from_folder(good_folder)
    assert "usable .wav files under" in str(info.value)
    add_bad_files(good_folder)
    with pytest.raises(ValueError, match=r"7 bad file\(s\) skipped"):
        OneShotData.from_folder(good_folder, skip_bad=True, split_seed=1)
    data = OneShotData.from_folder(good_folder, sizes=(3, 1, 1), split_seed=1, skip_bad=True)
    assert not data.has_theta and len(data.skipped) == 7 and data.split_sizes() == {"train": 3, "val": 1, "test": 1}
    names = [set(data.split(k).names) for k in ("train", "val", "test")]
    assert set().union(*names) == set(data.names) and sum(len(n) for n in names) == 5
    train = data.split("train")
    assert train.theta is None and train.audio.shape == (3, 1, SR)
    batch = train.batch_at_step(2, seed=0, step=0)
    assert batch.theta is None and batch.audio.shape == (2, 1, SR)
    assert list(batch.names) == [train.names[i] for i in batch.rows.tolist()]
    with pytest.raises(ValueError, match="name must be one of"):
        data.split("dev")


def test_batches_are_a_pure_function_of_seed_and_epoch():
    synth = TR808Synth(sample_rate=8192, n_samples=8192, onset=256, max_shift=0)
    data = OneShotData.synthetic(40, sizes=(20, 10, 10), split_seed=2, data_seed=0, synth=synth)
    train = data.split("train")
    assert train.n_batches(8) == 2
    order = epoch_order(20, 5, 3)
    b = train.train_batch(8, seed=5, epoch=3, b=1)
    assert torch.equal(b.rows, order[8:16])
    assert torch.equal(train.batch_at_step(8, 5, 3 * 2 + 1).rows, b.rows)         # resumable
    assert [x.rows.tolist() for x in train.epoch_batches(8, 5, 3, start=1)] == [b.rows.tolist()]
    fixed = list(data.split("val").fixed_batches(4))
    assert [len(x) for x in fixed] == [4, 4, 2]                                     # last partial kept
    assert [len(x) for x in data.split("val").fixed_batches(4, drop_last=True)] == [4, 4]
    with pytest.raises(ValueError, match="batch_size"):
        train.n_batches(21)
    with pytest.raises(ValueError, match="b must be"):
        train.batch_indices(8, 5, 3, 2)


def test_synthetic_dataset_known_theta_rendered_by_the_synth():
    synth = TR808Synth(sample_rate=8192, n_samples=8192, onset=256, max_shift=0)
    data = OneShotData.synthetic(30, sizes=(0.6, 0.2, 0.2), split_seed=0, data_seed=7, synth=synth)
    assert data.has_theta and data.theta.shape == (30, 14) and 0 <= float(data.theta.min()) <= float(data.theta.max()) <= 1
    assert torch.equal(data.theta, OneShotData.synthetic(30, (0.6, 0.2, 0.2), 5, 7, synth).theta)  # data_seed
    assert not torch.equal(data.theta, OneShotData.synthetic(30, (0.6, 0.2, 0.2), 0, 8, synth).theta)
    test = data.split("test")
    batch = test.batch(torch.tensor([0, 2]))
    torch.testing.assert_close(batch.audio, synth(batch.theta, batch.seed))
    assert batch.labels == ("synthetic", "synthetic") and batch.names[0].startswith("synthetic/")
    assert test.audio.shape == (6, 1, 8192) and torch.equal(test.seed, test.index)
    default = OneShotData.synthetic(3, sizes=(1, 1, 1))
    assert default.synth.max_shift == 0 and default.synth.n_samples == SR    # aligned TR-808 targets


def test_dataset_argument_checks():
    with pytest.raises(ValueError, match="n_examples"):
        OneShotData.synthetic(0)
    with pytest.raises(ValueError, match="exactly one"):
        OneShotData(names=["a"], labels=[None], seed=torch.arange(1), sizes=(1, 1, 1), split_seed=0)
    with pytest.raises(ValueError, match="split_seed"):
        OneShotData.synthetic(3, sizes=(1, 1, 1), split_seed=-1)
    assert math.isclose(sum(PAPER_SPLIT), 681)

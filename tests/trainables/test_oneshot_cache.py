"""The decode cache: same inputs reuse the entry (memory-mapped), any change to a file or a setting rebuilds
it, concurrent trials on a cold cache decode once and read the same data, bad files stay reported."""

import json
import multiprocessing as mp
import os
import time
import warnings

import numpy as np
import pytest
import soundfile
import torch

from trainables.oneshot_cache import entry_path, fingerprint, load_folder, read
from trainables.oneshot_folder import load_oneshot_folder

SR = 16000  # the files' rate (the loader's minimum)
SETTINGS = dict(sample_rate=8000, n_samples=8000, onset=256)


def tone(freq: float, seconds: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.cos(2 * np.pi * freq * t) * np.exp(-t / 0.05) * 0.8


@pytest.fixture
def pack(tmp_path):
    root = tmp_path / "pack"
    for i, (name, fmt) in enumerate([("kick.wav", "WAV"), ("snare.flac", "FLAC"), ("hat.aiff", "AIFF")]):
        (root / "kit").mkdir(parents=True, exist_ok=True)
        soundfile.write(root / "kit" / name, tone(100 + 300 * i), SR, format=fmt)
    return root


def entries(cache):
    return sorted(p.name for p in cache.glob("oneshots-*"))


def test_same_inputs_reuse_the_entry_memory_mapped(pack, tmp_path):
    cache = tmp_path / "cache"
    first = load_folder(pack, cache, **SETTINGS)
    direct = load_oneshot_folder(pack, **SETTINGS)
    assert torch.equal(first.audio, direct.audio) and first.names == direct.names and first.labels == direct.labels
    assert first.formats == direct.formats and first.source_rates == direct.source_rates
    [name] = entries(cache)
    key, _ = fingerprint(pack, **SETTINGS)
    assert name == f"oneshots-{key}"
    # prove the second load reads the entry (not the files): mark the stored audio in place
    stored = np.load(cache / name / "audio.npy", mmap_mode="r+")
    stored[:] = 0.25
    stored.flush()
    del stored
    again = load_folder(pack, cache, **SETTINGS)
    assert torch.all(again.audio == 0.25) and again.names == first.names
    assert entries(cache) == [name] and not list(cache.glob(".tmp-*"))
    mapped = read(cache, key, pack)  # memory-mapped, not read into memory
    assert str(cache / name / "audio.npy") in open("/proc/self/maps").read()
    assert torch.all(mapped.audio == 0.25)


@pytest.mark.parametrize(
    "change", ["touch", "same-size-edit", "edit-and-restore-mtime", "add", "remove", "rename", "settings"]
)
def test_any_change_rebuilds_and_is_never_stale(pack, tmp_path, change):
    cache = tmp_path / "cache"
    before = load_folder(pack, cache, **SETTINGS)
    [old] = entries(cache)
    settings = dict(SETTINGS)
    kick = pack / "kit" / "kick.wav"
    if change == "touch":
        time.sleep(0.01)
        kick.touch()
    elif change in ("same-size-edit", "edit-and-restore-mtime"):
        st = kick.stat()
        soundfile.write(kick, tone(777), SR, format="WAV")  # same length, same size, new audio
        assert kick.stat().st_size == st.st_size
        if change == "edit-and-restore-mtime":  # e.g. rsync -t, cp -p: mtime lies
            os.utime(kick, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "add":
        soundfile.write(pack / "kit" / "tom.wav", tone(150), SR)
    elif change == "remove":
        (pack / "kit" / "hat.aiff").unlink()
    elif change == "rename":
        (pack / "kit" / "hat.aiff").rename(pack / "kit" / "hihat.aiff")
    else:
        settings["onset"] = 512
    after = load_folder(pack, cache, **settings)
    expected = load_oneshot_folder(pack, **settings)  # what decoding the files gives now
    assert torch.equal(after.audio, expected.audio) and after.names == expected.names
    if change in ("same-size-edit", "edit-and-restore-mtime"):
        assert not torch.equal(after.audio, before.audio)
    new = f"oneshots-{fingerprint(pack, **settings)[0]}"
    assert new != old
    if change == "settings":  # other settings: their own entry, the old one stays valid
        assert entries(cache) == sorted([old, new])
    else:  # the older fingerprint of the same folder is removed
        assert entries(cache) == [new]


def test_bad_files_are_cached_and_still_reported(pack, tmp_path):
    (pack / "kit" / "broken.flac").write_bytes(b"fLaC" + b"\x00" * 50)
    cache = tmp_path / "cache"
    for _ in range(2):  # written, then read back
        with pytest.raises(ValueError, match=r"1 bad file\(s\).*\n  - kit/broken.flac: "):
            load_folder(pack, cache, **SETTINGS)
        folder = load_folder(pack, cache, skip_bad=True, **SETTINGS)
        assert len(folder) == 3 and [b.name for b in folder.skipped] == ["kit/broken.flac"]
    assert len(entries(cache)) == 1
    index = json.loads((entry_path(cache, fingerprint(pack, **SETTINGS)[0]) / "index.json").read_text())
    assert index["skipped"][0][0] == "kit/broken.flac"


def _worker(args):
    root, cache = args
    folder = load_folder(root, cache, **SETTINGS)
    return folder.names, folder.audio.numpy().copy()


def test_concurrent_trials_on_a_cold_cache_read_the_same_data(pack, tmp_path):
    cache = tmp_path / "cache"
    with mp.get_context("spawn").Pool(3) as pool:
        results = pool.map(_worker, [(str(pack), str(cache))] * 3)
    expected = load_oneshot_folder(pack, **SETTINGS)
    for names, audio in results:
        assert names == expected.names
        np.testing.assert_array_equal(audio, expected.audio.numpy())
    assert len(entries(cache)) == 1 and not list(cache.glob(".tmp-*"))


def test_an_unusable_cache_folder_falls_back_to_decoding(pack, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folder = load_folder(pack, not_a_folder, **SETTINGS)
    assert len(folder) == 3 and any("data.cache_dir" in str(w.message) for w in caught)


def test_missing_folder_errors_as_the_loader(tmp_path):
    with pytest.raises(ValueError, match="is not a directory"):
        load_folder(tmp_path / "nope", tmp_path / "cache", **SETTINGS)
    assert not (tmp_path / "cache").exists()

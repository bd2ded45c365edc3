"""One-shot datasets (paper §4.4, Table 12): deterministic splits (counts and fractions), batches, the
folder source (generated files and a real library) and synthetic targets."""

import math

import numpy as np
import pytest
import soundfile
import torch

from trainables.data import epoch_order
from trainables.oneshots import PAPER_SPLIT, OneShotData, split_indices
from trainables.split_sizes import SplitSizeError
from trainables.synths.tr808 import TR808Synth

SR = 44100


def write_hits(root, n, rate=SR, fmt="WAV"):
    """n decaying tones as audio files under root/<kick|snare>/."""
    t = np.arange(rate // 4) / rate
    for i in range(n):
        folder = root / ("kick" if i % 2 else "snare")
        folder.mkdir(parents=True, exist_ok=True)
        x = np.cos(2 * np.pi * (100 + 37 * i) * t) * np.exp(-t / 0.05) * 0.8
        soundfile.write(folder / f"hit{i:02d}.{fmt.lower()}", x, rate, format=fmt)
    return root


# --- split ------------------------------------------------------------------------------------------
def test_paper_split_sizes_disjoint_and_deterministic():
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
    idx = split_indices(10, (5, 2, 1), seed=0)
    assert sum(v.numel() for v in idx.values()) == 8  # counts: 2 unused
    idx = split_indices(754, (0.6, 0.2, 0.2), seed=0)
    assert [idx[k].numel() for k in ("train", "val", "test")] == [452, 151, 151]
    assert set(torch.cat(list(idx.values())).tolist()) == set(range(754))  # fractions: every example used


# --- the common interface ---------------------------------------------------------------------------
def test_folder_dataset_splits_and_too_few_files(tmp_path):
    root = write_hits(tmp_path / "pack", 5)
    (root / "bad.wav").write_bytes(b"")
    with pytest.raises(
        SplitSizeError,
        match=r"^data.split_sizes: too few usable audio files under .* for the "
        r"split: 5 available but train 425 \+ val 128 \+ test 128 = 681 "
        r"requested",
    ):
        OneShotData.from_folder(root, skip_bad=True)
    with pytest.raises(SplitSizeError, match=r"1 bad file\(s\) skipped"):
        OneShotData.from_folder(root, skip_bad=True, split_seed=1)
    data = OneShotData.from_folder(root, sizes=(3, 1, 1), split_seed=1, skip_bad=True)
    assert not data.has_theta and len(data.skipped) == 1 and data.split_sizes() == {"train": 3, "val": 1, "test": 1}
    names = [set(data.split(k).names) for k in ("train", "val", "test")]
    assert set().union(*names) == set(data.names) and sum(len(n) for n in names) == 5
    train = data.split("train")
    assert train.theta is None and train.audio.shape == (3, 1, SR)
    torch.testing.assert_close(train.audio, data.audio[train.index])  # a split reads its parent's rows
    batch = train.batch_at_step(2, seed=0, step=0)
    assert batch.theta is None and batch.audio.shape == (2, 1, SR)
    assert list(batch.names) == [train.names[i] for i in batch.rows.tolist()]
    with pytest.raises(ValueError, match="name must be one of"):
        data.split("dev")


def test_folder_dataset_through_the_decode_cache(tmp_path):
    root = write_hits(tmp_path / "pack", 6, fmt="FLAC")
    plain = OneShotData.from_folder(root, sizes=(0.5, 0.25, 0.25), split_seed=2)
    cached = OneShotData.from_folder(root, sizes=(0.5, 0.25, 0.25), split_seed=2, cache_dir=tmp_path / "cache")
    again = OneShotData.from_folder(root, sizes=(0.5, 0.25, 0.25), split_seed=2, cache_dir=tmp_path / "cache")
    assert plain.counts == cached.counts == {"train": 2, "val": 2, "test": 2}
    assert torch.equal(plain.audio, cached.audio) and torch.equal(plain.audio, again.audio)
    assert len(list((tmp_path / "cache").glob("oneshots-*"))) == 1  # one entry, written once
    assert torch.equal(cached.split("val").audio, plain.split("val").audio)


def test_a_real_library_splits_60_20_20(hydrogen_kits):
    data = OneShotData.from_folder(hydrogen_kits, sizes=(0.6, 0.2, 0.2), split_seed=0, skip_bad=True)
    n = len(data)  # 854 usable of 856
    assert n >= 840 and data.counts["val"] == data.counts["test"] == math.floor(0.2 * n + 0.5)
    assert sum(data.counts.values()) == n
    assert data.counts["train"] == n - 2 * data.counts["val"]
    names = [set(data.split(k).names) for k in ("train", "val", "test")]
    assert set().union(*names) == set(data.names) and not (names[0] & names[1] or names[1] & names[2])
    batch = data.split("train").batch_at_step(8, seed=0, step=3)
    assert batch.audio.shape == (8, 1, SR) and torch.isfinite(batch.audio).all()


def test_batches_are_a_pure_function_of_seed_and_epoch():
    synth = TR808Synth(sample_rate=8192, n_samples=8192, onset=256, max_shift=0)
    data = OneShotData.synthetic(40, sizes=(20, 10, 10), split_seed=2, data_seed=0, synth=synth)
    train = data.split("train")
    assert train.n_batches(8) == 2
    order = epoch_order(20, 5, 3)
    b = train.train_batch(8, seed=5, epoch=3, b=1)
    assert torch.equal(b.rows, order[8:16])
    assert torch.equal(train.batch_at_step(8, 5, 3 * 2 + 1).rows, b.rows)  # resumable
    assert [x.rows.tolist() for x in train.epoch_batches(8, 5, 3, start=1)] == [b.rows.tolist()]
    fixed = list(data.split("val").fixed_batches(4))
    assert [len(x) for x in fixed] == [4, 4, 2]  # last partial kept
    assert [len(x) for x in data.split("val").fixed_batches(4, drop_last=True)] == [4, 4]
    with pytest.raises(ValueError, match="batch_size"):
        train.n_batches(21)
    with pytest.raises(ValueError, match="b must be"):
        train.batch_indices(8, 5, 3, 2)


def test_synthetic_dataset_known_theta_rendered_by_the_synth():
    synth = TR808Synth(sample_rate=8192, n_samples=8192, onset=256, max_shift=0)
    data = OneShotData.synthetic(30, sizes=(0.6, 0.2, 0.2), split_seed=0, data_seed=7, synth=synth)
    assert (
        data.has_theta and data.theta.shape == (30, 14) and 0 <= float(data.theta.min()) <= float(data.theta.max()) <= 1
    )
    assert torch.equal(data.theta, OneShotData.synthetic(30, (0.6, 0.2, 0.2), 5, 7, synth).theta)  # data_seed
    assert not torch.equal(data.theta, OneShotData.synthetic(30, (0.6, 0.2, 0.2), 0, 8, synth).theta)
    test = data.split("test")
    batch = test.batch(torch.tensor([0, 2]))
    torch.testing.assert_close(batch.audio, synth(batch.theta, batch.seed))
    assert batch.labels == ("synthetic", "synthetic") and batch.names[0].startswith("synthetic/")
    assert test.audio.shape == (6, 1, 8192) and torch.equal(test.seed, test.index)
    default = OneShotData.synthetic(3, sizes=(1, 1, 1))
    assert default.synth.max_shift == 0 and default.synth.n_samples == SR  # aligned TR-808 targets


def test_dataset_argument_checks():
    with pytest.raises(ValueError, match="n_examples"):
        OneShotData.synthetic(0)
    with pytest.raises(ValueError, match="exactly one"):
        OneShotData(names=["a"], labels=[None], seed=torch.arange(1), sizes=(1, 1, 1), split_seed=0)
    with pytest.raises(ValueError, match="split_seed"):
        OneShotData.synthetic(3, sizes=(1, 1, 1), split_seed=-1)
    assert math.isclose(sum(PAPER_SPLIT), 681)

"""trainables.build.steps_per_epoch: a run's steps per epoch from its config alone, equal to what the
built data gives (``n_batches`` of the train split) for every kind of data source."""

import pytest

from trainables import build
from trainables.config import override
from trainables.presets import get_preset


@pytest.mark.parametrize(
    "preset, expected",
    [
        ("granular", 3075 // 32),  # paper Table 10: 96 steps per epoch
        ("chirplet-hi-med", 3075 // 32),
        ("tr808-meso", 425 // 8),  # paper Table 12: 53 (one-shots, not the θ grid)
        ("smoke-tr808-micro", 32 // 8),
    ],
)
def test_hand_worked_values(preset, expected):
    assert build.steps_per_epoch(get_preset(preset)) == expected


@pytest.mark.parametrize(
    "preset, changes",
    [
        ("smoke-granular", {}),
        ("smoke-chirplet-lo-lo", {"data.batch_size": 5}),
        ("mini-granular", {}),
        ("smoke-tr808", {}),
        ("smoke-tr808-meso", {"data.split_sizes": (20, 8, 8), "data.batch_size": 3}),
    ],
)
def test_equals_the_built_train_split(preset, changes):
    cfg = override(get_preset(preset), **changes)
    n_params = len(build.build_synth(cfg).theta_names)
    train = build.build_data(cfg, n_params).split("train")
    assert build.steps_per_epoch(cfg) == train.n_batches(cfg.data.batch_size)


def test_fractional_one_shot_splits(tmp_path):
    """Fractions of data.n_examples (synthetic) or of the audio files under data.oneshot_root (issue 13)."""
    import numpy as np
    import soundfile

    synthetic = override(get_preset("smoke-tr808"), **{"data.split_sizes": [0.5, 0.25, 0.25], "data.batch_size": 4})
    assert build.steps_per_epoch(synthetic) == 24 // 4  # 48 examples: train 24
    for i in range(10):
        soundfile.write(tmp_path / f"hit{i}.flac", np.hanning(2000) * np.cos(np.arange(2000) / 5), 22050)
    folder = override(
        synthetic,
        **{
            "data.source": "oneshot-folder",
            "data.oneshot_root": str(tmp_path),
            "data.split_sizes": [0.6, 0.2, 0.2],
            "data.batch_size": 2,
            "eval.jtfs": False,
        },
    )
    assert build.expected_split_counts(folder) == {"train": 6, "val": 2, "test": 2}
    assert build.steps_per_epoch(folder) == 3 == build.build_data(folder, 14).split("train").n_batches(2)
    missing = override(folder, **{"data.oneshot_root": str(tmp_path / "nope")})
    assert build.expected_split_counts(missing) is None and build.steps_per_epoch(missing) == 1

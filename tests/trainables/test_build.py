"""trainables.build.steps_per_epoch: a run's steps per epoch from its config alone, equal to what the
built data gives (``n_batches`` of the train split) for every kind of data source."""
import pytest

from trainables import build
from trainables.config import override
from trainables.presets import get_preset


@pytest.mark.parametrize("preset, expected", [
    ("granular", 3075 // 32),          # paper Table 10: 96 steps per epoch
    ("chirplet-hi-med", 3075 // 32),
    ("tr808-meso", 425 // 8),          # paper Table 12: 53 (one-shots, not the θ grid)
    ("smoke-tr808-micro", 32 // 8),
])
def test_hand_worked_values(preset, expected):
    assert build.steps_per_epoch(get_preset(preset)) == expected


@pytest.mark.parametrize("preset, changes", [
    ("smoke-granular", {}),
    ("smoke-chirplet-lo-lo", {"data.batch_size": 5}),
    ("mini-granular", {}),
    ("smoke-tr808", {}),
    ("smoke-tr808-meso", {"data.split_sizes": (20, 8, 8), "data.batch_size": 3}),
])
def test_equals_the_built_train_split(preset, changes):
    cfg = override(get_preset(preset), **changes)
    n_params = len(build.build_synth(cfg).theta_names)
    train = build.build_data(cfg, n_params).split("train")
    assert build.steps_per_epoch(cfg) == train.n_batches(cfg.data.batch_size)

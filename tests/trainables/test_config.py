"""Typed run configs: unknown keys, type changes and cross-section checks name the field, flat keys
round-trip. (Each section's own checks: ``test_config_sections.py``.)"""

import pytest

from trainables.config import ConfigError, RunConfig, flatten, from_dict, from_flat, override, to_dict
from trainables.presets import get_preset


def test_flat_round_trip_and_overrides():
    cfg = get_preset("smoke-granular")
    flat = flatten(cfg)
    assert flat["train.lr"] == cfg.train.lr and flat["synth.kind"] == "granular" and flat["seed"] == 0
    assert from_flat(flat, RunConfig()) == cfg
    assert from_dict(to_dict(cfg)) == cfg
    new = override(cfg, **{"train.lr": 1, "seed": 3, "train.p_adam": True})
    assert new.train.lr == 1.0 and isinstance(new.train.lr, float) and new.seed == 3 and new.train.p_adam


@pytest.mark.parametrize(
    "dotted, field",
    [
        ({"train.lrr": 1e-3}, "train.lrr"),
        ({"train.lr": "fast"}, "train.lr"),
        ({"train.epochs": 2.5}, "train.epochs"),
        ({"train.p_adam": 1}, "train.p_adam"),
        ({"data.batch_size": 500}, "data.batch_size"),
        ({"jtfs.T": 1 << 20}, "jtfs.T"),
        ({"jtfs.J": 13}, "jtfs.J"),
        ({"device": "tpu"}, "device"),
        ({"seed": -1}, "seed"),
        ({"data.grid_size": 50_000}, "data.grid_size"),  # 2.5e9 rows: more than a grid may have
    ],
)
def test_invalid_values_name_the_field(dotted, field):
    with pytest.raises(ConfigError, match=rf"^{field}\b"):
        override(get_preset("smoke-granular"), **dotted)

"""The run config's sections (``trainables.config_sections``): each validates itself and names the field."""

import pytest

from trainables.config import ConfigError, override
from trainables.presets import get_preset


@pytest.mark.parametrize(
    "dotted, field",
    [
        ({"train.lr": -1e-3}, "train.lr"),
        ({"eval.val_paths": "theta"}, "eval.val_paths"),
        ({"synth.f0_min_hz": 600.0}, "synth.f0_max_hz"),  # θ range inverted
        ({"train.loss": "mss-linear", "train.p_adam": True}, "train.loss"),
        ({"train.lr_schedule": "linear"}, "train.lr_end"),
        ({"encoder.pools": ((2, 2),)}, "encoder.pools"),
        ({"train.loss": "l2"}, "train.loss"),
    ],
)
def test_invalid_section_values_name_the_field(dotted, field):
    with pytest.raises(ConfigError, match=rf"^{field}\b"):
        override(get_preset("smoke-granular"), **dotted)


def test_chirplet_ranges_are_checked_for_chirplet_only():
    with pytest.raises(ConfigError, match="synth.chirplet_ranges"):
        override(get_preset("smoke-chirplet-lo-lo"), **{"synth.chirplet_ranges": "mid"})
    override(get_preset("smoke-granular"), **{"synth.chirplet_ranges": "mid"})  # ignored by the granular synth

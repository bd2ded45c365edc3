"""Typed run configs: validation names the field, flat keys round-trip, presets are the paper's."""

import pytest

from trainables.config import ConfigError, RunConfig, flatten, from_dict, from_flat, override, to_dict
from trainables.presets import PRESETS, get_preset


def test_presets_carry_the_paper_hyperparameters():
    g = get_preset("granular")
    assert (g.synth.sample_rate, g.synth.n_samples, g.synth.n_grains, g.synth.grain_n_samples) == (
        8192,
        32768,
        64,
        4096,
    )
    assert (g.jtfs.J, g.jtfs.Q1, g.jtfs.Q2, g.jtfs.J_fr, g.jtfs.Q_fr) == (12, 8, 2, 3, 2)
    assert g.jtfs_settings().filter_bank.n_paths == 315
    assert (g.train.lr, g.train.epochs, g.data.batch_size, g.train.weight_decay) == (1e-5, 200, 32, 0.01)
    assert (g.train.theta_is_batches * g.train.theta_is_batch_size, g.train.theta_is_iters) == (320, 20)
    c = get_preset("chirplet-hi-med")
    assert (c.train.lr, c.train.epochs, c.synth.max_shift, c.synth.f0_hz) == (1e-4, 50, 2048, 512.0)
    assert c.train.theta_is_batches * c.train.theta_is_batch_size == 32
    assert {"chirplet-lo-lo", "chirplet-hi-hi-paper", "smoke-granular", "smoke-chirplet-hi-hi"} <= set(PRESETS)
    assert all(p.preset == name for name, p in PRESETS.items())


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
        ({"train.lr": -1e-3}, "train.lr"),
        ({"train.epochs": 2.5}, "train.epochs"),
        ({"train.p_adam": 1}, "train.p_adam"),
        ({"eval.val_paths": "theta"}, "eval.val_paths"),
        ({"data.batch_size": 500}, "data.batch_size"),
        ({"synth.f0_min_hz": 600.0}, "synth.f0_max_hz"),  # θ range inverted
        ({"train.loss": "mss-linear", "train.p_adam": True}, "train.loss"),
        ({"train.lr_schedule": "linear"}, "train.lr_end"),
        ({"jtfs.T": 1 << 20}, "jtfs.T"),
        ({"jtfs.J": 13}, "jtfs.J"),
        ({"encoder.pools": ((2, 2),)}, "encoder.pools"),
        ({"device": "tpu"}, "device"),
        ({"seed": -1}, "seed"),
        ({"train.loss": "l2"}, "train.loss"),
    ],
)
def test_invalid_values_name_the_field(dotted, field):
    with pytest.raises(ConfigError, match=rf"^{field}\b"):
        override(get_preset("smoke-granular"), **dotted)


def test_chirplet_ranges_are_checked_for_chirplet_only():
    with pytest.raises(ConfigError, match="synth.chirplet_ranges"):
        override(get_preset("smoke-chirplet-lo-lo"), **{"synth.chirplet_ranges": "mid"})
    override(get_preset("smoke-granular"), **{"synth.chirplet_ranges": "mid"})  # ignored by the granular synth


def test_unknown_preset_lists_choices():
    with pytest.raises(ValueError, match="unknown preset 'nope'.*granular"):
        get_preset("nope")

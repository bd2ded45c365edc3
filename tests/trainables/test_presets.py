"""Presets carry the paper's hyperparameters (Tables 10-12); an unknown name lists the choices."""

import pytest

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


def test_unknown_preset_lists_choices():
    with pytest.raises(ValueError, match="unknown preset 'nope'.*granular"):
        get_preset("nope")

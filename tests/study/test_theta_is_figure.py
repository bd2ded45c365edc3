"""Figure 6 and the π-mass table of a θ-IS study on chirplets (study.theta_is_figure)."""

import numpy as np
import pytest

from analysis import render, schema
from search_spaces import studies
from study.layout import StudyDir, write_json_atomic
from study.theta_is_figure import figure_and_table
from trainables.presets import get_preset


def _stage_files(sdir: StudyDir, preset: str, pi: np.ndarray) -> None:
    """What study.theta_is_stage writes for a preset: π and the path table."""
    cfg = get_preset(preset)
    out = sdir.theta_is_dir(preset)
    out.mkdir(parents=True)
    np.save(out / schema.PI_NPY, pi)
    write_json_atomic(out / schema.PATHS_JSON, cfg.jtfs_settings().filter_bank.path_table(cfg.synth.sample_rate))


def test_each_chirplet_preset_gets_its_own_range_and_a_panel(tmp_path):
    presets = ("repl-chirplet-hi-med", "repl-chirplet-lo-lo")
    spec = studies.theta_is("t", presets=presets, seeds=(0,))
    sdir = StudyDir(tmp_path / "t")
    P = get_preset(presets[0]).jtfs_settings().filter_bank.n_paths
    _stage_files(sdir, presets[0], np.full(P, 1 / P))
    got = figure_and_table(spec, sdir)
    assert got is not None
    fig, table = got
    md = render.render(table, "markdown")
    # the released hi-med ranges; 2 of the 49 paths inside; a uniform π: mass = share, ratio 1
    assert "| repl-chirplet-hi-med | 3.96–7.92 | 2–4 | 2/49 | 0.0408 | 0.0408 | 1 | 1 | 1 |" in md
    assert "lo-lo" not in md  # no π for it yet
    assert len([ax for ax in fig.axes if ax.get_visible()]) >= 1
    _stage_files(sdir, presets[1], np.full(P, 1 / P))
    fig, table = figure_and_table(spec, sdir)
    assert "| repl-chirplet-lo-lo | 0.9899–1.98 | 0.5–1 |" in render.render(table, "markdown")


def test_nothing_for_a_study_without_chirplet_pi(tmp_path):
    sdir = StudyDir(tmp_path / "g")
    granular = studies.ablation("g", "smoke-granular", (0,))
    P = get_preset("smoke-granular").jtfs_settings().filter_bank.n_paths
    _stage_files(sdir, "smoke-granular", np.full(P, 1 / P))
    assert figure_and_table(granular, sdir) is None  # no AM/FM range for a granular synth
    assert figure_and_table(studies.theta_is("c", presets=("smoke-chirplet-lo-lo",), seeds=(0,)), sdir) is None


@pytest.mark.parametrize("bad", [np.zeros(3)])
def test_a_bad_pi_is_left_out_with_its_reason(tmp_path, bad):
    spec = studies.theta_is("t", presets=("smoke-chirplet-lo-lo",), seeds=(0,))
    sdir = StudyDir(tmp_path / "t")
    _stage_files(sdir, "smoke-chirplet-lo-lo", bad)
    said = []
    assert figure_and_table(spec, sdir, said.append) is None
    assert said and "smoke-chirplet-lo-lo left out" in said[0]

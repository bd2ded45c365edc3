import json

import numpy as np
import pytest
from matplotlib.patches import Rectangle

from analysis import plots, plots_paths, theta_is
from analysis.plots_paths import AmFmPanel

# P = 5: spin 0 at 4 Hz; +1/-1 at 4 Hz scale 2 (FM 2 oct/s); +1 at 16 Hz scale 1 (FM 16); -1 at 1 Hz scale 1 (FM 1)
ROWS = [(0, 4.0, 0.0), (1, 4.0, 2.0), (-1, 4.0, 2.0), (1, 16.0, 1.0), (-1, 1.0, 1.0)]
PI = np.array([0.2, 0.4, 0.2, 0.1, 0.1])


@pytest.fixture
def table(tmp_path):
    entries = [
        {"index": i, "n2": i, "n_fr": i, "spin": s, "rate_hz": r, "scale_cyc_per_oct": c}
        for i, (s, r, c) in enumerate(ROWS)
    ]
    (tmp_path / "paths.json").write_text(json.dumps(entries))
    return theta_is.load_path_table(tmp_path / "paths.json", n_paths=PI.size)


def _scatters(ax):
    return {c.get_label(): c for c in ax.collections}


def test_amfm_points_colours_and_rectangle(table, tmp_path):
    fig = plots_paths.plot_paths_amfm(PI, table, ((3, 5), (1.5, 3)), widen_oct=0)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    up, down = _scatters(ax)["spin +1 (upward sweep)"], _scatters(ax)["spin −1 (downward sweep)"]
    # spin +1: paths 1 (4 Hz, FM 2) and 3 (16 Hz, FM 16), nudged up by SPIN_NUDGE_OCT octave; colour P·π
    nudge = 2.0**plots_paths.SPIN_NUDGE_OCT
    np.testing.assert_allclose(up.get_offsets(), [[4, 2 * nudge], [16, 16 * nudge]])
    np.testing.assert_allclose(up.get_array(), [2.0, 0.5])
    np.testing.assert_allclose(down.get_offsets(), [[4, 2 / nudge], [1, 1 / nudge]])
    np.testing.assert_allclose(down.get_array(), [1.0, 0.5])
    # the colour scale is log and centred at 1: 10**-s .. 10**s
    assert up.norm.vmin == pytest.approx(1 / up.norm.vmax)
    rects = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(rects) == 1 and rects[0].get_xy() == (3, 1.5)
    assert rects[0].get_width() == 2 and rects[0].get_height() == 1.5 and rects[0].get_linestyle() == "--"
    # paths 1 and 2 inside: mass 0.6 vs uniform 0.4
    assert "π inside 0.6 vs uniform 0.4 (2/5 paths, ×1.50)" in ax.get_title()
    assert "1 spin-0 paths not shown" in ax.get_title()
    png, pdf = plots.save_figure(fig, tmp_path / "amfm")
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0


def test_amfm_without_rectangle(table):
    fig = plots_paths.plot_paths_amfm(PI, table)
    ax = fig.axes[0]
    assert not [p for p in ax.patches if isinstance(p, Rectangle)]
    assert "π inside" not in ax.get_title()


def test_amfm_bad_input(table):
    with pytest.raises(ValueError, match="rect AM range"):
        plots_paths.plot_paths_amfm(PI, table, ((5, 3), (1, 2)), widen_oct=0)
    with pytest.raises(ValueError, match=r"rect AM range \(Hz\) must be a pair"):
        plots_paths.plot_paths_amfm(PI, table, (3, 5), widen_oct=0)
    with pytest.raises(ValueError, match="give widen_oct"):
        plots_paths.plot_paths_amfm(PI, table, ((3, 5), (1, 2)))


def test_grid_four_configurations(table, tmp_path):
    other = np.array([0.1, 0.1, 0.1, 0.1, 0.6])
    panels = [
        AmFmPanel("lo-lo", other, table, ((0.8, 1.2), (0.8, 1.2))),
        AmFmPanel("lo-med", PI, table, ((3, 5), (1.5, 3))),
        AmFmPanel("hi-med", PI, table, ((12, 20), (1.5, 3))),
        AmFmPanel("hi-hi", PI, table, ((12, 20), (12, 20))),
    ]
    fig = plots_paths.plot_paths_amfm_grid(panels, widen_oct=0)
    axes = [a for a in fig.axes if a.get_label() != "<colorbar>"][:4]
    titles = [a.get_title() for a in axes]
    assert titles[0].startswith("lo-lo") and "π inside 0.6 vs uniform 0.2" in titles[0]
    assert "no path inside" in titles[2]
    assert "π inside 0.1 vs uniform 0.2" in titles[3]
    # one shared colour scale, wide enough for lo-lo's 3x
    norms = {id(c.norm) for a in axes for c in a.collections if c.get_array() is not None}
    assert len(norms) == 1
    vmax = next(c.norm.vmax for c in axes[0].collections if c.get_array() is not None)
    assert vmax == pytest.approx(3.0)
    plots.save_figure(fig, tmp_path / "grid")
    with pytest.raises(ValueError, match="1 to 4 panels"):
        plots_paths.plot_paths_amfm_grid(panels + panels[:1], widen_oct=0)
    with pytest.raises(ValueError, match="panel 'x': rect AM range"):
        plots_paths.plot_paths_amfm_grid([AmFmPanel("x", PI, table, ((2, 1), (1, 2)))], widen_oct=0)

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from analysis import data, plots, theta_is


@pytest.fixture
def curves():
    rows = []
    for arm, offset in (("A", 0.0), ("B", -0.05)):
        for seed in range(3):
            for i, step in enumerate((96, 192, 288, 384)):
                rows.append(
                    {
                        "arm": arm,
                        "seed": seed,
                        "step": step,
                        "val_theta_l1": 0.3 - 0.05 * i + offset + 0.01 * seed,
                        "elapsed_s": (i + 1) * (2.0 if arm == "A" else 1.0),
                    }
                )
    rows.append({"arm": "J", "seed": 0, "step": 96, "val_theta_l1": 0.2, "elapsed_s": 30.0})
    return data.validate_curves(pd.DataFrame(rows))


def _png_pdf(paths):
    png, pdf = paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"


def test_curves_band_values_and_files(curves, tmp_path):
    fig = plots.plot_curves(curves, ["A", "B", "J"], x="both", ci="paper-z")
    ax_step, ax_time = fig.axes[:2]
    lines = [l for l in ax_step.get_lines() if l.get_label().startswith(("A", "B", "J"))]
    assert [l.get_label() for l in lines] == ["A (n = 3)", "B (n = 3)", "J (n = 1)"]
    # A at step 96: seeds 0.30, 0.31, 0.32 -> mean 0.31, drawn × 1000
    assert lines[0].get_xdata().tolist() == [96, 192, 288, 384]
    assert lines[0].get_ydata()[0] == pytest.approx(310.0)
    # wall-clock panel: mean elapsed_s of A at each step = 2, 4, 6, 8
    time_lines = [l for l in ax_time.get_lines() if l.get_label().startswith("A")]
    assert time_lines[0].get_xdata().tolist() == [2.0, 4.0, 6.0, 8.0]
    # bands for A and B (3 seeds), none for the single-run J
    assert len(ax_step.collections) == 2
    _png_pdf(plots.save_figure(fig, tmp_path / "curves.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.pdf", "curves.png"]


def test_curves_without_elapsed(curves):
    with pytest.raises(ValueError, match="no 'elapsed_s' values"):
        plots.plot_curves(curves.drop(columns=["elapsed_s"]), ["A"], x="elapsed")
    fig = plots.plot_curves(curves.drop(columns=["elapsed_s"]), ["A"], x="step")
    assert len(fig.axes) == 1
    plt.close(fig)


def test_cost_scatter_relative(tmp_path):
    df = data.validate_per_seed(
        pd.DataFrame(
            {
                "arm": ["A", "A", "B", "B"],
                "seed": [0, 1, 0, 1],
                "test_theta_l1": [0.1, 0.2, 0.05, 0.05],
                "val_total_variation": 0.001,
                "convergence_step": 96.0,
                "steps_per_second": [10.0, 10.0, 2.0, 2.0],
            }
        )
    )
    fig = plots.plot_cost(df, ["A", "B"], relative_to="A")
    ax = fig.axes[0]
    # B: 0.5 s/step over A's 0.1 s/step = 5; L1 50 over A's 150 = 1/3
    xy = [(line.get_xdata()[0], line.get_ydata()[0]) for line in ax.get_lines() if len(line.get_xdata()) == 1]
    assert xy[0] == pytest.approx((1.0, 1.0)) and xy[-1] == pytest.approx((5.0, 1 / 3))
    _png_pdf(plots.save_figure(fig, tmp_path / "cost"))
    with pytest.raises(ValueError, match="no 'steps_per_second' column"):
        plots.plot_cost(df.drop(columns=["steps_per_second"]), ["A"])


def test_paths_map(tmp_path):
    paths = [
        {
            "index": i,
            "n2": 4 + i // 3,
            "n_fr": i % 3,
            "spin": [0, 1, -1][i % 3],
            "rate_hz": [100.0, 50.0][i // 3],
            "scale_cyc_per_oct": [0.0, 1.0, 1.0][i % 3],
        }
        for i in range(6)
    ]
    (tmp_path / "paths.json").write_text(json.dumps(paths))
    table = theta_is.load_path_table(tmp_path / "paths.json")
    pi = np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    fig = plots.plot_paths(pi, table)
    mesh = fig.axes[0].collections[0]
    # 3 scales x 2 rates; the (100 Hz, scale 0) cell holds 6 * 0.5 = 3
    assert mesh.get_array().reshape(3, 2)[1, 1] == pytest.approx(3.0)
    assert "max 3× uniform" in fig.axes[0].get_title()
    _png_pdf(plots.save_figure(fig, tmp_path / "paths"))


def test_cost_labels_of_nearby_points_do_not_overlap():
    """Three arms at almost the same cost and accuracy (the losses study's SCRAPL, SCRAPL without θ-IS and
    MSS Log + Linear): their labels are stacked a line apart; a point far from them keeps the plain offset."""
    rows = [("near1", 0.14, 6.0), ("near2", 0.136, 6.2), ("near3", 0.132, 6.4), ("far", 0.3, 0.3)]
    df = data.validate_per_seed(
        pd.DataFrame(
            {
                "arm": [a for a, _, _ in rows for _ in (0, 1)],
                "seed": [0, 1] * len(rows),
                "test_theta_l1": [l1 for _, l1, _ in rows for _ in (0, 1)],
                "val_total_variation": 0.001,
                "convergence_step": 96.0,
                "steps_per_second": [sps for _, _, sps in rows for _ in (0, 1)],
            }
        )
    )
    ax = plots.plot_cost(df, [a for a, _, _ in rows]).axes[0]
    offsets = {t.get_text(): t.xyann for t in ax.texts}
    near = sorted(offsets[f"near{i}"][1] for i in (1, 2, 3))
    assert near[1] - near[0] >= 10 and near[2] - near[1] >= 10  # a line (8 pt text + 2) apart
    assert offsets["far"] == (4, 4.0)

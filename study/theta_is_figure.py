"""Figure 6 of the paper for a θ-IS study on chirplet synths: π over the paths' AM/FM centres with each
configuration's θ range dashed (``analysis.plots_paths``), and the table of the π mass inside each range
against the uniform share (``analysis.theta_is_range``).

``figure_and_table(spec, sdir, say)`` reads every chirplet preset's ``<study>/theta_is/<preset>/{pi.npy,paths.json}``
(written by ``study.theta_is_stage``) and takes the θ ranges and Q2 from the preset's own config;
``study.export.publish`` writes them as ``figures/theta_is_amfm.{png,pdf}`` and
``tables/theta_is_range.{md,csv}`` and logs them to the parent run with the other tables and figures.
Presets of other synths are skipped (no AM/FM range); nothing is written when no chirplet π exists yet.
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure

from analysis import plots_paths, schema, theta_is, theta_is_range
from analysis.render import Table
from search_spaces.spec import StudySpec
from study.layout import StudyDir
from study.theta_is_stage import warmup_config
from trainables.synths import CHIRPLET_CONFIGS

__all__ = ["figure_and_table", "FIGURE_STEM", "TABLE_STEM"]

FIGURE_STEM = "theta_is_amfm"
TABLE_STEM = "theta_is_range"


def figure_and_table(
    spec: StudySpec, sdir: StudyDir, say: Callable[[str], None] = print
) -> tuple[Figure, Table] | None:
    """Figure 6 and the π-mass table of the study's chirplet presets that have a π; None when there are
    none (or they cannot be drawn together: the reason is said)."""
    rows, panels, q2s = [], [], set()
    for preset in spec.theta_is_presets:
        cfg = warmup_config(spec, preset)
        folder = sdir.theta_is_dir(preset)
        if cfg.synth.kind != "chirplet" or not (folder / schema.PI_NPY).is_file():
            continue
        ranges = CHIRPLET_CONFIGS[cfg.synth.chirplet_ranges]
        try:
            pi = theta_is.load_pi(folder / schema.PI_NPY)
            table = theta_is.load_path_table(folder / schema.PATHS_JSON, n_paths=pi.size)
        except ValueError as err:
            say(f"θ-IS range figure: {preset} left out: {err}")
            continue
        am = (float(ranges.am_hz[0]), float(ranges.am_hz[1]))
        fm = (float(ranges.fm_oct_per_s[0]), float(ranges.fm_oct_per_s[1]))
        rows.append(theta_is_range.RangeRow(preset, pi, table, am, fm))
        panels.append(plots_paths.AmFmPanel(preset, pi, table, (am, fm)))
        q2s.add(cfg.jtfs.Q2)
    if not rows:
        return None
    if len(q2s) > 1:
        say(f"θ-IS range figure not drawn: the presets' JTFS differ in Q2 ({sorted(q2s)})")
        return None
    (q2,) = q2s
    try:
        tbl = theta_is_range.range_table(rows, q2=q2)
        fig = plots_paths.plot_paths_amfm_grid(panels[:4], q2=q2, title=f"{spec.name}: θ-IS π in AM/FM (Figure 6)")
    except ValueError as err:
        say(f"θ-IS range figure not drawn: {err}")
        return None
    return fig, tbl

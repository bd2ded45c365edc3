"""Inputs the trials will read from disk, checked once before Ray starts.

The config checks (``search_spaces.spec``) validate values; they cannot see a folder of one-shots
that does not exist, holds bad files, or too few of them for the split. That would otherwise
surface as a Ray task traceback after the study directory and its MLflow runs exist.
``check_inputs`` loads each distinct folder once, as the trials will, and raises
``StudyError("--set", "data.oneshot_root: ...")``, so bad input leaves nothing behind. (The θ-IS π
file, ``train.theta_is_probs``, is reserved: the study writes it itself.)
"""
from __future__ import annotations

from typing import Any

from study.errors import StudyError


def check_inputs(spec: Any) -> None:
    """Raise ``StudyError`` when a trial of ``spec`` would fail on its one-shot data folder."""
    from trainables.build import build_data

    seen: set[tuple] = set()
    for cell in spec.cells():
        cfg = spec.config(cell)
        d, s = cfg.data, cfg.synth
        if d.source == "oneshot-folder":
            key = ("data", d.oneshot_root, d.split_sizes, d.skip_bad, s.sample_rate, s.n_samples, s.onset)
            if key not in seen:
                seen.add(key)
                try:
                    build_data(cfg, 0)
                except ValueError as err:
                    raise StudyError("--set", f"data.oneshot_root: {err}") from None

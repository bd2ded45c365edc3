"""One call for the study layer: write a study's Table 2 and Table 6 style tables to a directory.

``write_tables(per_seed, out_dir)`` renders the ablation table and (with at least two arms) the
deltas table in every requested format, as ``ablation.md|tex|csv`` and ``deltas.md|tex|csv``. All
files are written together atomically: if anything fails, none of them is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from analysis import tables
from analysis.output import atomic_paths
from analysis.pairing import arms_in_order
from analysis.render import render

__all__ = ["SUFFIXES", "write_tables"]

SUFFIXES = {"markdown": ".md", "latex": ".tex", "csv": ".csv"}


def write_tables(
    per_seed: pd.DataFrame,
    out_dir: str | Path,
    *,
    arms: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    formats: Sequence[str] = tuple(SUFFIXES),
    drop_unpaired: bool = False,
    notes: Sequence[str] = (),
    names: tuple[str, str] = ("ablation", "deltas"),
    reference: str | None = None,
) -> list[Path]:
    """Write ``ablation.*`` and ``deltas.*`` (paper default CIs) for a validated per-seed table.

    Args:
        per_seed: from ``analysis.data.load_per_seed_csv`` or ``analysis.mlflow_source.read_study``
            (a single preset).
        out_dir: the directory (created, with its parents, once every table is built).
        arms: table order (default: order of appearance).
        drop_unpaired: passed to the deltas table (default: refuse unpaired seeds).
        names: file stems of the Table 2 and Table 6 style tables (a losses study: Table 1).
        reference: the deltas compare every other arm with this one instead of consecutive arms.

    Returns:
        The written paths.
    """
    unknown = [f for f in formats if f not in SUFFIXES]
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; expected {', '.join(SUFFIXES)}")
    arms = list(arms) if arms is not None else arms_in_order(per_seed)
    built = {names[0]: tables.ablation_table(per_seed, arms, labels=labels, notes=notes)}
    if len(arms) >= 2:
        built[names[1]] = tables.deltas_table(
            per_seed, arms, labels=labels, drop_unpaired=drop_unpaired, notes=notes, reference=reference
        )
    texts = {
        Path(out_dir) / f"{name}{SUFFIXES[fmt]}": render(table, fmt) for name, table in built.items() for fmt in formats
    }
    Path(out_dir).mkdir(parents=True, exist_ok=True)  # only now: a failed table leaves nothing behind
    with atomic_paths(list(texts)) as temps:
        for tmp, text in zip(temps, texts.values(), strict=True):
            tmp.write_text(text, encoding="utf-8")
    return list(texts)

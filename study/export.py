"""After a study: its per-seed table and paper-style tables, written into ``<study>/tables/``.

Reads the study back from MLflow with ``analysis.mlflow_source.read_study`` (so the tables come
from exactly what the UI shows) and renders with ``analysis.report.write_tables`` (Table 2/6
style ``ablation.*`` / ``deltas.*``; a losses study's Table 1 style ``losses.*`` /
``losses_deltas.*``) and, for the θ-IS study, ``analysis.tables.theta_is_table``
(Tables 3/7). Arms are in the study's order, labelled as in the paper. An HPO study instead gets
``hpo/best.json``: the best trial's tuned values, which ``study run ... --from-hpo NAME`` applies.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from analysis import schema, tables, tables808
from analysis.mlflow_source import read_study
from analysis.output import atomic_paths
from analysis.render import render
from analysis.report import SUFFIXES, write_tables
from search_spaces.spec import StudySpec
from study.layout import StudyDir, write_json_atomic
from trainables.presets import get_preset

_TABLE_NAMES = {"losses": ("losses", "losses_deltas")}  # file stems of the Table 2/6 style pair, by study kind

__all__ = ["export_tables", "write_best", "read_best"]


def _write_table(table, out_stem: Path, formats: Sequence[str] = ("markdown", "csv")) -> list[Path]:
    texts = {out_stem.with_suffix(SUFFIXES[f]): render(table, f) for f in formats}
    with atomic_paths(list(texts)) as temps:
        for tmp, text in zip(temps, texts.values()):
            tmp.write_text(text, encoding="utf-8")
    return list(texts)


def export_tables(spec: StudySpec, sdir: StudyDir, tracking_uri: str,
                  say: Callable[[str], None] = print) -> list[Path]:
    """Write ``per_seed.csv`` and the tables; problems are reported, not raised (the study is done)."""
    tr808 = [p for p in spec.presets if get_preset(p).synth.kind == "tr808"]
    try:  # TR-808 runs on recordings have no θ: only arm and seed are required of every run
        runs = read_study(tracking_uri, spec.name,
                          required=(schema.ARM_COLUMN, schema.SEED_COLUMN) if tr808 else None)
    except ValueError as err:
        say(f"tables not written: {err}")
        return []
    sdir.tables.mkdir(parents=True, exist_ok=True)
    written = []
    per_seed = runs.per_seed
    per_seed.to_csv(sdir.tables / "per_seed.csv", index=False)
    written.append(sdir.tables / "per_seed.csv")
    if runs.excluded:
        say(f"left out of the tables (not FINISHED): {'; '.join(runs.excluded)}")
    has_preset = schema.PRESET_COLUMN in per_seed.columns
    for preset in spec.presets:
        df = per_seed[per_seed[schema.PRESET_COLUMN] == preset] if has_preset else per_seed
        if df.empty:
            say(f"tables for {preset} not written: no FINISHED run")
            continue
        present = set(df[schema.ARM_COLUMN])
        arms = [a for a in spec.arm_names if a in present]
        labels = [spec.arm(a).display for a in arms]
        out = sdir.tables if len(spec.presets) == 1 else sdir.tables / preset
        out.mkdir(parents=True, exist_ok=True)
        notes = [f"Study {spec.name} ({spec.kind}) on preset {preset}."]
        if preset in tr808:
            written += _tr808_tables(df, arms, labels, out, say)
            if df[schema.TEST_THETA_L1].isna().all():
                continue  # recordings: no θ, no Table 2/6
        unpaired = spec.kind == "losses" or bool(runs.excluded)
        try:
            written += write_tables(df, out, arms=arms, labels=labels, drop_unpaired=unpaired,
                                    formats=("markdown", "csv"), notes=notes,
                                    names=_TABLE_NAMES.get(spec.kind, ("ablation", "deltas")))
        except ValueError as err:
            say(f"tables for {preset} not written: {err}")
    if spec.kind == "theta-is":
        params = sorted({c[len(schema.TEST_THETA_L1) + 1:] for c in per_seed.columns
                         if c.startswith(schema.TEST_THETA_L1 + "_")})
        arms = [a for a in spec.arm_names if a in set(per_seed[schema.ARM_COLUMN])]
        per_param = per_seed.copy()
        for p in params:  # MLflow has no convergence_step_<p> when no run converged: empty = never
            column = schema.per_param(schema.CONVERGENCE_STEP, p)
            if column not in per_param.columns:
                per_param[column] = float("nan")
        try:
            table = tables.theta_is_table(per_param, arms, params, labels=[spec.arm(a).display for a in arms],
                                          configs=[p for p in spec.presets
                                                   if not has_preset or p in set(per_seed[schema.PRESET_COLUMN])])
            written += _write_table(table, sdir.tables / "theta_is")
        except ValueError as err:
            say(f"θ-IS table (Tables 3/7) not written: {err}")
    return written


def _tr808_tables(df, arms: list[str], labels: list[str], out: Path, say: Callable[[str], None]) -> list[Path]:
    """Tables 4, 8, 9 style (audio distances, transient, decay) of a TR-808 preset's runs."""
    written = []
    try:
        typed = tables808.validate_tr808(df, source=f"study runs in {out}")
        for group, stem in (("audio", "tr808_audio"), ("transient", "tr808_transient"), ("decay", "tr808_decay")):
            table = tables808.tr808_table(typed, arms, group=group, labels=labels)
            written += _write_table(table, out / stem)
    except ValueError as err:
        say(f"TR-808 tables (Tables 4/8/9) not written: {err}")
    return written


def write_best(sdir: StudyDir, doc: dict[str, Any]) -> Path:
    path = sdir.hpo / "best.json"
    write_json_atomic(path, doc)
    return path


def read_best(root: Path, name: str) -> dict[str, Any]:
    """The best config of HPO study ``name`` (for ``--from-hpo``); ``ValueError`` if there is none."""
    sdir = StudyDir.of(root, name)
    path = sdir.hpo / "best.json"
    if not path.is_file():
        raise ValueError(f"no finished HPO study {name!r} under {Path(root)} (missing {path})")
    return json.loads(path.read_text())

"""Adaptive seeds (``run ablation|theta-is --seeds adaptive``): a study that adds seeds in waves until
its comparisons are decided.

The study starts with ``min_seeds`` seeds; after every wave (a stage of ``study.stages``, so every arm
runs the same new seeds) ``look`` reads the finished runs back from MLflow, forms the study's paired
comparisons — consecutive arms of the ablation (paper Table 6: SCRAPL → +P-Adam → +P-SAGA → +θ-IS) or
uniform vs θ-IS on each preset of the θ-IS study, each on test θ L1, total variation and convergence
steps — and runs ``analysis.sequential.decide`` (group-sequential paired t-tests, family-wise α over
every look and comparison; see that module for the method and its assumptions). The study stops
adding seeds when every comparison is decided (effect or futility) or ``max_seeds`` is reached.

``<study>/adaptive.json`` holds the design and the verdict of each look (``study status`` shows the
latest); the parent MLflow run gets it as an artifact and the tags ``scrapl.sequential.*``; at the end
``tables/sequential.{md,csv}`` says the seeds used, each boundary and decision (the fixed-n tables of
the same seeds are exported as for any study).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis import schema
from analysis.mlflow_source import read_study
from analysis.output import atomic_paths
from analysis.render import render
from analysis.report import SUFFIXES
from analysis.sequential import METRICS, Design, Verdict, consecutive_differences, decide
from analysis.tables_sequential import sequential_table
from search_spaces.spec import StudySpec
from study import tracking, trial_log
from study.errors import StudyError
from study.layout import StudyDir, write_json_atomic

if TYPE_CHECKING:  # study.fit imports Ray Tune; only its type is needed here
    from study.fit import FitContext

__all__ = [
    "ADAPTIVE_FILE",
    "ADAPTIVE_KINDS",
    "METRICS",
    "check_options",
    "design_doc",
    "write_new",
    "load",
    "read_doc",
    "comparisons",
    "look",
    "next_wave",
    "latest",
    "write_table",
]

ADAPTIVE_FILE = "adaptive.json"
ADAPTIVE_KINDS = ("ablation", "theta-is")
LOW = 3  # analysis.sequential.MIN_PAIRS: a paired t-test needs 3 pairs here


def check_options(min_seeds: int, max_seeds: int, wave: int, alpha: float) -> Design:
    """The design of ``--min-seeds/--max-seeds/--wave-size/--alpha``; ``StudyError`` names the option."""
    if min_seeds < LOW:
        raise StudyError("--min-seeds", f"must be >= {LOW} (a paired t-test needs {LOW} pairs), got {min_seeds}")
    if max_seeds < LOW:
        raise StudyError("--max-seeds", f"must be >= {LOW}, got {max_seeds}")
    if max_seeds < min_seeds:
        raise StudyError("--max-seeds", f"must be >= --min-seeds ({min_seeds}), got {max_seeds}")
    if wave < 1:
        raise StudyError("--wave-size", f"must be >= 1, got {wave}")
    if not 0 < alpha < 1:
        raise StudyError("--alpha", f"must lie strictly between 0 and 1, got {alpha:g}")
    return Design(alpha=float(alpha), min_seeds=min_seeds, wave=wave, max_seeds=max_seeds)


def design_doc(design: Design) -> dict[str, Any]:
    return {"design": design.to_dict(), "verdicts": []}


def _file(sdir: StudyDir):
    return sdir.path / ADAPTIVE_FILE


def write_new(sdir: StudyDir, design: Mapping[str, Any]) -> None:
    """``adaptive.json`` of a new adaptive study (the runner writes it with ``spec.json``)."""
    write_json_atomic(_file(sdir), {"design": dict(design), "verdicts": []})


def read_doc(sdir: StudyDir) -> dict[str, Any] | None:
    path = _file(sdir)
    return json.loads(path.read_text()) if path.is_file() else None


def load(sdir: StudyDir) -> Design | None:
    """The study's adaptive design, or None for a study with a fixed seed list."""
    doc = read_doc(sdir)
    return Design(**doc["design"]) if doc is not None else None


def latest(sdir: StudyDir) -> dict[str, Any] | None:
    """The latest verdict (``Verdict.to_dict()`` plus ``rows``), or None before the first look."""
    doc = read_doc(sdir)
    return doc["verdicts"][-1] if doc and doc["verdicts"] else None


# --- the comparisons ---------------------------------------------------------------------------------------
def comparisons(spec: StudySpec, per_seed: pd.DataFrame) -> tuple[dict[str, np.ndarray], list[dict[str, str]]]:
    """``decide``'s input (name → per-seed differences in the order of ``spec.seeds``, NaN where a run
    is missing, failed or has no value) and per comparison its preset, arms and metric."""
    df = per_seed.copy()
    for m in METRICS:
        if m not in df.columns:  # MLflow has no convergence_step when no run converged
            df[m] = math.nan
    has_preset = schema.PRESET_COLUMN in df.columns
    arms = list(spec.arm_names)
    out: dict[str, np.ndarray] = {}
    rows: list[dict[str, str]] = []
    for preset in spec.presets:
        sub = df[df[schema.PRESET_COLUMN] == preset] if has_preset else df
        present = {(str(a), int(s)) for a, s in zip(sub[schema.ARM_COLUMN], sub[schema.SEED_COLUMN], strict=True)}
        holes = [
            {schema.ARM_COLUMN: a, schema.SEED_COLUMN: s} for a in arms for s in spec.seeds if (a, s) not in present
        ]  # failed or unfinished runs: no pair for that seed
        if holes:
            sub = pd.concat([sub, pd.DataFrame(holes)], ignore_index=True)
        sub = sub.astype({schema.SEED_COLUMN: int})
        diffs = consecutive_differences(sub, arms, METRICS, seeds=list(spec.seeds))
        prefix = f"{preset}: " if len(spec.presets) > 1 else ""
        for (a, b), metric in ((pair, m) for pair in zip(arms[:-1], arms[1:], strict=True) for m in METRICS):
            name = f"{b} vs {a}: {metric}"
            out[prefix + name] = diffs[name]
            rows.append({"name": prefix + name, "preset": preset, "arm": b, "baseline": a, "metric": metric})
    return out, rows


def _labels(spec: StudySpec, rows: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    many = len(spec.presets) > 1
    return [
        {
            "comparison": (f"{r['preset']}: " if many else "") + f"{spec.arm(r['arm']).display} vs "
            f"{spec.arm(r['baseline']).display}",
            "metric": r["metric"],
        }
        for r in rows
    ]


def _per_seed(ctx: FitContext, spec: StudySpec) -> pd.DataFrame | None:
    say = ctx.say
    if trial_log.spooled_trials(ctx.sdir.spool):
        try:
            trial_log.sync_spool(ctx.tracking_uri, ctx.sdir.spool)
        except Exception as err:  # noqa: BLE001 - decided later, from complete data
            say(
                f"adaptive seeds: MLflow unreachable ({type(err).__name__}); no look now. When it is back: "
                f"`python -m study sync {spec.name}`, then `python -m study resume {spec.name}` continues the waves"
            )
            return None
    try:
        return read_study(ctx.tracking_uri, spec.name).per_seed
    except (ValueError, OSError) as err:
        say(f"adaptive seeds: cannot read the study's runs back ({err}); no look now")
        return None


def look(ctx: FitContext, spec: StudySpec, design: Design) -> Verdict | None:
    """Decide the comparisons on the seeds run so far, record the verdict (``adaptive.json``, the parent
    run) and, when the study stops, write ``tables/sequential.*``; None when the runs cannot be read."""
    per_seed = _per_seed(ctx, spec)
    if per_seed is None:
        return None
    diffs, rows = comparisons(spec, per_seed)
    verdict = decide(diffs, design)
    record = {**verdict.to_dict(), "rows": rows, "labels": _labels(spec, rows)}
    doc = read_doc(ctx.sdir) or design_doc(design)
    doc["verdicts"] = [v for v in doc["verdicts"] if v["n_seeds"] != verdict.n_seeds] + [record]
    write_json_atomic(_file(ctx.sdir), doc)
    ctx.say(f"adaptive seeds, look at {verdict.n_seeds} seeds: {verdict.reason}")
    for c, label in zip(verdict.comparisons, record["labels"], strict=True):
        ctx.say(
            f"  {label['comparison']}, {label['metric']}: Δ {c.estimate:.4g} [{c.ci_low:.4g}, {c.ci_high:.4g}], "
            f"|z| {abs(c.z):.3g} vs {c.boundary:.3g} → {c.decision}"
        )
    try:
        c = tracking.client(ctx.tracking_uri)
        c.set_tag(ctx.parent_run_id, "scrapl.sequential.n_seeds", str(verdict.n_seeds))
        c.set_tag(ctx.parent_run_id, "scrapl.sequential.reason", verdict.reason[:5000])
        c.set_tag(ctx.parent_run_id, "scrapl.sequential.stop", str(verdict.stop).lower())
        tracking.log_parent_files(ctx.tracking_uri, ctx.parent_run_id, [_file(ctx.sdir)], None)
    except Exception as err:  # noqa: BLE001 - adaptive.json holds it; the next look tells MLflow again
        ctx.say(f"could not record the look on the study's MLflow run ({type(err).__name__}: {str(err)[:200]})")
    if verdict.stop and ctx.settings.export:
        for path in write_table(ctx.sdir, record):
            if path.suffix == ".md":
                ctx.say(f"  table {path}")
    return verdict


def next_wave(spec: StudySpec, design: Design) -> tuple[int, ...]:
    """The seeds of the next wave: new integers after the largest seed, up to the next planned look."""
    n = len(spec.seeds)
    target = min(k for k in design.looks() if k > n)
    start = max(spec.seeds) + 1
    return tuple(range(start, start + target - n))


def write_table(sdir: StudyDir, record: Mapping[str, Any]) -> list:
    """``tables/sequential.md`` and ``.csv`` of a recorded verdict."""
    table = sequential_table(record, record["labels"])
    sdir.tables.mkdir(parents=True, exist_ok=True)
    texts = {sdir.tables / f"sequential{SUFFIXES[f]}": render(table, f) for f in ("markdown", "csv")}
    with atomic_paths(list(texts)) as temps:
        for tmp, text in zip(temps, texts.values(), strict=True):
            tmp.write_text(text, encoding="utf-8")
    return list(texts)

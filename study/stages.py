"""A grid study grows in stages: the seeds it started with, then each extension (``study extend``) or
wave (``--seeds adaptive``) of new seeds. Each stage is its own Ray Tune experiment under
``<study>/ray`` (``trials`` for the first, ``extend-1``, ``extend-2``, … after it), because Tune cannot
change an experiment's trials on restore; all stages share the study's MLflow experiment and parent
run, and a trial's run is found by its cell key (``preset/arm/seed``), so the runs of earlier stages
are never touched by a later one.

Records, in the study directory:

* ``extensions.json`` — one entry per added stage: its Tune folder, kind (``extend`` or ``wave``),
  the seeds added, the seeds after it, when (UTC) and the git commit. Written *before* ``spec.json``
  gains the seeds, so a driver that dies between the two writes is completed by ``reconcile``.
* the parent MLflow run — tags ``scrapl.seeds`` (the current seed list; the ``seeds`` param stays the
  seeds the study started with, MLflow params being immutable) and ``scrapl.seed_history`` (the
  entries above as JSON), and the artifact ``extensions.json``.

``run_stages`` is what the runner calls in place of a single ``fit``: it first adds the stage a
``Growth`` asks for, then fits every earlier stage that still has unfinished trials (a study
interrupted before it was extended), then the latest stage (restored when Tune saved its state, as
``study resume`` always did), and, for an adaptive study, a wave after every look that does not stop
it (``study.waves``). A driver crash anywhere leaves the records consistent: ``study resume`` goes
through the same steps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from analysis import schema
from search_spaces.spec import Cell, StudySpec
from study import tracking, waves
from study.fit import FitContext, fit
from study.layout import TUNE_NAME, StudyDir, write_json_atomic
from study.progress import TrialRecord

__all__ = [
    "Growth",
    "Stage",
    "StagesResult",
    "EXTENSIONS_FILE",
    "SEEDS_TAG",
    "SEED_HISTORY_TAG",
    "history",
    "stages_of",
    "reconcile",
    "add_stage",
    "unfinished_cells",
    "run_stages",
]

EXTENSIONS_FILE = "extensions.json"
SEEDS_TAG = "scrapl.seeds"
SEED_HISTORY_TAG = "scrapl.seed_history"
_ENDED = ("FINISHED", "FAILED")  # a trial run in one of these states is not run again by a later stage


@dataclass(frozen=True)
class Growth:
    """What a driver adds before it runs: new ``seeds`` (``study extend``), and for a new adaptive study
    its ``design`` (``analysis.sequential.Design``'s fields, written to ``<study>/adaptive.json``)."""

    seeds: tuple[int, ...] = ()
    design: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Stage:
    index: int  # 0: the seeds the study started with
    tune_name: str  # the Tune experiment folder under <study>/ray
    seeds: tuple[int, ...]  # the seeds it runs

    def cells(self, spec: StudySpec) -> list[Cell]:
        return [c for c in spec.cells() if c.seed in self.seeds]


@dataclass
class StagesResult:
    """The fits of one driver run, summed: ``counts()``, ``records``, ``max_running``, ``best`` (HPO) as
    ``study.progress.SummaryLine`` and ``fit`` give them, and the spec after growth."""

    spec: StudySpec
    totals: dict[str, int] = field(default_factory=lambda: {"done": 0, "failed": 0, "running": 0, "pending": 0})
    records: dict[str, TrialRecord] = field(default_factory=dict)
    max_running: int = 0
    best: dict[str, Any] | None = None

    def counts(self) -> dict[str, int]:
        return dict(self.totals)

    @property
    def unfinished(self) -> int:
        return self.totals.get("running", 0) + self.totals.get("pending", 0)

    def add(self, summary) -> None:
        for k, v in summary.counts().items():
            self.totals[k] = self.totals.get(k, 0) + v
        self.records.update(summary.records)
        self.max_running = max(self.max_running, summary.max_running)


# --- records -------------------------------------------------------------------------------------------
def _extensions_file(sdir: StudyDir):
    return sdir.path / EXTENSIONS_FILE


def history(sdir: StudyDir) -> list[dict[str, Any]]:
    """The recorded stages after the first, oldest first ([] for a study never grown)."""
    path = _extensions_file(sdir)
    if not path.is_file():
        return []
    doc = json.loads(path.read_text())
    return list(doc.get("history", []))


def stages_of(sdir: StudyDir, spec: StudySpec) -> list[Stage]:
    """The study's stages, first to latest."""
    later = history(sdir)
    added = {s for h in later for s in h["seeds_added"]}
    out = [Stage(0, TUNE_NAME, tuple(s for s in spec.seeds if s not in added))]
    out += [Stage(int(h["stage"]), h["tune"], tuple(h["seeds_added"])) for h in later]
    return out


def reconcile(sdir: StudyDir, spec: StudySpec) -> StudySpec:
    """``spec`` with the seeds of every recorded stage (a driver that died between writing
    ``extensions.json`` and ``spec.json`` left them out of the spec); rewrites ``spec.json`` if needed."""
    missing = [s for h in history(sdir) for s in h["seeds_added"] if s not in spec.seeds]
    if not missing:
        return spec
    spec = replace(spec, seeds=spec.seeds + tuple(missing))
    write_json_atomic(sdir.spec_file, spec.to_dict())
    return spec


def _git_fields(git: Mapping[str, str]) -> dict[str, Any]:
    return {"git_commit": git.get("mlflow.source.git.commit"), "git_dirty": git.get("scrapl.git_dirty")}


def add_stage(
    sdir: StudyDir,
    spec: StudySpec,
    seeds: Sequence[int],
    kind: str,
    uri: str,
    parent_run_id: str,
    git: Mapping[str, str],
    say: Callable[[str], None],
) -> tuple[StudySpec, Stage]:
    """Record a new stage running ``seeds`` (``kind``: extend or wave), grow ``spec.json`` and tell the
    parent run; returns the grown spec and the stage."""
    later = history(sdir)
    index = len(later) + 1
    grown = replace(spec, seeds=spec.seeds + tuple(int(s) for s in seeds))  # validates (duplicates, range)
    entry = {
        "stage": index,
        "kind": kind,
        "tune": f"extend-{index}",
        "seeds_added": [int(s) for s in seeds],
        "seeds": list(grown.seeds),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **_git_fields(git),
    }
    write_json_atomic(_extensions_file(sdir), {"history": [*later, entry]})
    write_json_atomic(sdir.spec_file, grown.to_dict())
    _tell_parent(sdir, grown, uri, parent_run_id, say)
    say(
        f"{kind} {index}: seeds {', '.join(map(str, seeds))} added ({len(grown.seeds)} seeds now); "
        f"{len([c for c in grown.cells() if c.seed in set(seeds)])} new trial(s) in Tune experiment "
        f"{sdir.ray_storage / entry['tune']}"
    )
    return grown, Stage(index, entry["tune"], tuple(int(s) for s in seeds))


def _tell_parent(sdir: StudyDir, spec: StudySpec, uri: str, parent_run_id: str, say: Callable[[str], None]) -> None:
    """The seed history on the parent run (tags and the ``extensions.json`` artifact)."""
    entries = [{k: h[k] for k in ("stage", "kind", "seeds_added", "when", "git_commit")} for h in history(sdir)]
    try:
        c = tracking.client(uri)
        c.set_tag(parent_run_id, SEEDS_TAG, ",".join(map(str, spec.seeds))[:5000])
        c.set_tag(parent_run_id, SEED_HISTORY_TAG, json.dumps(entries)[:5000])
        tracking.log_parent_files(uri, parent_run_id, [_extensions_file(sdir)], None)
    except Exception as err:  # noqa: BLE001 - the record is on disk; the next driver run tells MLflow again
        say(f"could not record the seed history on the study's MLflow run ({type(err).__name__}: {str(err)[:200]})")


def unfinished_cells(cells: Sequence[Cell], uri: str, experiment_id: str) -> list[Cell]:
    """The cells without a run that ended (FINISHED or FAILED) in MLflow."""
    status = {r.data.tags.get(schema.TRIAL_ID): r.info.status for r in tracking.find_trial_runs(uri, experiment_id)}
    return [c for c in cells if status.get(c.key) not in _ENDED]


# --- the driver's fits -----------------------------------------------------------------------------------
def _fit_stage(ctx: FitContext, spec: StudySpec, stage: Stage, result: StagesResult) -> None:
    cells = tuple(stage.cells(spec))
    if stage.index:
        ctx.say(
            f"stage {stage.index} (seeds {', '.join(map(str, stage.seeds))}): {len(cells)} trial(s), Tune "
            f"experiment {ctx.sdir.ray_storage / stage.tune_name}"
        )
    summary, _ = fit(replace(ctx, spec=spec, cells=cells, tune_name=stage.tune_name))
    result.add(summary)


def run_stages(ctx: FitContext, growth: Growth | None = None, *, git: Mapping[str, str] | None = None) -> StagesResult:
    """Add ``growth``'s stage, then fit what is unfinished (see the module docstring)."""
    sdir, say, git = ctx.sdir, ctx.say, git or {}
    spec = reconcile(sdir, ctx.spec)
    result = StagesResult(spec)
    if spec.hpo is not None:
        summary, result.best = fit(ctx)
        result.add(summary)
        return result
    if growth is not None and growth.seeds:
        spec, _ = add_stage(sdir, spec, growth.seeds, "extend", ctx.tracking_uri, ctx.parent_run_id, git, say)
        result.spec = spec
    elif history(sdir):
        _tell_parent(sdir, spec, ctx.tracking_uri, ctx.parent_run_id, say)  # in case the last driver could not
    stages = stages_of(sdir, spec)
    for stage in stages[:-1]:  # earlier stages a crash or a stop left unfinished
        if unfinished_cells(stage.cells(spec), ctx.tracking_uri, ctx.experiment_id):
            _fit_stage(ctx, spec, stage, result)
            if result.unfinished:
                return result
    _fit_stage(ctx, spec, stages[-1], result)
    design = waves.load(sdir)
    while design is not None and not result.unfinished:
        verdict = waves.look(ctx, spec, design)
        if verdict is None or verdict.stop:
            break
        seeds = waves.next_wave(spec, design)
        spec, stage = add_stage(sdir, spec, seeds, "wave", ctx.tracking_uri, ctx.parent_run_id, git, say)
        result.spec = spec
        _fit_stage(ctx, spec, stage, result)
    return result

"""After Tune's ``fit``: close the study's books in MLflow, report, export (``finish``), and the ``Outcome``.

In order: spooled trial calls are replayed; the runs of trials an interrupted ``fit`` left unfinished are
ended KILLED with the reason (``study resume NAME`` reopens them); an HPO study's loose ends are closed
(``reconcile_hpo``); the parent run is ended; then the summary is printed and the tables or the best HPO
config written. With the tracking server unreachable, everything it misses (the trials' spools and the
end of the study's own run) waits in ``<study>/spool`` for ``study sync``, which also writes the tables
then (exit status 4).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from analysis import schema
from search_spaces.spec import StudySpec
from study import tracking, trial_log
from study.export import export_tables, write_best
from study.layout import StudyDir
from study.progress import TrialRecord
from study.settings import Settings

__all__ = ["Outcome", "finish", "reconcile_hpo", "mlflow_ui_hint"]

Say = Callable[[str], None]


@dataclass
class Outcome:
    """What a run or resume ended with. ``exit_code``: 0 all trials FINISHED, 1 some failed,
    3 unfinished (interrupted: ``python -m study resume NAME``), 4 all trials ran but MLflow was
    unreachable at the end (spooled: ``python -m study sync NAME``)."""

    name: str
    sdir: StudyDir
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    counts: dict[str, int]
    records: dict[str, TrialRecord]
    wall_s: float
    max_running: int = 0
    tables: list[Path] = field(default_factory=list)
    theta_is: dict[str, str] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    tracking_pending: bool = False     # MLflow unreachable at the end: calls spooled for `study sync`

    @property
    def unfinished(self) -> int:
        return self.counts.get("running", 0) + self.counts.get("pending", 0)

    @property
    def exit_code(self) -> int:
        if self.unfinished:
            return 3
        if self.tracking_pending:
            return 4
        return 1 if self.counts.get("failed", 0) else 0


def _root_option(settings: Settings) -> str:
    return f" --root {settings.root}" if settings.root else ""


def _deliver_spools(spec: StudySpec, sdir: StudyDir, settings: Settings, uri: str, say: Say) -> None:
    if not trial_log.spooled_trials(sdir.spool):
        return
    try:
        done = trial_log.sync_spool(uri, sdir.spool)
        say(f"replayed spooled MLflow calls of {len(done)} trial(s)")
    except Exception as err:  # noqa: BLE001 - still unreachable: keep the spool
        say(f"MLflow still unreachable ({type(err).__name__}: {str(err)[:200]}); spooled calls kept in "
            f"{sdir.spool}: run `python -m study sync {spec.name}{_root_option(settings)}` when it is back")


def _close_interrupted(spec: StudySpec, outcome: Outcome, say: Say) -> None:
    """``fit`` returned early (ray job stop, Ctrl-C): no run stays RUNNING with nobody training it."""
    try:
        closed = tracking.close_interrupted_runs(
            outcome.tracking_uri, outcome.experiment_id,
            f"study interrupted; continue it with `python -m study resume {spec.name}`",
            relabel_tune_stopped=spec.hpo is None)  # in an HPO study ASHA stops trials too
        if closed:
            say(f"marked {len(closed)} interrupted trial run(s) KILLED in MLflow (resumed by `study resume`)")
    except Exception as err:  # noqa: BLE001 - tracking down: the runs stay RUNNING until the resume
        say(f"could not mark the interrupted trial runs in MLflow ({type(err).__name__}: {str(err)[:200]})")


def _end_parent_run(outcome: Outcome, sdir: StudyDir, pending: bool, export: bool, say: Say) -> bool:
    """End the study's run (KILLED when interrupted), or spool its end; True when it was spooled."""
    summary = {**outcome.counts, "wall_s": round(outcome.wall_s, 1)}
    status = "KILLED" if outcome.unfinished else "FINISHED"
    if not pending:
        try:
            tracking.finish_study_run(outcome.tracking_uri, outcome.parent_run_id, status, summary)
        except Exception as err:  # noqa: BLE001 - the server went away at the very end
            pending = True
            say(f"cannot end the study's MLflow run ({type(err).__name__}: {str(err)[:200]})")
    if pending:  # the parent run ends after the trials' spools are delivered, by `study sync`
        tracking.spool_study_finish(sdir.spool, outcome.parent_run_id, status, summary, export=export)
    return pending


def _report(spec: StudySpec, sdir: StudyDir, settings: Settings, outcome: Outcome, export_at_sync: bool,
            say: Say) -> None:
    """The summary lines, then the best HPO config or the tables, then the MLflow UI command."""
    uri, unfinished, root_opt = outcome.tracking_uri, outcome.unfinished, _root_option(settings)
    say(f"study {spec.name}: {outcome.counts['done']} finished, {outcome.counts['failed']} failed, "
        f"{unfinished} unfinished, in {outcome.wall_s:.0f} s")
    for r in outcome.records.values():
        if r.failed:
            say(f"  failed: {r.label}: {r.reason}")
    if outcome.tracking_pending:
        say(f"MLflow at {uri} was unreachable: what it misses is kept in {sdir.spool} (nothing is lost); when "
            f"it is back run `python -m study sync {spec.name}{root_opt}`, which delivers it"
            + (" and writes the tables" if export_at_sync else ""))
    if unfinished:
        say(f"the study was interrupted with {unfinished} trial(s) unfinished; continue it with "
            f"`python -m study resume {spec.name}{root_opt}`")
    elif spec.hpo is not None:
        if outcome.best is not None:
            path = write_best(sdir, outcome.best)
            say(f"best {outcome.best['metric']} {outcome.best['value']:.4g} with "
                + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in outcome.best["params"].items())
                + f" → {path}; seed an ablation with `python -m study run ablation --from-hpo {spec.name}`")
    elif settings.export and not outcome.tracking_pending:
        outcome.tables = export_tables(spec, sdir, uri, say)
        for p in outcome.tables:
            if p.suffix == ".md":
                say(f"  table {p}")
    say(mlflow_ui_hint(uri))


def finish(spec: StudySpec, sdir: StudyDir, settings: Settings, outcome: Outcome, say: Say) -> None:
    """Close the study's books in MLflow and report (see the module docstring); sets
    ``outcome.tracking_pending`` and ``outcome.tables``."""
    _deliver_spools(spec, sdir, settings, outcome.tracking_uri, say)
    if outcome.unfinished:
        _close_interrupted(spec, outcome, say)
    pending = bool(trial_log.spooled_trials(sdir.spool))
    if spec.hpo is not None and not outcome.unfinished and not pending:
        reconcile_hpo(outcome.tracking_uri, outcome.experiment_id, sdir, spec.name, set(outcome.records))
    export_at_sync = settings.export and spec.hpo is None and not outcome.unfinished  # tables come from MLflow
    outcome.tracking_pending = _end_parent_run(outcome, sdir, pending, export_at_sync, say)
    _report(spec, sdir, settings, outcome, export_at_sync, say)


def reconcile_hpo(uri: str, experiment_id: str, sdir: StudyDir, name: str, tune_trials: set[str]) -> None:
    """Close an HPO study's loose ends once every trial is done.

    * Runs of trials ASHA stopped end KILLED in their trainable, or stay RUNNING when Tune tears the
      actor down first: they are finished early-stopped trials → FINISHED, ``scrapl.early_stopped``.
    * A trial created after Tune's last snapshot before a driver crash is unknown to the restored
      study (its sample is drawn again under a new id): its run → KILLED with the reason, and its
      Optuna trial, still RUNNING in the database, → FAIL.
    """
    c = tracking.client(uri)
    for run in tracking.find_trial_runs(uri, experiment_id):
        if run.info.status not in ("KILLED", "RUNNING"):
            continue
        if run.data.tags.get(schema.TRIAL_ID) not in tune_trials:
            c.set_tag(run.info.run_id, schema.FAILURE_REASON, "orphaned: the driver crashed before Ray Tune saved "
                                                              "this trial; its sample was drawn again")
            c.set_terminated(run.info.run_id, "KILLED")
            continue
        c.set_tag(run.info.run_id, tracking.EARLY_STOPPED, "true")
        if schema.FAILURE_REASON in run.data.tags:
            c.delete_tag(run.info.run_id, schema.FAILURE_REASON)
        c.set_terminated(run.info.run_id, "FINISHED")
    storage = optuna.storages.RDBStorage(f"sqlite:///{sdir.hpo / 'optuna.db'}")
    study = optuna.load_study(study_name=name, storage=storage)
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)


def mlflow_ui_hint(uri: str) -> str:
    if uri.startswith(("http://", "https://")):
        return f"MLflow UI: open {uri} in a browser"
    return (f"MLflow UI: mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000   "
            "then open http://127.0.0.1:5000")

"""After Tune's ``fit``: close the study's books in MLflow, report, export (``finish``), and the ``Outcome``.

In order: spooled trial calls are replayed; the runs of trials an interrupted ``fit`` left unfinished are
ended KILLED with the reason (``study resume NAME`` reopens them) and the counts are checked against
MLflow (a trial that ended its run in the moment Tune stopped it counts as what its run says); an HPO
study's loose ends are closed (``reconcile_hpo``); the summary is printed; the tables and figures are
written and logged to the study's parent run (``study.export.publish``), or the best HPO config; then
the parent run is ended: FINISHED only when every trial ended and the export was not interrupted, else
KILLED. With the tracking server unreachable, everything it misses (the trials' spools and the end of
the study's own run) waits in ``<study>/spool`` for ``study sync``, which also writes the tables then
(exit status 4).

An interrupted study never reports success (exit status 3): SIGINT or SIGTERM during this bookkeeping
is deferred until the runs are closed (``study.interrupts``), during the export it stops the export,
and either way the parent run ends KILLED and ``study resume NAME`` finishes the rest.
``finish_interrupted`` closes the books of a driver interrupted outside Tune's graceful stop (before the
trials, or by a second signal), from what MLflow holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from analysis import schema
from search_spaces.spec import StudySpec
from study import mlflow_ui, tracking, trial_log
from study.export import TABLE2_ARTIFACT, publish, write_best
from study.interrupts import Interrupts
from study.layout import StudyDir
from study.progress import TrialRecord
from study.settings import Settings

__all__ = ["Outcome", "finish", "finish_interrupted", "reconcile_hpo", "mlflow_ui_hint"]

Say = Callable[[str], None]


@dataclass
class Outcome:
    """What a run or resume ended with. ``exit_code``: 0 all trials FINISHED, 1 some failed,
    3 interrupted (trials unfinished, or the export stopped: ``python -m study resume NAME``), 4 all
    trials ran but MLflow was unreachable at the end (spooled: ``python -m study sync NAME``). (5: the
    study is run by another driver, ``study.lock.StudyBusy``, raised before any ``Outcome``.)"""

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
    tracking_pending: bool = False  # MLflow unreachable at the end: calls spooled for `study sync`
    interrupted: str | None = None  # a signal stopped the study outside the trials: where ("the export")

    @property
    def unfinished(self) -> int:
        return self.counts.get("running", 0) + self.counts.get("pending", 0)

    @property
    def exit_code(self) -> int:
        if self.unfinished or self.interrupted:
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
        say(
            f"MLflow still unreachable ({type(err).__name__}: {str(err)[:200]}); spooled calls kept in "
            f"{sdir.spool}: run `python -m study sync {spec.name}{_root_option(settings)}` when it is back"
        )


def _close_interrupted(spec: StudySpec, outcome: Outcome, say: Say) -> None:
    """``fit`` returned early (ray job stop, Ctrl-C): no run stays RUNNING with nobody training it."""
    try:
        closed = tracking.close_interrupted_runs(
            outcome.tracking_uri,
            outcome.experiment_id,
            f"study interrupted; continue it with `python -m study resume {spec.name}`",
            relabel_tune_stopped=spec.hpo is None,
        )  # in an HPO study ASHA stops trials too
        if closed:
            say(f"marked {len(closed)} interrupted trial run(s) KILLED in MLflow (resumed by `study resume`)")
    except Exception as err:  # noqa: BLE001 - tracking down: the runs stay RUNNING until the resume
        say(f"could not mark the interrupted trial runs in MLflow ({type(err).__name__}: {str(err)[:200]})")


def _reconcile_counts(outcome: Outcome, say: Say) -> None:
    """Trials counted unfinished whose MLflow run ended anyway (the trial finished, or failed, in the moment
    Tune stopped it): counted as their run says, so the summary equals MLflow's run states."""
    try:
        runs = {
            r.data.tags.get(tracking.RAY_TRIAL_ID): r
            for r in tracking.find_trial_runs(outcome.tracking_uri, outcome.experiment_id)
        }
    except Exception:  # noqa: BLE001 - tracking down: Tune's view stands (the spool holds the rest)
        return
    for trial_id, rec in outcome.records.items():
        if rec.category() != "running":
            continue  # counted as done/failed already, or pending
        run = runs.get(trial_id)
        status = run.info.status if run is not None else None
        if status in ("FINISHED", "FAILED") and outcome.counts.get("running", 0) > 0:
            outcome.counts["running"] -= 1
            outcome.counts["done" if status == "FINISHED" else "failed"] += 1
            if status == "FAILED":
                rec.failed, rec.reason = True, run.data.tags.get(schema.FAILURE_REASON, "failed")
            say(
                f"trial {rec.label} ended its run {status} as the study stopped: counted as "
                f"{'finished' if status == 'FINISHED' else 'failed'}"
            )


def _end_parent_run(outcome: Outcome, sdir: StudyDir, pending: bool, export: bool, say: Say) -> bool:
    """End the study's run (KILLED when interrupted), or spool its end; True when it was spooled."""
    summary = {**outcome.counts, "wall_s": round(outcome.wall_s, 1)}
    if outcome.interrupted:
        summary["interrupted"] = outcome.interrupted
    status = "KILLED" if outcome.unfinished or outcome.interrupted else "FINISHED"
    if not pending:
        try:
            tracking.finish_study_run(outcome.tracking_uri, outcome.parent_run_id, status, summary)
        except Exception as err:  # noqa: BLE001 - the server went away at the very end
            pending = True
            say(f"cannot end the study's MLflow run ({type(err).__name__}: {str(err)[:200]})")
    if pending:  # the parent run ends after the trials' spools are delivered, by `study sync`
        tracking.spool_study_finish(sdir.spool, outcome.parent_run_id, status, summary, export=export)
    return pending


def _summary(spec: StudySpec, outcome: Outcome, say: Say) -> None:
    say(
        f"study {spec.name}: {outcome.counts['done']} finished, {outcome.counts['failed']} failed, "
        f"{outcome.unfinished} unfinished, in {outcome.wall_s:.0f} s"
    )
    for r in outcome.records.values():
        if r.failed:
            say(f"  failed: {r.label}: {r.reason}")


def _export(spec: StudySpec, sdir: StudyDir, settings: Settings, outcome: Outcome, say: Say) -> None:
    """The best HPO config, or the tables and figures (written and logged to the parent run)."""
    if spec.hpo is not None:
        if outcome.best is not None:
            path = write_best(sdir, outcome.best)
            say(
                f"best {outcome.best['metric']} {outcome.best['value']:.4g} with "
                + ", ".join(
                    f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in outcome.best["params"].items()
                )
                + f" → {path}; seed an ablation with `python -m study run ablation --from-hpo {spec.name}`"
            )
    elif settings.export:
        outcome.tables = publish(spec, sdir, outcome.tracking_uri, outcome.parent_run_id, say)
        for p in outcome.tables:
            if p.suffix == ".md":
                say(f"  table {p}")


def _next_steps(
    spec: StudySpec, sdir: StudyDir, settings: Settings, outcome: Outcome, export_at_sync: bool, say: Say
) -> None:
    """What to do now (sync, resume), then where the study is in the MLflow UI."""
    uri, root_opt = outcome.tracking_uri, _root_option(settings)
    if outcome.tracking_pending:
        say(
            f"MLflow at {uri} was unreachable: what it misses is kept in {sdir.spool} (nothing is lost); when "
            f"it is back run `python -m study sync {spec.name}{root_opt}`, which delivers it"
            + (" and writes the tables" if export_at_sync else "")
        )
    if outcome.unfinished:
        say(
            f"the study was interrupted with {outcome.unfinished} trial(s) unfinished; continue it with "
            f"`python -m study resume {spec.name}{root_opt}`"
        )
    elif outcome.interrupted:
        say(
            f"the study was interrupted {outcome.interrupted} (every trial had ended); its tables are not "
            f"complete: `python -m study resume {spec.name}{root_opt}` writes them"
        )
    table = (
        TABLE2_ARTIFACT if any(p.name == "ablation.md" and p.parent == sdir.tables for p in outcome.tables) else None
    )
    for line in mlflow_ui.hint_lines(uri, outcome.experiment_id, outcome.parent_run_id, table):
        say(line)


def finish(
    spec: StudySpec,
    sdir: StudyDir,
    settings: Settings,
    outcome: Outcome,
    say: Say,
    interrupts: Interrupts | None = None,
) -> None:
    """Close the study's books in MLflow and report (see the module docstring); sets
    ``outcome.tracking_pending``, ``outcome.tables`` and ``outcome.interrupted``."""
    interrupts = interrupts or Interrupts()
    with interrupts.deferred(say):
        _deliver_spools(spec, sdir, settings, outcome.tracking_uri, say)
        if outcome.unfinished:
            _close_interrupted(spec, outcome, say)
            _reconcile_counts(outcome, say)
        pending = bool(trial_log.spooled_trials(sdir.spool))
        if spec.hpo is not None and not outcome.unfinished and not pending:
            reconcile_hpo(outcome.tracking_uri, outcome.experiment_id, sdir, spec.name, set(outcome.records))
        _summary(spec, outcome, say)
    export_at_sync = settings.export and spec.hpo is None and not outcome.unfinished  # tables come from MLflow
    if not outcome.unfinished and not pending:
        if interrupts.received:
            outcome.interrupted = f"by {interrupts.received} before the export"
        else:
            try:
                with interrupts.raising("the export"):
                    _export(spec, sdir, settings, outcome, say)
            except KeyboardInterrupt:
                outcome.interrupted = f"by {interrupts.received or 'SIGINT'} during the export"
                say(f"the export was interrupted ({interrupts.received or 'SIGINT'}); the tables are incomplete")
    with interrupts.deferred(say, "ending the study's MLflow run"):
        outcome.tracking_pending = _end_parent_run(
            outcome, sdir, pending, export_at_sync and not outcome.interrupted, say
        )
        try:
            mlflow_ui.mark_experiment(outcome.tracking_uri, outcome.experiment_id)
        except Exception:  # noqa: BLE001 - cosmetic (the UI's kind); the server may be away
            pass
        _next_steps(spec, sdir, settings, outcome, export_at_sync, say)


def finish_interrupted(
    spec: StudySpec,
    sdir: StudyDir,
    settings: Settings,
    say: Say,
    *,
    stage: str,
    wall_s: float,
    interrupts: Interrupts | None = None,
) -> Outcome | None:
    """The books of a driver interrupted outside Tune's graceful stop (``stage``: where), from MLflow: trial
    runs left RUNNING → KILLED, counts = the trial runs' states, the parent run → KILLED; exit status 3.
    None when the study had no MLflow run yet (nothing to close)."""
    interrupts = interrupts or Interrupts()
    try:
        stored = sdir.read_json(sdir.settings_file)
        uri, exp_id, parent_id = stored["tracking_uri"], str(stored["experiment_id"]), stored["parent_run_id"]
    except (OSError, ValueError, KeyError):
        return None
    total = len(spec.cells()) if spec.hpo is None else spec.hpo.num_samples
    counts = {"done": 0, "running": 0, "pending": 0, "failed": 0}
    outcome = Outcome(spec.name, sdir, uri, exp_id, parent_id, counts, {}, wall_s, interrupted=stage)
    with interrupts.deferred(say):
        _close_interrupted(spec, outcome, say)
        try:
            states = [r.info.status for r in tracking.find_trial_runs(uri, exp_id)]
        except Exception as err:  # noqa: BLE001 - tracking down: every trial counts as unfinished
            say(f"cannot read the trial runs from MLflow ({type(err).__name__}: {str(err)[:200]})")
            states = []
        counts["done"], counts["failed"] = states.count("FINISHED"), states.count("FAILED")
        counts["running"] = states.count("KILLED") + states.count("RUNNING")  # RUNNING: MLflow was unreachable
        counts["pending"] = max(0, total - counts["done"] - counts["failed"] - counts["running"])
        _summary(spec, outcome, say)
        outcome.tracking_pending = _end_parent_run(
            outcome, sdir, bool(trial_log.spooled_trials(sdir.spool)), False, say
        )
    say(
        f"the study was interrupted {stage}; continue it with `python -m study resume {spec.name}"
        f"{_root_option(settings)}`"
    )
    for line in mlflow_ui.hint_lines(uri, exp_id, parent_id):
        say(line)
    return outcome


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
            c.set_tag(
                run.info.run_id,
                schema.FAILURE_REASON,
                "orphaned: the driver crashed before Ray Tune saved this trial; its sample was drawn again",
            )
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
    """The command that opens the MLflow UI on ``uri`` (the links need the study: ``mlflow_ui.hint_lines``)."""
    return mlflow_ui.hint_lines(uri)[0]

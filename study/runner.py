"""Run or resume a study: checks → Ray → MLflow parent run → θ-IS stage → Tune → export.

Order matters:

1. every input is checked before Ray starts (study name/dir, tracking URI, Ray address, resources);
   a bad one raises ``StudyError`` naming the option and leaves nothing behind;
2. Ray: the embedded local runtime (default) or ``--address``; trial resources are fitted to the
   cluster (no GPU → CPU with a message; too many GPUs per trial → error), still before anything
   is created or scheduled;
3. the study directory, ``spec.json``, the MLflow store, experiment and parent run are created by
   the driver (concurrent creation by trials races);
4. θ-IS stage: π once per preset (Ray tasks), reused when present;
5. Tune: ``Tuner.restore(..., resume_errored=True)`` when the study has saved state (finished trials
   are never re-run), else a new ``Tuner``; checkpoints every epoch, ``FailureConfig(max_failures)``;
   SIGTERM (``ray job stop``) is turned into Tune's graceful SIGINT stop; a live summary line;
6. after ``fit``: unfinished trials are detected and reported (``study resume NAME``) and their runs
   ended KILLED, spooled MLflow calls are replayed, ASHA-stopped HPO runs are closed, the parent run
   ended, tables exported; with the tracking server unreachable, the rest waits in the spool for
   ``study sync`` (exit status 4).
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import pickle
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from search_spaces.spec import SpecError, StudySpec
from study import cluster, tracking, trial_log
from study.errors import StudyError
from study.layout import StudyDir, write_json_atomic

__all__ = ["Settings", "Outcome", "run", "resume", "load_study", "git_info"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class Settings:
    """How a study runs (not what it runs: that is the ``StudySpec``)."""

    root: Path
    address: str | None = None
    mlflow_uri: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None
    max_failures: int = 2
    max_concurrent: int | None = None
    num_cpus: int | None = None        # size of the embedded runtime (default: this machine's CPUs)
    flush_s: float = 10.0              # MLflow metric buffering of a trial
    export: bool = True
    verbose: bool = False              # forward trial output (Ray's log_to_driver)
    progress_interval: float = 30.0
    progress: bool = True              # print the live summary line
    theta_is_tasks: int | None = None  # Ray tasks of the θ-IS stage (default: the cluster's free CPUs)

    def check(self) -> None:
        def number(option: str, value: Any) -> float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise StudyError(option, f"expected a number, got {value!r}")
            return float(value)

        if number("--cpus-per-trial", self.cpus_per_trial) <= 0:
            raise StudyError("--cpus-per-trial", f"must be > 0, got {self.cpus_per_trial}")
        if self.cpus_per_trial > 1 and not float(self.cpus_per_trial).is_integer():
            raise StudyError("--cpus-per-trial", f"above 1 must be a whole number, got {self.cpus_per_trial}")
        if self.gpus_per_trial is not None:
            g = number("--gpus-per-trial", self.gpus_per_trial)
            if g <= 0:
                raise StudyError("--gpus-per-trial", f"must be > 0 (omit it to run on CPU), got {g:g}")
            if g > 1 and not g.is_integer():
                raise StudyError("--gpus-per-trial", f"above 1 must be a whole number of GPUs (Ray packs only "
                                                     f"fractions below 1), got {g:g}")
        if isinstance(self.max_failures, bool) or not isinstance(self.max_failures, int) or self.max_failures < 0:
            raise StudyError("--max-failures", f"must be an integer >= 0, got {self.max_failures!r}")
        if self.max_concurrent is not None and (not isinstance(self.max_concurrent, int) or self.max_concurrent < 1):
            raise StudyError("--max-concurrent", f"must be an integer >= 1, got {self.max_concurrent!r}")
        if self.num_cpus is not None and (not isinstance(self.num_cpus, int) or self.num_cpus < 1):
            raise StudyError("--num-cpus", f"must be an integer >= 1, got {self.num_cpus!r}")
        root = str(Path(self.root).resolve())
        if "/runtime_resources/" in root and "/session_" in root:
            raise StudyError("--root", f"{root} is inside Ray's temporary job working directory and would be "
                                       "deleted; pass an absolute --root (e.g. --root $PWD/studies)")


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
    records: dict[str, Any]
    wall_s: float
    max_running: int = 0
    tables: list[Path] = field(default_factory=list)
    theta_is: dict[str, str] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    tracking_pending: bool = False     # MLflow unreachable at the end: calls spooled for `study sync`

    @property
    def exit_code(self) -> int:
        if self.counts.get("running", 0) + self.counts.get("pending", 0):
            return 3
        if self.tracking_pending:
            return 4
        return 1 if self.counts.get("failed", 0) else 0


# --- helpers -----------------------------------------------------------------------------------------
def git_info() -> dict[str, str]:
    """The project's git commit (MLflow's standard tag) and whether the tree is dirty; {} without git.

    ``ray job submit --working-dir .`` does not upload ``.git``: pass the commit as
    ``$SCRAPL_GIT_COMMIT`` in the job's runtime environment instead."""
    if os.environ.get("SCRAPL_GIT_COMMIT"):
        return {"mlflow.source.git.commit": os.environ["SCRAPL_GIT_COMMIT"]}
    here = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return {}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
        return {"mlflow.source.git.commit": sha.stdout.strip(), "scrapl.git_dirty": str(bool(dirty.stdout.strip())).lower()}
    except (OSError, subprocess.SubprocessError):
        return {}


def load_study(root: Path, name: str) -> tuple[StudyDir, StudySpec, dict[str, Any]]:
    sdir = StudyDir.of(root, name)
    if not sdir.exists():
        known = sorted(p.parent.name for p in Path(root).glob("*/spec.json")) if Path(root).is_dir() else []
        raise StudyError("NAME", f"no study {name!r} under {Path(root).resolve()}; studies there: "
                                 f"{', '.join(known) or 'none'} (see --root)")
    def invalid(path: Path, problem: str) -> StudyError:
        return StudyError("NAME", f"study {name!r} has an invalid {path}: {problem}")

    try:
        spec = StudySpec.from_dict(sdir.read_json(sdir.spec_file))
    except json.JSONDecodeError as err:
        raise invalid(sdir.spec_file, f"not valid JSON ({err})") from None
    except (ValueError, OSError) as err:  # SpecError names the field
        raise invalid(sdir.spec_file, str(err)) from None
    stored: Any = {}
    if sdir.settings_file.is_file():
        try:
            stored = sdir.read_json(sdir.settings_file)
        except (json.JSONDecodeError, OSError) as err:
            raise invalid(sdir.settings_file, f"not valid JSON ({err})") from None
        if not isinstance(stored, dict):
            raise invalid(sdir.settings_file, f"expected a JSON object, got {type(stored).__name__}")
    return sdir, spec, stored


def _expected_reports(flat: dict[str, Any], _cache: dict = {}) -> int:  # noqa: B006 - a deliberate memo
    """Tune reports of a trial that runs to the end: one per validation, plus the final one."""
    from trainables.data import ThetaGrid

    grid = (flat.get("data.grid_size"), flat.get("data.n_seeds_per_theta"))
    if grid not in _cache:
        _cache[grid] = ThetaGrid(*grid).split_sizes()["train"]
    spe = max(1, _cache[grid] // int(flat.get("data.batch_size") or 1))
    total = int(flat.get("train.epochs") or 1) * spe
    if flat.get("train.max_steps"):
        total = min(total, int(flat["train.max_steps"]))
    return math.ceil(total / spe) + 1


def _label(spec: StudySpec) -> Callable[[Any], str]:
    def label(trial) -> str:
        if spec.hpo is not None:
            return f"trial {trial.trial_id}"
        preset, arm, seed = str(trial.config.get("study.cell")).split("/")
        return f"{preset}:{arm} s{seed}" if len(spec.presets) > 1 else f"{arm} s{seed}"
    return label


class _SigtermAsSigint:
    """``ray job stop`` sends SIGTERM, on which Tune would not save its state; Tune stops gracefully on
    SIGINT, so forward SIGTERM as SIGINT while ``fit`` runs (main thread only)."""

    def __enter__(self):
        self.previous = None
        try:
            self.previous = signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
        except ValueError:  # not the main thread
            pass
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


# --- entry points --------------------------------------------------------------------------------------
def run(spec: StudySpec, settings: Settings, *, say: Say = print) -> Outcome:
    """Run ``spec``; a study of that name with the same spec is resumed, a different spec refused."""
    settings.check()
    sdir = StudyDir.of(settings.root, spec.name)
    if sdir.path.exists():
        if sdir.exists():
            try:
                existing = StudySpec.from_dict(sdir.read_json(sdir.spec_file))
            except (SpecError, ValueError) as err:
                raise StudyError("--name", f"{sdir.path} holds an unreadable spec.json ({err})") from None
            if existing != spec:
                a, b = existing.to_dict(), spec.to_dict()
                diff = ", ".join(k for k in b if a.get(k) != b.get(k))
                raise StudyError("--name", f"study {spec.name!r} already exists in {sdir.path} with a different "
                                           f"spec (differs in: {diff}); choose another --name, or continue it with "
                                           f"`python -m study resume {spec.name}`")
            say(f"study {spec.name} exists with the same spec: resuming it")
            return resume(spec.name, settings, say=say)
        if any(sdir.path.iterdir()):
            raise StudyError("--name", f"{sdir.path} exists and is not a study directory")
    uri = settings.mlflow_uri or sdir.mlflow_uri
    if settings.mlflow_uri:
        tracking.check_tracking_uri(uri)
    return _execute(spec, sdir, settings, uri, fresh=True, stored={}, say=say)


def resume(name: str, settings: Settings, *, say: Say = print) -> Outcome:
    """Continue a study from its saved state (``Tuner.restore``), or from MLflow when Tune saved none."""
    settings.check()
    sdir, spec, stored = load_study(settings.root, name)
    uri = stored.get("tracking_uri") or sdir.mlflow_uri
    if settings.mlflow_uri and settings.mlflow_uri != uri:
        raise StudyError("--mlflow-uri", f"study {name} logs to {uri}; it cannot move to {settings.mlflow_uri}")
    if stored.get("embedded_store", True) and not Path(sdir.mlflow_db).is_file():
        raise StudyError("NAME", f"study {name} has no MLflow store at {sdir.mlflow_db}")
    if not stored.get("embedded_store", True):
        tracking.check_tracking_uri(uri)
    merged = replace(settings,
                     cpus_per_trial=stored.get("cpus_per_trial", settings.cpus_per_trial),
                     gpus_per_trial=stored.get("gpus_per_trial", settings.gpus_per_trial),
                     max_concurrent=settings.max_concurrent or stored.get("max_concurrent"),
                     flush_s=stored.get("flush_s", settings.flush_s))
    return _execute(spec, sdir, merged, uri, fresh=False, stored=stored, say=say)


def _execute(spec: StudySpec, sdir: StudyDir, settings: Settings, uri: str, *, fresh: bool,
             stored: dict[str, Any], say: Say) -> Outcome:
    address = cluster.resolve_address(settings.address)
    cluster.check_address(address)
    t0 = time.time()
    started = cluster.connect(address, num_cpus=settings.num_cpus, verbose=settings.verbose)
    created = False
    try:
        resources = cluster.plan_resources(settings.cpus_per_trial, settings.gpus_per_trial, say)
        # --- nothing was created before this point -----------------------------------------------------
        try:
            if fresh:
                sdir.path.mkdir(parents=True, exist_ok=True)
                created = True
                write_json_atomic(sdir.spec_file, spec.to_dict())
            embedded = uri == sdir.mlflow_uri
            artifact_location = sdir.artifacts.as_uri() if not uri.startswith(("http://", "https://")) else None
            run_settings = {"tracking_uri": uri, "embedded_store": embedded, "address": address,
                            "cpus_per_trial": settings.cpus_per_trial, "gpus_per_trial": settings.gpus_per_trial,
                            "resources": resources, "max_failures": settings.max_failures,
                            "max_concurrent": settings.max_concurrent, "flush_s": settings.flush_s}
            exp_id, parent_id = tracking.ensure_study_run(
                uri, spec, artifact_location=artifact_location, git=git_info(),
                settings={k: v for k, v in run_settings.items() if k not in ("tracking_uri",)})
            write_json_atomic(sdir.settings_file, {**stored, **run_settings, "experiment_id": exp_id,
                                                   "parent_run_id": parent_id})
            if fresh:
                tracking.log_parent_files(uri, parent_id, [sdir.spec_file], None)
        except BaseException:
            if created:  # a fresh study that never got going leaves nothing behind
                shutil.rmtree(sdir.path, ignore_errors=True)
            raise
        say(f"study {spec.name}: {spec.description}")
        say(f"  directory {sdir.path}")
        say(f"  MLflow    {uri} (experiment {tracking.experiment_name(spec.name)}, parent run {parent_id})")
        say(f"  Ray       {address}; per trial {', '.join(f'{v:g} {k.upper()}' for k, v in resources.items())}")

        from study import theta_is_stage

        pi_files = theta_is_stage.run_stage(spec, sdir, uri, parent_id, n_tasks=settings.theta_is_tasks, say=say)
        summary, best = _fit(spec, sdir, settings, uri, exp_id, parent_id, resources, pi_files, say)
        outcome = Outcome(spec.name, sdir, uri, exp_id, parent_id, summary.counts(), summary.records,
                          time.time() - t0, summary.max_running, theta_is=pi_files, best=best)
        _after_fit(spec, sdir, settings, outcome, say)
        return outcome
    finally:
        if started:
            import ray

            ray.shutdown()


def _fit(spec, sdir, settings, uri, exp_id, parent_id, resources, pi_files, say):
    from ray import tune

    from study import param_space, progress, searchers
    from study.trial import run_trial

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no trial tables: the summary line replaces them
    # Tune snapshots its state whenever a trial has checkpointed num_to_keep times; that is wanted
    # (resumable state), its "may become a bottleneck" warning is not.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    user = dict(spec.overrides)

    def extra(preset: str, theta_is: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "device" not in user:
            out["device"] = "auto" if resources.get("gpu") else "cpu"  # CPU trials must not touch GPUs
        if "threads" not in user:
            out["threads"] = max(1, int(resources["cpu"]))
        if theta_is:
            out["train.theta_is_probs"] = pi_files[preset]
        return out

    study_keys = {"study.name": spec.name, "study.dir": str(sdir.path), "study.tracking_uri": uri,
                  "study.experiment_id": exp_id, "study.parent_run_id": parent_id, "study.kind": spec.kind,
                  "study.flush_s": settings.flush_s}
    tune_config: dict[str, Any] = {"reuse_actors": True, "max_concurrent_trials": settings.max_concurrent}
    if spec.hpo is None:
        configs = param_space.cell_configs(
            spec, lambda c: extra(c.preset, bool(dict(spec.arm(c.arm).overrides).get("train.theta_is"))))
        space = dict(study_keys)
        tune_config.update(search_alg=searchers.CellSearcher(configs), num_samples=len(configs))
        total = len(configs)
    else:
        import optuna
        from ray.tune.schedulers import ASHAScheduler

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        arm = spec.arms[0]
        space = param_space.hpo_param_space(
            spec, extra(spec.presets[0], bool(dict(arm.overrides).get("train.theta_is"))), study_keys)
        sdir.hpo.mkdir(parents=True, exist_ok=True)
        storage = optuna.storages.RDBStorage(f"sqlite:///{sdir.hpo / 'optuna.db'}")
        h = spec.hpo
        max_t = max(_expected_reports({k: v for k, v in space.items() if not hasattr(v, "sample")}), 2)
        tune_config.update(
            metric=h.metric, mode="min", num_samples=h.num_samples,
            search_alg=searchers.ResumableOptunaSearch(storage=storage, study_name=spec.name, seed=h.sampler_seed),
            scheduler=ASHAScheduler(max_t=max_t, grace_period=h.grace_period, reduction_factor=h.reduction_factor))
        total = h.num_samples

    summary = progress.SummaryLine(spec.name, total, label=_label(spec), expected_iterations=_expected_reports,
                                   interval=settings.progress_interval,
                                   stream=None if settings.progress else io.StringIO())

    def dirname(trial) -> str:
        cell = trial.config.get(param_space.CELL_KEY)
        return (str(cell).replace("/", "_").replace("+", "-") + "_" if cell else "") + trial.trial_id

    trainable = tune.with_resources(run_trial, resources)
    run_config = tune.RunConfig(
        name=sdir.tune_path.name, storage_path=str(sdir.ray_storage), verbose=0, callbacks=[summary],
        failure_config=tune.FailureConfig(max_failures=settings.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2))
    path = str(sdir.tune_path)
    summary.activate()  # before Tuner.restore: the pickled callback resolves to this one
    try:
        tuner = None
        if tune.Tuner.can_restore(path):
            say(f"resuming the Tune experiment in {path} (finished trials are not re-run)")
            try:
                tuner = tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
            except (AttributeError, ImportError, pickle.UnpicklingError) as err:
                # Tune's state pickles our classes; code that moved since cannot load it
                stale = sdir.tune_path.with_name(f"{sdir.tune_path.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
                sdir.tune_path.rename(stale)
                say(f"cannot restore the Tune state saved by another version of the code ({err}); moved it to "
                    f"{stale}. Starting the trials again: those FINISHED in MLflow are skipped, the others restart "
                    "from scratch")
        if tuner is None:
            if sdir.tune_path.exists():
                say("no restorable Tune state (the driver stopped before Tune saved any): starting the trials "
                    "again; trials already FINISHED in MLflow are skipped, the others restart")
            tuner = tune.Tuner(trainable, param_space=space,
                               tune_config=tune.TuneConfig(trial_dirname_creator=dirname, **tune_config),
                               run_config=run_config)
        say(f"running {total} trial(s) ...")
        with _quiet_tune(settings.verbose), _SigtermAsSigint():
            results = tuner.fit()
    finally:
        summary.deactivate()
    best = _best_hpo(spec, results) if spec.hpo is not None else None
    return summary, best


@contextlib.contextmanager
def _quiet_tune(verbose: bool):
    """Tune logs every failed attempt with a full traceback; the summary prints one line instead (the
    traceback stays in the trial's error file). ``--verbose`` keeps Tune's output."""
    logger = logging.getLogger("ray.tune.execution.tune_controller")
    level = logger.level
    if not verbose:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _best_hpo(spec: StudySpec, results) -> dict[str, Any] | None:
    metric = spec.hpo.metric
    rows = []
    for r in results:
        value = (r.metrics or {}).get(metric)
        if value is None or not math.isfinite(value) or (r.metrics or {}).get("scrapl_failed"):
            continue
        complete = bool((r.metrics or {}).get("scrapl_done") or (r.metrics or {}).get("scrapl_skipped"))
        rows.append((not complete, value, r))
    if not rows:
        return None
    stopped_early, value, r = min(rows, key=lambda t: (t[0], t[1]))  # prefer trials that ran to the end
    return {"study": spec.name, "preset": spec.presets[0], "arm": spec.arms[0].name, "metric": metric,
            "value": value, "trial_id": r.metrics.get("trial_id"), "ran_to_end": not stopped_early,
            "params": {p.key: r.config[p.key] for p in spec.hpo.params}}


def _after_fit(spec: StudySpec, sdir: StudyDir, settings: Settings, outcome: Outcome, say: Say) -> None:
    """Close the study's books in MLflow; when the server is unreachable, everything that could not be
    delivered (the trials' spools and the end of the study's own run) waits in ``<study>/spool`` for
    ``study sync``, which also writes the tables then (exit status 4)."""
    uri = outcome.tracking_uri
    root_opt = f" --root {settings.root}" if settings.root else ""
    if trial_log.spooled_trials(sdir.spool):
        try:
            done = trial_log.sync_spool(uri, sdir.spool)
            say(f"replayed spooled MLflow calls of {len(done)} trial(s)")
        except Exception as err:  # noqa: BLE001 - still unreachable: keep the spool
            say(f"MLflow still unreachable ({type(err).__name__}: {str(err)[:200]}); spooled calls kept in "
                f"{sdir.spool}: run `python -m study sync {spec.name}{root_opt}` when it is back")
    unfinished = outcome.counts["running"] + outcome.counts["pending"]
    if unfinished:  # fit returned early (ray job stop, Ctrl-C): no run stays RUNNING with nobody training it
        try:
            closed = tracking.close_interrupted_runs(
                uri, outcome.experiment_id, f"study interrupted; continue it with `python -m study resume {spec.name}`",
                relabel_tune_stopped=spec.hpo is None)  # in an HPO study ASHA stops trials too
            if closed:
                say(f"marked {len(closed)} interrupted trial run(s) KILLED in MLflow (resumed by `study resume`)")
        except Exception as err:  # noqa: BLE001 - tracking down: the runs stay RUNNING until the resume
            say(f"could not mark the interrupted trial runs in MLflow ({type(err).__name__}: {str(err)[:200]})")
    pending = bool(trial_log.spooled_trials(sdir.spool))
    if spec.hpo is not None and not unfinished and not pending:
        _reconcile_hpo(uri, outcome.experiment_id, sdir, spec.name, set(outcome.records))
    failed = [r for r in outcome.records.values() if r.failed]
    summary = {**outcome.counts, "wall_s": round(outcome.wall_s, 1)}
    status = "KILLED" if unfinished else "FINISHED"
    export_at_sync = settings.export and spec.hpo is None and not unfinished  # tables come from MLflow
    if not pending:
        try:
            tracking.finish_study_run(uri, outcome.parent_run_id, status, summary)
        except Exception as err:  # noqa: BLE001 - the server went away at the very end
            pending = True
            say(f"cannot end the study's MLflow run ({type(err).__name__}: {str(err)[:200]})")
    if pending:  # the parent run ends after the trials' spools are delivered, by `study sync`
        tracking.spool_study_finish(sdir.spool, outcome.parent_run_id, status, summary, export=export_at_sync)
        outcome.tracking_pending = True
    say(f"study {spec.name}: {outcome.counts['done']} finished, {outcome.counts['failed']} failed, "
        f"{unfinished} unfinished, in {outcome.wall_s:.0f} s")
    for r in failed:
        say(f"  failed: {r.label}: {r.reason}")
    if pending:
        say(f"MLflow at {uri} was unreachable: what it misses is kept in {sdir.spool} (nothing is lost); when "
            f"it is back run `python -m study sync {spec.name}{root_opt}`, which delivers it"
            + (" and writes the tables" if export_at_sync else ""))
    if unfinished:
        say(f"the study was interrupted with {unfinished} trial(s) unfinished; continue it with "
            f"`python -m study resume {spec.name}{root_opt}`")
    elif spec.hpo is not None:
        from study.export import write_best

        if outcome.best is not None:
            path = write_best(sdir, outcome.best)
            say(f"best {outcome.best['metric']} {outcome.best['value']:.4g} with "
                + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                            for k, v in outcome.best["params"].items())
                + f" → {path}; seed an ablation with `python -m study run ablation --from-hpo {spec.name}`")
    elif settings.export and not pending:
        from study.export import export_tables

        outcome.tables = export_tables(spec, sdir, uri, say)
        for p in outcome.tables:
            if p.suffix == ".md":
                say(f"  table {p}")
    say(mlflow_ui_hint(uri))


def _reconcile_hpo(uri: str, experiment_id: str, sdir: StudyDir, name: str, tune_trials) -> None:
    """Close an HPO study's loose ends once every trial is done.

    * Runs of trials ASHA stopped end KILLED in their trainable, or stay RUNNING when Tune tears the
      actor down first: they are finished early-stopped trials → FINISHED, ``scrapl.early_stopped``.
    * A trial created after Tune's last snapshot before a driver crash is unknown to the restored
      study (its sample is drawn again under a new id): its run → KILLED with the reason, and its
      Optuna trial, still RUNNING in the database, → FAIL.
    """
    import optuna

    from analysis import schema

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


def settings_dict(settings: Settings) -> dict[str, Any]:
    d = asdict(settings)
    d["root"] = str(settings.root)
    return d

"""One Tune ``fit`` of a study, from a typed ``FitContext`` the runner fills in.

* ``grid_plan`` / ``hpo_plan``: what Tune runs (a ``TunePlan``): the param space, the searcher (and, for
  HPO, the persistent Optuna storage and the ASHA scheduler), the number of trials, and how many
  reports a trial makes when it runs to the end (the summary's ETA; ASHA's ``max_t``), from
  ``trainables.build.steps_per_epoch`` of the trial's own ``RunConfig``;
* ``make_tuner``: ``Tuner.restore(..., resume_errored=True)`` when the study has saved state (finished
  trials are never re-run; state saved by another version of the code is set aside), else a new
  ``Tuner``; checkpoints every epoch, ``FailureConfig(max_failures)``;
* ``fit``: both, under the live summary line, with SIGTERM (``ray job stop``) turned into Tune's
  graceful SIGINT stop.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import math
import os
import pickle
import signal
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from search_spaces.spec import Cell, Param, StudySpec
from study import param_space, progress, searchers
from study.layout import TUNE_NAME, StudyDir
from study.settings import Settings
from study.trial import run_trial
from trainables.build import steps_per_epoch
from trainables.config import RunConfig, override

__all__ = ["FitContext", "TunePlan", "expected_reports", "grid_plan", "hpo_plan", "make_tuner", "fit", "best_hpo"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class FitContext:
    """What ``fit`` needs; the runner creates the study directory, the MLflow runs and π first."""

    spec: StudySpec
    sdir: StudyDir
    settings: Settings
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    resources: Mapping[str, float]  # per trial: {"cpu": n} or {"cpu": n, "gpu": f}
    pi_files: Mapping[str, str]  # θ-IS π file per preset
    say: Say = print
    data_dir: str | None = None  # <study>/data: decoded one-shot folders (study.preflight.write_data_cache)
    cells: tuple[Cell, ...] | None = None  # the cells this fit runs (default: every cell of the spec)
    tune_name: str = TUNE_NAME  # its Tune experiment folder under <study>/ray (study.stages: one per stage)

    @property
    def tune_path(self):
        return self.sdir.ray_storage / self.tune_name


@dataclass(frozen=True)
class TunePlan:
    """What Tune runs: ``space`` (param space), ``tune_config`` (``TuneConfig`` arguments: searcher,
    samples, scheduler), ``total`` trials; for the summary's ETA, ``expected_reports(trial config)`` and
    ``cost_group(trial config)`` (trials of a group cost the same per report; None: one group)."""

    space: dict[str, Any]
    tune_config: dict[str, Any]
    total: int
    expected_reports: Callable[[Mapping[str, Any]], int]
    cost_group: Callable[[Mapping[str, Any]], Any] | None = None


def cell_cost_group(config: Mapping[str, Any]) -> tuple[Any, Any]:
    """A grid trial's cost group: its preset and arm (its seed does not change the cost of a report)."""
    return config.get("preset"), config.get("study.arm")


def expected_reports(cfg: RunConfig) -> int:
    """Tune reports of a run that goes to the end: one per validation (each epoch's end and the last
    step), plus the trial's final one."""
    spe = steps_per_epoch(cfg)
    total = cfg.train.epochs * spe
    if cfg.train.max_steps:
        total = min(total, cfg.train.max_steps)
    return math.ceil(total / spe) + 1


def _run_time_overrides(ctx: FitContext, preset: str, arm: str) -> dict[str, Any]:
    """Config overrides decided at run time: device and threads from the trial's resources, π's file, the
    decode cache of one-shot folders."""
    user = dict(ctx.spec.overrides)
    out: dict[str, Any] = {}
    if "device" not in user:
        out["device"] = "auto" if ctx.resources.get("gpu") else "cpu"  # CPU trials must not touch GPUs
    if "threads" not in user:
        out["threads"] = max(1, int(ctx.resources["cpu"]))
    if dict(ctx.spec.arm(arm).overrides).get("train.theta_is"):
        out["train.theta_is_probs"] = ctx.pi_files[preset]
    if ctx.data_dir and "data.cache_dir" not in user:
        out["data.cache_dir"] = ctx.data_dir
    return out


def _study_keys(ctx: FitContext) -> dict[str, Any]:
    """The ``study.*`` keys every trial gets (``study.trial.TrialContext``)."""
    return {
        "study.name": ctx.spec.name,
        "study.dir": str(ctx.sdir.path),
        "study.tracking_uri": ctx.tracking_uri,
        "study.experiment_id": ctx.experiment_id,
        "study.parent_run_id": ctx.parent_run_id,
        "study.kind": ctx.spec.kind,
        "study.flush_s": ctx.settings.flush_s,
    }


def grid_plan(ctx: FitContext) -> TunePlan:
    """One trial per cell (``ctx.cells``, default all), handed out in the spec's order by ``CellSearcher``."""
    spec = ctx.spec
    cells = spec.cells() if ctx.cells is None else ctx.cells
    runs = {cell: spec.config(cell, _run_time_overrides(ctx, cell.preset, cell.arm)) for cell in cells}
    configs = param_space.cell_configs(spec, runs)
    reports = {cell.key: expected_reports(cfg) for cell, cfg in runs.items()}

    def expected(config: Mapping[str, Any]) -> int:
        return reports.get(config.get(param_space.CELL_KEY), 1)

    return TunePlan(
        space=_study_keys(ctx),
        total=len(configs),
        expected_reports=expected,
        cost_group=cell_cost_group,
        tune_config={"search_alg": searchers.CellSearcher(configs), "num_samples": len(configs)},
    )


def _edges(p: Param) -> tuple:
    """The values of a tuned parameter where its run is longest or shortest: its bounds, or every choice."""
    if p.kind == "choice":
        return tuple(p.choices)
    if p.kind == "int":
        return int(p.low), int(p.high)
    return p.low, p.high


def hpo_plan(ctx: FitContext) -> TunePlan:
    """Optuna (TPE, persistent RDB storage in ``<study>/hpo``) + ASHA over one cell's tuned keys. ASHA's
    ``max_t`` is the most reports any point of the space makes (its parameters' bounds or choices)."""
    spec, h = ctx.spec, ctx.spec.hpo
    cell = param_space.hpo_cell(spec)
    base = spec.config(cell, _run_time_overrides(ctx, cell.preset, cell.arm))
    space = param_space.hpo_param_space(spec, base, _study_keys(ctx))
    tuned = tuple(p.key for p in h.params)

    @lru_cache(maxsize=1024)
    def reports(values: tuple) -> int:
        return expected_reports(override(base, **dict(zip(tuned, values, strict=True))))

    def longest(values: tuple) -> int:
        try:
            return reports(values)
        except ValueError:  # a corner of the space no trial can sample (e.g. a batch larger than a split)
            return 0

    max_t = max([2, *(longest(v) for v in itertools.product(*(_edges(p) for p in h.params)))])

    def expected(config: Mapping[str, Any]) -> int:
        try:
            return reports(tuple(config[k] for k in tuned))
        except (KeyError, TypeError, ValueError):  # not sampled yet, or an unhashable value
            return max_t

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ctx.sdir.hpo.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.RDBStorage(f"sqlite:///{ctx.sdir.hpo / 'optuna.db'}")
    return TunePlan(
        space=space,
        total=h.num_samples,
        expected_reports=expected,
        tune_config={
            "metric": h.metric,
            "mode": "min",
            "num_samples": h.num_samples,
            "search_alg": searchers.ResumableOptunaSearch(storage=storage, study_name=spec.name, seed=h.sampler_seed),
            "scheduler": ASHAScheduler(max_t=max_t, grace_period=h.grace_period, reduction_factor=h.reduction_factor),
        },
    )


def _label(spec: StudySpec) -> Callable[[Any], str]:
    def label(trial) -> str:
        if spec.hpo is not None:
            return f"trial {trial.trial_id}"
        preset, arm, seed = str(trial.config.get(param_space.CELL_KEY)).split("/")
        return f"{preset}:{arm} s{seed}" if len(spec.presets) > 1 else f"{arm} s{seed}"

    return label


def _trial_dirname(trial) -> str:
    cell = trial.config.get(param_space.CELL_KEY)
    return (str(cell).replace("/", "_").replace("+", "-") + "_" if cell else "") + trial.trial_id


def make_tuner(ctx: FitContext, plan: TunePlan, summary: progress.SummaryLine) -> tune.Tuner:
    """The study's saved Tune experiment restored, or a new one (see the module docstring)."""
    sdir, say = ctx.sdir, ctx.say
    trainable = tune.with_resources(run_trial, dict(ctx.resources))
    tune_path = ctx.tune_path
    path = str(tune_path)
    if tune.Tuner.can_restore(path):
        say(f"resuming the Tune experiment in {path} (finished trials are not re-run)")
        try:
            return tune.Tuner.restore(path, trainable=trainable, resume_errored=True)
        except (AttributeError, ImportError, pickle.UnpicklingError) as err:
            # Tune's state pickles our classes; code that moved since cannot load it
            stale = tune_path.with_name(f"{tune_path.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
            tune_path.rename(stale)
            say(
                f"cannot restore the Tune state saved by another version of the code ({err}); moved it to "
                f"{stale}. Starting the trials again: those FINISHED in MLflow are skipped, the others restart "
                "from scratch"
            )
    elif tune_path.exists():
        say(
            "no restorable Tune state (the driver stopped before Tune saved any): starting the trials "
            "again; trials already FINISHED in MLflow are skipped, the others restart"
        )
    run_config = tune.RunConfig(
        name=tune_path.name,
        storage_path=str(sdir.ray_storage),
        verbose=0,
        callbacks=[summary],
        failure_config=tune.FailureConfig(max_failures=ctx.settings.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
    )
    tune_config = tune.TuneConfig(
        trial_dirname_creator=_trial_dirname,
        reuse_actors=True,
        max_concurrent_trials=ctx.settings.max_concurrent,
        **plan.tune_config,
    )
    return tune.Tuner(trainable, param_space=plan.space, tune_config=tune_config, run_config=run_config)


class _SigtermAsSigint:
    """``ray job stop`` sends SIGTERM, on which Tune would not save its state; Tune stops gracefully on
    SIGINT, so forward SIGTERM as SIGINT while ``fit`` runs (main thread only)."""

    def __enter__(self):
        self.previous = None
        try:
            self.sigint = signal.getsignal(signal.SIGINT)
            self.previous = signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
        except ValueError:  # not the main thread
            pass
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
            # Tune puts back its predecessor only when a signal came: a stale handler would swallow the
            # next Ctrl-C (during the export) without stopping anything
            signal.signal(signal.SIGINT, self.sigint)


@contextlib.contextmanager
def _quiet_tune(verbose: bool) -> Iterator[None]:
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


def fit(ctx: FitContext) -> tuple[progress.SummaryLine, dict[str, Any] | None]:
    """Run the study's trials on Tune; returns the summary (counts, records) and, for HPO, the best trial."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no trial tables: the summary line replaces them
    # Tune snapshots its state whenever a trial has checkpointed num_to_keep times; that is wanted
    # (resumable state), its "may become a bottleneck" warning is not.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    spec, settings = ctx.spec, ctx.settings
    plan = grid_plan(ctx) if spec.hpo is None else hpo_plan(ctx)
    summary = progress.SummaryLine(
        spec.name,
        plan.total,
        label=_label(spec),
        expected_iterations=plan.expected_reports,
        cost_group=plan.cost_group,
        interval=settings.progress_interval,
        stream=None if settings.progress else io.StringIO(),
    )
    summary.activate()  # before Tuner.restore: the pickled callback resolves to this one
    try:
        tuner = make_tuner(ctx, plan, summary)
        ctx.say(f"running {plan.total} trial(s) ...")
        with _quiet_tune(settings.verbose), _SigtermAsSigint():
            try:
                results = tuner.fit()
            except KeyboardInterrupt:  # a second signal cut Tune's graceful stop short
                summary.stop_trial_actors()
                raise
        if summary.interrupted:  # no actor of a stopped trial may outlive the fit (study.progress)
            summary.stop_trial_actors()
    finally:
        summary.deactivate()
    return summary, best_hpo(spec, results) if spec.hpo is not None else None


def best_hpo(spec: StudySpec, results) -> dict[str, Any] | None:
    """The best HPO trial (trials that ran to the end first), or None when none has the metric."""
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
    return {
        "study": spec.name,
        "preset": spec.presets[0],
        "arm": spec.arms[0].name,
        "metric": metric,
        "value": value,
        "trial_id": r.metrics.get("trial_id"),
        "ran_to_end": not stopped_early,
        "params": {p.key: r.config[p.key] for p in spec.hpo.params},
    }

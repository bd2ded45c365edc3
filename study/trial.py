"""The Ray Tune function trainable of a study trial: thin glue around ``trainables.train.train``.

The trial's flat config holds every ``RunConfig`` field under its dotted name (``train.lr``, ``seed``,
...) plus a few ``study.*`` keys (tracking URI, experiment and parent run ids, study directory, the
arm, the trial's stable key, injected faults). ``run_trial``:

1. splits the two, rebuilds the typed ``RunConfig`` (``trainables.config.from_flat``);
2. opens the trial's MLflow run through ``study.trial_log.TrialLog`` (found by the trial key, else
   created under the parent run), tagging the attempt's worker pid and node; a trial whose run is
   already FINISHED is not trained again;
3. resumes from ``tune.get_checkpoint()`` (``torch.load(weights_only=True)``), tagging the step it
   resumed from and back-filling MLflow with validation points the checkpoint has and MLflow lacks;
4. calls ``train(cfg, report, resume_state)`` (or, for an HPO trial on K seeds, ``study.seed_group``'s
   ``train_group``, which trains them in lockstep and reports their mean); ``report`` logs each
   validation's metrics (buffered, never twice for a step) and ``tune.report(metrics, checkpoint=...)`` once per epoch;
5. logs final metrics and artifacts and ends the run FINISHED, or FAILED with the reason. A NaN loss
   is deterministic under exact resume, so it ends the trial without a Tune retry (the result
   carries ``scrapl_failed = 1`` and ``failure_reason``); any other exception is re-raised for
   Tune's ``FailureConfig`` to retry from the last checkpoint.

Only ``ray.tune`` names are used (``ray.train.*`` breaks Tune in 2.60). Reused actors are safe:
``train`` re-seeds itself and every MLflow run is ended.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import ray
from ray import tune

if TYPE_CHECKING:
    from study.trial_log import TrialLog

STUDY_PREFIX = "study."
CHECKPOINT_FILE = "state.pt"


@dataclass(frozen=True)
class TrialContext:
    """The ``study.*`` keys of a trial config."""

    name: str
    dir: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    arm: str
    trial_key: str | None = None  # stable cell key; None = Tune's trial id (HPO samples)
    faults: tuple[tuple[str, int], ...] = ()  # ("crash-once" | "exit-once", step)
    flush_s: float = 10.0
    kind: str = "ablation"
    seeds: tuple[int, ...] = ()  # an HPO trial on several paired seeds (study.seed_group); () = cfg.seed alone

    @classmethod
    def from_config(cls, study: dict[str, Any]) -> TrialContext:
        faults = tuple((str(k), int(s)) for k, s in (study.get("faults") or ()))
        return cls(
            name=study["name"],
            dir=study["dir"],
            tracking_uri=study["tracking_uri"],
            experiment_id=str(study["experiment_id"]),
            parent_run_id=study["parent_run_id"],
            arm=study["arm"],
            trial_key=study.get("trial_key"),
            faults=faults,
            flush_s=float(study.get("flush_s", 10.0)),
            kind=study.get("kind", "ablation"),
            seeds=tuple(int(s) for s in (study.get("seeds") or ())),
        )


def split_config(config: dict[str, Any]) -> tuple[TrialContext, dict[str, Any]]:
    """``(TrialContext, flat RunConfig keys)`` from a trial's config."""
    study = {k[len(STUDY_PREFIX) :]: v for k, v in config.items() if k.startswith(STUDY_PREFIX)}
    flat = {k: v for k, v in config.items() if not k.startswith(STUDY_PREFIX)}
    return TrialContext.from_config(study), flat


class InjectedCrash(RuntimeError):
    """A fault injected by the study spec (``crash-once``)."""


def _one_shot(ctx: TrialContext, key: str, kind: str, step: int) -> bool:
    """True the first time this (trial, fault) fires; a marker file makes it one-shot across retries."""
    marker = Path(ctx.dir) / "faults" / f"{quote(key, safe='')}.{kind}.{step}"
    if marker.exists():
        return False
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return True


def _fire_faults(ctx: TrialContext, key: str, step: int, log: TrialLog) -> None:
    for kind, at in ctx.faults:
        if at == step and _one_shot(ctx, key, kind, step):
            if kind == "crash-once":
                raise InjectedCrash(f"injected crash-once fault at step {step}")
            if kind == "exit-once":
                log.flush()
                os._exit(17)  # the worker process dies (as with SIGKILL): no cleanup runs


def _node_ip() -> str:
    try:
        return ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - informative only
        return ""


def run_trial(config: dict[str, Any]) -> None:
    """Ray Tune function trainable (see the module docstring)."""
    # Imported here, not at the top: this module is imported while a trial's actor starts, and Tune starts
    # one pending trial at a time (a custom searcher): torch, MLflow and the training code at the top
    # would serialise the trials' starts (tests/study/test_resources.py then sees one trial at a time).
    import torch

    from analysis import schema
    from study import artifacts, tracking
    from study.seed_group import train_group
    from study.trial_log import TrialLog
    from trainables.config import from_flat, to_dict
    from trainables.train import NonFiniteLossError, train

    t_start = time.perf_counter()
    ctx, flat = split_config(config)
    cfg = from_flat(flat)
    trial_id = tune.get_context().get_trial_id()
    key = ctx.trial_key or trial_id
    log = TrialLog(
        ctx.tracking_uri, ctx.experiment_id, ctx.parent_run_id, key, Path(ctx.dir) / "spool", flush_s=ctx.flush_s
    )
    tags = {
        schema.STUDY: ctx.name,
        schema.ARM: ctx.arm,
        schema.SEED: str(cfg.seed),
        schema.PRESET: cfg.preset,
        tracking.RAY_TRIAL_ID: trial_id,
        tracking.WORKER_PID: str(os.getpid()),
        tracking.WORKER_NODE: _node_ip(),
        # the GPU(s) Ray gave this trial ("" = none); fractional trials share a device
        "scrapl.cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
    }
    if len(ctx.seeds) > 1:  # the mean over these paired seeds is the trial's objective
        tags["scrapl.seeds"] = ",".join(map(str, ctx.seeds))
    run_name = f"{ctx.arm} · seed {cfg.seed} · {cfg.preset}" if ctx.trial_key else f"{ctx.arm} · {trial_id}"
    log.open(run_name, tags, flat)
    if log.finished:  # finished before a driver crash that Tune's saved state did not see
        tune.report({**log.final_metrics, "scrapl_skipped": 1})
        return

    state = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            state = torch.load(Path(d) / CHECKPOINT_FILE, weights_only=True)
        log.backfill(state["history"])
    if state is not None or log.attempts > 1:  # a retry says where it started (0 = from scratch)
        log.set_tags({tracking.RESUMED_FROM: str(int(state["step"])) if state is not None else "0"})
    last: dict[str, float] = {}
    history: list[dict] = [dict(h) for h in state["history"]] if state is not None else []

    def report(step: int, metrics: dict[str, float], run_state: dict | None) -> None:
        if run_state is None:  # the final call: handled after train() returns
            return
        last.clear()
        last.update(metrics)
        history[:] = run_state["history"]
        log.log_metrics(step, metrics)
        _fire_faults(ctx, key, step, log)
        with tempfile.TemporaryDirectory(prefix="scrapl-ckpt-") as d:
            torch.save(run_state, Path(d) / CHECKPOINT_FILE)
            tune.report({**metrics, "step": step}, checkpoint=tune.Checkpoint.from_directory(d))

    def attach(history, examples=None, sample_rate=None) -> None:
        with tempfile.TemporaryDirectory(prefix="scrapl-art-") as d:
            with log.timed():  # rendering counts as tracking overhead
                artifacts.write_trial_artifacts(
                    Path(d),
                    config=to_dict(cfg),
                    history=history,
                    examples=examples,
                    sample_rate=sample_rate,
                    title=f"{ctx.name}: {run_name}",
                )
            log.log_artifacts(d)

    t_train = time.perf_counter()
    try:
        if len(ctx.seeds) > 1:
            result = train_group(cfg, report, resume_state=state, seeds=ctx.seeds)
        else:
            result = train(cfg, report, resume_state=state)
    except NonFiniteLossError as err:
        train_s = time.perf_counter() - t_train
        attach(history)
        log.terminate("FAILED", reason=str(err))
        tune.report(
            {
                **last,
                "scrapl_failed": 1,
                "failure_reason": str(err),
                "train_s": train_s,
                schema.VAL_THETA_L1: last.get(schema.VAL_THETA_L1, float("nan")),
            }
        )
        return
    except SystemExit:  # Tune stopped the trial (ASHA, or the study was interrupted)
        log.terminate("KILLED", reason=tracking.TUNE_STOPPED_REASON)
        raise
    except BaseException as err:
        log.terminate("FAILED", reason=f"{type(err).__name__}: {err}"[:4000])
        raise
    train_s = time.perf_counter() - t_train
    final = dict(result.metrics)
    log.log_final(int(result.state["step"]), final)
    attach(result.history, result.examples.numpy(), result.sample_rate)
    trial_s = time.perf_counter() - t_start
    overhead = {"tracking_s": log.seconds, "train_s": train_s, "trial_s": trial_s}
    log.log_final(int(result.state["step"]), {"tracking_s": log.seconds})
    log.terminate("FINISHED")
    tune.report({**last, **final, **overhead, "step": int(result.state["step"]), "scrapl_done": 1})

"""Run or resume a study: checks → Ray → MLflow parent run → θ-IS stage → Tune (``study.fit``) → close
and export (``study.finish``).

Order matters:

1. every input is checked before Ray starts (study name/dir, tracking URI, Ray address, resources);
   a bad one raises ``StudyError`` naming the option and leaves nothing behind;
2. Ray: the embedded local runtime (default) or ``--address``; trial resources are fitted to the
   cluster (no GPU → CPU with a message; too many GPUs per trial → error), still before anything
   is created or scheduled;
3. the study directory, ``spec.json`` (and ``adaptive.json``), the MLflow store, experiment and parent
   run are created by the driver (concurrent creation by trials races);
4. θ-IS stage: π once per preset (Ray tasks), reused when present;
5. Tune, one experiment per stage of a grown study (``study.stages``: ``study extend``, adaptive waves):
   ``Tuner.restore(..., resume_errored=True)`` when the study has saved state (finished trials
   are never re-run), else a new ``Tuner``; checkpoints every epoch, ``FailureConfig(max_failures)``;
   SIGTERM (``ray job stop``) is turned into Tune's graceful SIGINT stop; a live summary line;
6. after ``fit``: unfinished trials are detected and reported (``study resume NAME``) and their runs
   ended KILLED, spooled MLflow calls are replayed, ASHA-stopped HPO runs are closed, the parent run
   ended, tables exported; with the tracking server unreachable, the rest waits in the spool for
   ``study sync`` (exit status 4).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import ray

from search_spaces.spec import SpecError, StudySpec
from study import cluster, preflight, stages, theta_is_stage, tracking, waves
from study.errors import StudyError
from study.finish import Outcome, finish
from study.fit import FitContext
from study.guard import Guard, guarded
from study.layout import StudyDir, write_json_atomic
from study.lock import check_free
from study.settings import Settings

__all__ = ["Settings", "Outcome", "run", "resume", "load_study", "git_info"]

Say = Callable[[str], None]


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
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return {
            "mlflow.source.git.commit": sha.stdout.strip(),
            "scrapl.git_dirty": str(bool(dirty.stdout.strip())).lower(),
        }
    except (OSError, subprocess.SubprocessError):
        return {}


def load_study(root: Path, name: str) -> tuple[StudyDir, StudySpec, dict[str, Any]]:
    """A study's directory, spec and stored settings; ``StudyError("NAME")`` when missing or unreadable."""
    sdir = StudyDir.of(root, name)
    if not sdir.exists():
        known = sorted(p.parent.name for p in Path(root).glob("*/spec.json")) if Path(root).is_dir() else []
        raise StudyError(
            "NAME",
            f"no study {name!r} under {Path(root).resolve()}; studies there: {', '.join(known) or 'none'} (see --root)",
        )

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


# --- entry points --------------------------------------------------------------------------------------
def run(spec: StudySpec, settings: Settings, *, say: Say = print, growth: stages.Growth | None = None) -> Outcome:
    """Run ``spec``; a study of that name with the same spec is resumed, a different spec refused.
    ``growth.design``: a new adaptive study (``study.waves``)."""
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
                raise StudyError(
                    "--name",
                    f"study {spec.name!r} already exists in {sdir.path} with a different "
                    f"spec (differs in: {diff}); choose another --name, or continue it with "
                    f"`python -m study resume {spec.name}`",
                )
            say(f"study {spec.name} exists with the same spec: resuming it")
            return resume(spec.name, settings, say=say)
        check_free(sdir.path)  # another driver creating this study right now: StudyBusy, not "not a study"
        if any(sdir.path.iterdir()):
            raise StudyError("--name", f"{sdir.path} exists and is not a study directory")
    uri = settings.mlflow_uri or sdir.mlflow_uri
    if settings.mlflow_uri:
        tracking.check_tracking_uri(uri)
    # one driver per study (study.lock, taken once the directory exists), SIGINT/SIGTERM (study.interrupts)
    return guarded(
        sdir,
        spec,
        settings,
        say,
        hold=False,
        body=lambda guard: _execute(
            spec, sdir, settings, uri, fresh=True, stored={}, say=say, growth=growth, guard=guard
        ),
    )


def resume(name: str, settings: Settings, *, say: Say = print, growth: stages.Growth | None = None) -> Outcome:
    """Continue a study from its saved state (``Tuner.restore``), or from MLflow when Tune saved none;
    ``growth.seeds``: first add a stage running those seeds (``study extend``, ``study.stages``)."""
    settings.check()
    sdir, spec, stored = load_study(settings.root, name)
    uri = stored.get("tracking_uri") or sdir.mlflow_uri
    if settings.mlflow_uri and settings.mlflow_uri != uri:
        raise StudyError("--mlflow-uri", f"study {name} logs to {uri}; it cannot move to {settings.mlflow_uri}")
    if stored.get("embedded_store", True) and not Path(sdir.mlflow_db).is_file():
        raise StudyError("NAME", f"study {name} has no MLflow store at {sdir.mlflow_db}")
    if not stored.get("embedded_store", True):
        tracking.check_tracking_uri(uri)
    kept = stored.get("memory_per_trial")
    if settings.memory_per_trial is not None and settings.memory_per_trial != kept:
        had = f"{kept / 2**30:.3g} GiB" if kept else "none"
        raise StudyError(
            "--memory-per-trial",
            f"study {name} reserves {had} per trial, fixed when it was created: Ray Tune restores each trial "
            "with the resources it started with; run it under a new --name to reserve another amount",
        )
    merged = replace(
        settings,
        cpus_per_trial=stored.get("cpus_per_trial", settings.cpus_per_trial),
        gpus_per_trial=stored.get("gpus_per_trial", settings.gpus_per_trial),
        memory_per_trial=stored.get("memory_per_trial", settings.memory_per_trial),
        max_concurrent=settings.max_concurrent or stored.get("max_concurrent"),
        flush_s=stored.get("flush_s", settings.flush_s),
    )
    # the study's lock before Ray starts: a second driver is refused at once (study.guard)
    return guarded(
        sdir,
        spec,
        merged,
        say,
        hold=True,
        body=lambda guard: _execute(
            spec, sdir, merged, uri, fresh=False, stored=stored, say=say, growth=growth, guard=guard
        ),
    )


def _execute(
    spec: StudySpec,
    sdir: StudyDir,
    settings: Settings,
    uri: str,
    *,
    fresh: bool,
    stored: dict[str, Any],
    say: Say,
    growth: stages.Growth | None = None,
    guard: Guard | None = None,
) -> Outcome:
    address = cluster.resolve_address(settings.address)
    cluster.check_address(address)
    t0 = time.time()
    started = cluster.connect(address, num_cpus=settings.num_cpus, verbose=settings.verbose)
    created = False
    try:
        resources = cluster.plan_resources(
            settings.cpus_per_trial, settings.gpus_per_trial, say, settings.memory_per_trial
        )
        # --- nothing was created before this point -----------------------------------------------------
        try:
            if fresh:
                sdir.path.mkdir(parents=True, exist_ok=True)
                if guard is not None:  # StudyBusy (exit 5) when another driver created it first
                    guard.hold(sdir.path)
                created = True
                write_json_atomic(sdir.spec_file, spec.to_dict())
                if growth is not None and growth.design is not None:
                    waves.write_new(sdir, growth.design)
            embedded = uri == sdir.mlflow_uri
            artifact_location = sdir.artifacts.as_uri() if not uri.startswith(("http://", "https://")) else None
            run_settings = {
                "tracking_uri": uri,
                "embedded_store": embedded,
                "address": address,
                "cpus_per_trial": settings.cpus_per_trial,
                "gpus_per_trial": settings.gpus_per_trial,
                "memory_per_trial": settings.memory_per_trial,
                "resources": resources,
                "max_failures": settings.max_failures,
                "max_concurrent": settings.max_concurrent,
                "flush_s": settings.flush_s,
            }
            git = git_info()
            exp_id, parent_id = tracking.ensure_study_run(
                uri,
                spec,
                artifact_location=artifact_location,
                git=git,
                settings={k: v for k, v in run_settings.items() if k not in ("tracking_uri",)},
            )
            write_json_atomic(
                sdir.settings_file, {**stored, **run_settings, "experiment_id": exp_id, "parent_run_id": parent_id}
            )
            if fresh:
                tracking.log_parent_files(uri, parent_id, [sdir.spec_file], None)
        except BaseException:
            if created:  # a fresh study that never got going leaves nothing behind
                shutil.rmtree(sdir.path, ignore_errors=True)
            raise
        say(f"study {spec.name}: {spec.description}")
        say(f"  directory {sdir.path}")
        say(f"  MLflow    {uri} (experiment {tracking.experiment_name(spec.name)}, parent run {parent_id})")
        say(f"  Ray       {address}; per trial {cluster.describe_resources(resources)}")

        data_dir = preflight.write_data_cache(spec, sdir.path, say)  # one-shot folders: decoded once, mmapped by trials
        pi_files = theta_is_stage.run_stage(
            spec,
            sdir,
            uri,
            parent_id,
            n_tasks=settings.theta_is_tasks,
            say=say,
            data_dir=data_dir,
            memory=settings.memory_per_trial,
        )
        result = stages.run_stages(
            FitContext(spec, sdir, settings, uri, exp_id, parent_id, resources, pi_files, say, data_dir),
            growth,
            git=git,
        )  # grown: extensions, waves
        outcome = Outcome(
            spec.name,
            sdir,
            uri,
            exp_id,
            parent_id,
            result.counts(),
            result.records,
            time.time() - t0,
            result.max_running,
            theta_is=pi_files,
            best=result.best,
        )
        finish(result.spec, sdir, settings, outcome, say, guard.interrupts if guard is not None else None)
        return outcome
    finally:
        if started:
            ray.shutdown()

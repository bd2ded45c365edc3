"""``python -m study``: run, resume, inspect and sync SCRAPL studies.

    python -m study run ablation --smoke-test --seeds 3          # 4 arms × 3 seeds, embedded Ray + MLflow
    python -m study run ablation --preset granular --seeds 20 --gpus-per-trial 0.25
    python -m study run losses --preset granular --jtfs-seeds 1
    python -m study run theta-is --seeds 20
    python -m study run hpo --preset granular --num-samples 40
    python -m study run ablation --from-hpo hpo-granular
    python -m study run ablation --seeds adaptive --min-seeds 10 --max-seeds 20 --wave-size 5
    python -m study extend ablation-granular --seeds 30          # grow a 20-seed study to seeds 0..29
    python -m study run hpo --preset granular --seeds-per-trial 3
    python -m study list | status NAME | resume NAME | sync NAME

Every option is checked before Ray starts; a bad one prints ``error: <option>: <what is wrong>`` and
exits with status 2, leaving nothing behind. Exit status of run/resume: 0 every trial finished,
1 some trials failed (e.g. NaN loss), 3 interrupted (continue with ``study resume NAME``), 4 the
trials ran but the MLflow server was unreachable at the end (``study sync NAME`` delivers the spool),
5 another driver is running the study (``study.lock``: one driver per study; nothing was done).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from study import cli_seeds
from study.cli_checks import check_root, check_size
from study.cli_parser import build_parser
from study.errors import StudyError
from study.layout import DEFAULT_ROOT_ENV, default_root
from study.lock import BUSY_EXIT, StudyBusy, acquire
from study.settings import Settings

__all__ = ["main", "build_parser"]

# --- spec from arguments -----------------------------------------------------------------------------
_FIELD_OPTIONS = {
    "kind": "STUDY",
    "name": "--name",
    "seeds": "--seeds",
    "overrides": "--set",
    "faults": "--fault",
    "hpo.arm": "--arm",
    "hpo.num_samples": "--num-samples",
    "hpo.params": "--set",
}  # the tuned parameters clash with (or are broken by) an override


def _option_for(field: str, args: argparse.Namespace) -> str:
    if field == "presets":
        return "--presets" if args.study == "theta-is" else "--preset"
    if field.startswith("arms"):
        return "--jtfs-seeds" if field.endswith("n_seeds") else "--arms"
    return _FIELD_OPTIONS.get(field.split("[")[0], _FIELD_OPTIONS.get(field, f"--{field}"))


def spec_from_args(args: argparse.Namespace, root: Path):
    """The ``StudySpec`` the arguments describe; ``StudyError`` names the option at fault."""
    # lazy, as every import below that names search_spaces, trainables or another study module:
    # `python -m study --help` and argparse's own errors must not load torch, Ray or MLflow
    from search_spaces import studies
    from search_spaces.spec import SpecError, parse_seeds

    smoke = args.smoke_test
    try:
        overrides = dict(args.overrides)
        dup = sorted({k for k, _ in args.overrides if [kk for kk, _ in args.overrides].count(k) > 1})
        if dup:
            raise StudyError("--set", f"{', '.join(dup)} given twice")
        if args.study == "theta-is":
            presets = args.presets or list(studies.CHIRPLET_PRESETS)
            presets = [studies.smoke_preset(p) for p in presets] if smoke else presets
            name = args.name or ("theta-is-smoke" if smoke else "theta-is")
        else:
            preset = args.preset or "granular"
            preset = studies.smoke_preset(preset) if smoke else preset
            tag = "-factorial" if getattr(args, "factorial", False) else ""
            name = args.name or f"{args.study}{tag}-{preset}"
        if args.study == "hpo":
            num = args.num_samples or (4 if smoke else 20)
            return studies.hpo(
                name,
                preset,
                args.seed,
                arm=args.arm,
                num_samples=num,
                overrides=overrides,
                smoke_test=smoke,
                seeds_per_trial=args.seeds_per_trial,
            )
        if cli_seeds.is_adaptive(args):
            seeds = tuple(range(cli_seeds.design(args).min_seeds))
        else:
            seeds = parse_seeds(args.seeds) if args.seeds is not None else tuple(range(2 if smoke else 20))
        if getattr(args, "from_hpo", None):
            overrides = _from_hpo(args.from_hpo, root, preset, overrides)
        common = dict(arms=args.arms, overrides=overrides, faults=args.faults, smoke_test=smoke)
        if args.study == "ablation":
            return studies.ablation(name, preset, seeds, factorial=args.factorial, **common)
        if args.study == "losses":
            return studies.losses(name, preset, seeds, jtfs_seeds=args.jtfs_seeds, **common)
        return studies.theta_is(name, presets, seeds, **common)
    except SpecError as err:
        raise StudyError(_option_for(err.field, args), str(err).split(": ", 1)[-1]) from None


def _from_hpo(name: str, root: Path, preset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    from study.export import read_best  # lazy: analysis (pandas)

    try:
        best = read_best(root, name)
    except ValueError as err:
        raise StudyError("--from-hpo", str(err)) from None
    if best.get("preset") != preset:
        raise StudyError("--from-hpo", f"HPO study {name} tuned preset {best.get('preset')}, this study runs {preset}")
    clash = sorted(set(best["params"]) & set(overrides))
    if clash:
        raise StudyError("--from-hpo", f"{', '.join(clash)} also given with --set")
    from trainables.config import ConfigError, override  # lazy: the presets
    from trainables.presets import get_preset

    try:
        override(get_preset(preset), **best["params"])
    except ConfigError as err:
        raise StudyError("--from-hpo", f"the best config of {name} is not valid here: {err}") from None
    return {**best["params"], **overrides}


def _settings(args: argparse.Namespace, root: Path) -> Settings:
    return Settings(
        root=root,
        address=args.address,
        mlflow_uri=args.mlflow_uri,
        cpus_per_trial=getattr(args, "cpus_per_trial", 1.0),
        gpus_per_trial=getattr(args, "gpus_per_trial", None),
        memory_per_trial=getattr(args, "memory_per_trial", None),
        max_failures=args.max_failures,
        max_concurrent=args.max_concurrent,
        num_cpus=args.num_cpus,
        export=not args.no_export,
        verbose=args.verbose,
        progress_interval=args.progress_interval,
    )


# --- commands ------------------------------------------------------------------------------------------
def _say(text: str) -> None:
    print(text, flush=True)


def cmd_run(args: argparse.Namespace, root: Path) -> int:
    from study import runner  # lazy: Ray, MLflow, torch
    from study.extend import resumes_adaptive
    from study.preflight import check_inputs
    from study.stages import Growth

    spec = spec_from_args(args, root)
    check_size(spec, args.max_trials)
    growth = Growth(design=cli_seeds.design(args).to_dict()) if cli_seeds.is_adaptive(args) else None
    check_inputs(spec)
    settings = _settings(args, root)
    if growth is not None and resumes_adaptive(root, spec, growth.design, say=_say):
        return runner.resume(spec.name, settings, say=_say).exit_code
    outcome = runner.run(spec, settings, say=_say, growth=growth)
    return outcome.exit_code


def cmd_extend(args: argparse.Namespace, root: Path) -> int:
    from study import extend, runner  # lazy: Ray, MLflow, torch

    growth = extend.plan(root, args.name, args.seeds, presets=args.presets, arms=args.arms, say=_say)
    return runner.resume(args.name, _settings(args, root), say=_say, growth=growth).exit_code


def cmd_resume(args: argparse.Namespace, root: Path) -> int:
    from study import runner  # lazy: Ray, MLflow, torch

    outcome = runner.resume(args.name, _settings(args, root), say=_say)
    return outcome.exit_code


def cmd_list(args: argparse.Namespace, root: Path) -> int:
    from study import status  # lazy: MLflow, Ray Tune

    rows = status.list_studies(root)
    if not rows:
        _say(f"no studies under {root}")
        return 0
    _say(status.format_list(rows))
    return 0


def cmd_status(args: argparse.Namespace, root: Path) -> int:
    from study import status  # lazy: MLflow, Ray Tune

    report = status.study_status(root, args.name)
    _say(json.dumps(report, indent=2, default=str) if args.json else status.format_status(report))
    return 0


def cmd_sync(args: argparse.Namespace, root: Path) -> int:
    from study.runner import load_study  # lazy: Ray, MLflow

    sdir, spec, stored = load_study(root, args.name)
    with acquire(sdir.path):  # not while a driver runs the study (StudyBusy, exit 5)
        return _sync(args, sdir, spec, stored)


def _sync(args: argparse.Namespace, sdir, spec, stored: dict[str, Any]) -> int:
    from study import tracking, trial_log  # lazy: MLflow

    uri = stored.get("tracking_uri") or sdir.mlflow_uri
    pending = trial_log.spooled_trials(sdir.spool)
    parent = tracking.pending_study_finish(sdir.spool)
    if not pending and parent is None:
        _say(f"study {args.name}: nothing spooled")
        return 0
    try:
        done = trial_log.sync_spool(uri, sdir.spool) if pending else {}
        parent = tracking.sync_study_finish(uri, sdir.spool)  # after the trials: the study's own run
    except Exception as err:  # noqa: BLE001 - report and keep the spool
        raise StudyError(
            "sync",
            f"cannot deliver to {uri} ({type(err).__name__}: {str(err)[:300]}); the spool in {sdir.spool} is kept",
        ) from None
    for key, n in done.items():
        _say(f"  {key}: {n} call(s) replayed")
    _say(f"study {args.name}: {len(done)} trial(s) synced to {uri}")
    if parent is not None:
        _say(f"study {args.name}: its MLflow run ended {parent['status']}")
        if parent.get("export"):  # the study ended while the server was away: its tables are due
            from study.export import publish  # lazy: analysis (pandas)

            for p in publish(spec, sdir, uri, parent.get("parent_run_id"), _say):
                if p.suffix == ".md":
                    _say(f"  table {p}")
    return 0


COMMANDS = {
    "run": cmd_run,
    "resume": cmd_resume,
    "extend": cmd_extend,
    "list": cmd_list,
    "status": cmd_status,
    "sync": cmd_sync,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # --help and usage errors exit here, before any heavy import
    from search_spaces.spec import SpecError  # lazy: search_spaces loads the presets (torch)

    root = args.root.expanduser().resolve() if getattr(args, "root", None) else default_root()
    try:
        check_root(root, "--root" if getattr(args, "root", None) else f"--root (${DEFAULT_ROOT_ENV} or ./studies)")
        return COMMANDS[args.command](args, root)
    except StudyBusy as err:  # another driver runs the study: not bad input
        print(f"error: {err}", file=sys.stderr, flush=True)
        return BUSY_EXIT
    except (StudyError, SpecError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        if args.command not in ("run", "resume", "extend"):
            raise
        # a driver interrupted once the study has an MLflow run returns its Outcome (study.guard); here it had none
        print(
            "error: interrupted before the study had started (nothing to resume): run the command again",
            file=sys.stderr,
            flush=True,
        )
        return 3

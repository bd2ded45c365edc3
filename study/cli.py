"""``python -m study``: run, resume, inspect and sync SCRAPL studies.

    python -m study run ablation --smoke-test --seeds 3          # 4 arms × 3 seeds, embedded Ray + MLflow
    python -m study run ablation --preset granular --seeds 20 --gpus-per-trial 0.25
    python -m study run losses --preset granular --jtfs-seeds 1
    python -m study run theta-is --seeds 20
    python -m study run hpo --preset granular --num-samples 40
    python -m study run ablation --from-hpo hpo-granular
    python -m study run ablation --seeds adaptive --min-seeds 5 --max-seeds 25 --wave-size 5
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

from common.checks import check_positive
from common.parsing import csv_list, int_arg, key_value
from study import cli_seeds
from study.cli_checks import MAX_TRIALS, check_root, check_size
from study.errors import StudyError
from study.layout import DEFAULT_ROOT_ENV, default_root
from study.lock import BUSY_EXIT, StudyBusy, acquire
from study.settings import Settings

__all__ = ["main", "build_parser"]

EPILOG = (
    "Exit status: 0 every trial finished; 1 some trials failed; 2 bad input (nothing was scheduled); "
    "3 interrupted (continue with `python -m study resume NAME`); 4 the trials ran but the MLflow server "
    "was unreachable at the end (what it misses is spooled: `python -m study sync NAME` when it is back); "
    "5 another driver is running this study (it names the driver; nothing was done)."
)


# --- option types ----------------------------------------------------------------------------------
# argparse only parses, applying the one range check an option's type implies (a count, a positive
# number); everything else about the values is checked once, by ``Settings.check`` and the spec.
_COUNT = int_arg(1)  # an integer >= 1
_COUNT0 = int_arg(0)  # an integer >= 0


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return check_positive("", value, error=argparse.ArgumentTypeError, message=f"must be > 0, got {text}")


# --- parser ----------------------------------------------------------------------------------------
def _add_runtime(p: argparse.ArgumentParser, *, resume: bool = False) -> None:
    g = p.add_argument_group("where and how it runs")
    g.add_argument(
        "--root",
        type=Path,
        default=None,
        metavar="DIR",
        help="directory holding the studies (default $SCRAPL_STUDY_ROOT or ./studies); use an absolute "
        "path under `ray job submit`",
    )
    g.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster (HOST:PORT, ray://HOST:PORT or auto); default $RAY_ADDRESS (set inside "
        "`ray job submit`), else a fresh embedded runtime on this machine (listening on 127.0.0.1 "
        "only, no dashboard)",
    )
    g.add_argument(
        "--mlflow-uri",
        metavar="URI",
        help="MLflow tracking server or store (http://127.0.0.1:5000, sqlite:////abs/mlflow.db); "
        "default: a sqlite store in the study directory" + (" (must match the study's)" if resume else ""),
    )
    if not resume:
        g.add_argument(
            "--cpus-per-trial",
            type=_positive_number,
            default=1.0,
            metavar="N",
            help="CPUs per trial (default 1; also the trial's torch threads)",
        )
        g.add_argument(
            "--gpus-per-trial",
            type=_positive_number,
            default=None,
            metavar="F",
            help="GPUs per trial, any fraction (0.25 packs 4 trials per GPU); ignored with a message "
            "when the cluster has no GPU",
        )
    g.add_argument(
        "--max-failures",
        type=_COUNT0,
        default=2,
        metavar="K",
        help="retries of a crashed trial from its last checkpoint (default 2)",
    )
    g.add_argument(
        "--max-concurrent",
        type=_COUNT,
        default=None,
        metavar="N",
        help="at most N trials at once (default: as many as the resources allow)",
    )
    g.add_argument(
        "--num-cpus",
        type=_COUNT,
        default=None,
        metavar="N",
        help="CPUs of the embedded Ray runtime (default: all of this machine's)",
    )
    g.add_argument("--no-export", action="store_true", help="do not write the tables after the study")
    g.add_argument(
        "--progress-interval",
        type=_positive_number,
        default=30.0,
        metavar="S",
        help="seconds between summary lines when the output is not a terminal (default 30)",
    )
    g.add_argument("--verbose", action="store_true", help="forward the trials' own output")


def _add_common_study(p: argparse.ArgumentParser, *, seeds: bool | str = True, faults: bool = True) -> None:
    g = p.add_argument_group("the study")
    g.add_argument("--name", help="study name (default: derived from the study and preset)")
    if seeds:
        g.add_argument(
            "--seeds",
            default=None,
            metavar="N|S1,S2,...",
            help="seed count N (seeds 0..N-1; default 20, 2 with --smoke-test) or an explicit "
            "comma-separated list ('7,' = only seed 7); every arm runs the same seeds"
            + ("; or 'adaptive' (see below)" if seeds == "adaptive" else ""),
        )
    g.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="override a config field for every trial, e.g. --set train.max_steps=8 (repeatable)",
    )
    if faults:
        g.add_argument(
            "--fault",
            dest="faults",
            action="append",
            default=[],
            metavar="ARM/SEED:KIND@STEP",
            help="inject a fault into one trial (reliability tests): KIND nan, crash-once or exit-once, "
            "e.g. --fault p-adam/1:nan@5 (repeatable)",
        )
    g.add_argument(
        "--smoke-test",
        action="store_true",
        help="the smoke-scale presets (seconds per trial on one core) and fewer seeds",
    )
    g.add_argument(
        "--max-trials",
        type=_COUNT,
        default=MAX_TRIALS,
        metavar="N",
        help=f"refuse a study of more than N trials (default {MAX_TRIALS}: a typo such as --seeds 100000 "
        "would schedule hundreds of thousands); raise it when you mean it",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m study",
        description="Run SCRAPL studies on Ray Tune, logged to MLflow, exported as the paper's tables.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="run a study (or continue one with the same spec)", description="Run a study. " + EPILOG
    )
    studies = run.add_subparsers(dest="study", required=True, metavar="STUDY")

    p = studies.add_parser(
        "ablation",
        help="SCRAPL → +P-Adam → +P-SAGA → +θ-IS (Table 2/6), or --factorial",
        description="SCRAPL ablation: the paper's cumulative rows SCRAPL, +P-Adam, +P-SAGA, "
        "+θ-IS (Tables 2 and 6), or the full 2×2×2 factorial. " + EPILOG,
    )
    _add_common_study(p, seeds="adaptive")
    p.add_argument("--preset", default=None, help="preset (default granular; smoke-granular with --smoke-test)")
    p.add_argument("--factorial", action="store_true", help="all 8 combinations of P-Adam, P-SAGA, θ-IS")
    p.add_argument("--arms", type=csv_list, metavar="A,B,...", help="run only these arms (in this order)")
    p.add_argument("--from-hpo", metavar="NAME", help="apply the best config of HPO study NAME to every arm")
    cli_seeds.add_adaptive_options(p)
    _add_runtime(p)

    p = studies.add_parser(
        "losses",
        help="SCRAPL vs JTFS vs MSS variants vs P-loss (Table 1)",
        description="Loss comparison on one preset (Table 1): full JTFS, SCRAPL without and with "
        "θ-IS, MSS linear / log+linear / revisited / random, P-loss. " + EPILOG,
    )
    _add_common_study(p)
    p.add_argument("--preset", default=None, help="preset (default granular; smoke-granular with --smoke-test)")
    p.add_argument(
        "--jtfs-seeds",
        type=_COUNT,
        default=1,
        metavar="N",
        help="the expensive full-JTFS arm runs only the first N seeds (default 1, as in the paper)",
    )
    p.add_argument("--arms", type=csv_list, metavar="A,B,...", help="run only these arms (in this order)")
    p.add_argument("--from-hpo", metavar="NAME", help="apply the best config of HPO study NAME to every arm")
    _add_runtime(p)

    p = studies.add_parser(
        "theta-is",
        help="uniform vs θ-IS on the four chirplet configurations (Tables 3/7)",
        description="Uniform vs θ-IS path sampling (both with P-Adam + P-SAGA), one preset per "
        "chirplet configuration (Tables 3 and 7). π is computed once per preset. " + EPILOG,
    )
    _add_common_study(p, seeds="adaptive")
    p.add_argument(
        "--presets",
        type=csv_list,
        default=None,
        metavar="P1,P2,...",
        help="presets (default the four chirplet configurations; smoke-chirplet-* with --smoke-test)",
    )
    p.add_argument("--arms", type=csv_list, metavar="A,B", help="run only these arms (uniform, theta-is)")
    cli_seeds.add_adaptive_options(p)
    _add_runtime(p)

    p = studies.add_parser(
        "hpo",
        help="Optuna + ASHA over lr, batch size, weight decay, SCRAPL settings",
        description="Hyperparameter search (Optuna TPE + ASHA) for one arm on one preset and "
        "seed, with persistent Optuna storage (<study>/hpo/optuna.db). The best "
        "config goes to <study>/hpo/best.json; seed an ablation with "
        "`study run ablation --from-hpo NAME`. " + EPILOG,
    )
    _add_common_study(p, seeds=False, faults=False)
    p.add_argument("--preset", default=None, help="preset (default granular; smoke-granular with --smoke-test)")
    p.add_argument("--arm", default="p-adam+p-saga+theta-is", help="arm to tune (default p-adam+p-saga+theta-is)")
    p.add_argument("--seed", type=_COUNT0, default=0, help="the seed of every HPO trial (default 0)")
    p.add_argument(
        "--seeds-per-trial",
        type=_COUNT,
        default=1,
        metavar="K",
        help="train each configuration on the K paired seeds SEED..SEED+K-1 in lockstep and optimise "
        "their mean (ASHA on the mean curve); costs K times the compute per trial (default 1)",
    )
    p.add_argument(
        "--num-samples", type=_COUNT, default=None, metavar="N", help="Optuna trials (default 20; 4 with --smoke-test)"
    )
    _add_runtime(p)

    p = sub.add_parser(
        "resume",
        help="continue an interrupted study",
        description="Continue a study after a "
        "driver crash, `ray job stop` or Ctrl-C: finished trials are not re-run, the others resume "
        "from their last checkpoint. " + EPILOG,
    )
    p.add_argument("name", metavar="NAME")
    _add_runtime(p, resume=True)
    cli_seeds.add_extend_parser(sub, _add_runtime, EPILOG)

    p = sub.add_parser("list", help="list the studies", description="List the studies under the root directory.")
    p.add_argument("--root", type=Path, default=None, metavar="DIR", help="default $SCRAPL_STUDY_ROOT or ./studies")

    p = sub.add_parser(
        "status",
        help="trial-by-trial state of a study",
        description="Trial-by-trial state of a study, read from its MLflow store.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--root", type=Path, default=None, metavar="DIR", help="default $SCRAPL_STUDY_ROOT or ./studies")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser(
        "sync",
        help="replay MLflow calls spooled while the server was unreachable",
        description="Replay, in order and idempotently, the MLflow calls trials spooled while the "
        "tracking server was unreachable. Run it when the study is not running.",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--root", type=Path, default=None, metavar="DIR", help="default $SCRAPL_STUDY_ROOT or ./studies")
    return parser


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

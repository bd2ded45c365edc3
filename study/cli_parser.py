"""The argument parser of ``python -m study`` (``study.cli`` runs the commands it parses).

argparse only parses, applying the one range check an option's type implies (a count, a positive
number); everything else about the values is checked once, by ``Settings.check`` and the spec. Light:
argparse, ``common`` and the light study modules only, so ``--help`` and usage errors load neither
torch nor Ray nor MLflow.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from common.checks import check_positive
from common.parsing import csv_list, int_arg, key_value
from study import cli_seeds
from study.cli_checks import MAX_TRIALS

__all__ = ["EPILOG", "build_parser"]

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


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_size(text: str) -> int:
    """``9G``, ``512M``, ``1.5GiB`` or a number of bytes (binary units; ``B`` and ``iB`` optional) → bytes."""
    t = text.strip().upper()
    t = t.removesuffix("IB") if t.endswith("IB") else t.removesuffix("B")
    unit = t[-1:] if t[-1:] in _UNITS and t[-1:] else ""
    try:
        value = float(t[: len(t) - len(unit)]) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size such as 9G, 512M or bytes, got {text!r}") from None
    if not math.isfinite(value) or value > 2**60:
        raise argparse.ArgumentTypeError(f"expected a size such as 9G, 512M or bytes, got {text!r}")
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 byte, got {text!r}")
    return int(value)


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
            "--memory-per-trial",
            type=memory_size,
            default=None,
            metavar="SIZE",
            help="memory Ray reserves per trial and per θ-IS stage task (9G, 512M; Ray's `memory` resource): "
            "no more run on a node than its memory holds, instead of Ray's OOM killer stopping them "
            "(default: none reserved)",
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

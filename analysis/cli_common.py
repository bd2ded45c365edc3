"""What the ``python -m analysis`` commands share: argument groups (input source, arms, CI, output),
loading a per-seed table from a CSV or an MLflow study, arm order and labels, writing the result.

Heavy or optional dependencies (pandas through ``analysis.data``, mlflow) are imported inside the
functions that need them, so ``--help`` and argument errors stay fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.output import atomic_write_text
from common.parsing import POSITIVE, csv_list, int_arg

__all__ = [
    "EPILOG_SOURCE",
    "probability",
    "add_source",
    "add_arms",
    "add_ci",
    "add_output",
    "Loaded",
    "require_uri",
    "read_mlflow",
    "load_per_seed",
    "choose_arms",
    "arm_label_list",
    "ci_options",
    "ci_rng",
    "emit",
]

EPILOG_SOURCE = (
    "Input: --csv PER_SEED.csv (columns arm, seed, test_theta_l1, val_total_variation, "
    "convergence_step; empty convergence_step = never converged) or --study NAME --mlflow-uri URI "
    "(default URI: $MLFLOW_TRACKING_URI)."
)


def probability(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {value}")
    return value


def add_source(p: argparse.ArgumentParser, *, curves_only: bool = False) -> None:
    g = p.add_argument_group("input (one of)")
    src = g.add_mutually_exclusive_group(required=True)
    if curves_only:
        src.add_argument(
            "--curves",
            metavar="FILE",
            help="long validation-curve CSV (arm, seed, step, val_theta_l1 [, elapsed_s, preset, val_theta_l1_<name>])",
        )
    else:
        src.add_argument("--csv", metavar="FILE", help="per-seed CSV, one row per run")
    src.add_argument("--study", metavar="NAME", help="study name (MLflow experiment 'scrapl/NAME')")
    g.add_argument(
        "--mlflow-uri",
        metavar="URI",
        default=os.environ.get("MLFLOW_TRACKING_URI"),
        help="MLflow tracking URI, e.g. sqlite:////abs/mlflow.db or http://127.0.0.1:5000 "
        "(default: $MLFLOW_TRACKING_URI)",
    )
    g.add_argument(
        "--status",
        type=csv_list,
        default=["FINISHED"],
        metavar="S[,S]",
        help="MLflow run statuses to analyse (default FINISHED); others are listed as excluded",
    )
    if not curves_only:
        g.add_argument(
            "--curves",
            dest="curves_csv",
            metavar="FILE",
            help="with --csv: recompute TV and convergence steps from this long curve CSV "
            "(the per-seed CSV then needs only arm, seed, test_theta_l1)",
        )
        g.add_argument(
            "--from-curves",
            action="store_true",
            help="with --study: recompute TV and convergence steps from the MLflow metric "
            "histories instead of the runs' final metrics",
        )
    g.add_argument("--preset", help="analyse only the runs of this preset (needed when a source mixes presets)")


def add_arms(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--arms",
        type=csv_list,
        metavar="A,B,...",
        help="arms in table order (default: the study's order, else order of appearance)",
    )
    p.add_argument("--labels", type=csv_list, metavar="L1,L2,...", help="display names aligned with --arms")


def add_ci(p: argparse.ArgumentParser, default: str, choices: Sequence[str] = ("paper-z", "t", "bootstrap")) -> None:
    p.add_argument(
        "--ci",
        choices=choices,
        default=default,
        help=f"95 %% CI method (default {default}): paper-z = 1.96*std(ddof=0)/sqrt(n) (paper Table 2), "
        "t = Student-t with ddof=1 (paper Table 6), bootstrap = percentile bootstrap of the mean",
    )
    if "bootstrap" in choices:
        p.add_argument(
            "--bootstrap-resamples",
            type=int_arg(messages=POSITIVE),
            default=10_000,
            metavar="N",
            help="bootstrap resamples (default 10000)",
        )
        p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap generator (default 0)")


def add_output(p: argparse.ArgumentParser, formats: bool = True) -> None:
    if formats:
        p.add_argument(
            "--format",
            choices=("markdown", "latex", "csv"),
            default="markdown",
            help="output format (default markdown)",
        )
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")


@dataclass
class Loaded:
    """A command's input: the per-seed table or the curves, where they came from and the caption notes."""

    per_seed: Any  # a pandas DataFrame (pandas is imported only once a command runs)
    curves: Any = None
    source: str = ""
    arm_order: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    arm_labels: dict[str, str] | None = None


def require_uri(args) -> str:
    if not args.mlflow_uri:
        raise ValueError("--study needs --mlflow-uri (or $MLFLOW_TRACKING_URI)")
    uri = args.mlflow_uri
    if uri.startswith(("http://", "https://")):
        # fail fast on an unreachable server instead of MLflow's minutes of retries
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    return uri


def read_mlflow(args, *, curves: bool, from_curves: bool):
    """The study's runs from MLflow and caption notes about the runs left out."""
    from analysis.mlflow_source import read_study  # lazy: mlflow only for --study

    runs = read_study(
        require_uri(args), args.study, curves=curves, from_curves=from_curves, statuses=tuple(args.status)
    )
    notes = []
    if runs.excluded:
        notes.append(
            f"Not analysed ({len(runs.excluded)} trial run(s) with another status): " + "; ".join(runs.excluded) + "."
        )
        print(f"note: {len(runs.excluded)} trial run(s) not analysed: " + "; ".join(runs.excluded), file=sys.stderr)
    return runs, notes


def load_per_seed(args) -> Loaded:
    """The per-seed table of ``--csv`` (optionally with ``--curves``) or ``--study``."""
    from analysis import data  # lazy: pandas only once a command runs
    from analysis.schema import ARM_COLUMN, SEED_COLUMN, TEST_THETA_L1

    if args.study:
        if args.curves_csv:
            raise ValueError("--curves goes with --csv; with --study use --from-curves")
        runs, notes = read_mlflow(args, curves=False, from_curves=args.from_curves)
        if args.from_curves:
            notes.append("TV and convergence steps recomputed from the MLflow metric histories.")
        loaded = Loaded(runs.per_seed, None, runs.source, runs.arm_order, notes, runs.arm_labels)
    else:
        if args.from_curves:
            raise ValueError("--from-curves goes with --study; with --csv use --curves FILE")
        notes = []
        if args.curves_csv:
            per_seed = data.load_per_seed_csv(args.csv, required=(ARM_COLUMN, SEED_COLUMN, TEST_THETA_L1))
            curves = data.load_curves_csv(args.curves_csv)
            per_seed = data.with_curve_summaries(per_seed, curves, source=f"{args.csv} + {args.curves_csv}")
            notes.append(
                f"TV and convergence steps recomputed from the validation curves in "
                f"{os.path.basename(args.curves_csv)}."
            )
        else:
            per_seed = data.load_per_seed_csv(args.csv)
        loaded = Loaded(per_seed, None, str(args.csv), None, notes)
    return loaded


def choose_arms(args, loaded: Loaded, df) -> list[str]:
    """--arms, else the study's order, else the order of appearance."""
    from analysis.pairing import arms_in_order  # lazy: pandas only once a command runs

    if args.arms:
        return args.arms
    if args.labels:
        raise ValueError("--labels needs --arms (the labels align with the arms)")
    present = arms_in_order(df)
    if loaded.arm_order:
        return [a for a in loaded.arm_order if a in present] + [a for a in present if a not in loaded.arm_order]
    return present


def arm_label_list(args, loaded: Loaded, arms: list[str]) -> list[str] | None:
    """--labels, else the study's own labels (parent-run tag ``ARM_LABELS``) for ``arms``, else None."""
    if args.labels or not loaded.arm_labels:
        return args.labels
    return [loaded.arm_labels.get(a, a) for a in arms]


def ci_rng(args):
    """The bootstrap generator (seeded by --seed) when --ci bootstrap, else None."""
    return np.random.default_rng(args.seed) if getattr(args, "ci", None) == "bootstrap" else None


def ci_options(args) -> dict:
    """The interval keywords of the table builders from ``add_ci``'s options: ``ci``, ``rng``,
    ``n_resamples`` and ``rng_seed`` (the bootstrap's seed, shown in the caption)."""
    return {
        "ci": args.ci,
        "rng": ci_rng(args),
        "n_resamples": args.bootstrap_resamples,
        "rng_seed": args.seed if args.ci == "bootstrap" else None,
    }


def emit(text: str, out: str | None) -> None:
    """Write ``text`` to ``out`` atomically, or to stdout."""
    if out:
        atomic_write_text(out, text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)

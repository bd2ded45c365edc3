"""``python -m analysis table tr808``: paper Tables 4/8/9 from a TR-808 per-seed CSV or TR-808 studies."""

from __future__ import annotations

import argparse
import os

from analysis.cli_common import (
    Loaded,
    add_arms,
    add_ci,
    add_output,
    arm_label_list,
    choose_arms,
    ci_options,
    emit,
    require_uri,
)
from analysis.render import render
from common.parsing import csv_list

__all__ = ["add_tr808_command", "cmd_tr808"]


def add_tr808_command(tsub: argparse._SubParsersAction) -> None:
    """Add ``tr808`` to the ``table`` subcommands ``tsub``."""
    p = tsub.add_parser(
        "tr808",
        help="Tables 4/8/9 style: TR-808 metrics x {micro, meso} per arm",
        description="TR-808 style (paper Tables 4, 8, 9): one row per arm, one column per metric and "
        "setting (micro, meso), mean ± 95% CI over runs. Input: per-seed CSV with arm, "
        "seed, setting (or a preset containing micro/meso) and test_* metric columns "
        "(see analysis.tables808).",
    )
    g = p.add_argument_group("input (one of)")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", metavar="FILE", help="TR-808 per-seed CSV, one row per run")
    src.add_argument(
        "--study",
        type=csv_list,
        metavar="NAME[,NAME]",
        help="study name(s) (MLflow experiments 'scrapl/NAME') on one tracking server, e.g. a "
        "tr808-micro and a tr808-meso study; the setting of a run is micro when its "
        "synth.max_shift is 0, else meso",
    )
    g.add_argument(
        "--mlflow-uri",
        metavar="URI",
        default=os.environ.get("MLFLOW_TRACKING_URI"),
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)",
    )
    g.add_argument(
        "--status",
        type=csv_list,
        default=["FINISHED"],
        metavar="S[,S]",
        help="MLflow run statuses to analyse (default FINISHED)",
    )
    add_arms(p)
    add_ci(p, "paper-z")
    p.add_argument(
        "--group",
        choices=("audio", "transient", "decay", "all"),
        default="audio",
        help="audio = Table 4 (MSS, JTFS, FAD), transient = Table 8, decay = Table 9, or all (default audio)",
    )
    p.add_argument("--metrics", type=csv_list, metavar="COL,...", help="explicit metric columns (overrides --group)")
    p.add_argument(
        "--settings",
        type=csv_list,
        default=["micro", "meso"],
        metavar="S,...",
        help="settings in column order (default micro,meso)",
    )
    p.add_argument(
        "--reference-arms",
        type=csv_list,
        default=[],
        metavar="A,...",
        help="arms shown but not competing for the bold best value",
    )
    p.add_argument("--scale", type=float, default=1.0, help="multiply every value and CI (default 1 = raw units)")
    add_output(p)


def cmd_tr808(args) -> None:
    from analysis import tables808  # lazy: pandas/scipy only once a command runs

    if args.study:
        import pandas as pd  # lazy: pandas and mlflow only for --study

        from analysis.mlflow_source import read_study
        from analysis.schema import ARM_COLUMN, SEED_COLUMN

        read = [
            read_study(require_uri(args), name, statuses=tuple(args.status), required=(ARM_COLUMN, SEED_COLUMN))
            for name in dict.fromkeys(args.study)
        ]
        source = "; ".join(r.source for r in read)
        df = tables808.validate_tr808(pd.concat([r.per_seed for r in read], ignore_index=True), source=source)
        study_labels = {a: lab for r in read for a, lab in (r.arm_labels or {}).items()}
        loaded = Loaded(df, None, source, read[0].arm_order, arm_labels=study_labels or None)
    else:
        df = tables808.load_tr808_csv(args.csv)
        loaded = Loaded(df, None, str(args.csv))
    arms = choose_arms(args, loaded, df)
    table = tables808.tr808_table(
        df,
        arms,
        group=args.group,
        metrics=args.metrics,
        settings=args.settings,
        labels=arm_label_list(args, loaded, arms),
        reference_arms=args.reference_arms,
        scale=args.scale,
        **ci_options(args),
    )
    emit(render(table, args.format), args.out)

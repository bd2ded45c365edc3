"""``python -m analysis``: paper-style tables, seed planning, plots and CSV export.

Every command reads either a per-seed CSV (``--csv``) or a study from MLflow (``--study NAME
--mlflow-uri URI``), prints to stdout unless ``--out`` is given (then writes atomically), and exits
with status 1 and a one-paragraph ``error:`` message on bad input. Heavy or optional dependencies
(mlflow, matplotlib) are imported only by the commands that need them.

One module per command family: ``cli_tables`` (``table``, ``plan-seeds``), ``cli_plots`` (``plot``);
this one holds ``report``, ``export`` and the entry point; ``cli_common`` what they share.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from analysis import cli_plots, cli_tables
from analysis.cli_common import (
    EPILOG_SOURCE,
    add_arms,
    add_source,
    arm_label_list,
    choose_arms,
    load_per_seed,
    require_uri,
)
from analysis.output import atomic_paths, atomic_write_text
from analysis.schema import CONVERGENCE_STEP
from common.parsing import csv_list

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Paper-style tables, paired statistics, seed planning, plots and CSV export for SCRAPL studies.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cli_tables.add_commands(sub)
    cli_plots.add_commands(sub)

    p = sub.add_parser(
        "report",
        help="write the ablation and deltas tables in every format to a directory",
        description="Write ablation.{md,tex,csv} and, with two or more arms, deltas.{md,tex,csv} "
        "(paper default CIs) into --out-dir, all atomically.",
        epilog=EPILOG_SOURCE,
    )
    add_source(p)
    add_arms(p)
    p.add_argument("--drop-unpaired", action="store_true", help="deltas: use only the seeds both arms have")
    p.add_argument(
        "--out-dir", required=True, metavar="DIR", help="directory for the table files (created when missing)"
    )

    p = sub.add_parser(
        "export",
        help="dump a study's per-seed CSV (and curves) from MLflow",
        description="Write the per-seed CSV (one row per FINISHED trial run) of an MLflow study, "
        "optionally the long curve CSV; files are written atomically.",
    )
    p.add_argument("--study", required=True, metavar="NAME")
    p.add_argument("--mlflow-uri", metavar="URI", default=os.environ.get("MLFLOW_TRACKING_URI"))
    p.add_argument("--status", type=csv_list, default=["FINISHED"], metavar="S[,S]")
    p.add_argument(
        "--from-curves", action="store_true", help="recompute TV and convergence steps from the metric histories"
    )
    p.add_argument("--out", metavar="FILE", help="per-seed CSV (default: stdout)")
    p.add_argument("--curves-out", metavar="FILE", help="also write the long validation-curve CSV here")
    return parser


def _cmd_report(args) -> None:
    from analysis.pairing import select_preset  # lazy: pandas only once a command runs
    from analysis.report import write_tables

    loaded = load_per_seed(args)
    df = select_preset(loaded.per_seed, args.preset, loaded.source)
    arms = choose_arms(args, loaded, df)
    for path in write_tables(
        df,
        args.out_dir,
        arms=arms,
        labels=arm_label_list(args, loaded, arms),
        drop_unpaired=args.drop_unpaired,
        notes=loaded.notes,
    ):
        print(path)


def _integer_steps(df):
    """Convergence-step columns as nullable integers, so the CSV says 192, not 192.0."""
    out = df.copy()
    for column in out.columns:
        values = out[column]
        if column.startswith(CONVERGENCE_STEP) and (values.dropna() % 1 == 0).all():
            out[column] = values.astype("Int64")
    return out


def _cmd_export(args) -> None:
    from analysis.mlflow_source import read_study  # lazy: mlflow only for this command

    want_curves = bool(args.curves_out)
    runs = read_study(
        require_uri(args), args.study, curves=want_curves, from_curves=args.from_curves, statuses=tuple(args.status)
    )
    if runs.excluded:
        print(f"note: {len(runs.excluded)} trial run(s) not exported: " + "; ".join(runs.excluded), file=sys.stderr)
    text = _integer_steps(runs.per_seed).to_csv(index=False)
    if not args.out:
        if want_curves:
            assert runs.curves is not None  # read with curves=True
            atomic_write_text(args.curves_out, runs.curves.to_csv(index=False))
        sys.stdout.write(text)
        return
    targets = [args.out] + ([args.curves_out] if want_curves else [])
    with atomic_paths(targets) as temps:
        temps[0].write_text(text, encoding="utf-8")
        if want_curves:
            assert runs.curves is not None  # read with curves=True
            runs.curves.to_csv(temps[1], index=False)
    for t in targets:
        print(f"wrote {t}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 bad input, 2 bad usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "table": cli_tables.cmd_table,
        "plan-seeds": cli_tables.cmd_plan_seeds,
        "plot": cli_plots.cmd_plot,
        "report": _cmd_report,
        "export": _cmd_export,
    }
    try:
        handlers[args.command](args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0

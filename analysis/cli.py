"""``python -m analysis``: paper-style tables, seed planning, plots and CSV export.

Every command reads either a per-seed CSV (``--csv``) or a study from MLflow (``--study NAME
--mlflow-uri URI``), prints to stdout unless ``--out`` is given (then writes atomically), and exits
with status 1 and a one-paragraph ``error:`` message on bad input. Heavy or optional dependencies
(mlflow, matplotlib) are imported only by the commands that need them.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from common.parsing import POSITIVE, csv_list, int_arg

__all__ = ["main", "build_parser"]

_EPILOG_SOURCE = ("Input: --csv PER_SEED.csv (columns arm, seed, test_theta_l1, val_total_variation, "
                  "convergence_step; empty convergence_step = never converged) or --study NAME --mlflow-uri URI "
                  "(default URI: $MLFLOW_TRACKING_URI).")


# --- argument helpers -------------------------------------------------------------------------------
def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {value}")
    return value


def _add_source(p: argparse.ArgumentParser, *, curves_only: bool = False) -> None:
    g = p.add_argument_group("input (one of)")
    src = g.add_mutually_exclusive_group(required=True)
    if curves_only:
        src.add_argument("--curves", metavar="FILE", help="long validation-curve CSV "
                         "(arm, seed, step, val_theta_l1 [, elapsed_s, preset, val_theta_l1_<name>])")
    else:
        src.add_argument("--csv", metavar="FILE", help="per-seed CSV, one row per run")
    src.add_argument("--study", metavar="NAME", help="study name (MLflow experiment 'scrapl/NAME')")
    g.add_argument("--mlflow-uri", metavar="URI", default=os.environ.get("MLFLOW_TRACKING_URI"),
                   help="MLflow tracking URI, e.g. sqlite:////abs/mlflow.db or http://127.0.0.1:5000 "
                        "(default: $MLFLOW_TRACKING_URI)")
    g.add_argument("--status", type=csv_list, default=["FINISHED"], metavar="S[,S]",
                   help="MLflow run statuses to analyse (default FINISHED); others are listed as excluded")
    if not curves_only:
        g.add_argument("--curves", dest="curves_csv", metavar="FILE",
                       help="with --csv: recompute TV and convergence steps from this long curve CSV "
                            "(the per-seed CSV then needs only arm, seed, test_theta_l1)")
        g.add_argument("--from-curves", action="store_true",
                       help="with --study: recompute TV and convergence steps from the MLflow metric "
                            "histories instead of the runs' final metrics")
    g.add_argument("--preset", help="analyse only the runs of this preset (needed when a source mixes presets)")


def _add_arms(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arms", type=csv_list, metavar="A,B,...",
                   help="arms in table order (default: the study's order, else order of appearance)")
    p.add_argument("--labels", type=csv_list, metavar="L1,L2,...",
                   help="display names aligned with --arms")


def _add_ci(p: argparse.ArgumentParser, default: str, choices: Sequence[str] = ("paper-z", "t", "bootstrap")) -> None:
    p.add_argument("--ci", choices=choices, default=default,
                   help=f"95 %% CI method (default {default}): paper-z = 1.96*std(ddof=0)/sqrt(n) (paper Table 2), "
                        "t = Student-t with ddof=1 (paper Table 6), bootstrap = percentile bootstrap of the mean")
    if "bootstrap" in choices:
        p.add_argument("--bootstrap-resamples", type=int_arg(messages=POSITIVE), default=10_000, metavar="N",
                       help="bootstrap resamples (default 10000)")
        p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap generator (default 0)")


def _add_output(p: argparse.ArgumentParser, formats: bool = True) -> None:
    if formats:
        p.add_argument("--format", choices=("markdown", "latex", "csv"), default="markdown",
                       help="output format (default markdown)")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analysis",
                                     description="Paper-style tables, paired statistics, seed planning, plots "
                                                 "and CSV export for SCRAPL studies.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    table = sub.add_parser("table", help="paper-style tables (ablation, deltas, theta-is, tr808)",
                           description="Paper-style tables as Markdown, LaTeX (booktabs) or CSV.")
    tsub = table.add_subparsers(dest="table", required=True, metavar="TABLE")

    p = tsub.add_parser("ablation", help="Table 2 style: one row per arm, mean ± CI",
                        description="Table 2 style: per arm test θ L1 (×1000), validation TV (×1000), "
                                    "convergence steps (converged runs only) and convergence rate, mean ± 95% CI. "
                                    "Single-run arms print the value without a CI.", epilog=_EPILOG_SOURCE)
    _add_source(p)
    _add_arms(p)
    _add_ci(p, "paper-z")
    p.add_argument("--params", type=csv_list, default=[], metavar="NAME,...",
                   help="also show per-parameter test L1 columns test_theta_l1_<NAME>")
    p.add_argument("--reference-arms", type=csv_list, default=[], metavar="A,...",
                   help="arms shown but not competing for the bold best value (e.g. JTFS,P-loss)")
    p.add_argument("--paper", action="store_true", help="paper-identical columns (drops the CR column)")
    _add_output(p)

    p = tsub.add_parser("deltas", help="Table 6 style: each arm vs the previous one, paired by seed",
                        description="Table 6 style: Δ = later − earlier arm, paired by seed, ± 95% CI "
                                    "(Student-t by default) with the paired t-test p; plus Holm-adjusted p, d_z "
                                    "and Wilcoxon p unless --paper.", epilog=_EPILOG_SOURCE)
    _add_source(p)
    _add_arms(p)
    _add_ci(p, "t")
    p.add_argument("--paper", action="store_true",
                   help="paper-identical table: drop the adjusted-p, d_z and Wilcoxon columns")
    p.add_argument("--drop-unpaired", action="store_true",
                   help="use only the seeds both arms have (default: refuse unpaired data); the caption says so")
    p.add_argument("--correction", default="holm", choices=("holm", "bonferroni"),
                   help="multiple-comparison correction of the extra column (default holm)")
    _add_output(p)

    p = tsub.add_parser("theta-is", help="Tables 3/7 style: arms per configuration and synth parameter",
                        description="Tables 3/7 style: for each configuration (preset) and arm (e.g. uniform, "
                                    "theta_is), per synth parameter: test L1 ± CI (×1000), convergence rate and "
                                    "convergence steps ± CI. Needs test_theta_l1_<p> and convergence_step_<p> columns.",
                        epilog=_EPILOG_SOURCE)
    _add_source(p)
    _add_arms(p)
    _add_ci(p, "paper-z")
    p.add_argument("--params", type=csv_list, metavar="NAME,...",
                   help="synth parameters (default: every NAME with test_theta_l1_NAME and convergence_step_NAME)")
    p.add_argument("--configs", type=csv_list, metavar="PRESET,...",
                   help="configurations (presets) in row order (default: order of appearance)")
    _add_output(p)

    p = tsub.add_parser("tr808", help="Tables 4/8/9 style: TR-808 metrics x {micro, meso} per arm",
                        description="TR-808 style (paper Tables 4, 8, 9): one row per arm, one column per metric and "
                                    "setting (micro, meso), mean ± 95% CI over runs. Input: per-seed CSV with arm, "
                                    "seed, setting (or a preset containing micro/meso) and test_* metric columns "
                                    "(see analysis.tables808).")
    g = p.add_argument_group("input (one of)")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", metavar="FILE", help="TR-808 per-seed CSV, one row per run")
    src.add_argument("--study", type=csv_list, metavar="NAME[,NAME]",
                     help="study name(s) (MLflow experiments 'scrapl/NAME') on one tracking server, e.g. a "
                          "tr808-micro and a tr808-meso study; the setting of a run is micro when its "
                          "synth.max_shift is 0, else meso")
    g.add_argument("--mlflow-uri", metavar="URI", default=os.environ.get("MLFLOW_TRACKING_URI"),
                   help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)")
    g.add_argument("--status", type=csv_list, default=["FINISHED"], metavar="S[,S]",
                   help="MLflow run statuses to analyse (default FINISHED)")
    _add_arms(p)
    _add_ci(p, "paper-z")
    p.add_argument("--group", choices=("audio", "transient", "decay", "all"), default="audio",
                   help="audio = Table 4 (MSS, JTFS, FAD), transient = Table 8, decay = Table 9, or all (default audio)")
    p.add_argument("--metrics", type=csv_list, metavar="COL,...", help="explicit metric columns (overrides --group)")
    p.add_argument("--settings", type=csv_list, default=["micro", "meso"], metavar="S,...",
                   help="settings in column order (default micro,meso)")
    p.add_argument("--reference-arms", type=csv_list, default=[], metavar="A,...",
                   help="arms shown but not competing for the bold best value")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every value and CI (default 1 = raw units)")
    _add_output(p)

    p = sub.add_parser("plan-seeds", help="seeds needed for 80%% power from a pilot's paired differences",
                       description="From a pilot study: for each consecutive pair of arms and metric, d_z of the "
                                   "paired differences and the number of seeds a two-sided paired t-test needs to "
                                   "reach the power at the Holm/Bonferroni-adjusted alpha (statsmodels TTestPower).",
                       epilog=_EPILOG_SOURCE)
    _add_source(p)
    _add_arms(p)
    p.add_argument("--metrics", type=csv_list,
                   default=["test_theta_l1", "val_total_variation", "convergence_step"], metavar="M,...",
                   help="per-seed columns to plan for (default test_theta_l1,val_total_variation,convergence_step)")
    p.add_argument("--alpha", type=_probability, default=0.05, help="family-wise alpha (default 0.05)")
    p.add_argument("--power", type=_probability, default=0.8, help="target power (default 0.8)")
    p.add_argument("--correction", choices=("holm", "bonferroni", "none"), default="holm",
                   help="how alpha is split over the comparisons (default holm = alpha/m at the strictest step)")
    p.add_argument("--drop-unpaired", action="store_true", help="use only the seeds both arms have")
    _add_output(p)

    plot = sub.add_parser("plot", help="figures (PNG + PDF): curves, cost, paths",
                          description="Figures written as OUT.png and OUT.pdf.")
    psub = plot.add_subparsers(dest="plot", required=True, metavar="PLOT")
    p = psub.add_parser("curves", help="validation curves, mean ± 95%% CI band per arm",
                        description="Validation θ L1 (×1000) per arm, mean ± 95% CI band over seeds, against "
                                    "training steps and/or wall-clock time (mean elapsed_s at each step).")
    _add_source(p, curves_only=True)
    _add_arms(p)
    _add_ci(p, "t", choices=("t", "paper-z"))
    p.add_argument("--x", choices=("step", "elapsed", "both"), default="both",
                   help="x axis: training steps, wall-clock seconds, or both panels (default)")
    p.add_argument("--param", metavar="NAME", help="plot the per-parameter curve val_theta_l1_NAME")
    p.add_argument("--title")
    p.add_argument("--out", required=True, metavar="OUT", help="output stem: writes OUT.png and OUT.pdf")

    p = psub.add_parser("cost", help="accuracy vs cost scatter with CI whiskers",
                        description="Test θ L1 (×1000) against seconds per training step (1/steps_per_second), "
                                    "mean ± 95% CI whiskers per arm.", epilog=_EPILOG_SOURCE)
    _add_source(p)
    _add_arms(p)
    _add_ci(p, "t")
    p.add_argument("--relative-to", metavar="ARM", help="divide both axes by this arm's means")
    p.add_argument("--log-x", action="store_true", help="logarithmic cost axis")
    p.add_argument("--title")
    p.add_argument("--out", required=True, metavar="OUT", help="output stem: writes OUT.png and OUT.pdf")

    p = psub.add_parser("paths", help="θ-IS path probabilities over the (rate, scale) grid",
                        description="P·π (1 = uniform) over the (temporal rate Hz, frequential scale cycles/octave) "
                                    "grid. π: .npy (1-D float array) or .json (list, or {\"pi\": list}); path table: "
                                    "JSON list of {index, n2, n_fr, spin, rate_hz, scale_cyc_per_oct}.")
    g = p.add_argument_group("input (one of)")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--pi", metavar="FILE", help="π file (.npy or .json); needs --paths")
    src.add_argument("--study", metavar="NAME", help="read π and the path table from the study's parent run")
    g.add_argument("--paths", metavar="FILE", help="path table JSON (with --pi)")
    g.add_argument("--mlflow-uri", metavar="URI", default=os.environ.get("MLFLOW_TRACKING_URI"))
    g.add_argument("--preset", help="with --study: whose π (needed when the study has several)")
    p.add_argument("--title")
    p.add_argument("--out", required=True, metavar="OUT", help="output stem: writes OUT.png and OUT.pdf")

    p = sub.add_parser("report", help="write the ablation and deltas tables in every format to a directory",
                       description="Write ablation.{md,tex,csv} and, with two or more arms, deltas.{md,tex,csv} "
                                   "(paper default CIs) into --out-dir, all atomically.", epilog=_EPILOG_SOURCE)
    _add_source(p)
    _add_arms(p)
    p.add_argument("--drop-unpaired", action="store_true", help="deltas: use only the seeds both arms have")
    p.add_argument("--out-dir", required=True, metavar="DIR", help="directory for the table files (created when missing)")

    p = sub.add_parser("export", help="dump a study's per-seed CSV (and curves) from MLflow",
                       description="Write the per-seed CSV (one row per FINISHED trial run) of an MLflow study, "
                                   "optionally the long curve CSV; files are written atomically.")
    p.add_argument("--study", required=True, metavar="NAME")
    p.add_argument("--mlflow-uri", metavar="URI", default=os.environ.get("MLFLOW_TRACKING_URI"))
    p.add_argument("--status", type=csv_list, default=["FINISHED"], metavar="S[,S]")
    p.add_argument("--from-curves", action="store_true",
                   help="recompute TV and convergence steps from the metric histories")
    p.add_argument("--out", metavar="FILE", help="per-seed CSV (default: stdout)")
    p.add_argument("--curves-out", metavar="FILE", help="also write the long validation-curve CSV here")
    return parser


# --- loading ----------------------------------------------------------------------------------------
@dataclass
class _Loaded:
    per_seed: object
    curves: object = None
    source: str = ""
    arm_order: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    arm_labels: dict[str, str] | None = None


def _require_uri(args) -> str:
    if not args.mlflow_uri:
        raise ValueError("--study needs --mlflow-uri (or $MLFLOW_TRACKING_URI)")
    uri = args.mlflow_uri
    if uri.startswith(("http://", "https://")):
        # fail fast on an unreachable server instead of MLflow's minutes of retries
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    return uri


def _read_mlflow(args, *, curves: bool, from_curves: bool):
    from analysis.mlflow_source import read_study

    runs = read_study(_require_uri(args), args.study, curves=curves, from_curves=from_curves,
                      statuses=tuple(args.status))
    notes = []
    if runs.excluded:
        notes.append(f"Not analysed ({len(runs.excluded)} trial run(s) with another status): "
                     + "; ".join(runs.excluded) + ".")
        print(f"note: {len(runs.excluded)} trial run(s) not analysed: " + "; ".join(runs.excluded),
              file=sys.stderr)
    return runs, notes


def _load_per_seed(args) -> _Loaded:
    from analysis import data
    from analysis.schema import ARM_COLUMN, SEED_COLUMN, TEST_THETA_L1

    if args.study:
        if args.curves_csv:
            raise ValueError("--curves goes with --csv; with --study use --from-curves")
        runs, notes = _read_mlflow(args, curves=False, from_curves=args.from_curves)
        if args.from_curves:
            notes.append("TV and convergence steps recomputed from the MLflow metric histories.")
        loaded = _Loaded(runs.per_seed, None, runs.source, runs.arm_order, notes, runs.arm_labels)
    else:
        if args.from_curves:
            raise ValueError("--from-curves goes with --study; with --csv use --curves FILE")
        notes = []
        if args.curves_csv:
            per_seed = data.load_per_seed_csv(args.csv, required=(ARM_COLUMN, SEED_COLUMN, TEST_THETA_L1))
            curves = data.load_curves_csv(args.curves_csv)
            per_seed = data.with_curve_summaries(per_seed, curves, source=f"{args.csv} + {args.curves_csv}")
            notes.append(f"TV and convergence steps recomputed from the validation curves in "
                         f"{os.path.basename(args.curves_csv)}.")
        else:
            per_seed = data.load_per_seed_csv(args.csv)
        loaded = _Loaded(per_seed, None, str(args.csv), None, notes)
    return loaded


def _arms(args, loaded: _Loaded, df) -> list[str]:
    from analysis import data

    if args.arms:
        return args.arms
    if args.labels:
        raise ValueError("--labels needs --arms (the labels align with the arms)")
    present = data.arms_in_order(df)
    if loaded.arm_order:
        return [a for a in loaded.arm_order if a in present] + [a for a in present if a not in loaded.arm_order]
    return present


def _labels(args, loaded: _Loaded, arms: list[str]) -> list[str] | None:
    """--labels, else the study's own labels (parent-run tag ``ARM_LABELS``) for ``arms``, else None."""
    if args.labels or not loaded.arm_labels:
        return args.labels
    return [loaded.arm_labels.get(a, a) for a in arms]


def _rng(args):
    return np.random.default_rng(args.seed) if getattr(args, "ci", None) == "bootstrap" else None


def _emit(text: str, out: str | None) -> None:
    from analysis.output import atomic_write_text

    if out:
        atomic_write_text(out, text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


# --- commands ---------------------------------------------------------------------------------------
def _cmd_table(args) -> None:
    from analysis import data, tables
    from analysis.render import render

    if args.table == "tr808":
        from analysis import tables808

        if args.study:
            import pandas as pd

            from analysis.mlflow_source import read_study
            from analysis.schema import ARM_COLUMN, SEED_COLUMN

            read = [read_study(_require_uri(args), name, statuses=tuple(args.status),
                               required=(ARM_COLUMN, SEED_COLUMN)) for name in dict.fromkeys(args.study)]
            source = "; ".join(r.source for r in read)
            df = tables808.validate_tr808(pd.concat([r.per_seed for r in read], ignore_index=True), source=source)
            study_labels = {a: lab for r in read for a, lab in (r.arm_labels or {}).items()}
            loaded = _Loaded(df, None, source, read[0].arm_order, arm_labels=study_labels or None)
        else:
            df = tables808.load_tr808_csv(args.csv)
            loaded = _Loaded(df, None, str(args.csv))
        arms = _arms(args, loaded, df)
        table = tables808.tr808_table(df, arms, group=args.group, metrics=args.metrics, settings=args.settings,
                                      labels=_labels(args, loaded, arms), ci=args.ci, rng=_rng(args),
                                      n_resamples=args.bootstrap_resamples,
                                      rng_seed=args.seed if args.ci == "bootstrap" else None,
                                      reference_arms=args.reference_arms, scale=args.scale)
        _emit(render(table, args.format), args.out)
        return
    loaded = _load_per_seed(args)
    df = loaded.per_seed
    common = dict(ci=args.ci, rng=_rng(args), n_resamples=args.bootstrap_resamples,
                  rng_seed=args.seed if args.ci == "bootstrap" else None, notes=loaded.notes)
    if args.table == "theta-is":
        if args.preset:
            df = data.select_preset(df, args.preset, loaded.source)
        arms = _arms(args, loaded, df)
        params = args.params
        if params is None:
            from analysis.schema import CONVERGENCE_STEP, per_param
            params = [p for p in data.param_names(df) if per_param(CONVERGENCE_STEP, p) in df.columns]
        table = tables.theta_is_table(df, arms, params, configs=args.configs, labels=_labels(args, loaded, arms),
                                      **common)
    else:
        df = data.select_preset(df, args.preset, loaded.source)
        arms = _arms(args, loaded, df)
        if args.table == "ablation":
            table = tables.ablation_table(df, arms, paper=args.paper, reference_arms=args.reference_arms,
                                          params=args.params, labels=_labels(args, loaded, arms), **common)
        else:
            table = tables.deltas_table(df, arms, paper=args.paper, drop_unpaired=args.drop_unpaired,
                                        correction=args.correction, labels=_labels(args, loaded, arms), **common)
    _emit(render(table, args.format), args.out)


def _cmd_plan_seeds(args) -> None:
    from analysis import data, tables
    from analysis.render import render

    loaded = _load_per_seed(args)
    df = data.select_preset(loaded.per_seed, args.preset, loaded.source)
    arms = _arms(args, loaded, df)
    table = tables.plan_seeds_table(df, arms, labels=_labels(args, loaded, arms), metrics=args.metrics,
                                    alpha=args.alpha, power=args.power, correction=args.correction,
                                    drop_unpaired=args.drop_unpaired, notes=loaded.notes)
    _emit(render(table, args.format), args.out)


def _cmd_plot(args) -> None:
    from analysis import data

    if args.plot == "paths":
        from analysis import plots, theta_is

        if args.pi:
            if not args.paths:
                raise ValueError("--pi needs --paths (the path table JSON)")
            pi = theta_is.load_pi(args.pi)
            table = theta_is.load_path_table(args.paths, n_paths=pi.size)
            fig = plots.plot_paths(pi, table, title=args.title)
        else:
            from analysis.mlflow_source import download_pi

            if args.paths:
                raise ValueError("--paths goes with --pi; with --study the path table comes from MLflow")
            with tempfile.TemporaryDirectory() as tmp:
                pi_file, paths_file = download_pi(_require_uri(args), args.study, tmp, args.preset)
                pi = theta_is.load_pi(pi_file)
                table = theta_is.load_path_table(paths_file, n_paths=pi.size)
            fig = plots.plot_paths(pi, table, title=args.title)
        written = plots.save_figure(fig, args.out)
    elif args.plot == "curves":
        from analysis import plots
        from analysis.schema import VAL_THETA_L1, per_param

        if args.study:
            runs, _ = _read_mlflow(args, curves=True, from_curves=False)
            curves, order = runs.curves, runs.arm_order
            loaded = _Loaded(None, curves, runs.source, order, arm_labels=runs.arm_labels)
        else:
            curves = data.load_curves_csv(args.curves)
            loaded = _Loaded(None, curves, args.curves)
        curves = data.select_preset(curves, args.preset, loaded.source)
        column = per_param(VAL_THETA_L1, args.param) if args.param else VAL_THETA_L1
        arms = _arms(args, loaded, curves)
        fig = plots.plot_curves(curves, arms, labels=_labels(args, loaded, arms), x=args.x,
                                column=column, ci=args.ci, title=args.title)
        written = plots.save_figure(fig, args.out)
    else:
        from analysis import plots

        loaded = _load_per_seed(args)
        df = data.select_preset(loaded.per_seed, args.preset, loaded.source)
        arms = _arms(args, loaded, df)
        fig = plots.plot_cost(df, arms, labels=_labels(args, loaded, arms), ci=args.ci, rng=_rng(args),
                              relative_to=args.relative_to, log_x=args.log_x, title=args.title)
        written = plots.save_figure(fig, args.out)
    for path in written:
        print(path)


def _cmd_report(args) -> None:
    from analysis import data
    from analysis.report import write_tables

    loaded = _load_per_seed(args)
    df = data.select_preset(loaded.per_seed, args.preset, loaded.source)
    arms = _arms(args, loaded, df)
    for path in write_tables(df, args.out_dir, arms=arms, labels=_labels(args, loaded, arms),
                             drop_unpaired=args.drop_unpaired, notes=loaded.notes):
        print(path)


def _integer_steps(df):
    """Convergence-step columns as nullable integers, so the CSV says 192, not 192.0."""
    from analysis.schema import CONVERGENCE_STEP

    out = df.copy()
    for column in out.columns:
        values = out[column]
        if column.startswith(CONVERGENCE_STEP) and (values.dropna() % 1 == 0).all():
            out[column] = values.astype("Int64")
    return out


def _cmd_export(args) -> None:
    from analysis.mlflow_source import read_study
    from analysis.output import atomic_paths

    want_curves = bool(args.curves_out)
    runs = read_study(_require_uri(args), args.study, curves=want_curves, from_curves=args.from_curves,
                      statuses=tuple(args.status))
    if runs.excluded:
        print(f"note: {len(runs.excluded)} trial run(s) not exported: " + "; ".join(runs.excluded),
              file=sys.stderr)
    text = _integer_steps(runs.per_seed).to_csv(index=False)
    if not args.out:
        if want_curves:
            from analysis.output import atomic_write_text
            atomic_write_text(args.curves_out, runs.curves.to_csv(index=False))
        sys.stdout.write(text)
        return
    targets = [args.out] + ([args.curves_out] if want_curves else [])
    with atomic_paths(targets) as temps:
        temps[0].write_text(text, encoding="utf-8")
        if want_curves:
            runs.curves.to_csv(temps[1], index=False)
    for t in targets:
        print(f"wrote {t}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 bad input, 2 bad usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {"table": _cmd_table, "plan-seeds": _cmd_plan_seeds, "plot": _cmd_plot, "report": _cmd_report,
                "export": _cmd_export}
    try:
        handlers[args.command](args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0

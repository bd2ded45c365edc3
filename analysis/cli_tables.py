"""``python -m analysis table ...`` and ``plan-seeds``: the paper-style tables from a per-seed table."""

from __future__ import annotations

import argparse

from analysis.cli_common import (
    EPILOG_SOURCE,
    Loaded,
    add_arms,
    add_ci,
    add_output,
    add_source,
    arm_label_list,
    choose_arms,
    ci_options,
    emit,
    load_per_seed,
    probability,
)
from analysis.cli_tr808 import add_tr808_command, cmd_tr808
from analysis.render import render
from analysis.schema import CONVERGENCE_STEP, per_param
from common.parsing import csv_list, int_arg

__all__ = ["add_commands", "cmd_table", "cmd_plan_seeds"]


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``table`` (ablation, deltas, theta-is, tr808, factorial, sequential) and ``plan-seeds`` to ``sub``."""
    table = sub.add_parser(
        "table",
        help="paper-style tables (ablation, deltas, theta-is, tr808, factorial, sequential)",
        description="Paper-style tables as Markdown, LaTeX (booktabs) or CSV.",
    )
    tsub = table.add_subparsers(dest="table", required=True, metavar="TABLE")

    p = tsub.add_parser(
        "ablation",
        help="Table 2 style: one row per arm, mean ± CI",
        description="Table 2 style: per arm test θ L1 (×1000), validation TV (×1000), "
        "convergence steps (converged runs only) and convergence rate, mean ± 95% CI. "
        "Single-run arms print the value without a CI.",
        epilog=EPILOG_SOURCE,
    )
    add_source(p)
    add_arms(p)
    add_ci(p, "paper-z")
    p.add_argument(
        "--params",
        type=csv_list,
        default=[],
        metavar="NAME,...",
        help="also show per-parameter test L1 columns test_theta_l1_<NAME>",
    )
    p.add_argument(
        "--reference-arms",
        type=csv_list,
        default=[],
        metavar="A,...",
        help="arms shown but not competing for the bold best value (e.g. JTFS,P-loss)",
    )
    p.add_argument("--paper", action="store_true", help="paper-identical columns (drops the CR column)")
    add_output(p)

    p = tsub.add_parser(
        "deltas",
        help="Table 6 style: each arm vs the previous one (or vs --reference), paired by seed",
        description="Table 6 style: Δ = later − earlier arm (or arm − the --reference arm), paired by seed, ± 95% CI "
        "(Student-t by default) with the paired t-test p; plus Holm-adjusted p, d_z "
        "and Wilcoxon p unless --paper.",
        epilog=EPILOG_SOURCE,
    )
    add_source(p)
    add_arms(p)
    add_ci(p, "t")
    p.add_argument(
        "--paper", action="store_true", help="paper-identical table: drop the adjusted-p, d_z and Wilcoxon columns"
    )
    p.add_argument(
        "--drop-unpaired",
        action="store_true",
        help="use only the seeds both arms have (default: refuse unpaired data); the caption says so",
    )
    p.add_argument(
        "--correction",
        default="holm",
        choices=("holm", "bonferroni"),
        help="multiple-comparison correction of the extra column (default holm)",
    )
    test_help = "p of each Δ: paired t (default, as the paper), Wilcoxon, or auto (Shapiro-Wilk picks one)"
    p.add_argument("--test", default="t", choices=("t", "wilcoxon", "auto"), help=test_help)
    p.add_argument(
        "--reference",
        metavar="ARM",
        help="compare every other arm with ARM (Table 1's family, e.g. each loss vs SCRAPL) instead of each "
        "arm with the previous one",
    )
    add_output(p)

    p = tsub.add_parser(
        "theta-is",
        help="Tables 3/7 style: arms per configuration and synth parameter",
        description="Tables 3/7 style: for each configuration (preset) and arm (e.g. uniform, "
        "theta_is), per synth parameter: test L1 ± CI (×1000), convergence rate and "
        "convergence steps ± CI. Needs test_theta_l1_<p> and convergence_step_<p> columns.",
        epilog=EPILOG_SOURCE,
    )
    add_source(p)
    add_arms(p)
    add_ci(p, "paper-z")
    p.add_argument(
        "--params",
        type=csv_list,
        metavar="NAME,...",
        help="synth parameters (default: every NAME with test_theta_l1_NAME and convergence_step_NAME)",
    )
    p.add_argument(
        "--configs",
        type=csv_list,
        metavar="PRESET,...",
        help="configurations (presets) in row order (default: order of appearance)",
    )
    add_output(p)

    add_tr808_command(tsub)

    p = tsub.add_parser(
        "factorial",
        help="2×2×2 factorial: main effects and interactions of P-Adam, P-SAGA, θ-IS",
        description="Factorial ablation (run ablation --factorial): main effects and interactions "
        "of the techniques on test θ L1, total variation and convergence steps, paired "
        "by seed (repeated-measures ANOVA, statsmodels AnovaRM), with 95% CIs, "
        "Holm-adjusted p and partial eta squared. Arms are named by the techniques "
        "they turn on (scrapl, p-adam, p-adam+p-saga, ...).",
        epilog=EPILOG_SOURCE,
    )
    add_source(p)
    p.add_argument(
        "--factors",
        type=csv_list,
        default=None,
        metavar="F1,F2,...",
        help="technique tokens of the arm names (default p-adam,p-saga,theta-is)",
    )
    p.add_argument(
        "--correction",
        default="holm",
        choices=("holm", "bonferroni"),
        help="multiple-comparison correction across the table (default holm)",
    )
    add_output(p)

    p = tsub.add_parser(
        "sequential",
        help="replay adaptive seeds on a finished fixed-seed study: what it would have decided, on how many seeds",
        description="Replay the adaptive-seeds procedure (group-sequential paired t-tests, Holm as a graph; "
        "analysis.sequential) on a finished study's complete seeds in ascending order, stopping at the look "
        "where an adaptive study would have stopped; beside each comparison the fixed-n result of all seeds "
        "(paired t-test, Holm-adjusted). Comparisons: each arm vs the previous one on test θ L1, total "
        "variation and convergence steps.",
        epilog=EPILOG_SOURCE,
    )
    add_source(p)
    add_arms(p)
    p.add_argument("--min-seeds", type=int_arg(3), metavar="N", help="seeds at the first look (default 10)")
    p.add_argument("--wave", type=int_arg(1), metavar="N", help="seeds added per look (default 5)")
    p.add_argument("--max-seeds", type=int_arg(3), metavar="N", help="the design's maximum (default: complete seeds)")
    p.add_argument("--alpha", type=probability, metavar="A", help="family-wise alpha (default 0.05)")
    add_output(p)
    p.set_defaults(sequential_parser=p)

    p = sub.add_parser(
        "plan-seeds",
        help="seeds needed for 80%% power from a pilot's paired differences",
        description="From a pilot study: for each consecutive pair of arms and metric, d_z of the "
        "paired differences and the number of seeds a two-sided paired t-test needs to "
        "reach the power at the Holm/Bonferroni-adjusted alpha (statsmodels TTestPower).",
        epilog=EPILOG_SOURCE,
    )
    add_source(p)
    add_arms(p)
    p.add_argument(
        "--metrics",
        type=csv_list,
        default=["test_theta_l1", "val_total_variation", "convergence_step"],
        metavar="M,...",
        help="per-seed columns to plan for (default test_theta_l1,val_total_variation,convergence_step)",
    )
    p.add_argument("--alpha", type=probability, default=0.05, help="family-wise alpha (default 0.05)")
    p.add_argument("--power", type=probability, default=0.8, help="target power (default 0.8)")
    p.add_argument(
        "--correction",
        choices=("holm", "bonferroni", "none"),
        default="holm",
        help="how alpha is split over the comparisons (default holm = alpha/m at the strictest step)",
    )
    p.add_argument("--drop-unpaired", action="store_true", help="use only the seeds both arms have")
    add_output(p)


def cmd_table(args) -> None:
    from analysis import tables  # lazy: pandas/scipy only once a command runs
    from analysis.pairing import param_names, select_preset

    if args.table == "tr808":
        cmd_tr808(args)
        return
    loaded = load_per_seed(args)
    df = loaded.per_seed
    if args.table == "sequential":
        _table_sequential(args, loaded)
        return
    if args.table == "factorial":
        from analysis.tables_factorial import factorial_table  # lazy: statsmodels' ANOVA for this table only

        df = select_preset(df, args.preset, loaded.source)
        factors = {"factors": args.factors} if args.factors else {}
        emit(
            render(factorial_table(df, correction=args.correction, notes=loaded.notes, **factors), args.format),
            args.out,
        )
        return
    common = dict(ci_options(args), notes=loaded.notes)
    if args.table == "theta-is":
        if args.preset:
            df = select_preset(df, args.preset, loaded.source)
        arms = choose_arms(args, loaded, df)
        params = args.params
        if params is None:
            params = [p for p in param_names(df) if per_param(CONVERGENCE_STEP, p) in df.columns]
        table = tables.theta_is_table(
            df, arms, params, configs=args.configs, labels=arm_label_list(args, loaded, arms), **common
        )
    else:
        df = select_preset(df, args.preset, loaded.source)
        arms = choose_arms(args, loaded, df)
        if args.table == "ablation":
            table = tables.ablation_table(
                df,
                arms,
                paper=args.paper,
                reference_arms=args.reference_arms,
                params=args.params,
                labels=arm_label_list(args, loaded, arms),
                **common,
            )
        else:
            table = tables.deltas_table(
                df,
                arms,
                paper=args.paper,
                drop_unpaired=args.drop_unpaired,
                correction=args.correction,
                test=args.test,
                reference=args.reference,
                labels=arm_label_list(args, loaded, arms),
                **common,
            )
    emit(render(table, args.format), args.out)


def _table_sequential(args, loaded: Loaded) -> None:
    """The replay; bad input exits 2 naming the option (argparse's usage error)."""
    from analysis.pairing import select_preset  # lazy: pandas only once a command runs
    from analysis.replay import ReplayInputError, complete_seeds, design_for, replay, replay_table

    flags = {"arms": "--arms", "min_seeds": "--min-seeds", "max_seeds": "--max-seeds", "wave": "--wave"}
    flags.update(alpha="--alpha", preset="--preset", labels="--labels", seeds="--csv" if args.csv else "--study")
    try:
        arms = choose_arms(args, loaded, loaded.per_seed)
        if args.labels and len(args.labels) != len(arms):
            raise ReplayInputError("labels", f"{len(args.labels)} labels for {len(arms)} arms")
        try:
            df = select_preset(loaded.per_seed, args.preset, loaded.source)
        except ValueError as err:
            raise ReplayInputError("preset", str(err)) from None
        seeds, _ = complete_seeds(df, arms, loaded.source)
        design = design_for(
            len(seeds), alpha=args.alpha, min_seeds=args.min_seeds, wave=args.wave, max_seeds=args.max_seeds
        )
        result = replay(df, arms, design)
    except ReplayInputError as err:
        args.sequential_parser.error(f"{flags.get(err.option, err.option)}: {err}")
    labels = arm_label_list(args, loaded, arms)
    emit(render(replay_table(result, labels=labels, source=loaded.source, notes=loaded.notes), args.format), args.out)


def cmd_plan_seeds(args) -> None:
    from analysis.pairing import select_preset  # lazy: pandas only once a command runs
    from analysis.tables_plan import plan_seeds_table

    loaded = load_per_seed(args)
    df = select_preset(loaded.per_seed, args.preset, loaded.source)
    arms = choose_arms(args, loaded, df)
    table = plan_seeds_table(
        df,
        arms,
        labels=arm_label_list(args, loaded, arms),
        metrics=args.metrics,
        alpha=args.alpha,
        power=args.power,
        correction=args.correction,
        drop_unpaired=args.drop_unpaired,
        notes=loaded.notes,
    )
    emit(render(table, args.format), args.out)

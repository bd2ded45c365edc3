"""``python -m analysis plot ...``: validation curves, accuracy vs cost, θ-IS path probabilities.

matplotlib (``analysis.plots``) and mlflow are imported only when a plot command runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from analysis import theta_is, theta_is_range
from analysis.cli_common import (
    EPILOG_SOURCE,
    Loaded,
    add_arms,
    add_ci,
    add_source,
    arm_label_list,
    choose_arms,
    ci_rng,
    load_per_seed,
    read_mlflow,
    require_uri,
)
from analysis.schema import VAL_THETA_L1, per_param
from common.parsing import int_arg

__all__ = ["add_commands", "cmd_plot"]


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``plot`` (curves, cost, paths) to ``sub``."""
    plot = sub.add_parser(
        "plot", help="figures (PNG + PDF): curves, cost, paths", description="Figures written as OUT.png and OUT.pdf."
    )
    psub = plot.add_subparsers(dest="plot", required=True, metavar="PLOT")
    p = psub.add_parser(
        "curves",
        help="validation curves, mean ± 95%% CI band per arm",
        description="Validation θ L1 (×1000) per arm, mean ± 95% CI band over seeds, against "
        "training steps and/or wall-clock time (mean elapsed_s at each step).",
    )
    add_source(p, curves_only=True)
    add_arms(p)
    add_ci(p, "t", choices=("t", "paper-z"))
    p.add_argument(
        "--x",
        choices=("step", "elapsed", "both"),
        default="both",
        help="x axis: training steps, wall-clock seconds, or both panels (default)",
    )
    p.add_argument("--param", metavar="NAME", help="plot the per-parameter curve val_theta_l1_NAME")
    p.add_argument("--title")
    p.add_argument("--out", required=True, metavar="OUT", help="output stem: writes OUT.png and OUT.pdf")

    p = psub.add_parser(
        "cost",
        help="accuracy vs cost scatter with CI whiskers",
        description="Test θ L1 (×1000) against seconds per training step (1/steps_per_second), "
        "mean ± 95% CI whiskers per arm.",
        epilog=EPILOG_SOURCE,
    )
    add_source(p)
    add_arms(p)
    add_ci(p, "t")
    p.add_argument("--relative-to", metavar="ARM", help="divide both axes by this arm's means")
    p.add_argument("--log-x", action="store_true", help="logarithmic cost axis")
    p.add_argument("--title")
    p.add_argument("--out", required=True, metavar="OUT", help="output stem: writes OUT.png and OUT.pdf")

    p = psub.add_parser(
        "paths",
        help="θ-IS path probabilities over the (rate, scale) grid",
        description="P·π (1 = uniform) over the (temporal rate Hz, frequential scale cycles/octave) "
        'grid. π: .npy (1-D float array) or .json (list, or {"pi": list}); path table: '
        "JSON list of {index, n2, n_fr, spin, rate_hz, scale_cyc_per_oct}.",
    )
    g = p.add_argument_group("input (one of)")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--pi", metavar="FILE", help="π file (.npy or .json); needs --paths")
    src.add_argument("--study", metavar="NAME", help="read π and the path table from the study's parent run")
    g.add_argument("--paths", metavar="FILE", help="path table JSON (with --pi)")
    g.add_argument("--mlflow-uri", metavar="URI", default=os.environ.get("MLFLOW_TRACKING_URI"))
    g.add_argument("--preset", help="with --study: whose π (needed when the study has several)")
    r = p.add_argument_group("AM/FM view (paper Figure 6: both flags draw it instead of the (rate, scale) grid)")
    r.add_argument("--am-range", metavar="LO,HI", type=_range_arg("--am-range"), help="the synth's AM range in Hz")
    r.add_argument("--fm-range", metavar="LO,HI", type=_range_arg("--fm-range"), help="the synth's FM range in oct/s")
    r.add_argument(
        "--q2", type=int_arg(), help="second-order wavelets per octave (default: read off the path table's rates)"
    )
    r.add_argument(
        "--widen-oct",
        type=float,
        metavar="OCT",
        help="octaves added to both sides of both log ranges (default 1/(2·Q2), half the AM filter spacing)",
    )
    p.add_argument("--title")
    p.add_argument("--out", required=True, metavar="OUT", help="output stem: writes OUT.png and OUT.pdf")


def _range_arg(flag: str):
    def parse(text: str) -> tuple[float, float]:
        try:
            return theta_is_range.parse_range(text, flag)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _plot_paths(plots, pi, table, args):
    """The (rate, scale) grid, or with --am-range/--fm-range the AM/FM view (and the mass printed)."""
    if (args.am_range is None) != (args.fm_range is None):
        raise ValueError("--am-range and --fm-range go together (the AM/FM rectangle)")
    if args.am_range is None:
        if args.q2 is not None or args.widen_oct is not None:
            raise ValueError("--q2 and --widen-oct need --am-range and --fm-range")
        return plots.plot_paths(pi, table, title=args.title)
    from analysis import plots_paths  # lazy: matplotlib only once a plot command runs

    q2 = args.q2 if args.q2 is not None or args.widen_oct is not None else theta_is_range.infer_q2(table)
    mass = theta_is_range.range_mass(
        pi, table, am_hz=args.am_range, fm_oct_per_s=args.fm_range, widen_oct=args.widen_oct, q2=q2
    )
    print(
        f"π mass inside AM {args.am_range[0]:g}–{args.am_range[1]:g} Hz × FM {args.fm_range[0]:g}–"
        f"{args.fm_range[1]:g} oct/s (widened {mass.widen_oct:.3g} oct): {mass.mass:.4g} vs uniform share "
        f"{mass.uniform_share:.4g} ({mass.k}/{mass.P} paths; ratio {mass.ratio:.3g})"
    )
    rect = (args.am_range, args.fm_range)
    return plots_paths.plot_paths_amfm(pi, table, rect, args.title, widen_oct=args.widen_oct, q2=q2)


def cmd_plot(args) -> None:
    # lazy: pandas and matplotlib only once a plot command runs
    from analysis import data, plots
    from analysis.pairing import select_preset

    if args.plot == "paths":
        if args.pi:
            if not args.paths:
                raise ValueError("--pi needs --paths (the path table JSON)")
            pi = theta_is.load_pi(args.pi)
            table = theta_is.load_path_table(args.paths, n_paths=pi.size)
            fig = _plot_paths(plots, pi, table, args)
        else:
            from analysis.mlflow_source import download_pi  # lazy: mlflow only for --study

            if args.paths:
                raise ValueError("--paths goes with --pi; with --study the path table comes from MLflow")
            with tempfile.TemporaryDirectory() as tmp:
                pi_file, paths_file = download_pi(require_uri(args), args.study, tmp, args.preset)
                pi = theta_is.load_pi(pi_file)
                table = theta_is.load_path_table(paths_file, n_paths=pi.size)
            fig = _plot_paths(plots, pi, table, args)
        written = plots.save_figure(fig, args.out)
    elif args.plot == "curves":
        if args.study:
            runs, _ = read_mlflow(args, curves=True, from_curves=False)
            curves, order = runs.curves, runs.arm_order
            loaded = Loaded(None, curves, runs.source, order, arm_labels=runs.arm_labels)
        else:
            curves = data.load_curves_csv(args.curves)
            loaded = Loaded(None, curves, args.curves)
        curves = select_preset(curves, args.preset, loaded.source)
        column = per_param(VAL_THETA_L1, args.param) if args.param else VAL_THETA_L1
        arms = choose_arms(args, loaded, curves)
        fig = plots.plot_curves(
            curves,
            arms,
            labels=arm_label_list(args, loaded, arms),
            x=args.x,
            column=column,
            ci=args.ci,
            title=args.title,
        )
        written = plots.save_figure(fig, args.out)
    else:
        loaded = load_per_seed(args)
        df = select_preset(loaded.per_seed, args.preset, loaded.source)
        arms = choose_arms(args, loaded, df)
        fig = plots.plot_cost(
            df,
            arms,
            labels=arm_label_list(args, loaded, arms),
            ci=args.ci,
            rng=ci_rng(args),
            relative_to=args.relative_to,
            log_x=args.log_x,
            title=args.title,
        )
        written = plots.save_figure(fig, args.out)
    for path in written:
        print(path)

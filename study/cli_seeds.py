"""The seed-economy options of ``python -m study`` (issue 14): ``--seeds adaptive`` and its bounds on
``run ablation|theta-is``, and the ``extend`` command's parser. Light like ``study.cli`` (argparse,
``common``): the study modules behind them are imported when a command runs."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from common.parsing import csv_list, int_arg
from study.errors import StudyError

__all__ = ["add_adaptive_options", "add_extend_parser", "is_adaptive", "design"]

ADAPTIVE_OPTIONS = (
    ("min_seeds", "--min-seeds"),
    ("max_seeds", "--max-seeds"),
    ("wave_size", "--wave-size"),
    ("alpha", "--alpha"),
)


def add_adaptive_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "adaptive seeds (--seeds adaptive)",
        "Seeds run in waves; after each wave the study's paired comparisons (consecutive arms; "
        "uniform vs θ-IS) are decided by group-sequential paired t-tests at family-wise α over "
        "every look (analysis.sequential); seeds stop when every comparison is decided or at "
        "--max-seeds.",
    )
    g.add_argument(
        "--min-seeds", type=int_arg(None), default=None, metavar="N", help="seeds of the first look (default 10)"
    )
    g.add_argument(
        "--max-seeds",
        type=int_arg(None),
        default=None,
        metavar="N",
        help="at most this many seeds (default 20, the paper's fixed design)",
    )
    g.add_argument(
        "--wave-size", type=int_arg(None), default=None, metavar="N", help="seeds added per wave (default 5)"
    )
    g.add_argument("--alpha", type=float, default=None, metavar="A", help="family-wise type-I error (default 0.05)")


def add_extend_parser(sub, add_runtime: Callable[..., None], epilog: str) -> None:
    p = sub.add_parser(
        "extend",
        help="add seeds to a finished or interrupted ablation, losses or θ-IS study",
        description="Add seeds to a grid study: only the new (preset, arm, seed) trials run, in a new "
        "Tune experiment of the study (<study>/ray/extend-K); finished trials keep their "
        "MLflow runs; the study's MLflow run records every extension (seeds, when, git "
        "commit); the tables are exported again. Seeds already in the study are left out; "
        "an extension that adds none is refused, unless its trials are unfinished (it is "
        "then continued). " + epilog,
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument(
        "--seeds",
        required=True,
        metavar="N|S1,S2,...",
        help="seed count N (the study then has seeds 0..N-1) or a comma-separated list of seeds to add",
    )
    p.add_argument(
        "--preset",
        "--presets",
        dest="presets",
        type=csv_list,
        default=None,
        metavar="P[,P2]",
        help="optional check: the study's preset(s); anything else is refused",
    )
    p.add_argument(
        "--arms",
        type=csv_list,
        default=None,
        metavar="A,B,...",
        help="optional check: the study's arms; anything else is refused",
    )
    add_runtime(p, resume=True)


def is_adaptive(args: argparse.Namespace) -> bool:
    """``--seeds adaptive``; the adaptive options without it, or on a study without comparisons, refused."""
    adaptive = (getattr(args, "seeds", None) or "").strip() == "adaptive"
    if not adaptive:
        for attr, option in ADAPTIVE_OPTIONS:
            if getattr(args, attr, None) is not None:
                raise StudyError(option, "only with --seeds adaptive")
        return False
    if args.study not in ("ablation", "theta-is"):
        raise StudyError("--seeds", f"adaptive seeds are for the ablation and theta-is studies, not {args.study}")
    if getattr(args, "factorial", False):
        raise StudyError(
            "--seeds",
            "adaptive seeds decide the cumulative ablation's consecutive arms (Table 6); "
            "run the factorial with a seed count",
        )
    if args.arms is not None and len(args.arms) < 2:
        raise StudyError("--arms", "adaptive seeds compare consecutive arms: give at least two")
    return True


def design(args: argparse.Namespace):
    """The ``analysis.sequential.Design`` of the adaptive options (its defaults for those not given)."""
    from analysis.sequential import Design  # lazy, as every study module: the CLI starts without them
    from study.waves import check_options

    d = Design()
    pick = {attr: getattr(args, attr) for attr, _ in ADAPTIVE_OPTIONS if getattr(args, attr) is not None}
    # only --max-seeds below the default first look: the first look is at the maximum (as replay.design_for)
    min_seeds = pick.get("min_seeds", min(d.min_seeds, pick.get("max_seeds", d.min_seeds)))
    return check_options(
        min_seeds,
        pick.get("max_seeds", max(d.max_seeds, min_seeds)),
        pick.get("wave_size", d.wave),
        pick.get("alpha", d.alpha),
    )

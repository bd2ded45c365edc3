"""The sound-matching training loop studies run: ``train(config, report, resume_state)``. No Ray.

One run (notes §6): epochs of shuffled batches; per batch the target ``x = synth(θ, seed)`` under
``no_grad``, ``θ̂ = encoder(x)``, ``x̂ = synth(θ̂, seed̂)`` with fresh seeds, the loss (SCRAPL draws one
path per batch), backward, then SGD after P-Adam/P-SAGA or AdamW. Once per epoch: validation (θ L1
total and per parameter, and the validation loss), a best-checkpoint update, and
``report(step, metrics, state)``. At the end: test θ L1 of the best checkpoint, total variation and
convergence steps of the validation curve (``analysis.curves``), a few audio pairs.

``report`` decides where metrics and checkpoints go (Ray, a script, a test). ``state`` is a full
checkpoint (plain tensors and Python values, loadable with ``torch.load(..., weights_only=True)``):
``train(config, report, resume_state=state)`` continues exactly — same next batch, same next path,
same optimizer state, same random draws — so an interrupted and resumed run ends with the same weights
as an uninterrupted one.

    python -m trainables.train --preset smoke-granular --loss scrapl --p-adam --p-saga --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from analysis import schema
from common.parsing import parse_value
from trainables.config import LOSSES, RunConfig, override
from trainables.presets import get_preset
from trainables.run import STATE_VERSION, NonFiniteLossError, Run

__all__ = [
    "STATE_VERSION",
    "NonFiniteLossError",
    "Report",
    "Run",
    "RunResult",
    "config_from_args",
    "main",
    "run_to_end",
    "start_run",
    "train",
]

Report = Callable[[int, dict[str, float], "dict | None"], None]


@dataclass
class RunResult:
    """What a finished run returns: the final metrics (``schema`` names), the validation history,
    the final checkpoint and a few (target, reconstruction) audio pairs ``(k, 2, N)``."""

    config: RunConfig
    metrics: dict[str, float]
    history: list[dict[str, float]]
    state: dict
    examples: Tensor
    sample_rate: int
    theta_names: tuple[str, ...] = field(default_factory=tuple)


def train(
    config: RunConfig, report: Report | None = None, resume_state: dict | None = None, *, probs: Tensor | None = None
) -> RunResult:
    """Train one run. ``report(step, metrics, state)`` is called after every validation with the
    validation metrics and a checkpoint, and once at the end with the final metrics and ``state=None``.

    ``probs``: θ-IS path distribution π for ``train.theta_is`` (else read from
    ``train.theta_is_probs``, else computed now by ``trainables.warmup``).
    Raises ``NonFiniteLossError`` (naming the step) when the loss becomes NaN or infinite.
    """
    return run_to_end(start_run(config, resume_state, probs=probs), report)


def start_run(config: RunConfig, resume_state: dict | None = None, *, probs: Tensor | None = None) -> Run:
    """Build the run (θ-IS π, data, model, loss, optimizer) and load ``resume_state`` if given.
    Bad input found here (data folder, π file, checkpoint) raises ``ValueError`` naming it."""
    cfg = config
    if cfg.train.theta_is and probs is None:
        # lazy: the θ-IS warm-up (and its imports) only for a θ-IS run without a precomputed π
        from trainables import warmup

        probs = warmup.load_probs(cfg.train.theta_is_probs) if cfg.train.theta_is_probs else warmup.compute_probs(cfg)
    run = Run(cfg, probs if cfg.train.theta_is else None)
    if resume_state is not None:
        run.load_state_dict(resume_state)
    return run


def run_to_end(run: Run, report: Report | None = None) -> RunResult:
    """Train ``run`` from its current step to the end (``train``'s loop, validation and test)."""
    cfg = run.cfg
    report = report or (lambda step, metrics, state: None)
    tic = time.perf_counter()
    while run.step < run.total_steps:
        run.train_step()
        at_epoch_end = run.step % run.steps_per_epoch == 0
        if at_epoch_end or run.step == run.total_steps:
            run.elapsed_s += time.perf_counter() - tic
            metrics = run.validate()
            report(run.step, metrics, run.state_dict())
            tic = time.perf_counter()
    if not run.history or run.history[-1]["step"] != run.step:  # resumed after the last validation
        run.validate()
    final = run.finish()
    state = run.state_dict()
    report(run.step, final, None)
    return RunResult(cfg, final, run.history, state, run.examples, cfg.synth.sample_rate, run.theta_names)


# --- command line -------------------------------------------------------------------------------------
def config_from_args(args: argparse.Namespace) -> RunConfig:
    cfg = get_preset(args.preset)
    dotted: dict[str, Any] = {
        "seed": args.seed,
        "train.loss": args.loss,
        "train.p_adam": args.p_adam,
        "train.p_saga": args.p_saga,
        "train.theta_is": args.theta_is,
    }
    if args.max_steps is not None:
        dotted["train.max_steps"] = args.max_steps
    if args.device:
        dotted["device"] = args.device
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        dotted[key] = parse_value(value)
    return override(cfg, **dotted)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainables.train", description="Train one sound-matching run.")
    ap.add_argument("--preset", default="smoke-granular", help="preset name (see trainables.presets)")
    ap.add_argument("--loss", default="scrapl", choices=LOSSES)
    ap.add_argument("--p-adam", action="store_true", help="P-Adam (then SGD)")
    ap.add_argument("--p-saga", action="store_true", help="P-SAGA (then SGD)")
    ap.add_argument("--theta-is", action="store_true", help="θ-importance sampling of paths")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    ap.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field, e.g. train.lr=1e-4")
    ap.add_argument("--out", type=Path, help="write final metrics, history and checkpoint here")
    ap.add_argument("--resume", type=Path, help="resume from a checkpoint written by --out")
    args = ap.parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as err:
        ap.error(str(err))
    resume = None
    if args.resume:
        if not args.resume.is_file():
            ap.error(f"--resume: {args.resume}: no such file (a checkpoint.pt written by --out)")
        try:
            resume = torch.load(args.resume, weights_only=True)
        except Exception as err:  # noqa: BLE001 - pickle/zip errors of every kind: not a checkpoint
            ap.error(f"--resume: {args.resume} is not a checkpoint written by --out ({type(err).__name__}: {err})")
        if not isinstance(resume, dict):
            ap.error(f"--resume: {args.resume} is not a checkpoint written by --out (got {type(resume).__name__})")

    def report(step: int, metrics: dict[str, float], state: dict | None) -> None:
        if state is None:
            return
        line = " ".join(
            f"{k}={v:.4g}"
            for k, v in metrics.items()
            if k in (schema.VAL_THETA_L1, "val_loss", "val_jtfs", schema.TRAIN_LOSS, schema.ELAPSED_S)
        )
        print(f"step {step:>6}  epoch {metrics['epoch']:.2f}  {line}", flush=True)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            torch.save(state, args.out / "checkpoint.pt")

    print(
        f"{cfg.preset}: loss={cfg.train.loss} p_adam={cfg.train.p_adam} p_saga={cfg.train.p_saga} "
        f"theta_is={cfg.train.theta_is} seed={cfg.seed}",
        flush=True,
    )
    try:
        run = start_run(cfg, resume)
    except ValueError as err:  # bad input found while building the run (data folder, π file, checkpoint)
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        result = run_to_end(run, report)
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("final: " + " ".join(f"{k}={v:.4g}" for k, v in sorted(result.metrics.items())))
    if args.out:
        (args.out / "metrics.json").write_text(json.dumps(result.metrics, indent=2))
        (args.out / "history.json").write_text(json.dumps(result.history, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training step time on this machine, per preset and loss (arm): the mean a run pays, and the median.

Builds the real run of ``trainables.train`` (synth, encoder, loss, optimizer) and times
``Run.train_step()``: target synthesis, encoder forward, reconstruction, loss, backward, optimizer step.

How the step is measured:

* losses without paths (MSS, P-loss, full JTFS): ``--steps`` real steps after ``--warmup`` untimed ones;
  ``step_mean_s`` and ``step_median_s`` are their mean and median;
* SCRAPL arms: a step costs ``rest + loss(p)`` for the path ``p`` it draws, and paths differ up to
  several-fold, so a few real steps say little about the mean. The step is composed:
  ``rest`` = the median of ``--steps`` real steps whose loss is swapped for a negligible surrogate (the
  mean square of ``x_hat - x``; paths are still drawn and passed to the optimizer); ``loss(p)`` = forward +
  backward of the SCRAPL loss on path ``p`` for one real batch (``x`` the targets, ``x_hat`` the
  reconstruction as a leaf), timed once per path for every ``--path-every``-th path (after one warm-up
  call) and shared by the SCRAPL arms of a preset. ``step_mean_s = rest + Σ_p π_p loss(p)`` and
  ``step_median_s`` is the median of ``rest + loss(p)`` under π (uniform, or θ-IS π with ``--theta-is``).
  ``step_measured_median_s`` and ``step_measured_mean_s`` are the median and mean of ``--real-steps`` real
  steps, as a check (the mean of a few real steps is unbiased but noisy: it depends on the paths drawn).

The arms of a preset are interleaved in one process: ``--steps`` rounds, each timing one step of every
arm and the next slice of the paths (shuffled, so each slice spans every j2). Every figure is sampled over
the same stretch of time, so a machine that slows down for a minute slows every arm alike, and the ratios
between arms are steadier than their absolute times. ``--clock cpu`` times with the process's CPU time
instead of the wall clock: with one thread it is the same on an idle machine, and it ignores the time
other processes take the core away (shared machines). The rows of
``--json`` carry ``arm``, ``step_mean_s``, ``step_median_s`` and, when ``mss-linear`` is measured too,
``mean_over_mss_linear`` (the issue-12 goal: SCRAPL <= 1.3x, SCRAPL + P-Adam + P-SAGA <= 1.5x).

    python bench/train_step.py                                # smoke presets, every loss, seconds
    python bench/train_step.py --preset granular --arm scrapl --arm scrapl+p-adam+p-saga \\
        --arm mss-linear --steps 20 --json                    # paper scale, ~12 min on one core
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

ARMS = {  # name: dotted overrides on the preset
    "scrapl": {"train.loss": "scrapl"},
    "scrapl+p-adam+p-saga": {"train.loss": "scrapl", "train.p_adam": True, "train.p_saga": True},
    "scrapl+p-adam+p-saga-exact-sum": {"train.loss": "scrapl", "train.p_adam": True, "train.p_saga": True},
    "jtfs": {"train.loss": "jtfs"},
    "mss-linear": {"train.loss": "mss-linear"},
    "mss-log-linear": {"train.loss": "mss-log-linear"},
    "mss-revisited": {"train.loss": "mss-revisited"},
    "mss-random": {"train.loss": "mss-random"},
    "p-loss": {"train.loss": "p-loss"},
}
# P-SAGA's sum over paths: the running sum (O(|w|) per step) unless the arm asks for the released exact one.
OPTIMIZER_VARIANT = {"scrapl+p-adam+p-saga": "running-sum", "scrapl+p-adam+p-saga-exact-sum": "released"}
DEFAULT_ARMS = [
    "scrapl",
    "scrapl+p-adam+p-saga",
    "jtfs",
    "mss-linear",
    "mss-log-linear",
    "mss-revisited",
    "mss-random",
    "p-loss",
]


def weighted_median(values: list[float], weights: list[float]) -> float:
    pairs = sorted(zip(values, weights, strict=True))
    half, acc = sum(weights) / 2, 0.0
    for v, w in pairs:
        acc += w
        if acc >= half:
            return v
    return pairs[-1][0]


def build_run(preset: str, arm: str):
    # lazy: --help stays fast (torch, the presets)
    from trainables.config import override
    from trainables.core import PathwiseSGD
    from trainables.presets import get_preset
    from trainables.run import Run

    cfg = override(get_preset(preset), **ARMS[arm], device="cpu")
    run = Run(cfg)
    variant = OPTIMIZER_VARIANT.get(arm)
    if variant is not None and run.optimizer.param_groups[0].get("variant", "released") != variant:
        # The bench picks the P-SAGA summation itself, whatever the preset's train.pathwise_variant says.
        group = run.optimizer.param_groups[0]
        run.optimizer = PathwiseSGD(
            run.encoder.parameters(),
            n_paths=run.n_paths,
            lr=group["lr"],
            use_p_adam=group["use_p_adam"],
            use_p_saga=group["use_p_saga"],
            betas=group["betas"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            grad_mult=group["grad_mult"],
            variant=variant,
        )
    return cfg, run


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def time_steps(run, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = clock()
        run.train_step()
        times.append(clock() - t0)
    return times


def loss_timer(run):
    """``once(p)``: forward + backward seconds of the SCRAPL loss on path ``p``, on one real batch of ``run``."""
    # lazy: --help stays fast
    import torch

    from trainables import build
    from trainables.data import draw_seed_hat

    cfg = run.cfg
    batch = run.train_split.train_batch(cfg.data.batch_size, cfg.seed, 0, 0)
    x, _ = build.targets(batch, run.synth, run.device)
    with torch.no_grad():
        run.encoder.eval()
        seed_hat = draw_seed_hat(torch.Generator().manual_seed(0), cfg.data.batch_size).to(run.device)
        x_hat = run.synth(run.encoder(x), seed_hat)
    loss = run.loss

    def once(p: int) -> float:
        leaf = x_hat.clone().requires_grad_(True)
        t0 = clock()
        loss(leaf, x, path_idx=p).backward()
        return clock() - t0

    once(0)  # warm-up: builds the cached filter matrices
    return once


class Surrogate:
    """Swaps a SCRAPL run's loss for ``mean((x_hat - x)**2)`` while in use; paths are still drawn."""

    def __init__(self, run) -> None:
        self.loss = run.loss

    def __call__(self, x_hat, x, path_idx=None):
        self.loss.last_path = self.loss.sampler.sample() if path_idx is None else path_idx
        return (x_hat - x).square().mean()

    def __enter__(self):
        self.loss.forward = self  # instance attribute: nn.Module.__call__ dispatches to it
        return self

    def __exit__(self, *exc) -> None:
        del self.loss.forward


def one_step(run, surrogate: bool) -> float:
    if not surrogate:
        return time_steps(run, 1)[0]
    with Surrogate(run):
        return time_steps(run, 1)[0]


def measure_preset(preset: str, arms: list[str], args) -> list[dict]:
    """Every arm of ``preset``, interleaved: ``--steps`` rounds, each timing one step of every arm (the
    surrogate step for SCRAPL arms) and a slice of the paths' losses, so that every figure, and so every
    ratio, is sampled over the same stretch of time (a machine that slows down for a minute slows all arms)."""
    # lazy: --help stays fast
    import random

    import torch

    torch.set_num_threads(args.threads)
    built = {arm: build_run(preset, arm) for arm in arms}
    scrapl = [arm for arm in arms if built[arm][1].is_scrapl]
    for arm in arms:
        for _ in range(args.warmup):
            one_step(built[arm][1], arm in scrapl)
    paths: list[int] = []
    if scrapl:
        first = built[scrapl[0]][1]
        once = loss_timer(first)
        paths = list(range(0, first.n_paths, args.path_every))
        random.Random(0).shuffle(paths)  # each round's slice spans every j2, not one end of the path index
    times: dict[str, list[float]] = {arm: [] for arm in arms}
    real: dict[str, list[float]] = {arm: [] for arm in scrapl}
    table: dict[int, float] = {}
    for r in range(args.steps):
        for arm in arms:
            times[arm].append(one_step(built[arm][1], arm in scrapl))
            if arm in scrapl and r < args.real_steps:
                real[arm].append(one_step(built[arm][1], False))
        for p in paths[r * len(paths) // args.steps : (r + 1) * len(paths) // args.steps]:
            table[p] = once(p)
    return [row(preset, arm, *built[arm], times[arm], real.get(arm), table, args) for arm in arms]


def row(preset: str, arm: str, cfg, run, times: list[float], real, table: dict[int, float], args) -> dict:
    out = {"preset": preset, "arm": arm, "batch": cfg.data.batch_size, "threads": args.threads, "clock": args.clock}
    if not run.is_scrapl:
        out.update(
            step_mean_s=statistics.mean(times),
            step_median_s=statistics.median(times),
            step_measured_median_s=statistics.median(times),
            method=f"mean of {len(times)} real steps, interleaved with the other arms",
        )
        return out
    table = dict(sorted(table.items()))
    probs = run.loss.sampler.probs
    weights = [float(probs[p]) for p in table]
    total = sum(weights)
    rest_s = statistics.median(times)
    per_path = [rest_s + t for t in table.values()]
    out.update(
        step_mean_s=sum(w * s for w, s in zip(weights, per_path, strict=True)) / total,
        step_median_s=weighted_median(per_path, weights),
        step_measured_median_s=statistics.median(real) if real else None,
        step_measured_mean_s=statistics.mean(real) if real else None,
        steps_measured=len(real or []),
        rest_s=rest_s,
        loss_path_mean_s=sum(w * t for w, t in zip(weights, table.values(), strict=True)) / total,
        loss_path_median_s=weighted_median(list(table.values()), weights),
        loss_path_max_s=max(table.values()),
        paths_timed=len(table),
        P=run.n_paths,
        optimizer_variant=run.optimizer.param_groups[0].get("variant") if cfg.train.pathwise else None,
        method=(
            f"composed: rest (median of {len(times)} steps, loss swapped for a negligible surrogate) "
            f"+ sum_p pi_p loss(p) over {len(table)} paths timed once each, interleaved with the other arms"
        ),
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", action="append", help="preset(s) (default: smoke-granular, smoke-chirplet-lo-lo)")
    ap.add_argument(
        "--arm",
        action="append",
        choices=sorted(ARMS),
        help="arm(s) (default: all but the exact-sum P-SAGA; paper scale: no jtfs)",
    )
    ap.add_argument(
        "--steps", type=int, default=5, help="rounds: timed steps per arm (SCRAPL arms: surrogate steps for the rest)"
    )
    ap.add_argument(
        "--real-steps",
        type=int,
        default=2,
        help="SCRAPL arms: real steps timed as a check (one per round, at most --steps)",
    )
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--path-every", type=int, default=1, help="SCRAPL arms: time every k-th path (all by default)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall clock, or this process's CPU time (robust on a shared machine at 1 thread)",
    )
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object last")
    args = ap.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    for name in ("steps", "warmup", "path_every", "threads"):
        if getattr(args, name) < (0 if name == "warmup" else 1):
            ap.error(f"--{name.replace('_', '-')} must be a positive integer")
    presets = args.preset or ["smoke-granular", "smoke-chirplet-lo-lo"]
    rows = []
    print(f"{'preset':<22} {'arm':<31} {'batch':>5} {'mean ms':>9} {'median ms':>10} {'steps/s':>8}", flush=True)
    for preset in presets:
        arms = args.arm or [a for a in DEFAULT_ARMS if a != "jtfs" or preset.startswith("smoke")]
        for r in measure_preset(preset, list(dict.fromkeys(arms)), args):
            rows.append(r)
            arm = r["arm"]
            print(
                f"{preset:<22} {arm:<31} {r['batch']:>5} {1e3 * r['step_mean_s']:>9.1f} "
                f"{1e3 * r['step_median_s']:>10.1f} {1 / r['step_mean_s']:>8.2f}",
                flush=True,
            )
    for preset in presets:
        mss = next((r for r in rows if r["preset"] == preset and r["arm"] == "mss-linear"), None)
        if mss is None:
            continue
        for r in rows:
            if r["preset"] == preset:
                r["mean_over_mss_linear"] = r["step_mean_s"] / mss["step_mean_s"]
        print(
            f"{preset}: mean step / MSS linear: "
            + ", ".join(f"{r['arm']} {r['mean_over_mss_linear']:.2f}x" for r in rows if r["preset"] == preset)
        )
    if args.json:
        print(json.dumps({"threads": args.threads, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training steps per second on this machine, per preset and loss (one batch = one step).

Builds the real run (synth, encoder, loss, optimizer) of ``trainables.train`` and times
``Run.train_step()`` — target synthesis, encoder forward, reconstruction, loss, backward and the
optimizer step — after ``--warmup`` untimed steps; the median over ``--steps`` steps is reported.

    python bench/train_step.py                                # smoke presets, every loss
    python bench/train_step.py --preset granular --steps 3    # paper scale (no full JTFS by default)
    python bench/train_step.py --json                         # one JSON object on the last line
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
    "jtfs": {"train.loss": "jtfs"},
    "mss-linear": {"train.loss": "mss-linear"},
    "mss-log-linear": {"train.loss": "mss-log-linear"},
    "mss-revisited": {"train.loss": "mss-revisited"},
    "mss-random": {"train.loss": "mss-random"},
    "p-loss": {"train.loss": "p-loss"},
}


def measure(preset: str, arm: str, steps: int, warmup: int, threads: int) -> dict:
    import torch

    from trainables.config import override
    from trainables.presets import get_preset
    from trainables.train import Run

    torch.set_num_threads(threads)
    cfg = override(get_preset(preset), **ARMS[arm], **{"device": "cpu"})
    run = Run(cfg)
    for _ in range(warmup):
        run.train_step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        run.train_step()
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    return {"preset": preset, "arm": arm, "batch": cfg.data.batch_size, "step_median_s": median,
            "steps_per_second": 1.0 / median}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", action="append", help="preset(s) (default: smoke-granular, smoke-chirplet-lo-lo)")
    ap.add_argument("--arm", action="append", choices=sorted(ARMS), help="arm(s) (default: all; paper scale: no jtfs)")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    presets = args.preset or ["smoke-granular", "smoke-chirplet-lo-lo"]
    rows = []
    print(f"{'preset':<22} {'arm':<22} {'batch':>5} {'step ms':>10} {'steps/s':>9}")
    for preset in presets:
        arms = args.arm or [a for a in ARMS if a != "jtfs" or preset.startswith("smoke")]
        for arm in arms:
            r = measure(preset, arm, args.steps, args.warmup, args.threads)
            rows.append(r)
            print(f"{preset:<22} {arm:<22} {r['batch']:>5} {1e3 * r['step_median_s']:>10.1f} "
                  f"{r['steps_per_second']:>9.2f}", flush=True)
    if args.json:
        print(json.dumps({"threads": args.threads, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A small real comparison on CPU: SCRAPL with P-Adam + P-SAGA vs plain SCRAPL (AdamW), paired seeds.

Trains both arms on a reduced preset (default ``mini-chirplet-hi-med``: 2 s signals, P = 49 paths,
307 training examples, 40 epochs) for a handful of seeds, two runs at a time, then prints the mean
validation θ L1 curve of each arm (± 95 % CI over seeds) and the final test θ L1 with the paired
difference, its Student-t CI and paired t-test p-value (``analysis.stats``). Writes the per-seed CSV
and the long curve CSV next to ``--out`` so ``python -m analysis`` can re-read them.

    python bench/scrapl_vs_plain.py --seeds 4 --out bench-results/scrapl_vs_plain
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ARMS = {"scrapl": {}, "p-adam+p-saga": {"train.p_adam": True, "train.p_saga": True}}


def run_one(preset: str, arm: str, seed: int, extra: dict) -> dict:
    # lazy: runs in the pool's worker processes; the driver stays torch-free
    import torch

    from trainables.config import override
    from trainables.presets import get_preset
    from trainables.train import train

    torch.set_num_threads(1)
    cfg = override(get_preset(preset), **{"seed": seed, "device": "cpu", **ARMS[arm], **extra})
    result = train(cfg)
    return {"arm": arm, "seed": seed, "metrics": result.metrics, "history": result.history}


def main(argv: list[str] | None = None) -> int:
    # lazy: --help stays fast
    import numpy as np

    from analysis import schema
    from analysis.stats import mean_ci, paired_difference

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mini-chirplet-hi-med")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra config override")
    ap.add_argument("--out", type=Path, default=Path("bench-results/scrapl_vs_plain"))
    args = ap.parse_args(argv)
    extra = {k: json.loads(v) for k, _, v in (s.partition("=") for s in args.set)}
    jobs = [(args.preset, arm, seed, extra) for seed in range(args.seeds) for arm in ARMS]
    print(
        f"{len(jobs)} training runs ({args.seeds} seeds × {len(ARMS)} arms) on {args.workers} workers; "
        f"a line per finished run",
        flush=True,
    )
    tic = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        runs = []
        for r in pool.map(run_one, *zip(*jobs, strict=True)):
            runs.append(r)
            print(
                f"  [{len(runs)}/{len(jobs)} {time.perf_counter() - tic:6.0f} s] {r['arm']} seed {r['seed']}: "
                f"test θ L1 {r['metrics'][schema.TEST_THETA_L1]:.4f}",
                flush=True,
            )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    per_seed, curves = args.out.with_suffix(".per_seed.csv"), args.out.with_suffix(".curves.csv")
    keys = sorted({k for r in runs for k in r["metrics"]})
    with per_seed.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "seed", *keys])
        for r in runs:
            w.writerow([r["arm"], r["seed"], *[r["metrics"].get(k, "") for k in keys]])
    with curves.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "seed", "step", schema.VAL_THETA_L1])
        for r in runs:
            for h in r["history"]:
                w.writerow([r["arm"], r["seed"], h["step"], h[schema.VAL_THETA_L1]])

    print(f"{args.preset}: {args.seeds} seeds per arm; validation θ L1 (mean ± 95% CI, paper-z)")
    steps = [h["step"] for h in runs[0]["history"]]
    print(f"{'step':>6} " + " ".join(f"{a:>22}" for a in ARMS))
    for i, step in enumerate(steps):
        cells = []
        for arm in ARMS:
            vals = np.array([r["history"][i][schema.VAL_THETA_L1] for r in runs if r["arm"] == arm])
            est = mean_ci(vals, "paper-z")
            cells.append(f"{est.mean:.4f} ± {est.half_width:.4f}")
        print(f"{step:>6} " + " ".join(f"{c:>22}" for c in cells))
    by_arm = {arm: {r["seed"]: r["metrics"][schema.TEST_THETA_L1] for r in runs if r["arm"] == arm} for arm in ARMS}
    seeds = sorted(by_arm["scrapl"])
    a = np.array([by_arm["scrapl"][s] for s in seeds])
    b = np.array([by_arm["p-adam+p-saga"][s] for s in seeds])
    for arm, vals in (("scrapl", a), ("p-adam+p-saga", b)):
        est = mean_ci(vals, "t")
        print(
            f"test θ L1 {arm:<14} {est.mean:.4f} ± {est.half_width:.4f} (t CI)  per seed {np.round(vals, 4).tolist()}"
        )
    d = paired_difference(a, b, "t")
    print(
        f"paired Δ (p-adam+p-saga − scrapl) = {d.delta.mean:+.4f} ± {d.delta.half_width:.4f}, "
        f"p = {d.p_value:.3g}, d_z = {d.d_z:.2f}, Wilcoxon p = {d.wilcoxon_p:.3g}"
    )
    tv = {arm: np.mean([r["metrics"][schema.VAL_TOTAL_VARIATION] for r in runs if r["arm"] == arm]) for arm in ARMS}
    print("mean validation total variation: " + ", ".join(f"{k} {v:.4f}" for k, v in tv.items()))
    print(f"wrote {per_seed} and {curves}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

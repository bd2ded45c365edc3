"""Study scaling on this machine: the same smoke trials with 1 and with 2 concurrent trials.

    .venv/bin/python bench/study_scaling.py            # 12 trials (4 arms × 3 seeds), prints figures
    .venv/bin/python bench/study_scaling.py --json     # the same as JSON
    .venv/bin/python bench/study_scaling.py --theta-is # also the θ-IS stage with 1 and 2 Ray tasks

Each run is a real study (``study.runner.run``) on one embedded Ray runtime with ``--num-cpus``
CPUs, logging to its own sqlite MLflow store in a temporary directory. Figures:

* trial phase wall time (first trial start → last trial end, as the driver sees it) at 1 and at 2
  concurrent trials, and the speedup (target >= 1.7× on 2 cores: trials use one thread each);
* per-trial overhead of Ray + MLflow = trial wall time as the driver sees it (Ray scheduling,
  actor start or reuse, MLflow calls, artifacts, checkpoints) minus the time inside ``train()``;
  the MLflow share (``tracking_s``, measured in the trial) is reported separately, also relative
  to the training time;
* with ``--theta-is``: π for a preset computed by 1 and by 2 Ray tasks (after a warm-up), speedup.

This is a measurement script, not a test: numbers depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def run_study(name: str, root: Path, args, concurrency: int) -> dict:
    # lazy: --help stays fast (Ray, MLflow, torch)
    from search_spaces import ablation
    from study import runner

    spec = ablation(
        name,
        args.preset,
        range(args.seeds),
        factorial=True,
        arms=["scrapl", "p-adam", "p-saga", "p-adam+p-saga"],
        overrides={"train.max_steps": args.max_steps} if args.max_steps else None,
    )
    settings = runner.Settings(root=root, max_concurrent=concurrency, export=False, progress=False)
    outcome = runner.run(spec, settings, say=lambda _: None)
    if outcome.exit_code != 0:
        raise RuntimeError(f"study {name} did not finish cleanly: {outcome.counts}")
    recs = list(outcome.records.values())
    start = min(r.starts[0] for r in recs)
    end = max(r.end for r in recs)
    per_trial = []
    for r in recs:
        wall = r.end - r.starts[0]
        train_s = r.final.get("train_s", float("nan"))
        tracking_s = r.final.get("tracking_s", float("nan"))
        per_trial.append(
            {
                "trial": r.label,
                "wall_s": wall,
                "train_s": train_s,
                "tracking_s": tracking_s,
                "overhead_s": wall - train_s,
            }
        )
    return {
        "concurrency": concurrency,
        "trials": len(recs),
        "phase_s": end - start,
        "study_s": outcome.wall_s,
        "per_trial": per_trial,
    }


def summarize(per_trial: list[dict]) -> dict:
    def med(key):
        return statistics.median(t[key] for t in per_trial)

    share = [t["tracking_s"] / t["train_s"] for t in per_trial if t["train_s"] > 0]
    return {
        "median_train_s": med("train_s"),
        "median_overhead_s": med("overhead_s"),
        "median_tracking_s": med("tracking_s"),
        "median_tracking_share_of_train": statistics.median(share),
        "first_trial_overhead_s": max(t["overhead_s"] for t in per_trial),
    }


def theta_is_speedup(preset: str) -> dict:
    # lazy: --help stays fast (Ray, torch)
    from study.theta_is_stage import compute_pi
    from trainables.config import override
    from trainables.presets import get_preset

    cfg = override(get_preset(preset), **{"train.theta_is": True})
    compute_pi(cfg, 2)  # warm-up: worker processes import torch and build the filters once
    one_pi, _, one = compute_pi(cfg, 1)
    two_pi, _, two = compute_pi(cfg, 2)
    assert float((one_pi - two_pi).abs().max()) < 1e-9, "π must not depend on the chunking"
    return {
        "preset": preset,
        "n_paths": one["n_paths"],
        "one_task_s": one["wall_s"],
        "two_tasks_s": two["wall_s"],
        "speedup": one["wall_s"] / two["wall_s"],
        "two_tasks_task_s_sum": two["task_s_sum"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="smoke-granular")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per arm (4 arms; default 3 → 12 trials)")
    ap.add_argument("--max-steps", type=int, default=None, help="cut each trial short (default: the full preset)")
    ap.add_argument("--num-cpus", type=int, default=2, help="CPUs of the embedded Ray runtime (default 2)")
    ap.add_argument("--theta-is", action="store_true", help="also measure the θ-IS stage with 1 and 2 tasks")
    ap.add_argument(
        "--theta-is-preset",
        default="smoke-granular",
        help="preset of the θ-IS measurement (mini-granular: P = 49, minutes per task)",
    )
    ap.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = ap.parse_args(argv)

    # lazy: --help stays fast
    import ray

    ray.init(
        address="local", num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False, logging_level="WARNING"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="study-scaling-") as tmp:
            tic = time.time()
            one = run_study("scaling-1", Path(tmp), args, 1)
            two = run_study("scaling-2", Path(tmp), args, 2)
            result = {
                "preset": args.preset,
                "trials": one["trials"],
                "num_cpus": args.num_cpus,
                "one_concurrent_s": one["phase_s"],
                "two_concurrent_s": two["phase_s"],
                "speedup": one["phase_s"] / two["phase_s"],
                "overhead_at_1": summarize(one["per_trial"]),
                "overhead_at_2": summarize(two["per_trial"]),
                "runs": [one, two],
            }
            if args.theta_is:
                result["theta_is"] = theta_is_speedup(args.theta_is_preset)
            result["bench_s"] = time.time() - tic
    finally:
        ray.shutdown()

    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    o1, o2 = result["overhead_at_1"], result["overhead_at_2"]
    print(f"{result['trials']} smoke trials ({args.preset}), Ray runtime with {args.num_cpus} CPUs, 1 CPU per trial")
    print(f"  1 concurrent trial : {result['one_concurrent_s']:6.1f} s")
    print(
        f"  2 concurrent trials: {result['two_concurrent_s']:6.1f} s   "
        f"speedup {result['speedup']:.2f}x (target >= 1.7x)"
    )
    for label, o in (("1 at a time", o1), ("2 at a time", o2)):
        print(
            f"  per trial ({label}): train() {o['median_train_s']:.2f} s, Ray + MLflow overhead "
            f"{o['median_overhead_s']:.2f} s median ({o['first_trial_overhead_s']:.2f} s worst: a new worker "
            f"process), of which MLflow {o['median_tracking_s']:.2f} s = "
            f"{100 * o['median_tracking_share_of_train']:.1f} % of train()"
        )
    if "theta_is" in result:
        t = result["theta_is"]
        print(
            f"  θ-IS stage ({t['preset']}, P = {t['n_paths']}): 1 task {t['one_task_s']:.1f} s, 2 tasks "
            f"{t['two_tasks_s']:.1f} s, speedup {t['speedup']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark one optimisation step of the SCRAPL and full-JTFS losses (paper Table 5 style).

Forward + backward of ``loss(x_hat, x)`` for a batch of 4, float32, one thread by default:

* SCRAPL: every ``--every``-th path timed ``--reps`` times; per-path medians aggregated over paths by
  the median (time) and IQR, and the maximum (memory), as the paper's Table 5 does; plus how the
  SCRAPL step splits between the first-order scalogram, the second-order temporal filtering and the
  frequential stage (each stage's forward for target and estimate plus its backward);
* full JTFS: the same step over all joint coefficients (``--no-full`` skips it).

Each loss is timed in its own subprocess, and its memory measured in another one (with glibc's mmap
threshold fixed so freed buffers go back to the OS, which slows the step, hence the separate pass).
Peak memory of a step, on CPU: the resident set size sampled every 0.5 ms during the step minus the
resident set size just before it; on CUDA: ``torch.cuda.max_memory_allocated`` during the step.

    python bench/loss_step.py --config tiny            # ~1 min on one core
    python bench/loss_step.py --config granular --every 5
    python bench/loss_step.py --config tiny --json     # figures as one JSON object on the last line

Side by side with the authors' implementation (``scrapl-loss`` 0.1.0, which must live in its own venv; see
``../shared/tools/released_scrapl_bench.py``): ``--released-python VENV/bin/python`` runs that script with the
same config, batch, repetitions, paths and threads right after ours and reports both medians and the ratios
(``path_speedup_vs_released``, ``full_speedup_vs_released`` with ``--full`` there too).

    python3 -m venv ../released-scrapl && ../released-scrapl/bin/pip install -q torch==2.13.0 \
        scrapl-loss==0.1.0 'scipy<1.17'
    python bench/loss_step.py --config tiny --released-python ../released-scrapl/bin/python --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

RELEASED_SCRIPT = Path(__file__).resolve().parents[1].parent / "shared" / "tools" / "released_scrapl_bench.py"
CONFIGS = {  # name: JTFS settings (the paper's granular/chirplet and TR-808 configs, "tiny", and the smoke presets')
    "smoke": dict(shape=4096, J=6, Q1=4, Q2=1, J_fr=2, Q_fr=1),
    "tiny": dict(shape=8192, J=8, Q1=8, Q2=2, J_fr=3, Q_fr=2),
    "granular": dict(shape=32768, J=12, Q1=8, Q2=2, J_fr=3, Q_fr=2),
    "tr808": dict(shape=44100, J=12, Q1=8, Q2=2, J_fr=5, Q_fr=2, T=2048, F=1),
}


PAGE_MB = resource.getpagesize() / 2**20


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_MB


class PeakRSS:
    """Context manager: ``.peak_mb`` = max resident set size during the block minus before it."""

    def __enter__(self):
        self.base = current_rss_mb()
        self.peak = self.base
        self._stop = threading.Event()

        def sample():
            while not self._stop.is_set():
                self.peak = max(self.peak, current_rss_mb())
                self._stop.wait(0.0005)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_mb())
        self.peak_mb = self.peak - self.base
        return False


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def worker(args: argparse.Namespace) -> dict:
    """Measure one loss kind in this process; returns the figures as a dict."""
    # lazy: the driver only spawns the measuring subprocesses; --help stays fast
    import torch

    from trainables.core import JTFSLoss, SCRAPLLoss, chunking

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cfg = CONFIGS[args.config]
    torch.manual_seed(0)
    x = torch.rand(args.batch, 1, cfg["shape"], device=device)
    x_hat = torch.rand(args.batch, 1, cfg["shape"], device=device, requires_grad=True)
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize()

    def peak_memory_mb(fn) -> float:
        x_hat.grad = None
        if cuda:
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            fn().backward()
            torch.cuda.synchronize()
            return (torch.cuda.max_memory_allocated() - base) / 2**20
        with PeakRSS() as rss:
            fn().backward()
        return rss.peak_mb

    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    def timed(fn) -> float:
        x_hat.grad = None
        sync()
        t0 = clock()
        fn().backward()
        sync()
        return clock() - t0

    memory = args.measure == "memory"
    if args.worker == "full":
        loss = JTFSLoss(**cfg).to(device)
        if memory:
            return {"full_jtfs_peak_mb": peak_memory_mb(lambda: loss(x_hat, x))}
        timed(lambda: loss(x_hat, x))  # warm-up
        times = [timed(lambda: loss(x_hat, x)) for _ in range(args.full_reps)]
        return {
            "full_jtfs_step_median_s": statistics.median(times),
            "full_jtfs_step_times_s": times,
            "full_jtfs_coefficients": loss.n_coefficients,
        }

    loss = SCRAPLLoss(**cfg).to(device)
    jtfs = loss.jtfs
    paths = range(0, loss.n_paths, args.every)
    if memory:
        return {"scrapl_peak_mb": max(peak_memory_mb(lambda p=p: loss(x_hat, x, path_idx=p)) for p in paths)}
    timed(lambda: loss(x_hat, x, path_idx=0))  # warm-up
    per_path, stages = [], []
    for p in paths:
        per_path.append(statistics.median(timed(lambda p=p: loss(x_hat, x, path_idx=p)) for _ in range(args.reps)))
        if args.stages:
            stages.append(stage_split(jtfs, x, x_hat, p, sync, clock))
    lo, hi = quartiles(per_path)
    out = {
        "P": loss.n_paths,
        "paths_timed": len(per_path),
        "scrapl_path_step_median_s": statistics.median(per_path),
        "scrapl_path_step_iqr_s": hi - lo,
        "scrapl_path_step_min_s": min(per_path),
        "scrapl_path_step_max_s": max(per_path),
        "cpu_vendor": chunking.cpu_vendor(),  # the engine's chunk of examples on a CPU depends on it
        "chunk_elements": jtfs.CHUNK_ELEMENTS,
    }
    if stages:
        for name in ("first_order", "second_order", "frequential"):
            out[f"stage_{name}_median_s"] = statistics.median(s[name] for s in stages)
            out[f"stage_{name}_total_share"] = sum(s[name] for s in stages) / sum(sum(s.values()) for s in stages)
    return out


def stage_split(jtfs, x, x_hat, p: int, sync, now=time.perf_counter) -> dict[str, float]:
    """Forward (target and estimate) + backward time of each stage of one path, in isolation, with the
    examples grouped as the engine groups its finest row group (``batch_chunk``; coarser row groups and the
    frequential stage take larger chunks in the engine, so their shares here are upper bounds)."""
    size = x.shape[0]
    if hasattr(jtfs, "_chunk_size"):
        rows = jtfs._groups(jtfs.fb.n1_max(jtfs._j2[jtfs.path(p)[0]]))
        size = jtfs._chunk_size(x.reshape(-1, jtfs.N), max(n * (jtfs.N_pad >> k1) for _, k1, n in rows))
    clock: dict[str, float] = {}
    for xc, xhc in zip(x.split(size), x_hat.split(size), strict=True):
        for name, t in _stage_split(jtfs, xc, xhc, p, sync, now).items():
            clock[name] = clock.get(name, 0.0) + t
    return clock


def _stage_split(jtfs, x, x_hat, p: int, sync, now) -> dict[str, float]:
    # lazy: the driver only spawns the measuring subprocesses; --help stays fast
    import torch

    n2, n_fr = jtfs.path(p)
    j2 = jtfs._j2[n2]
    n_rows = jtfs.fb.n1_max(j2)
    flat, flat_hat = x.reshape(-1, jtfs.N), x_hat.detach().reshape(-1, jtfs.N).requires_grad_(True)
    clock: dict[str, float] = {}

    def tick(name, t0):
        sync()
        clock[name] = clock.get(name, 0.0) + now() - t0

    t0 = now()
    with torch.no_grad():
        U_t = jtfs.first_order(jtfs.spectrum(flat), n_rows)
    U = jtfs.first_order(jtfs.spectrum(flat_hat), n_rows)
    tick("first_order", t0)
    t0 = now()
    with torch.no_grad():
        Y_t = jtfs.second_order(U_t, n2)
    U_in = [(k, u.detach().requires_grad_(True)) for k, u in U]
    Y = jtfs.second_order(U_in, n2)
    tick("second_order", t0)
    t0 = now()
    with torch.no_grad():
        S_t = jtfs.frequential(Y_t, n_fr, j2)
    Y_in = Y.detach().requires_grad_(True)
    loss = torch.linalg.vector_norm(jtfs.frequential(Y_in, n_fr, j2) - S_t, dim=(-2, -1)).mean()
    (g_Y,) = torch.autograd.grad(loss, Y_in)
    tick("frequential", t0)
    t0 = now()
    g_U = torch.autograd.grad(Y, [u for _, u in U_in], g_Y)
    tick("second_order", t0)
    t0 = now()
    torch.autograd.grad([u for _, u in U], flat_hat, list(g_U))
    tick("first_order", t0)
    return clock


def run_worker(kind: str, measure: str, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--measure",
        measure,
        "--config",
        args.config,
        "--batch",
        str(args.batch),
        "--reps",
        str(args.reps),
        "--every",
        str(args.every),
        "--threads",
        str(args.threads),
        "--device",
        args.device,
        "--full-reps",
        str(args.full_reps),
        "--clock",
        args.clock,
    ] + ([] if args.stages else ["--no-stages"])
    env = {**os.environ, **({"MALLOC_MMAP_THRESHOLD_": "65536"} if measure == "memory" else {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} {measure} worker failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_released(args: argparse.Namespace) -> dict:
    """The released code's figures from ``released_scrapl_bench.py`` in its own venv (same settings)."""
    if not args.released_script.is_file():
        raise SystemExit(f"--released-script: {args.released_script} does not exist")
    script_args = ["--config", args.config, "--batch", str(args.batch), "--reps", str(args.reps)]
    script_args += ["--every", str(args.every), "--threads", str(args.threads)] + ([] if args.no_full else ["--full"])
    if args.clock == "cpu":  # the script times with perf_counter: run it with the process's CPU clock instead
        wrapper = (
            "import runpy, sys, time; time.perf_counter = time.process_time; "
            "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
        )
        cmd = [args.released_python, "-c", wrapper, str(args.released_script), *script_args]
    else:
        cmd = [args.released_python, str(args.released_script), *script_args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as err:
        raise SystemExit(f"--released-python: cannot run {args.released_python}: {err}") from None
    if proc.returncode != 0:
        raise SystemExit(f"released_scrapl_bench.py failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="tiny")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions per SCRAPL path")
    ap.add_argument("--every", type=int, default=1, help="time every k-th path only")
    ap.add_argument("--full-reps", type=int, default=3, help="timed full-JTFS steps")
    ap.add_argument("--no-full", action="store_true", help="skip the full-JTFS loss")
    ap.add_argument("--no-stages", dest="stages", action="store_false", help="skip the stage split")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall clock, or each process's CPU "
        "time (one thread on a shared machine; applies to the released code too)",
    )
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object last")
    ap.add_argument(
        "--released-python",
        metavar="PYTHON",
        help="python of a venv with scrapl-loss 0.1.0: time the released code too, same settings (CPU)",
    )
    ap.add_argument(
        "--released-script",
        type=Path,
        default=RELEASED_SCRIPT,
        help=f"released_scrapl_bench.py (default {RELEASED_SCRIPT})",
    )
    ap.add_argument("--worker", choices=["scrapl", "full"], help=argparse.SUPPRESS)
    ap.add_argument("--measure", choices=["time", "memory"], default="time", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.device is None:
        # lazy: the driver only spawns the measuring subprocesses; --help stays fast
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    if args.clock == "cpu" and args.device != "cpu":
        ap.error("--clock cpu times CPU work only; use the wall clock on a GPU")
    result = {
        "config": args.config,
        "batch": args.batch,
        "threads": args.threads,
        "device": args.device,
        "clock": args.clock,
        "memory_measure": "cuda max_memory_allocated" if args.device == "cuda" else "peak RSS during the step",
    }
    kinds = ["scrapl"] + ([] if args.no_full else ["full"])
    for kind in kinds:
        for measure in ("time", "memory"):
            result.update(run_worker(kind, measure, args))
    result["scrapl_path_max_over_median"] = result["scrapl_path_step_max_s"] / result["scrapl_path_step_median_s"]
    if not args.no_full:
        result["speedup_full_over_scrapl"] = result["full_jtfs_step_median_s"] / result["scrapl_path_step_median_s"]
        result["memory_ratio_full_over_scrapl"] = result["full_jtfs_peak_mb"] / max(result["scrapl_peak_mb"], 1e-3)
    if args.released_python:
        result["released"] = released = run_released(args)
        result["path_speedup_vs_released"] = released["scrapl_path_step_median_s"] / result["scrapl_path_step_median_s"]
        if "full_jtfs_step_s" in released:
            result["full_speedup_vs_released"] = released["full_jtfs_step_s"] / result["full_jtfs_step_median_s"]

    print(f"config {args.config}: P = {result['P']}, batch {args.batch}, {args.threads} thread(s), {args.device}")
    print(f"{'loss':<10} {'median ms':>10} {'IQR ms':>8} {'peak MB':>9}")
    print(
        f"{'SCRAPL':<10} {1e3 * result['scrapl_path_step_median_s']:>10.1f} "
        f"{1e3 * result['scrapl_path_step_iqr_s']:>8.1f} {result['scrapl_peak_mb']:>9.1f}"
        f"   (over {result['paths_timed']} paths, min {1e3 * result['scrapl_path_step_min_s']:.1f}, "
        f"max {1e3 * result['scrapl_path_step_max_s']:.1f} ms)"
    )
    if not args.no_full:
        times = result["full_jtfs_step_times_s"]
        lo, hi = quartiles(times)
        print(
            f"{'full JTFS':<10} {1e3 * result['full_jtfs_step_median_s']:>10.1f} {1e3 * (hi - lo):>8.1f} "
            f"{result['full_jtfs_peak_mb']:>9.1f}   ({result['full_jtfs_coefficients']} joint coefficients)"
        )
        print(
            f"full JTFS / SCRAPL: {result['speedup_full_over_scrapl']:.0f}x time, "
            f"{result['memory_ratio_full_over_scrapl']:.1f}x memory ({result['memory_measure']})"
        )
    print(f"slowest / median path: {result['scrapl_path_max_over_median']:.1f}x")
    if args.released_python:
        rel = result["released"]
        line = (
            f"released scrapl-loss 0.1.0: path median {1e3 * rel['scrapl_path_step_median_s']:.1f} ms "
            f"(ours {result['path_speedup_vs_released']:.1f}x faster)"
        )
        if "full_jtfs_step_s" in rel:
            line += (
                f", full JTFS {1e3 * rel['full_jtfs_step_s']:.0f} ms "
                f"(ours {result['full_speedup_vs_released']:.2f}x faster)"
            )
        print(line)
    if args.stages:
        print(
            "SCRAPL step split (median ms over paths; share of total):",
            ", ".join(
                f"{n} {1e3 * result[f'stage_{n}_median_s']:.1f} ({100 * result[f'stage_{n}_total_share']:.0f}%)"
                for n in ("first_order", "second_order", "frequential")
            ),
        )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

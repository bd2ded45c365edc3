"""GPU figures in one run (issue 12): the path engine at paper Table 5 conditions, a training step per loss at
granular paper scale, and 1 vs 4 training processes sharing one GPU.

Needs only PyTorch (with CUDA) plus kymatio, nnAudio, auraloss and scipy, as the project installs them: no
Ray, no MLflow. Ends within about 8 minutes on one GPU. Three parts, each printed as it finishes and all
collected in one JSON object on the last line (``--json``):

1. ``table5``: ``bench/loss_step.py`` on the device at batch 4, 32,768 samples (granular JTFS, P = 315):
   SCRAPL path step median / IQR / max over paths and peak memory, against the full JTFS step;
2. ``train_steps``: a real training step (target synthesis, encoder, reconstruction, loss, backward,
   optimizer) per loss at the granular preset, batch 32: median and mean over ``--steps`` steps (SCRAPL draws
   its paths from the uniform π, so the mean covers the path mix);
3. ``sharing``: the SCRAPL training step run by 1 and by 4 processes at once on the same device for the
   same wall-clock window (what ``--gpus-per-trial 0.25`` buys): steps per second in total and per process.

    python bench/gpu_check.py --json                   # on a CUDA machine
    python bench/gpu_check.py --device cpu --quick     # smoke test of the script itself (small presets)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOSSES = ("scrapl", "scrapl+p-adam+p-saga", "mss-linear", "mss-log-linear", "p-loss", "jtfs")


def sync(device) -> None:
    # lazy: the driver only starts the worker processes; --help stays fast
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Step:
    """One training step of ``trainables.train`` rebuilt from its parts (that module also reads audio files,
    which needs soundfile): the target ``x = synth(θ, seed)`` without a graph, ``θ̂ = encoder(x)``,
    ``x̂ = synth(θ̂, seed̂)``, the loss, backward, and P-Adam + P-SAGA then SGD, or AdamW."""

    def __init__(self, preset: str, loss_name: str, device, seed: int = 0) -> None:
        # lazy: the driver only starts the worker processes; --help stays fast
        import torch

        from trainables.baselines import PLoss, make_baseline_loss
        from trainables.core import JTFSLoss, PathwiseSGD, SCRAPLLoss
        from trainables.data import ThetaGrid, draw_seed_hat
        from trainables.encoder import Spectral2DCNN
        from trainables.presets import get_preset
        from trainables.synths import ChirpletSynth, GranularSynth

        cfg = get_preset(preset)
        self.cfg, self.device, self.draw_seed_hat = cfg, device, draw_seed_hat
        torch.manual_seed(seed)
        s, e, j = cfg.synth, cfg.encoder, cfg.jtfs
        if s.kind == "granular":
            self.synth = GranularSynth(
                sample_rate=s.sample_rate,
                n_samples=s.n_samples,
                n_grains=s.n_grains,
                grain_n_samples=s.grain_n_samples,
                f0_min_hz=s.f0_min_hz,
                f0_max_hz=s.f0_max_hz,
            ).to(device)
        else:
            self.synth = ChirpletSynth(
                ranges=s.chirplet_ranges,
                sample_rate=s.sample_rate,
                n_samples=s.n_samples,
                f0_hz=s.f0_hz,
                max_shift=s.max_shift,
            ).to(device)
        n_params = len(self.synth.theta_names)
        self.encoder = Spectral2DCNN(
            n_params,
            sample_rate=s.sample_rate,
            n_samples=s.n_samples,
            channels=e.channels,
            n_blocks=e.n_blocks,
            pools=e.pools,
            latent=e.latent,
            dropout=e.dropout,
            hop_length=e.hop_length,
            n_octaves=e.n_octaves,
            bins_per_octave=e.bins_per_octave,
        ).to(device)
        self.split = ThetaGrid(cfg.data.grid_size, cfg.data.n_seeds_per_theta, n_params).split("train")
        jtfs = dict(
            shape=s.n_samples,
            J=j.J,
            Q1=j.Q1,
            Q2=j.Q2,
            J_fr=j.J_fr,
            Q_fr=j.Q_fr,
            T=j.T,
            F=j.F,
            use_rho_log1p=j.use_rho_log1p,
        )
        self.scrapl = loss_name.startswith("scrapl")
        self.ploss = loss_name == "p-loss"
        if self.scrapl:
            self.loss = SCRAPLLoss(**jtfs, seed=seed).to(device)
        elif loss_name == "jtfs":
            self.loss = JTFSLoss(**jtfs).to(device)
        elif self.ploss:
            self.loss = PLoss()
        else:
            self.loss = make_baseline_loss(loss_name, s.sample_rate, s.n_samples, seed=seed).to(device)
        t = cfg.train
        if loss_name == "scrapl+p-adam+p-saga":
            self.optimizer = PathwiseSGD(
                self.encoder.parameters(),
                n_paths=self.loss.n_paths,
                lr=t.lr,
                use_p_adam=True,
                use_p_saga=True,
                betas=(t.beta1, t.beta2),
                eps=t.eps,
                weight_decay=t.weight_decay,
                grad_mult=t.grad_mult,
                variant="running-sum",
            )
        else:
            self.optimizer = torch.optim.AdamW(
                self.encoder.parameters(), lr=t.lr, betas=(t.beta1, t.beta2), eps=t.eps, weight_decay=t.weight_decay
            )
        self.pathwise = loss_name == "scrapl+p-adam+p-saga"
        self.generator = torch.Generator().manual_seed(seed)
        self.k = 0

    def __call__(self) -> None:
        # lazy: the driver only starts the worker processes; --help stays fast
        import torch

        bs = self.cfg.data.batch_size
        n = self.split.n_batches(bs)
        theta, seed = self.split.train_batch(bs, self.cfg.seed, self.k // n, self.k % n)
        self.k += 1
        theta, seed = theta.to(self.device), seed.to(self.device)
        with torch.no_grad():
            x = self.synth(theta, seed)
        self.encoder.train()
        theta_hat = self.encoder(x)
        if self.ploss:
            loss = self.loss(theta_hat, theta)
        else:
            x_hat = self.synth(theta_hat, self.draw_seed_hat(self.generator, bs).to(self.device))
            loss = self.loss(x_hat, x)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.pathwise:
            self.optimizer.step(self.loss.last_path)
        else:
            self.optimizer.step()


def train_steps(preset: str, loss_name: str, device, steps: int, warmup: int) -> dict:
    # lazy: the driver only starts the worker processes; --help stays fast
    import torch

    step = Step(preset, loss_name, device)
    for _ in range(warmup):
        step()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t0)
    out = {
        "loss": loss_name,
        "preset": preset,
        "batch": step.cfg.data.batch_size,
        "steps": steps,
        "step_median_s": statistics.median(times),
        "step_mean_s": statistics.mean(times),
    }
    if device.type == "cuda":
        out["peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def sharing_worker(args) -> dict:
    """Warm up, wait for the shared start time, then count steps for ``--window`` seconds."""
    # lazy: the driver only starts the worker processes; --help stays fast
    import torch

    device = torch.device(args.device)
    step = Step(args.preset, "scrapl", device, seed=args.worker_index)
    for _ in range(args.warmup):
        step()
    sync(device)
    while time.time() < args.start_at:
        time.sleep(0.01)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < args.window:
        step()
        sync(device)
        n += 1
    return {"steps": n, "seconds": time.perf_counter() - t0}


def sharing(args, n_procs: int) -> dict:
    """``n_procs`` processes train at once for the same wall-clock window; total and per-process steps/s."""
    start_at = time.time() + args.startup
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--device",
        args.device,
        "--preset",
        args.train_preset,
        "--warmup",
        str(args.warmup),
        "--window",
        str(args.window),
        "--start-at",
        str(start_at),
        "--threads",
        str(args.threads),
    ]
    procs = [
        subprocess.Popen(cmd + ["--worker-index", str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(n_procs)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"sharing worker failed:\n{err}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    late = [r for r in results if r["steps"] == 0]
    if late:
        raise SystemExit(f"{len(late)} sharing worker(s) made no step in the window: raise --startup")
    rates = [r["steps"] / r["seconds"] for r in results]
    return {"processes": n_procs, "steps_per_second_total": sum(rates), "steps_per_second_per_process": rates}


def table5(args) -> dict:
    cmd = [
        sys.executable,
        str(HERE / "loss_step.py"),
        "--config",
        args.table5_config,
        "--batch",
        "4",
        "--device",
        args.device,
        "--every",
        str(args.every),
        "--reps",
        str(args.reps),
        "--full-reps",
        str(args.full_reps),
        "--threads",
        str(args.threads),
        "--no-stages",
        "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent)
    if proc.returncode != 0:
        raise SystemExit(f"loss_step.py failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke test of the script)")
    ap.add_argument("--quick", action="store_true", help="small presets and few repetitions (seconds on a CPU)")
    ap.add_argument("--steps", type=int, default=None, help="timed training steps per loss")
    ap.add_argument("--losses", default=",".join(LOSSES), help="comma-separated losses for the training steps")
    ap.add_argument("--processes", type=int, default=4, help="processes sharing the device in part 3")
    ap.add_argument("--window", type=float, default=None, help="seconds each sharing process trains")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print every figure as one JSON object last")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--preset", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=int, default=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    import torch  # after argparse: --help stays fast

    torch.set_num_threads(args.threads)
    if args.worker:
        print(json.dumps(sharing_worker(args)))
        return 0
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        ap.error("--device cuda: CUDA is not available here (use --device cpu for a smoke test)")
    device = torch.device(args.device)
    quick = args.quick
    args.train_preset = "smoke-granular" if quick else "granular"
    args.table5_config = "smoke" if quick else "granular"
    args.every, args.reps, args.full_reps = (7, 1, 1) if quick else (1, 3, 3)
    args.window = args.window or (2.0 if quick else 30.0)
    args.startup = 8.0 if quick else 60.0
    steps = args.steps or (2 if quick else 10)
    losses = [name for name in args.losses.split(",") if name]
    unknown = sorted(set(losses) - set(LOSSES))
    if unknown:
        ap.error(f"--losses: unknown {unknown}; choose from {', '.join(LOSSES)}")
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "quick": quick,
    }
    t_start = time.perf_counter()

    result["table5"] = t5 = table5(args)
    print(
        f"Table 5 ({t5['config']}, batch 4, {args.device}): SCRAPL path median "
        f"{1e3 * t5['scrapl_path_step_median_s']:.1f} ms (IQR {1e3 * t5['scrapl_path_step_iqr_s']:.1f}, max "
        f"{1e3 * t5['scrapl_path_step_max_s']:.1f}), peak {t5['scrapl_peak_mb']:.0f} MB; full JTFS "
        f"{1e3 * t5['full_jtfs_step_median_s']:.0f} ms, peak {t5['full_jtfs_peak_mb']:.0f} MB",
        flush=True,
    )

    result["train_steps"] = []
    for name in losses:
        row = train_steps(args.train_preset, name, device, 1 if name == "jtfs" else steps, 1)
        result["train_steps"].append(row)
        print(
            f"training step {args.train_preset} {name}: median {1e3 * row['step_median_s']:.1f} ms, "
            f"mean {1e3 * row['step_mean_s']:.1f} ms",
            flush=True,
        )

    result["sharing"] = [sharing(args, 1), sharing(args, args.processes)]
    one, many = result["sharing"]
    print(
        f"SCRAPL training on one {args.device}: 1 process {one['steps_per_second_total']:.2f} steps/s, "
        f"{many['processes']} processes {many['steps_per_second_total']:.2f} steps/s in total "
        f"({many['steps_per_second_total'] / one['steps_per_second_total']:.2f}x)",
        flush=True,
    )
    result["seconds"] = time.perf_counter() - t_start
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Cost of the θ-IS warm-up at a preset's scale, released ("hvp") vs factored operator, extrapolated from a
sample of paths (issue 12 goal 4).

A full warm-up at paper scale (granular: P = 315 paths, U = 2, 20 power iterations, 10 batches of 32) is
days of CPU time, so it is extrapolated from timed pieces on one batch of the preset's warm-up batch size:

* ``hvp`` (the released computation, graphs rebuilt in every step as with several batches): one operator
  application for one batch = the encoder, synth and JTFS forward, ``s`` and ``h_u`` with graph, and the
  double backward; total = ``Σ_p U × iters × batches × t_app(p)``;
* ``factored``: per (path, batch) the synth and JTFS derivatives (``s`` and the blocks of ``∂²ℓ/∂θ̂²``) once,
  then per step the encoder only; total = ``Σ_p batches × (t_deriv(p) + U × iters × t_app)``.

``Σ_p`` is ``P ×`` the mean over the timed paths (``--paths``, default one per second-order index n2, whose
j2 sets the cost). ``iters`` is ``train.theta_is_iters`` (20: an upper bound, power iteration may stop
earlier at a relative change of 1e-4, the same way for both operators). ``--trial-step-s`` (e.g. the
``step_mean_s`` of ``bench/train_step.py``) adds the warm-up as a fraction of one trial's training
(``epochs × steps per epoch`` steps).

    python bench/theta_is_cost.py --preset granular --clock cpu --trial-step-s 2.4 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="granular")
    ap.add_argument("--paths", help="comma-separated path indices to time (default: one per n2)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    ap.add_argument("--trial-step-s", type=float, help="mean training step (s) on this machine, for the ratio")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import torch  # after argparse: --help stays fast

    from trainables import build, warmup
    from trainables.config import override
    from trainables.core.theta_is_ops import FactoredBatch, HVPGraph, path_derivatives
    from trainables.presets import get_preset

    torch.set_num_threads(args.threads)
    clock = CLOCKS[args.clock]
    cfg = get_preset(args.preset)
    t = cfg.train
    one = override(cfg, **{"train.theta_is_batches": 1, "device": "cpu"})
    encoder, synth, path_loss, batches, P = warmup.warmup_inputs(one)
    encoder.eval()
    ((x, seed_hat),) = batches
    weights = [w for w in encoder.parameters() if w.requires_grad]
    group = list(range(len(weights)))
    U = warmup.n_theta(cfg)
    fb = one.jtfs_settings().filter_bank
    paths = (
        [int(p) for p in args.paths.split(",")]
        if args.paths
        else [i * fb.n_fr_count + (i * 3) % fb.n_fr_count for i in range(len(fb.kept_n2))]
    )
    gen = torch.Generator().manual_seed(0)
    v = [torch.rand(w.shape, generator=gen, dtype=w.dtype) for w in weights]
    with torch.no_grad():
        theta0 = encoder(x)

    def timed(fn) -> float:
        t0 = clock()
        fn()
        return clock() - t0

    rows = []
    with torch.enable_grad():
        for p in paths:
            t_hvp = timed(
                lambda p=p: HVPGraph(encoder, synth, path_loss, weights, x, seed_hat, p, (0,)).hvp(0, group, weights, v)
            )
            batch = FactoredBatch(encoder, weights, x, keep_graph=False)
            t_deriv = timed(
                lambda batch=batch, p=p: batch.set_path(
                    *path_derivatives(synth, path_loss, theta0, seed_hat, x, p, tuple(range(U)))
                )
            )
            t_app = timed(lambda batch=batch: batch.apply(0, group, v))
            rows.append(
                {
                    "path": p,
                    "n2_n_fr": fb.path(p),
                    "hvp_app_s": t_hvp,
                    "factored_deriv_s": t_deriv,
                    "factored_app_s": t_app,
                }
            )
            print(
                f"path {p:>4} {fb.path(p)}: hvp step {t_hvp:.2f} s; factored derivatives {t_deriv:.2f} s, "
                f"step {t_app:.2f} s",
                flush=True,
            )
    n_batches, iters = t.theta_is_batches, t.theta_is_iters
    hvp_total = P * U * iters * n_batches * statistics.mean(r["hvp_app_s"] for r in rows)
    factored_total = (
        P
        * n_batches
        * (
            statistics.mean(r["factored_deriv_s"] for r in rows)
            + U * iters * statistics.mean(r["factored_app_s"] for r in rows)
        )
    )
    out = {
        "preset": args.preset,
        "P": P,
        "U": U,
        "batches": n_batches,
        "batch_size": t.theta_is_batch_size,
        "iters": iters,
        "threads": args.threads,
        "clock": args.clock,
        "paths_timed": len(rows),
        "rows": rows,
        "hvp_total_s": hvp_total,
        "factored_total_s": factored_total,
        "speedup": hvp_total / factored_total,
    }
    print(
        f"{args.preset}: warm-up extrapolated to P={P}, U={U}, {iters} iterations, {n_batches} batch(es) of "
        f"{t.theta_is_batch_size}: released {hvp_total / 3600:.1f} h, factored {factored_total / 3600:.1f} h "
        f"({out['speedup']:.1f}x)"
    )
    if args.trial_step_s:
        trial = args.trial_step_s * t.epochs * build.build_data(cfg, U).split("train").n_batches(cfg.data.batch_size)
        out.update(trial_s=trial, hvp_over_trial=hvp_total / trial, factored_over_trial=factored_total / trial)
        print(
            f"one trial ({trial / 3600:.1f} h at {args.trial_step_s} s/step): warm-up = "
            f"{out['hvp_over_trial']:.2f} (released) -> {out['factored_over_trial']:.2f} (factored) trials"
        )
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

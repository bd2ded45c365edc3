"""Tracking-server load: N simulated trials logging at once to an ``mlflow server`` on sqlite and on
PostgreSQL. No training: each simulated trial replays a real trial's MLflow traffic through the study's own
``study.trial_log.TrialLog`` (find-or-create its run under a parent run, params and tags, one metric
batch per validation, final metrics, artifacts, end of run), back to back, as fast as the server answers.

Volumes (``--volume``):

* ``smoke``: measured on a real smoke trial (``study run ablation --smoke-test``, smoke-granular, 4
  epochs): 68 params, 13 tags, 9 metrics at each of 4 validations, 7 final metrics (43 points), 9
  artifacts of 89.7 kB (6 WAVs of 8,236 B, validation.png 37.6 kB, validation.csv 730 B, config.json
  1.9 kB);
* ``granular`` (paper scale, by arithmetic from the same trial): 200 epochs -> 200 validations of 9
  metrics (1,807 points); WAVs of 32,768 16-bit samples (65,580 B each); validation.csv ~36 kB
  (200 rows); the PNG and config as measured.

Every validation is flushed as its own ``log_batch`` (a trial buffers for ``flush_s`` = 10 s, so this
is the real traffic when an epoch takes 10 s or more, and an upper bound otherwise).

Reported per backend and N: wall time, logging calls per second (throughput), p50/p95/max latency of a
call (all calls, and ``log_batch`` of metrics alone), errors (failed calls; a trial that hits one
spools the rest, as in a study), validation metric points missing on the server (read back), and
duplicate runs (trials with two runs: a ``create_run`` the client retried after its 20-s timeout while
the server, slow but alive, created the first one).
The PostgreSQL server is a throwaway Debian cluster (``initdb`` in a temporary folder, 127.0.0.1 only,
run as the ``postgres`` user when root; ``make postgres`` installs it); it and the ``mlflow server`` are
started by ``bench/tracking_services.py``. ``--json`` prints one JSON document instead of the table.

    .venv/bin/python bench/tracking_load.py                               # N = 16, 64, 256, both backends
    .venv/bin/python bench/tracking_load.py --trials 64 --volume granular --backend postgresql --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mlflow.tracking import MlflowClient  # noqa: E402  (after the repo is importable)

from bench.tracking_services import Postgres, Server  # noqa: E402
from study import tracking  # noqa: E402
from study.trial_log import TrialLog  # noqa: E402


@dataclass(frozen=True)
class Volume:
    """One trial's MLflow traffic."""

    params: int
    validations: int
    val_metrics: int
    final_metrics: int
    artifacts: tuple[tuple[str, int], ...]  # (path, bytes)

    @property
    def points(self) -> int:
        return self.validations * self.val_metrics + self.final_metrics


_PAIRS = [f"audio/pair{i}_{k}.wav" for i in range(3) for k in ("reconstruction", "target")]
_WAVS_SMOKE = tuple((name, 8236) for name in _PAIRS)
_WAVS_GRANULAR = tuple((name, 44 + 2 * 32768) for name in _PAIRS)  # 32,768 16-bit samples
VOLUMES = {
    "smoke": Volume(
        68,
        4,
        9,
        7,
        _WAVS_SMOKE + (("config.json", 1874), ("curves/validation.csv", 730), ("curves/validation.png", 37648)),
    ),
    "granular": Volume(
        68,
        200,
        9,
        7,
        _WAVS_GRANULAR + (("config.json", 1874), ("curves/validation.csv", 36000), ("curves/validation.png", 37648)),
    ),
}
VAL_KEYS = (
    "val_theta_l1",
    "val_theta_l1_density",
    "val_theta_l1_slope",
    "val_loss",
    "train_loss",
    "elapsed_s",
    "epoch",
    "lr",
    "path_entropy",
)


# --- one simulated trial --------------------------------------------------------------------------------
class Timed:
    """The MLflow client a ``TrialLog`` uses, timing every call (``calls``: (method, seconds, error or ""))."""

    def __init__(self, client: MlflowClient, calls: list) -> None:
        self._client, self._calls = client, calls

    def __getattr__(self, name: str):
        method = getattr(self._client, name)

        def timed(*args, **kwargs):
            tic = time.perf_counter()
            try:
                out = method(*args, **kwargs)
            except Exception as err:
                self._calls.append((name, time.perf_counter() - tic, f"{name}: {type(err).__name__}: {err}"[:300]))
                raise
            self._calls.append((name, time.perf_counter() - tic, ""))
            return out

        return timed


def simulate_trial(
    uri: str, experiment_id: str, parent_id: str, key: str, volume: Volume, artifacts: Path, spool: Path, calls: list
) -> str:
    log = TrialLog(uri, experiment_id, parent_id, key, spool, flush_s=3600.0, warn=lambda msg: None)
    log._client = Timed(tracking.client(uri), calls)  # the real client, instrumented
    tags = {
        "scrapl.study": "load",
        "scrapl.arm": "scrapl",
        "scrapl.seed": key,
        "scrapl.preset": "smoke-granular",
        "scrapl.ray_trial_id": key,
        "scrapl.worker_pid": "0",
        "scrapl.worker_node": "127.0.0.1",
        "scrapl.cuda_visible_devices": "",
        "scrapl.kind": "ablation",
        "scrapl.bench": "tracking_load",
    }
    log.open(f"load · {key}", tags, {f"param.{i:02d}": i * 0.5 for i in range(volume.params)})
    for v in range(1, volume.validations + 1):
        log.log_metrics(9 * v, {k: v * 1e-3 + i for i, k in enumerate(VAL_KEYS[: volume.val_metrics])}, flush=True)
    log.log_final(9 * volume.validations, {f"test_metric_{i}": float(i) for i in range(volume.final_metrics)})
    log.log_artifacts(artifacts)
    log.terminate("FINISHED")
    return log.run_id or ""


def _worker(
    uri: str,
    experiment_id: str,
    parent_id: str,
    keys: list[str],
    volume: Volume,
    artifacts: str,
    spool: str,
    start_at: float,
) -> list:
    """One client process: its trials as threads, all released at ``start_at``."""
    calls: list = []
    time.sleep(max(0.0, start_at - time.time()))

    def trial(key: str) -> None:
        try:
            simulate_trial(uri, experiment_id, parent_id, key, volume, Path(artifacts), Path(spool), calls)
        except Exception as err:  # noqa: BLE001 - TrialLog spools tracking failures; anything else is counted
            calls.append(("trial", 0.0, f"trial {key} crashed: {type(err).__name__}: {err}"[:300]))

    threads = [threading.Thread(target=trial, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return calls


def write_artifacts(folder: Path, volume: Volume) -> None:
    rng = random.Random(0)
    for rel, size in volume.artifacts:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))


def run_load(uri: str, n: int, volume: Volume, processes: int, workdir: Path) -> dict:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")  # as the study's trials do (study.tracking)
    c = MlflowClient(uri)
    exp = c.create_experiment(f"scrapl/load-{n}-{secrets.token_hex(3)}")
    parent = c.create_run(exp, run_name="load", tags={"scrapl.role": "study"}).info.run_id
    artifacts, spool = workdir / f"art-{n}", workdir / f"spool-{n}"
    write_artifacts(artifacts, volume)
    keys = [f"t{i:04d}" for i in range(n)]
    groups = [keys[i::processes] for i in range(processes)]
    start_at = time.time() + 3.0  # every process imported and ready
    with ProcessPoolExecutor(processes) as pool:
        futures = [
            pool.submit(_worker, uri, exp, parent, g, volume, str(artifacts), str(spool), start_at) for g in groups if g
        ]
        calls = [call for f in futures for call in f.result()]
    wall = time.time() - start_at
    # every point there? (read back: the trial runs' metric histories)
    runs = tracking.search_runs(tracking.client(uri), exp, "tags.`scrapl.role` = 'trial'")
    by_key: dict[str, list] = {}
    for run in runs:
        by_key.setdefault(run.data.tags.get("scrapl.trial_id"), []).append(run)
    missing = (n - len(by_key)) * volume.validations * volume.val_metrics
    for key_runs in by_key.values():  # a trial's points in any of its runs
        for k in VAL_KEYS[: volume.val_metrics]:
            got = {int(m.step) for r in key_runs for m in c.get_metric_history(r.info.run_id, k)}
            missing += volume.validations - len(got)
    lat = sorted(s for name, s, _ in calls if name != "trial") or [float("nan")]
    batches = sorted(s for name, s, _ in calls if name == "log_batch")

    def q(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(p * len(xs)))] * 1000 if xs else float("nan")

    n_calls = sum(1 for name, *_ in calls if name != "trial")  # "trial": a simulated trial that crashed
    return {
        "trials": n,
        "calls": n_calls,
        "wall_s": round(wall, 2),
        "calls_per_s": round(n_calls / wall, 1),
        "p50_ms": round(q(lat, 0.5), 1),
        "p95_ms": round(q(lat, 0.95), 1),
        "max_ms": round(lat[-1] * 1000, 1),
        "log_batch_p95_ms": round(q(batches, 0.95), 1),
        "errors": sum(1 for *_, err in calls if err),
        "error_kinds": sorted({err[-200:] for *_, err in calls if err})[:5],
        "spooled_trials": len(list(spool.glob("*.jsonl"))) if spool.is_dir() else 0,
        "runs": len(runs),
        "duplicate_runs": len(runs) - len(by_key),
        "metric_points_missing": missing,
        "mean_ms": round(statistics.fmean(lat) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--trials", default="16,64,256", help="simulated trials at once, comma-separated (default 16,64,256)"
    )
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--volume", choices=sorted(VOLUMES), default="smoke", help="one trial's traffic (default smoke)")
    ap.add_argument("--workers", type=int, default=4, help="mlflow server workers (default 4, MLflow's default)")
    ap.add_argument("--processes", type=int, default=4, help="client processes the trials are spread over (default 4)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    args = ap.parse_args(argv)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # no "View run ..." per trial
    try:
        ns = [int(x) for x in args.trials.split(",")]
        if min(ns) < 1:
            raise ValueError
    except ValueError:
        ap.error(f"--trials: expected positive integers separated by commas, got {args.trials!r}")
    volume = VOLUMES[args.volume]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    workdir = Path(tempfile.mkdtemp(prefix="scrapl-tracking-load-"))
    results: list[dict] = []
    try:
        for backend in backends:
            pg = None
            if backend == "postgresql":
                pg = Postgres(workdir / "pg")
                pg.start()
                store = pg.uri
            else:
                store = f"sqlite:///{workdir / 'mlflow.db'}"
            server = Server(workdir, store, args.workers)
            try:
                for n in ns:
                    row = {"backend": backend, **run_load(server.uri, n, volume, min(args.processes, n), workdir)}
                    results.append(row)
                    if not args.json:
                        print(
                            f"{backend:10s} N={n:4d}  {row['calls']:6d} calls in {row['wall_s']:7.1f} s  "
                            f"{row['calls_per_s']:7.1f} calls/s  p50 {row['p50_ms']:7.1f} ms  "
                            f"p95 {row['p95_ms']:7.1f} ms  "
                            f"(log_batch p95 {row['log_batch_p95_ms']:.1f} ms)  max {row['max_ms']:8.1f} ms  "
                            f"errors {row['errors']}  spooled trials {row['spooled_trials']}  "
                            f"duplicate runs {row['duplicate_runs']}  "
                            f"points missing {row['metric_points_missing']}",
                            flush=True,
                        )
                    else:
                        print(
                            f"{backend} N={n}: {row['calls_per_s']} calls/s, p95 {row['p95_ms']} ms, "
                            f"{row['errors']} errors",
                            file=sys.stderr,
                            flush=True,
                        )
            finally:
                if os.environ.get("TRACKING_LOAD_SERVER_LOG"):
                    print(server.log.read_text()[-6000:], file=sys.stderr)
                server.stop()
                if pg is not None:
                    pg.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    doc = {
        "volume": args.volume,
        "per_trial": {
            "params": volume.params,
            "validations": volume.validations,
            "points": volume.points,
            "artifacts": len(volume.artifacts),
            "artifact_bytes": sum(s for _, s in volume.artifacts),
        },
        "server_workers": args.workers,
        "client_processes": args.processes,
        "cpus": os.cpu_count(),
        "results": results,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

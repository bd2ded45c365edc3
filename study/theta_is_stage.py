"""θ-IS stage: π computed once per study and preset, before any θ-IS trial starts.

``warmup.curvature_chunk`` is fanned out as Ray tasks over disjoint chunks of paths (interleaved, so
slow and fast paths mix; about ``WAVES`` chunks per worker, so that progress is reported and kept as it
goes) and, when there are more workers than paths, θ-dimensions. Each finished chunk is stored at once
(``study.theta_is_blocks``): an interrupted stage resumes with the paths it has not done. The chunks are
merged with ``theta_is.merge_curvature`` (C is deterministic per path, independent of chunking).
π goes to ``<study>/theta_is/<preset>/pi.npy`` with ``curvature.npy`` (C, paths × θ-dimensions),
``paths.json`` (the path table analysis reads) and ``stage.json`` (timings), and onto the parent MLflow
run under ``theta_is/<preset>/``. A stored π is reused (resume, or a second ``study run`` of the same
study). Every θ-IS trial gets the file's absolute path as ``train.theta_is_probs``.

Paper convention: the warm-up uses the encoder initialised with ``spec.theta_is_seed`` (seed 0).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Set
from typing import Any

import numpy as np
import ray
import torch

from analysis import schema
from search_spaces.spec import Cell, StudySpec
from study import tracking
from study.layout import StudyDir, write_json_atomic
from study.theta_is_blocks import BLOCKS_DIR, VERSION, BlockStore
from trainables import warmup
from trainables.build import loader_settings
from trainables.config import from_dict, override, to_dict
from trainables.core import theta_is
from trainables.oneshot_cache import fingerprint

__all__ = ["plan_chunks", "compute_pi", "run_stage", "warmup_config", "block_identity"]

WAVES = 8  # chunks per worker: a chunk is the unit of progress and of what an interruption can lose
CURVATURE_NPY = "curvature.npy"


def plan_chunks(
    n_paths: int, n_theta: int, n_tasks: int, *, done: Set[tuple[int, int]] = frozenset(), waves: int = 1
) -> list[tuple[list[int], list[int] | None]]:
    """Disjoint ``(paths, theta_dims)`` chunks covering every (path, dim) pair not in ``done``; ``None``
    = all dims. Paths with the same dimensions left are chunked together, interleaved, in at most
    ``n_tasks × waves`` chunks per group; with more workers than paths (and nothing done), chunks of one
    θ-dimension keep every worker busy."""
    n_tasks, waves = max(1, n_tasks), max(1, waves)
    groups: dict[tuple[int, ...], list[int]] = {}
    for p in range(n_paths):
        left = tuple(u for u in range(n_theta) if (p, u) not in done)
        if left:
            groups.setdefault(left, []).append(p)
    chunks: list[tuple[list[int], list[int] | None]] = []
    for left, paths in groups.items():
        dims = None if len(left) == n_theta else list(left)
        if dims is None and n_tasks > len(paths) and n_theta > 1:
            k = min(len(paths), max(1, n_tasks // n_theta))
            chunks += [(paths[i::k], [u]) for i in range(k) for u in range(n_theta)]
        else:
            k = min(n_tasks * waves, len(paths))
            chunks += [(paths[i::k], dims) for i in range(k)]
    return chunks


@ray.remote(num_cpus=1)
def _curvature_task(cfg_dict: dict, paths: list[int], dims: list[int] | None) -> tuple[np.ndarray, float, float]:
    """C of one chunk, and when the task started and ended (wall clock, seconds since the epoch)."""
    torch.set_num_threads(1)
    start = time.time()
    C = warmup.curvature_chunk(from_dict(cfg_dict), paths, dims)
    return C.numpy(), start, time.time()


def compute_pi(
    cfg,
    n_tasks: int,
    store: BlockStore | None = None,
    say: Callable[[str], None] | None = None,
    label: str = "θ-IS",
    memory: int | None = None,
) -> tuple[Any, Any, dict[str, Any]]:
    """``(π, C, timing stats)`` for ``cfg`` from Ray tasks on ``n_tasks`` workers (the stats include
    ``task_intervals``, each task's start and end, of this call's tasks). With a ``store``,
    its blocks are reused and every finished chunk is saved to it as it returns; ``say`` gets a line of
    progress per chunk, starting with ``label``; ``memory``: bytes of Ray's ``memory`` resource each task
    reserves (``--memory-per-trial``), so no more tasks run on a node than its memory holds."""
    P, U = warmup.n_paths(cfg), warmup.n_theta(cfg)
    stored, note = store.load() if store is not None else ([], None)
    if note and say:
        say(f"{label}: {note}")
    done = {pair for block in stored for pair in block.pairs()}
    chunks = plan_chunks(P, U, n_tasks, done=done, waves=WAVES if store is not None else 1)
    if done and say:
        say(f"{label}: {len(done)} of {P * U} (path, θ-dimension) pairs are stored; {len(chunks)} chunks left")
    tic = time.perf_counter()
    cfg_ref = ray.put(to_dict(cfg))
    task = _curvature_task.options(memory=memory) if memory else _curvature_task
    pending = {
        task.remote(cfg_ref, paths, dims): (paths, dims if dims is not None else list(range(U)))
        for paths, dims in chunks
    }
    blocks = [(list(b.paths), list(b.dims), torch.from_numpy(b.C)) for b in stored]
    task_s = [b.task_s for b in stored]
    finished, intervals = len(done), []
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        paths, dims = pending.pop(ready[0])
        C, start, end = ray.get(ready[0])
        seconds = end - start
        intervals.append((start, end))
        if store is not None:
            store.save(paths, dims, C, seconds)
        blocks.append((paths, dims, torch.from_numpy(np.array(C))))
        task_s.append(seconds)
        finished += len(paths) * len(dims)
        if say and pending:
            elapsed = time.perf_counter() - tic
            say(f"{label}: {finished}/{P * U} (path, θ-dimension) pairs done in {elapsed:.0f} s")
    C = theta_is.merge_curvature(blocks, P, U)
    pi = theta_is.probabilities(C, cfg.train.theta_is_min_prob_frac)
    wall = time.perf_counter() - tic
    return (
        pi,
        C,
        {
            "n_paths": P,
            "n_theta": U,
            "n_tasks": len(chunks),
            "n_pairs_reused": len(done),
            "wall_s": wall,
            "task_s_sum": sum(task_s),
            "task_s_max": max(task_s),
            "task_intervals": intervals,
        },
    )


def block_identity(cfg) -> dict[str, Any]:
    """What defines C for ``cfg``, fingerprinted by the stage's stored blocks: the config without where its
    decoded data lives (a moved study keeps its blocks), the decoded one-shot folder's key (its files),
    and the computation's ``VERSION``."""
    d = to_dict(cfg)
    data = {k: v for k, v in d.get("data", {}).items() if k != "cache_dir"}
    identity: dict[str, Any] = {**d, "data": data, "theta_is_version": VERSION}
    if cfg.data.source == "oneshot-folder":
        identity["data_files"] = fingerprint(cfg.data.oneshot_root, **loader_settings(cfg))[0]
    return identity


def warmup_config(spec: StudySpec, preset: str, data_dir: str | None = None):
    """The config whose encoder, data and θ-IS settings define π for ``preset``; ``data_dir`` (the study's
    decoded one-shot cache, ``study.preflight.write_data_cache``) is read instead of decoding the folder
    again, as the trials do, unless the user set ``data.cache_dir``."""
    arm = next(a for a in spec.arms if dict(a.overrides).get("train.theta_is"))
    cfg = spec.config(Cell(preset, arm.name, spec.theta_is_seed))
    if data_dir and cfg.data.source == "oneshot-folder" and "data.cache_dir" not in dict(spec.overrides):
        cfg = override(cfg, **{"data.cache_dir": data_dir})
    return cfg


def run_stage(
    spec: StudySpec,
    sdir: StudyDir,
    tracking_uri: str,
    parent_run_id: str,
    *,
    n_tasks: int | None = None,
    say: Callable[[str], None] = print,
    data_dir: str | None = None,
    memory: int | None = None,
) -> dict[str, str]:
    """Compute (or reuse) π for every preset with θ-IS arms; ``{preset: absolute pi.npy path}``."""
    files: dict[str, str] = {}
    for preset in spec.theta_is_presets:
        out = sdir.theta_is_dir(preset)
        pi_file = out / schema.PI_NPY
        cfg = warmup_config(spec, preset, data_dir)
        if pi_file.is_file():
            say(f"θ-IS {preset}: reusing π from {pi_file}")
        else:
            tasks = n_tasks or max(1, int(ray.available_resources().get("CPU", os.cpu_count() or 1)))
            say(f"θ-IS {preset}: computing π over {warmup.n_paths(cfg)} paths with {tasks} Ray task(s) ...")
            store = BlockStore(out / BLOCKS_DIR, block_identity(cfg), warmup.n_paths(cfg) * warmup.n_theta(cfg))
            pi, C, stats = compute_pi(cfg, tasks, store, say=say, label=f"θ-IS {preset}", memory=memory)
            out.mkdir(parents=True, exist_ok=True)
            np.save(out / CURVATURE_NPY, C.numpy())
            table = cfg.jtfs_settings().filter_bank.path_table(cfg.synth.sample_rate)
            write_json_atomic(out / schema.PATHS_JSON, table)
            timings = {k: v for k, v in stats.items() if k != "task_intervals"}
            write_json_atomic(out / "stage.json", {"preset": preset, "seed": spec.theta_is_seed, **timings})
            tmp = out / f".{schema.PI_NPY}.tmp.npy"
            warmup.save_probs(tmp, pi)
            os.replace(tmp, pi_file)  # π appears atomically: a crash never leaves a partial file
            store.remove()  # π and C hold everything the blocks did
            say(
                f"θ-IS {preset}: π ready in {stats['wall_s']:.1f} s ({stats['n_tasks']} tasks, "
                f"{stats['task_s_sum']:.1f} task-seconds) → {pi_file}"
            )
        folder = schema.pi_artifact_dir(preset)
        if not tracking.parent_has_artifact(tracking_uri, parent_run_id, f"{folder}/{schema.PI_NPY}"):
            names = (schema.PI_NPY, CURVATURE_NPY, schema.PATHS_JSON, "stage.json")
            tracking.log_parent_files(
                tracking_uri, parent_run_id, [out / n for n in names if (out / n).is_file()], folder
            )
        files[preset] = str(pi_file)
    return files

"""θ-IS stage: π computed once per study and preset, before any θ-IS trial starts.

``warmup.curvature_chunk`` is fanned out as Ray tasks over disjoint chunks of paths (interleaved, so
slow and fast paths mix) and, when there are more workers than paths, θ-dimensions; the chunks are
merged with ``warmup.probs_from_chunks`` (C is deterministic per path, independent of chunking).
π goes to ``<study>/theta_is/<preset>/pi.npy`` with ``paths.json`` (the path table analysis reads)
and ``stage.json`` (timings), and onto the parent MLflow run under ``theta_is/<preset>/``. A stored
π is reused (resume, or a second ``study run`` of the same study). Every θ-IS trial gets the file's
absolute path as ``train.theta_is_probs``.

Paper convention: the warm-up uses the encoder initialised with ``spec.theta_is_seed`` (seed 0).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import ray
import torch

from analysis import schema
from search_spaces.spec import Cell, StudySpec
from study import tracking
from study.layout import StudyDir, write_json_atomic
from trainables import warmup
from trainables.config import from_dict, override, to_dict

__all__ = ["plan_chunks", "compute_pi", "run_stage", "warmup_config"]


def plan_chunks(n_paths: int, n_theta: int, n_tasks: int) -> list[tuple[list[int], list[int] | None]]:
    """Disjoint ``(paths, theta_dims)`` chunks covering all (path, dim) pairs; ``None`` = all dims."""
    n_tasks = max(1, n_tasks)
    if n_tasks <= n_paths or n_theta == 1:
        k = min(n_tasks, n_paths)
        return [(list(range(i, n_paths, k)), None) for i in range(k)]
    k = min(n_paths, max(1, n_tasks // n_theta))
    return [(list(range(i, n_paths, k)), [u]) for i in range(k) for u in range(n_theta)]


@ray.remote(num_cpus=1)
def _curvature_task(cfg_dict: dict, paths: list[int], dims: list[int] | None) -> tuple[np.ndarray, float]:
    torch.set_num_threads(1)
    tic = time.perf_counter()
    C = warmup.curvature_chunk(from_dict(cfg_dict), paths, dims)
    return C.numpy(), time.perf_counter() - tic


def compute_pi(cfg, n_tasks: int) -> tuple[Any, dict[str, Any]]:
    """π for ``cfg`` from ``n_tasks`` Ray tasks; returns ``(π tensor, timing stats)``."""
    P, U = warmup.n_paths(cfg), warmup.n_theta(cfg)
    chunks = plan_chunks(P, U, n_tasks)
    tic = time.perf_counter()
    cfg_ref = ray.put(to_dict(cfg))
    futures = [_curvature_task.remote(cfg_ref, paths, dims) for paths, dims in chunks]
    results = ray.get(futures)
    merged = [
        (paths, dims if dims is not None else list(range(U)), torch.from_numpy(np.array(C)))
        for (paths, dims), (C, _) in zip(chunks, results, strict=True)
    ]
    pi = warmup.probs_from_chunks(cfg, merged)
    wall = time.perf_counter() - tic
    task_s = [t for _, t in results]
    return pi, {
        "n_paths": P,
        "n_theta": U,
        "n_tasks": len(chunks),
        "wall_s": wall,
        "task_s_sum": sum(task_s),
        "task_s_max": max(task_s),
    }


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
            pi, stats = compute_pi(cfg, tasks)
            out.mkdir(parents=True, exist_ok=True)
            table = cfg.jtfs_settings().filter_bank.path_table(cfg.synth.sample_rate)
            write_json_atomic(out / schema.PATHS_JSON, table)
            write_json_atomic(out / "stage.json", {"preset": preset, "seed": spec.theta_is_seed, **stats})
            tmp = out / f".{schema.PI_NPY}.tmp.npy"
            warmup.save_probs(tmp, pi)
            os.replace(tmp, pi_file)  # π appears atomically: a crash never leaves a partial file
            say(
                f"θ-IS {preset}: π ready in {stats['wall_s']:.1f} s ({stats['n_tasks']} tasks, "
                f"{stats['task_s_sum']:.1f} task-seconds) → {pi_file}"
            )
        folder = schema.pi_artifact_dir(preset)
        if not tracking.parent_has_artifact(tracking_uri, parent_run_id, f"{folder}/{schema.PI_NPY}"):
            names = (schema.PI_NPY, schema.PATHS_JSON, "stage.json")
            tracking.log_parent_files(
                tracking_uri, parent_run_id, [out / n for n in names if (out / n).is_file()], folder
            )
        files[preset] = str(pi_file)
    return files

"""θ-IS warm-up for a run config: the encoder at initialisation, the synth, the SCRAPL per-path loss and
the warm-up batches (notes §8), and π from their curvature. The study layer fans ``curvature_chunk``
out over disjoint path ranges (Ray tasks) and combines the chunks with ``probs_from_chunks``.

Paper convention: π is computed once per study and preset (with the encoder of seed 0) and loaded by
every θ-IS trial.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from trainables import build
from trainables.config import RunConfig
from trainables.core import SCRAPLLoss, theta_is
from trainables.data import draw_seed_hat, order_seed


def warmup_inputs(cfg: RunConfig, dtype: torch.dtype = torch.float32):
    """``(encoder, synth, path_loss, batches, n_paths)`` for θ-IS at initialisation of ``cfg.seed``.

    Batches: the first ``train.theta_is_batches`` batches of ``train.theta_is_batch_size`` train
    examples in fixed order, each with reconstruction seeds from a stream of ``cfg.seed``.
    ``dtype=torch.float64`` computes in double precision (encoder, targets and the JTFS filters): the
    released float32 computation moves π by up to ~2e-3 at smoke scale (its second derivatives run through
    many small quantities), float64 is exact to ~1e-15.
    """
    device = build.resolve_device(cfg)
    torch.manual_seed(cfg.seed)
    synth = build.build_synth(cfg).to(device)
    encoder = build.build_encoder(cfg, len(synth.theta_names)).to(device)
    grid = build.build_data(cfg, len(synth.theta_names))
    if cfg.train.loss != "scrapl":
        raise ValueError(f"train.loss: θ-IS needs the scrapl loss, got {cfg.train.loss!r}")
    loss = build.build_loss(cfg, None).to(device)  # uniform sampler; paths are passed explicitly
    if dtype != torch.float32:
        j = cfg.jtfs
        loss = SCRAPLLoss(
            shape=cfg.synth.n_samples,
            J=j.J,
            Q1=j.Q1,
            Q2=j.Q2,
            J_fr=j.J_fr,
            Q_fr=j.Q_fr,
            T=j.T,
            F=j.F,
            use_rho_log1p=j.use_rho_log1p,
            dtype=dtype,
        ).to(device)
        encoder = encoder.to(dtype)
    t = cfg.train
    split = grid.split("train")
    if t.theta_is_batch_size > len(split):
        raise ValueError(
            f"train.theta_is_batch_size: {t.theta_is_batch_size} is larger than the train split ({len(split)} examples)"
        )
    gen = torch.Generator().manual_seed(order_seed(cfg.seed, (1 << 41)))
    batches = []
    for b, batch in enumerate(split.fixed_batches(t.theta_is_batch_size)):
        if b == t.theta_is_batches:
            break
        x, _ = build.targets(batch, synth, device)
        batches.append((x.to(dtype), draw_seed_hat(gen, len(x)).to(device)))

    def path_loss(x_hat: Tensor, x: Tensor, path_idx: int) -> Tensor:
        return loss(x_hat, x, path_idx=path_idx)

    return encoder, synth, path_loss, batches, loss.n_paths


def curvature_chunk(
    cfg: RunConfig,
    paths: Sequence[int],
    theta_dims: Sequence[int] | None = None,
    progress: Callable | None = None,
    method: str = "factored",
    dtype: torch.dtype = torch.float32,
    rebuild_graphs: bool | None = None,
) -> Tensor:
    """``C[p, u]`` (len(paths), len(theta_dims)) float64 for one chunk of paths (and θ-dimensions).
    ``method``: ``theta_is.curvature``'s (``"factored"``, or the released ``"hvp"``: the same operator);
    ``dtype``: see ``warmup_inputs``; ``rebuild_graphs=False`` keeps every batch's encoder graph between
    power-iteration steps (factored: ~2x fewer encoder passes for ~0.3 GB per granular batch of 32)."""
    encoder, synth, path_loss, batches, n_paths = warmup_inputs(cfg, dtype)
    return theta_is.curvature(
        encoder,
        synth,
        path_loss,
        batches,
        list(paths),
        theta_dims,
        n_iter=cfg.train.theta_is_iters,
        seed=cfg.seed,
        n_paths=n_paths,
        progress=progress,
        method=method,
        rebuild_graphs=rebuild_graphs,
    )


def n_theta(cfg: RunConfig) -> int:
    return len(build.build_synth(cfg).theta_names)


def n_paths(cfg: RunConfig) -> int:
    return cfg.jtfs_settings().filter_bank.n_paths


def probs_from_chunks(cfg: RunConfig, chunks: Sequence[tuple[Sequence[int], Sequence[int], Tensor]]) -> Tensor:
    """Merge ``(paths, theta_dims, C_chunk)`` pieces into C (P, U) and apply Eq. 10 → π (P,) float64."""
    C = theta_is.merge_curvature(chunks, n_paths(cfg), n_theta(cfg))
    return theta_is.probabilities(C, cfg.train.theta_is_min_prob_frac)


def compute_probs(cfg: RunConfig, method: str = "factored", dtype: torch.dtype = torch.float32) -> Tensor:
    """π for ``cfg`` computed serially in this process (all paths, all θ-dimensions)."""
    P = n_paths(cfg)
    C = curvature_chunk(cfg, range(P), method=method, dtype=dtype)
    return theta_is.probabilities(C, cfg.train.theta_is_min_prob_frac)


def save_probs(path: str | Path, probs: Tensor) -> None:
    """Write π as ``.npy`` (float64) or ``.json`` (a list), chosen by the suffix."""
    path = Path(path)
    values = probs.detach().cpu().double().numpy()
    if path.suffix == ".json":
        path.write_text(json.dumps(values.tolist()))
    else:
        np.save(path, values)


def load_probs(path: str | Path) -> Tensor:
    """Read π from ``.npy`` or ``.json`` (a list or ``{"pi": [...]}``); validated by the sampler."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"train.theta_is_probs: file {str(path)!r} does not exist")
    try:
        if path.suffix == ".json":
            doc = json.loads(path.read_text())
            values = doc["pi"] if isinstance(doc, dict) else doc
        else:
            values = np.load(path, allow_pickle=False)
        return torch.as_tensor(np.asarray(values, dtype=np.float64))
    except (ValueError, KeyError, TypeError, OSError) as err:  # not JSON / no "pi" / not numbers / not .npy
        raise ValueError(
            f"train.theta_is_probs: {str(path)!r} is not a π file (expected a .npy array, or .json "
            f'with a list of numbers or {{"pi": [...]}}): {type(err).__name__}: {err}'
        ) from None

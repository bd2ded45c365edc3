"""Build the pieces of a run from its ``RunConfig``: synth, encoder, data, loss, optimizer, device."""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from trainables.baselines import PLoss, make_baseline_loss
from trainables.config import RunConfig
from trainables.core import JTFSLoss, PathwiseSGD, SCRAPLLoss
from trainables.data import ThetaGrid
from trainables.encoder import Spectral2DCNN
from trainables.fad import load_embedding
from trainables.oneshot_folder import list_audio_files
from trainables.oneshots import OneShotData
from trainables.perceptual import PerceptualMetrics
from trainables.split_sizes import split_counts
from trainables.synths import ChirpletSynth, GranularSynth
from trainables.synths.tr808 import TR808Synth


def resolve_device(cfg: RunConfig) -> torch.device:
    """``auto`` = CUDA when available (a trial Ray gave a GPU fraction sees it), else CPU."""
    if cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("device='cuda' was requested but CUDA is not available")
    return torch.device("cuda")


def build_synth(cfg: RunConfig) -> nn.Module:
    s = cfg.synth
    if s.kind == "granular":
        return GranularSynth(
            sample_rate=s.sample_rate,
            n_samples=s.n_samples,
            n_grains=s.n_grains,
            grain_n_samples=s.grain_n_samples,
            f0_min_hz=s.f0_min_hz,
            f0_max_hz=s.f0_max_hz,
        )
    if s.kind == "chirplet":
        return ChirpletSynth(
            ranges=s.chirplet_ranges,
            sample_rate=s.sample_rate,
            n_samples=s.n_samples,
            f0_hz=s.f0_hz,
            max_shift=s.max_shift,
        )
    return TR808Synth(sample_rate=s.sample_rate, n_samples=s.n_samples, max_shift=s.max_shift, onset=s.onset)


def build_encoder(cfg: RunConfig, n_params: int) -> Spectral2DCNN:
    e = cfg.encoder
    return Spectral2DCNN(
        n_params,
        sample_rate=cfg.synth.sample_rate,
        n_samples=cfg.synth.n_samples,
        channels=e.channels,
        n_blocks=e.n_blocks,
        pools=e.pools,
        latent=e.latent,
        dropout=e.dropout,
        hop_length=e.hop_length,
        n_octaves=e.n_octaves,
        bins_per_octave=e.bins_per_octave,
    )


def build_data(cfg: RunConfig, n_params: int) -> ThetaGrid | OneShotData:
    """The θ grid, or the one-shot dataset split by the run seed (the paper repeats TR-808 runs over
    seeds *and* splits). Synthetic one-shot targets are aligned (``max_shift=0``) like recordings; a
    folder is read through the decode cache when ``data.cache_dir`` is set (a study sets it)."""
    d, s = cfg.data, cfg.synth
    if d.source == "grid":
        return ThetaGrid(d.grid_size, d.n_seeds_per_theta, n_params)
    if d.source == "oneshot-synthetic":
        target_synth = TR808Synth(sample_rate=s.sample_rate, n_samples=s.n_samples, max_shift=0, onset=s.onset)
        return OneShotData.synthetic(d.n_examples, d.split_sizes, split_seed=cfg.seed, data_seed=0, synth=target_synth)
    return OneShotData.from_folder(
        d.oneshot_root,
        d.split_sizes,
        split_seed=cfg.seed,
        cache_dir=d.cache_dir,
        skip_bad=d.skip_bad,
        **loader_settings(cfg),
    )


def expected_split_counts(cfg: RunConfig) -> dict[str, int] | None:
    """{"train", "val", "test"} → examples of the run's data, without decoding anything: the θ grid's
    split, the synthetic or counted one-shot split, or fractions of the audio files listed under
    ``data.oneshot_root`` (an upper bound when some files turn out bad); None when that folder cannot be
    listed or is too small for the fractions (the preflight reports it)."""
    d = cfg.data
    if d.source == "grid":
        return ThetaGrid(d.grid_size, d.n_seeds_per_theta, _grid_n_params(cfg)).split_sizes()
    known = d.known_split_counts()
    if known is not None:
        return known
    try:
        return split_counts(len(list_audio_files(d.oneshot_root)), d.split_sizes)
    except (OSError, ValueError):
        return None


def loader_settings(cfg: RunConfig) -> dict:
    """The one-shot folder loader's settings of a run (``trainables.oneshot_folder.LOADER_DEFAULTS``)."""
    s = cfg.synth
    return dict(sample_rate=s.sample_rate, n_samples=s.n_samples, onset=s.onset, max_duration_s=cfg.data.max_duration_s)


def targets(batch, synth: nn.Module, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(x (B, 1, N), θ (B, U) or None)`` of a data batch: θ-grid batches ``(θ, seed)`` are rendered
    by ``synth`` without a graph; one-shot batches carry their audio (and θ when synthetic)."""
    if isinstance(batch, tuple):
        theta, seed = batch[0].to(device), batch[1].to(device)
        with torch.no_grad():
            return synth(theta, seed), theta
    theta = None if batch.theta is None else batch.theta.to(device)
    return batch.audio.to(device), theta


def build_perceptual(cfg: RunConfig):
    """Test-time audio metrics of Tables 4, 8, 9 (``eval.perceptual``), or None."""
    if not cfg.eval.perceptual:
        return None
    jtfs = None
    if cfg.eval.jtfs:
        jtfs = build_jtfs_distance(cfg)
    fad = (
        load_embedding(cfg.eval.fad_embedding, sample_rate=cfg.eval.fad_sample_rate) if cfg.eval.fad_embedding else None
    )
    return PerceptualMetrics(
        cfg.synth.sample_rate, cfg.synth.n_samples, mss=True, jtfs=jtfs or False, fad_embedding=fad, onset="detect"
    )


def build_jtfs_distance(cfg: RunConfig) -> nn.Module:
    """The full-JTFS distance at the run's JTFS settings (an evaluation metric)."""
    j = cfg.jtfs
    return JTFSLoss(
        shape=cfg.synth.n_samples,
        J=j.J,
        Q1=j.Q1,
        Q2=j.Q2,
        J_fr=j.J_fr,
        Q_fr=j.Q_fr,
        T=j.T,
        F=j.F,
        use_rho_log1p=j.use_rho_log1p,
    )


def build_loss(cfg: RunConfig, probs=None) -> nn.Module:
    """The training loss ``loss(x_hat, x)`` (``loss(theta_hat, theta)`` for P-loss)."""
    t, j = cfg.train, cfg.jtfs
    jtfs_args = dict(
        shape=cfg.synth.n_samples,
        J=j.J,
        Q1=j.Q1,
        Q2=j.Q2,
        J_fr=j.J_fr,
        Q_fr=j.Q_fr,
        T=j.T,
        F=j.F,
        use_rho_log1p=j.use_rho_log1p,
    )
    if t.loss == "scrapl":
        return SCRAPLLoss(**jtfs_args, probs=probs, seed=cfg.seed)
    if t.loss == "jtfs":
        return JTFSLoss(**jtfs_args)
    if t.loss == "p-loss":
        return PLoss()
    return make_baseline_loss(t.loss, cfg.synth.sample_rate, cfg.synth.n_samples, seed=cfg.seed)


def build_optimizer(cfg: RunConfig, params, n_paths: int | None) -> torch.optim.Optimizer:
    """SGD after P-Adam/P-SAGA when either is on, AdamW otherwise (notes §6, §11.6)."""
    t = cfg.train
    if t.pathwise:
        return PathwiseSGD(
            params,
            n_paths=n_paths,
            lr=t.lr,
            use_p_adam=t.p_adam,
            use_p_saga=t.p_saga,
            betas=(t.beta1, t.beta2),
            eps=t.eps,
            weight_decay=t.weight_decay,
            grad_mult=t.grad_mult,
            variant=t.pathwise_variant,
        )
    return torch.optim.AdamW(params, lr=t.lr, betas=(t.beta1, t.beta2), eps=t.eps, weight_decay=t.weight_decay)


def uses_grad_mult(cfg: RunConfig) -> bool:
    """The released code scales the raw gradient by ``grad_mult`` for the JTFS-based losses only."""
    return cfg.train.loss in ("scrapl", "jtfs") and not cfg.train.pathwise


def learning_rate(cfg: RunConfig, epoch: int) -> float:
    """Learning rate of ``epoch`` (0-based): constant, or linear from ``lr`` to ``lr_end`` over the
    run's epochs (torch ``LinearLR`` stepped once per epoch; TR-808, notes §11.12)."""
    t = cfg.train
    if t.lr_schedule == "none":
        return t.lr
    frac = min(epoch, t.epochs) / t.epochs
    return t.lr + (t.lr_end - t.lr) * frac


@lru_cache(maxsize=64)
def _grid_train_size(grid_size: int, n_seeds_per_theta: int, n_params: int) -> int:
    return ThetaGrid(grid_size, n_seeds_per_theta, n_params).split_sizes()["train"]


def steps_per_epoch(cfg: RunConfig) -> int:
    """Optimizer steps per epoch of ``cfg``'s run (``drop_last`` batches of its train split, as
    ``Run.steps_per_epoch``), without building its data: the θ grid's train split (cached per grid), or
    the one-shot sources' train count (``data.split_sizes[0]``, or ``expected_split_counts`` for fractions:
    of ``data.n_examples``, or of the audio files listed under ``data.oneshot_root``; one step when that
    folder cannot be listed). Paper: 3075 // 32 = 96; TR-808 425 // 8 = 53."""
    d = cfg.data
    if d.source == "grid":
        n_train = _grid_train_size(d.grid_size, d.n_seeds_per_theta, _grid_n_params(cfg))
    else:
        counts = expected_split_counts(cfg)
        n_train = counts["train"] if counts else d.batch_size
    return n_train // d.batch_size


def _grid_n_params(cfg: RunConfig) -> int:
    return len({"granular": GranularSynth, "chirplet": ChirpletSynth}[cfg.synth.kind].theta_names)

"""θ-grid data for the synth sound-matching tasks, split by θ combination (notes §9.3, §6).

An example is a pair ``(θ, seed)``: the target audio is ``synth(θ, seed)``, rendered on the fly.
The data order is a pure function of ``(run seed, epoch)`` (``epoch_order``), so a run resumed at
any global step knows exactly which batch comes next without saved loader state:

    epoch, b = divmod(step, split.n_batches(batch_size))
    theta, seed = split.train_batch(batch_size, run_seed, epoch, b)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from trainables.core.checks import check_int
from trainables.split_sizes import N_FOLDS, SPLITS, TEST_FOLDS, TRAIN_FOLDS, VAL_FOLDS, grid_rows

SEED_HAT_LOW, SEED_HAT_HIGH = 9_999_999, 19_999_998
"""``seed_hat`` range ``[low, high)`` of the reconstruction's synth seed (notes §6). It is disjoint
from the dataset's seeds (row indices), so ``x_hat`` never reuses a target's grains by design."""

_MASK64 = (1 << 64) - 1


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def order_seed(seed: int, epoch: int) -> int:
    """The generator seed of epoch ``epoch`` of run ``seed``: a 63-bit hash of the pair.

    Hashing (rather than e.g. ``seed + epoch``) keeps runs with nearby seeds from sharing epochs.
    """
    check_int("seed", seed, 0)
    check_int("epoch", epoch, 0)
    return _splitmix64(_splitmix64(seed) ^ epoch) >> 1


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """Shuffled order of ``n`` examples in epoch ``epoch`` of run ``seed``: LongTensor (n,).

    A permutation of ``0..n−1`` drawn with a private CPU ``torch.Generator`` seeded by
    ``order_seed(seed, epoch)``; it never touches the global RNG state.
    """
    check_int("n", n, 1)
    g = torch.Generator(device="cpu").manual_seed(order_seed(seed, epoch))
    return torch.randperm(n, generator=g)


def draw_seed_hat(generator: torch.Generator, batch_size: int) -> Tensor:
    """Fresh synth seeds for the reconstruction (notes §6, "meso" setting): int64 (batch_size,).

    Integers in ``[9_999_999, 19_999_998)`` drawn from ``generator`` (the caller owns it, so its
    state can be checkpointed with ``generator.get_state()``).
    """
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    check_int("batch_size", batch_size, 1)
    return torch.randint(
        SEED_HAT_LOW, SEED_HAT_HIGH, (batch_size,), generator=generator, dtype=torch.long, device=generator.device
    )


class SeededBatches:
    """Batching shared by every split (θ grid, one-shots): a shuffled, resumable training order that
    is a pure function of (run seed, epoch) (``epoch_order``), and a fixed order for evaluation.

    A split provides ``name``, ``__len__`` and ``batch(rows)`` (rows = positions in the split);
    ``FIXED_DROP_LAST`` is the default of ``fixed_batches``.
    """

    FIXED_DROP_LAST = True
    name: str

    def batch(self, rows: Tensor):
        raise NotImplementedError

    def _check_batch_size(self, batch_size: int) -> None:
        check_int("batch_size", batch_size, 1)
        if batch_size > len(self):
            raise ValueError(f"batch_size={batch_size} is larger than the {self.name} split ({len(self)} examples)")

    def n_batches(self, batch_size: int) -> int:
        """Batches per epoch with ``drop_last`` (paper: 96 train at batch 32; TR-808: 425 // 8 = 53)."""
        self._check_batch_size(batch_size)
        return len(self) // batch_size

    def batch_indices(self, batch_size: int, seed: int, epoch: int, b: int) -> Tensor:
        """Rows (batch_size,) of shuffled batch ``b`` of epoch ``epoch`` of run ``seed``."""
        n_batches = self.n_batches(batch_size)
        if isinstance(b, bool) or not isinstance(b, int) or not 0 <= b < n_batches:
            raise ValueError(f"b must be an integer in [0, {n_batches}), got {b!r}")
        return epoch_order(len(self), seed, epoch)[b * batch_size : (b + 1) * batch_size]

    def train_batch(self, batch_size: int, seed: int, epoch: int, b: int):
        """Shuffled batch ``b`` of epoch ``epoch`` of run ``seed``."""
        return self.batch(self.batch_indices(batch_size, seed, epoch, b))

    def batch_at_step(self, batch_size: int, seed: int, step: int):
        """The shuffled batch consumed at global step ``step`` (0-based) of run ``seed``."""
        check_int("step", step, 0)
        epoch, b = divmod(step, self.n_batches(batch_size))
        return self.train_batch(batch_size, seed, epoch, b)

    def epoch_batches(self, batch_size: int, seed: int, epoch: int, start: int = 0) -> Iterator:
        """Shuffled batches ``start, start+1, ...`` of one epoch (``drop_last``)."""
        n_batches = self.n_batches(batch_size)
        order = epoch_order(len(self), seed, epoch)
        for b in range(start, n_batches):
            yield self.batch(order[b * batch_size : (b + 1) * batch_size])

    def fixed_batches(self, batch_size: int, drop_last: bool | None = None) -> Iterator:
        """Batches in the fixed row order (validation / test); ``drop_last`` defaults to the split's
        ``FIXED_DROP_LAST``."""
        self._check_batch_size(batch_size)
        drop_last = self.FIXED_DROP_LAST if drop_last is None else drop_last
        stop = len(self) - len(self) % batch_size if drop_last else len(self)
        for start in range(0, stop, batch_size):
            yield self.batch(torch.arange(start, min(start + batch_size, stop)))


@dataclass(frozen=True, eq=False)
class GridSplit(SeededBatches):
    """One split of the θ grid: ``theta`` (n, U) float32, ``seed`` (n,) int64, ``combo`` (n,) int64.

    ``combo`` is the flat θ-combination index (``d_idx·G + s_idx`` for U = 2). Rows are in the
    grid's fixed order (θ combination, then seed). Batches are ``(θ (b, U), seed (b,))``; evaluation
    drops the last partial batch as the released code (1025 val rows → 32 batches, 1020 test rows →
    31 at batch 32).
    """

    name: str
    theta: Tensor
    seed: Tensor
    combo: Tensor

    def __len__(self) -> int:
        return int(self.seed.shape[0])

    def batch(self, rows: Tensor) -> tuple[Tensor, Tensor]:
        return self.theta[rows], self.seed[rows]


class ThetaGrid:
    """The θ grid dataset (notes §9.3): ``G**U`` θ combinations × ``n_seeds_per_theta`` seeds.

    * θ values per parameter: ``i/(G+1)`` for ``i = 1..G`` (paper G = 32: 1/33 .. 32/33).
    * Rows in order (θ combination, seed copy); row r has ``seed = r`` (unique, 0..M−1).
    * Flat θ-combination index ``c = Σ_u idx_u·G^(U−1−u)`` (``d_idx·G + s_idx`` for U = 2);
      fold ``c mod 5``: folds 0–2 train, 3 val, 4 test. Splits never share a θ combination.
      The split does not depend on the run seed (as in the released code).
    * Paper config (G 32, 5 seeds, U 2): 5120 rows, 3075 / 1025 / 1020.

    Attributes: ``theta`` (M, U) float32, ``seed`` (M,) int64, ``combo`` (M,) int64, ``fold`` (M,).
    """

    def __init__(self, grid_size: int = 32, n_seeds_per_theta: int = 5, n_params: int = 2) -> None:
        self.grid_size = check_int("grid_size", grid_size, 1)
        self.n_seeds_per_theta = check_int("n_seeds_per_theta", n_seeds_per_theta, 1)
        self.n_params = check_int("n_params", n_params, 1)
        G, S, U = grid_size, n_seeds_per_theta, n_params
        grid_rows(G, S, U)
        values = torch.arange(1, G + 1, dtype=torch.float64) / (G + 1)
        idx = torch.tensor(list(itertools.product(range(G), repeat=U)), dtype=torch.long)  # (G^U, U)
        weights = G ** torch.arange(U - 1, -1, -1, dtype=torch.long)
        combo = (idx * weights).sum(-1)  # (G^U,) = 0..G^U−1
        self.combo = combo.repeat_interleave(S)  # (M,)
        self.theta = values[idx].float().repeat_interleave(S, dim=0)  # (M, U)
        self.seed = torch.arange(self.combo.shape[0], dtype=torch.long)  # (M,)
        self.fold = self.combo % N_FOLDS

    def __len__(self) -> int:
        return int(self.seed.shape[0])

    def split(self, name: str) -> GridSplit:
        """``"train"`` (folds 0–2), ``"val"`` (fold 3) or ``"test"`` (fold 4)."""
        folds = {"train": TRAIN_FOLDS, "val": VAL_FOLDS, "test": TEST_FOLDS}
        if name not in folds:
            raise ValueError(f"name must be one of {SPLITS}, got {name!r}")
        mask = torch.isin(self.fold, torch.tensor(folds[name]))
        return GridSplit(name, self.theta[mask], self.seed[mask], self.combo[mask])

    def split_sizes(self) -> dict[str, int]:
        """``{"train": n, "val": n, "test": n}`` (paper: 3075 / 1025 / 1020)."""
        return {name: len(self.split(name)) for name in SPLITS}


__all__ = ["GridSplit", "ThetaGrid", "draw_seed_hat", "epoch_order", "order_seed", "SEED_HAT_LOW", "SEED_HAT_HIGH"]

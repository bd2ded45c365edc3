"""θ grid, split by θ combination, seeded resumable order, seed_hat (notes §9.3, §6)."""

import pytest
import torch

from trainables.data import SEED_HAT_HIGH, SEED_HAT_LOW, ThetaGrid, draw_seed_hat, epoch_order, order_seed


@pytest.fixture(scope="module")
def paper_grid():
    return ThetaGrid(grid_size=32, n_seeds_per_theta=5)


def test_paper_split_sizes_and_batches(paper_grid):
    assert len(paper_grid) == 5120
    assert paper_grid.split_sizes() == {"train": 3075, "val": 1025, "test": 1020}
    assert [paper_grid.split(s).n_batches(32) for s in ("train", "val", "test")] == [96, 32, 31]
    assert sum(1 for _ in paper_grid.split("val").fixed_batches(32)) == 32
    assert sum(1 for _ in paper_grid.split("test").fixed_batches(32)) == 31


def test_rows_theta_values_seeds_and_folds(paper_grid):
    assert torch.equal(paper_grid.seed, torch.arange(5120))
    for row in (0, 4, 5, 163, 5119):
        combo = row // 5
        d, s = divmod(combo, 32)
        torch.testing.assert_close(paper_grid.theta[row], torch.tensor([(d + 1) / 33, (s + 1) / 33]))
        assert int(paper_grid.combo[row]) == d * 32 + s
        assert int(paper_grid.fold[row]) == (d * 32 + s) % 5
    values = torch.unique(paper_grid.theta[:, 0])
    torch.testing.assert_close(values, torch.arange(1, 33, dtype=torch.float32) / 33)


def test_splits_disjoint_by_theta_combination(paper_grid):
    splits = {s: paper_grid.split(s) for s in ("train", "val", "test")}
    combos = {s: set(sp.combo.tolist()) for s, sp in splits.items()}
    assert not combos["train"] & combos["val"]
    assert not combos["train"] & combos["test"]
    assert not combos["val"] & combos["test"]
    assert len(combos["train"]) + len(combos["val"]) + len(combos["test"]) == 1024
    all_seeds = torch.cat([sp.seed for sp in splits.values()])
    assert torch.equal(all_seeds.sort().values, torch.arange(5120))
    # θ pairs, too, never cross splits
    pairs = {s: {tuple(t) for t in sp.theta.tolist()} for s, sp in splits.items()}
    assert not pairs["train"] & (pairs["val"] | pairs["test"])


def test_general_number_of_parameters():
    grid = ThetaGrid(grid_size=3, n_seeds_per_theta=2, n_params=3)
    assert len(grid) == 54 and grid.theta.shape == (54, 3)
    # combination index c = i0·9 + i1·3 + i2 in 0..26, fold c mod 5: folds 0, 1 have 6 combos,
    # folds 2, 3, 4 have 5; two seeds each
    assert grid.split_sizes() == {"train": 34, "val": 10, "test": 10}
    torch.testing.assert_close(grid.theta[2 * 5], torch.tensor([1 / 4, 2 / 4, 3 / 4]))  # c = 5


def test_epoch_order_is_pure_and_private():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = epoch_order(100, seed=3, epoch=7)
    assert torch.equal(torch.get_rng_state(), state)  # global RNG untouched
    assert torch.equal(a.sort().values, torch.arange(100))
    assert torch.equal(a, epoch_order(100, seed=3, epoch=7))
    assert not torch.equal(a, epoch_order(100, seed=3, epoch=8))
    assert not torch.equal(a, epoch_order(100, seed=4, epoch=7))
    hashes = {order_seed(s, e) for s in range(20) for e in range(200)}
    assert len(hashes) == 20 * 200 and max(hashes) < 2**63


def test_resume_at_any_step_gives_the_same_batches():
    split = ThetaGrid(grid_size=6, n_seeds_per_theta=3).split("train")
    bs, run_seed = 8, 5
    n_batches = split.n_batches(bs)
    assert n_batches == len(split) // bs
    uninterrupted = [b for epoch in range(3) for b in split.epoch_batches(bs, run_seed, epoch)]
    assert len(uninterrupted) == 3 * n_batches
    for step, (theta, seed) in enumerate(uninterrupted):
        theta_k, seed_k = split.batch_at_step(bs, run_seed, step)
        assert torch.equal(seed_k, seed) and torch.equal(theta_k, theta)
    # resuming mid-epoch with the iterator
    resumed = list(split.epoch_batches(bs, run_seed, 1, start=2))
    assert all(torch.equal(r[1], u[1]) for r, u in zip(resumed, uninterrupted[n_batches + 2 :], strict=False))
    # each epoch draws distinct rows (drop_last leaves out len % bs)
    epoch0 = torch.cat([s for _, s in uninterrupted[:n_batches]])
    assert len(set(epoch0.tolist())) == n_batches * bs


def test_fixed_order_batches():
    split = ThetaGrid(grid_size=4, n_seeds_per_theta=2).split("val")
    assert len(split) == 6
    seeds = [s for _, s in split.fixed_batches(4)]
    assert len(seeds) == 1 and torch.equal(seeds[0], split.seed[:4])
    seeds = [s for _, s in split.fixed_batches(4, drop_last=False)]
    assert torch.equal(torch.cat(seeds), split.seed)


def test_batch_size_larger_than_split():
    split = ThetaGrid(grid_size=4, n_seeds_per_theta=2).split("test")
    with pytest.raises(ValueError, match=rf"batch_size=64 .*test split \({len(split)} examples"):
        split.n_batches(64)
    with pytest.raises(ValueError, match="batch_size"):
        split.batch_at_step(64, 0, 0)
    with pytest.raises(ValueError, match="batch_size"):
        list(split.fixed_batches(0))


def test_draw_seed_hat():
    g = torch.Generator().manual_seed(0)
    a = draw_seed_hat(g, 1000)
    assert a.dtype == torch.long and a.shape == (1000,)
    assert a.min() >= SEED_HAT_LOW == 9_999_999 and a.max() < SEED_HAT_HIGH == 19_999_998
    assert len(set(a.tolist())) > 990
    b = draw_seed_hat(g, 1000)
    assert not torch.equal(a, b)  # fresh every step
    assert torch.equal(a, draw_seed_hat(torch.Generator().manual_seed(0), 1000))


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: ThetaGrid(grid_size=0), "grid_size"),
        (lambda: ThetaGrid(n_seeds_per_theta=1.5), "n_seeds_per_theta"),
        (lambda: ThetaGrid(grid_size=4).split("dev"), "name"),
        (lambda: epoch_order(10, seed=-1, epoch=0), "seed"),
        (lambda: epoch_order(10, seed=0, epoch=-1), "epoch"),
        (lambda: draw_seed_hat(0, 4), "generator"),
        (lambda: draw_seed_hat(torch.Generator(), 0), "batch_size"),
        (lambda: ThetaGrid(grid_size=4).split("train").batch_indices(2, 0, 0, 99), "b must"),
    ],
)
def test_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()

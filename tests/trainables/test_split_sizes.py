"""Train / val / test sizes: counts (paper 425/128/128) and fractions, with hand-worked counts."""

import pytest

from trainables.split_sizes import (
    PAPER_SPLIT,
    SplitSizeError,
    check_sizes,
    grid_split_counts,
    is_fractional,
    split_counts,
)


def test_counts():
    assert split_counts(681, PAPER_SPLIT) == {"train": 425, "val": 128, "test": 128}
    assert split_counts(700, PAPER_SPLIT) == {"train": 425, "val": 128, "test": 128}  # 19 unused
    assert split_counts(10, (5, 2, 1)) == {"train": 5, "val": 2, "test": 1}
    assert not is_fractional((5, 2, 1)) and is_fractional((0.6, 0.2, 0.2))


def test_fractions_use_every_example():
    assert split_counts(100, (0.6, 0.2, 0.2)) == {"train": 60, "val": 20, "test": 20}
    # 754 files: val = round(150.8) = 151, test = 151, train = the rest
    assert split_counts(754, (0.6, 0.2, 0.2)) == {"train": 452, "val": 151, "test": 151}
    assert split_counts(681, (0.625, 0.1875, 0.1875)) == {"train": 425, "val": 128, "test": 128}
    assert split_counts(5, (0.6, 0.2, 0.2)) == {"train": 3, "val": 1, "test": 1}
    assert split_counts(10, (0.7, 0.15, 0.15)) == {"train": 6, "val": 2, "test": 2}  # 1.5 → 2
    assert split_counts(3, [1 / 3, 1 / 3, 1 / 3]) == {"train": 1, "val": 1, "test": 1}  # sums to 1 ± 1e-6


@pytest.mark.parametrize(
    "sizes, message",
    [
        ((0.5, 0.3, 0.3), "fractions must sum to 1, got (0.5, 0.3, 0.3) (sum 1.1)"),
        ((0.5, 0.2, 0.2), "fractions must sum to 1, got (0.5, 0.2, 0.2) (sum 0.9)"),
        ((0.8, 0.2, 0.0), "fractions must each lie strictly between 0 and 1 (no split may be empty)"),
        ((1.0, 0.0, 0.0), "fractions must each lie strictly between 0 and 1"),
        ((5, 0, 1), "counts must be positive integers, got (5, 0, 1)"),
        ((1, 2), "expected three sizes (train, val, test)"),
        ("abc", "expected three sizes"),
        ((0.6, "0.2", 0.2), "expected numbers"),
        ((0.6, True, 0.2), "expected numbers"),
    ],
)
def test_bad_sizes_name_the_field(sizes, message):
    with pytest.raises(SplitSizeError) as info:
        check_sizes(sizes)
    assert str(info.value).startswith("data.split_sizes: ") and message in str(info.value)


def test_too_few_examples_give_the_counts():
    with pytest.raises(
        SplitSizeError,
        match=r"^data.split_sizes: too few files for the split: 100 available but "
        r"train 425 \+ val 128 \+ test 128 = 681 requested",
    ):
        split_counts(100, PAPER_SPLIT, what="files")
    with pytest.raises(
        SplitSizeError,
        match=r"too few examples for the split: fractions \(0.6, 0.2, 0.2\) of 2 give "
        r"train 2, val 0, test 0; every split needs at least 1",
    ):
        split_counts(2, (0.6, 0.2, 0.2))
    with pytest.raises(ValueError, match="n must be"):
        split_counts(-1, PAPER_SPLIT)


def test_grid_split_counts_are_the_paper_split_by_hand():
    # 32**2 = 1024 combinations: folds 0..3 hold 205, fold 4 holds 204; x 5 seeds.
    assert grid_split_counts(32, 5) == {"train": 3 * 205 * 5, "val": 205 * 5, "test": 204 * 5}


@pytest.mark.parametrize("grid_size,seeds,n_params", [(1, 1, 1), (2, 3, 2), (3, 1, 1), (4, 2, 3), (7, 5, 2)])
def test_grid_split_counts_match_the_grid(grid_size, seeds, n_params):
    from trainables.data import ThetaGrid  # torch: only the cross-check needs the real grid

    assert grid_split_counts(grid_size, seeds, n_params) == ThetaGrid(grid_size, seeds, n_params).split_sizes()

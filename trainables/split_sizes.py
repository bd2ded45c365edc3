"""Train / val / test sizes of a one-shot dataset: counts (paper 425 / 128 / 128) or fractions (0.6 / 0.2 / 0.2).

Pure arithmetic (standard library only: ``trainables.config`` validates ``data.split_sizes`` with it).

* Counts: three positive integers; their sum may be below the number of examples (the rest is unused,
  as with the paper's 681 sounds) but not above it.
* Fractions: three numbers in (0, 1) summing to 1 (± 1e-6). For ``n`` examples,
  ``val = round(f_val · n)``, ``test = round(f_test · n)`` (half up) and train takes the rest, so every
  example is used; every split must get at least one.

``SplitSizeError`` (a ``ValueError``) names the field: ``data.split_sizes: ...``.

The θ-grid's folds live here too (``grid_split_counts``), so ``trainables.config`` checks a grid study's
batch size against its splits without importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

SPLITS = ("train", "val", "test")
N_FOLDS = 5
"""Folds of the θ-grid split: fold = flat θ-combination index mod 5 (``trainables.data.ThetaGrid``)."""
TRAIN_FOLDS, VAL_FOLDS, TEST_FOLDS = (0, 1, 2), (3,), (4,)
MAX_GRID_ROWS = 2**31
"""Most rows (θ combinations × seeds per θ) a θ-grid may have: its seeds are int64 row indices below 2**31."""
PAPER_SPLIT = (425, 128, 128)
"""Paper Table 12: N_train / N_val / N_test of the 681 TR-808 one-shots."""
FIELD = "data.split_sizes"
_SUM_TOLERANCE = 1e-6


class SplitSizeError(ValueError):
    """Bad ``data.split_sizes``, or too few examples for them; the message starts with the field name."""


def _fail(message: str) -> None:
    raise SplitSizeError(f"{FIELD}: {message}")


def is_fractional(sizes: Sequence[int | float]) -> bool:
    """True for fractions (any entry a float), False for counts (all integers). Assumes ``check_sizes``."""
    return any(isinstance(s, float) for s in sizes)


def check_sizes(sizes: object) -> tuple[int, ...] | tuple[float, ...]:
    """``sizes`` validated without knowing the number of examples: three positive integers, or three
    fractions in (0, 1) that sum to 1. Returns them as a tuple; ``SplitSizeError`` otherwise."""
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) != 3:
        _fail(
            f"expected three sizes (train, val, test): counts such as [425, 128, 128] or fractions such as "
            f"[0.6, 0.2, 0.2], got {sizes!r}"
        )
    if any(isinstance(s, bool) or not isinstance(s, (int, float)) for s in sizes):
        _fail(f"expected numbers, got {tuple(sizes)!r}")
    if all(isinstance(s, int) for s in sizes):
        if any(s < 1 for s in sizes):
            _fail(f"counts must be positive integers, got {tuple(sizes)}")
        return tuple(sizes)
    f = tuple(float(s) for s in sizes)
    if not all(math.isfinite(s) and 0 < s < 1 for s in f):
        _fail(
            f"fractions must each lie strictly between 0 and 1 (no split may be empty), got {tuple(sizes)}; "
            "counts are whole numbers"
        )
    if abs(sum(f) - 1) > _SUM_TOLERANCE:
        _fail(f"fractions must sum to 1, got {tuple(sizes)} (sum {sum(f):.6g})")
    return f


def split_counts(n: int, sizes: Sequence[int | float], *, what: str = "examples") -> dict[str, int]:
    """(train, val, test) sizes → counts for ``n`` examples (module docstring).

    Raises:
        SplitSizeError: malformed sizes, or too few examples — the message gives the counts.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    sizes = check_sizes(sizes)
    if not is_fractional(sizes):
        counts = dict(zip(SPLITS, sizes, strict=True))
        total = sum(sizes)
        if total > n:
            _fail(
                f"too few {what} for the split: {n} available but train {counts['train']} + val "
                f"{counts['val']} + test {counts['test']} = {total} requested"
            )
        return counts
    val, test = (int(math.floor(f * n + 0.5)) for f in sizes[1:])
    counts = {"train": n - val - test, "val": val, "test": test}
    if min(counts.values()) < 1:
        _fail(
            f"too few {what} for the split: fractions {tuple(sizes)} of {n} give train {counts['train']}, "
            f"val {val}, test {test}; every split needs at least 1"
        )
    return counts


def grid_rows(grid_size: int, n_seeds_per_theta: int, n_params: int = 2) -> int:
    """Rows of a θ-grid, ``grid_size**n_params * n_seeds_per_theta``; ValueError above ``MAX_GRID_ROWS``."""
    rows = grid_size**n_params * n_seeds_per_theta
    if rows > MAX_GRID_ROWS:
        raise ValueError(
            f"grid_size**{n_params} * n_seeds_per_theta = {rows} rows is too many (at most {MAX_GRID_ROWS})"
        )
    return rows


def grid_split_counts(grid_size: int, n_seeds_per_theta: int, n_params: int = 2) -> dict[str, int]:
    """Rows per split of ``ThetaGrid(grid_size, n_seeds_per_theta, n_params)``, by arithmetic alone.

    The grid has ``grid_size**n_params`` θ combinations ``c``, each with ``n_seeds_per_theta`` rows, in
    fold ``c mod N_FOLDS``; fold ``f`` holds ``ceil((G**U - f) / N_FOLDS)`` combinations. Paper config
    (32, 5, 2): 3075 / 1025 / 1020.

    Raises:
        ValueError: more than ``MAX_GRID_ROWS`` rows.
    """
    grid_rows(grid_size, n_seeds_per_theta, n_params)
    combos = grid_size**n_params
    per_fold = [-(-(combos - f) // N_FOLDS) for f in range(N_FOLDS)]  # ceil; 0 for an empty fold
    folds = {"train": TRAIN_FOLDS, "val": VAL_FOLDS, "test": TEST_FOLDS}
    return {name: n_seeds_per_theta * sum(per_fold[f] for f in folds[name]) for name in SPLITS}


__all__ = [
    "FIELD",
    "MAX_GRID_ROWS",
    "N_FOLDS",
    "PAPER_SPLIT",
    "SPLITS",
    "SplitSizeError",
    "TEST_FOLDS",
    "TRAIN_FOLDS",
    "VAL_FOLDS",
    "check_sizes",
    "grid_rows",
    "grid_split_counts",
    "is_fractional",
    "split_counts",
]

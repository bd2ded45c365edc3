"""Shared helpers for the analysis tests: tiny hand-made per-seed and curve tables."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

PER_SEED_HEADER = ["arm", "seed", "test_theta_l1", "val_total_variation", "convergence_step"]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


# The hand-worked study used across test_tables / test_cli (raw units):
#   arm A: L1 0.1, 0.2, 0.3   TV 0.004, 0.006, 0.005   conv 960, 1920, (never)
#   arm B: L1 0.2, 0.4, 0.5   TV 0.003, 0.004, 0.005   conv 480, (never), 960
#   arm J: a single run       L1 0.05  TV 0.002        conv 96
TINY_ROWS = [
    ["A", 0, 0.1, 0.004, 960], ["A", 1, 0.2, 0.006, 1920], ["A", 2, 0.3, 0.005, ""],
    ["B", 0, 0.2, 0.003, 480], ["B", 1, 0.4, 0.004, ""], ["B", 2, 0.5, 0.005, 960],
    ["J", 0, 0.05, 0.002, 96],
]


@pytest.fixture(name="write_csv")
def write_csv_fixture():
    """The ``write_csv(path, header, rows)`` helper (test modules cannot import conftest)."""
    return write_csv


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    return write_csv(tmp_path / "per_seed.csv", PER_SEED_HEADER, TINY_ROWS)

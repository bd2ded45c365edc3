"""analysis.table_parts: the cells and the bold-best rule every table builder shares."""

import math

import numpy as np
import pytest

from analysis.render import Cell
from analysis.table_parts import bold_best, estimate_cell, n_text, rate_cell


def test_estimate_cell_ranks_by_the_mean_and_keeps_hints_out_of_the_data():
    cell = estimate_cell(np.array([1.0, 2.0, 3.0]), "value", "t", None, 100, "x1000", "min")
    assert cell.rank == 2.0 and cell.better == "min"
    assert not any(k.startswith("_") for k in cell.data)  # CSV columns are the data keys
    assert estimate_cell(np.array([]), "value", "t", None, 100, "x1000", "min").rank is None


def test_rate_cell_prefers_the_larger_rate():
    cell = rate_cell(np.array([96.0, math.nan, 192.0, math.nan]))
    assert cell.data["mean"] == 0.5
    assert cell.rank == 0.5 and cell.better == "max"


def test_bold_best_follows_rank_and_direction_not_the_text():
    rows = [
        [Cell("9", rank=1.0), Cell("a", rank=0.2, better="max")],
        [Cell("1", rank=3.0), Cell("b", rank=0.9, better="max")],
        [Cell("5", rank=1.0), Cell("c", rank=math.nan, better="max")],
    ]
    bold_best(rows, [0, 1], [0, 1, 2])
    assert [r[0].bold for r in rows] == [True, False, True]  # ties all bold
    assert [r[1].bold for r in rows] == [False, True, False]  # NaN never competes
    assert rows[0][0].value == "9" and rows[0][0].rank == 1.0  # the rest of the cell is kept


@pytest.mark.parametrize("ranks, candidates", [([1.0, 1.0], [0, 1]), ([1.0, 2.0], [0]), ([None, 2.0], [0, 1])])
def test_bold_best_leaves_ties_single_candidates_and_unranked_cells(ranks, candidates):
    rows = [[Cell("x", rank=r)] for r in ranks]
    bold_best(rows, [0], candidates)
    assert not any(r[0].bold for r in rows)


def test_n_text():
    assert n_text({"A": 3, "B": 3}) == "n = 3 runs per arm"
    assert n_text({"A": 3, "B": 2}) == "n runs by arm: A 3, B 2"

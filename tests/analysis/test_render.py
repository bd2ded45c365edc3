import csv
import io
import math

import pytest

from analysis.render import Cell, Column, Table, latex_escape, render, to_csv, to_latex, to_markdown


@pytest.fixture
def table():
    cols = [
        Column("arm", "Method", "Method", text=True),
        Column("l1", "Test θ L1 % ↓", r"Test $L_1$"),
        Column("cr", "CR ↑", "CR"),
    ]
    rows = [
        [
            Cell("A_1", text=True),
            Cell("-12.3", "17", "p = 0.15", data={"mean": -12.34, "n": 20}),
            Cell("60%", data={"mean": 0.6}),
        ],
        [
            Cell("B|x", text=True),
            Cell("-3.52", "0.18", "p < 0.01", bold=True, data={"mean": -3.521, "n": 20}),
            Cell("100%", bold=True, data={"mean": 1.0}),
        ],
        [Cell("J", text=True), Cell("42.4", data={"mean": 42.4, "n": 1, "ci_half_width": math.nan}), Cell("N/A")],
    ]
    return Table("Demo", cols, rows, "n = 20; θ ≤ 0.1 ± x", group_starts={0, 2})


def test_markdown(table):
    lines = to_markdown(table).splitlines()
    assert lines[0] == "**Demo.** n = 20; θ ≤ 0.1 ± x"
    assert lines[2:4] == ["| Method | Test θ L1 % ↓ | CR ↑ |", "|:---|---:|---:|"]
    assert lines[4] == "| A_1 | -12.3 ± 17 (p = 0.15) | 60% |"
    assert lines[5] == "| B\\|x | **-3.52 ± 0.18** (p < 0.01) | **100%** |"
    assert lines[6] == "| J | 42.4 | N/A |"


def test_latex_booktabs_math_mode_and_bold(table):
    tex = to_latex(table)
    for token in (r"\begin{tabular}{lrr}", r"\toprule", r"\midrule", r"\bottomrule", r"\end{table}"):
        assert token in tex
    assert r"A\_1 & $-12.3 \pm 17$ ($p = 0.15$) & 60\% \\" in tex
    assert r"B|x & $\mathbf{-3.52 \pm 0.18}$ ($p < 0.01$) & \textbf{100\%} \\" in tex
    assert r"J & $42.4$ & N/A \\" in tex
    # a rule separates the groups (before row 2), not before the first row
    body = tex.split(r"\midrule", 1)[1]
    assert body.count(r"\midrule") == 1 and body.index(r"\midrule") < body.index("J &")
    assert r"\caption{\textbf{Demo.} n = 20; $\theta$ $\leq$ 0.1 $\pm$ x}" in tex


def test_latex_escape():
    assert latex_escape("50% of a_b & #1 {x}") == r"50\% of a\_b \& \#1 \{x\}"
    assert latex_escape("Δ < 1") == r"$\Delta$ $<$ 1"


def test_csv_is_tidy_with_unrounded_numbers(table):
    rows = list(csv.DictReader(io.StringIO(to_csv(table))))
    assert [(r["arm"], r["column"]) for r in rows] == [
        ("A_1", "l1"),
        ("A_1", "cr"),
        ("B|x", "l1"),
        ("B|x", "cr"),
        ("J", "l1"),
    ]
    assert float(rows[0]["mean"]) == -12.34 and rows[0]["n"] == "20"
    assert rows[4]["ci_half_width"] == ""  # NaN -> empty


def test_render_dispatch(table):
    assert render(table, "markdown") == to_markdown(table)
    with pytest.raises(ValueError, match="unknown format 'html'"):
        render(table, "html")

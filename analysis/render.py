"""A small table model and its three renderings: Markdown, LaTeX (booktabs) and CSV.

Builders (``analysis.tables``) fill ``Table`` objects with already-formatted ``Cell`` text plus the
unrounded numbers; this module only lays them out:

* Markdown: the caption as a paragraph, then a pipe table; bold with ``**``.
* LaTeX: a ``table`` float with ``\\caption``, ``tabular`` with ``\\toprule/\\midrule/\\bottomrule``;
  numbers in math mode (``$-12.3 \\pm 17$``), bold with ``\\mathbf``.
* CSV: tidy, one line per (row, numeric column) with the unrounded numbers in display units, the
  row's text columns as identifiers, and the CI method / test in every line (CSV has no caption).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

from analysis.formatting import cell_text

__all__ = ["Cell", "Column", "Table", "render", "to_markdown", "to_latex", "to_csv", "FORMATS", "latex_escape"]

FORMATS = ("markdown", "latex", "csv")


@dataclass(frozen=True)
class Cell:
    """One table cell.

    ``value`` is the formatted number (or the text of a label cell), ``ci`` the formatted half-width
    (None: no CI), ``p`` the formatted p-value (``"p < 0.01"``), ``note`` a short remark printed in
    the parentheses (``"14/20 pairs"``). ``data`` holds the unrounded numbers for CSV.

    ``rank`` is the number a table compares to bold the best cell of a column (None: not ranked) and
    ``better`` whether the smallest (``"min"``) or the largest (``"max"``) wins; neither is rendered.
    """

    value: str
    ci: str | None = None
    p: str | None = None
    note: str | None = None
    bold: bool = False
    text: bool = False
    data: dict = field(default_factory=dict)
    rank: float | None = None
    better: str = "min"


@dataclass(frozen=True)
class Column:
    key: str  # machine name (CSV)
    label: str  # Markdown / plain label
    latex: str  # LaTeX label
    text: bool = False


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list[Cell]]
    caption: str
    group_starts: set[int] = field(default_factory=set)  # row indices preceded by a rule

    def column(self, key: str) -> list[Cell]:
        """The cells of one column (by key), top to bottom."""
        j = [c.key for c in self.columns].index(key)
        return [row[j] for row in self.rows]


# --- Markdown ---------------------------------------------------------------------------------------
def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_cell(cell: Cell) -> str:
    if cell.text:
        body = _md_escape(cell.value)
        return f"**{body}**" if cell.bold and body else body
    main = cell_text(cell.value, cell.ci)
    if cell.bold:
        main = f"**{main}**"
    extra = cell_text("", None, cell.p, cell.note)
    return _md_escape(main + extra)


def to_markdown(table: Table) -> str:
    header = "| " + " | ".join(_md_escape(c.label) for c in table.columns) + " |"
    rule = "|" + "|".join(":---" if c.text else "---:" for c in table.columns) + "|"
    lines = [f"**{table.title}.** {table.caption}", "", header, rule]
    for row in table.rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


# --- LaTeX ------------------------------------------------------------------------------------------
_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "θ": r"$\theta$",
    "Δ": r"$\Delta$",
    "π": r"$\pi$",
    "±": r"$\pm$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "↓": r"$\downarrow$",
    "↑": r"$\uparrow$",
    "·": r"$\cdot$",
    "×": r"$\times$",
    "√": r"$\surd$",
    "−": r"$-$",
    "<": r"$<$",
    ">": r"$>$",
    "“": "``",
    "”": "''",
    "–": "--",
    "—": "---",
    "α": r"$\alpha$",
    "’": "'",
}


def latex_escape(text: str) -> str:
    """Escape LaTeX specials and map the few non-ASCII symbols used in labels and captions."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_cell(cell: Cell) -> str:
    if not cell.text and cell.value.startswith("< ") and _is_number(cell.value[2:]):
        return rf"$\mathbf{{{cell.value}}}$" if cell.bold else f"${cell.value}$"
    if cell.text or not _is_number(cell.value):
        body = latex_escape(cell.value)
        return rf"\textbf{{{body}}}" if cell.bold and body else body
    main = cell.value if cell.ci is None else rf"{cell.value} \pm {cell.ci}"
    main = rf"$\mathbf{{{main}}}$" if cell.bold else f"${main}$"
    extras = []
    if cell.p:
        extras.append(f"${cell.p}$" if "n/a" not in cell.p else latex_escape(cell.p))
    if cell.note:
        extras.append(latex_escape(cell.note))
    return main + (f" ({'; '.join(extras)})" if extras else "")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_latex(table: Table) -> str:
    spec = "".join("l" if c.text else "r" for c in table.columns)
    lines = [
        r"% requires \usepackage{booktabs}",
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{\textbf{{{latex_escape(table.title)}.}} {latex_escape(table.caption)}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(c.latex for c in table.columns) + r" \\",
        r"\midrule",
    ]
    for i, row in enumerate(table.rows):
        if i in table.group_starts and i > 0:
            lines.append(r"\midrule")
        lines.append(" & ".join(_tex_cell(c) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


# --- CSV --------------------------------------------------------------------------------------------
def _csv_number(x) -> str:
    if isinstance(x, float):
        return "" if not math.isfinite(x) else repr(x)
    return "" if x is None else str(x)


def to_csv(table: Table) -> str:
    id_cols = [c for c in table.columns if c.text]
    fields: list[str] = []
    for row in table.rows:
        for col, cell in zip(table.columns, row, strict=True):
            if not col.text:
                fields += [k for k in cell.data if k not in fields]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.key for c in id_cols] + ["column"] + fields)
    for row in table.rows:
        ids = [cell.value for col, cell in zip(table.columns, row, strict=True) if col.text]
        for col, cell in zip(table.columns, row, strict=True):
            if col.text or not cell.data:
                continue
            writer.writerow(ids + [col.key] + [_csv_number(cell.data.get(k)) for k in fields])
    return buf.getvalue()


def render(table: Table, fmt: str) -> str:
    """Render ``table`` as ``"markdown"``, ``"latex"`` or ``"csv"``."""
    if fmt == "markdown":
        return to_markdown(table)
    if fmt == "latex":
        return to_latex(table)
    if fmt == "csv":
        return to_csv(table)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")

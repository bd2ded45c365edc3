"""The layer rules of ARCHITECTURE.md, read from every import statement of every module (at the top, and
inside functions; ``if TYPE_CHECKING:`` blocks are not imports). A new import that breaks a rule fails here
with the file, the line and the rule."""

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

CORE = {"torch", "kymatio", "numpy", "scipy", "numba", "common", "trainables.core"}  # numba: core/kernels.py
RULES = {  # layer: (allowed at module top, also allowed inside functions)
    "common": ({"common"}, set()),
    "trainables/core": (CORE, set()),
    "trainables": (
        CORE | {"nnAudio", "auraloss", "soundfile", "trainables", "analysis.schema", "analysis.curves"},
        set(),
    ),
    "search_spaces": ({"common", "search_spaces"}, {"trainables.config", "trainables.presets", "trainables.build"}),
    "analysis": ({"numpy", "pandas", "scipy", "statsmodels", "matplotlib", "common", "analysis"}, {"mlflow"}),
}


def _layer(path: Path) -> str | None:
    rel = path.relative_to(REPO).as_posix()
    for layer in sorted(RULES, key=len, reverse=True):
        if rel.startswith(layer + "/"):
            return layer
    return None


def _imports(tree: ast.AST):
    """``(module, line, inside_function)`` of every absolute import (``from a import b`` gives ``a.b``),
    skipping ``if TYPE_CHECKING:`` blocks."""

    def visit(node, inside: bool):
        for child in ast.iter_child_nodes(node):
            if (
                isinstance(child, ast.If)
                and getattr(child.test, "id", getattr(child.test, "attr", "")) == "TYPE_CHECKING"
            ):
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, child.lineno, inside
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                for alias in child.names:  # `from analysis import schema` imports analysis.schema
                    yield f"{child.module}.{alias.name}", child.lineno, inside
            yield from visit(child, inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    yield from visit(tree, False)


def _allowed(module: str, allowed: set[str]) -> bool:
    return module.split(".")[0] in STDLIB or any(module == a or module.startswith(a + ".") for a in allowed)


def check_source(layer: str, name: str, source: str) -> list[str]:
    """The rule violations of one module's ``source`` (``name`` for the message)."""
    top, lazy = RULES[layer]
    found = []
    for module, line, inside in _imports(ast.parse(source, filename=name)):
        if not _allowed(module, top | (lazy if inside else set())):
            where = "inside a function" if inside else "at module top"
            found.append(f"{name}:{line}: {layer}/ may not import {module} {where}")
    return found


def test_every_import_respects_the_layer_rules():
    found = []
    for layer in RULES:
        for path in sorted((REPO / layer).rglob("*.py")):
            if _layer(path) == layer:  # trainables/core/* follows the core's rule, not trainables'
                found += check_source(layer, str(path.relative_to(REPO)), path.read_text())
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "layer, source, expected",
    [
        ("trainables", "from ray import tune\n", "may not import ray"),  # what trainables/tune.py did
        ("trainables", "def f():\n    from study import tracking\n", "may not import study.tracking inside a function"),
        ("trainables/core", "from trainables.data import ThetaGrid\n", "may not import trainables.data"),
        (
            "search_spaces",
            "from trainables.presets import PRESETS\n",
            "may not import trainables.presets.PRESETS at module top",
        ),
        ("analysis", "import mlflow\n", "may not import mlflow at module top"),
        ("common", "import numpy\n", "may not import numpy"),
    ],
)
def test_a_forbidden_import_is_found(layer, source, expected):
    assert any(expected in v for v in check_source(layer, "probe.py", source))


def test_allowed_imports_pass():
    assert check_source("search_spaces", "probe.py", "def f():\n    from trainables.presets import PRESETS\n") == []
    assert check_source("analysis", "probe.py", "def f():\n    import mlflow\n") == []
    assert (
        check_source(
            "trainables",
            "probe.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from study.trial_log import TrialLog\n",
        )
        == []
    )


# --- imports inside functions say why ---------------------------------------------------------------
PACKAGES = ("common", "trainables", "search_spaces", "study", "analysis", "bench")
PENDING: set[str] = set()  # files exempt while under edit elsewhere (none now)


def unexplained_lazy_imports(name: str, source: str) -> list[str]:
    """Imports inside a function whose block (consecutive import statements) has no ``#`` comment on its
    first line or the line above: each such import must say why it is not at the module top."""
    lines = source.splitlines()

    def explained(node: ast.stmt) -> bool:
        return "#" in lines[node.lineno - 1] or (node.lineno > 1 and lines[node.lineno - 2].strip().startswith("#"))

    found = []
    for fn in ast.walk(ast.parse(source, filename=name)):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for body in [fn.body] + [
            getattr(n, f)
            for n in ast.walk(fn)
            for f in ("body", "orelse", "finalbody")
            if n is not fn and isinstance(getattr(n, f, None), list)
        ]:
            previous_was_import = False
            for stmt in body:
                is_import = isinstance(stmt, (ast.Import, ast.ImportFrom))
                if is_import and not previous_was_import and not explained(stmt):
                    found.append(f"{name}:{stmt.lineno}: import inside {fn.name}() without a comment saying why")
                previous_was_import = is_import
    return sorted(set(found))


def test_every_import_inside_a_function_says_why():
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            name = path.relative_to(REPO).as_posix()
            if name not in PENDING:
                found += unexplained_lazy_imports(name, path.read_text())
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("source", "n_found"),
    [
        ("def f():\n    import torch\n", 1),
        ("def f():\n    import torch  # lazy: --help stays fast\n", 0),
        ("def f():\n    # lazy: --help stays fast\n    import torch\n\n    from a import b\n", 0),
        ("def f():\n    import torch  # why\n    x = 1\n    import ray\n", 1),
        ("def f():\n    if x:\n        from a import b\n", 1),
        ("import torch\n", 0),
    ],
)
def test_an_unexplained_lazy_import_is_found(source, n_found):
    assert len(unexplained_lazy_imports("probe.py", source)) == n_found

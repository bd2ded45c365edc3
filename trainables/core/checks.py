"""Argument checks of the PyTorch core: ``ValueError`` naming the argument and what was expected.

The implementation lives in :mod:`common.checks` (one set of checks for every layer); this module keeps
the core's import path and its default wording (``J must be an integer in [1, 12], got 13``).
"""

from __future__ import annotations

from common.checks import check_int, check_positive

__all__ = ["check_int", "check_positive"]

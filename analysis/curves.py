"""Per-run quantities of a validation curve: total variation and convergence step.

Pure numpy (no pandas, scipy or matplotlib at import time): the training loop imports this module in
every trial to compute the final summary metrics exactly as `analysis` recomputes them.

Definitions (``../shared/notes/statistics.md``), for a curve ``y_1..y_n`` logged at steps
``s_1 < ... < s_n`` (validation steps only; the step-0 sanity check is not part of the curve):

* total variation ``TV = sum_{i=2..n} |y_i - y_{i-1}| / n`` (divided by n, not n - 1);
* convergence step = the first ``s_i`` with ``y_i <= threshold`` (0.1, the paper's "L1 < 100 %"),
  ``None`` when the curve never reaches it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis.schema import CONVERGENCE_STEP, CONVERGENCE_THRESHOLD, VAL_TOTAL_VARIATION

__all__ = ["total_variation", "convergence_step", "summarize_curve"]


def _as_curve(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per validation step), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a validation curve needs at least one point")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name} has non-finite values at positions {bad[:10].tolist()}")
    return arr


def total_variation(values: Sequence[float] | np.ndarray) -> float:
    """Total variation of a validation curve, divided by its number of points.

    Args:
        values: shape (n,), the curve in raw units (θ L1 on the [0, 1] scale), in step order.

    Returns:
        ``sum(|diff(values)|) / n``; 0.0 for a single point.

    Raises:
        ValueError: empty, not 1-D, or non-finite values.
    """
    y = _as_curve(values, "values")
    return float(np.abs(np.diff(y)).sum() / y.size)


def convergence_step(
    steps: Sequence[int] | np.ndarray, values: Sequence[float] | np.ndarray, threshold: float = CONVERGENCE_THRESHOLD
) -> int | None:
    """First validation step whose value is ``<= threshold``.

    Args:
        steps: shape (n,), global training steps, strictly increasing.
        values: shape (n,), the curve values at those steps.
        threshold: convergence threshold in raw units (default 0.1).

    Returns:
        The step as an int, or ``None`` if no value reaches the threshold.

    Raises:
        ValueError: shapes differ, steps not strictly increasing, or non-finite values.
    """
    s = _as_curve(steps, "steps")
    y = _as_curve(values, "values")
    if s.shape != y.shape:
        raise ValueError(f"steps and values differ in length: {s.size} vs {y.size}")
    if s.size > 1 and np.any(np.diff(s) <= 0):
        i = int(np.flatnonzero(np.diff(s) <= 0)[0])
        raise ValueError(f"steps must be strictly increasing: step {s[i]:g} is followed by {s[i + 1]:g}")
    hit = np.flatnonzero(y <= threshold)
    if hit.size == 0:
        return None
    return int(s[hit[0]])


def summarize_curve(
    steps: Sequence[int] | np.ndarray, values: Sequence[float] | np.ndarray, threshold: float = CONVERGENCE_THRESHOLD
) -> dict[str, float]:
    """The final summary metrics of one run's validation curve, keyed by their schema names.

    Returns ``{VAL_TOTAL_VARIATION: tv, CONVERGENCE_STEP: step}``; the convergence key is *absent*
    when the run never converged (the schema's convention for MLflow and the per-seed CSV).
    """
    out: dict[str, float] = {VAL_TOTAL_VARIATION: total_variation(values)}
    step = convergence_step(steps, values, threshold)
    if step is not None:
        out[CONVERGENCE_STEP] = float(step)
    return out

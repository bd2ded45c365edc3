"""θ-IS artifacts: the path probabilities π and the path table, loaded, validated and gridded.

Formats (``analysis.schema``): π is a ``.npy`` file holding a 1-D float array of P probabilities, or a
``.json`` file holding a list of P numbers (or an object ``{"pi": [...]}``). The path table is a JSON
list of P objects with the keys ``index, n2, n_fr, spin, rate_hz, scale_cyc_per_oct``; ``index`` is
the position of the path in π, ``spin`` is -1, 0 or +1 and ``scale_cyc_per_oct`` >= 0 is the
magnitude of the frequential scale (the sign is the spin's).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from analysis.schema import PATH_KEYS

__all__ = ["load_pi", "load_path_table", "validate_pi", "path_grid"]

SUM_TOLERANCE = 1e-6


def validate_pi(pi, source: str = "π") -> np.ndarray:
    """π as float64 of shape (P,): finite, non-negative, summing to 1 (within 1e-6)."""
    try:
        arr = np.asarray(pi, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{source}: π must be a list of numbers") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{source}: π must be a non-empty 1-D array of P probabilities, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr) | (arr < 0))
    if bad.size:
        raise ValueError(f"{source}: π has negative or non-finite entries at indices {bad[:10].tolist()}")
    total = float(arr.sum())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"{source}: π sums to {total:.9g}, not 1")
    return arr


def load_pi(path: str | Path) -> np.ndarray:
    """Read π from a ``.npy`` or ``.json`` file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            data = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise ValueError(f"{path}: not a numpy .npy array file ({exc})") from None
    elif suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict):
            if "pi" not in data:
                raise ValueError(f"{path}: a JSON object must hold the probabilities under the key 'pi'")
            data = data["pi"]
        if not isinstance(data, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in data):
            raise ValueError(f"{path}: π must be a JSON list of numbers")
    else:
        raise ValueError(f"{path}: π must be a .npy or .json file, not {suffix or 'a file without suffix'}")
    return validate_pi(data, str(path))


def load_path_table(path: str | Path, n_paths: int | None = None) -> dict[str, np.ndarray]:
    """Read the path table; returns one array of shape (P,) per key of ``PATH_KEYS``, sorted by index.

    Raises:
        ValueError: not a JSON list of objects, missing or non-numeric keys (entries named by their
            position), indices that are not exactly 0..P-1, spin not in {-1, 0, 1}, rate <= 0,
            scale < 0, or ``n_paths`` given and different from P.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        entries = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: the path table must be a non-empty JSON list of objects")
    problems = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"entry {i} is not an object")
            continue
        missing = [k for k in PATH_KEYS if k not in entry]
        if missing:
            problems.append(f"entry {i} lacks {', '.join(missing)}")
        wrong = [
            k
            for k in PATH_KEYS
            if k in entry and (not isinstance(entry[k], (int, float)) or isinstance(entry[k], bool))
        ]
        if wrong:
            problems.append(f"entry {i} has non-numeric {', '.join(wrong)}")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems[:10]))
    table = {k: np.asarray([e[k] for e in entries], dtype=np.float64) for k in PATH_KEYS}
    order = np.argsort(table["index"], kind="stable")
    table = {k: v[order] for k, v in table.items()}
    P = len(entries)
    if not np.array_equal(table["index"], np.arange(P)):
        raise ValueError(f"{path}: the 'index' values must be exactly 0..{P - 1}, each once")
    checks = [
        ("spin", ~np.isin(table["spin"], (-1, 0, 1)), "not -1, 0 or 1"),
        ("rate_hz", ~(table["rate_hz"] > 0), "not > 0"),
        ("scale_cyc_per_oct", ~(table["scale_cyc_per_oct"] >= 0), "negative"),
    ]
    for key, bad, what in checks:
        if bad.any():
            raise ValueError(f"{path}: '{key}' is {what} for index {np.flatnonzero(bad)[:10].tolist()}")
    if n_paths is not None and n_paths != P:
        raise ValueError(f"{path}: the path table has {P} paths but π has {n_paths} probabilities")
    for k in ("index", "n2", "n_fr", "spin"):
        table[k] = table[k].astype(np.int64)
    return table


def path_grid(pi: np.ndarray, table: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrange ``P · π`` (ratio to uniform) on the (rate, signed scale) grid.

    Args:
        pi: shape (P,).
        table: from ``load_path_table`` (arrays of shape (P,)).

    Returns:
        ``rates`` shape (R,) ascending, ``scales`` shape (S,) ascending (``spin · scale``), and
        ``ratio`` shape (S, R), NaN where no path sits. Two paths on the same cell is an error.
    """
    pi = validate_pi(pi)
    if pi.size != table["index"].size:
        raise ValueError(f"π has {pi.size} probabilities but the path table has {table['index'].size} paths")
    signed = table["spin"] * table["scale_cyc_per_oct"]
    rates, col = np.unique(table["rate_hz"], return_inverse=True)
    scales, row = np.unique(signed, return_inverse=True)
    ratio = np.full((scales.size, rates.size), np.nan)
    seen = np.zeros_like(ratio, dtype=bool)
    for p, (r, c) in enumerate(zip(row, col, strict=True)):
        if seen[r, c]:
            raise ValueError(f"two paths share rate {rates[c]:g} Hz and scale {scales[r]:g} (index {p})")
        seen[r, c] = True
        ratio[r, c] = pi[table["index"][p]] * pi.size
    return rates, scales, ratio

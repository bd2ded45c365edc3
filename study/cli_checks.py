"""Checks of ``python -m study`` options that need the built spec or the file system (stdlib only, like the
CLI's start): the size of a study (``--max-trials``) and the studies' directory (``--root``)."""

from __future__ import annotations

from pathlib import Path

from study.errors import StudyError

__all__ = ["MAX_TRIALS", "check_size", "check_root"]

MAX_TRIALS = 2000  # --max-trials default: 40 seeds × 8 arms × 4 presets is 1280


def check_size(spec, max_trials: int) -> None:
    """At most ``max_trials`` trials (checked after the spec, whose own checks are linear in the seeds)."""
    n = len(spec.cells()) if spec.hpo is None else spec.hpo.num_samples
    if n <= max_trials:
        return
    if spec.hpo is not None:
        raise StudyError(
            "--num-samples", f"{n} trials is more than --max-trials {max_trials}; pass --max-trials {n} if you mean it"
        )
    raise StudyError(
        "--seeds",
        f"{n} trials ({len(spec.seeds)} seed(s) × {len(spec.arms)} arm(s) × "
        f"{len(spec.presets)} preset(s)) is more than --max-trials {max_trials}: use fewer "
        f"seeds, or pass --max-trials {n} if you mean it",
    )


def check_root(root: Path, option: str) -> None:
    """The studies' directory must be a directory, or not exist yet below one."""
    first = root
    while not first.exists() and first != first.parent:
        first = first.parent
    if not first.is_dir():
        where = "" if first == root else f" ({first} is not a directory)"
        raise StudyError(
            option, f"{root} is not a directory{where}; give a directory for the studies (created if missing)"
        )

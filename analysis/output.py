"""Atomic output: every file is written to a temporary sibling, then moved into place with
``os.replace``. On error nothing is left behind — neither a partial target nor the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["atomic_paths", "atomic_write_text"]


@contextlib.contextmanager
def atomic_paths(targets: Sequence[str | Path]) -> Iterator[list[Path]]:
    """Yield temporary paths (same directories, same suffixes) for ``targets``.

    When the block completes, each temporary file is moved onto its target; if the block raises,
    the temporaries are deleted and no target is touched. (Targets are replaced one after another:
    a crash of the interpreter between two ``os.replace`` calls can leave the first one updated.)
    """
    paths = [Path(t) for t in targets]
    for t in paths:
        if not t.parent.is_dir():
            raise ValueError(f"cannot write {t}: directory {t.parent} does not exist")
        if t.is_dir():
            raise ValueError(f"cannot write {t}: it is a directory")
    temps: list[Path] = []
    umask = os.umask(0)
    os.umask(umask)
    try:
        for t in paths:
            fd, name = tempfile.mkstemp(prefix=f".{t.name}.", suffix=".tmp" + t.suffix, dir=t.parent)
            os.close(fd)
            temps.append(Path(name))
            os.chmod(name, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        yield temps
        for tmp, t in zip(temps, paths, strict=True):
            os.replace(tmp, t)
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_paths([path]) as (tmp,):
        tmp.write_text(text, encoding="utf-8")
    return Path(path)

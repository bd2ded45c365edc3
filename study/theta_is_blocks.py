"""Finished pieces of the θ-IS stage on disk, so an interrupted stage resumes where it stopped.

Each finished Ray task's curvature block ``C[paths, dims]`` is written atomically to
``<study>/theta_is/<preset>/blocks/<key>.npz`` (``paths``, ``dims``, ``C``, ``task_s``) the moment the
task returns (written to a dot-file first and renamed, so a block is whole or absent; a dot-file left by a
kill mid-write is deleted on load, and a block that does not load is recomputed). The folder also holds
``config.json``, a fingerprint of what defines C (``theta_is_stage.block_identity``: the warm-up config,
the decoded data's key, ``VERSION`` of the computation): blocks of anything else (a preset edited between
sessions, a sample folder changed on disk) are set aside, never merged. C is deterministic per
(path, θ-dimension) and independent of chunking (``trainables.warmup``), so blocks of different plans
(another number of workers on resume) merge into the same π as one uninterrupted stage.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from study.layout import write_json_atomic

__all__ = ["Block", "BlockStore", "fingerprint", "BLOCKS_DIR", "VERSION"]

BLOCKS_DIR = "blocks"  # under theta_is/<preset>/: the finished chunks of a stage running or interrupted
CONFIG_JSON = "config.json"
VERSION = 1  # of the curvature computation: bump when C of the same config changes, so old blocks are set aside


def fingerprint(cfg_dict: dict) -> str:
    """A stable hash of the warm-up config (its JSON with sorted keys)."""
    return hashlib.sha256(json.dumps(cfg_dict, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Block:
    paths: tuple[int, ...]
    dims: tuple[int, ...]
    C: np.ndarray  # (len(paths), len(dims)) float64
    task_s: float

    def pairs(self) -> Iterable[tuple[int, int]]:
        return ((p, u) for p in self.paths for u in self.dims)


def _read_block(path: Path) -> Block | None:
    """One stored block, or None when the file does not load (torn, truncated, foreign)."""
    try:
        with np.load(path) as z:
            return Block(
                tuple(int(p) for p in z["paths"]),
                tuple(int(u) for u in z["dims"]),
                np.asarray(z["C"], dtype=np.float64),
                float(z["task_s"]),
            )
    except (OSError, ValueError, KeyError, EOFError, TypeError, AttributeError, zipfile.BadZipFile):
        return None  # TypeError/AttributeError: a foreign file (an .npy named .npz, an array task_s)


class BlockStore:
    """The ``blocks/`` folder of one preset's θ-IS stage."""

    def __init__(self, folder: Path, cfg_dict: dict, total: int | None = None):
        self.folder = Path(folder)
        self.key = fingerprint(cfg_dict)
        self.total = total  # (path, θ-dimension) pairs of the whole stage, kept for ``progress``

    @staticmethod
    def progress(folder: Path) -> tuple[int, int | None] | None:
        """``(pairs stored, pairs in all)`` of a stage's ``blocks/`` folder, read-only (``study status``);
        None when there is no folder. Blocks that do not load are not counted."""
        folder = Path(folder)
        if not folder.is_dir():
            return None
        try:
            total = json.loads((folder / CONFIG_JSON).read_text()).get("pairs_total")
        except (OSError, ValueError):
            total = None
        blocks = (_read_block(f) for f in folder.glob("[!.]*.npz"))
        return sum(len(b.paths) * len(b.dims) for b in blocks if b is not None), total

    def load(self) -> tuple[list[Block], str | None]:
        """The stored blocks of this config, and a line saying what was set aside (or ``None``).

        A folder written for another config is moved to ``blocks.stale-<its hash>``; a temporary dot-file
        (a write cut short by a kill) is deleted; a block that does not load is skipped and recomputed."""
        if not self.folder.is_dir():
            return [], None
        stored = self._stored_key()
        if stored != self.key:
            aside = self.folder.with_name(f"{self.folder.name}.stale-{(stored or 'unknown')[:12]}")
            shutil.rmtree(aside, ignore_errors=True)
            os.replace(self.folder, aside)
            return [], f"set aside the blocks of another warm-up config in {aside}"
        blocks, seen = [], set()
        for f in sorted(self.folder.glob("*.npz")):
            if f.name.startswith("."):
                f.unlink(missing_ok=True)
                continue
            block = _read_block(f)
            if block is None:
                continue
            if block.C.shape != (len(block.paths), len(block.dims)) or seen.intersection(block.pairs()):
                continue
            seen.update(block.pairs())
            blocks.append(block)
        return blocks, None

    def save(self, paths: Sequence[int], dims: Sequence[int], C: np.ndarray, task_s: float) -> Block:
        """Write one finished block atomically (and the config fingerprint with the first block)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._stored_key() is None:
            write_json_atomic(self.folder / CONFIG_JSON, {"fingerprint": self.key, "pairs_total": self.total})
        block = Block(tuple(paths), tuple(dims), np.asarray(C, dtype=np.float64), float(task_s))
        name = hashlib.sha1(json.dumps([block.paths, block.dims]).encode()).hexdigest()[:16]
        tmp = self.folder / f".{name}.tmp.npz"
        np.savez(tmp, paths=np.array(block.paths), dims=np.array(block.dims), C=block.C, task_s=block.task_s)
        os.replace(tmp, self.folder / f"{name}.npz")
        return block

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _stored_key(self) -> str | None:
        try:
            return json.loads((self.folder / CONFIG_JSON).read_text())["fingerprint"]
        except (OSError, ValueError, KeyError):
            return None

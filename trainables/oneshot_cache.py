"""Decode a folder of one-shots once, read it memory-mapped everywhere else (the decode cache of a study).

An entry holds one folder decoded at one set of loader settings: ``audio.npy`` (M, N) float32 and
``index.json`` (names, rates, formats, lengths, channel counts, the bad files and their reasons). It
lives in ``<cache_dir>/oneshots-<key>/``, where ``key`` hashes

* the folder (resolved path) and, for every audio file under it, its relative path, size, modification
  time and inode change time (``st_ctime_ns``: no tool can set it back, unlike the mtime);
* the loader settings (rate, length, onset, threshold, peak, limits: ``LOADER_DEFAULTS``);
* ``CACHE_VERSION`` and the libsndfile / scipy versions that decoded it.

So an entry is never stale: touching, editing, adding, removing or renaming a file changes the key,
and the next reader decodes again. ``load_folder`` is what a trial calls: it lists and stats the folder
(milliseconds), opens the matching entry with ``numpy.load(mmap_mode="c")`` (the pages are shared by
every trial on the node) or, when there is none, decodes and writes it under an exclusive ``flock`` so
that concurrent trials decode once. An entry is written to a temporary folder and renamed into place
(atomic), and only when the folder's fingerprint did not change while it was being decoded; entries of
older fingerprints of the same folder and settings are removed after a new one is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import soundfile
import torch

from trainables.oneshot_folder import (
    LOADER_DEFAULTS,
    BadFile,
    OneShotFolder,
    check_loader_settings,
    check_usable,
    decode_folder,
    list_audio_files,
)
from trainables.oneshot_labels import drum_label

CACHE_VERSION = 1
"""Bump when decoding changes what an entry holds (``trainables.oneshot_folder``)."""
_PREFIX = "oneshots-"


def _settings(settings: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(settings) - set(LOADER_DEFAULTS))
    if unknown:
        raise TypeError(f"unknown loader setting(s) {', '.join(unknown)}")
    cfg = {**LOADER_DEFAULTS, **settings}
    check_loader_settings(**cfg)
    return cfg


def fingerprint(root: str | Path, **settings) -> tuple[str, str]:
    """``(key, family)`` of ``root`` at ``settings``: ``key`` changes with any file (module docstring),
    ``family`` only with the folder, the settings and the versions. ``ValueError`` when ``root`` is
    not a directory or holds no audio file (as ``load_oneshot_folder``)."""
    cfg = _settings(settings)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ValueError(f"root {str(root)!r} is not a directory")
    files = []
    for path in list_audio_files(root):
        try:
            st = path.stat()
            files.append([path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns, st.st_ctime_ns])
        except OSError as exc:  # a dangling link: its name and the error are the fingerprint
            files.append([path.relative_to(root).as_posix(), type(exc).__name__])
    family = {
        "version": CACHE_VERSION,
        "root": str(root.resolve()),
        "settings": cfg,
        "libsndfile": soundfile.__libsndfile_version__,
        "scipy": scipy.__version__,
    }
    fam = hashlib.sha256(json.dumps(family, sort_keys=True).encode()).hexdigest()
    key = hashlib.sha256(json.dumps([fam, files]).encode()).hexdigest()
    return key[:32], fam[:32]


def decode(root: str | Path, **settings) -> tuple[OneShotFolder, str | None]:
    """Decode every file (bad ones listed in ``skipped``, not raised) → ``(folder, key)``; ``key`` is
    None when the folder changed while it was decoded (the result must not be cached)."""
    before, _ = fingerprint(root, **settings)
    folder = decode_folder(root, **settings)
    after, _ = fingerprint(root, **settings)
    return folder, (before if before == after else None)


def entry_path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / f"{_PREFIX}{key}"


def store(cache_dir: str | Path, key: str, folder: OneShotFolder, **settings) -> Path:
    """Write ``folder`` as the entry ``key`` (atomic rename; an existing entry is kept) and remove the
    entries of older fingerprints of the same folder and settings. Returns the entry's path."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    final = entry_path(cache_dir, key)
    _, family = fingerprint(folder.root, **settings)
    if not final.exists():
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key[:8]}-", dir=cache_dir))
        try:
            np.save(tmp / "audio.npy", folder.audio[:, 0].numpy().astype(np.float32, copy=False))
            index = {
                "version": CACHE_VERSION,
                "key": key,
                "family": family,
                "root": str(folder.root),
                "names": list(folder.names),
                "source_rates": list(folder.source_rates),
                "formats": list(folder.formats),
                "durations_s": list(folder.durations_s),
                "channels": list(folder.channels),
                "skipped": [[b.name, b.reason] for b in folder.skipped],
            }
            (tmp / "index.json").write_text(json.dumps(index))
            try:
                os.rename(tmp, final)
            except OSError:
                if not final.exists():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    for other in cache_dir.glob(f"{_PREFIX}*"):
        if other != final and _family_of(other) == family:
            shutil.rmtree(other, ignore_errors=True)
    return final


def _family_of(entry: Path) -> str | None:
    try:
        return json.loads((entry / "index.json").read_text()).get("family")
    except (OSError, ValueError):
        return None


def read(cache_dir: str | Path, key: str, root: str | Path) -> OneShotFolder | None:
    """The entry ``key`` memory-mapped, or None when there is no complete entry of that key."""
    entry = entry_path(cache_dir, key)
    try:
        index = json.loads((entry / "index.json").read_text())
        audio = np.load(entry / "audio.npy", mmap_mode="c")  # copy-on-write: writable, pages shared
    except (OSError, ValueError):
        return None
    names = tuple(index.get("names", ()))
    if index.get("key") != key or audio.ndim != 2 or audio.shape[0] != len(names):
        return None
    return OneShotFolder(
        Path(root).expanduser(),
        torch.from_numpy(audio).unsqueeze(1),
        names,
        tuple(drum_label(n) for n in names),
        tuple(index["source_rates"]),
        tuple(index["formats"]),
        tuple(index["durations_s"]),
        tuple(index["channels"]),
        tuple(BadFile(n, r) for n, r in index["skipped"]),
    )


@contextlib.contextmanager
def _locked(cache_dir: Path, key: str):
    locks = cache_dir / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / key, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def load_folder(root: str | Path, cache_dir: str | Path, *, skip_bad: bool = False, **settings) -> OneShotFolder:
    """``load_oneshot_folder(root, skip_bad=..., **settings)`` through the cache in ``cache_dir``: the
    matching entry memory-mapped, else decoded once (under a lock) and written. Same errors as the
    loader (bad files unless ``skip_bad``, no usable file), whether the entry was read or written."""
    cache_dir = Path(cache_dir)
    key, _ = fingerprint(root, **settings)
    folder = read(cache_dir, key, root)
    if folder is None:
        try:
            with _locked(cache_dir, key):
                folder = read(cache_dir, key, root)
                if folder is None:
                    folder, stable = decode(root, **settings)
                    if stable is not None and len(folder):
                        store(cache_dir, stable, folder, **settings)
        except OSError as exc:  # an unwritable cache folder costs time, never the run
            warnings.warn(f"data.cache_dir {str(cache_dir)!r} is not usable ({exc}); decoding in memory", stacklevel=2)
            folder, _ = decode(root, **settings)
    check_usable(folder, skip_bad)
    return folder


__all__ = ["CACHE_VERSION", "decode", "entry_path", "fingerprint", "load_folder", "read", "store"]

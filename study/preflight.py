"""Inputs the trials will read from disk, checked once before Ray starts, and decoded once per study.

The config checks (``search_spaces.spec``) validate values; they cannot see a folder of one-shots
that does not exist, holds bad files, or too few of them for the split. That would otherwise
surface as a Ray task traceback after the study directory and its MLflow runs exist.

* ``check_inputs(spec)`` decodes each distinct folder (and loader settings) once, in memory, as the
  trials will; prints what the loader understood (formats, rates, lengths, labels and counts, files
  left out and why); and raises ``StudyError("--set", "data.oneshot_root: ...")`` for a missing
  folder or bad files, ``data.split_sizes: ...`` when the usable files do not fill the split and
  ``data.batch_size: ...`` when a batch (or an HPO batch-size choice) is larger than a split. It writes
  nothing, so bad input leaves nothing behind.
* ``write_data_cache(spec, study_dir)`` — called by the runner once the study directory exists —
  writes those decoded folders into ``<study>/data/`` (``trainables.oneshot_cache``) and returns that
  path for the trials' ``data.cache_dir``: every trial then memory-maps the decoded audio instead of
  decoding the folder again. On a resume it only checks that the entries still match the files
  (rebuilding any that do not).

(The θ-IS π file, ``train.theta_is_probs``, is reserved: the study writes it itself.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from study.errors import StudyError
from trainables.build import loader_settings
from trainables.oneshot_cache import decode, fingerprint, load_folder, store
from trainables.oneshot_folder import check_usable, describe_folder
from trainables.oneshots import OneShotData
from trainables.split_sizes import SplitSizeError

DATA_DIR = "data"
_decoded: dict[str, tuple[Any, str | None]] = {}  # folder_id → (OneShotFolder, fingerprint key) of check_inputs


def _folders(spec: Any) -> dict[str, tuple[str, dict[str, Any], list[Any]]]:
    """Distinct (folder, loader settings) of the spec's one-shot-folder trials → (root, settings, configs)."""
    out: dict[str, tuple[str, dict[str, Any], list[Any]]] = {}
    for cell in spec.cells():
        cfg = spec.config(cell)
        if cfg.data.source != "oneshot-folder":
            continue
        settings = loader_settings(cfg)
        fid = json.dumps([cfg.data.oneshot_root, settings], sort_keys=True)
        out.setdefault(fid, (cfg.data.oneshot_root, settings, []))[2].append(cfg)
    return out


def _batch_sizes(spec: Any, cfg: Any) -> list[tuple[int, str]]:
    sizes = [(cfg.data.batch_size, "data.batch_size")]
    for p in spec.hpo.params if spec.hpo is not None else ():
        if p.key == "data.batch_size":
            sizes += [(int(v), "data.batch_size (an HPO choice)") for v in p.corners()]
    return sizes


def check_inputs(spec: Any, say: Callable[[str], None] | None = print) -> None:
    """Raise ``StudyError`` when a trial of ``spec`` would fail on its one-shot data folder (module
    docstring); print each folder's summary with ``say`` (None: silent)."""
    for fid, (root, settings, configs) in _folders(spec).items():
        try:
            folder, key = decode(root, **settings)
            check_usable(folder, configs[0].data.skip_bad)
        except ValueError as err:
            raise StudyError("--set", f"data.oneshot_root: {err}") from None
        seen = set()
        for cfg in configs:
            if (cfg.data.split_sizes, cfg.data.batch_size) in seen:
                continue
            seen.add((cfg.data.split_sizes, cfg.data.batch_size))
            try:
                data = OneShotData.from_loaded(folder, cfg.data.split_sizes, split_seed=0)
            except SplitSizeError as err:
                raise StudyError("--set", str(err)) from None
            smallest = min(data.counts, key=data.counts.get)
            for size, what in _batch_sizes(spec, cfg):
                if size > data.counts[smallest]:
                    raise StudyError(
                        "--set",
                        f"{what}: {size} is larger than the {smallest} split "
                        f"({data.counts[smallest]} of the {len(folder)} usable files under "
                        f"{root!r}; splits {data.counts})",
                    )
        _decoded[fid] = (folder, key)
        if say is not None:
            s = settings
            say(describe_folder(folder, s["sample_rate"], s["n_samples"]))
            say(
                f"  split:    {', '.join(f'{k} {v}' for k, v in data.counts.items())} "
                f"(data.split_sizes {list(configs[0].data.split_sizes)}; a new split per seed)"
            )


def write_data_cache(spec: Any, study_dir: str | Path, say: Callable[[str], None] | None = None) -> str | None:
    """Write the spec's decoded one-shot folders into ``<study_dir>/data`` and return that folder (for
    ``data.cache_dir``); None when no trial reads a folder. Folders ``check_inputs`` decoded in this
    process are written as decoded (when their files did not change since); others are decoded now,
    or kept when the entry on disk still matches the files."""
    folders = _folders(spec)
    if not folders:
        return None
    cache_dir = Path(study_dir) / DATA_DIR
    for fid, (root, settings, configs) in folders.items():
        folder, key = _decoded.pop(fid, (None, None))
        try:
            if folder is not None and key is not None and len(folder) and fingerprint(root, **settings)[0] == key:
                store(cache_dir, key, folder, **settings)
            else:
                folder = load_folder(root, cache_dir, skip_bad=configs[0].data.skip_bad, **settings)
        except ValueError as err:
            raise StudyError("--set", f"data.oneshot_root: {err}") from None
        if say is not None:
            say(
                f"  data      {len(folder)} one-shot(s) of {root} decoded once into {cache_dir} (memory-mapped "
                f"by every trial)"
            )
    return str(cache_dir)


__all__ = ["DATA_DIR", "check_inputs", "write_data_cache"]

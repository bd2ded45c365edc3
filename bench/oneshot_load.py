"""Decode time of a one-shot folder and per-trial load time, without and with the study's decode cache.

Builds a folder of real one-shots from Debian's hydrogen-data kits (``--source``, 856 WAV/FLAC/AIFF files,
copied as they are, or ``--as-wav`` rewritten as 16-bit WAV cut to 1.9 s so that a WAV-only reader of
short files could read them too), then times, at the paper's preset (``tr808-meso``: 44.1 kHz, 1 s):

* ``decode_s``      — ``load_oneshot_folder``: what every trial did before the cache;
* ``cache_write_s`` — the study's one decode and write of ``<study>/data`` (``preflight.write_data_cache``
  does this once per study);
* ``trial_load_s``  — a trial's ``build_data`` with ``data.cache_dir`` set: fingerprint (list + stat every
  file), memory-map the entry, split by the seed (median of ``--repeats``);
* ``trial_decode_s`` — the same ``build_data`` without the cache (median of ``--repeats``).

    python bench/oneshot_load.py                 # ~1 min on a 2-core machine
    python bench/oneshot_load.py --as-wav --json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def build_folder(source: Path, dest: Path, as_wav: bool) -> int:
    # lazy: --help stays fast
    import soundfile

    from trainables.oneshot_folder import list_audio_files

    files = list_audio_files(source)
    for path in files:
        out = dest / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        if as_wav:
            data, rate = soundfile.read(path, dtype="float32", always_2d=True)
            soundfile.write(out.with_suffix(".wav"), data[: int(1.9 * rate)], rate, subtype="PCM_16")
        else:
            shutil.copyfile(path, out)
    return len(files)


def timed(fn, repeats: int = 1) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=Path("/usr/share/hydrogen/data/drumkits"))
    ap.add_argument("--as-wav", action="store_true", help="rewrite every file as 16-bit WAV cut to 1.9 s")
    ap.add_argument("--preset", default="tr808-meso")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    args = ap.parse_args(argv)
    if not args.source.is_dir():
        print(f"error: --source {args.source} is not a folder (apt-get install hydrogen-data)", file=sys.stderr)
        return 2

    # lazy: --help stays fast
    import torch

    from trainables.build import build_data, loader_settings
    from trainables.config import override
    from trainables.oneshot_cache import load_folder
    from trainables.oneshot_folder import load_oneshot_folder
    from trainables.presets import get_preset

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "kits", Path(tmp) / "study" / "data"
        n_files = build_folder(args.source, root, args.as_wav)
        cfg = override(
            get_preset(args.preset),
            **{
                "data.source": "oneshot-folder",
                "data.oneshot_root": str(root),
                "data.skip_bad": True,
                "data.split_sizes": [0.6, 0.2, 0.2],
            },
        )
        settings = loader_settings(cfg)
        decode_s, folder = timed(lambda: load_oneshot_folder(root, skip_bad=True, **settings))
        cache_write_s, _ = timed(lambda: load_folder(root, cache, skip_bad=True, **settings))
        cached = override(cfg, **{"data.cache_dir": str(cache)})
        trial_load_s, data = timed(lambda: build_data(cached, 14), args.repeats)
        trial_decode_s, _ = timed(lambda: build_data(cfg, 14), args.repeats)
    out = {
        "preset": args.preset,
        "files": n_files,
        "usable": len(folder),
        "as_wav": args.as_wav,
        "decode_s": round(decode_s, 3),
        "cache_write_s": round(cache_write_s, 3),
        "trial_decode_s": round(trial_decode_s, 3),
        "trial_load_s": round(trial_load_s, 4),
        "splits": data.counts,
    }
    print(
        f"{n_files} files ({len(folder)} usable) at {args.preset}: decode {decode_s:.2f} s; study cache write "
        f"{cache_write_s:.2f} s (once); per trial: {trial_decode_s:.2f} s decoding, {trial_load_s * 1000:.0f} ms "
        f"from the cache (×{trial_decode_s / trial_load_s:.0f})"
    )
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

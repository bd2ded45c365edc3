"""List every SCRAPL path of a preset's JTFS: ``python -m trainables.paths --preset granular [--json]``.

Columns: index ``p``, ``n2``, ``n_fr``, spin, ``j2``, temporal rate in Hz at the preset's sample rate
and frequential scale in cycles/octave (magnitude; the spin gives its direction). Needed to read θ-IS probabilities.
"""

from __future__ import annotations

import argparse
import json
import sys

from trainables import presets
from trainables.core.settings import NAMED_SETTINGS, JTFSSettings


def resolve(preset: str) -> tuple[JTFSSettings, int]:
    """JTFS settings and sample rate of a preset name (experiment presets or the named JTFS configs)."""
    if preset in presets.PRESETS:
        cfg = presets.get_preset(preset)
        return cfg.jtfs_settings(), cfg.synth.sample_rate
    if preset in NAMED_SETTINGS:
        return NAMED_SETTINGS[preset]
    known = sorted(set(presets.PRESETS) | set(NAMED_SETTINGS))
    raise ValueError(f"unknown preset {preset!r}; choose one of: {', '.join(known)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m trainables.paths", description=__doc__.splitlines()[0])
    ap.add_argument("--preset", required=True, help="preset name (e.g. granular, tr808, tiny, smoke-granular)")
    ap.add_argument("--json", action="store_true", help="print one JSON object {P, settings, paths}")
    args = ap.parse_args(argv)
    try:
        settings, sr = resolve(args.preset)
    except ValueError as err:
        ap.error(str(err))
    fb = settings.filter_bank
    rows = fb.path_table(sr)
    if args.json:
        json.dump(
            {
                "preset": args.preset,
                "P": fb.n_paths,
                "sample_rate": sr,
                "settings": settings.as_kwargs(),
                "paths": rows,
            },
            sys.stdout,
        )
        print()
        return 0
    print(f"{args.preset}: P = {fb.n_paths} paths  (sample rate {sr} Hz, {settings.as_kwargs()})")
    print(f"{'p':>4} {'n2':>3} {'n_fr':>4} {'spin':>4} {'j2':>3} {'rate Hz':>10} {'scale c/oct':>11}")
    for r in rows:
        print(
            f"{r['index']:>4} {r['n2']:>3} {r['n_fr']:>4} {r['spin']:>4} {r['j2']:>3} "
            f"{r['rate_hz']:>10.3f} {r['scale_cyc_per_oct']:>11.3f}"
        )
    print(f"P = {fb.n_paths}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

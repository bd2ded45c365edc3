"""Real drum sample libraries for the one-shot loader tests: Debian's ``hydrogen-data`` and ``hydrogen-drumkits``
kits (WAV, FLAC and AIFF files, mono and stereo, 22.05 / 44.1 / 48 kHz, 0.02 to 12 s). ``make test`` installs
both packages (``make sample-kits``); the tests read a copy of the kits in a temporary folder, never the
installed files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HYDROGEN_KITS = Path("/usr/share/hydrogen/data/drumkits")


def require_hydrogen_kits() -> Path:
    missing = [kit for kit in ("TR808EmulationKit", "Audiophob") if not (HYDROGEN_KITS / kit).is_dir()]
    if missing:  # TR808EmulationKit: hydrogen-data; Audiophob: hydrogen-drumkits (2 kits alone: 102 files)
        pytest.skip(
            f"Debian's hydrogen-data and hydrogen-drumkits are not both installed ({', '.join(missing)} missing "
            f"in {HYDROGEN_KITS}); `make sample-kits` (part of `make test`) installs them"
        )
    return HYDROGEN_KITS


@pytest.fixture(scope="session")
def hydrogen_kits(tmp_path_factory) -> Path:
    """Every hydrogen-data kit copied into a temporary folder (read-only use: the session shares it)."""
    src = require_hydrogen_kits()
    dest = tmp_path_factory.mktemp("hydrogen") / "drumkits"
    shutil.copytree(src, dest)
    return dest

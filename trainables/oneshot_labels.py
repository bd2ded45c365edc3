"""Drum-type labels of one-shot files, read from their file and folder names.

``drum_label("Kits/808/808_Snare_1.flac")`` → ``"snare"``. Names are cut into words at non-alphanumerics,
lower/upper-case changes (``HatClosed`` → hat, closed) and letter/digit changes (``BD01`` → bd, 01);
a word, or two adjacent words joined (``Hi Hat`` → hihat, ``Bass Drum`` → bassdrum), is looked up with
and without a trailing "s" among the keywords below. The file name is read first (its most specific
part), then the folders from the innermost outwards; the first keyword found gives the label. A file
without any keyword is unlabelled (``None``).

The paper's four types (``DRUM_TYPES``, Table 12) come first; a few other common one-shot families get
their own label (``OTHER_TYPES``) rather than being forced into one of the four. Labels only describe the
data (the printed summary, ``OneShotBatch.labels``): training does not use them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from pathlib import PurePosixPath

DRUM_TYPES = ("bass_drum", "snare", "tom", "hi_hat")
"""Canonical labels of the paper's four drum types (Table 12)."""

OTHER_TYPES = ("cymbal", "clap", "rim", "cowbell", "percussion")
"""Labels of other common one-shot families."""

_KEYWORDS = {
    "bass_drum": ("bd", "kick", "kickdrum", "bassdrum", "bass", "kik", "kck"),
    "snare": ("sd", "sn", "snare", "snaredrum", "snr"),
    "tom": ("tom", "lt", "mt", "ht", "lowtom", "midtom", "hitom", "hightom", "floortom", "ft"),
    "hi_hat": (
        "hh",
        "hat",
        "hihat",
        "hithat",
        "ch",
        "oh",
        "chh",
        "ohh",
        "phh",
        "closedhat",
        "openhat",
        "closedhihat",
        "openhihat",
        "pedalhihat",
        "closehihat",
    ),
    "cymbal": ("cymbal", "cym", "cy", "crash", "ride", "china", "splash", "cc", "rc"),
    "clap": ("clap", "handclap"),
    "rim": ("rim", "rimshot", "rs", "sidestick", "stick"),
    "cowbell": ("cowbell", "cb"),
    "percussion": (
        "perc",
        "percussion",
        "conga",
        "bongo",
        "clave",
        "shaker",
        "tambourine",
        "tamb",
        "agogo",
        "djembe",
        "cajon",
        "maraca",
        "maracas",
        "guiro",
        "cabasa",
        "woodblock",
        "triangle",
    ),
}
_KEYWORD_TO_LABEL = {k: label for label, keys in _KEYWORDS.items() for k in keys}
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def words(name: str) -> list[str]:
    """``"808_HatClosed-Hard"`` → ``["808", "hat", "closed", "hard"]`` (lower-case)."""
    return [w.lower() for w in _WORDS.findall(name)]


def _lookup(key: str) -> str | None:
    for candidate in (key, key[:-1] if key.endswith("s") else ""):
        if candidate in _KEYWORD_TO_LABEL:
            return _KEYWORD_TO_LABEL[candidate]
    return None


def name_label(name: str) -> str | None:
    """The label one name (a file stem or a folder name) gives, or None: its whole (joined) text first,
    then adjacent word pairs, then single words, each from left to right."""
    ws = words(name)
    for key in ["".join(ws)] + [a + b for a, b in zip(ws, ws[1:], strict=False)] + ws:
        label = _lookup(key)
        if label is not None:
            return label
    return None


def drum_label(relative_path: str | PurePosixPath) -> str | None:
    """The drum type of a file from its name, then its folders' names (module docstring); None when no
    name holds a keyword. ``relative_path`` is relative to the dataset root (POSIX separators)."""
    path = PurePosixPath(relative_path)
    for name in (path.stem, *reversed(path.parts[:-1])):
        label = name_label(name)
        if label is not None:
            return label
    return None


def label_counts(labels: Iterable[str | None]) -> dict[str, int]:
    """Files per label: the paper's four types first, then the other known types, then any other label
    alphabetically, unlabelled files last under ``"(unlabelled)"``; labels without files are left out."""
    counts = Counter("(unlabelled)" if lab is None else lab for lab in labels)
    order = [
        *DRUM_TYPES,
        *OTHER_TYPES,
        *sorted(set(counts) - set(DRUM_TYPES) - set(OTHER_TYPES) - {"(unlabelled)"}),
        "(unlabelled)",
    ]
    return {lab: counts[lab] for lab in order if counts.get(lab)}


__all__ = ["DRUM_TYPES", "OTHER_TYPES", "drum_label", "label_counts", "name_label", "words"]

"""``python -m study extend NAME --seeds N|LIST``: grow a finished or interrupted ablation, losses or
θ-IS study by seeds.

``plan`` checks everything before Ray starts and writes nothing: the study exists and is a grid study
with a fixed seed list, ``--preset(s)``/``--arms`` (when given) are the study's, the seeds are
integers in range without duplicates. ``--seeds N`` means the seeds 0..N-1, as for ``study run``;
seeds the study already has are left out (named). When every requested seed is already in the study
the extension is a no-op, refused with a message, unless some of their trials are unfinished (an
extension a driver crash or ``ray job stop`` interrupted): then the study is continued, so the same
``ray job submit … extend`` command can be submitted again. The extension itself is a new stage
(``study.stages``), run by ``study.runner.resume``.

``resumes_adaptive``: the same ``run … --seeds adaptive`` command again continues its study, whose
spec has grown by the waves since.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from search_spaces.spec import SpecError, StudySpec, parse_seeds
from study import stages, waves
from study.errors import StudyError
from study.layout import StudyDir
from study.runner import load_study

__all__ = ["parse_extension_seeds", "plan", "resumes_adaptive"]

MAX_SEED = 2**31 - 1


def parse_extension_seeds(text: str) -> tuple[int, ...]:
    """``--seeds N|LIST``: N = seeds 0..N-1; a list of distinct integers in [0, 2^31 − 1]."""
    if text.strip() == "adaptive":
        raise StudyError("--seeds", "extend takes a seed count N or a list; `--seeds adaptive` is for `study run`")
    try:
        seeds = parse_seeds(text)
    except SpecError as err:
        raise StudyError("--seeds", str(err).split(": ", 1)[-1]) from None
    bad = [s for s in seeds if not 0 <= s <= MAX_SEED]
    if bad:
        raise StudyError("--seeds", f"seeds must be integers in [0, {MAX_SEED}], got {', '.join(map(str, bad))}")
    dup = sorted({s for s in seeds if seeds.count(s) > 1})
    if dup:
        raise StudyError(
            "--seeds",
            f"duplicate seed(s) {', '.join(map(str, dup))}: each seed is one paired replicate and may appear once",
        )
    return seeds


def _same(option: str, given: Sequence[str] | None, have: Sequence[str], name: str, what: str) -> None:
    if given is not None and sorted(given) != sorted(have):
        raise StudyError(
            option,
            f"study {name} runs {what} {', '.join(have)}; an extension adds seeds to the same "
            f"{what} (got {', '.join(given)}); run a new study with --name for others",
        )


def plan(
    root: Path,
    name: str,
    seeds_text: str,
    *,
    presets: Sequence[str] | None = None,
    arms: Sequence[str] | None = None,
    say: Callable[[str], None] = print,
) -> stages.Growth:
    """The ``Growth`` that ``study.runner.resume`` applies (see the module docstring); ``StudyError``
    names the option (or ``NAME``) at fault."""
    seeds = parse_extension_seeds(seeds_text)
    sdir, spec, stored = load_study(root, name)
    if spec.hpo is not None:
        raise StudyError(
            "NAME",
            f"study {name} is an HPO study: its trials are configurations, not seeds; extend "
            "grows ablation, losses and θ-IS studies (tune on several seeds with "
            "`run hpo --seeds-per-trial K`)",
        )
    if waves.read_doc(sdir) is not None:
        raise StudyError(
            "NAME",
            f"study {name} chooses its seeds adaptively (adaptive.json); seeds added by hand "
            "would void its error guarantee; `study resume` continues its waves",
        )
    _same("--preset", presets, spec.presets, name, "preset(s)")
    _same("--arms", arms, spec.arm_names, name, "arms")
    new = tuple(s for s in seeds if s not in spec.seeds)
    present = [s for s in seeds if s in spec.seeds]
    if not new:
        uri = stored.get("tracking_uri") or sdir.mlflow_uri
        cells = [c for c in spec.cells() if c.seed in set(seeds)]
        try:
            left = (
                stages.unfinished_cells(cells, uri, stored["experiment_id"]) if stored.get("experiment_id") else cells
            )
        except Exception as err:  # noqa: BLE001 - cannot tell: refuse rather than guess
            raise StudyError(
                "--mlflow-uri", f"cannot read study {name}'s runs at {uri} ({type(err).__name__}: {str(err)[:200]})"
            ) from None
        if not left:
            raise StudyError(
                "--seeds",
                f"nothing to add: seed(s) {', '.join(map(str, present))} are already in "
                f"study {name} (its seeds: {_seed_text(spec.seeds)})",
            )
        say(
            f"seed(s) {', '.join(map(str, present))} are already in study {name}, {len(left)} of their trial(s) "
            "unfinished: continuing the study"
        )
        return stages.Growth()
    try:
        replace(spec, seeds=spec.seeds + new)
    except SpecError as err:
        raise StudyError("--seeds", str(err).split(": ", 1)[-1]) from None
    if present:
        say(f"seed(s) {', '.join(map(str, present))} are already in study {name}: left out")
    return stages.Growth(seeds=new)


def _seed_text(seeds: Sequence[int]) -> str:
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}..{seeds[-1]}"
    return ", ".join(map(str, seeds))


def resumes_adaptive(
    root: Path, spec: StudySpec, design: Mapping[str, Any], say: Callable[[str], None] = print
) -> bool:
    """True when ``spec`` names an existing adaptive study with the same spec (but for the seeds its waves
    added) and design, which ``study resume`` then continues; False when there is no such study; a
    different one is refused, naming what differs."""
    if not StudyDir.of(root, spec.name).exists():
        return False
    sdir, existing, _ = load_study(root, spec.name)
    doc = waves.read_doc(sdir)
    if doc is None:
        raise StudyError(
            "--name", f"study {spec.name} exists with a fixed seed list; choose another --name for an adaptive study"
        )
    differs = [k for k, v in design.items() if doc["design"].get(k) != v]
    grown = replace(existing, seeds=spec.seeds) if existing.seeds[: len(spec.seeds)] == spec.seeds else existing
    a, b = grown.to_dict(), spec.to_dict()
    differs += [k for k in b if a.get(k) != b.get(k)]
    if differs:
        raise StudyError(
            "--name",
            f"adaptive study {spec.name} exists with a different spec or design (differs in: "
            f"{', '.join(differs)}); choose another --name, or continue it with "
            f"`python -m study resume {spec.name}`",
        )
    say(f"adaptive study {spec.name} exists with the same spec and design: resuming it")
    return True

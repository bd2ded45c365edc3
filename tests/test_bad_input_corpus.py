"""The bad-input corpus (issue 6): one parametrised test over invalid inputs from every layer.

Each ``Case`` is one declarative entry:

* ``category`` — ``study-cli`` (``python -m study`` options), ``study-spec`` (a study directory whose
  ``spec.json`` / ``settings.json`` is broken), ``preset-config`` (``trainables.config`` and the
  ``python -m trainables.train`` CLI), ``analysis-csv`` (``python -m analysis`` on bad CSV/π files),
  ``paths-api`` (JTFS paths, SCRAPL loss, sampler, optimizer, θ-IS, ``python -m trainables.paths``),
  ``tr808-oneshots`` (folders of WAV one-shots);
* ``setup`` — writes the case's input files into its own ``tmp_path``;
* ``trigger(tmp)`` — the call that must fail;
* ``error`` — the documented failure: an exception type for library calls (``ConfigError``,
  ``ValueError``), or the exit status of a CLI (study 2, analysis 1, train/paths 2; a return value or
  ``SystemExit`` from argparse);
* ``expect`` — substrings of the message (``str(exc)``, or the CLI's stderr) that name the offending
  option/field/file *and* say what was expected; ``{tmp}`` stands for the case's ``tmp_path``.

Every case must also leave no partial output: ``tmp_path`` is the only place a case could write
(``--root``, ``--out`` and every input live there), and its contents must be byte-identical before
and after the failing call (no study directory, no table, no figure, no checkpoint, no temp file;
a study that is resumed stays as it was). No case may start Ray.
"""

from __future__ import annotations

import json
import os
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from analysis.cli import main as analysis_main
from search_spaces import ablation, hpo
from study.cli import main as study_main
from trainables.config import ConfigError, from_dict, override
from trainables.core import PathwiseSGD, SCRAPLLoss, theta_is
from trainables.core.sampler import PathSampler
from trainables.core.settings import JTFSSettings
from trainables.oneshots import OneShotData
from trainables.paths import main as paths_main
from trainables.presets import get_preset
from trainables.train import main as train_main
from trainables.warmup import load_probs

SMOKE_JTFS = dict(shape=4096, J=6, Q1=4, Q2=1, J_fr=2, Q_fr=1)  # smoke-granular's JTFS: P = 28 paths


@dataclass(frozen=True)
class Case:
    category: str
    name: str
    trigger: Callable[[Path], Any]
    error: type[BaseException] | int
    expect: tuple[str, ...]
    setup: tuple[Callable[[Path], None], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.category}:{self.name}"


def _fill(items, tmp: Path) -> list[str]:
    return [str(a).replace("{tmp}", str(tmp)) for a in items]


# --- triggers ----------------------------------------------------------------------------------------
def study(*argv: str, root: str = "{tmp}/studies") -> Callable[[Path], Any]:
    """``python -m study ARGV --root ROOT`` (``run`` always with ``--smoke-test``: should a case wrongly
    pass validation, it must not start a paper-scale study)."""

    def trigger(tmp: Path):
        smoke = ["--smoke-test"] if argv[0] == "run" else []
        return study_main([*_fill(argv, tmp), *smoke, "--root", *_fill([root], tmp)])

    return trigger


def analysis(*argv: str, out: str = "table.md") -> Callable[[Path], Any]:
    """``python -m analysis ARGV --out TMP/OUT`` (a table file, or the stem of a figure)."""

    def trigger(tmp: Path):
        return analysis_main([*_fill(argv, tmp), "--out", str(tmp / out)])

    return trigger


def train(*argv: str) -> Callable[[Path], Any]:
    """``python -m trainables.train ARGV --max-steps 1 --out TMP/run``."""

    def trigger(tmp: Path):
        return train_main([*_fill(argv, tmp), "--max-steps", "1", "--out", str(tmp / "run")])

    return trigger


def paths_cli(*argv: str) -> Callable[[Path], Any]:
    return lambda tmp: paths_main(list(argv))


def preset(name: str, dotted: dict[str, Any]) -> Callable[[Path], Any]:
    """``override(get_preset(name), **dotted)``."""
    return lambda tmp: override(get_preset(name), **dotted)


def scrapl(**kwargs: Any) -> SCRAPLLoss:
    return SCRAPLLoss(**SMOKE_JTFS, **kwargs)


# --- input files -------------------------------------------------------------------------------------
def file(name: str, content: str | bytes) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return make


def folder(name: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / name).mkdir(parents=True, exist_ok=True)


def csv(name: str, header: list[str], rows: list[list]) -> Callable[[Path], None]:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    return file(name, "\n".join(lines) + "\n")


def wav(name: str, rate: int = 44100, seconds: float = 0.2) -> Callable[[Path], None]:
    """A decaying 200 Hz hit, 16-bit mono PCM."""

    def make(tmp: Path) -> None:
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        t = np.arange(int(rate * seconds)) / rate
        x = 0.8 * np.cos(2 * np.pi * 200 * t) * np.exp(-t / 0.05)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(np.round(x * 32767).astype("<i2").tobytes())

    return make


def sound(name: str, fmt: str, cut: float | None = None, corrupt: bool = False) -> Callable[[Path], None]:
    """A 0.2-s hit written by libsndfile as ``fmt`` (FLAC, AIFF, ...); ``cut`` keeps that fraction of the
    bytes (truncated), ``corrupt`` replaces everything after the first 64 bytes by noise."""

    def make(tmp: Path) -> None:
        import soundfile

        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        t = np.arange(8820) / 44100
        soundfile.write(path, 0.8 * np.cos(2 * np.pi * 200 * t) * np.exp(-t / 0.05), 44100, format=fmt)
        data = path.read_bytes()
        if cut is not None:
            data = data[: int(len(data) * cut)]
        if corrupt:
            data = data[:64] + np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8).tobytes()
        path.write_bytes(data)

    return make


def wave_codec(name: str, tag: int) -> Callable[[Path], None]:
    """A RIFF/WAVE file whose ``fmt `` chunk names codec ``tag`` (e.g. 0x2000, AC-3: not decodable)."""
    import struct

    fmt = struct.pack("<HHIIHHH", tag, 1, 44100, 88200, 2, 16, 0)
    data = b"\x00\x01" * 100
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return file(name, b"RIFF" + struct.pack("<I", len(body)) + body)


def folder_study(*extra: str) -> Callable[[Path], Any]:
    """``python -m study run ablation --preset tr808-meso --smoke-test`` on the folder ``{tmp}/pack``."""
    return study(
        "run",
        "ablation",
        "--preset",
        "tr808-meso",
        "--set",
        "data.source=oneshot-folder",
        "--set",
        "data.oneshot_root={tmp}/pack",
        *extra,
    )


GOOD_SPEC = ablation("mine", "smoke-granular", range(2)).to_dict()
HPO_SPEC = hpo("mine", "smoke-granular", 0, arm="p-adam", num_samples=2).to_dict()


def spec(text: str | None = None, *, drop: tuple[str, ...] = (), **changes: Any) -> Callable[[Path], None]:
    """``{tmp}/studies/mine/spec.json``: ``text`` as is, or a valid ablation spec with changes."""
    if text is None:
        doc = {k: v for k, v in {**GOOD_SPEC, **changes}.items() if k not in drop}
        text = json.dumps(doc)
    return file("studies/mine/spec.json", text)


PER_SEED = ["arm", "seed", "test_theta_l1", "val_total_variation", "convergence_step"]
ROWS = [["A", 0, 0.1, 0.004, 960], ["A", 1, 0.2, 0.006, 1920], ["B", 0, 0.2, 0.003, 480], ["B", 1, 0.4, 0.004, ""]]
CURVE = ["arm", "seed", "step", "val_theta_l1"]
SPEC_JSON = "{tmp}/studies/mine/spec.json"

# --- the corpus -----------------------------------------------------------------------------------------
CASES = [
    # 1. study CLI options: exit status 2, caught before Ray starts, no study directory
    Case(
        "study-cli",
        "max-concurrent-0",
        study("run", "ablation", "--max-concurrent", "0"),
        2,
        ("argument --max-concurrent: must be >= 1, got 0",),
    ),
    Case(
        "study-cli",
        "num-cpus-0",
        study("run", "ablation", "--num-cpus", "0"),
        2,
        ("argument --num-cpus: must be >= 1, got 0",),
    ),
    Case(
        "study-cli",
        "progress-interval-nan",
        study("run", "ablation", "--progress-interval", "nan"),
        2,
        ("argument --progress-interval: must be > 0, got nan",),
    ),
    Case(
        "study-cli",
        "hpo-num-samples-0",
        study("run", "hpo", "--num-samples", "0"),
        2,
        ("argument --num-samples: must be >= 1, got 0",),
    ),
    Case(
        "study-cli",
        "seed-count-0",
        study("run", "ablation", "--seeds", "0"),
        2,
        ("--seeds: the seed count must be >= 1, got 0",),
    ),
    Case(
        "study-cli",
        "set-negative-lr",
        study("run", "ablation", "--set", "train.lr=-1"),
        2,
        ("--set: invalid config for arm scrapl", "train.lr: must be > 0.0, got -1.0"),
    ),
    Case(
        "study-cli",
        "set-reserved-seed",
        study("run", "ablation", "--set", "seed=3"),
        2,
        ("--set: seed is set by the study itself and cannot be overridden",),
    ),
    Case(
        "study-cli",
        "fault-unknown-kind",
        study("run", "ablation", "--fault", "scrapl/0:boom@3"),
        2,
        ("--fault: kind must be one of nan, crash-once, exit-once, got 'boom'",),
    ),
    Case(
        "study-cli",
        "hpo-set-tuned-key",
        study("run", "hpo", "--set", "train.lr=0.001"),
        2,
        ("--set: train.lr cannot be both tuned and fixed",),
    ),
    Case(
        "study-cli",
        "mlflow-uri-scheme",
        study("run", "ablation", "--mlflow-uri", "ftp://host/x"),
        2,
        ("--mlflow-uri: unsupported tracking URI 'ftp://host/x'; expected http(s)://",),
    ),
    Case(
        "study-cli",
        "seeds-100000-capped",
        study("run", "ablation", "--seeds", "100000"),
        2,
        (
            "--seeds: 400000 trials (100000 seed(s) × 4 arm(s) × 1 preset(s)) is more than --max-trials 2000",
            "pass --max-trials 400000 if you mean it",
        ),
    ),
    Case(
        "study-cli",
        "root-is-a-file",
        study("run", "ablation", root="{tmp}/rootfile"),
        2,
        ("--root: {tmp}/rootfile is not a directory",),
        (file("rootfile", "not a folder\n"),),
    ),
    Case(
        "study-cli",
        "root-below-a-file",
        study("status", "mine", root="{tmp}/rootfile/studies"),
        2,
        ("--root: {tmp}/rootfile/studies is not a directory ({tmp}/rootfile is not a directory)",),
        (file("rootfile", "not a folder\n"),),
    ),
    Case(
        "study-cli",
        "root-in-ray-job-dir",
        study("run", "ablation", root="{tmp}/runtime_resources/working_dir/session_1/studies"),
        2,
        (
            "--root: {tmp}/runtime_resources/working_dir/session_1/studies is inside Ray's temporary job working "
            "directory",
            "pass an absolute --root",
        ),
    ),
    # study extend, adaptive seeds, HPO on several seeds (issue 14): exit 2 before Ray starts, nothing written
    Case(
        "study-cli",
        "extend-missing-study",
        study("extend", "nope", "--seeds", "3"),
        2,
        ("NAME: no study 'nope' under {tmp}/studies",),
    ),
    Case(
        "study-cli",
        "extend-negative-seed",
        study("extend", "mine", "--seeds", "1,-4"),
        2,
        ("--seeds: seeds must be integers in [0, 2147483647], got -4",),
        (spec(),),
    ),
    Case(
        "study-cli",
        "extend-duplicate-seeds",
        study("extend", "mine", "--seeds", "3,5,3"),
        2,
        ("--seeds: duplicate seed(s) 3: each seed is one paired replicate and may appear once",),
        (spec(),),
    ),
    Case(
        "study-cli",
        "extend-non-integer-seeds",
        study("extend", "mine", "--seeds", "2,x"),
        2,
        ("--seeds: expected a count N or a comma-separated list of integers, got '2,x'",),
        (spec(),),
    ),
    Case(
        "study-cli",
        "extend-hpo-study",
        study("extend", "mine", "--seeds", "3"),
        2,
        ("NAME: study mine is an HPO study", "extend grows ablation, losses and θ-IS studies"),
        (file("studies/mine/spec.json", json.dumps(HPO_SPEC)),),
    ),
    Case(
        "study-cli",
        "extend-other-arms",
        study("extend", "mine", "--seeds", "3", "--arms", "scrapl,p-adam"),
        2,
        (
            "--arms: study mine runs arms scrapl, p-adam, p-adam+p-saga, p-adam+p-saga+theta-is; an extension adds "
            "seeds to the same arms",
        ),
        (spec(),),
    ),
    Case(
        "study-cli",
        "extend-other-preset",
        study("extend", "mine", "--seeds", "3", "--preset", "smoke-chirplet-lo-lo"),
        2,
        ("--preset: study mine runs preset(s) smoke-granular",),
        (spec(),),
    ),
    Case(
        "study-cli",
        "adaptive-min-below-3",
        study("run", "ablation", "--seeds", "adaptive", "--min-seeds", "2"),
        2,
        ("--min-seeds: must be >= 3 (a paired t-test needs 3 pairs), got 2",),
    ),
    Case(
        "study-cli",
        "adaptive-bounds-out-of-order",
        study("run", "ablation", "--seeds", "adaptive", "--min-seeds", "10", "--max-seeds", "5"),
        2,
        ("--max-seeds: must be >= --min-seeds (10), got 5",),
    ),
    Case(
        "study-cli",
        "adaptive-max-below-3",
        study("run", "theta-is", "--seeds", "adaptive", "--max-seeds", "2", "--min-seeds", "3"),
        2,
        ("--max-seeds: must be >= 3, got 2",),
    ),
    Case(
        "study-cli",
        "adaptive-wave-0",
        study("run", "ablation", "--seeds", "adaptive", "--wave-size", "0"),
        2,
        ("--wave-size: must be >= 1, got 0",),
    ),
    Case(
        "study-cli",
        "adaptive-option-without-adaptive",
        study("run", "ablation", "--max-seeds", "9"),
        2,
        ("--max-seeds: only with --seeds adaptive",),
    ),
    Case(
        "study-cli",
        "adaptive-losses",
        study("run", "losses", "--seeds", "adaptive"),
        2,
        ("--seeds: adaptive seeds are for the ablation and theta-is studies, not losses",),
    ),
    Case(
        "study-cli",
        "hpo-seeds-per-trial-0",
        study("run", "hpo", "--seeds-per-trial", "0"),
        2,
        ("argument --seeds-per-trial: must be >= 1, got 0",),
    ),
    # 2. study specs: a broken study directory; the error names the file and the field, the directory stays
    Case(
        "study-spec",
        "resume-not-json",
        study("resume", "mine"),
        2,
        (f"NAME: study 'mine' has an invalid {SPEC_JSON}: not valid JSON",),
        (spec("{kind: ablation"),),
    ),
    Case(
        "study-spec",
        "status-empty-file",
        study("status", "mine"),
        2,
        (f"invalid {SPEC_JSON}: not valid JSON (Expecting value",),
        (spec(""),),
    ),
    Case(
        "study-spec",
        "status-unknown-kind",
        study("status", "mine"),
        2,
        (f"{SPEC_JSON}: kind: unknown study 'nope'; choose one of ablation, losses, theta-is, hpo",),
        (spec(kind="nope"),),
    ),
    Case(
        "study-spec",
        "resume-missing-kind",
        study("resume", "mine"),
        2,
        (f"{SPEC_JSON}: kind: missing",),
        (spec(drop=("kind",)),),
    ),
    Case(
        "study-spec",
        "sync-presets-not-a-list",
        study("sync", "mine"),
        2,
        (f"{SPEC_JSON}: presets: expected a list, got str 'smoke-granular'",),
        (spec(presets="smoke-granular"),),
    ),
    Case(
        "study-spec",
        "status-overrides-not-an-object",
        study("status", "mine"),
        2,
        (f"{SPEC_JSON}: overrides: expected an object, got list",),
        (spec(overrides=["train.lr", 1]),),
    ),
    Case(
        "study-spec",
        "resume-fault-missing-fields",
        study("resume", "mine"),
        2,
        (f"{SPEC_JSON}: faults[0].seed: missing",),
        (spec(faults=[{"arm": "scrapl"}]),),
    ),
    Case(
        "study-spec",
        "resume-smoke-test-not-bool",
        study("resume", "mine"),
        2,
        (f"{SPEC_JSON}: smoke_test: expected true or false, got 'yes'",),
        (spec(smoke_test="yes"),),
    ),
    Case(
        "study-spec",
        "resume-invalid-arm-config",
        study("resume", "mine"),
        2,
        (f"{SPEC_JSON}: arms[scrapl].overrides: invalid config", "train.lr: must be > 0.0, got -1.0"),
        (spec(arms=[{"name": "scrapl", "overrides": {"train.lr": -1}}]),),
    ),
    Case(
        "study-spec",
        "resume-settings-not-json",
        study("resume", "mine"),
        2,
        ("has an invalid {tmp}/studies/mine/settings.json: not valid JSON",),
        (spec(), file("studies/mine/settings.json", '{"tracking_uri": ')),
    ),
    Case(
        "study-spec",
        "resume-without-mlflow-store",
        study("resume", "mine"),
        2,
        ("NAME: study mine has no MLflow store at {tmp}/studies/mine/mlflow.db",),
        (spec(),),
    ),
    Case(
        "study-spec",
        "run-over-unreadable-spec",
        study("run", "ablation", "--name", "mine"),
        2,
        ("--name: {tmp}/studies/mine holds an unreadable spec.json",),
        (spec("[1, 2"),),
    ),
    # 3. preset configs: ConfigError naming the dotted field; the train CLI exits 2 and writes no --out
    Case(
        "preset-config",
        "from-dict-negative-lr",
        lambda tmp: from_dict({"train": {"lr": -0.001}}),
        ConfigError,
        ("train.lr: must be > 0.0, got -0.001",),
    ),
    Case(
        "preset-config",
        "batch-size-0",
        preset("smoke-granular", {"data.batch_size": 0}),
        ConfigError,
        ("data.batch_size: must be >= 1, got 0",),
    ),
    Case(
        "preset-config",
        "from-dict-unknown-loss",
        lambda tmp: from_dict({"train": {"loss": "l1"}}),
        ConfigError,
        ("train.loss: expected one of scrapl, jtfs, mss-linear", "got 'l1'"),
    ),
    Case(
        "preset-config",
        "from-dict-unknown-group",
        lambda tmp: from_dict({"optim": {"lr": 1.0}}),
        ConfigError,
        ("optim.lr: unknown config key (known keys: data.batch_size",),
    ),
    Case(
        "preset-config",
        "J-beyond-signal-length",
        preset("smoke-tr808", {"jtfs.J": 14}),
        ConfigError,
        ("jtfs.J: J must be an integer in [1, 13], got 14",),
    ),
    Case(
        "preset-config",
        "T-longer-than-signal",
        preset("smoke-granular", {"jtfs.T": 8192}),
        ConfigError,
        ("jtfs.T: T must be an integer in [1, 4096], got 8192",),
    ),
    Case(
        "preset-config",
        "unknown-data-source",
        preset("smoke-granular", {"data.source": "wav"}),
        ConfigError,
        ("data.source: expected one of grid, oneshot-synthetic, oneshot-folder; got 'wav'",),
    ),
    Case(
        "preset-config",
        "oneshot-folder-without-root",
        preset("smoke-tr808", {"data.source": "oneshot-folder"}),
        ConfigError,
        ("data.oneshot_root: required by data.source='oneshot-folder'",),
    ),
    Case(
        "preset-config",
        "split-larger-than-examples",
        preset("smoke-tr808", {"data.split_sizes": [40, 8, 8]}),
        ConfigError,
        ("data.split_sizes: (40, 8, 8) needs 56 examples, data.n_examples is 48",),
    ),
    Case(
        "preset-config",
        "synth-kind-vs-data-source",
        preset("smoke-granular", {"synth.kind": "tr808"}),
        ConfigError,
        ("data.source: synth.kind='tr808' needs a oneshot-* data.source, got 'grid'",),
    ),
    Case(
        "preset-config",
        "train-cli-unknown-preset",
        train("--preset", "nope"),
        2,
        ("unknown preset 'nope'; choose one of: chirplet-hi-hi",),
    ),
    Case(
        "preset-config",
        "train-cli-epochs-0",
        train("--set", "train.epochs=0"),
        2,
        ("train.epochs: must be >= 1, got 0",),
    ),
    Case(
        "preset-config",
        "train-cli-set-without-value",
        train("--set", "data.batch_size"),
        2,
        ("--set expects KEY=VALUE, got 'data.batch_size'",),
    ),
    Case(
        "preset-config",
        "train-cli-resume-missing",
        train("--resume", "{tmp}/missing.pt"),
        2,
        ("--resume: {tmp}/missing.pt: no such file (a checkpoint.pt written by --out)",),
    ),
    Case(
        "preset-config",
        "train-cli-resume-not-a-checkpoint",
        train("--resume", "{tmp}/notes.pt"),
        2,
        ("--resume: {tmp}/notes.pt is not a checkpoint written by --out",),
        (file("notes.pt", "not a checkpoint"),),
    ),
    Case(
        "preset-config",
        "train-cli-theta-is-probs-not-json",
        train("--theta-is", "--set", "train.theta_is_probs={tmp}/pi.json"),
        2,
        ("train.theta_is_probs: '{tmp}/pi.json' is not a π file", "JSONDecodeError"),
        (file("pi.json", "[0.5,"),),
    ),
    # 4. analysis CSVs: exit status 1, the message names the file/column/rows; no --out file
    Case(
        "analysis-csv",
        "missing-column",
        analysis("table", "ablation", "--csv", "{tmp}/per_seed.csv"),
        1,
        ("{tmp}/per_seed.csv: missing required column(s) 'convergence_step' (columns present: arm, seed",),
        (csv("per_seed.csv", PER_SEED[:-1], [r[:-1] for r in ROWS]),),
    ),
    Case(
        "analysis-csv",
        "non-numeric-value",
        analysis("table", "ablation", "--csv", "{tmp}/per_seed.csv"),
        1,
        ("{tmp}/per_seed.csv: column 'test_theta_l1' has non-numeric values: line 3 ('abc')",),
        (csv("per_seed.csv", PER_SEED, [ROWS[0], ["A", 1, "abc", 0.006, 1920], *ROWS[2:]]),),
    ),
    Case(
        "analysis-csv",
        "non-integer-seed",
        analysis("table", "deltas", "--csv", "{tmp}/per_seed.csv"),
        1,
        ("{tmp}/per_seed.csv: column 'seed' has non-integer values: line 2 ('0.5')",),
        (csv("per_seed.csv", PER_SEED, [["A", 0.5, 0.1, 0.004, 960], *ROWS[1:]]),),
    ),
    Case(
        "analysis-csv",
        "duplicate-arm-seed",
        analysis("table", "ablation", "--csv", "{tmp}/per_seed.csv"),
        1,
        ("{tmp}/per_seed.csv: duplicated (arm, seed) runs: (arm='A', seed=0) at line 2, line 6",),
        (csv("per_seed.csv", PER_SEED, [*ROWS, ROWS[0]]),),
    ),
    Case(
        "analysis-csv",
        "arm-not-in-csv",
        analysis("plan-seeds", "--csv", "{tmp}/per_seed.csv", "--arms", "A,Z"),
        1,
        ("arm(s) 'Z' named in --arms have no runs; arms present: A, B",),
        (csv("per_seed.csv", PER_SEED, ROWS),),
    ),
    Case(
        "analysis-csv",
        "unpaired-seeds-for-deltas",
        analysis("table", "deltas", "--csv", "{tmp}/per_seed.csv", "--arms", "A,B"),
        1,
        ("seed(s) 1 have a run in 'A' but not in 'B'", "Pass --drop-unpaired"),
        (csv("per_seed.csv", PER_SEED, ROWS[:3]),),
    ),
    Case(
        "analysis-csv",
        "empty-file",
        analysis("table", "ablation", "--csv", "{tmp}/per_seed.csv"),
        1,
        ("{tmp}/per_seed.csv: the file is empty (expected a CSV header and one row per run)",),
        (file("per_seed.csv", ""),),
    ),
    Case(
        "analysis-csv",
        "header-only",
        analysis("plan-seeds", "--csv", "{tmp}/per_seed.csv"),
        1,
        ("{tmp}/per_seed.csv: no runs (the table has a header but no rows)",),
        (csv("per_seed.csv", PER_SEED, []),),
    ),
    Case(
        "analysis-csv",
        "unknown-plan-metric",
        analysis("plan-seeds", "--csv", "{tmp}/per_seed.csv", "--metrics", "test_l1"),
        1,
        ("unknown metric column(s) test_l1 in --metrics; numeric columns of the per-seed table: test_theta_l1",),
        (csv("per_seed.csv", PER_SEED, ROWS),),
    ),
    Case(
        "analysis-csv",
        "curves-repeated-step",
        analysis("plot", "curves", "--curves", "{tmp}/curves.csv", "--x", "step", out="fig"),
        1,
        ("{tmp}/curves.csv: duplicated curve points (arm, seed, step): (arm='A', seed=0, step=96) at line 2, line 3",),
        (csv("curves.csv", CURVE, [["A", 0, 96, 0.3], ["A", 0, 96, 0.2], ["A", 0, 192, 0.1]]),),
    ),
    Case(
        "analysis-csv",
        "curves-step-0",
        analysis("plot", "curves", "--curves", "{tmp}/curves.csv", "--x", "step", out="fig"),
        1,
        ("{tmp}/curves.csv: column 'step' has steps <= 0", "line 2 ('0')"),
        (csv("curves.csv", CURVE, [["A", 0, 0, 0.3], ["A", 0, 96, 0.2]]),),
    ),
    Case(
        "analysis-csv",
        "curves-missing-a-run",
        analysis("table", "ablation", "--csv", "{tmp}/per_seed.csv", "--curves", "{tmp}/curves.csv"),
        1,
        ("{tmp}/per_seed.csv + {tmp}/curves.csv: runs without a validation curve: [('A', 1), ('B', 0), ('B', 1)]",),
        (csv("per_seed.csv", PER_SEED[:3], [r[:3] for r in ROWS]), csv("curves.csv", CURVE, [["A", 0, 96, 0.1]])),
    ),
    Case(
        "analysis-csv",
        "pi-not-summing-to-1",
        analysis("plot", "paths", "--pi", "{tmp}/pi.json", "--paths", "{tmp}/paths.json", out="fig"),
        1,
        ("{tmp}/pi.json: π sums to 1.1, not 1",),
        (file("pi.json", "[0.5, 0.6]"), file("paths.json", "[]")),
    ),
    # 5. path / JTFS API: ValueError naming the argument and the allowed range
    Case(
        "paths-api",
        "loss-path-index-out-of-range",
        lambda tmp: scrapl()(torch.zeros(1, 1, 4096), torch.zeros(1, 1, 4096), path_idx=28),
        ValueError,
        ("path_idx must be an integer in [0, 28), got 28",),
    ),
    Case(
        "paths-api",
        "loss-wrong-input-length",
        lambda tmp: scrapl()(torch.zeros(1, 1, 2048), torch.zeros(1, 1, 4096)),
        ValueError,
        ("x_hat must have shape (batch, 1, 4096), got (1, 1, 2048)",),
    ),
    Case(
        "paths-api",
        "loss-probs-not-summing-to-1",
        lambda tmp: scrapl(probs=torch.full((28,), 0.5 / 28)),
        ValueError,
        ("probs must sum to 1, got 0.5",),
    ),
    Case("paths-api", "loss-norm-order", lambda tmp: scrapl(p=3), ValueError, ("p must be 1 or 2, got 3",)),
    Case(
        "paths-api",
        "sampler-negative-probs",
        lambda tmp: PathSampler(3, [1.5, -0.5, 0.0]),
        ValueError,
        ("probs must be finite and non-negative",),
    ),
    Case(
        "paths-api",
        "sampler-wrong-length-pi",
        lambda tmp: PathSampler(28, [1 / 27] * 27),
        ValueError,
        ("probs must have shape (28,) (one probability per path), got (27,)",),
    ),
    Case(
        "paths-api",
        "optimizer-path-out-of-range",
        lambda tmp: PathwiseSGD([torch.nn.Parameter(torch.zeros(2))], n_paths=28, lr=1e-3).step(28),
        ValueError,
        ("path_idx must be an integer in [0, 28), got 28",),
    ),
    Case(
        "paths-api",
        "theta-is-negative-curvature",
        lambda tmp: theta_is.probabilities(torch.tensor([[1.0], [-1.0]])),
        ValueError,
        ("C must be non-negative",),
    ),
    Case(
        "paths-api",
        "theta-is-curvature-1d",
        lambda tmp: theta_is.probabilities(torch.ones(5)),
        ValueError,
        ("C must have shape (P, U) with P, U >= 1, got (5,)",),
    ),
    Case(
        "paths-api",
        "settings-J-beyond-signal",
        lambda tmp: JTFSSettings(**{**SMOKE_JTFS, "J": 13}),
        ValueError,
        ("J must be an integer in [1, 12], got 13",),
    ),
    Case(
        "paths-api",
        "pi-file-without-pi-key",
        lambda tmp: load_probs(tmp / "pi.json"),
        ValueError,
        ("train.theta_is_probs: '{tmp}/pi.json' is not a π file", "KeyError: 'pi'"),
        (file("pi.json", '{"probs": [1.0]}'),),
    ),
    Case(
        "paths-api",
        "paths-cli-unknown-preset",
        paths_cli("--preset", "nope"),
        2,
        ("--preset", "unknown preset 'nope'; choose one of: chirplet"),
    ),
    # 6. TR-808 one-shot folders: the folder or file is named, with its reason or the counts
    Case(
        "tr808-oneshots",
        "empty-folder",
        lambda tmp: OneShotData.from_folder(tmp / "pack"),
        ValueError,
        ("root '{tmp}/pack' holds no audio file (searched recursively",),
        (folder("pack"), file("pack/a.txt", "x")),
    ),
    Case(
        "tr808-oneshots",
        "too-few-files-for-split",
        lambda tmp: OneShotData.from_folder(tmp / "pack", (2, 2, 2)),
        ValueError,
        (
            "data.split_sizes: too few usable audio files under '{tmp}/pack' for the split: 3 available but train 2 + "
            "val 2 + test 2 = 6 requested",
        ),
        (wav("pack/BD/a.wav"), sound("pack/BD/b.flac", "FLAC"), wav("pack/SD/c.wav")),
    ),
    Case(
        "tr808-oneshots",
        "not-an-audio-file",
        lambda tmp: OneShotData.from_folder(tmp / "pack"),
        ValueError,
        ("1 bad file(s) under '{tmp}/pack'", "- SD/notes.wav: unknown or unsupported format"),
        (wav("pack/BD/a.wav"), file("pack/SD/notes.wav", "these are notes, not audio")),
    ),
    Case(
        "tr808-oneshots",
        "low-sample-rate",
        lambda tmp: OneShotData.from_folder(tmp / "pack"),
        ValueError,
        ("- lofi.wav: unsupported sample rate 8000 Hz (minimum 16000 Hz)",),
        (wav("pack/a.wav"), wav("pack/lofi.wav", rate=8000)),
    ),
    Case(
        "tr808-oneshots",
        "corrupt-flac",
        lambda tmp: OneShotData.from_folder(tmp / "pack"),
        ValueError,
        ("1 bad file(s) under '{tmp}/pack'", "- BD/kick.flac: corrupt (libsndfile"),
        (wav("pack/a.wav"), sound("pack/BD/kick.flac", "FLAC", corrupt=True)),
    ),
    Case(
        "tr808-oneshots",
        "truncated-aiff",
        lambda tmp: OneShotData.from_folder(tmp / "pack"),
        ValueError,
        ("- SD/snare.aiff: truncated (SSND chunk declares",),
        (wav("pack/a.wav"), sound("pack/SD/snare.aiff", "AIFF", cut=0.5)),
    ),
    Case(
        "tr808-oneshots",
        "train-cli-too-few-files",
        train(
            "--preset", "smoke-tr808", "--set", "data.source=oneshot-folder", "--set", "data.oneshot_root={tmp}/pack"
        ),
        2,
        (
            "data.split_sizes: too few usable audio files under '{tmp}/pack' for the split: 2 available but train 32 + "
            "val 8 + test 8 = 48 requested",
        ),
        (wav("pack/a.wav"), wav("pack/b.wav")),
    ),
    Case(
        "tr808-oneshots",
        "train-cli-missing-folder",
        train(
            "--preset", "smoke-tr808", "--set", "data.source=oneshot-folder", "--set", "data.oneshot_root={tmp}/nope"
        ),
        2,
        ("root '{tmp}/nope' is not a directory",),
    ),
    Case(
        "tr808-oneshots",
        "study-missing-folder",
        folder_study(),
        2,
        ("--set: data.oneshot_root: root '{tmp}/pack' is not a directory",),
    ),
    Case(
        "tr808-oneshots",
        "study-too-few-files",
        folder_study(),
        2,
        (
            "--set: data.split_sizes: too few usable audio files under '{tmp}/pack' for the split: 2 available but "
            "train 32 + val 8 + test 8 = 48 requested",
        ),
        (wav("pack/a.wav"), wav("pack/b.wav")),
    ),
    Case(
        "tr808-oneshots",
        "study-corrupt-flac-and-truncated-aiff",
        folder_study(),
        2,
        (
            "--set: data.oneshot_root: 2 bad file(s) under '{tmp}/pack' (set data.skip_bad=true",
            "- BD/cut.flac: corrupt (libsndfile",
            "- SD/cut.aif: truncated",
        ),
        (wav("pack/a.wav"), sound("pack/BD/cut.flac", "FLAC", cut=0.6), sound("pack/SD/cut.aif", "AIFF", cut=0.6)),
    ),
    Case(
        "tr808-oneshots",
        "study-unsupported-codec",
        folder_study(),
        2,
        ("--set: data.oneshot_root: 1 bad file(s)", "- ac3.wav: unsupported codec (WAVE format tag 0x2000"),
        (wav("pack/a.wav"), wave_codec("pack/ac3.wav", 0x2000)),
    ),
    Case(
        "tr808-oneshots",
        "study-every-file-unusable",
        folder_study("--set", "data.skip_bad=true"),
        2,
        (
            "--set: data.oneshot_root: no usable audio file under '{tmp}/pack': all 2 were bad",
            "- a.flac: corrupt",
            "- b.wav: empty file (0 bytes)",
        ),
        (sound("pack/a.flac", "FLAC", corrupt=True), file("pack/b.wav", b"")),
    ),
    Case(
        "tr808-oneshots",
        "study-fractions-not-summing-to-1",
        folder_study("--set", "data.split_sizes=[0.5,0.3,0.3]"),
        2,
        ("--set", "data.split_sizes: fractions must sum to 1, got (0.5, 0.3, 0.3) (sum 1.1)"),
        (wav("pack/a.wav"),),
    ),
    Case(
        "tr808-oneshots",
        "study-fractions-leaving-a-split-empty",
        folder_study("--set", "data.split_sizes=[0.8,0.1,0.1]", "--set", "data.batch_size=1"),
        2,
        (
            "--set: data.split_sizes: too few usable audio files under '{tmp}/pack' for the split: fractions "
            "(0.8, 0.1, 0.1) of 3 give train 3, val 0, test 0; every split needs at least 1",
        ),
        (wav("pack/a.wav"), wav("pack/b.wav"), wav("pack/c.wav")),
    ),
    Case(
        "tr808-oneshots",
        "study-batch-larger-than-a-fractional-split",
        folder_study("--set", "data.split_sizes=[0.5,0.25,0.25]"),
        2,
        ("--set: data.batch_size: 8 is larger than the train split (2 of the 6 usable files under '{tmp}/pack'",),
        tuple(wav(f"pack/{i}.wav") for i in range(6)),
    ),
    *(
        [
            Case(
                "tr808-oneshots",
                "study-unreadable-permissions",
                folder_study(),
                2,
                ("--set: data.oneshot_root: 1 bad file(s)", "- locked.wav: unreadable (permission denied)"),
                (wav("pack/a.wav"), wav("pack/locked.wav"), lambda tmp: (tmp / "pack" / "locked.wav").chmod(0)),
            )
        ]
        if os.geteuid() != 0
        else []
    ),  # root reads any file: the case exists only for other users
]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a directory)."""
    return {p.relative_to(root).as_posix(): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


def test_the_corpus_covers_every_category():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    per_category = {c.category: 0 for c in CASES}
    for c in CASES:
        per_category[c.category] += 1
    assert set(per_category) == {
        "study-cli",
        "study-spec",
        "preset-config",
        "analysis-csv",
        "paths-api",
        "tr808-oneshots",
    }
    assert min(per_category.values()) >= 4 and len(CASES) >= 30, per_category


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_fast_naming_the_field_and_leaves_nothing(case: Case, tmp_path: Path, capsys):
    import ray

    for make in case.setup:
        make(tmp_path)
    before = snapshot(tmp_path)
    ray_was_up = ray.is_initialized()
    capsys.readouterr()
    if isinstance(case.error, int):
        try:
            status = case.trigger(tmp_path)
        except SystemExit as exc:  # argparse's own usage errors
            status = exc.code
        message = capsys.readouterr().err
        assert status == case.error, f"exit status {status}, expected {case.error}; stderr:\n{message}"
    else:
        with pytest.raises(case.error) as info:
            case.trigger(tmp_path)
        message = str(info.value)
    for text in _fill(case.expect, tmp_path):
        assert text in message, f"{text!r} not in the message:\n{message}"
    assert "Traceback" not in message
    assert snapshot(tmp_path) == before, "the failing call left output behind"
    if not ray_was_up:
        assert not ray.is_initialized(), "Ray was started for bad input"

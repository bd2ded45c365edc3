"""TR-808 studies on a real sample library (Debian's hydrogen-data kits, FLAC and WAV): the preflight's summary
and decode-once cache, the HPO batch-size choices derived from the run's own data, and the smoke ablation
and a smoke HPO end to end through ``python -m study`` (subprocesses with their own Ray and MLflow)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from search_spaces import studies
from study.cli import build_parser, spec_from_args
from study.errors import StudyError
from study.preflight import check_inputs, write_data_cache

KITS = Path("/usr/share/hydrogen/data/drumkits")


@pytest.fixture
def kits(tmp_path) -> Path:
    """The TR-808 emulation kit (16 FLAC) and the GM rock kit (86 WAV, some > 2 s) in a folder of our own."""
    if not (KITS / "TR808EmulationKit").is_dir():
        pytest.skip(
            f"Debian's hydrogen-data is not installed ({KITS} is missing); `make sample-kits` (part of "
            "`make test`) installs it"
        )
    root = tmp_path / "kits"
    for kit in ("TR808EmulationKit", "GMRockKit"):
        shutil.copytree(KITS / kit, root / kit)
    return root


def folder_overrides(root: Path, **more) -> dict:
    return {"data.source": "oneshot-folder", "data.oneshot_root": str(root), **more}


def entries(data_dir: Path) -> list[str]:
    return sorted(p.name for p in data_dir.glob("oneshots-*"))


def test_preflight_summarises_writes_nothing_then_the_study_decodes_once(kits, tmp_path):
    spec = studies.ablation("drums", "smoke-tr808", (0, 1), overrides=folder_overrides(kits))
    before = sorted(p for p in tmp_path.rglob("*"))
    lines: list[str] = []
    check_inputs(spec, say=lines.append)
    text = "\n".join(lines)
    assert f"{kits}: 102 one-shot(s) loaded" in text
    assert "formats:  WAV/PCM_16 86, FLAC/PCM_16 16" in text
    assert "longer than the 1-s window (tails cut after onset alignment)" in text
    assert "labels:   bass_drum " in text and "hi_hat " in text
    assert "split:    train 32, val 8, test 8" in text
    assert sorted(p for p in tmp_path.rglob("*")) == before  # the preflight writes nothing

    study_dir = tmp_path / "studies" / "drums"
    assert write_data_cache(spec, study_dir) == str(study_dir / "data")
    [entry] = entries(study_dir / "data")
    index = json.loads((study_dir / "data" / entry / "index.json").read_text())
    assert len(index["names"]) == 102 and index["skipped"] == []
    assert write_data_cache(spec, study_dir) == str(study_dir / "data")  # a resume: entry kept
    assert entries(study_dir / "data") == [entry]
    (kits / "GMRockKit" / "Kick-Hard.wav").unlink()  # the folder changed: rebuilt
    write_data_cache(spec, study_dir)
    [new] = entries(study_dir / "data")
    assert new != entry and len(json.loads((study_dir / "data" / new / "index.json").read_text())["names"]) == 101
    assert write_data_cache(studies.ablation("synth", "smoke-tr808", (0,)), tmp_path / "s2") is None


def test_preflight_names_split_and_batch_problems(kits):
    spec = studies.ablation(
        "drums",
        "smoke-tr808",
        (0,),
        overrides=folder_overrides(kits, **{"data.split_sizes": [0.9, 0.05, 0.05], "data.batch_size": 8}),
    )
    with pytest.raises(StudyError, match=r"data.batch_size: 8 is larger than the val split \(5 of the 102 usable"):
        check_inputs(spec, say=None)
    hpo = studies.hpo(
        "tune",
        "smoke-tr808-meso",
        arm="p-adam+p-saga",
        overrides=folder_overrides(kits, **{"data.split_sizes": [0.6, 0.2, 0.2]}),
    )
    check_inputs(hpo, say=None)  # every choice fits


def test_hpo_batch_size_choices_come_from_the_runs_own_data(kits, tmp_path):
    def spec(*argv):
        return spec_from_args(build_parser().parse_args(["run", "hpo", *argv]), tmp_path)

    def choices(s):
        return next(p.choices for p in s.hpo.params if p.key == "data.batch_size")

    # the command: the synthetic one-shot split (32/8/8), not the θ grid, bounds the choices
    assert choices(spec("--preset", "smoke-tr808-meso")) == (4, 8)
    assert choices(spec("--preset", "tr808-meso")) == (4, 8, 16)  # around the paper's batch 8
    assert choices(spec("--preset", "smoke-granular")) == (4, 8, 16)  # θ grid: as before
    sets = [
        a
        for k, v in folder_overrides(kits, **{"data.split_sizes": "[0.9,0.05,0.05]"}).items()
        for a in ("--set", f"{k}={v}")
    ]
    assert choices(spec("--preset", "smoke-tr808-meso", *sets)) == (4,)  # 102 files: val 5
    # recordings have no θ: the HPO minimises val_loss there, val_theta_l1 on synthetic targets
    assert spec("--preset", "smoke-tr808-meso", *sets).hpo.metric == "val_loss"
    assert spec("--preset", "smoke-tr808-meso").hpo.metric == "val_theta_l1"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_smoke_tr808_ablation_on_a_real_library_end_to_end(kits, tmp_path, child_session, runs):
    root = tmp_path / "studies"
    child = child_session(
        "-m",
        "study",
        "run",
        "ablation",
        "--preset",
        "smoke-tr808",
        "--set",
        "data.source=oneshot-folder",
        "--set",
        f"data.oneshot_root={kits}",
        "--seeds",
        "1",
        "--arms",
        "scrapl,p-adam+p-saga",
        "--name",
        "drums",
        "--root",
        str(root),
    )
    assert child.proc.wait(timeout=800) == 0, child.output()
    out = child.output()
    assert f"{kits}: 102 one-shot(s) loaded" in out and "labels:" in out
    data_dir = root / "drums" / "data"
    [entry] = entries(data_dir)
    assert len(json.loads((data_dir / entry / "index.json").read_text())["names"]) == 102
    r = runs(f"sqlite:///{root / 'drums' / 'mlflow.db'}", "drums")
    assert len(r.trials) == 2 and all(t.info.status == "FINISHED" for t in r.trials)
    for t in r.trials:
        assert t.data.params["data.cache_dir"] == str(data_dir)  # every trial read the cache
        assert t.data.params["data.oneshot_root"] == str(kits)
        assert {"test_mss_log_lin", "test_transient_loudness_l1", "test_decay_flatness_l1"} <= set(t.data.metrics)
    assert (root / "drums" / "tables" / "tr808_audio.md").is_file()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_smoke_tr808_hpo_on_a_folder_split_60_20_20(kits, tmp_path, child_session, runs):
    root = tmp_path / "studies"
    child = child_session(
        "-m",
        "study",
        "run",
        "hpo",
        "--preset",
        "smoke-tr808-meso",
        "--arm",
        "p-adam+p-saga",
        "--num-samples",
        "2",
        "--set",
        "data.source=oneshot-folder",
        "--set",
        f"data.oneshot_root={kits}",
        "--set",
        "data.split_sizes=[0.6,0.2,0.2]",
        "--name",
        "tune",
        "--root",
        str(root),
    )
    assert child.proc.wait(timeout=800) == 0, child.output()
    assert "split:    train 62, val 20, test 20" in child.output()
    spec = json.loads((root / "tune" / "spec.json").read_text())
    [batch] = [p for p in spec["hpo"]["params"] if p["key"] == "data.batch_size"]
    assert batch["choices"] == [4, 8, 16]
    best = json.loads((root / "tune" / "hpo" / "best.json").read_text())
    assert best["params"]["data.batch_size"] in (4, 8, 16)
    r = runs(f"sqlite:///{root / 'tune' / 'mlflow.db'}", "tune")
    assert len(r.trials) == 2 and all(t.data.params["data.cache_dir"] == str(root / "tune" / "data") for t in r.trials)

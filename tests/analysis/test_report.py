import os

import pytest

from analysis import data
from analysis.report import write_tables


def test_writes_both_tables_in_all_formats(tiny_csv, tmp_path):
    out = tmp_path / "study" / "tables"  # created with its parent
    paths = write_tables(data.load_per_seed_csv(tiny_csv), out, arms=["A", "B"])
    assert (
        sorted(p.name for p in paths)
        == sorted(os.listdir(out))
        == ["ablation.csv", "ablation.md", "ablation.tex", "deltas.csv", "deltas.md", "deltas.tex"]
    )
    assert "| A | **200 ± 92** |" in (out / "ablation.md").read_text()
    assert "| B vs A | 167 ± 140 (p = 0.04) |" in (out / "deltas.md").read_text()


def test_single_arm_has_no_deltas_and_failure_writes_nothing(tiny_csv, tmp_path):
    df = data.load_per_seed_csv(tiny_csv)
    assert [p.name for p in write_tables(df, tmp_path, arms=["A"], formats=["markdown"])] == ["ablation.md"]
    (tmp_path / "ablation.md").unlink()
    # A and J are not paired (J has seed 0 only): the deltas table fails, so no file at all is written
    with pytest.raises(ValueError, match="not paired by seed"):
        write_tables(df, tmp_path, arms=["A", "J"])
    assert os.listdir(tmp_path) == ["per_seed.csv"]
    with pytest.raises(ValueError, match="unknown format"):
        write_tables(df, tmp_path, formats=["html"])


def test_failure_creates_no_directory(tiny_csv, tmp_path):
    with pytest.raises(ValueError, match="not paired by seed"):
        write_tables(data.load_per_seed_csv(tiny_csv), tmp_path / "tables", arms=["A", "J"])
    assert not (tmp_path / "tables").exists()


def test_file_stems_are_configurable(tiny_csv, tmp_path):
    paths = write_tables(
        data.load_per_seed_csv(tiny_csv),
        tmp_path / "t",
        arms=["A", "B"],
        formats=["markdown"],
        names=("losses", "losses_deltas"),
    )
    assert sorted(p.name for p in paths) == ["losses.md", "losses_deltas.md"]


def test_deltas_against_a_reference_arm_pass_through(tiny_csv, tmp_path):
    write_tables(data.load_per_seed_csv(tiny_csv), tmp_path, arms=["B", "A"], formats=["markdown"], reference="A")
    deltas = (tmp_path / "deltas.md").read_text()
    assert "Each arm against A" in deltas and "| B vs A |" in deltas

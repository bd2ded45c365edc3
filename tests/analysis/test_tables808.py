"""TR-808 Tables 4/8/9 export: validation of the per-seed CSV, hand-worked cells, bold, CLI."""

import math

import pandas as pd
import pytest

from analysis import cli, schema
from analysis.render import render
from analysis.tables808 import GROUPS, load_tr808_csv, tr808_table, validate_tr808

HEADER = [
    "arm",
    "seed",
    "setting",
    "test_mss_log_lin",
    "test_jtfs",
    "test_transient_loudness_l1",
    "test_decay_loudness_l1",
]
# Hand-worked (raw units):
#   scrapl micro: MSS 1, 3 → 2.00 ± 1.96·1/√2 = 1.4      JTFS 4, 6 → 5.00 ± 1.4
#   scrapl meso:  MSS 2, 2 → 2.00 ± 0                     JTFS 5, (none) → 5.00 (1/2 runs)
#   mss    micro: MSS 0.5, 0.7 → 0.600 ± 0.14             JTFS 8, 10 → 9.00 ± 1.4
#   mss    meso:  MSS 3, 5 → 4.00 ± 1.4                   JTFS 9, 9 → 9.00 ± 0
#   jtfs   micro: one run (reference arm)                 meso: no run → N/A
ROWS = [
    ["scrapl", 0, "micro", 1, 4, 10, 20],
    ["scrapl", 1, "micro", 3, 6, 12, 22],
    ["scrapl", 0, "meso", 2, 5, 11, 21],
    ["scrapl", 1, "meso", 2, "", 13, 23],
    ["mss", 0, "micro", 0.5, 8, 30, 5],
    ["mss", 1, "micro", 0.7, 10, 32, 7],
    ["mss", 0, "meso", 3, 9, 40, 6],
    ["mss", 1, "meso", 5, 9, 44, 8],
    ["jtfs", 0, "micro", 0.1, 1, 1, 1],
]


@pytest.fixture
def csv808(tmp_path, write_csv):
    return write_csv(tmp_path / "tr808.csv", HEADER, ROWS)


def test_schema_constants():
    assert schema.SETTINGS == ("micro", "meso") and schema.SETTING_COLUMN == "setting"
    assert len(schema.TR808_METRICS) == 9 and len(set(schema.TR808_METRICS)) == 9
    assert GROUPS["audio"] == (schema.TEST_MSS_LOG_LIN, schema.TEST_JTFS, schema.TEST_FAD)
    assert all(m.startswith("test_") for m in schema.TR808_METRICS)


def test_load_and_validate(csv808):
    df = load_tr808_csv(csv808)
    assert list(df["setting"]) == [r[2] for r in ROWS] and df["seed"].dtype == "int64"
    assert math.isnan(df.loc[3, "test_jtfs"]) and df.loc[0, "test_mss_log_lin"] == 1.0
    assert "test_fad" not in df.columns


@pytest.mark.parametrize(
    "rows, message",
    [
        ([["a", 0, "macro", 1]], "line 2"),
        ([["a", 0, "micro", "x"]], "non-numeric values at line 2"),
        ([["a", 0, "micro", 1], ["a", 1, "micro", -1]], "negative values at line 3"),
        ([["a", 0, "micro", 1], ["a", 0, "micro", 2]], "duplicated"),
        ([["a", "zero", "micro", 1]], "seed"),
    ],
)
def test_validation_names_the_lines(rows, message):
    raw = pd.DataFrame([[str(v) for v in r] for r in rows], columns=["arm", "seed", "setting", "test_jtfs"])
    with pytest.raises(ValueError, match=message):
        validate_tr808(raw)


def test_setting_from_preset_or_error():
    raw = pd.DataFrame(
        {"preset": ["tr808-micro", "tr808-meso"], "arm": ["a", "a"], "seed": ["0", "0"], "test_jtfs": ["1", "2"]}
    )
    assert list(validate_tr808(raw)["setting"]) == ["micro", "meso"]  # same arm/seed in both settings
    raw["preset"] = ["tr808-micro", "smoke-tr808"]
    with pytest.raises(ValueError, match="line 3.*neither token micro nor meso"):
        validate_tr808(raw)
    with pytest.raises(ValueError, match="missing column 'setting'"):
        validate_tr808(raw.drop(columns=["preset"]))
    with pytest.raises(ValueError, match="no TR-808 metric column"):
        validate_tr808(raw.drop(columns=["test_jtfs"]).assign(preset="tr808-micro"))


def test_hand_worked_cells_bold_and_reference_arms(csv808):
    df = load_tr808_csv(csv808)
    table = tr808_table(df, ["scrapl", "mss", "jtfs"], group="audio", reference_arms=["jtfs"])
    assert [c.key for c in table.columns] == [
        "arm",
        "test_mss_log_lin/micro",
        "test_mss_log_lin/meso",
        "test_jtfs/micro",
        "test_jtfs/meso",
    ]  # no FAD column
    scrapl, mss, jtfs = table.rows
    assert (scrapl[1].value, scrapl[1].ci) == ("2.00", "1.4")
    assert (scrapl[2].value, scrapl[2].ci) == ("2.00", "0.0")
    assert (scrapl[4].value, scrapl[4].ci, scrapl[4].note) == ("5.00", None, "1/2 runs")
    assert (mss[1].value, mss[1].ci, mss[3].value) == ("0.600", "0.14", "9.00")
    assert jtfs[1].value == "0.100" and jtfs[1].ci is None and jtfs[2].value == "N/A"
    # bold = lowest mean per column among non-reference arms
    assert [c.bold for c in scrapl[1:]] == [False, True, True, True]
    assert [c.bold for c in mss[1:]] == [True, False, False, False]
    assert not any(c.bold for c in jtfs[1:])
    assert scrapl[1].data["ci_half_width"] == pytest.approx(1.96 / math.sqrt(2))
    assert "reference" not in table.caption and "among arms other than jtfs" in table.caption


def test_groups_scale_settings_and_errors(csv808):
    df = load_tr808_csv(csv808)
    transient = tr808_table(df, group="transient", settings=["meso"], scale=10)
    assert [c.key for c in transient.columns] == ["arm", "test_transient_loudness_l1/meso"]
    assert [r[0].value for r in transient.rows] == ["scrapl", "mss", "jtfs"]  # order of appearance
    assert transient.rows[0][1].value == "120" and "Values × 10" in transient.caption
    decay = tr808_table(df, group="all", labels=["SCRAPL", "MSS L+L", "JTFS"], arms=["scrapl", "mss", "jtfs"])
    assert len(decay.columns) == 1 + 4 * 2 and decay.rows[1][0].value == "MSS L+L"
    with pytest.raises(ValueError, match="not in the table"):
        tr808_table(df, metrics=["test_fad"])
    with pytest.raises(ValueError, match="group"):
        tr808_table(df, group="tables")
    with pytest.raises(ValueError, match="settings"):
        tr808_table(df, settings=["micro", "micro"])
    with pytest.raises(ValueError, match="no runs"):
        tr808_table(df, arms=["scrapl", "p-loss"])
    with pytest.raises(ValueError, match="bootstrap"):
        tr808_table(df, ci="bootstrap")
    only_fad_missing = df.drop(columns=["test_mss_log_lin", "test_jtfs"])
    with pytest.raises(ValueError, match="no value for any 'audio' metric"):
        tr808_table(only_fad_missing, group="audio")


def test_renders_markdown_and_latex(csv808):
    table = tr808_table(load_tr808_csv(csv808), reference_arms=["jtfs"])
    md = render(table, "markdown").splitlines()
    assert md[2] == "| Method | MSS Log. + Linear ↓ Micro | MSS Log. + Linear ↓ Meso | JTFS ↓ Micro | JTFS ↓ Meso |"
    assert md[4] == "| scrapl | 2.00 ± 1.4 | **2.00 ± 0.0** | **5.00 ± 1.4** | **5.00** (1/2 runs) |"
    tex = render(table, "latex")
    assert r"$\mathbf{2.00 \pm 0.0}$" in tex and r"\toprule" in tex
    csv = render(table, "csv").splitlines()
    assert csv[0].startswith("arm,column,mean,ci_half_width")


def test_cli_table_tr808(csv808, tmp_path, capsys):
    code = cli.main(["table", "tr808", "--csv", str(csv808), "--reference-arms", "jtfs", "--group", "decay"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "| Method | Decay Loudness L1 ↓ Micro | Decay Loudness L1 ↓ Meso |" in out
    target = tmp_path / "t.tex"
    code = cli.main(
        [
            "table",
            "tr808",
            "--csv",
            str(csv808),
            "--format",
            "latex",
            "--out",
            str(target),
            "--arms",
            "mss,scrapl",
            "--ci",
            "t",
        ]
    )
    assert code == 0 and r"\begin{tabular}{lrrrr}" in target.read_text()
    code = cli.main(["table", "tr808", "--csv", str(tmp_path / "missing.csv")])
    assert code == 1 and "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["table", "tr808", "--help"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("usage: python -m analysis")


def test_tables808_imports_without_torch(tmp_path, csv808):
    import os
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "sitecustomize.py").write_text(
        textwrap.dedent("""
        import importlib.abc, sys
        class _Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "ray"):
                    raise ImportError(f"{name} is blocked in this test")
        sys.meta_path.insert(0, _Block())
    """)
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(repo)]))
    res = subprocess.run(
        [sys.executable, "-m", "analysis", "table", "tr808", "--csv", str(csv808)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "| scrapl |" in res.stdout

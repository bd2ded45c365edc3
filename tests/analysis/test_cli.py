import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from analysis import cli, data
from analysis.mlflow_source import read_study

REPO = Path(__file__).resolve().parents[2]


def run_module(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args], capture_output=True, text=True, cwd=cwd or REPO, env=env, timeout=120
    )


def main(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- the required forms, as a user types them -----------------------------------------------------------
def test_table_ablation_markdown_subprocess(tiny_csv):
    res = run_module("table", "ablation", "--csv", str(tiny_csv), "--arms", "A,B,J", "--format", "markdown")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[2] == "| Method | Test θ L1 % ↓ | Val. Total Var. ↓ | Conv. Steps ↓ | CR ↑ |"
    # hand-worked in test_tables: A 200 ± 92, B 367 ± 140, single-run J without CI
    assert lines[4] == "| A | 200 ± 92 | 5.00 ± 0.92 | 1440 ± 665 | 67% |"
    assert lines[5] == "| B | 367 ± 140 | 4.00 ± 0.92 | 720 ± 333 | 67% |"
    assert lines[6] == "| J | **50.0** | **2.00** | **96** | **100%** |"


def test_table_deltas_markdown_subprocess(tiny_csv):
    res = run_module("table", "deltas", "--csv", str(tiny_csv), "--arms", "A,B", "--format", "markdown", "--paper")
    assert res.returncode == 0, res.stderr
    assert (
        res.stdout.splitlines()[-1]
        == "| B | 167 ± 140 (p = 0.04) | -1.00 ± 2.5 (p = 0.23) | -480 (p = n/a; 1/3 pairs) |"
    )


def test_every_command_has_help(capsys):
    commands = [
        [],
        ["table"],
        ["table", "ablation"],
        ["table", "deltas"],
        ["table", "theta-is"],
        ["plan-seeds"],
        ["plot"],
        ["plot", "curves"],
        ["plot", "cost"],
        ["plot", "paths"],
        ["report"],
        ["export"],
    ]
    for command in commands:
        with pytest.raises(SystemExit) as info:
            cli.main(command + ["--help"])
        out = capsys.readouterr().out
        assert info.value.code == 0 and out.startswith("usage: python -m analysis")


# --- formats, CI options and --out --------------------------------------------------------------------------
def test_latex_and_csv_formats(tiny_csv, capsys):
    code, out, _ = main(capsys, "table", "ablation", "--csv", str(tiny_csv), "--arms", "A,B", "--format", "latex")
    assert code == 0 and r"A & $\mathbf{200 \pm 92}$ & $5.00 \pm 0.92$ & $1440 \pm 665$ & 67\% \\" in out
    code, out, _ = main(capsys, "table", "deltas", "--csv", str(tiny_csv), "--arms", "A,B", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    l1 = next(r for r in rows if r["column"] == "delta_test_theta_l1")
    assert l1["comparison"] == "B vs A" and float(l1["mean"]) == pytest.approx(500 / 3)
    assert float(l1["p_value"]) == pytest.approx(1 - 5 / np.sqrt(27)) and l1["ci_method"] == "t"


def test_test_option_reports_the_chosen_test(tiny_csv, capsys):
    """--test wilcoxon: each Δ's p is the signed-rank p; --test auto adds the Shapiro p column (3 pairs:
    W of 100, 200, 200 is 0.75, p = 0.0, so Wilcoxon decides θ L1); a bad choice exits 2."""
    code, out, _ = main(
        capsys, "table", "deltas", "--csv", str(tiny_csv), "--arms", "A,B", "--test", "wilcoxon", "--format", "csv"
    )
    l1 = next(r for r in csv.DictReader(io.StringIO(out)) if r["column"] == "delta_test_theta_l1")
    assert code == 0 and float(l1["p_value"]) == pytest.approx(sps.wilcoxon([100.0, 200.0, 200.0]).pvalue)
    assert l1["test"].startswith("Wilcoxon signed-rank")
    code, out, _ = main(capsys, "table", "deltas", "--csv", str(tiny_csv), "--arms", "A,B", "--test", "auto")
    assert code == 0 and "Shapiro p" in out and "Shapiro–Wilk (scipy.stats.shapiro)" in out
    assert "Wilcoxon for: B vs A (Δ Test θ L1 % ↓)" in out
    with pytest.raises(SystemExit) as info:
        cli.main(["table", "deltas", "--csv", str(tiny_csv), "--arms", "A,B", "--test", "z"])
    assert info.value.code == 2 and "argument --test: invalid choice: 'z'" in capsys.readouterr().err


def test_ci_option_changes_the_interval(tiny_csv, capsys):
    _, z, _ = main(capsys, "table", "ablation", "--csv", str(tiny_csv), "--arms", "A,B", "--paper")
    _, t, _ = main(capsys, "table", "ablation", "--csv", str(tiny_csv), "--arms", "A,B", "--paper", "--ci", "t")
    _, b1, _ = main(
        capsys,
        "table",
        "ablation",
        "--csv",
        str(tiny_csv),
        "--arms",
        "A,B",
        "--ci",
        "bootstrap",
        "--seed",
        "3",
        "--bootstrap-resamples",
        "2000",
    )
    _, b2, _ = main(
        capsys,
        "table",
        "ablation",
        "--csv",
        str(tiny_csv),
        "--arms",
        "A,B",
        "--ci",
        "bootstrap",
        "--seed",
        "3",
        "--bootstrap-resamples",
        "2000",
    )
    assert "| A | **200 ± 92** |" in z and "| A | **200 ± 250** |" in t  # t(0.975,2) * 100 / sqrt(3) = 248
    assert b1 == b2 and "generator seed 3" in b1 and "2000 resamples" in b1


def test_out_writes_file_and_nothing_on_stdout(tiny_csv, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "t2.tex"
    code, out, err = main(
        capsys, "table", "ablation", "--csv", str(tiny_csv), "--arms", "A,B", "--format", "latex", "--out", str(target)
    )
    assert code == 0 and out == "" and f"wrote {target}" in err
    assert target.read_text(encoding="utf-8").startswith("% requires \\usepackage{booktabs}")
    assert sorted(os.listdir(tmp_path / "out")) == ["t2.tex"]


def test_curves_option_recomputes_tv_and_convergence(tmp_path, write_csv, capsys):
    per_seed = write_csv(
        tmp_path / "p.csv",
        ["arm", "seed", "test_theta_l1"],
        [["A", 0, 0.1], ["A", 1, 0.2], ["B", 0, 0.1], ["B", 1, 0.1]],
    )
    curves = write_csv(
        tmp_path / "c.csv",
        ["arm", "seed", "step", "val_theta_l1"],
        [
            ["A", 0, 96, 0.3],
            ["A", 0, 192, 0.1],
            ["A", 1, 96, 0.2],
            ["A", 1, 192, 0.2],
            ["B", 0, 96, 0.1],
            ["B", 0, 192, 0.1],
            ["B", 1, 96, 0.3],
            ["B", 1, 192, 0.05],
        ],
    )
    code, out, err = main(
        capsys, "table", "ablation", "--csv", str(per_seed), "--curves", str(curves), "--arms", "A,B", "--paper"
    )
    assert code == 0, err
    # TV ×1000: A 100 (0.2/2), 0 -> 50.0 ± 1.96*50/sqrt2 = 69; B 0, 125 -> 62.5 ± 87
    # steps: A only seed 0 at 192; B 96 and 192 -> 144 ± 1.96*48/sqrt2 = 67
    assert "| A | 150 ± 69 | **50.0 ± 69** | 192 |" in out
    assert "| B | **100 ± 0.0** | 62.5 ± 87 | **144 ± 67** |" in out
    assert "recomputed from the validation curves in c.csv" in out


def test_theta_is_and_plan_seeds(tmp_path, write_csv, capsys):
    header = [
        "preset",
        "arm",
        "seed",
        "test_theta_l1",
        "val_total_variation",
        "convergence_step",
        "test_theta_l1_am",
        "convergence_step_am",
    ]
    rows = [
        [
            p,
            a,
            s,
            0.1,
            0.001,
            96,
            0.1 + 0.1 * s if a == "uniform" else 0.05 + 0.02 * s,
            96 if s == 0 or a != "uniform" else "",
        ]
        for p in ("c1", "c2")
        for a in ("uniform", "theta_is")
        for s in (0, 1)
    ]
    path = write_csv(tmp_path / "t.csv", header, rows)
    code, out, err = main(capsys, "table", "theta-is", "--csv", str(path), "--arms", "uniform,theta_is")
    assert code == 0, err
    assert (
        "| c1 | uniform | 150 ± 69 | 50% | 96 |" in out
        and "| c2 | theta_is | **60.0 ± 14** | **100%** | 96 ± 0 |" in out
    )
    code, out, err = main(
        capsys,
        "plan-seeds",
        "--csv",
        str(path),
        "--preset",
        "c1",
        "--arms",
        "uniform,theta_is",
        "--metrics",
        "test_theta_l1_am",
    )
    assert code == 0, err
    assert "| theta_is vs uniform | test_theta_l1_am | 2 |" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["table", "ablation", "--arms", "A,X"], "arm(s) 'X' named in --arms have no runs; arms present: A, B, J"),
        (["table", "deltas", "--arms", "A,J"], "seed(s) 1, 2 have a run in 'A' but not in 'J'"),
        (["table", "ablation", "--labels", "x,y"], "--labels needs --arms"),
        (["table", "ablation", "--preset", "p"], "--preset 'p' given but the runs have no 'preset' column"),
        (["table", "ablation", "--from-curves"], "--from-curves goes with --study"),
    ],
)
def test_bad_input_exits_1_with_message(tiny_csv, capsys, args, message):
    code, out, err = main(capsys, *args, "--csv", str(tiny_csv))
    assert code == 1 and out == "" and message in err and err.startswith("error: ")


def test_missing_file_and_missing_uri(tmp_path, capsys, monkeypatch):
    code, _, err = main(capsys, "table", "ablation", "--csv", str(tmp_path / "none.csv"))
    assert code == 1 and "none.csv: no such file" in err
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code, _, err = main(capsys, "table", "ablation", "--study", "x", "--mlflow-uri", "")
    assert code == 1 and "--study needs --mlflow-uri" in err
    with pytest.raises(SystemExit) as info:  # neither --csv nor --study: argparse usage error
        cli.main(["table", "ablation"])
    assert info.value.code == 2


# --- MLflow sources -----------------------------------------------------------------------------------
def test_table_from_mlflow_subprocess(mlflow_store):
    res = run_module(
        "table",
        "ablation",
        "--study",
        "tiny",
        "--mlflow-uri",
        mlflow_store.uri,
        "--arms",
        "A,B",
        "--format",
        "markdown",
        "--paper",
    )
    assert res.returncode == 0, res.stderr
    # A: L1 100, 200, 300 -> 200 ± 92; TV ×1000 = 100, 83.3, 53.3 -> 78.9; steps 192, 288 -> 240 ± 67
    assert "| A | **200 ± 92** | 78.9 ± 22 | 240 ± 67 |" in res.stdout
    assert "note: 1 trial run(s) not analysed" in res.stderr and "status FAILED, loss became NaN" in res.stdout


def test_deltas_from_mlflow_default_arm_order(mlflow_store, capsys):
    code, out, err = main(capsys, "table", "deltas", "--study", "tiny", "--mlflow-uri", mlflow_store.uri)
    assert code == 0, err
    assert "| A vs B |" in out  # the parent run's scrapl.arms tag says B,A


def test_export_round_trip(mlflow_store, tmp_path, capsys):
    out_csv, curves_csv = tmp_path / "per_seed.csv", tmp_path / "curves.csv"
    code, out, err = main(
        capsys,
        "export",
        "--study",
        "tiny",
        "--mlflow-uri",
        mlflow_store.uri,
        "--out",
        str(out_csv),
        "--curves-out",
        str(curves_csv),
    )
    assert code == 0 and out == "", err
    runs = read_study(mlflow_store.uri, "tiny", curves=True)
    exported = data.load_per_seed_csv(out_csv)
    pd.testing.assert_frame_equal(
        exported.reset_index(drop=True), runs.per_seed.reset_index(drop=True), check_dtype=False
    )
    back = data.load_curves_csv(curves_csv)
    assert len(back) == 18 and back["val_theta_l1"].sum() == pytest.approx(runs.curves["val_theta_l1"].sum())
    code, out, _ = main(capsys, "export", "--study", "tiny", "--mlflow-uri", mlflow_store.uri)
    assert out == out_csv.read_text()


def test_failing_export_leaves_no_file(mlflow_store, tmp_path, capsys, monkeypatch):
    target = tmp_path / "per_seed.csv"
    code, _, err = main(capsys, "export", "--study", "nope", "--mlflow-uri", mlflow_store.uri, "--out", str(target))
    assert code == 1 and "no study 'nope'" in err and not target.exists()

    real = read_study

    def broken_curves(*args, **kwargs):
        runs = real(*args, **kwargs)

        class Half:
            def to_csv(self, path, **_):
                Path(path).write_text("arm,seed,st")
                raise OSError("disk full")

        runs.curves = Half()
        return runs

    monkeypatch.setattr("analysis.mlflow_source.read_study", broken_curves)
    code, _, err = main(
        capsys,
        "export",
        "--study",
        "tiny",
        "--mlflow-uri",
        mlflow_store.uri,
        "--out",
        str(target),
        "--curves-out",
        str(tmp_path / "curves.csv"),
    )
    assert code == 1 and "disk full" in err
    assert os.listdir(tmp_path) == []  # neither file, nor a temporary


def test_plots_via_cli(mlflow_store, tiny_csv, tmp_path, capsys):
    tmp_path = tmp_path / "figures"
    tmp_path.mkdir()
    code, out, err = main(
        capsys,
        "plot",
        "curves",
        "--study",
        "tiny",
        "--mlflow-uri",
        mlflow_store.uri,
        "--arms",
        "A,B",
        "--out",
        str(tmp_path / "curves"),
    )
    assert code == 0, err
    assert out.split() == [str(tmp_path / "curves.png"), str(tmp_path / "curves.pdf")]
    code, out, err = main(
        capsys,
        "plot",
        "paths",
        "--study",
        "tiny",
        "--mlflow-uri",
        mlflow_store.uri,
        "--out",
        str(tmp_path / "paths.pdf"),
    )
    assert code == 0, err
    code, out, err = main(
        capsys,
        "plot",
        "cost",
        "--study",
        "tiny",
        "--mlflow-uri",
        mlflow_store.uri,
        "--arms",
        "A,B",
        "--relative-to",
        "A",
        "--out",
        str(tmp_path / "cost"),
    )
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["cost.pdf", "cost.png", "curves.pdf", "curves.png", "paths.pdf", "paths.png"]
    code, _, err = main(capsys, "plot", "cost", "--csv", str(tiny_csv), "--out", str(tmp_path / "x"))
    assert code == 1 and "no 'steps_per_second' column" in err


def test_unreachable_tracking_server_fails_fast(capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    code, _, err = main(capsys, "table", "ablation", "--study", "x", "--mlflow-uri", "http://127.0.0.1:9")
    assert code == 1 and "cannot read MLflow at http://127.0.0.1:9" in err


def test_report_from_mlflow(mlflow_store, tmp_path, capsys):
    code, out, err = main(
        capsys, "report", "--study", "tiny", "--mlflow-uri", mlflow_store.uri, "--out-dir", str(tmp_path)
    )
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ablation.csv", "ablation.md", "ablation.tex", "deltas.csv", "deltas.md", "deltas.tex"]
    assert out.split() == [
        str(tmp_path / n)
        for n in ["ablation.md", "ablation.tex", "ablation.csv", "deltas.md", "deltas.tex", "deltas.csv"]
    ]
    # default order from the parent run's tag (B, A); the failed run is reported in the caption
    assert "| A vs B |" in (tmp_path / "deltas.md").read_text()
    assert "status FAILED" in (tmp_path / "ablation.md").read_text()


def test_table_deltas_reference_compares_every_arm_with_it(tiny_csv, capsys):
    code, out, _ = main(
        capsys, "table", "deltas", "--csv", str(tiny_csv), "--arms", "A,B", "--reference", "B", "--format", "csv"
    )
    assert code == 0
    row = next(csv.DictReader(io.StringIO(out)))
    assert (row["comparison"], row["column"]) == ("A vs B", "delta_test_theta_l1")
    # A − B, the sign of the default B − A: θ L1 (0.1, 0.2, 0.3) − (0.2, 0.4, 0.5) = −0.1667 (×1000)
    assert float(row["mean"]) == pytest.approx(-1000 / 6)
    code, _, err = main(capsys, "table", "deltas", "--csv", str(tiny_csv), "--arms", "A,B", "--reference", "Z")
    assert code == 1 and "--reference 'Z' is not one of the arms (A, B)" in err

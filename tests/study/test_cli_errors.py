"""Bad input: each error names the option, exits with status 2, schedules nothing and leaves no
study directory behind. Most are caught before Ray starts; the resource checks need the cluster."""

import json
import socket

import pytest

from search_spaces import ablation
from study.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DEAD = "127.0.0.1:DEADPORT"  # replaced by a free port at run time (test ids must not vary: pytest-xdist)

CASES = [
    (["run", "nope"], "argument STUDY: invalid choice: 'nope'"),
    (["run", "ablation", "--bogus"], "unrecognized arguments: --bogus"),
    (["run", "ablation", "--jtfs-seeds", "2"], "unrecognized arguments: --jtfs-seeds"),
    (["run", "ablation", "--preset", "nope"], "--preset: unknown preset 'nope'"),
    (["run", "theta-is", "--presets", "chirplet-lo-lo,nope"], "--presets: unknown preset 'nope'"),
    (["run", "ablation", "--seeds", "1,2,1"], "--seeds: duplicate seed(s) 1"),
    (["run", "ablation", "--seeds", "x"], "--seeds: expected a count N or a comma-separated list"),
    (["run", "ablation", "--gpus-per-trial", "0"], "argument --gpus-per-trial: must be > 0"),
    (["run", "ablation", "--gpus-per-trial", "-1"], "argument --gpus-per-trial: must be > 0"),
    (["run", "ablation", "--gpus-per-trial", "1.5"], "--gpus-per-trial: above 1 must be a whole number"),
    (["run", "ablation", "--cpus-per-trial", "2.5"], "--cpus-per-trial: above 1 must be a whole number"),
    (["run", "ablation", "--memory-per-trial", "lots"], "argument --memory-per-trial: expected a size such as 9G"),
    (["run", "ablation", "--memory-per-trial", "0G"], "argument --memory-per-trial: must be at least 1 byte"),
    (["run", "ablation", "--memory-per-trial", "inf"], "argument --memory-per-trial: expected a size such as 9G"),
    (["run", "ablation", "--memory-per-trial", "9I"], "argument --memory-per-trial: expected a size such as 9G"),
    (["run", "ablation", "--max-failures", "-1"], "argument --max-failures: must be >= 0"),
    (["run", "ablation", "--mlflow-uri", f"http://{DEAD}"], "--mlflow-uri: cannot reach an MLflow server"),
    (
        ["run", "ablation", "--mlflow-uri", "sqlite:///relative.db"],
        "--mlflow-uri: 'sqlite:///relative.db': use an absolute",
    ),
    (["run", "ablation", "--mlflow-uri", "/tmp/mlruns"], "--mlflow-uri: '/tmp/mlruns': file stores are deprecated"),
    (["run", "ablation", "--address", DEAD], "--address: cannot reach a Ray cluster"),
    (
        ["run", "ablation", "--address", "http://127.0.0.1:8265"],
        "--address: http://127.0.0.1:8265 looks like the dashboard",
    ),
    (["run", "ablation", "--set", "train.lrr=1"], "--set: unknown config key 'train.lrr'"),
    (["run", "ablation", "--set", "train.lr"], "argument --set: expected KEY=VALUE"),
    (["run", "ablation", "--set", "train.lr=1e-3", "--set", "train.lr=1e-4"], "--set: train.lr given twice"),
    (["run", "ablation", "--set", "data.batch_size=512"], "--set: invalid config for arm scrapl"),
    (["run", "ablation", "--set", "train.theta_is=true"], "--set: train.theta_is is set by the arms"),
    (["run", "ablation", "--seeds", "2", "--fault", "scrapl/9:nan@3"], "--fault: arm scrapl does not run seed 9"),
    (["run", "ablation", "--fault", "scrapl:nan"], "--fault: expected ARM/SEED:KIND@STEP"),
    (["run", "ablation", "--arms", "scrapl,nope"], "--arms: unknown arm(s) nope"),
    (["run", "ablation", "--from-hpo", "nohpo"], "--from-hpo: no finished HPO study 'nohpo'"),
    (["run", "losses", "--seeds", "2", "--jtfs-seeds", "5"], "--jtfs-seeds: 5 is more than the study's 2 seeds"),
    (["run", "hpo", "--arm", "nope"], "--arm: unknown arm 'nope'"),
    (["run", "ablation", "--name", "bad name"], "--name: a study name must be"),
    (["resume", "nope"], "NAME: no study 'nope'"),
    (["status", "nope"], "NAME: no study 'nope'"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input_names_the_option_and_leaves_nothing(argv, message, tmp_path, capsys):
    import ray

    root = tmp_path / "studies"
    argv = [a.replace("DEADPORT", str(free_port())) for a in argv]
    was_up = ray.is_initialized()
    try:
        # --smoke-test: should a case wrongly pass validation, it must not start a paper-scale study
        extra = ["--smoke-test"] if argv[0] == "run" and len(argv) > 1 and argv[1] != "nope" else []
        code = main([*argv, *extra, "--root", str(root)] if argv[0] != "run" or len(argv) > 1 else argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err, err
    assert not root.exists() or not any(root.iterdir())
    if not was_up:
        assert not ray.is_initialized(), "Ray was started for bad input"


def test_same_name_with_a_different_spec_is_refused(tmp_path, capsys):
    root = tmp_path / "studies"
    (root / "mine").mkdir(parents=True)
    (root / "mine" / "spec.json").write_text(json.dumps(ablation("mine", "smoke-granular", range(3)).to_dict()))
    code = main(["run", "ablation", "--smoke-test", "--seeds", "2", "--name", "mine", "--root", str(root)])
    err = capsys.readouterr().err
    assert code == 2
    assert "--name: study 'mine' already exists" in err and "differs in: seeds" in err
    assert sorted(p.name for p in (root / "mine").iterdir()) == ["spec.json"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--gpus-per-trial", "2"], "--gpus-per-trial: 2 is more than any node of the cluster has (1 GPUs per node)"),
        (["--cpus-per-trial", "8"], "--cpus-per-trial: 8 is more than any node of the cluster has (4 CPUs)"),
        (["--memory-per-trial", "64T"], "--memory-per-trial: 65536.00 GiB is more than any node of the cluster offers"),
    ],
)
def test_resources_beyond_the_cluster_are_refused_before_scheduling(argv, message, ray_cluster, tmp_path, capsys):
    root = tmp_path / "studies"
    code = main(["run", "ablation", "--smoke-test", "--root", str(root), *argv])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not root.exists()


def test_help_everywhere(capsys):
    for argv in (
        ["--help"],
        ["run", "--help"],
        ["run", "ablation", "--help"],
        ["run", "losses", "--help"],
        ["run", "theta-is", "--help"],
        ["run", "hpo", "--help"],
        ["resume", "--help"],
        ["list", "--help"],
        ["status", "--help"],
        ["sync", "--help"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--gpus-per-trial" in out and "--jtfs-seeds" in out and "--num-samples" in out and "Exit status" in out


def test_help_and_usage_errors_load_no_heavy_library():
    """``python -m study --help`` (and argparse's own errors) must answer without importing torch, Ray or
    MLflow: the CLI imports them inside the commands."""
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import sys\nfrom study.cli import main\n"
        "for argv in (['--help'], ['run', 'ablation', '--help'], ['run', 'ablation', '--max-failures', '-1']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print(sorted(m for m in ('torch', 'ray', 'mlflow', 'pandas', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"

"""study/cli_parser.py: the parser alone (the commands' behaviour is tested through ``study.cli.main``)."""

import subprocess
import sys

import pytest

from study import cli
from study.cli_parser import EPILOG, build_parser


def test_parses_a_run_with_its_typed_options():
    args = build_parser().parse_args(["run", "ablation", "--smoke-test", "--seeds", "3", "--set", "train.lr=0.01"])
    assert (args.command, args.study, args.smoke_test, args.seeds) == ("run", "ablation", True, "3")
    assert build_parser().epilog == EPILOG and cli.build_parser is build_parser  # study.cli re-exports it


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "ablation", "--max-trials", "0"], "--max-trials: must be >= 1, got 0"),
        (["run", "ablation", "--cpus-per-trial", "0"], "--cpus-per-trial: must be > 0, got 0"),
    ],
)
def test_option_types_reject_out_of_range_values(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_help_loads_neither_torch_nor_ray_nor_mlflow():
    code = (
        "import sys; from study.cli_parser import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('torch', 'ray', 'mlflow') if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "[]", res.stderr

"""Reading the study catalogue and checking a run config must not load torch (layering, CLI start-up)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_search_spaces_and_run_config_load_without_torch():
    code = (
        "import sys\n"
        "import search_spaces\n"
        "from search_spaces.spec_checks import config_keys\n"
        "from trainables.config import RunConfig\n"
        "assert config_keys()['data.grid_size'] == 32\n"
        "RunConfig().jtfs_settings()\n"
        "print(sorted(m for m in ('torch', 'ray', 'mlflow') if m in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"

"""``trainables.core`` loads its public names on first use: each one resolves to the object of its module,
and the settings load without torch."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import trainables.core as core

REPO = Path(__file__).resolve().parents[3]


def test_every_public_name_resolves_to_its_modules_object():
    assert set(core._WHERE) | {"theta_is"} == set(core.__all__)
    for name in core.__all__:
        module = "trainables.core.theta_is" if name == "theta_is" else core._WHERE[name]
        expected = importlib.import_module(module)
        assert getattr(core, name) is (expected if name == "theta_is" else getattr(expected, name))
    assert set(core.__all__) <= set(dir(core))
    with pytest.raises(AttributeError, match="SCRAPLLos"):
        core.SCRAPLLos  # noqa: B018 - a typo fails as with any module


def test_settings_load_without_torch():
    code = (
        "import sys\n"
        "from trainables.core.settings import JTFSSettings\n"
        "JTFSSettings(8192, 8, 8, 2, 3, 2).filter_bank\n"
        "print('torch' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 0 and res.stdout.strip() == "False", res.stderr

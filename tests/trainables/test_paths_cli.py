"""`python -m trainables.paths`: the path listing users read θ-IS probabilities with."""

import json
import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "trainables.paths", *args], capture_output=True, text=True)


def test_json_listing_of_the_granular_preset():
    out = run("--preset", "granular", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["P"] == 315 and len(doc["paths"]) == 315 and doc["sample_rate"] == 8192
    first, last = doc["paths"][0], doc["paths"][-1]
    assert (first["index"], first["n2"], first["n_fr"], first["spin"]) == (0, 4, 0, 0)
    assert (last["n2"], last["n_fr"], last["spin"]) == (24, 14, -1)
    assert abs(first["rate_hz"] - 716.8) < 0.1 and abs(last["rate_hz"] - 0.495) < 0.01
    assert last["scale_cyc_per_oct"] > 0  # magnitude; spin -1 gives the direction


def test_table_listing_prints_P_and_tr808_count():
    out = run("--preset", "tr808")
    assert out.returncode == 0
    assert out.stdout.strip().endswith("P = 483")
    assert len(out.stdout.strip().splitlines()) == 483 + 3


def test_unknown_preset_is_a_usage_error_listing_choices():
    out = run("--preset", "nope")
    assert out.returncode == 2
    assert "unknown preset 'nope'" in out.stderr and "granular" in out.stderr

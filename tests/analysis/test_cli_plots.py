"""``python -m analysis plot paths`` with --am-range / --fm-range (the AM/FM view of Figure 6)."""

import json

import numpy as np
import pytest

from analysis import cli

# P = 6: spin 0 at 4 Hz; +1/-1 at 4 Hz scale 2 (FM 2 oct/s); +1 at 8 Hz scale 1 (FM 8); -1 at 1 Hz scale 1
# (FM 1); +1 at 2 Hz scale 1 (FM 2). The rates 1, 2, 4, 8 Hz step by one octave: Q2 = 1.
ROWS = [(0, 4.0, 0.0), (1, 4.0, 2.0), (-1, 4.0, 2.0), (1, 8.0, 1.0), (-1, 1.0, 1.0), (1, 2.0, 1.0)]
PI = [0.2, 0.3, 0.2, 0.1, 0.1, 0.1]


@pytest.fixture
def files(tmp_path):
    entries = [
        {"index": i, "n2": i, "n_fr": i, "spin": s, "rate_hz": r, "scale_cyc_per_oct": c}
        for i, (s, r, c) in enumerate(ROWS)
    ]
    (tmp_path / "paths.json").write_text(json.dumps(entries))
    np.save(tmp_path / "pi.npy", np.array(PI))
    return tmp_path / "pi.npy", tmp_path / "paths.json"


def run(capsys, *args):
    code = cli.main(["plot", "paths", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_amfm_view_prints_the_mass(files, tmp_path, capsys):
    pi, paths = files
    out_stem = tmp_path / "fig6"
    code, out, err = run(
        capsys, "--pi", pi, "--paths", paths, "--am-range", "3,5", "--fm-range", "1.5,3", "--out", out_stem
    )
    assert code == 0, err
    lines = out.splitlines()
    # Q2 = 1 read off the rates (1, 2, 4, 8 Hz): widened 1/2 octave -> AM 2.12-7.07, FM 1.06-4.24:
    # paths 1 and 2 (4 Hz, FM 2); path 5 (2 Hz) is out
    assert lines[0] == (
        "π mass inside AM 3–5 Hz × FM 1.5–3 oct/s (widened 0.5 oct): 0.5 vs uniform share 0.3333 (2/6 paths; ratio 1.5)"
    )
    assert lines[1:] == [str(tmp_path / "fig6.png"), str(tmp_path / "fig6.pdf")]
    # --widen-oct 0 and --q2 2 move the count
    code, out, _ = run(
        capsys, "--pi", pi, "--paths", paths, "--am-range", "1.9,3", "--fm-range", "1.5,3", "--out", out_stem
    )
    assert code == 0 and "(3/6 paths" in out  # 2 Hz path 5 (FM 2) joins at 1/2 octave
    code, out, _ = run(
        capsys,
        *("--pi", pi, "--paths", paths, "--am-range", "1.9,3", "--fm-range", "1.5,3", "--widen-oct", "0"),
        *("--out", out_stem),
    )
    assert code == 0 and "(widened 0 oct): 0.1 vs uniform share 0.1667 (1/6 paths; ratio 0.6)" in out


def test_rate_scale_view_stays_the_default(files, tmp_path, capsys):
    pi, paths = files
    code, out, err = run(capsys, "--pi", pi, "--paths", paths, "--out", tmp_path / "grid")
    assert code == 0, err
    assert "π mass" not in out and out.splitlines() == [str(tmp_path / "grid.png"), str(tmp_path / "grid.pdf")]


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--am-range", "2,1", "--fm-range", "1,2"], "argument --am-range: --am-range must satisfy 0 < lo < hi"),
        (["--am-range", "1,2", "--fm-range", "x"], "argument --fm-range: --fm-range expects LO,HI"),
        (["--am-range", "1,2", "--fm-range", "1,2", "--q2", "0"], "argument --q2"),
    ],
)
def test_bad_ranges_exit_2_naming_the_flag(files, tmp_path, capsys, flags, named):
    pi, paths = files
    with pytest.raises(SystemExit) as exc:
        cli.main(["plot", "paths", "--pi", str(pi), "--paths", str(paths), *flags, "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert named in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--am-range", "1,2"], "--am-range and --fm-range go together"),
        (["--q2", "2"], "--q2 and --widen-oct need --am-range and --fm-range"),
        (["--am-range", "1,2", "--fm-range", "1,2", "--widen-oct", "-1"], "widen_oct must be >= 0"),
    ],
)
def test_inconsistent_flags_exit_1(files, tmp_path, capsys, flags, message):
    pi, paths = files
    code, _, err = run(capsys, "--pi", pi, "--paths", paths, *flags, "--out", tmp_path / "x")
    assert code == 1 and message in err
    assert not (tmp_path / "x.png").exists()

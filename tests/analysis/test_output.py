import os

import pytest

from analysis.output import atomic_paths, atomic_write_text


def test_atomic_write_text_writes_and_replaces(tmp_path):
    target = tmp_path / "t.md"
    target.write_text("old")
    atomic_write_text(target, "new ± text\n")
    assert target.read_text(encoding="utf-8") == "new ± text\n"
    assert sorted(os.listdir(tmp_path)) == ["t.md"]
    umask = os.umask(0)
    os.umask(umask)
    # normal permissions (not mkstemp's 0600)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_failure_leaves_no_file_and_no_temporary(tmp_path):
    targets = [tmp_path / "a.csv", tmp_path / "b.csv"]
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_paths(targets) as (a, b):
            a.write_text("complete")
            b.write_text("half a li")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_failure_keeps_previous_content(tmp_path):
    target = tmp_path / "t.csv"
    target.write_text("previous")
    with pytest.raises(RuntimeError):
        with atomic_paths([target]) as (tmp,):
            tmp.write_text("partial")
            raise RuntimeError
    assert target.read_text() == "previous" and os.listdir(tmp_path) == ["t.csv"]


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="directory .*nope does not exist"):
        atomic_write_text(tmp_path / "nope" / "t.csv", "x")

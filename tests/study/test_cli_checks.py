"""``study.cli_checks``: a study's size against ``--max-trials`` and the ``--root`` directory (the CLI's messages:
tests/test_bad_input_corpus.py)."""

import pytest

from search_spaces import ablation, hpo
from study.cli_checks import MAX_TRIALS, check_root, check_size
from study.errors import StudyError


def test_the_trial_cap_counts_every_cell():
    spec = ablation("x", "smoke-granular", tuple(range(500)))  # 4 arms: 2000 trials
    check_size(spec, MAX_TRIALS)
    with pytest.raises(StudyError) as info:
        check_size(ablation("x", "smoke-granular", tuple(range(501))), MAX_TRIALS)
    assert str(info.value).startswith(
        "--seeds: 2004 trials (501 seed(s) × 4 arm(s) × 1 preset(s)) is more than --max-trials 2000"
    )
    check_size(ablation("x", "smoke-granular", tuple(range(501))), 2004)  # the override
    with pytest.raises(StudyError, match="--num-samples: 30 trials is more than --max-trials 20"):
        check_size(hpo("h", "smoke-granular", 0, num_samples=30), 20)


def test_the_root_must_be_a_directory(tmp_path):
    check_root(tmp_path / "new" / "studies", "--root")  # created later
    (tmp_path / "f").write_text("x")
    with pytest.raises(StudyError, match=r"--root: .*/f is not a directory; give a directory"):
        check_root(tmp_path / "f", "--root")
    with pytest.raises(StudyError, match=r"/f/studies is not a directory \(.*/f is not a directory\)"):
        check_root(tmp_path / "f" / "studies", "--root")

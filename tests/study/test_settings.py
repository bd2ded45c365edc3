"""Settings.check: the one validation of how a study runs, for callers of ``study.runner`` that build
``Settings`` themselves (the CLI's options arrive parsed and range-checked by their types)."""

from pathlib import Path

import pytest

from study.errors import StudyError
from study.settings import Settings


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"cpus_per_trial": 0}, "--cpus-per-trial: must be > 0, got 0"),
        ({"cpus_per_trial": "2"}, "--cpus-per-trial: expected a number, got '2'"),
        ({"cpus_per_trial": 2.5}, "--cpus-per-trial: above 1 must be a whole number, got 2.5"),
        ({"gpus_per_trial": 0.0}, "--gpus-per-trial: must be > 0 (omit it to run on CPU), got 0"),
        ({"gpus_per_trial": 1.5}, "--gpus-per-trial: above 1 must be a whole number of GPUs"),
        ({"max_failures": -1}, "--max-failures: must be an integer >= 0, got -1"),
        ({"max_failures": 1.5}, "--max-failures: must be an integer >= 0, got 1.5"),
        ({"max_concurrent": 0}, "--max-concurrent: must be an integer >= 1, got 0"),
        ({"num_cpus": True}, "--num-cpus: must be an integer >= 1, got True"),
        ({"root": Path("/tmp/ray/session_1/runtime_resources/working_dir_files/x")}, "--root: "),
    ],
)
def test_bad_settings_name_the_option(changes, message):
    settings = Settings(**{"root": Path("/tmp/studies"), **changes})
    with pytest.raises(StudyError) as err:
        settings.check()
    assert str(err.value).startswith(message)


def test_good_settings_pass():
    Settings(
        root=Path("/tmp/studies"), cpus_per_trial=0.5, gpus_per_trial=0.25, max_failures=0, max_concurrent=2, num_cpus=4
    ).check()

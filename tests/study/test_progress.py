"""The summary line's counts and ETA (study/progress.py), driven through its Tune hooks with plain
stand-in trials (a trial here needs only an id, a status and a config) and a controlled clock."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from study import progress


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def time(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progress, "time", c)
    return c


def _trial(i: int, status: str) -> SimpleNamespace:
    return SimpleNamespace(trial_id=f"t{i}", status=status, config={"seed": i})


def _summary(total: int) -> progress.SummaryLine:
    return progress.SummaryLine(
        "s", total, label=lambda t: t.trial_id, expected_iterations=lambda cfg: 10, stream=io.StringIO(), live=False
    )


def _eta(line: str) -> str:
    return line.split("ETA ")[1].split(" ")[0]


def test_eta_of_a_fresh_study_is_its_own_rate(clock):
    trials = [_trial(i, "PENDING") for i in range(4)]
    s = _summary(4)
    assert _eta(s.line(trials)) == "—"  # nothing done yet: no rate
    trials[0].status = "RUNNING"
    clock.t += 20
    for it in (1, 2):
        s.on_trial_result(0, trials, trials[0], {"training_iteration": it})
    # 2 of 40 iterations in 20 s -> 38 left at 0.1 it/s
    assert _eta(s.line(trials)) == "06:20"


def test_eta_after_resume_ignores_work_done_before_this_driver(clock):
    """8 of 10 trials finished in an earlier session: this driver's rate is what it ran itself."""
    trials = [_trial(i, "TERMINATED") for i in range(8)] + [_trial(8, "RUNNING"), _trial(9, "PENDING")]
    s = _summary(10)
    assert _eta(s.line(trials)) == "—"
    clock.t += 50
    for it in range(1, 6):
        s.on_trial_result(0, trials, trials[8], {"training_iteration": it})
    # 5 iterations in 50 s; 15 left -> 150 s (counting the 80 old iterations as ours would say 9 s)
    assert _eta(s.line(trials)) == "02:30"


def test_restored_trials_checkpointed_iterations_are_not_this_drivers_work(clock):
    trials = [_trial(0, "RUNNING"), _trial(1, "PENDING")]
    s = _summary(2)
    s.line(trials)
    clock.t += 10
    s.on_trial_result(0, trials, trials[0], {"training_iteration": 6})  # resumed at its checkpoint (5 done)
    s.on_trial_result(0, trials, trials[0], {"training_iteration": 7})
    # ours: 2 iterations in 10 s; 13 left -> 65 s
    assert _eta(s.line(trials)) == "01:05"


def test_counts_and_finished_eta(clock):
    trials = [_trial(0, "TERMINATED"), _trial(1, "ERROR")]
    s = _summary(2)
    line = s.line(trials)
    assert "1/2 done · 0 running · 0 pending · 1 failed" in line
    assert _eta(line) == "00:00"

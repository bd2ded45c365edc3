"""The summary line's counts and ETA (study/progress.py), driven through its Tune hooks with plain
stand-in trials (the summary reads only a trial's id, status and config; a real ``tune`` Trial needs a
running experiment) and a controlled clock."""

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


def _run(s, trials, trial, iterations, restored: bool = False):
    """Start ``trial`` (Tune's start or restore hook) unless it is running, then report ``iterations``."""
    if trial.status != "RUNNING":
        trial.status = "RUNNING"
        (s.on_trial_restore if restored else s.on_trial_start)(0, trials, trial)
    for it in iterations:
        s.on_trial_result(0, trials, trial, {"training_iteration": it})


def test_eta_of_a_fresh_study_is_its_own_rate(clock):
    trials = [_trial(i, "PENDING") for i in range(4)]
    s = _summary(4)
    assert _eta(s.line(trials)) == "—"  # nothing ran yet: no rate
    _run(s, trials, trials[0], ())
    clock.t += 20
    _run(s, trials, trials[0], (1, 2))
    # 2 of 40 iterations in 20 s -> 38 left at 0.1 it/s
    assert _eta(s.line(trials)) == "06:20"


def test_eta_after_resume_ignores_work_done_before_this_driver(clock):
    """8 of 10 trials finished in an earlier session: this driver's rate is what it ran itself."""
    trials = [_trial(i, "TERMINATED") for i in range(8)] + [_trial(8, "PENDING"), _trial(9, "PENDING")]
    s = _summary(10)
    assert _eta(s.line(trials)) == "—"
    _run(s, trials, trials[8], ())
    clock.t += 50
    for it in range(1, 6):
        s.on_trial_result(0, trials, trials[8], {"training_iteration": it})
    # 5 iterations in 50 s; 15 left -> 150 s (counting the 80 old iterations as ours would say 9 s)
    assert _eta(s.line(trials)) == "02:30"


def test_restored_trials_checkpointed_iterations_are_not_this_drivers_work(clock):
    trials = [_trial(0, "PENDING"), _trial(1, "PENDING")]
    s = _summary(2)
    _run(s, trials, trials[0], (), restored=True)  # from its checkpoint after iteration 5
    clock.t += 10
    for it in (6, 7):  # this driver ran 6 and 7
        s.on_trial_result(0, trials, trials[0], {"training_iteration": it})
    # ours: 2 iterations in 10 s; 3 + 10 left -> 65 s; the first line comes after the first result
    assert _eta(s.line(trials)) == "01:05"


@pytest.mark.parametrize("how", ["error", "early stop"])
def test_failed_and_early_stopped_trials_owe_nothing_and_count_only_what_they_ran(clock, how):
    """A trial that fails at iteration 1, or that a scheduler (ASHA) stops after 2, did 1 or 2 iterations
    of work: counting its full length as work done would make the ETA far too short."""
    trials = [_trial(i, "PENDING") for i in range(10)]
    s = _summary(10)
    _run(s, trials, trials[0], ())
    clock.t += 10
    ran = (1,) if how == "error" else (1, 2)
    _run(s, trials, trials[0], ran)
    if how == "error":
        trials[0].status = "ERROR"
        s.on_trial_error(0, trials, trials[0])
    else:
        trials[0].status = "TERMINATED"
        s.on_trial_complete(0, trials, trials[0])
    # 9 trials x 10 iterations left, at len(ran) iterations per 10 s
    assert s.eta_s(trials) == pytest.approx(10 * 90 / len(ran))


def test_counts_and_finished_eta(clock):
    trials = [_trial(0, "TERMINATED"), _trial(1, "ERROR")]
    s = _summary(2)
    line = s.line(trials)
    assert "1/2 done · 0 running · 0 pending · 1 failed" in line
    assert _eta(line) == "00:00"


def _jtfs_beside_mss(clock, arms: tuple[str, ...], total: int):
    """Two slots: a JTFS trial (t0) runs 1 iteration while an MSS one (t1) runs all its 10 and finishes, so
    JTFS costs 100 s and MSS 10 s per iteration. Trials ``t2...`` of ``arms[2:]`` are created, not started."""
    trials = [SimpleNamespace(trial_id=f"t{i}", status="PENDING", config={"arm": arm}) for i, arm in enumerate(arms)]
    s = progress.SummaryLine(
        "s",
        total,
        label=lambda t: t.trial_id,
        expected_iterations=lambda cfg: 10,
        cost_group=lambda cfg: cfg["arm"],
        stream=io.StringIO(),
        live=False,
    )
    _run(s, trials, trials[0], ())
    _run(s, trials, trials[1], ())
    for k in range(1, 11):
        clock.t += 10
        _run(s, trials, trials[1], (k,))
    _run(s, trials, trials[0], (1,))
    trials[1].status = "TERMINATED"
    s.on_trial_complete(0, trials, trials[1])
    return s, trials


def test_eta_prices_each_cost_group_at_its_own_rate(clock):
    """A losses study: a full-JTFS iteration costs 10 MSS ones here. Pricing every iteration at the pooled
    rate would say 100 s x 29 / 11 = 264 s; the per-group rates say 1000 s."""
    s, trials = _jtfs_beside_mss(clock, ("jtfs", "mss", "jtfs", "mss"), total=4)
    # left 9 x 100 + 10 x 100 + 10 x 10 = 2000 trial-s, at 200 trial-s per 100 s = 2 at once
    assert s.eta_s(trials) == pytest.approx(1000)
    pooled = progress.SummaryLine(
        "s", 4, label=lambda t: t.trial_id, expected_iterations=lambda cfg: 10, stream=io.StringIO(), live=False
    )
    pooled.records = s.records
    assert pooled.eta_s(trials) == pytest.approx(100 * 29 / 11)


def test_trials_not_created_yet_cost_what_the_created_ones_cost_on_average(clock):
    """Tune creates a grid study's trials one at a time. Those not created yet are priced at the mean cost of
    the created ones (JTFS 1000, MSS 100 trial-s: 550 each), not at the pooled rate per iteration, which
    leans toward the cheap arm that has run more iterations (182 each)."""
    s, trials = _jtfs_beside_mss(clock, ("jtfs", "mss"), total=4)
    # left: 9 x 100 (t0) + 2 x 550 = 2000 trial-s, at 200 trial-s per 100 s
    assert s.eta_s(trials) == pytest.approx(1000)


def test_a_skipped_trials_one_report_is_not_work(clock):
    """A trial finished before a crash is skipped on resume: it starts, reports once and ends. Its start-up
    is not an iteration of work (it would price the other trials' iterations at 13.3 s instead of 10 s)."""
    trials = [_trial(0, "PENDING"), _trial(1, "PENDING")]
    s = _summary(2)
    _run(s, trials, trials[0], ())
    _run(s, trials, trials[1], ())
    clock.t += 20
    s.on_trial_result(0, trials, trials[0], {"training_iteration": 1, "scrapl_skipped": True})
    trials[0].status = "TERMINATED"
    s.on_trial_complete(0, trials, trials[0])
    _run(s, trials, trials[1], (1, 2))
    # t1: 2 iterations in 20 s, 8 left -> 80 s
    assert s.eta_s(trials) == pytest.approx(80)

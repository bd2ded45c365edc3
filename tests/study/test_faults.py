"""Faults inside trials on the shared runtime: a crash and a worker death are retried from the last
checkpoint (one MLflow run, no duplicated steps, same result as an uninterrupted run); a NaN loss
ends its trial FAILED with the reason and no retry while the other trials finish."""

import pytest

from analysis import schema
from search_spaces import ablation
from study import runner
from trainables.train import train


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_retries_resume_from_checkpoints_and_nan_fails_cleanly(ray_cluster, tmp_path, runs):
    # steps per epoch = 9: validations (and checkpoints) at 9, 18, 20. crash-once fires after the
    # validation at 18 is logged but before its checkpoint: the retry resumes from step 9, re-runs
    # steps 10..18, and must not log step 18 twice.
    spec = ablation(
        "faults",
        "smoke-granular",
        (0, 1),
        arms=["scrapl", "p-adam"],
        overrides={"train.max_steps": 20},
        faults=["scrapl/0:crash-once@18", "scrapl/1:exit-once@9", "p-adam/1:nan@12"],
    )
    lines = []
    outcome = runner.run(spec, runner.Settings(root=tmp_path, max_failures=2, progress_interval=5), say=lines.append)
    text = "\n".join(lines)
    assert outcome.exit_code == 1, text  # the study completed; one trial failed
    assert outcome.counts == {"done": 3, "running": 0, "pending": 0, "failed": 1}, text
    assert "failed: p-adam s1: loss is nan at step 12" in text

    r = runs(outcome.tracking_uri, "faults")
    by_key = r.by_key()  # one run per trial despite three extra attempts
    assert len(by_key) == 4
    crashed, died, nan, clean = (
        by_key[f"smoke-granular/{k}"] for k in ("scrapl/0", "scrapl/1", "p-adam/1", "p-adam/0")
    )
    for run in (crashed, died, clean):
        assert run.info.status == "FINISHED"
        assert r.steps(run) == [9, 18, 20]
        r.assert_no_duplicate_steps(run)
        assert schema.FAILURE_REASON not in run.data.tags
    assert crashed.data.tags["scrapl.attempts"] == "2"
    assert "InjectedCrash: injected crash-once fault at step 18" in crashed.data.tags["scrapl.retried_after"]
    assert died.data.tags["scrapl.attempts"] == "2" and clean.data.tags["scrapl.attempts"] == "1"
    # where each retry started: the checkpoint of step 9; exit-once@9 fires before that checkpoint is saved
    assert crashed.data.tags["scrapl.resumed_from_step"] == "9" and died.data.tags["scrapl.resumed_from_step"] == "0"
    assert "scrapl.resumed_from_step" not in clean.data.tags
    assert int(crashed.data.tags["scrapl.worker_pid"]) > 1

    assert nan.info.status == "FAILED"
    assert nan.data.tags[schema.FAILURE_REASON].startswith("loss is nan at step 12")
    assert nan.data.tags["scrapl.attempts"] == "1"  # deterministic under exact resume: not retried
    assert r.steps(nan) == [9] and schema.TEST_THETA_L1 not in nan.data.metrics
    assert nan.data.params["train.inject_nan_at_step"] == "12"

    # exact resume: the retried runs end where uninterrupted runs end
    for run, cell in ((crashed, spec.cells()[0]), (died, spec.cells()[2])):
        assert cell.arm == "scrapl"
        reference = train(spec.config(cell, {"device": "cpu", "threads": 1}))
        assert run.data.metrics[schema.TEST_THETA_L1] == pytest.approx(
            reference.metrics[schema.TEST_THETA_L1], rel=1e-6
        )
    # the per-seed export leaves the failed run out and says so
    assert any("status FAILED" in ln and "loss is nan" in ln for ln in lines)
    assert (tmp_path / "faults" / "tables" / "per_seed.csv").read_text().count("\n") == 4  # header + 3 runs

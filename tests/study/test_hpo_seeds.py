"""``run hpo --seeds-per-trial K``: each configuration trains on K paired seeds in lockstep and the
trial reports their mean (``study.seed_group``). The lockstep runs are exactly the runs each seed gives
alone (also across a checkpoint), and a smoke HPO study optimises the mean."""

import json
import math

import pytest

from analysis import schema
from search_spaces import studies
from search_spaces.spec import SpecError, StudySpec
from study.cli import main
from study.seed_group import per_seed_key, train_group
from trainables.config import override
from trainables.presets import get_preset
from trainables.train import train

SEEDS = (0, 1)


def _cfg():
    return override(
        get_preset("smoke-granular"),
        **{"train.max_steps": 6, "train.p_adam": True, "train.p_saga": True, "device": "cpu", "threads": 1},
    )


@pytest.mark.timeout(300)
def test_lockstep_seeds_are_the_runs_each_seed_gives_alone_and_resume_exactly():
    cfg = _cfg()
    alone = {s: train(override(cfg, seed=s)) for s in SEEDS}
    reports: list[tuple[int, dict, dict | None]] = []
    group = train_group(cfg, lambda step, m, state: reports.append((step, m, state)), seeds=SEEDS)
    for s in SEEDS:
        for key in (schema.TEST_THETA_L1, schema.VAL_TOTAL_VARIATION, "best_step"):
            assert group.metrics[per_seed_key(key, s)] == alone[s].metrics[key], (s, key)
    mean = sum(alone[s].metrics[schema.TEST_THETA_L1] for s in SEEDS) / len(SEEDS)
    assert group.metrics[schema.TEST_THETA_L1] == pytest.approx(mean, rel=1e-12)
    # one report per validation with the mean curve (and the final one)
    steps = [h["step"] for h in alone[0].history]
    assert [step for step, _, state in reports if state is not None] == steps
    for (_, m, _), h0, h1 in zip(reports, alone[0].history, alone[1].history, strict=False):
        assert m[schema.VAL_THETA_L1] == pytest.approx(
            (h0[schema.VAL_THETA_L1] + h1[schema.VAL_THETA_L1]) / 2, rel=1e-12
        )
    assert [h["step"] for h in group.history] == steps

    # from the first checkpoint, the group ends where the uninterrupted one did
    first = reports[0][2]
    resumed = train_group(cfg, resume_state=first, seeds=SEEDS)
    assert resumed.metrics[schema.TEST_THETA_L1] == group.metrics[schema.TEST_THETA_L1]
    with pytest.raises(ValueError, match=r"not a checkpoint of seeds \[0, 2\]"):
        train_group(cfg, resume_state=first, seeds=(0, 2))


def test_seeds_per_trial_is_part_of_the_spec():
    spec = studies.hpo("h", "smoke-granular", 3, arm="p-adam", num_samples=2, seeds_per_trial=4)
    assert spec.hpo.seeds_per_trial == 4 and "seeds 3-6 per trial (their mean)" in spec.description
    assert StudySpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    old = spec.to_dict()
    del old["hpo"]["seeds_per_trial"]  # a spec.json written before the option: one seed per trial
    assert StudySpec.from_dict(old).hpo.seeds_per_trial == 1
    with pytest.raises(SpecError, match="hpo.seeds_per_trial"):
        studies.hpo("h", "smoke-granular", 0, arm="p-adam", seeds_per_trial=0)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_smoke_hpo_on_two_seeds_per_trial_optimises_their_mean(ray_cluster, tmp_path, runs):
    root = tmp_path / "studies"
    assert (
        main(
            [
                "run",
                "hpo",
                "--smoke-test",
                "--arm",
                "p-adam",
                "--num-samples",
                "2",
                "--seeds-per-trial",
                "2",
                "--name",
                "hpo2",
                "--root",
                str(root),
                "--set",
                "train.max_steps=8",
                "--progress-interval",
                "5",
            ]
        )
        == 0
    )
    sdir = root / "hpo2"
    assert json.loads((sdir / "spec.json").read_text())["hpo"]["seeds_per_trial"] == 2
    trials = runs(f"sqlite:///{sdir / 'mlflow.db'}", "hpo2").trials
    assert len(trials) == 2
    for run in trials:
        m = run.data.metrics
        assert run.data.tags["scrapl.seeds"] == "0,1" and run.info.status == "FINISHED"
        for key in (schema.VAL_THETA_L1, schema.TEST_THETA_L1):
            pair = [m[per_seed_key(key, s)] for s in SEEDS]
            assert all(math.isfinite(v) for v in pair) and pair[0] != pair[1]
            assert m[key] == pytest.approx(sum(pair) / 2, rel=1e-9)
    best = json.loads((sdir / "hpo" / "best.json").read_text())
    assert best["value"] == pytest.approx(min(r.data.metrics[schema.VAL_THETA_L1] for r in trials), rel=1e-9)

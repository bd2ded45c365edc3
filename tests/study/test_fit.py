"""study.fit without running Tune: how many reports a trial makes (the summary's ETA, ASHA's max_t) comes
from the trial's own config through ``trainables.build.steps_per_epoch`` (one-shot presets included),
and an HPO study's ``max_t`` covers the longest point of its space."""

from pathlib import Path

import pytest

from search_spaces import ablation, hpo
from study import param_space
from study.fit import FitContext, expected_reports, grid_plan, hpo_plan
from study.layout import StudyDir
from study.settings import Settings
from trainables.config import override
from trainables.presets import get_preset


@pytest.mark.parametrize(
    "preset, changes, reports",
    [
        ("granular", {}, 200 + 1),  # one validation per epoch, plus the final report
        ("smoke-granular", {"train.max_steps": 20}, 3 + 1),  # 9 steps per epoch: validations at 9, 18, 20
        ("smoke-tr808-micro", {"train.max_steps": 6}, 2 + 1),  # 32 // 8 = 4 steps per epoch: at 4, 6
        ("tr808-meso", {"train.max_steps": 100}, 2 + 1),  # 53 steps per epoch: at 53, 100
    ],
)
def test_expected_reports(preset, changes, reports):
    assert expected_reports(override(get_preset(preset), **changes)) == reports


def context(tmp_path: Path, spec) -> FitContext:
    return FitContext(
        spec,
        StudyDir.of(tmp_path, spec.name),
        Settings(root=tmp_path),
        "sqlite:////unused.db",
        "0",
        "parent",
        {"cpu": 1.0},
        {},
        say=lambda _: None,
    )


def test_grid_plan_knows_each_cells_reports(tmp_path):
    spec = ablation("mixed", "smoke-tr808-micro", (0, 1), arms=["scrapl", "p-adam"], overrides={"train.max_steps": 6})
    plan = grid_plan(context(tmp_path, spec))
    assert plan.total == 4 and plan.tune_config["num_samples"] == 4
    for cell in spec.cells():
        assert plan.expected_reports({param_space.CELL_KEY: cell.key}) == 3
    configs = plan.tune_config["search_alg"].configs  # run-time overrides: a CPU-only trial on its one CPU
    assert all(c["device"] == "cpu" and c["threads"] == 1 for c in configs.values())
    # the ETA's cost groups: one per (preset, arm), whatever the seed
    groups = {cell.key: plan.cost_group(configs[cell.key]) for cell in spec.cells()}
    assert sorted(set(groups.values())) == [("smoke-tr808-micro", "p-adam"), ("smoke-tr808-micro", "scrapl")]


def test_hpo_max_t_is_the_longest_point_of_the_space(tmp_path):
    # smoke-granular: 78 training examples, 4 epochs, stopped at step 20. Batch 4: 19 steps per epoch,
    # validations at 19, 20 (3 reports); batch 8: 9, 18, 20 (4); batch 16: 4, 8, 12, 16 (5).
    spec = hpo("tune", "smoke-granular", arm="p-adam+p-saga", num_samples=2, overrides={"train.max_steps": 20})
    batch = next(p for p in spec.hpo.params if p.key == "data.batch_size")
    assert set(batch.choices) == {4, 8, 16}
    plan = hpo_plan(context(tmp_path, spec))
    assert plan.tune_config["scheduler"]._max_t == 5
    sampled = {p.key: (p.choices[0] if p.kind == "choice" else p.low) for p in spec.hpo.params}
    assert plan.expected_reports({**sampled, "data.batch_size": 8}) == 4
    assert plan.expected_reports({**sampled, "data.batch_size": 4}) == 3
    assert (tmp_path / "tune" / "hpo" / "optuna.db").is_file()  # the persistent Optuna storage
    assert plan.cost_group is None  # one group: the ETA prices every configuration's reports alike

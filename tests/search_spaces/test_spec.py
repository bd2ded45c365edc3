"""Study specs: arms and their order, paired seeds, validation naming the field, JSON round trip."""

import json

import pytest

from search_spaces import (
    ARM_LIBRARY,
    Arm,
    Cell,
    Param,
    SpecError,
    StudySpec,
    ablation,
    hpo,
    losses,
    parse_seeds,
    theta_is,
)
from search_spaces.studies import CHIRPLET_PRESETS, default_hpo_params, smoke_preset
from trainables.config import flatten
from trainables.presets import get_preset

PRESET = "smoke-granular"


def test_ablation_arms_follow_the_paper_rows():
    spec = ablation("a", PRESET, range(3))
    assert spec.arm_names == ("scrapl", "p-adam", "p-adam+p-saga", "p-adam+p-saga+theta-is")
    assert [a.display for a in spec.arms] == ["SCRAPL", "+P-Adam", "+P-Adam +P-SAGA", "+P-Adam +P-SAGA +θ-IS"]
    toggles = [
        (c.train.p_adam, c.train.p_saga, c.train.theta_is)
        for c in (spec.config(Cell(PRESET, a, 0)) for a in spec.arm_names)
    ]
    assert toggles == [(False, False, False), (True, False, False), (True, True, False), (True, True, True)]
    assert spec.theta_is_presets == (PRESET,)


def test_factorial_has_all_eight_combinations_fewest_first():
    spec = ablation("f", PRESET, range(2), factorial=True)
    assert spec.arm_names == (
        "scrapl",
        "p-adam",
        "p-saga",
        "theta-is",
        "p-adam+p-saga",
        "p-adam+theta-is",
        "p-saga+theta-is",
        "p-adam+p-saga+theta-is",
    )
    toggles = {
        (c.train.p_adam, c.train.p_saga, c.train.theta_is)
        for c in (spec.config(Cell(PRESET, a, 0)) for a in spec.arm_names)
    }
    assert len(toggles) == 8


def test_seeds_are_paired_by_construction_and_cells_are_seed_major():
    spec = ablation("a", PRESET, (4, 7, 9))
    cells = spec.cells()
    assert len(cells) == 12 and len({c.key for c in cells}) == 12
    by_arm = {a: [c.seed for c in cells if c.arm == a] for a in spec.arm_names}
    assert all(seeds == [4, 7, 9] for seeds in by_arm.values())
    assert [c.seed for c in cells[:4]] == [4] * 4  # a partly run study holds complete seed pairs
    cfg = spec.config(cells[5])
    assert cfg.seed == cells[5].seed and cfg.preset == PRESET


def test_losses_runs_the_expensive_jtfs_arm_on_a_prefix_of_the_seeds():
    spec = losses("l", PRESET, range(4), jtfs_seeds=2)
    assert spec.arm_names[0] == "jtfs" and "p-loss" in spec.arm_names and len(spec.arms) == 8
    jtfs = [c.seed for c in spec.cells() if c.arm == "jtfs"]
    other = [c.seed for c in spec.cells() if c.arm == "mss-random"]
    assert jtfs == [0, 1] and other == [0, 1, 2, 3]
    assert spec.config(Cell(PRESET, "mss-linear", 0)).train.loss == "mss-linear"
    assert spec.arm("p-adam+p-saga+theta-is").display == "SCRAPL"
    with pytest.raises(SpecError) as err:
        losses("l", PRESET, range(2), jtfs_seeds=3)
    assert err.value.field == "arms[jtfs].n_seeds"


def test_theta_is_study_is_uniform_vs_theta_is_on_four_presets():
    spec = theta_is("t", [smoke_preset(p) for p in CHIRPLET_PRESETS], range(2))
    assert spec.arm_names == ("uniform", "theta-is") and len(spec.presets) == 4 and len(spec.cells()) == 16
    uni, tis = (spec.config(Cell(spec.presets[0], a, 0)).train for a in spec.arm_names)
    assert (uni.p_adam, uni.p_saga, uni.theta_is) == (True, True, False)
    assert (tis.p_adam, tis.p_saga, tis.theta_is) == (True, True, True)


def test_overrides_apply_to_every_trial_and_seed_is_set_last():
    spec = ablation("a", PRESET, range(2), overrides={"train.max_steps": 5, "train.lr": 3e-4})
    for cell in spec.cells():
        cfg = spec.config(cell)
        assert cfg.train.max_steps == 5 and cfg.train.lr == 3e-4 and cfg.seed == cell.seed


@pytest.mark.parametrize(
    "build, field, text",
    [
        (lambda: ablation("a", "no-such-preset"), "presets", "unknown preset 'no-such-preset'"),
        (lambda: ablation("a", PRESET, [1, 2, 1]), "seeds", "duplicate seed(s) 1"),
        (lambda: ablation("a", PRESET, []), "seeds", "at least one seed"),
        (lambda: ablation("a", PRESET, [-1]), "seeds", "must be >= 0"),
        (lambda: ablation("a b", PRESET), "name", "study name"),
        (lambda: ablation("a", PRESET, arms=["scrapl", "nope"]), "arms", "unknown arm(s) nope"),
        (lambda: ablation("a", PRESET, overrides={"train.lrr": 1.0}), "overrides", "unknown config key 'train.lrr'"),
        (lambda: ablation("a", PRESET, overrides={"seed": 3}), "overrides", "set by the study itself"),
        (lambda: ablation("a", PRESET, overrides={"train.p_adam": True}), "overrides", "set by the arms"),
        (lambda: ablation("a", PRESET, overrides={"data.batch_size": 64}), "overrides", "data.batch_size"),
        (lambda: ablation("a", PRESET, overrides={"train.lr": "fast"}), "overrides", "train.lr"),
        (lambda: ablation("a", PRESET, faults=["nope/0:nan@3"]), "faults", "unknown arm 'nope'"),
        (lambda: ablation("a", PRESET, [0], faults=["scrapl/1:nan@3"]), "faults", "does not run seed 1"),
        (lambda: ablation("a", PRESET, faults=["scrapl/0:melt@3"]), "faults", "kind must be one of"),
        (lambda: ablation("a", PRESET, faults=["scrapl-0-nan"]), "faults", "ARM/SEED:KIND@STEP"),
        (lambda: hpo("h", PRESET, arm="nope"), "hpo.arm", "unknown arm 'nope'"),
        (lambda: hpo("h", PRESET, params=[Param("train.lr", "log", 0.0, 1.0)]), "hpo.params[train.lr]", "low > 0"),
        (
            lambda: hpo("h", PRESET, params=[Param("data.batch_size", "choice", choices=(8, 64))]),
            "hpo.params[data.batch_size]",
            "value 64",
        ),
        (
            lambda: hpo("h", PRESET, params=[Param("train.lr", "log", 1e-4, 1e-3)], overrides={"train.lr": 1e-3}),
            "hpo.params",
            "both tuned and fixed",
        ),
    ],
)
def test_invalid_specs_name_the_field(build, field, text):
    with pytest.raises(SpecError) as err:
        build()
    assert err.value.field == field
    assert str(err.value).startswith(field + ":") and text in str(err.value)


def test_round_trip_through_json_and_unknown_keys_are_rejected():
    for spec in (
        ablation("a", PRESET, (0, 3), faults=["p-adam/3:nan@4"], overrides={"train.max_steps": 7}),
        losses("l", PRESET, range(2)),
        hpo("h", PRESET, num_samples=3),
    ):
        doc = json.loads(json.dumps(spec.to_dict()))
        assert StudySpec.from_dict(doc) == spec
    doc = ablation("a", PRESET).to_dict()
    with pytest.raises(SpecError) as err:
        StudySpec.from_dict({**doc, "colour": "red"})
    assert err.value.field == "spec.colour"
    doc["arms"][0]["speed"] = 3
    with pytest.raises(SpecError) as err:
        StudySpec.from_dict(doc)
    assert err.value.field == "arms[0].speed"


def test_arm_and_spec_dataclasses_are_frozen():
    arm = Arm("x", (("train.lr", 1e-3),))
    with pytest.raises(AttributeError):
        arm.name = "y"
    spec = ablation("a", PRESET)
    with pytest.raises(AttributeError):
        spec.seeds = (1,)


def test_hpo_space_defaults_fit_the_preset():
    spec = hpo("h", PRESET, num_samples=5)
    params = {p.key: p for p in spec.hpo.params}
    assert set(params) == {"train.lr", "data.batch_size", "train.weight_decay", "train.beta1", "train.beta2"}
    lr = get_preset(PRESET).train.lr
    assert params["train.lr"].kind == "log" and params["train.lr"].low == pytest.approx(lr / 10)
    assert all(b <= 24 for b in params["data.batch_size"].choices)  # the smoke test split has 24 examples
    assert "train.beta1" not in {p.key for p in default_hpo_params(PRESET, "mss-linear")}
    assert set(ARM_LIBRARY) >= {"scrapl", "jtfs", "uniform", "theta-is", "p-adam+p-saga+theta-is"}


def test_parse_seeds():
    assert parse_seeds("3") == (0, 1, 2)
    assert parse_seeds("5,2,9") == (5, 2, 9)
    assert parse_seeds("7,") == (7,)
    assert parse_seeds(2) == (0, 1)
    with pytest.raises(SpecError, match="seeds"):
        parse_seeds("a,b")
    with pytest.raises(SpecError, match="seeds"):
        parse_seeds("0")


def test_cell_keys_are_stable_and_flat_configs_use_config_names():
    spec = ablation("a", PRESET, range(1))
    cell = spec.cells()[1]
    assert cell.key == f"{PRESET}/p-adam/0"
    flat = flatten(spec.config(cell))
    assert flat["train.p_adam"] is True and flat["seed"] == 0 and flat["preset"] == PRESET

"""HPO: Optuna (TPE) + ASHA inside Tune with persistent RDB storage; the best config seeds an ablation."""
import pytest

from search_spaces import Param, hpo
from study import runner
from study.cli import spec_from_args, build_parser


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_hpo_finds_a_best_config_that_seeds_an_ablation(ray_cluster, tmp_path, runs):
    import optuna

    params = (Param("train.lr", "log", 1e-4, 1e-2), Param("data.batch_size", "choice", choices=(4, 8)))
    spec = hpo("tune-it", "smoke-granular", arm="p-adam+p-saga", num_samples=4, params=params,
               overrides={"train.epochs": 3})
    lines = []
    outcome = runner.run(spec, runner.Settings(root=tmp_path, progress_interval=5), say=lines.append)
    text = "\n".join(lines)
    assert outcome.exit_code == 0, text
    best = outcome.best
    assert best is not None and set(best["params"]) == {"train.lr", "data.batch_size"}
    assert 1e-4 <= best["params"]["train.lr"] <= 1e-2 and best["params"]["data.batch_size"] in (4, 8)
    assert (tmp_path / "tune-it" / "hpo" / "best.json").is_file()

    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'tune-it' / 'hpo' / 'optuna.db'}")
    study = optuna.load_study(study_name="tune-it", storage=storage)
    assert len(study.trials) == 4  # persistent: the Optuna study outlives the driver

    r = runs(outcome.tracking_uri, "tune-it")
    assert len(r.by_key()) == 4
    for run in r.trials:  # every trial ends FINISHED; ASHA-stopped ones are tagged, not FAILED
        assert run.info.status == "FINISHED"
        r.assert_no_duplicate_steps(run)
        assert run.data.params["train.p_adam"] == "True"
        lr = float(run.data.params["train.lr"])
        assert 1e-4 <= lr <= 1e-2
        if run.data.tags.get("scrapl.early_stopped") != "true":
            assert "test_theta_l1" in run.data.metrics

    args = build_parser().parse_args(["run", "ablation", "--smoke-test", "--seeds", "2", "--from-hpo", "tune-it",
                                      "--set", "train.max_steps=4"])
    seeded = spec_from_args(args, tmp_path)
    overrides = dict(seeded.overrides)
    assert overrides["train.lr"] == best["params"]["train.lr"] and overrides["train.max_steps"] == 4
    assert all(seeded.config(c).data.batch_size == best["params"]["data.batch_size"] for c in seeded.cells())

"""Fractional GPU packing on Ray's fake GPU: four 0.25-GPU trials run at once on one device; memory
per trial: trials that would not fit a node's memory together run one after another."""

import json

import pytest

from search_spaces import ablation
from study import runner
from study.cli_parser import memory_size
from study.errors import StudyError


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_four_quarter_gpu_trials_share_the_fake_gpu(ray_cluster, tmp_path, runs, max_overlap):
    assert ray_cluster.cluster_resources().get("GPU") == 1
    spec = ablation(
        "packing",
        "smoke-granular",
        (0,),
        factorial=True,
        arms=["scrapl", "p-adam", "p-saga", "p-adam+p-saga"],
        overrides={"train.max_steps": 18},
    )
    lines = []
    outcome = runner.run(
        spec, runner.Settings(root=tmp_path, gpus_per_trial=0.25, progress_interval=5), say=lines.append
    )
    assert outcome.exit_code == 0, "\n".join(lines)
    assert any("per trial 1 CPU, 0.25 GPU" in ln for ln in lines)
    assert outcome.max_running == 4  # Ray scheduled all four at once: 4 × 0.25 = the one GPU
    intervals = [(rec.starts[0], rec.end) for rec in outcome.records.values()]
    assert max_overlap(intervals) == 4  # and they were running at the same time
    r = runs(outcome.tracking_uri, "packing")
    for run in r.trials:
        assert run.data.tags["scrapl.cuda_visible_devices"] == "0"  # the same device for all four
        assert run.data.params["device"] == "auto"  # a GPU trial may use CUDA (here: none, so CPU)
        assert run.info.status == "FINISHED"


@pytest.mark.parametrize(
    "text, size", [("9G", 9 * 2**30), ("512M", 512 * 2**20), ("1.5GiB", 3 * 2**29), ("2048", 2048), ("4k", 4096)]
)
def test_memory_sizes_parse_in_binary_units(text, size):
    assert memory_size(text) == size


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_memory_per_trial_runs_one_trial_at_a_time_when_two_do_not_fit(ray_cluster, tmp_path, max_overlap):
    """4 CPUs would run both trials at once; each reserving 60 % of the node's Ray memory, they run one
    after the other, and a resumed study keeps the reservation (settings.json)."""
    node_memory = ray_cluster.cluster_resources()["memory"]
    spec = ablation("memory", "smoke-granular", (0,), arms=["scrapl", "p-adam"], overrides={"train.max_steps": 12})
    lines: list[str] = []
    settings = runner.Settings(root=tmp_path, memory_per_trial=int(0.6 * node_memory), progress_interval=5)
    outcome = runner.run(spec, settings, say=lines.append)
    assert outcome.exit_code == 0, "\n".join(lines)
    assert any("per trial 1 CPU, " in ln and "GiB memory" in ln for ln in lines), lines
    intervals = [(rec.starts[0], rec.end) for rec in outcome.records.values()]
    assert len(intervals) == 2 and max_overlap(intervals) == 1 and outcome.max_running == 1
    stored = json.loads((tmp_path / "memory" / "settings.json").read_text())
    assert stored["memory_per_trial"] == int(0.6 * node_memory)
    assert stored["resources"]["memory"] == int(0.6 * node_memory)
    # the reservation is fixed with the study (Tune restores trials with their resources): another is refused
    other = runner.Settings(root=tmp_path, memory_per_trial=2**30, progress_interval=5)
    with pytest.raises(StudyError, match=r"--memory-per-trial.*reserves .* GiB per trial, fixed when it was created"):
        runner.run(spec, other, say=lines.append)

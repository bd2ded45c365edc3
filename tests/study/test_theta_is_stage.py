"""θ-IS stage: chunks cover every (path, θ-dimension) once; π from Ray tasks equals the serial π."""

import pytest
import torch

from study.theta_is_stage import compute_pi, plan_chunks, warmup_config
from trainables import warmup
from trainables.config import override
from trainables.presets import get_preset


@pytest.mark.parametrize("n_paths, n_theta, n_tasks", [(28, 2, 2), (28, 2, 5), (3, 2, 8), (5, 1, 9), (315, 14, 64)])
def test_chunks_are_disjoint_and_cover_everything(n_paths, n_theta, n_tasks):
    chunks = plan_chunks(n_paths, n_theta, n_tasks)
    pairs = [(p, u) for paths, dims in chunks for p in paths for u in (dims if dims is not None else range(n_theta))]
    assert sorted(pairs) == [(p, u) for p in range(n_paths) for u in range(n_theta)]
    assert len(chunks) <= max(n_tasks, 1) and all(paths for paths, _ in chunks)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_pi_from_ray_tasks_equals_the_serial_pi(ray_cluster):
    cfg = override(
        get_preset("smoke-chirplet-lo-lo"), **{"train.theta_is": True, "train.p_adam": True, "train.p_saga": True}
    )
    parallel, stats = compute_pi(cfg, n_tasks=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tasks run single-threaded
    try:
        serial = warmup.compute_probs(cfg)
    finally:
        torch.set_num_threads(threads)
    assert stats["n_tasks"] == 2 and stats["n_paths"] == 28
    torch.testing.assert_close(parallel, serial, rtol=1e-10, atol=0)
    assert parallel.sum().item() == pytest.approx(1.0)


def test_the_warm_up_reads_the_studys_decoded_one_shots(tmp_path):
    """On a one-shot folder the θ-IS stage's config points at the study's data cache (as the trials do);
    not on the θ grid, and not over a data.cache_dir the user set."""
    from search_spaces import studies

    folder = {"data.source": "oneshot-folder", "data.oneshot_root": str(tmp_path)}
    spec = studies.theta_is("t", presets=("smoke-tr808-micro",), seeds=(0,), overrides=folder)
    assert warmup_config(spec, "smoke-tr808-micro", "/s/data").data.cache_dir == "/s/data"
    assert warmup_config(spec, "smoke-tr808-micro").data.cache_dir is None
    own = studies.theta_is(
        "t", presets=("smoke-tr808-micro",), seeds=(0,), overrides={**folder, "data.cache_dir": "/mine"}
    )
    assert warmup_config(own, "smoke-tr808-micro", "/s/data").data.cache_dir == "/mine"
    grid = studies.theta_is("t", presets=("smoke-chirplet-lo-lo",), seeds=(0,))
    assert warmup_config(grid, "smoke-chirplet-lo-lo", "/s/data").data.cache_dir is None

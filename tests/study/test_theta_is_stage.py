"""θ-IS stage: chunks cover every (path, θ-dimension) once; π from Ray tasks equals the serial π, also
when an interrupted stage resumes from its stored blocks."""

import pytest
import torch

from study.theta_is_blocks import BlockStore
from study.theta_is_stage import block_identity, compute_pi, plan_chunks, warmup_config
from trainables import warmup
from trainables.config import override, to_dict
from trainables.presets import get_preset


@pytest.mark.parametrize("n_paths, n_theta, n_tasks", [(28, 2, 2), (28, 2, 5), (3, 2, 8), (5, 1, 9), (315, 14, 64)])
def test_chunks_are_disjoint_and_cover_everything(n_paths, n_theta, n_tasks):
    chunks = plan_chunks(n_paths, n_theta, n_tasks)
    pairs = [(p, u) for paths, dims in chunks for p in paths for u in (dims if dims is not None else range(n_theta))]
    assert sorted(pairs) == [(p, u) for p in range(n_paths) for u in range(n_theta)]
    assert len(chunks) <= max(n_tasks, 1) and all(paths for paths, _ in chunks)


@pytest.mark.parametrize("n_paths, n_theta, n_tasks, waves", [(28, 2, 2, 8), (49, 2, 1, 8), (3, 2, 8, 8), (5, 1, 9, 2)])
def test_chunks_skip_the_pairs_already_done(n_paths, n_theta, n_tasks, waves):
    """Whole paths done, and one path with only one dimension done: the plan covers exactly the rest,
    in at most n_tasks × waves chunks of whole paths (plus one chunk per left-over dimension)."""
    done = {(p, u) for p in range(0, n_paths, 3) for u in range(n_theta)}
    if n_theta > 1 and n_paths > 1:
        done.add((1, 0))
    chunks = plan_chunks(n_paths, n_theta, n_tasks, done=done, waves=waves)
    pairs = [(p, u) for paths, dims in chunks for p in paths for u in (dims if dims is not None else range(n_theta))]
    assert sorted(pairs) == sorted({(p, u) for p in range(n_paths) for u in range(n_theta)} - done)
    assert len([c for c in chunks if c[1] is None]) <= n_tasks * waves
    if n_tasks * waves <= n_paths:
        assert len(chunks) > n_tasks  # finer than one chunk per worker, so progress is kept as it goes


def test_paths_with_the_same_dimensions_left_are_chunked_together():
    """Dimension 0 of paths 0..29 is done: those 30 paths share one task list (dims [1]) in at most
    n_tasks × waves chunks, not one task each."""
    done = {(p, 0) for p in range(30)}
    chunks = plan_chunks(49, 2, 1, done=done, waves=4)
    partial = [c for c in chunks if c[1] == [1]]
    assert len(partial) == 4 and sorted(p for c in partial for p in c[0]) == list(range(30))
    assert sorted(p for c in chunks if c[1] is None for p in c[0]) == list(range(30, 49))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_pi_from_ray_tasks_equals_the_serial_pi(ray_cluster):
    cfg = override(
        get_preset("smoke-chirplet-lo-lo"), **{"train.theta_is": True, "train.p_adam": True, "train.p_saga": True}
    )
    parallel, C, stats = compute_pi(cfg, n_tasks=2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tasks run single-threaded
    try:
        serial = warmup.compute_probs(cfg)
    finally:
        torch.set_num_threads(threads)
    assert stats["n_tasks"] == 2 and stats["n_paths"] == 28
    torch.testing.assert_close(parallel, serial, rtol=1e-10, atol=0)
    assert parallel.sum().item() == pytest.approx(1.0) and C.shape == (28, 2)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_an_interrupted_stage_resumes_from_its_stored_blocks(ray_cluster, tmp_path):
    """Ten paths' blocks are on disk from a stage that stopped: the resumed stage computes only the other
    18 paths, stores each chunk as it returns, and its π equals the uninterrupted stage's."""
    cfg = override(get_preset("smoke-chirplet-lo-lo"), **{"train.theta_is": True})
    store = BlockStore(tmp_path / "blocks", to_dict(cfg))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        store.save(range(10), [0, 1], warmup.curvature_chunk(cfg, range(10)).numpy(), 1.0)
        serial = warmup.compute_probs(cfg)
    finally:
        torch.set_num_threads(threads)
    lines: list[str] = []
    pi, _, stats = compute_pi(cfg, n_tasks=2, store=store, say=lines.append)
    assert stats["n_pairs_reused"] == 20, lines
    assert any("20 of 56 (path, θ-dimension) pairs are stored" in line for line in lines), lines
    assert sum(len(b.paths) * len(b.dims) for b in store.load()[0]) == 56  # every chunk was stored
    torch.testing.assert_close(pi, serial, rtol=1e-10, atol=0)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_memory_per_task_runs_the_stage_one_task_at_a_time(ray_cluster, max_overlap):
    """Two tasks on a 4-CPU cluster run at once; each reserving 60 % of the node's Ray memory, one at a time."""
    cfg = override(get_preset("smoke-chirplet-lo-lo"), **{"train.theta_is": True})
    _, _, free = compute_pi(cfg, n_tasks=2)
    node_memory = ray_cluster.cluster_resources()["memory"]
    _, _, reserved = compute_pi(cfg, n_tasks=2, memory=int(0.6 * node_memory))
    assert len(free["task_intervals"]) == len(reserved["task_intervals"]) == 2
    assert max_overlap(free["task_intervals"]) == 2 and max_overlap(reserved["task_intervals"]) == 1


def test_the_blocks_identity_ignores_where_the_data_cache_lives():
    cfg = override(get_preset("smoke-chirplet-lo-lo"), **{"train.theta_is": True})
    a = block_identity(override(cfg, **{"data.cache_dir": "/studies/a/data"}))
    b = block_identity(override(cfg, **{"data.cache_dir": "/moved/a/data"}))
    assert a == b and a["theta_is_version"] >= 1
    assert block_identity(override(cfg, **{"train.theta_is_iters": 5})) != a


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

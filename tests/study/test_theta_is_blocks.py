"""Stored θ-IS blocks: a round trip, another config's blocks set aside, a write cut short never blocks a resume."""

import numpy as np

from study.theta_is_blocks import BlockStore


def test_blocks_round_trip_and_another_configs_blocks_are_set_aside(tmp_path):
    store = BlockStore(tmp_path / "blocks", {"seed": 0})
    C = np.arange(6.0).reshape(3, 2)
    store.save([4, 1, 7], [0, 1], C, 2.5)
    store.save([4], [0], np.zeros((1, 1)), 1.0)  # overlaps the first block: skipped on load
    (blocks, note) = store.load()
    assert note is None and len(blocks) == 1
    assert blocks[0].paths == (4, 1, 7) and blocks[0].dims == (0, 1) and blocks[0].task_s == 2.5
    np.testing.assert_array_equal(blocks[0].C, C)
    other = BlockStore(tmp_path / "blocks", {"seed": 1})
    blocks, note = other.load()
    assert blocks == [] and note is not None and "another warm-up config" in note
    assert not (tmp_path / "blocks").exists() and list(tmp_path.glob("blocks.stale-*"))


def test_a_write_cut_short_is_deleted_and_a_broken_block_recomputed(tmp_path):
    """A kill during ``np.savez`` leaves a half-written dot-file; a damaged block does not load: neither stops
    the next load, which keeps the whole blocks only."""
    store = BlockStore(tmp_path / "blocks", {"seed": 0})
    store.save([0, 1], [0], np.ones((2, 1)), 1.0)
    store.save([2], [0], np.ones((1, 1)), 1.0)
    whole = sorted(f for f in (tmp_path / "blocks").glob("*.npz"))
    torn = tmp_path / "blocks" / ".0123456789abcdef.tmp.npz"
    torn.write_bytes(whole[0].read_bytes()[:40])
    whole[1].write_bytes(whole[1].read_bytes()[:40])  # a block damaged on disk
    blocks, note = store.load()
    assert note is None and len(blocks) == 1 and not torn.exists()


def test_status_shows_how_far_an_interrupted_stage_got(tmp_path):
    """``study status`` of a study stopped inside its θ-IS stage: the pairs the blocks hold, of all."""
    import json

    from search_spaces import studies
    from study.status import format_status, study_status
    from study.theta_is_blocks import BLOCKS_DIR

    spec = studies.theta_is("stopped", presets=("smoke-chirplet-lo-lo",), seeds=(0,))
    (tmp_path / "stopped").mkdir()
    (tmp_path / "stopped" / "spec.json").write_text(json.dumps(spec.to_dict()))
    store = BlockStore(tmp_path / "stopped" / "theta_is" / "smoke-chirplet-lo-lo" / BLOCKS_DIR, {"seed": 0}, 56)
    store.save(range(7), [0, 1], np.ones((7, 2)), 1.0)
    status = study_status(tmp_path, "stopped")
    assert status["theta_is_stage"] == {"smoke-chirplet-lo-lo": {"pairs_stored": 14, "pairs_total": 56}}
    assert "θ-IS π smoke-chirplet-lo-lo: not ready; 14/56 (25 %) (path, θ-dimension) pairs" in format_status(status)
    assert BlockStore.progress(tmp_path / "nowhere") is None


def test_a_foreign_file_among_the_blocks_is_skipped_by_load_and_progress(tmp_path):
    """An array where a number belongs (``task_s``) or an ``.npy`` named ``.npz``: neither is a block, and
    neither stops ``load`` or ``study status``'s ``progress``."""
    folder = tmp_path / "blocks"
    store = BlockStore(folder, {"seed": 0}, 4)
    store.save([0, 1], [0], np.ones((2, 1)), 1.0)
    np.savez(folder / "array-task-s.npz", paths=np.array([2]), dims=np.array([0]), C=np.ones((1, 1)), task_s=[1, 2])
    np.save(folder / "plain.npy", np.ones(3))
    (folder / "plain.npy").rename(folder / "plain.npz")
    blocks, note = store.load()
    assert note is None and [b.paths for b in blocks] == [(0, 1)]
    assert BlockStore.progress(folder) == (2, 4)

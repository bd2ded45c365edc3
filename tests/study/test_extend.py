"""``python -m study extend``: a finished smoke ablation grows by a seed (only the new trials run, the
old runs stay as they were), the parent run records the extension, the tables are exported again; an
extension whose driver is killed is finished by ``study resume``; refusals write nothing."""

import json
import time

import pytest

from analysis import schema
from study import runner
from study.cli import main

ARGS = ["--set", "train.max_steps=10", "--progress-interval", "5"]


def _snapshot(by_key: dict) -> dict:
    return {
        k: (
            r.info.run_id,
            r.info.status,
            r.info.end_time,
            r.data.tags.get("scrapl.attempts"),
            r.data.metrics.get(schema.TEST_THETA_L1),
        )
        for k, r in by_key.items()
    }


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_extend_a_finished_smoke_ablation_runs_only_the_new_trials(ray_cluster, tmp_path, runs, capsys):
    root = tmp_path / "studies"
    name = "grow"
    assert main(["run", "ablation", "--smoke-test", "--seeds", "2", "--name", name, "--root", str(root), *ARGS]) == 0
    sdir = root / name
    uri = f"sqlite:///{sdir / 'mlflow.db'}"
    before = runs(uri, name).by_key()
    assert len(before) == 8
    old = _snapshot(before)
    capsys.readouterr()

    assert main(["extend", name, "--seeds", "3", "--root", str(root), "--progress-interval", "5"]) == 0
    out = capsys.readouterr().out
    assert "extend 1: seeds 2 added (3 seeds now); 4 new trial(s)" in out, out
    assert "running 4 trial(s)" in out and "running 8 trial(s)" not in out, out
    r = runs(uri, name)
    after = r.by_key()  # one run per trial
    assert len(after) == 12
    assert {k: v for k, v in _snapshot(after).items() if k in old} == old  # the 8 old runs untouched
    new = {k: run for k, run in after.items() if k not in old}
    assert sorted(new) == sorted(
        f"smoke-granular/{a}/2" for a in ("scrapl", "p-adam", "p-adam+p-saga", "p-adam+p-saga+theta-is")
    )
    for run in new.values():
        assert run.info.status == "FINISHED" and run.data.tags["scrapl.attempts"] == "1"
        assert run.data.tags[schema.PARENT_RUN_ID] == r.parents[0].info.run_id

    # the records: spec, extensions.json, a Tune experiment for the extension, the parent run's history
    spec = json.loads((sdir / "spec.json").read_text())
    assert spec["seeds"] == [0, 1, 2]
    (entry,) = json.loads((sdir / "extensions.json").read_text())["history"]
    assert (entry["stage"], entry["kind"], entry["seeds_added"], entry["tune"]) == (1, "extend", [2], "extend-1")
    assert entry["when"].endswith("Z") and entry["git_commit"]
    assert (sdir / "ray" / "extend-1").is_dir() and (sdir / "ray" / "trials").is_dir()
    (parent,) = r.parents
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["scrapl.seeds"] == "0,1,2"
    assert json.loads(parent.data.tags["scrapl.seed_history"])[0]["seeds_added"] == [2]
    assert parent.data.params["seeds"] == "0,1"  # params are immutable: the seeds it started with
    assert "extensions.json" in {a.path for a in r.client.list_artifacts(parent.info.run_id)}
    assert "tables/ablation.md" in {a.path for a in r.client.list_artifacts(parent.info.run_id, "tables")}
    # the tables re-exported over the 3 seeds
    per_seed = (sdir / "tables" / "per_seed.csv").read_text().strip().splitlines()
    assert len(per_seed) == 1 + 12
    assert "n = 3" in (sdir / "tables" / "ablation.md").read_text()

    # the same seeds again: a no-op, refused, nothing written
    files = {p: p.stat().st_mtime_ns for p in sdir.rglob("*") if p.is_file()}
    assert main(["extend", name, "--seeds", "0,2", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "--seeds: nothing to add: seed(s) 0, 2 are already in study grow (its seeds: 0..2)" in err
    assert {p: p.stat().st_mtime_ns for p in sdir.rglob("*") if p.is_file()} == files

    # status shows the history
    assert main(["status", name, "--root", str(root)]) == 0
    status = capsys.readouterr().out
    assert "finished 12" in status and "extend 1: seeds 2" in status, status


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_an_extension_killed_mid_way_is_finished_by_resume(ray_cluster, tmp_path, child_session, runs):
    root = tmp_path / "studies"
    name = "grow-crash"
    sdir = root / name
    uri = f"sqlite:///{sdir / 'mlflow.db'}"
    assert (
        main(
            [
                "run",
                "ablation",
                "--smoke-test",
                "--seeds",
                "2",
                "--arms",
                "scrapl,p-adam",
                "--name",
                name,
                "--root",
                str(root),
                "--no-export",
                *ARGS,
            ]
        )
        == 0
    )
    old = _snapshot(runs(uri, name).by_key())
    assert len(old) == 4
    child = child_session(
        "-m",
        "study",
        "extend",
        name,
        "--seeds",
        "4",
        "--root",
        str(root),
        "--max-concurrent",
        "1",
        "--progress-interval",
        "5",
    )
    deadline = time.time() + 400
    while time.time() < deadline and child.proc.poll() is None:
        time.sleep(0.5)
        try:
            done = {k for k, v in runs(uri, name).by_key().items() if k not in old and v.info.status == "FINISHED"}
        except Exception:  # noqa: BLE001 - the child may be writing the store right now
            continue
        if done:
            break
    assert child.proc.poll() is None, "the extension ended before the crash:\n" + child.output()
    child.kill_driver()
    child.stop()
    assert json.loads((sdir / "spec.json").read_text())["seeds"] == [0, 1, 2, 3]

    lines: list[str] = []
    outcome = runner.resume(name, runner.Settings(root=root, progress_interval=5, export=False), say=lines.append)
    assert outcome.exit_code == 0, "\n".join(lines)
    after = runs(uri, name).by_key()
    assert len(after) == 8 and all(r.info.status == "FINISHED" for r in after.values())
    assert {k: v for k, v in _snapshot(after).items() if k in old} == old
    assert not any("running 4 trial(s)" in ln for ln in lines[:1])
    for run in after.values():
        runs(uri, name).assert_no_duplicate_steps(run)

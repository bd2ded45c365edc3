"""``study list`` and ``study status``: what the study directory and its MLflow runs say.

Read-only: nothing here starts Ray or writes to MLflow.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ray import tune

from analysis import schema
from study import stages, tracking, trial_log, waves
from study.runner import load_study
from study.theta_is_blocks import BLOCKS_DIR, BlockStore

__all__ = ["list_studies", "format_list", "study_status", "format_status"]


def _trial_runs(uri: str, experiment_id: str | None) -> tuple[list, str | None]:
    if not experiment_id:
        return [], "no MLflow experiment recorded (the study never started)"
    try:
        return tracking.find_trial_runs(uri, experiment_id), None
    except Exception as err:  # noqa: BLE001 - show what is local
        return [], f"cannot read MLflow at {uri} ({type(err).__name__}: {str(err)[:200]})"


def list_studies(root: Path) -> list[dict[str, Any]]:
    rows = []
    for spec_file in sorted(Path(root).glob("*/spec.json")) if Path(root).is_dir() else []:
        name = spec_file.parent.name
        try:
            sdir, spec, stored = load_study(root, name)
        except Exception as err:  # noqa: BLE001 - list the others
            rows.append({"name": name, "error": str(err)})
            continue
        uri = stored.get("tracking_uri") or sdir.mlflow_uri
        runs, problem = _trial_runs(uri, stored.get("experiment_id"))
        by_status: dict[str, int] = {}
        for r in runs:
            by_status[r.info.status] = by_status.get(r.info.status, 0) + 1
        total = spec.hpo.num_samples if spec.hpo else len(spec.cells())
        rows.append(
            {
                "name": name,
                "kind": spec.kind,
                "presets": ",".join(spec.presets),
                "arms": len(spec.arms),
                "seeds": len(spec.seeds),
                "trials": total,
                "finished": by_status.get("FINISHED", 0),
                "failed": by_status.get("FAILED", 0),
                "running": by_status.get("RUNNING", 0) + by_status.get("KILLED", 0),
                "problem": problem,
            }
        )
    return rows


def format_list(rows: list[dict[str, Any]]) -> str:
    head = f"{'name':<34} {'kind':<9} {'presets':<28} {'arms':>4} {'seeds':>5} {'trials':>6} {'done':>5} {'failed':>6}"
    lines = [head, "-" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['name']:<34} error: {r['error']}")
            continue
        lines.append(
            f"{r['name']:<34} {r['kind']:<9} {r['presets'][:28]:<28} {r['arms']:>4} {r['seeds']:>5} "
            f"{r['trials']:>6} {r['finished']:>5} {r['failed']:>6}" + (f"  ({r['problem']})" if r["problem"] else "")
        )
    return "\n".join(lines)


def study_status(root: Path, name: str) -> dict[str, Any]:
    sdir, spec, stored = load_study(root, name)
    uri = stored.get("tracking_uri") or sdir.mlflow_uri
    runs, problem = _trial_runs(uri, stored.get("experiment_id"))
    by_key = {r.data.tags.get(schema.TRIAL_ID): r for r in runs}
    trials = []
    keys = [c.key for c in spec.cells()] if spec.hpo is None else sorted(by_key)
    for key in keys:
        r = by_key.get(key)
        if r is None:
            trials.append({"trial": key, "status": "NOT STARTED"})
            continue
        m = r.data.metrics
        trials.append(
            {
                "trial": key,
                "status": r.info.status,
                "run_id": r.info.run_id,
                "attempts": int(r.data.tags.get(tracking.ATTEMPTS, "0") or 0),
                "test_theta_l1": m.get(schema.TEST_THETA_L1),
                "val_theta_l1": m.get(schema.VAL_THETA_L1),
                "reason": r.data.tags.get(schema.FAILURE_REASON) or None,
            }
        )
    counts: dict[str, int] = {}
    for t in trials:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    return {
        "name": name,
        "kind": spec.kind,
        "directory": str(sdir.path),
        "tracking_uri": uri,
        "experiment_id": stored.get("experiment_id"),
        "parent_run_id": stored.get("parent_run_id"),
        "presets": list(spec.presets),
        "arms": list(spec.arm_names),
        "seeds": list(spec.seeds),
        "counts": counts,
        "trials": trials,
        "problem": problem,
        "restorable": bool(sdir.tune_path.exists() and tune.Tuner.can_restore(str(sdir.tune_path))),
        "spooled": [p.name for p in trial_log.spooled_trials(sdir.spool)],
        "study_run_spooled": tracking.pending_study_finish(sdir.spool) is not None,
        "theta_is": {
            p: str(sdir.theta_is_dir(p) / schema.PI_NPY)
            for p in spec.theta_is_presets
            if (sdir.theta_is_dir(p) / schema.PI_NPY).is_file()
        },
        "theta_is_stage": {
            p: {"pairs_stored": got[0], "pairs_total": got[1]}
            for p in spec.theta_is_presets
            if not (sdir.theta_is_dir(p) / schema.PI_NPY).is_file()
            and (got := BlockStore.progress(sdir.theta_is_dir(p) / BLOCKS_DIR)) is not None
        },
        "tables": sorted(str(p) for p in sdir.tables.glob("**/*.md")) if sdir.tables.is_dir() else [],
        "extensions": stages.history(sdir),
        "adaptive": _adaptive(sdir),
    }


def _adaptive(sdir) -> dict[str, Any] | None:
    """The adaptive design and the latest look's decisions (``study.waves``), or None."""
    doc = waves.read_doc(sdir)
    if doc is None:
        return None
    last = doc["verdicts"][-1] if doc["verdicts"] else None
    out: dict[str, Any] = {"design": doc["design"], "looks": [v["n_seeds"] for v in doc["verdicts"]]}
    if last is not None:
        out.update(
            n_seeds=last["n_seeds"],
            stop=last["stop"],
            reason=last["reason"],
            comparisons=[
                {
                    **label,
                    **{k: c[k] for k in ("estimate", "ci_low", "ci_high", "z", "boundary", "n_pairs", "decision")},
                }
                for label, c in zip(last["labels"], last["comparisons"], strict=True)
            ],
        )
    return out


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) and math.isfinite(v) else ("" if v is None else str(v))


def _format_adaptive(a: dict[str, Any] | None) -> list[str]:
    if a is None:
        return []
    d = a["design"]
    lines = [
        f"  adaptive seeds: {d['min_seeds']}..{d['max_seeds']} in waves of {d['wave']}, α = {d['alpha']:g} "
        f"({d['spending']} spending, {d['correction']}); looks at {', '.join(map(str, a['looks'])) or 'none yet'}"
    ]
    if "reason" not in a:
        return lines
    lines.append(f"  {'stopped' if a['stop'] else 'running'}: {a['reason']}")
    lines.append(
        f"  {'comparison':<44} {'metric':<20} {'pairs':>5} {'estimate [repeated CI]':>34} {'|z|':>6} "
        f"{'bound':>6}  decision"
    )
    for c in a["comparisons"]:
        ci = f"[{_fmt(_num(c['ci_low']))}, {_fmt(_num(c['ci_high']))}]"
        z = _fmt(abs(c["z"])) if isinstance(c["z"], float) else ""
        lines.append(
            f"  {c['comparison']:<44} {c['metric']:<20} {c['n_pairs']:>5} "
            f"{_fmt(c['estimate']) + ' ' + ci:>34} {z:>6} {_fmt(c['boundary']):>6}  {c['decision']}"
        )
    return lines


def _num(v: Any) -> Any:
    return v if v is not None else float("nan")


def format_status(s: dict[str, Any]) -> str:
    lines = [
        f"study {s['name']} ({s['kind']}) in {s['directory']}",
        f"  MLflow {s['tracking_uri']} experiment {s['experiment_id']} parent run {s['parent_run_id']}",
        "  "
        + ", ".join(f"{k.lower()} {v}" for k, v in sorted(s["counts"].items()))
        + ("; Tune state restorable" if s["restorable"] else ""),
    ]
    if s["problem"]:
        lines.append(f"  note: {s['problem']}")
    if s["spooled"]:
        lines.append(
            f"  {len(s['spooled'])} trial(s) have spooled MLflow calls: run `python -m study sync {s['name']}`"
        )
    if s.get("study_run_spooled"):
        lines.append(f"  the end of the study's own MLflow run is spooled: run `python -m study sync {s['name']}`")
    for preset, path in s["theta_is"].items():
        lines.append(f"  θ-IS π {preset}: {path}")
    for preset, got in (s.get("theta_is_stage") or {}).items():
        total = got["pairs_total"]
        of = f"/{total} ({100 * got['pairs_stored'] / total:.0f} %)" if total else ""
        lines.append(
            f"  θ-IS π {preset}: not ready; {got['pairs_stored']}{of} (path, θ-dimension) pairs computed and kept "
            "(a resume goes on from there)"
        )
    for h in s.get("extensions") or []:
        lines.append(
            f"  {h['kind']} {h['stage']}: seeds {', '.join(map(str, h['seeds_added']))} added {h['when']} "
            f"(commit {(h.get('git_commit') or '?')[:12]}; Tune experiment {h['tune']})"
        )
    lines += _format_adaptive(s.get("adaptive"))
    lines.append(f"  {'trial':<44} {'status':<12} {'tries':>5} {'test θ L1':>10} {'val θ L1':>10}  reason")
    for t in s["trials"]:
        lines.append(
            f"  {t['trial']:<44} {t['status']:<12} {_fmt(t.get('attempts')):>5} "
            f"{_fmt(t.get('test_theta_l1')):>10} {_fmt(t.get('val_theta_l1')):>10}  {t.get('reason') or ''}"
        )
    for table in s["tables"]:
        lines.append(f"  table {table}")
    return "\n".join(lines)

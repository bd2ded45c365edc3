"""Read a study back from MLflow, following the layout documented in ``analysis.schema``.

``mlflow`` is imported inside the functions only, so CSV-only users never pay for it.

* ``read_study(uri, study)``: the study's experiment (``EXPERIMENT_PREFIX + study``), its trial runs
  (tag ``ROLE = ROLE_TRIAL``), their ``ARM``/``SEED``/``PRESET`` tags and final metrics as a validated
  per-seed DataFrame (with a ``run_id`` column), optionally the metric histories of the validation
  curves as a long DataFrame. Runs whose status is not FINISHED are left out and listed.
* ``download_pi(uri, study, dst)``: the θ-IS π and path table artifacts of the parent run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from analysis.data import validate_curves, validate_per_seed, with_curve_summaries
from analysis.schema import (
    ARM,
    ARM_COLUMN,
    ARM_LABELS,
    ARMS,
    CONVERGENCE_STEP,
    ELAPSED_S,
    EXPERIMENT_PREFIX,
    FAILURE_REASON,
    PATHS_JSON,
    PI_ARTIFACT_ROOT,
    PI_JSON,
    PI_NPY,
    PRESET,
    PRESET_COLUMN,
    ROLE,
    ROLE_STUDY,
    ROLE_TRIAL,
    RUN_ID_COLUMN,
    SEED,
    SEED_COLUMN,
    SETTING_COLUMN,
    STATUS_FINISHED,
    STEP_COLUMN,
    STEPS_PER_SECOND,
    TEST_THETA_L1,
    TR808_METRICS,
    VAL_THETA_L1,
    VAL_TOTAL_VARIATION,
    pi_artifact_dir,
)

__all__ = ["StudyRuns", "experiment_name", "read_study", "download_pi"]

_FINAL_PREFIXES = (TEST_THETA_L1, CONVERGENCE_STEP)
_FINAL_EXACT = (TEST_THETA_L1, VAL_TOTAL_VARIATION, CONVERGENCE_STEP, STEPS_PER_SECOND)
# Params that identify a TR-808 run and its setting: micro = aligned reconstruction (no shift).
_SYNTH_KIND, _MAX_SHIFT = "synth.kind", "synth.max_shift"


def experiment_name(study: str) -> str:
    """The MLflow experiment of a study; a name already carrying the prefix is kept as is."""
    if not study or not study.strip():
        raise ValueError("empty study name")
    return study if study.startswith(EXPERIMENT_PREFIX) else EXPERIMENT_PREFIX + study


@dataclass
class StudyRuns:
    """What ``read_study`` found. ``per_seed`` is validated (``analysis.data.validate_per_seed``)."""

    study: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str | None
    per_seed: pd.DataFrame
    curves: pd.DataFrame | None = None
    excluded: list[str] = field(default_factory=list)
    arm_order: list[str] | None = None
    arm_labels: dict[str, str] | None = None

    @property
    def source(self) -> str:
        return f"MLflow study {self.study!r} at {self.tracking_uri}"


def _check_local_store(uri: str) -> None:
    """Refuse a local store that does not exist (MLflow would silently create an empty one)."""
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":
        path = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else ""
        if path and path != ":memory:" and not Path(path).is_file():
            raise ValueError(f"no MLflow database at {uri} (file {path} does not exist)")
    elif parsed.scheme in ("", "file"):
        path = parsed.path if parsed.scheme == "file" else uri
        if not Path(path).is_dir():
            raise ValueError(f"no MLflow store at {uri} (directory {path} does not exist)")


def _client(uri: str):
    from mlflow.tracking import MlflowClient  # lazy: analysis imports mlflow only to read a study from it

    _check_local_store(uri)
    return MlflowClient(tracking_uri=uri)


def _experiment(client, uri: str, study: str):
    name = experiment_name(study)
    try:
        exp = client.get_experiment_by_name(name)
    except Exception as exc:  # noqa: BLE001 - re-raised as ValueError; connection problems surface here first
        raise ValueError(f"cannot read MLflow at {uri}: {exc}") from None
    if exp is None:
        names = sorted(e.name for e in client.search_experiments() if e.name.startswith(EXPERIMENT_PREFIX))
        known = ", ".join(n[len(EXPERIMENT_PREFIX) :] for n in names) or "none"
        raise ValueError(f"no study {study!r} (MLflow experiment {name!r}) at {uri}; studies there: {known}")
    return exp


def _search(client, experiment_id: str, role: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], filter_string=f"tags.`{ROLE}` = '{role}'", max_results=1000, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _history(client, run_id: str, key: str) -> dict[int, float]:
    """step -> value; a step logged twice (e.g. re-run after a retry) keeps the latest timestamp."""
    points = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
    return {int(m.step): float(m.value) for m in points}


def _arm_labels(tag: str | None) -> dict[str, str] | None:
    """The parent run's ``ARM_LABELS`` tag, or None when absent or not a JSON object of strings."""
    if not tag:
        return None
    try:
        doc = json.loads(tag)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
        return None
    return doc


def read_study(
    tracking_uri: str,
    study: str,
    *,
    curves: bool = False,
    from_curves: bool = False,
    statuses: Sequence[str] = (STATUS_FINISHED,),
    required: Sequence[str] | None = None,
) -> StudyRuns:
    """Read the trial runs of ``study`` from the tracking server ``tracking_uri``.

    Args:
        curves: also read the metric histories of ``val_theta_l1`` (+ per parameter) and ``elapsed_s``.
        from_curves: recompute TV and convergence steps from those histories instead of using the
            runs' final summary metrics (implies ``curves``).
        statuses: MLflow run statuses analysed; the other trial runs are listed in ``excluded``.
        required: per-seed columns every run must have (default ``analysis.data``'s; TR-808 studies
            on recordings have no θ, so their tables pass ``(arm, seed)``).

    TR-808 runs (param ``synth.kind = tr808``) also get the ``TR808_METRICS`` they logged and a
    ``setting`` column: ``micro`` when the reconstruction is aligned (``synth.max_shift = 0``),
    else ``meso``.

    Raises:
        ValueError: unknown study, no trial run, no run with an accepted status, runs without the
            arm/seed tags or final metrics, duplicated (preset, arm, seed); messages name run ids.
    """
    client = _client(tracking_uri)
    exp = _experiment(client, tracking_uri, study)
    source = f"MLflow study {study!r} at {tracking_uri}"
    trials = _search(client, exp.experiment_id, ROLE_TRIAL)
    if not trials:
        raise ValueError(
            f"{source}: the study is empty (no run tagged {ROLE}={ROLE_TRIAL!r} in experiment {exp.name!r})"
        )
    parents = _search(client, exp.experiment_id, ROLE_STUDY)
    parent = max(parents, key=lambda r: r.info.start_time or 0) if parents else None
    arm_order = None
    if parent is not None and parent.data.tags.get(ARMS):
        arm_order = [a.strip() for a in parent.data.tags[ARMS].split(",") if a.strip()]
    arm_labels = _arm_labels(parent.data.tags.get(ARM_LABELS) if parent is not None else None)

    rows, kept, excluded, problems = [], [], [], []
    with_preset = any(PRESET in r.data.tags for r in trials)
    for run in sorted(trials, key=lambda r: (r.info.start_time or 0, r.info.run_id)):
        tags, rid = run.data.tags, run.info.run_id
        missing = [t for t in (ARM, SEED) if not tags.get(t)]
        if missing:
            problems.append(f"run {rid} has no {' / '.join(missing)} tag")
            continue
        if run.info.status not in statuses:
            reason = tags.get(FAILURE_REASON)
            excluded.append(
                f"run {rid} (arm {tags[ARM]}, seed {tags[SEED]}): status {run.info.status}"
                + (f", {reason}" if reason else "")
            )
            continue
        row = {RUN_ID_COLUMN: rid, ARM_COLUMN: tags[ARM], SEED_COLUMN: tags[SEED]}
        if with_preset:
            row[PRESET_COLUMN] = tags.get(PRESET, "")
        metrics = run.data.metrics
        for key in _FINAL_EXACT:
            row[key] = metrics.get(key, math.nan)
        if run.data.params.get(_SYNTH_KIND) == "tr808":
            row[SETTING_COLUMN] = "micro" if run.data.params.get(_MAX_SHIFT, "0") in ("0", "0.0") else "meso"
            row.update({key: metrics[key] for key in TR808_METRICS if key in metrics})
        for key, value in metrics.items():
            if key.startswith(tuple(p + "_" for p in _FINAL_PREFIXES)):
                row[key] = value
        rows.append(row)
        kept.append(run)
    if problems:
        raise ValueError(f"{source}: " + "; ".join(problems))
    if not rows:
        raise ValueError(
            f"{source}: no trial run with status {' or '.join(statuses)}; excluded: " + "; ".join(excluded)
        )
    frame = pd.DataFrame(rows)
    per_param_steps = [c for c in frame.columns if c.startswith(CONVERGENCE_STEP + "_")]
    frame[per_param_steps] = frame[per_param_steps].astype("float64")
    if required is None and from_curves:
        required = (ARM_COLUMN, SEED_COLUMN, TEST_THETA_L1)
    if SETTING_COLUMN in frame.columns:  # validated by analysis.tables808; kept as is
        settings = frame[SETTING_COLUMN]
        frame = frame.drop(columns=[SETTING_COLUMN])
    else:
        settings = None
    per_seed = validate_per_seed(frame, source=source, **({"required": required} if required else {}))
    if settings is not None:
        per_seed[SETTING_COLUMN] = settings.loc[per_seed.index].values

    curve_frame = None
    if curves or from_curves:
        points = []
        for run in kept:
            rid, tags = run.info.run_id, run.data.tags
            keys = [VAL_THETA_L1] + sorted(k for k in run.data.metrics if k.startswith(VAL_THETA_L1 + "_"))
            if ELAPSED_S in run.data.metrics:
                keys.append(ELAPSED_S)
            by_step: dict[int, dict] = {}
            for key in keys:
                for step, value in _history(client, rid, key).items():
                    by_step.setdefault(step, {})[key] = value
            for step, values in sorted(by_step.items()):
                point = {RUN_ID_COLUMN: rid, ARM_COLUMN: tags[ARM], SEED_COLUMN: tags[SEED], STEP_COLUMN: step}
                if with_preset:
                    point[PRESET_COLUMN] = tags.get(PRESET, "")
                point.update(values)
                points.append(point)
        if not points:
            raise ValueError(f"{source}: no run has a {VAL_THETA_L1!r} metric history")
        raw = pd.DataFrame(points)
        raw[VAL_THETA_L1] = raw.get(VAL_THETA_L1, math.nan)
        curve_frame = validate_curves(raw, source=source + " (metric histories)")
        if from_curves:
            per_seed = with_curve_summaries(per_seed, curve_frame.drop(columns=[RUN_ID_COLUMN]), source=source)
    return StudyRuns(
        study,
        tracking_uri,
        exp.experiment_id,
        parent.info.run_id if parent else None,
        per_seed,
        curve_frame,
        excluded,
        arm_order,
        arm_labels,
    )


def download_pi(tracking_uri: str, study: str, dst_dir: str | Path, preset: str | None = None) -> tuple[Path, Path]:
    """Download the θ-IS π and path table of one preset from the study's parent run.

    Returns ``(pi_file, paths_file)`` in ``dst_dir``. ``preset`` may be omitted when the parent run
    holds exactly one preset's artifacts.
    """
    client = _client(tracking_uri)
    exp = _experiment(client, tracking_uri, study)
    source = f"MLflow study {study!r} at {tracking_uri}"
    parents = _search(client, exp.experiment_id, ROLE_STUDY)
    if not parents:
        raise ValueError(f"{source}: no parent run (tag {ROLE}={ROLE_STUDY!r}) holding θ-IS artifacts")
    parent = max(parents, key=lambda r: r.info.start_time or 0)
    rid = parent.info.run_id
    presets = [Path(a.path).name for a in client.list_artifacts(rid, PI_ARTIFACT_ROOT) if a.is_dir]
    if not presets:
        raise ValueError(f"{source}: parent run {rid} has no θ-IS artifacts under {PI_ARTIFACT_ROOT}/")
    if preset is None:
        if len(presets) > 1:
            raise ValueError(
                f"{source}: θ-IS artifacts for several presets ({', '.join(presets)}); choose one with --preset"
            )
        preset = presets[0]
    elif preset not in presets:
        raise ValueError(f"{source}: no θ-IS artifacts for preset {preset!r}; present: {', '.join(presets)}")
    folder = pi_artifact_dir(preset)
    files = {Path(a.path).name for a in client.list_artifacts(rid, folder) if not a.is_dir}
    pi_name = PI_NPY if PI_NPY in files else PI_JSON if PI_JSON in files else None
    if pi_name is None or PATHS_JSON not in files:
        raise ValueError(
            f"{source}: {folder}/ on run {rid} must hold {PI_NPY} or {PI_JSON} and {PATHS_JSON}; "
            f"found: {', '.join(sorted(files)) or 'nothing'}"
        )
    dst = Path(dst_dir)
    dst.mkdir(parents=True, exist_ok=True)
    pi_path = Path(client.download_artifacts(rid, f"{folder}/{pi_name}", str(dst)))
    paths_path = Path(client.download_artifacts(rid, f"{folder}/{PATHS_JSON}", str(dst)))
    return pi_path, paths_path

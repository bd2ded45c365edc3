"""After a study: its per-seed table and paper-style tables, written into ``<study>/tables/``.

Reads the study back from MLflow with ``analysis.mlflow_source.read_study`` (so the tables come
from exactly what the UI shows) and renders with ``analysis.report.write_tables`` (Table 2/6
style ``ablation.*`` / ``deltas.*``; a losses study's Table 1 style ``losses.*`` /
``losses_deltas.*``) and, for the θ-IS study, ``analysis.tables.theta_is_table``
(Tables 3/7). Arms are in the study's order, labelled as in the paper. An HPO study instead gets
``hpo/best.json``: the best trial's tuned values, which ``study run ... --from-hpo NAME`` applies.

``publish`` is what a study's driver calls at its end, and ``study sync`` and ``study extend`` after
theirs: the tables as above plus an HTML copy of each Markdown table (``<stem>.html``, for the MLflow
UI's artifact view and a browser), and figures in ``<study>/figures/`` (``validation_curves``: mean ±
95 % CI band per arm against steps and wall-clock time; ``accuracy_vs_cost``: test θ L1 against
seconds per step with 95 % CI whiskers; PNG and PDF, by ``analysis.plots``; one sub-folder per preset
when the study has several); all of it is then logged to the study's parent MLflow run under
``tables/`` and ``figures/``, replacing what an earlier ``publish`` logged there (new files are
uploaded first, then the ones it no longer writes are deleted).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import markdown
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from analysis import plots, schema, tables, tables808
from analysis.mlflow_source import StudyRuns, read_study
from analysis.output import atomic_paths
from analysis.pairing import select_preset
from analysis.render import render
from analysis.report import SUFFIXES, write_tables
from search_spaces.spec import StudySpec
from search_spaces.studies import LOSSES_REFERENCE
from study import mlflow_ui, theta_is_figure, tracking
from study.layout import StudyDir, write_json_atomic
from trainables.presets import get_preset

_TABLE_NAMES = {"losses": ("losses", "losses_deltas")}  # file stems of the Table 2/6 style pair, by study kind

__all__ = ["export_tables", "publish", "write_best", "read_best", "FIGURES", "TABLE2_ARTIFACT"]

FIGURES = "figures"  # <study>/figures and the parent run's artifact folder of the figures
TABLE2_ARTIFACT = "tables/ablation.md"  # a one-preset ablation study's Table 2 on its parent run
Say = Callable[[str], None]


def _write_table(table, out_stem: Path, formats: Sequence[str] = ("markdown", "csv")) -> list[Path]:
    texts = {out_stem.with_suffix(SUFFIXES[f]): render(table, f) for f in formats}
    with atomic_paths(list(texts)) as temps:
        for tmp, text in zip(temps, texts.values(), strict=True):
            tmp.write_text(text, encoding="utf-8")
    return list(texts)


def _read(spec: StudySpec, tracking_uri: str, curves: bool) -> StudyRuns:
    tr808 = [p for p in spec.presets if get_preset(p).synth.kind == "tr808"]
    # TR-808 runs on recordings have no θ: only arm and seed are required of every run
    return read_study(
        tracking_uri, spec.name, curves=curves, required=(schema.ARM_COLUMN, schema.SEED_COLUMN) if tr808 else None
    )


def export_tables(
    spec: StudySpec,
    sdir: StudyDir,
    tracking_uri: str,
    say: Callable[[str], None] = print,
    *,
    runs: StudyRuns | None = None,
) -> list[Path]:
    """Write ``per_seed.csv`` and the tables; problems are reported, not raised (the study is done).
    ``runs``: the study as read already (``read_study``)."""
    tr808 = [p for p in spec.presets if get_preset(p).synth.kind == "tr808"]
    if runs is None:
        try:
            runs = _read(spec, tracking_uri, curves=False)
        except ValueError as err:
            say(f"tables not written: {err}")
            return []
    sdir.tables.mkdir(parents=True, exist_ok=True)
    written = []
    per_seed = runs.per_seed
    per_seed.to_csv(sdir.tables / "per_seed.csv", index=False)
    written.append(sdir.tables / "per_seed.csv")
    if runs.excluded:
        say(f"left out of the tables (not FINISHED): {'; '.join(runs.excluded)}")
    has_preset = schema.PRESET_COLUMN in per_seed.columns
    for preset in spec.presets:
        df = per_seed[per_seed[schema.PRESET_COLUMN] == preset] if has_preset else per_seed
        if df.empty:
            say(f"tables for {preset} not written: no FINISHED run")
            continue
        present = set(df[schema.ARM_COLUMN])
        arms = [a for a in spec.arm_names if a in present]
        labels = [spec.arm(a).display for a in arms]
        out = sdir.tables if len(spec.presets) == 1 else sdir.tables / preset
        out.mkdir(parents=True, exist_ok=True)
        notes = [f"Study {spec.name} ({spec.kind}) on preset {preset}."]
        if preset in tr808:
            written += _tr808_tables(df, arms, labels, out, say)
            if df[schema.TEST_THETA_L1].isna().all():
                continue  # recordings: no θ, no Table 2/6
        unpaired = spec.kind == "losses" or bool(runs.excluded)
        try:
            written += write_tables(
                df,
                out,
                arms=arms,
                labels=labels,
                drop_unpaired=unpaired,
                formats=("markdown", "csv"),
                notes=notes,
                names=_TABLE_NAMES.get(spec.kind, ("ablation", "deltas")),
                # Table 1's family: each loss against SCRAPL, not each row against the one above it
                reference=LOSSES_REFERENCE if spec.kind == "losses" and LOSSES_REFERENCE in arms else None,
            )
        except ValueError as err:
            say(f"tables for {preset} not written: {err}")
    if spec.kind == "theta-is":
        params = sorted(
            {c[len(schema.TEST_THETA_L1) + 1 :] for c in per_seed.columns if c.startswith(schema.TEST_THETA_L1 + "_")}
        )
        arms = [a for a in spec.arm_names if a in set(per_seed[schema.ARM_COLUMN])]
        per_param = per_seed.copy()
        for p in params:  # MLflow has no convergence_step_<p> when no run converged: empty = never
            column = schema.per_param(schema.CONVERGENCE_STEP, p)
            if column not in per_param.columns:
                per_param[column] = float("nan")
        try:
            table = tables.theta_is_table(
                per_param,
                arms,
                params,
                labels=[spec.arm(a).display for a in arms],
                configs=[p for p in spec.presets if not has_preset or p in set(per_seed[schema.PRESET_COLUMN])],
            )
            written += _write_table(table, sdir.tables / "theta_is")
        except ValueError as err:
            say(f"θ-IS table (Tables 3/7) not written: {err}")
    return written


def _tr808_tables(df, arms: list[str], labels: list[str], out: Path, say: Callable[[str], None]) -> list[Path]:
    """Tables 4, 8, 9 style (audio distances, transient, decay) of a TR-808 preset's runs."""
    written = []
    try:
        typed = tables808.validate_tr808(df, source=f"study runs in {out}")
        for group, stem in (("audio", "tr808_audio"), ("transient", "tr808_transient"), ("decay", "tr808_decay")):
            table = tables808.tr808_table(typed, arms, group=group, labels=labels)
            written += _write_table(table, out / stem)
    except ValueError as err:
        say(f"TR-808 tables (Tables 4/8/9) not written: {err}")
    return written


def write_best(sdir: StudyDir, doc: dict[str, Any]) -> Path:
    path = sdir.hpo / "best.json"
    write_json_atomic(path, doc)
    return path


def read_best(root: Path, name: str) -> dict[str, Any]:
    """The best config of HPO study ``name`` (for ``--from-hpo``); ``ValueError`` if there is none."""
    sdir = StudyDir.of(root, name)
    path = sdir.hpo / "best.json"
    if not path.is_file():
        raise ValueError(f"no finished HPO study {name!r} under {Path(root)} (missing {path})")
    return json.loads(path.read_text())


# --- publish: tables, their HTML, figures, on the parent run -------------------------------------------
_HTML_STYLE = (
    "body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:1em 0}"
    "th,td{border:1px solid #bbb;padding:.3em .6em;text-align:right}th:first-child,td:first-child"
    "{text-align:left}th{background:#f2f2f2}"
)


def _html_copy(md: Path) -> Path:
    """``<stem>.html`` next to a Markdown table: the same table as an HTML page (Python-Markdown)."""
    body = markdown.markdown(md.read_text(encoding="utf-8"), extensions=["tables"], output_format="html")
    title = html.escape(f"{md.parent.name}/{md.stem}")
    out = md.with_suffix(".html")
    with atomic_paths([out]) as (tmp,):
        tmp.write_text(
            f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_HTML_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n",
            encoding="utf-8",
        )
    return out


def _figures(spec: StudySpec, sdir: StudyDir, runs: StudyRuns, say: Say) -> list[Path]:
    """Validation curves and accuracy vs cost per preset (``analysis.plots``), into ``<study>/figures``."""
    written: list[Path] = []
    for preset in spec.presets:
        where = f" for {preset}" if len(spec.presets) > 1 else ""
        try:
            per_seed = select_preset(runs.per_seed, preset if len(spec.presets) > 1 else None)
            curves = select_preset(runs.curves, preset if len(spec.presets) > 1 else None)
        except ValueError as err:
            say(f"figures{where} not drawn: {err}")
            continue
        present = set(per_seed[schema.ARM_COLUMN])
        arms = [a for a in spec.arm_names if a in present]
        labels = [spec.arm(a).display for a in arms]
        out = sdir.path / FIGURES / (preset if len(spec.presets) > 1 else "")
        out.mkdir(parents=True, exist_ok=True)
        title = f"{spec.name}: validation θ L1, mean ± 95 % CI over seeds ({preset})"
        try:
            try:
                fig = plots.plot_curves(curves, arms, labels=labels, x="both", ci="t", title=title)
            except ValueError:  # no elapsed_s histories: against steps only
                fig = plots.plot_curves(curves, arms, labels=labels, x="step", ci="t", title=title)
            written += plots.save_figure(fig, out / "validation_curves")
        except ValueError as err:
            say(f"validation curves{where} not drawn: {err}")
        try:
            fig = plots.plot_cost(
                per_seed, arms, labels=labels, ci="t", title=f"{spec.name}: accuracy vs cost, mean ± 95 % CI ({preset})"
            )
            written += plots.save_figure(fig, out / "accuracy_vs_cost")
        except ValueError as err:
            say(f"accuracy vs cost{where} not drawn: {err}")
    return written


def _artifact_files(client, run_id: str, folder: str) -> set[str]:
    """Every file under ``folder`` of a run's artifacts (recursively); empty when there is none."""
    out: set[str] = set()
    try:
        items = client.list_artifacts(run_id, folder)
    except Exception:  # noqa: BLE001 - no such folder yet
        return out
    for item in items:
        if item.is_dir:
            out |= _artifact_files(client, run_id, item.path)
        else:
            out.add(item.path)
    return out


def _log_replacing(uri: str, run_id: str, files: dict[str, Path], folders: Sequence[str]) -> None:
    """Upload ``files`` (artifact path -> local file) to the run, then delete the files under ``folders``
    that an earlier version had and this one does not."""
    c = tracking.client(uri)
    before = set().union(*(_artifact_files(c, run_id, f) for f in folders))
    for path, local in files.items():
        folder = path.rpartition("/")[0]
        c.log_artifact(run_id, str(local), folder or None)
    stale = sorted(before - set(files))
    if stale:
        repo = get_artifact_repository(c.get_run(run_id).info.artifact_uri, tracking_uri=uri)
        for path in stale:
            repo.delete_artifacts(path)


def publish(
    spec: StudySpec, sdir: StudyDir, tracking_uri: str, parent_run_id: str | None = None, say: Say = print
) -> list[Path]:
    """Write the study's tables (+ HTML) and figures and log them to its parent MLflow run, replacing the
    previous version (see the module docstring). ``parent_run_id``: default the one in
    ``settings.json``. Returns the files written; problems are reported, not raised."""
    if spec.hpo is not None:
        return []
    runs = None
    try:
        runs = _read(spec, tracking_uri, curves=True)
    except ValueError as err:  # e.g. TR-808 recordings: no θ curves; the tables may still be written
        say(f"figures not drawn: {err}")
    written = export_tables(spec, sdir, tracking_uri, say, runs=runs)
    if not written:
        return []
    # an adaptive study's sequential decisions (study.waves writes them after its last look)
    written += [p for p in sorted(sdir.tables.glob("sequential.*")) if p.suffix in (".md", ".csv")]
    written += [_html_copy(p) for p in list(written) if p.suffix == ".md"]
    if runs is not None:
        written += _figures(spec, sdir, runs, say)
    amfm = theta_is_figure.figure_and_table(spec, sdir, say)  # Figure 6 of a θ-IS study on chirplets
    if amfm is not None:
        (sdir.path / FIGURES).mkdir(parents=True, exist_ok=True)
        written += plots.save_figure(amfm[0], sdir.path / FIGURES / theta_is_figure.FIGURE_STEM)
        md, csv = _write_table(amfm[1], sdir.tables / theta_is_figure.TABLE_STEM)
        written += [md, csv, _html_copy(md)]
    parent = parent_run_id or _stored_parent(sdir)
    if parent is None:
        say(f"the tables were not logged to MLflow: no parent run id in {sdir.settings_file}")
        return written
    files = {}
    for p in written:
        top = sdir.tables if p.is_relative_to(sdir.tables) else sdir.path / FIGURES
        files[f"{top.name}/{p.relative_to(top).as_posix()}"] = p
    try:
        _log_replacing(tracking_uri, parent, files, ("tables", FIGURES))
        mlflow_ui.mark_experiment(tracking_uri, tracking.client(tracking_uri).get_run(parent).info.experiment_id)
        say(f"logged {len(files)} table and figure file(s) to the study's MLflow run {parent} (tables/, {FIGURES}/)")
    except Exception as err:  # noqa: BLE001 - the files are on disk; `study sync` or a resume logs them again
        say(f"could not log the tables to the study's MLflow run ({type(err).__name__}: {str(err)[:200]})")
    return written


def _stored_parent(sdir: StudyDir) -> str | None:
    try:
        return sdir.read_json(sdir.settings_file).get("parent_run_id")
    except (OSError, ValueError):
        return None

"""Where a study keeps its files. One directory per study, everything in it addressed absolutely
(trials run in scratch working directories):

    <root>/<name>/
        spec.json          the StudySpec (search_spaces.spec), written once
        settings.json      how it runs: tracking URI, experiment/parent run ids, resources, retries
        mlflow.db          the embedded MLflow store (sqlite), unless --mlflow-uri was given
        artifacts/         the embedded store's artifact root
        ray/               Ray Tune storage_path (trial checkpoints, experiment state)
        theta_is/<preset>/ pi.npy + curvature.npy + paths.json (θ-IS stage output, reused on resume;
                          blocks/ holds finished chunks while the stage runs)
        spool/             MLflow calls that could not be delivered (replayed by ``study sync``)
        faults/            markers of injected one-shot faults
        tables/            per_seed.csv + Table 2/6 style exports
        hpo/               optuna.db, best.json (hpo studies)
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_ROOT_ENV = "SCRAPL_STUDY_ROOT"
TUNE_NAME = "trials"


def default_root() -> Path:
    """``$SCRAPL_STUDY_ROOT`` or ``./studies`` (made absolute)."""
    return Path(os.environ.get(DEFAULT_ROOT_ENV) or "studies").expanduser().resolve()


@dataclass(frozen=True)
class StudyDir:
    path: Path

    @classmethod
    def of(cls, root: str | Path, name: str) -> StudyDir:
        return cls(Path(root).expanduser().resolve() / name)

    # --- files -------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def spec_file(self) -> Path:
        return self.path / "spec.json"

    @property
    def settings_file(self) -> Path:
        return self.path / "settings.json"

    @property
    def mlflow_db(self) -> Path:
        return self.path / "mlflow.db"

    @property
    def mlflow_uri(self) -> str:
        return f"sqlite:///{self.mlflow_db}"

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    @property
    def ray_storage(self) -> Path:
        return self.path / "ray"

    @property
    def tune_path(self) -> Path:
        return self.ray_storage / TUNE_NAME

    def theta_is_dir(self, preset: str) -> Path:
        return self.path / "theta_is" / preset

    @property
    def spool(self) -> Path:
        return self.path / "spool"

    @property
    def faults(self) -> Path:
        return self.path / "faults"

    @property
    def tables(self) -> Path:
        return self.path / "tables"

    @property
    def hpo(self) -> Path:
        return self.path / "hpo"

    def exists(self) -> bool:
        return self.spec_file.is_file()

    # --- json helpers ------------------------------------------------------------------------------
    def read_json(self, path: Path) -> dict[str, Any]:
        return json.loads(path.read_text())


def write_json_atomic(path: Path, doc: Any) -> None:
    """Write JSON to ``path`` via a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2, sort_keys=False, default=str)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

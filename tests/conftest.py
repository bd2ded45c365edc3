"""Fixtures shared by every test package: reading a study's runs back from a real MLflow store or
server (sqlite store in the study tests, ``mlflow server`` in the end-to-end tests)."""

from __future__ import annotations

import pytest


class StudyRuns:
    """The runs of one study (experiment ``scrapl/<study>``) at ``uri``, with the assertions every
    scenario makes: one run per trial, no metric logged twice at a step."""

    def __init__(self, uri: str, study: str) -> None:
        from mlflow.tracking import MlflowClient

        from analysis import schema

        self.uri, self.study, self.schema = uri, study, schema
        self.client = MlflowClient(uri)
        exp = self.client.get_experiment_by_name(schema.EXPERIMENT_PREFIX + study)
        assert exp is not None, f"no experiment {schema.EXPERIMENT_PREFIX}{study} at {uri}"
        self.experiment, self.experiment_id = exp, exp.experiment_id
        self.all = self.client.search_runs([exp.experiment_id], max_results=1000)
        self.trials = [r for r in self.all if r.data.tags.get(schema.ROLE) == schema.ROLE_TRIAL]
        self.parents = [r for r in self.all if r.data.tags.get(schema.ROLE) == schema.ROLE_STUDY]

    def by_key(self) -> dict:
        out: dict = {}
        for r in self.trials:
            key = r.data.tags[self.schema.TRIAL_ID]
            assert key not in out, f"two MLflow runs for trial {key}: {out[key].info.run_id}, {r.info.run_id}"
            out[key] = r
        return out

    def steps(self, run, key: str = "val_theta_l1") -> list[int]:
        return [int(m.step) for m in self.client.get_metric_history(run.info.run_id, key)]

    def assert_no_duplicate_steps(self, run) -> None:
        for key in run.data.metrics:
            steps = self.steps(run, key)
            assert len(steps) == len(set(steps)), f"{run.info.run_name}: {key} logged twice at a step: {steps}"


@pytest.fixture
def study_runs():
    return StudyRuns


@pytest.fixture
def runs():
    return StudyRuns

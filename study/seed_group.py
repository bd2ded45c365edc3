"""One HPO configuration on K paired seeds (``run hpo --seeds-per-trial K``): K training runs in lockstep
epochs inside one Tune trial, reporting the mean of each metric, so ASHA and Optuna see the mean curve.

``train_group(config, report, resume_state, seeds=...)`` has ``trainables.train.train``'s contract, so the
trial glue (``study.trial.run_trial``) treats a group like one run: ``report(step, metrics, state)``
after every epoch's validations with the mean metrics (plus ``<metric>_seed<s>`` for each seed) and a
group checkpoint ``{"step", "history", "seeds", "runs": [one trainables checkpoint per seed]}``, and
once at the end with the mean final metrics; it returns a ``RunResult`` (mean history, the first
seed's audio examples). Each seed's run is exactly the run it would be alone: the runs share the
process's global torch random state, so the driver swaps each run's state in before it steps and out
after (``Run`` keeps everything else — data order, path draws, reconstruction seeds — in its own
generators). The seeds run one after another within an epoch: a trial costs K times the compute of
a one-seed trial, on the same resources.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import torch

from trainables.config import RunConfig, override
from trainables.train import Report, Run, RunResult, start_run

__all__ = ["train_group", "GROUP_VERSION", "group_seeds", "per_seed_key"]

GROUP_VERSION = 1


def group_seeds(seed: int, k: int) -> tuple[int, ...]:
    """The K paired seeds of every trial of an HPO study on ``seed``."""
    return tuple(range(seed, seed + k))


def per_seed_key(metric: str, seed: int) -> str:
    return f"{metric}_seed{seed}"


class _Member:
    """One seed's run and its global random state while the others run."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.rng = self._get()

    def _get(self) -> dict[str, torch.Tensor]:
        rng = {"torch": torch.get_rng_state()}
        if self.run.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.run.device)
        return rng

    def __enter__(self) -> Run:
        torch.set_rng_state(self.rng["torch"])
        if "cuda" in self.rng:
            torch.cuda.set_rng_state(self.rng["cuda"], self.run.device)
        return self.run

    def __exit__(self, *exc) -> None:
        self.rng = self._get()


def _mean(dicts: Sequence[dict[str, Any]], seeds: Sequence[int], *, per_seed: bool) -> dict[str, float]:
    """Mean of every numeric key over the seeds (finite values; NaN when none), and each seed's value."""
    keys = [k for k in dicts[0] if all(isinstance(d.get(k), (int, float)) for d in dicts)]
    keys += [k for d in dicts for k in d if k not in keys and isinstance(d[k], (int, float))]
    out: dict[str, float] = {}
    for k in keys:
        values = [float(d[k]) for d in dicts if isinstance(d.get(k), (int, float)) and math.isfinite(d[k])]
        out[k] = sum(values) / len(values) if values else math.nan
    if per_seed:
        for s, d in zip(seeds, dicts, strict=True):
            out.update(
                {
                    per_seed_key(k, s): float(v)
                    for k, v in d.items()
                    if isinstance(v, (int, float)) and k not in ("step", "epoch")
                }
            )
    return out


def _state(members: Sequence[_Member], seeds: Sequence[int], history: list[dict]) -> dict:
    runs = []
    for m in members:
        with m as run:
            runs.append(run.state_dict())
    return {
        "version": GROUP_VERSION,
        "step": members[0].run.step,
        "seeds": list(seeds),
        "history": history,
        "runs": runs,
    }


def train_group(
    config: RunConfig, report: Report | None = None, resume_state: dict | None = None, *, seeds: Sequence[int]
) -> RunResult:
    """Train ``config`` on each of ``seeds`` in lockstep (see the module docstring)."""
    report = report or (lambda step, metrics, state: None)
    seeds = [int(s) for s in seeds]
    if resume_state is not None and (
        resume_state.get("version") != GROUP_VERSION or list(resume_state.get("seeds", ())) != seeds
    ):
        raise ValueError(f"resume_state is not a checkpoint of seeds {seeds} (version {GROUP_VERSION})")
    members = []
    for k, s in enumerate(seeds):
        run = start_run(override(config, seed=s), resume_state["runs"][k] if resume_state else None)
        members.append(_Member(run))
    history: list[dict] = [dict(h) for h in resume_state["history"]] if resume_state else []
    lead = members[0].run
    while lead.step < lead.total_steps:
        metrics = []
        for m in members:
            with m as run:
                tic = time.perf_counter()
                while True:
                    run.train_step()
                    if run.step % run.steps_per_epoch == 0 or run.step == run.total_steps:
                        break
                run.elapsed_s += time.perf_counter() - tic
                metrics.append(run.validate())
        mean = _mean(metrics, seeds, per_seed=True)
        history.append({"step": lead.step, **_mean(metrics, seeds, per_seed=False)})
        report(lead.step, mean, _state(members, seeds, history))
    finals = []
    for m in members:
        with m as run:
            if not run.history or run.history[-1]["step"] != run.step:  # resumed after the last validation
                run.validate()
            finals.append(run.finish())
    final = _mean(finals, seeds, per_seed=True)
    state = _state(members, seeds, history)
    report(lead.step, final, None)
    return RunResult(config, final, history, state, lead.examples, config.synth.sample_rate, lead.theta_names)

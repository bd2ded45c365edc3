"""The one place where the names shared by the study layer (writer) and the analysis (reader) live.

A config field, its Ray param-space key, its MLflow param and its results column share one name.
Everything a study writes to MLflow and everything `analysis` reads back uses the constants below;
the per-seed CSV uses the same column names as the final MLflow metrics.

MLflow layout of one study
--------------------------
* one MLflow **experiment** per study, named after the study (``EXPERIMENT_PREFIX + study``);
* one **parent run** tagged ``ROLE=ROLE_STUDY`` holding the study spec, the seed list, the git
  commit and (for θ-IS studies) the π artifact;
* one nested **child run per trial** (tag ``mlflow.parentRunId``) tagged ``ROLE=ROLE_TRIAL`` plus
  ``STUDY``, ``ARM``, ``SEED``, ``PRESET``, ``TRIAL_ID``; its params are the flattened config.

Metrics of a trial run
----------------------
* curves, logged at ``step = global training step`` once per validation:
  ``VAL_THETA_L1`` (θ_synth L1 on the [0, 1] scale, mean over the validation set),
  ``VAL_THETA_L1 + "_" + name`` per synth parameter, ``ELAPSED_S`` (wall-clock seconds of training
  at that validation, for time-axis plots), ``TRAIN_LOSS`` (mean training loss since the previous
  validation), ``PATH_ENTROPY`` (entropy in nats of the sampled-path histogram, SCRAPL only);
* final summary metrics (logged once, at the last step): ``TEST_THETA_L1`` (+ ``_<name>``),
  ``VAL_TOTAL_VARIATION``, ``CONVERGENCE_STEP`` (+ ``_<name>``; *absent* when the run never reached
  the threshold), ``STEPS_PER_SECOND``.
"""
from __future__ import annotations

EXPERIMENT_PREFIX = "scrapl/"

# --- tags -----------------------------------------------------------------------------------------
ROLE = "scrapl.role"
ROLE_STUDY = "study"
ROLE_TRIAL = "trial"
STUDY = "scrapl.study"
ARM = "scrapl.arm"
SEED = "scrapl.seed"
PRESET = "scrapl.preset"
TRIAL_ID = "scrapl.trial_id"
FAILURE_REASON = "scrapl.failure_reason"
PARENT_RUN_ID = "mlflow.parentRunId"

# --- curve metrics (step = global training step) ----------------------------------------------------
VAL_THETA_L1 = "val_theta_l1"
TRAIN_LOSS = "train_loss"
ELAPSED_S = "elapsed_s"
PATH_ENTROPY = "path_entropy"

# --- final per-run metrics = per-seed CSV columns ------------------------------------------------
TEST_THETA_L1 = "test_theta_l1"
VAL_TOTAL_VARIATION = "val_total_variation"
CONVERGENCE_STEP = "convergence_step"
STEPS_PER_SECOND = "steps_per_second"

# --- per-seed CSV ----------------------------------------------------------------------------------
ARM_COLUMN = "arm"
SEED_COLUMN = "seed"
REQUIRED_COLUMNS = (ARM_COLUMN, SEED_COLUMN, TEST_THETA_L1, VAL_TOTAL_VARIATION, CONVERGENCE_STEP)

# --- long validation-curve CSV ---------------------------------------------------------------------
STEP_COLUMN = "step"
CURVE_COLUMNS = (ARM_COLUMN, SEED_COLUMN, STEP_COLUMN, VAL_THETA_L1)

# The paper's convergence threshold on θ L1 ([0, 1] scale): "L1 < 100 %" means L1 <= 0.1.
CONVERGENCE_THRESHOLD = 0.1
# The paper prints L1 and TV multiplied by this factor under the label "%".
PAPER_SCALE = 1000.0


def per_param(metric: str, name: str) -> str:
    """Name of the per-parameter variant of ``metric`` (e.g. ``test_theta_l1_density``)."""
    return f"{metric}_{name}"

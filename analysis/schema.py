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

Added for the analysis side (what `analysis` additionally relies on)
--------------------------------------------------------------------
* ``VAL_THETA_L1`` is logged only at validation steps **> 0**: the paper's curve excludes the step-0
  sanity check, and `analysis` rejects curves with a step <= 0 rather than silently changing TV.
  Compute the final ``VAL_TOTAL_VARIATION`` / ``CONVERGENCE_STEP`` with
  ``analysis.curves.summarize_curve`` (numpy only, safe to import in a trial), and the per-parameter
  ``CONVERGENCE_STEP + "_" + name`` with ``analysis.curves.convergence_step`` on that parameter's
  curve (Table 7). If a curve step is logged twice (a retried attempt), `analysis` keeps the value
  with the latest timestamp.
* ``SEED`` holds a decimal integer; ``ARM`` any non-empty string. Within one study,
  (``PRESET``, ``ARM``, ``SEED``) identifies a trial: `analysis` refuses two FINISHED runs with the
  same triple (it names both run ids). Only runs with MLflow status ``FINISHED`` are analysed by
  default; the others are listed as excluded.
* Optional parent-run tag ``ARMS``: the study's arm order, comma-separated (default order of
  tables when ``--arms`` is not given). Optional parent-run tag ``ARM_LABELS``: a JSON object
  ``{arm: display label}`` (the paper's row names; default labels when ``--labels`` is not given).
* θ-IS artifacts on the parent run, one directory per preset, ``pi_artifact_dir(preset)``:
  ``PI_NPY`` (1-D float64 array of P probabilities, ``numpy.save``) **or** ``PI_JSON`` (a JSON list
  of P floats, or an object ``{"pi": [...]}``), plus ``PATHS_JSON``: a JSON list of P objects with
  the keys ``PATH_KEYS`` — ``index`` (0..P-1, the position in π), ``n2``, ``n_fr``, ``spin``
  (-1, 0 or +1), ``rate_hz`` (> 0, temporal modulation rate of the path) and ``scale_cyc_per_oct``
  (>= 0, magnitude of the frequential scale; the sign is carried by ``spin``).
* Per-seed CSV optional columns: ``PRESET_COLUMN`` (needed when a file mixes presets, e.g. the
  θ-IS study), ``RUN_ID_COLUMN``, ``STEPS_PER_SECOND`` and the per-parameter columns. An empty
  ``CONVERGENCE_STEP`` cell means "never converged".
* Long curve CSV optional columns: ``PRESET_COLUMN``, ``ELAPSED_S``, ``VAL_THETA_L1 + "_" + name``.
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
ARMS = "scrapl.arms"  # optional, on the parent run: arm order, comma-separated
ARM_LABELS = "scrapl.arm_labels"  # optional, on the parent run: JSON {arm: display label}
# MLflow run status of a trial that completed (runs with another status are not analysed by default)
STATUS_FINISHED = "FINISHED"

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
PRESET_COLUMN = "preset"  # optional: the PRESET tag (the "configuration" of Tables 3/7)
RUN_ID_COLUMN = "run_id"  # optional: the MLflow run id (written by `analysis export`)

# --- long validation-curve CSV ---------------------------------------------------------------------
STEP_COLUMN = "step"
CURVE_COLUMNS = (ARM_COLUMN, SEED_COLUMN, STEP_COLUMN, VAL_THETA_L1)

# --- θ-IS artifacts on the study's parent run --------------------------------------------------------
PI_ARTIFACT_ROOT = "theta_is"
PI_NPY = "pi.npy"
PI_JSON = "pi.json"
PATHS_JSON = "paths.json"
PATH_KEYS = ("index", "n2", "n_fr", "spin", "rate_hz", "scale_cyc_per_oct")

# The paper's convergence threshold on θ L1 ([0, 1] scale): "L1 < 100 %" means L1 <= 0.1.
CONVERGENCE_THRESHOLD = 0.1
# The paper prints L1 and TV multiplied by this factor under the label "%".
PAPER_SCALE = 1000.0


def per_param(metric: str, name: str) -> str:
    """Name of the per-parameter variant of ``metric`` (e.g. ``test_theta_l1_density``)."""
    return f"{metric}_{name}"


def pi_artifact_dir(preset: str) -> str:
    """Artifact directory (on the study's parent run) holding the θ-IS π of one preset."""
    return f"{PI_ARTIFACT_ROOT}/{preset}"


# --- TR-808 experiment (paper §4.4, Tables 4, 8, 9; ``analysis.tables808``) ---------------------------
# Final per-run metrics of a TR-808 trial = per-seed CSV columns: each is the mean over the test set of
# a per-example distance between reconstruction and target (``trainables.perceptual``), except FAD
# (one value per test set). Raw units: MSS and JTFS distances as the losses return them, loudness L1
# in dB, centroid L1 in mel, flatness L1 in dB. An empty cell = not computed for that run (e.g. JTFS
# on a subset of seeds, FAD without an embedding). The TR-808 per-seed CSV needs ``arm``, ``seed`` and
# ``SETTING_COLUMN`` (or a ``preset`` whose "-"-separated name contains the token micro or meso).
SETTING_COLUMN = "setting"
SETTINGS = ("micro", "meso")  # micro: aligned (no shift); meso: reconstruction shifted by up to ±2048
TEST_MSS_LOG_LIN = "test_mss_log_lin"
TEST_JTFS = "test_jtfs"
TEST_FAD = "test_fad"
TEST_TRANSIENT_LOUDNESS_L1 = "test_transient_loudness_l1"
TEST_TRANSIENT_CENTROID_L1 = "test_transient_centroid_l1"
TEST_TRANSIENT_FLATNESS_L1 = "test_transient_flatness_l1"
TEST_DECAY_LOUDNESS_L1 = "test_decay_loudness_l1"
TEST_DECAY_CENTROID_L1 = "test_decay_centroid_l1"
TEST_DECAY_FLATNESS_L1 = "test_decay_flatness_l1"
TR808_AUDIO_METRICS = (TEST_MSS_LOG_LIN, TEST_JTFS, TEST_FAD)  # Table 4
TR808_TRANSIENT_METRICS = (
    TEST_TRANSIENT_LOUDNESS_L1,
    TEST_TRANSIENT_CENTROID_L1,
    TEST_TRANSIENT_FLATNESS_L1,
)  # Table 8
TR808_DECAY_METRICS = (TEST_DECAY_LOUDNESS_L1, TEST_DECAY_CENTROID_L1, TEST_DECAY_FLATNESS_L1)  # Table 9
TR808_METRICS = TR808_AUDIO_METRICS + TR808_TRANSIENT_METRICS + TR808_DECAY_METRICS


def tr808_column(metric: str, split: str = "test") -> str:
    """Column / MLflow metric name of a ``trainables.perceptual.METRICS`` entry on a split
    (``tr808_column("jtfs") == "test_jtfs"``; ``split="val"`` for validation curves)."""
    return f"{split}_{metric}"

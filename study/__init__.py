"""The study platform: ``python -m study run <study>`` on Ray Tune, logged to MLflow (see ``study.cli``).

Modules: ``cli`` (commands), ``settings`` (how a study runs), ``runner`` (run/resume), ``cluster`` (Ray
connection, resources), ``preflight`` (input files checked before Ray starts), ``theta_is_stage`` (π
via Ray tasks; ``theta_is_blocks`` keeps its finished chunks for a resume), ``fit`` (one Tune fit:
trial configs, Tuner restore or create), ``param_space`` (spec →
Tune param space), ``searchers``, ``progress`` (summary line), ``trial`` (the Tune trainable of a
trial), ``trial_log`` (a trial's MLflow run and its spool), ``tracking`` (the driver's MLflow calls),
``artifacts`` (trial files), ``finish`` (after fit: close runs, report, the ``Outcome``), ``export``
(tables), ``status`` (list/status), ``layout`` (the study directory), ``errors``.
"""

"""The study platform: ``python -m study run <study>`` on Ray Tune, logged to MLflow (see ``study.cli``).

Modules: ``cli`` (commands), ``runner`` (run/resume), ``cluster`` (Ray connection, resources),
``param_space`` (spec → Tune param space), ``theta_is_stage`` (π via Ray tasks), ``tracking`` (every
MLflow call, spool), ``progress`` (summary line), ``artifacts`` (trial files), ``export`` (tables),
``status`` (list/status), ``layout`` (the study directory), ``errors``.
"""

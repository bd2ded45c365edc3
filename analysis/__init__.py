"""Analysis of SCRAPL studies: paper-style tables, paired statistics, seed planning and plots.

Kept import-light on purpose: importing ``analysis`` (or ``analysis.curves``, which every training
trial uses) pulls in neither pandas, scipy, matplotlib, mlflow, torch nor ray. Modules:

* ``schema``        the names shared with the study layer (tags, metrics, CSV columns, artifacts);
* ``curves``        TV and convergence step of one validation curve (numpy only);
* ``stats``         CIs (paper-z, t, bootstrap), paired differences, tests, Holm, d_z;
* ``power``         seeds needed for a target power (statsmodels);
* ``formatting``    the paper's number formatting;
* ``data``          loading/validating the per-seed and curve tables, pairing by seed;
* ``mlflow_source`` reading a study from MLflow (mlflow imported lazily);
* ``theta_is``      loading/validating the θ-IS π and path table;
* ``tables``        Table 2 / 6 / 3-7 style tables and the seed-planning table;
* ``render``        Markdown / LaTeX / CSV rendering of a table;
* ``plots``         figures (matplotlib, Agg);
* ``report``        ablation + deltas tables in every format to a directory (one call);
* ``output``        atomic file writing;
* ``cli``           ``python -m analysis``.
"""

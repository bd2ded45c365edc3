"""Study specs: which arms, presets and seeds a study runs (no Ray, no MLflow, no torch at import).

``search_spaces.spec`` holds the validated dataclasses (``StudySpec``, ``Arm``, ``Cell``, ``Param``...),
``search_spaces.studies`` the built-in studies (``ablation``, ``losses``, ``theta_is``, ``hpo``).
"""

from search_spaces.spec import (
    FAULT_KINDS,
    STUDY_KINDS,
    Arm,
    Cell,
    Fault,
    HpoSettings,
    Param,
    SpecError,
    StudySpec,
    parse_seeds,
)
from search_spaces.studies import ARM_LIBRARY, BUILDERS, ablation, hpo, losses, theta_is

__all__ = [
    "FAULT_KINDS",
    "STUDY_KINDS",
    "Arm",
    "Cell",
    "Fault",
    "HpoSettings",
    "Param",
    "SpecError",
    "StudySpec",
    "parse_seeds",
    "ARM_LIBRARY",
    "BUILDERS",
    "ablation",
    "hpo",
    "losses",
    "theta_is",
]

"""A study's exported tables (study/export.py), from its runs as read back (no Ray, no trials here)."""

import pandas as pd

from analysis.data import validate_per_seed
from analysis.mlflow_source import StudyRuns
from search_spaces import studies
from study.export import export_tables
from study.layout import StudyDir


def test_a_losses_study_compares_every_loss_with_scrapl(tmp_path):
    """Table 1's deltas: each loss against SCRAPL (all three techniques), paired by seed; the full-JTFS arm
    ran on seed 0 only, so its row has one pair and the other rows keep all their seeds."""
    spec = studies.losses("l", preset="smoke-granular", seeds=(0, 1, 2), jtfs_seeds=1)
    arms = [a for a in spec.arm_names if a in ("jtfs", studies.LOSSES_REFERENCE, "mss-linear", "p-loss")]
    rows = [
        {"arm": a, "seed": s, "test_theta_l1": 0.1 * (i + 1) + 0.01 * s * s * (i + 1), "val_total_variation": 0.004,
         "convergence_step": float("nan")}
        for i, a in enumerate(arms) for s in ((0,) if a == "jtfs" else (0, 1, 2))
    ]  # fmt: skip
    per_seed = validate_per_seed(pd.DataFrame(rows), source="test")
    runs = StudyRuns("l", "sqlite://", "1", None, per_seed)
    sdir = StudyDir(tmp_path / "l")
    said: list[str] = []
    export_tables(spec, sdir, "sqlite://", said.append, runs=runs)
    deltas = pd.read_csv(sdir.tables / "losses_deltas.csv")
    scrapl = spec.arm(studies.LOSSES_REFERENCE).display
    others = [a for a in arms if a != studies.LOSSES_REFERENCE]
    assert list(dict.fromkeys(deltas["comparison"])) == [f"{spec.arm(a).display} vs {scrapl}" for a in others]
    text = (sdir.tables / "losses_deltas.md").read_text()
    assert f"Each arm against {scrapl}" in text and "MSS Linear vs SCRAPL" in text, said

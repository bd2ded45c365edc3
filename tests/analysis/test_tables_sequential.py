"""The adaptive-seeds table (``analysis.tables_sequential``) from a verdict of ``analysis.sequential.decide``."""

import math

import numpy as np

from analysis.render import render
from analysis.schema import CONVERGENCE_STEP, TEST_THETA_L1
from analysis.sequential import Design, decide
from analysis.tables_sequential import sequential_table


def test_the_table_says_seeds_boundary_decision_and_why():
    d = np.array([-0.010, -0.012, -0.011, -0.009, -0.010])  # a clear effect on θ L1
    never = np.full(5, np.nan)  # no run converged: no pairs, futile (it could not get 3 by 10 seeds either)
    verdict = decide(
        {"b vs a: test_theta_l1": d, "b vs a: convergence_step": never}, Design(min_seeds=5, wave=5, max_seeds=10)
    )
    doc = verdict.to_dict()
    rows = [{"comparison": "+B vs A", "metric": TEST_THETA_L1}, {"comparison": "+B vs A", "metric": CONVERGENCE_STEP}]
    table = sequential_table(doc, rows)
    effect, steps = table.rows
    first = doc["comparisons"][0]
    assert effect[-1].value == first["decision"] == "effect" and steps[-1].value == "futility"
    assert effect[3].data["estimate"] == first["estimate"] * 1000  # θ L1 × 1000, as the paper
    assert effect[3].value == "-10.4" and effect[2].value == "5"
    assert math.isclose(float(effect[5].value), first["boundary"], rel_tol=1e-2)
    assert effect[3].note.startswith("[-") and steps[3].value == "n/a" and steps[2].value == "0"
    md = render(table, "markdown")
    assert "Adaptive seeds: 5 seeds run (looks at 5; at most 10, waves of 5 from 5)" in md
    assert verdict.reason[1:] in md and "O'Brien–Fleming-type" in md
    csv = render(table, "csv")
    assert "effect" in csv and "futility" in csv and verdict.stop

"""analysis.factorial and the factorial table: 2^k effects paired by seed, against hand-worked values
and statsmodels AnovaRM."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.anova import AnovaRM

from analysis.cli import main
from analysis.factorial import effect_terms, factor_levels, factorial_effects
from analysis.render import to_csv
from analysis.tables_factorial import factorial_table

ARMS = [
    "scrapl",
    "p-adam",
    "p-saga",
    "theta-is",
    "p-adam+p-saga",
    "p-adam+theta-is",
    "p-saga+theta-is",
    "p-adam+p-saga+theta-is",
]


def two_by_two(values):
    """values[seed] = (y scrapl, y p-adam, y p-saga, y p-adam+p-saga)."""
    arms = ["scrapl", "p-adam", "p-saga", "p-adam+p-saga"]
    return pd.DataFrame(
        [{"arm": a, "seed": s, "y": v} for s, row in enumerate(values) for a, v in zip(arms, row, strict=True)]
    )


def test_factor_levels_and_terms():
    assert factor_levels("scrapl", ["p-adam", "p-saga"]) == (0, 0)
    assert factor_levels("p-saga+p-adam", ["p-adam", "p-saga"]) == (1, 1)
    with pytest.raises(ValueError, match=r"'p-adam\+x' is not a factorial arm"):
        factor_levels("p-adam+x", ["p-adam", "p-saga"])
    assert effect_terms(["a", "b", "c"]) == [
        ("a",),
        ("b",),
        ("c",),
        ("a", "b"),
        ("a", "c"),
        ("b", "c"),
        ("a", "b", "c"),
    ]


def test_two_by_two_hand_worked():
    # per seed (scrapl, p-adam, p-saga, both):
    #   seed 0: 10, 8, 9, 5   P-Adam effect ((8 − 10) + (5 − 9)) / 2 = −3;  interaction ((5 − 9) − (8 − 10)) / 2 = −1
    #   seed 1: 12, 9, 11, 7  P-Adam effect (−3 + −4) / 2 = −3.5;           interaction (−4 + 3) / 2 = −0.5
    #   seed 2: 11, 9, 10, 7  P-Adam effect (−2 + −3) / 2 = −2.5;           interaction (−3 + 2) / 2 = −0.5
    df = two_by_two([(10, 8, 9, 5), (12, 9, 11, 7), (11, 9, 10, 7)])
    effects = {
        e.term: e for e in factorial_effects(df, "y", ["p-adam", "p-saga"], labels={"p-adam": "A", "p-saga": "S"})
    }
    a, ax = effects[("p-adam",)], effects[("p-adam", "p-saga")]
    assert a.estimate == pytest.approx(-3.0) and ax.estimate == pytest.approx(-2.0 / 3)
    # per-seed P-Adam effects −3, −3.5, −2.5: sd 0.5, half-width t(0.975, 2) · 0.5 / sqrt(3)
    half = sps.t.ppf(0.975, 2) * 0.5 / math.sqrt(3)
    assert (a.ci_low, a.ci_high) == pytest.approx((-3 - half, -3 + half))
    t = -3 / (0.5 / math.sqrt(3))
    assert a.f == pytest.approx(t**2) and a.p_value == pytest.approx(2 * sps.t.sf(abs(t), 2))
    assert a.partial_eta_sq == pytest.approx(t**2 / (t**2 + 2)) and a.d_z == pytest.approx(-6.0)
    assert a.label == "A" and ax.label == "A × S" and a.n == 3


def test_three_factors_agree_with_anovarm_and_recover_a_planted_effect():
    rng = np.random.default_rng(4)
    rows = []
    for seed in range(10):
        block = rng.normal(0, 1)
        for arm in ARMS:
            on = {t: t in arm.split("+") for t in ("p-adam", "p-saga", "theta-is")}
            y = block - 2.0 * on["p-adam"] + 1.0 * (on["p-saga"] and on["theta-is"]) + rng.normal(0, 0.2)
            rows.append({"arm": arm, "seed": seed, "y": y})
    df = pd.DataFrame(rows)
    effects = factorial_effects(df, "y")
    names = {"p-adam": "adam", "p-saga": "saga", "theta-is": "tis"}  # formula-safe factor names
    ref = (
        AnovaRM(
            df.assign(**{v: df["arm"].map(lambda a, f=f: f in a.split("+")) for f, v in names.items()}),
            "y",
            "seed",
            within=list(names.values()),
        )
        .fit()
        .anova_table
    )
    for e in effects:
        row = ref.loc[":".join(names[t] for t in e.term)]
        assert e.f == pytest.approx(row["F Value"], rel=1e-6) and e.p_value == pytest.approx(row["Pr > F"], rel=1e-6)
    by = {e.term: e for e in effects}
    # planted: P-Adam main effect −2; P-SAGA×θ-IS cell bonus +1 = main effects +0.5 each, interaction +0.5
    assert by[("p-adam",)].ci_low < -2 < by[("p-adam",)].ci_high
    assert by[("p-saga", "theta-is")].ci_low < 0.5 < by[("p-saga", "theta-is")].ci_high
    assert by[("p-adam",)].p_value < 1e-6 and by[("p-adam", "p-saga", "theta-is")].p_value > 0.01


def test_missing_arm_and_too_few_complete_seeds():
    df = two_by_two([(1, 2, 3, 4)] * 3)
    with pytest.raises(
        ValueError,
        match=r"needs all 8 arms; no runs for theta-is, p-saga\+theta-is, p-adam\+theta-is, p-adam\+p-saga\+theta-is$",
    ):
        factorial_effects(df, "y")
    sparse = two_by_two([(1, 2, 3, 4), (1, 2, np.nan, 4), (2, 3, 4, 6)])
    with pytest.raises(ValueError, match="only 2 seed\\(s\\) have a value in all 4 arms"):
        factorial_effects(sparse, "y", ["p-adam", "p-saga"])


def _factorial_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(6):
        for arm in ARMS:
            conv = (
                ""
                if (seed == 5 and arm == "scrapl")
                else 96 * (60 - 10 * ("theta-is" in arm) + int(rng.integers(0, 4)))
            )
            rows.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "test_theta_l1": 0.1 - 0.01 * ("p-adam" in arm) + rng.normal(0, 0.002),
                    "val_total_variation": 0.005 + rng.normal(0, 0.0003),
                    "convergence_step": conv,
                }
            )
    path = tmp_path / "fact.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path, pd.read_csv(path)


def test_table_and_cli(tmp_path, capsys):
    path, raw = _factorial_csv(tmp_path)
    table = factorial_table(raw)
    assert [r[0].value for r in table.rows][:3] == ["P-Adam", "P-SAGA", "θ-IS"] and len(table.rows) == 7
    cell = table.column("effect_test_theta_l1")[0]
    assert cell.bold and cell.data["mean"] == pytest.approx(-10, abs=2) and cell.data["n"] == 6
    assert table.column("effect_convergence_step")[0].data["n"] == 5  # seed 5 never converged in scrapl
    assert "Conv. Steps 5" in table.caption and "21 tests" in table.caption
    assert "np.float64" not in to_csv(table)
    assert main(["table", "factorial", "--csv", str(path), "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert r"\begin{tabular}" in out and r"$\eta^2_p$" in out
    assert main(["table", "factorial", "--csv", str(path), "--factors", "p-adam,p-saga,x"]) == 1
    assert "needs all 8 arms" in capsys.readouterr().err


def test_every_combination_is_one_arm():
    assert sorted(itertools.product((0, 1), repeat=3)) == sorted(
        factor_levels(a, ["p-adam", "p-saga", "theta-is"]) for a in ARMS
    )

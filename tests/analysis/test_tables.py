import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

from analysis import data, tables
from analysis.formatting import format_p_bare
from analysis.render import to_csv, to_markdown


def cells(table, key):
    """Plain text of one column, e.g. '200 ± 92' or '**96**'."""
    from analysis.render import _md_cell

    return [_md_cell(c) for c in table.column(key)]


@pytest.fixture
def tiny(tiny_csv):
    return data.load_per_seed_csv(tiny_csv)


# --- Table 2 style ------------------------------------------------------------------------------------
def test_ablation_hand_worked_paper_z(tiny):
    t = tables.ablation_table(tiny, ["A", "B", "J"], reference_arms=["J"])
    # A L1 ×1000 = 100, 200, 300: mean 200, std0 = sqrt(20000/3) = 81.65, 1.96 * 81.65 / sqrt(3) = 92.4
    # B L1 ×1000 = 200, 400, 500: mean 366.7, std0 = 124.7 -> 141.1 (2 s.f. 140)
    assert cells(t, "test_theta_l1") == ["**200 ± 92**", "367 ± 140", "50.0"]
    # TV ×1000: A 4, 6, 5 -> 5.00 ± 1.96 * sqrt(2/3) / sqrt(3) = 0.924; B 3, 4, 5 -> 4.00 ± 0.92
    assert cells(t, "val_total_variation") == ["5.00 ± 0.92", "**4.00 ± 0.92**", "2.00"]
    # steps over converged runs: A 960, 1920 -> 1440 ± 1.96 * 480 / sqrt(2) = 665; B 480, 960 -> 720 ± 333
    assert cells(t, "convergence_step") == ["1440 ± 665", "**720 ± 333**", "96"]
    # CR: 2/3 each (a tie, so nothing is bold), the single J run converged
    assert cells(t, "convergence_rate") == ["67%", "67%", "100%"]
    assert t.column("arm")[2].value == "J"


def test_ablation_caption_states_n_ci_and_test(tiny):
    t = tables.ablation_table(tiny, ["A", "B", "J"], reference_arms=["J"])
    assert "n runs by arm: A 3, B 3, J 1 (single run, no CI: J)" in t.caption
    assert "CI: paper-z (normal approximation as in the paper, 1.96 · std(ddof=0) / sqrt(n))" in t.caption
    assert "converged: A 2/3, B 2/3, J 1/1" in t.caption
    assert "No significance test" in t.caption and "reference arms not compared: J" in t.caption


def test_ablation_t_and_bootstrap_and_paper_flag(tiny):
    t = tables.ablation_table(tiny, ["A", "B"], ci="t", paper=True, labels=["SCRAPL", "+P-Adam"])
    assert [c.key for c in t.columns] == ["arm", "test_theta_l1", "val_total_variation", "convergence_step"]
    # A: t(0.975, 2) * 100 / sqrt(3) = 248.4 -> 250
    assert cells(t, "test_theta_l1")[0] == "**200 ± 250**"
    assert [c.value for c in t.column("arm")] == ["SCRAPL", "+P-Adam"]
    assert "CI: t (Student-t" in t.caption
    with pytest.raises(ValueError, match="Generator"):
        tables.ablation_table(tiny, ["A"], ci="bootstrap")
    b = tables.ablation_table(tiny, ["A"], ci="bootstrap", rng=np.random.default_rng(0), rng_seed=0)
    assert "bootstrap" in b.caption and "generator seed 0" in b.caption
    assert t.column("test_theta_l1")[0].data["ci_method"] == "t"


def test_ablation_no_converged_run_prints_na(tiny):
    df = tiny.copy()
    df.loc[df["arm"] == "A", "convergence_step"] = math.nan
    t = tables.ablation_table(df, ["A", "B"])
    assert cells(t, "convergence_step")[0] == "N/A" and cells(t, "convergence_rate")[0] == "0%"


def test_ablation_unknown_arm_and_labels_mismatch(tiny):
    with pytest.raises(ValueError, match=r"'Z' named in --arms have no runs; arms present: A, B, J"):
        tables.ablation_table(tiny, ["A", "Z"])
    with pytest.raises(ValueError, match="--labels has 1 entries but --arms has 2"):
        tables.ablation_table(tiny, ["A", "B"], labels=["x"])


# --- Table 6 style ------------------------------------------------------------------------------------
def test_deltas_hand_worked(tiny):
    t = tables.deltas_table(tiny, ["A", "B"])
    # L1 d ×1000 = 100, 200, 200: mean 166.7, sd 57.7, t(0.975,2) * 57.7 / sqrt(3) = 143.4; t = 5 -> p = 0.0378
    assert cells(t, "delta_test_theta_l1") == ["167 ± 140 (p = 0.04)"]
    # TV d ×1000 = -1, -2, 0: mean -1, sd 1 -> 4.303 / sqrt(3) = 2.48; t = -1.732 -> p = 1 - 1.732/sqrt(5) = 0.225
    assert cells(t, "delta_val_total_variation") == ["-1.00 ± 2.5 (p = 0.23)"]
    # steps: only seed 0 converged in both arms: 480 - 960 = -480, no CI, no test
    assert cells(t, "delta_convergence_step") == ["-480 (p = n/a; 1/3 pairs)"]
    assert "pairs used: B vs A 1/3" in t.caption
    # Holm over the two defined tests: 0.0378 * 2 = 0.0755 -> 0.08; max(0.0755, 0.225) -> 0.23
    assert cells(t, "p_holm_test_theta_l1") == ["0.08"] and cells(t, "p_holm_val_total_variation") == ["0.23"]
    assert cells(t, "d_z_test_theta_l1") == ["2.89"] and cells(t, "d_z_val_total_variation") == ["-1.00"]
    w = sps.wilcoxon(np.array([100.0, 200.0, 200.0])).pvalue
    assert t.column("delta_test_theta_l1")[0].data["wilcoxon_p"] == pytest.approx(w)
    assert "paired t-test (scipy.stats.ttest_rel)" in t.caption and "n = 3 pairs per comparison" in t.caption


def test_deltas_against_a_reference_arm(tiny):
    """Table 1's family: every other arm against one reference (here A), not each row against the one above."""
    df = pd.concat(
        [tiny, pd.DataFrame({"arm": "C", "seed": [0, 1, 2], "test_theta_l1": [0.15, 0.25, 0.45]})], ignore_index=True
    )
    df["val_total_variation"] = df["val_total_variation"].fillna(0.004)
    t = tables.deltas_table(df, ["B", "A", "C"], reference="A")
    assert cells(t, "comparison") == ["B vs A", "C vs A"]
    assert cells(t, "delta_test_theta_l1")[0] == "167 ± 140 (p = 0.04)"  # as B vs A in test_deltas_hand_worked
    # C − A, ×1000: 50, 50, 150 -> mean 83.3, paired t-test as scipy
    c = t.column("delta_test_theta_l1")[1].data
    assert c["mean"] == pytest.approx(250 / 3) and c["p_value"] == pytest.approx(
        sps.ttest_rel([0.15, 0.25, 0.45], [0.1, 0.2, 0.3]).pvalue
    )
    assert t.caption.startswith("Each arm against A, paired by seed")
    consecutive = tables.deltas_table(df, ["B", "A", "C"])
    assert cells(consecutive, "comparison") == ["A vs B", "C vs A"]
    with pytest.raises(ValueError, match="--reference 'J' is not one of the arms"):
        tables.deltas_table(df, ["A", "B"], reference="J")


def test_deltas_cross_check_against_scipy_and_statsmodels():
    rng = np.random.default_rng(12)
    rows = []
    for i, arm in enumerate("ABCD"):
        for s in range(20):
            rows.append(
                {
                    "arm": arm,
                    "seed": s,
                    "test_theta_l1": 0.1 - 0.01 * i + rng.normal(0, 0.01),
                    "val_total_variation": 0.005 + rng.normal(0, 0.0005),
                    "convergence_step": float(96 * rng.integers(20, 80)) if rng.random() < 0.8 else math.nan,
                }
            )
    df = data.validate_per_seed(pd.DataFrame(rows))
    t = tables.deltas_table(df, list("ABCD"))
    ps = []
    for a, b in zip("ABC", "BCD", strict=True):
        for key in ("test_theta_l1", "val_total_variation", "convergence_step"):
            xa = df[df.arm == a].set_index("seed")[key]
            xb = df[df.arm == b].set_index("seed")[key]
            ok = xa.notna() & xb.notna()
            ps.append(sps.ttest_rel(xb[ok], xa[ok]).pvalue)
    # row i = comparison, Δ column of metric j at 1 + 4 j (each Δ is followed by 3 extra columns)
    got = [t.rows[i][1 + 4 * j].data["p_value"] for i in range(3) for j in range(3)]
    np.testing.assert_allclose(got, ps, rtol=1e-10)
    adjusted = [t.rows[i][1 + 4 * j].data["p_adjusted"] for i in range(3) for j in range(3)]
    np.testing.assert_allclose(adjusted, multipletests(ps, method="holm")[1], rtol=1e-10)
    d = (df[df.arm == "B"]["test_theta_l1"].to_numpy() - df[df.arm == "A"]["test_theta_l1"].to_numpy()) * 1000
    low, high = sps.t.interval(0.95, 19, loc=d.mean(), scale=sps.sem(d))
    cell = t.rows[0][1]
    assert cell.data["mean"] == pytest.approx(d.mean()) and cell.data["ci_half_width"] == pytest.approx(
        (high - low) / 2
    )


def test_deltas_paper_flag_drops_extra_columns(tiny):
    t = tables.deltas_table(tiny, ["A", "B"], paper=True)
    assert [c.key for c in t.columns] == [
        "comparison",
        "delta_test_theta_l1",
        "delta_val_total_variation",
        "delta_convergence_step",
    ]
    assert "Holm" not in t.caption and "Wilcoxon" not in t.caption
    assert [c.value for c in t.column("comparison")] == ["B"] and "(row = the later arm)" in t.caption


def test_deltas_refuse_unpaired_unless_dropped(tiny):
    df = tiny[~((tiny["arm"] == "B") & (tiny["seed"] == 2))]
    with pytest.raises(ValueError, match=r"seed\(s\) 2 have a run in 'A' but not in 'B'"):
        tables.deltas_table(df, ["A", "B"])
    t = tables.deltas_table(df, ["A", "B"], drop_unpaired=True)
    assert "Unpaired runs dropped (--drop-unpaired): seed(s) 2 of A" in t.caption
    assert t.column("delta_test_theta_l1")[0].data["n"] == 2


def test_deltas_bold_most_negative_and_need_two_arms(tiny):
    df = tiny.copy()
    df.loc[df["arm"] == "J", "arm"] = "X"
    with pytest.raises(ValueError, match="at least 2 arms"):
        tables.deltas_table(tiny, ["A"])
    # A -> B worsens L1 (+167), B -> A2 improves it: only the improvement is bold
    extra = tiny[tiny["arm"] == "A"].assign(arm="A2")
    t = tables.deltas_table(pd.concat([tiny, extra]), ["A", "B", "A2"], paper=True)
    assert [c.bold for c in t.column("delta_test_theta_l1")] == [False, True]


# --- Tables 3/7 style ---------------------------------------------------------------------------------
@pytest.fixture
def theta_df():
    rows = [  # preset, arm, seed, L1 am, conv am
        ("c1", "uniform", 0, 0.1, 96.0),
        ("c1", "uniform", 1, 0.3, math.nan),
        ("c1", "theta_is", 0, 0.05, 48.0),
        ("c1", "theta_is", 1, 0.07, 96.0),
        ("c2", "uniform", 0, 0.2, 96.0),
        ("c2", "uniform", 1, 0.2, 96.0),
        ("c2", "theta_is", 0, 0.2, 96.0),
        ("c2", "theta_is", 1, 0.2, 96.0),
    ]
    df = pd.DataFrame(rows, columns=["preset", "arm", "seed", "test_theta_l1_am", "convergence_step_am"])
    df["test_theta_l1"] = df["test_theta_l1_am"]
    df["val_total_variation"] = 0.001
    df["convergence_step"] = df["convergence_step_am"]
    return data.validate_per_seed(df)


def test_theta_is_hand_worked(theta_df):
    t = tables.theta_is_table(theta_df, ["uniform", "theta_is"], ["am"], labels=["Uniform", "θ-IS"])
    # c1 uniform: 100, 300 -> 200 ± 1.96 * 100 / sqrt(2) = 138.6; θ-IS: 50, 70 -> 60.0 ± 13.9
    assert cells(t, "test_theta_l1_am")[:2] == ["200 ± 140", "**60.0 ± 14**"]
    assert cells(t, "test_theta_l1_am")[2:] == ["200 ± 0.0", "200 ± 0.0"]  # a tie: nothing bold
    assert cells(t, "convergence_rate_am") == ["50%", "**100%**", "100%", "100%"]
    # steps: uniform one converged run (96, no CI); θ-IS 48, 96 -> 72 ± 1.96 * 24 / sqrt(2) = 33
    assert cells(t, "convergence_step_am") == ["96", "**72 ± 33**", "96 ± 0", "96 ± 0"]
    assert [c.value for c in t.column("preset")] == ["c1", "c1", "c2", "c2"]
    assert t.group_starts == {0, 2}
    assert "n = 2 runs per arm and configuration" in t.caption


def test_theta_is_errors(theta_df):
    with pytest.raises(ValueError, match="per-parameter column\\(s\\) missing: test_theta_l1_fm, convergence_step_fm"):
        tables.theta_is_table(theta_df, ["uniform", "theta_is"], ["fm"])
    with pytest.raises(ValueError, match="configuration 'c1': arm\\(s\\) 'x' named in --arms have no runs"):
        tables.theta_is_table(theta_df, ["uniform", "x"], ["am"])
    with pytest.raises(ValueError, match="configuration\\(s\\) c9 have no runs"):
        tables.theta_is_table(theta_df, ["uniform", "theta_is"], ["am"], configs=["c9"])


# --- seed planning ------------------------------------------------------------------------------------
def test_plan_seeds_cross_checks_ttestpower():
    rng = np.random.default_rng(21)
    rows = [
        {
            "arm": arm,
            "seed": s,
            "test_theta_l1": 0.1 + (0.004 if arm == "B" else 0) + rng.normal(0, 0.01),
            "val_total_variation": 0.005,
            "convergence_step": 960.0,
        }
        for arm in "AB"
        for s in range(10)
    ]
    df = data.validate_per_seed(pd.DataFrame(rows))
    t = tables.plan_seeds_table(df, ["A", "B"], metrics=["test_theta_l1"], alpha=0.05, power=0.8)
    row = t.rows[0]
    d = df[df.arm == "B"]["test_theta_l1"].to_numpy() - df[df.arm == "A"]["test_theta_l1"].to_numpy()
    d_z = d.mean() / d.std(ddof=1)
    assert row[4].data["d_z"] == pytest.approx(d_z)
    n = TTestPower().solve_power(effect_size=abs(d_z), alpha=0.05, power=0.8)  # one comparison: no split
    assert row[6].data["seeds_needed"] == math.ceil(n)
    assert row[5].data["power"] == pytest.approx(TTestPower().power(abs(d_z), 10, 0.05))
    t3 = tables.plan_seeds_table(df, ["A", "B"], alpha=0.05, power=0.8)
    assert t3.rows[0][6].data["alpha"] == pytest.approx(0.05 / 3)
    assert "α = 0.05 / 3" in t3.caption
    # identical TV in both arms: no effect to detect
    assert t3.rows[1][6].value == "n/a"


def test_tables_render_to_markdown(tiny):
    md = to_markdown(tables.ablation_table(tiny, ["A", "B"]))
    lines = md.splitlines()
    assert lines[0].startswith("**Ablation (Table 2 style).** Per-arm mean ± 95 % CI")
    assert lines[2] == "| Method | Test θ L1 % ↓ | Val. Total Var. ↓ | Conv. Steps ↓ | CR ↑ |"
    assert lines[4] == "| A | **200 ± 92** | 5.00 ± 0.92 | 1440 ± 665 | 67% |"


@pytest.mark.parametrize("build", ["ablation", "deltas", "theta_is"])
def test_every_builder_checks_the_ci_arguments_first(build, tiny, theta_df):
    call = {
        "ablation": lambda **kw: tables.ablation_table(tiny, ["A", "B"], **kw),
        "deltas": lambda **kw: tables.deltas_table(tiny, ["A", "B"], **kw),
        "theta_is": lambda **kw: tables.theta_is_table(theta_df, ["uniform", "theta_is"], ["am"], **kw),
    }[build]
    with pytest.raises(ValueError, match=r"^the bootstrap CI needs a numpy.random.Generator \(rng=...\)$"):
        call(ci="bootstrap")
    with pytest.raises(ValueError, match=r"^unknown CI method 'z'"):
        call(ci="z")


def test_ranking_hints_are_cell_fields_not_csv_columns(tiny):
    t = tables.deltas_table(tiny, ["A", "B"])
    cell = t.column("delta_test_theta_l1")[0]
    assert cell.rank == pytest.approx(cell.data["mean"]) and cell.better == "min"
    header = to_csv(tables.ablation_table(tiny, ["A", "B"])).splitlines()[0]
    assert "_sort" not in header and "_dir" not in header and "rank" not in header


def test_deltas_test_auto_picks_wilcoxon_where_shapiro_rejects_normality():
    """Ten seeds; B − A on θ L1 has one outlier (Shapiro rejects → Wilcoxon), on TV it is near-normal (t).
    The Δ cell's p is the chosen test's, Holm runs over the chosen p, and caption and cell name Wilcoxon."""
    l1_d = np.array([0.01, 0.012, 0.011, 0.013, 0.009, 0.01, 0.012, 0.011, 0.01, 0.2])
    tv_d = np.array([-1.2, -0.4, 0.1, 0.3, 0.6, 0.9, 1.4, 2.0, -0.7, 0.2]) * 1e-3
    rows = [
        {"arm": arm, "seed": s, "test_theta_l1": 0.1 + k * l1_d[s], "val_total_variation": 0.005 + k * tv_d[s]}
        for k, arm in enumerate("AB")
        for s in range(10)
    ]
    df = data.validate_per_seed(pd.DataFrame(rows).assign(convergence_step=math.nan))
    t = tables.deltas_table(df, ["A", "B"], test="auto")
    l1, tv = t.column("delta_test_theta_l1")[0], t.column("delta_val_total_variation")[0]
    assert l1.data["test"].startswith("Wilcoxon") and l1.data["p_value"] == pytest.approx(sps.wilcoxon(l1_d).pvalue)
    assert tv.data["test"].startswith("paired t") and tv.data["p_value"] == pytest.approx(
        sps.ttest_rel(tv_d, 0 * tv_d).pvalue
    )
    assert l1.data["shapiro_p"] == pytest.approx(sps.shapiro(l1_d).pvalue)
    assert l1.data["shapiro_p"] < 0.05 < tv.data["shapiro_p"]
    holm = multipletests([l1.data["p_value"], tv.data["p_value"]], method="holm")[1]
    assert [l1.data["p_adjusted"], tv.data["p_adjusted"]] == pytest.approx(list(holm))
    assert (
        "Wilcoxon" in cells(t, "delta_test_theta_l1")[0] and "Wilcoxon" not in cells(t, "delta_val_total_variation")[0]
    )
    assert cells(t, "shapiro_p_test_theta_l1") == [format_p_bare(l1.data["shapiro_p"])]
    assert "Wilcoxon for: B vs A (Δ Test θ L1 % ↓)" in t.caption and "Shapiro–Wilk" in t.caption
    default = tables.deltas_table(df, ["A", "B"])
    assert "shapiro_p_test_theta_l1" not in [c.key for c in default.columns]
    assert default.column("delta_test_theta_l1")[0].data["p_value"] == pytest.approx(
        sps.ttest_rel(l1_d, 0 * l1_d).pvalue
    )
    with pytest.raises(ValueError, match="--test must be one of t, wilcoxon, auto"):
        tables.deltas_table(df, ["A", "B"], test="z")

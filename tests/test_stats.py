"""Tests of thesis_lib.analysis against scipy and worked examples with published answers."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from scipy.special import gammaln

from thesis_lib import analysis as stats
from thesis_lib.analysis import published
from thesis_lib.errors import ConfigError, DataError

# Student's sleep data (Cushny & Peebles via Student 1908; R's `sleep`): extra hours of sleep
# with drug 1 and drug 2 in the same 10 patients.
SLEEP_DRUG1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_DRUG2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]

# The thesis' results table (thesis_lib.analysis.published): mean accuracy (%) and SD of 5 trials.
_THESIS = published.thesis_table().set_index("modules")
THESIS_BASELINE = (_THESIS.loc[0, "mean"] * 100, _THESIS.loc[0, "sd"] * 100, 5)
THESIS_FOUR_MODULES = (_THESIS.loc[4, "mean"] * 100, _THESIS.loc[4, "sd"] * 100, 5)


# --- worked examples with published answers


def test_welch_on_sleep_data_matches_published_r_output():
    # R: t.test(extra ~ group, data = sleep) -> t = -1.8608, df = 17.776, p-value = 0.07939,
    # 95 percent confidence interval: -3.3654832 0.2054832
    result = stats.compare_samples(SLEEP_DRUG1, SLEEP_DRUG2, equal_var=False)
    assert result.test == stats.WELCH
    assert result.diff == pytest.approx(0.75 - 2.33)
    assert result.t == pytest.approx(-1.8608, abs=5e-5)
    assert result.df == pytest.approx(17.776, abs=5e-4)
    assert result.p_value == pytest.approx(0.07939, abs=5e-6)
    assert (result.ci_low, result.ci_high) == pytest.approx((-3.3654832, 0.2054832), abs=5e-8)


def test_pooled_on_sleep_data_matches_published_r_output():
    # R: t.test(extra ~ group, data = sleep, var.equal = TRUE) -> t = -1.8608, df = 18,
    # p-value = 0.07919, 95 percent confidence interval: -3.363874 0.203874
    result = stats.compare_samples(SLEEP_DRUG1, SLEEP_DRUG2, equal_var=True)
    assert result.test == stats.POOLED
    assert result.df == 18
    assert result.t == pytest.approx(-1.8608, abs=5e-5)
    assert result.p_value == pytest.approx(0.07919, abs=5e-6)
    assert (result.ci_low, result.ci_high) == pytest.approx((-3.363874, 0.203874), abs=5e-7)


def test_paired_on_sleep_data_matches_published_r_output():
    # R: t.test(sleep$extra[1:10], sleep$extra[11:20], paired = TRUE) -> t = -4.0621, df = 9,
    # p-value = 0.002833, 95 percent confidence interval: -2.4598858 -0.7001142
    result = stats.compare_samples(SLEEP_DRUG1, SLEEP_DRUG2, paired=True)
    assert result.test == stats.PAIRED
    assert result.df == 9
    assert result.t == pytest.approx(-4.0621, abs=5e-5)
    assert result.p_value == pytest.approx(0.002833, abs=5e-7)
    assert (result.ci_low, result.ci_high) == pytest.approx((-2.4598858, -0.7001142), abs=5e-8)


def test_mcnemar_exact_equals_hand_computed_binomial_p():
    # 2 images only a got right, 10 only b: p = 2 * P(X <= 2), X ~ Bin(12, 1/2)
    #   = 2 * (C(12,0) + C(12,1) + C(12,2)) / 2**12 = 2 * 79 / 4096
    correct_a = [True] * 30 + [True] * 2 + [False] * 10 + [False] * 5
    correct_b = [True] * 30 + [False] * 2 + [True] * 10 + [False] * 5
    result = stats.mcnemar_exact(correct_a, correct_b)
    assert (result.both_correct, result.only_a_correct, result.only_b_correct,
            result.both_wrong) == (30, 2, 10, 5)
    assert result.n == 47
    assert result.statistic == 2
    assert result.p_value == pytest.approx(158 / 4096, rel=1e-12)


def test_holm_on_a_known_vector():
    # Sorted p: 0.005, 0.01, 0.03, 0.04 -> times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04, made
    # monotone: 0.02, 0.03, 0.06, 0.06. Back in input order:
    reject, adjusted = stats.holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    assert reject.tolist() == [True, False, False, True]


def test_holm_leaves_untestable_p_values_out_of_the_family():
    reject, adjusted = stats.holm([0.02, math.nan, 0.04])
    np.testing.assert_allclose(adjusted, [0.04, math.nan, 0.04])
    assert reject.tolist() == [True, False, True]


def test_seeds_for_power_matches_cohens_table():
    # Cohen (1988), two-sided alpha = .05, power = .80: n = 64 per group for d = 0.5, 26 for
    # d = 0.8.
    assert stats.seeds_for_power(0.5) == 64
    assert stats.seeds_for_power(-0.8) == 26
    assert stats.seeds_for_power(0.0) == math.inf
    # G*Power: 394 per group for d = 0.2.
    assert stats.seeds_for_power(0.2) == 394


def test_seeds_for_power_of_a_small_effect_follows_guenthers_approximation():
    # Guenther (1981): n = 2 (z_{1-alpha/2} + z_{power})^2 / d^2 + z_{1-alpha/2}^2 / 4
    z_alpha, z_power = scipy_stats.norm.ppf(0.975), scipy_stats.norm.ppf(0.8)
    for d in (0.05, 0.02):
        approximation = 2 * (z_alpha + z_power) ** 2 / d**2 + z_alpha**2 / 4
        assert abs(stats.seeds_for_power(d) - approximation) <= 2
    assert stats.seeds_for_power(1e-5) == math.inf


# --- the thesis table, re-tested from its summary statistics


@pytest.mark.parametrize("equal_var", [True, False])
def test_thesis_table_four_modules_vs_baseline_sample_sd(equal_var):
    mean_a, sd_a, n_a = THESIS_FOUR_MODULES
    mean_b, sd_b, n_b = THESIS_BASELINE
    result = stats.compare_from_summary(mean_a, sd_a, n_a, mean_b, sd_b, n_b, sd_ddof=1,
                                        equal_var=equal_var)
    reference = scipy_stats.ttest_ind_from_stats(mean_a, sd_a, n_a, mean_b, sd_b, n_b,
                                                 equal_var=equal_var)
    # The CI formula, written out independently of the library code.
    if equal_var:
        df = n_a + n_b - 2
        se = math.sqrt(((n_a - 1) * sd_a**2 + (n_b - 1) * sd_b**2) / df * (1 / n_a + 1 / n_b))
    else:
        va, vb = sd_a**2 / n_a, sd_b**2 / n_b
        se = math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    half = scipy_stats.t.ppf(0.975, df) * se
    assert result.diff == pytest.approx(0.458, abs=1e-12)
    assert result.t == pytest.approx(reference.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.df == pytest.approx(df, rel=1e-12)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.458 - half, 0.458 + half),
                                                            rel=1e-9)
    # Reading the SDs as sample SDs: pooled t(8) = 5.276, p = 0.00075, CI [0.258, 0.658]
    # percentage points; Welch t(5.84) = 5.276, p = 0.0020, CI [0.244, 0.672]. The thesis'
    # conclusion holds: the interval lies above zero.
    assert result.ci_low > 0
    if equal_var:
        assert (result.t, result.df) == pytest.approx((5.2764, 8), abs=1e-4)
        assert (result.ci_low, result.ci_high) == pytest.approx((0.2578, 0.6582), abs=1e-4)
        assert result.p_value == pytest.approx(0.000749, abs=1e-6)
    else:
        assert (result.t, result.df) == pytest.approx((5.2764, 5.8442), abs=1e-4)
        assert (result.ci_low, result.ci_high) == pytest.approx((0.2442, 0.6718), abs=1e-4)
        assert result.p_value == pytest.approx(0.002030, abs=1e-6)


def test_thesis_table_with_population_sds_is_converted_first():
    mean_a, sd_a, n_a = THESIS_FOUR_MODULES
    mean_b, sd_b, n_b = THESIS_BASELINE
    result = stats.compare_from_summary(mean_a, sd_a, n_a, mean_b, sd_b, n_b, sd_ddof=0)
    converted = scipy_stats.ttest_ind_from_stats(mean_a, sd_a * math.sqrt(5 / 4), n_a,
                                                 mean_b, sd_b * math.sqrt(5 / 4), n_b)
    assert result.t == pytest.approx(converted.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(converted.pvalue, rel=1e-9)
    # Population SDs are smaller than the sample SDs of the same data: reading the table's SDs
    # as population SDs (ddof = 0) makes the samples more spread out and t smaller by
    # sqrt(4/5): pooled t(8) = 4.719, CI [0.234, 0.682] pp, still above zero.
    assert result.t == pytest.approx(5.2764 * math.sqrt(4 / 5), abs=1e-4)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.2342, 0.6818), abs=1e-4)
    assert result.ci_low > 0


def test_the_published_interval_is_three_modules_with_population_sds_not_four_modules():
    # The progress report prints (0.146, 0.726) pp without naming the row. Recomputed from the
    # table: 3 modules - baseline with population SDs gives (0.152, 0.724) (pooled t; Welch is
    # the same to 3 decimals, the two SDs being almost equal); the 4-module row gives
    # (0.219, 0.697) at best (Welch, population SDs).
    readings = stats.published_interval_readings(
        published.thesis_table(), baseline=published.THESIS_BASELINE,
        rows=["B2 + 3 Gram modules", "B2 + 4 Gram modules"],
        published_pp=published.PUBLISHED_INTERVAL_PP)
    assert len(readings) == 8
    closest = readings.iloc[:2]
    assert set(closest["network"]) == {"B2 + 3 Gram modules"}
    assert set(closest["sds"]) == {"population"}
    pooled = closest[closest["test"] == "pooled"].iloc[0]
    assert (pooled.ci_low_pp, pooled.ci_high_pp) == pytest.approx((0.152, 0.724), abs=5e-4)
    assert pooled.distance_pp < 0.01
    # The interval by hand: pooled t(8) from population SDs turned into sample SDs.
    mean_a, sd_a, _ = _THESIS.loc[3, "mean"] * 100, _THESIS.loc[3, "sd"] * 100, 5
    mean_b, sd_b, _ = THESIS_BASELINE
    sample_a, sample_b = sd_a * math.sqrt(5 / 4), sd_b * math.sqrt(5 / 4)
    half = scipy_stats.t.ppf(0.975, 8) * math.sqrt((sample_a**2 + sample_b**2) / 2 * (2 / 5))
    assert pooled.ci_low_pp == pytest.approx(mean_a - mean_b - half, abs=1e-9)
    four = readings[readings["network"] == "B2 + 4 Gram modules"].set_index(["sds", "test"])
    assert (four.loc[("population", "welch"), "ci_low_pp"],
            four.loc[("population", "welch"), "ci_high_pp"]) == pytest.approx((0.219, 0.697),
                                                                               abs=5e-4)
    assert (four.loc[("sample", "pooled"), "ci_low_pp"],
            four.loc[("sample", "pooled"), "ci_high_pp"]) == pytest.approx((0.258, 0.658),
                                                                            abs=5e-4)
    assert four["distance_pp"].min() > 0.07


def test_compare_from_summary_equals_compare_samples_on_the_same_data():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.82, 0.002, size=5), rng.normal(0.814, 0.003, size=7)
    for equal_var in (True, False):
        from_data = stats.compare_samples(a, b, equal_var=equal_var, alpha=0.1)
        from_summary = stats.compare_from_summary(
            a.mean(), a.std(ddof=1), 5, b.mean(), b.std(ddof=1), 7, equal_var=equal_var,
            alpha=0.1,
        )
        for field in ("diff", "ci_low", "ci_high", "t", "df", "p_value", "se", "hedges_g"):
            assert getattr(from_summary, field) == pytest.approx(getattr(from_data, field),
                                                                 rel=1e-9), field


# --- against scipy on random samples


@pytest.mark.parametrize("equal_var", [True, False])
def test_compare_samples_matches_scipy_ttest_ind(equal_var):
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.81, 0.01, size=6), rng.normal(0.80, 0.02, size=9)
    result = stats.compare_samples(a, b, equal_var=equal_var, alpha=0.01)
    reference = scipy_stats.ttest_ind(a, b, equal_var=equal_var)
    interval = reference.confidence_interval(confidence_level=0.99)
    assert result.t == pytest.approx(reference.statistic, rel=1e-10)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.df == pytest.approx(reference.df, rel=1e-10)
    assert (result.ci_low, result.ci_high) == pytest.approx(
        (interval.low, interval.high), rel=1e-9)


def test_paired_matches_scipy_ttest_rel():
    rng = np.random.default_rng(1)
    b = rng.normal(0.81, 0.01, size=5)
    a = b + rng.normal(0.004, 0.002, size=5)
    result = stats.compare_samples(a, b, paired=True)
    reference = scipy_stats.ttest_rel(a, b)
    interval = reference.confidence_interval()
    assert (result.t, result.p_value, result.df) == pytest.approx(
        (reference.statistic, reference.pvalue, reference.df), rel=1e-9)
    assert (result.ci_low, result.ci_high) == pytest.approx((interval.low, interval.high),
                                                            rel=1e-9)


def test_hedges_g_is_cohens_d_with_the_small_sample_correction():
    a, b = np.array([0.82, 0.815, 0.818, 0.821, 0.817]), np.array([0.81, 0.812, 0.809, 0.815])
    df = a.size + b.size - 2
    pooled_sd = math.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / df)
    cohens_d = (a.mean() - b.mean()) / pooled_sd
    # Hedges & Olkin (1985): J = 1 - 3 / (4 (n_a + n_b) - 9), close to the exact gamma ratio.
    approximate_j = 1 - 3 / (4 * (a.size + b.size) - 9)
    exact_j = math.exp(gammaln(df / 2) - gammaln((df - 1) / 2)) / math.sqrt(df / 2)
    assert stats.hedges_g(a, b) == pytest.approx(cohens_d * approximate_j, rel=1e-12)
    assert stats.hedges_g(a, b) == pytest.approx(cohens_d * exact_j, rel=1e-3)
    assert stats.hedges_g(b, a) == pytest.approx(-stats.hedges_g(a, b))


def test_compare_groups_matches_scipy_anova_and_kruskal():
    rng = np.random.default_rng(2)
    samples = {m: rng.normal(0.81 + 0.002 * m, 0.003, size=5) for m in (0, 2, 3, 4)}
    result = stats.compare_groups(samples)
    anova = scipy_stats.f_oneway(*samples.values())
    kruskal = scipy_stats.kruskal(*samples.values())
    assert result.groups == [0, 2, 3, 4]
    assert (result.anova_df_between, result.anova_df_within) == (3, 16)
    assert (result.anova_f, result.anova_p) == pytest.approx(
        (anova.statistic, anova.pvalue), rel=1e-10)
    assert (result.kruskal_h, result.kruskal_p) == pytest.approx(
        (kruskal.statistic, kruskal.pvalue), rel=1e-10)


def test_bootstrap_accuracy_is_seeded_and_close_to_the_normal_interval():
    correct = np.r_[np.ones(800, bool), np.zeros(200, bool)]
    first = stats.bootstrap_accuracy(correct, n_resamples=4000, seed=7)
    again = stats.bootstrap_accuracy(correct, n_resamples=4000, seed=7)
    assert first == again
    assert first.accuracy == 0.8
    # Wald interval of a proportion: p +- 1.96 sqrt(p (1 - p) / n) = 0.8 +- 0.0248
    half = 1.959964 * math.sqrt(0.8 * 0.2 / 1000)
    assert first.ci_low == pytest.approx(0.8 - half, abs=0.004)
    assert first.ci_high == pytest.approx(0.8 + half, abs=0.004)
    all_right = stats.bootstrap_accuracy(np.ones(50, bool))
    assert (all_right.ci_low, all_right.ci_high) == (1.0, 1.0)


# --- tables from run records


def _runs(values: dict, seeds=None) -> pd.DataFrame:
    rows = []
    for (variant, modules), accuracies in values.items():
        for index, accuracy in enumerate(accuracies):
            rows.append({"run_id": f"{variant}{modules}-{index}", "variant": variant,
                         "modules": modules, "backbone": "EfficientNetV2B2",
                         "seed": (seeds or range(100))[index], "dataset": "test",
                         "accuracy": accuracy})
    return pd.DataFrame(rows)


def test_compare_variants_against_scipy_and_holm():
    baseline = [0.8140, 0.8121, 0.8155, 0.8130, 0.8138]
    two = [0.8170, 0.8182, 0.8179, 0.8165, 0.8190]
    four = [0.8185, 0.8178, 0.8192, 0.8180, 0.8170]
    runs = _runs({("gram", 4): four, ("baseline", 0): baseline, ("gram", 2): two})
    table = stats.compare_variants(runs)
    assert table["network"].tolist() == ["B2 + 2 Gram modules", "B2 + 4 Gram modules"]
    for row, values in zip(table.itertuples(), (two, four), strict=True):
        welch = scipy_stats.ttest_ind(values, baseline, equal_var=False)
        pooled = scipy_stats.ttest_ind(values, baseline, equal_var=True)
        paired = scipy_stats.ttest_rel(values, baseline)
        assert row.diff == pytest.approx(np.mean(values) - np.mean(baseline))
        assert (row.welch_t, row.welch_p) == pytest.approx((welch.statistic, welch.pvalue))
        assert (row.pooled_t, row.pooled_p) == pytest.approx((pooled.statistic, pooled.pvalue))
        assert row.paired_n == 5
        assert (row.paired_t, row.paired_p) == pytest.approx((paired.statistic, paired.pvalue))
        assert row.sd_ddof1 == pytest.approx(np.std(values, ddof=1))
        assert row.seeds_for_power >= 2
    low, high = sorted(table["welch_p"])
    expected = {low: min(1, 2 * low), high: max(min(1, 2 * low), high)}
    for row in table.itertuples():
        assert row.welch_p_holm == pytest.approx(expected[row.welch_p])
        assert row.significant_holm == (row.welch_p_holm < 0.05)


def test_compare_variants_pairs_only_common_seeds_and_notes_single_runs():
    runs = pd.concat([
        _runs({("baseline", 0): [0.80, 0.81, 0.82]}, seeds=[0, 1, 2]),
        _runs({("gram", 3): [0.83, 0.82, 0.84]}, seeds=[1, 2, 5]),
        _runs({("gram", 4): [0.85]}),
    ])
    table = stats.compare_variants(runs).set_index("modules")
    assert table.loc[3, "paired_n"] == 2
    assert table.loc[3, "n"] == 3
    assert np.isfinite(table.loc[3, "paired_t"])
    assert table.loc[4, "note"] == "fewer than 2 runs: no test"
    assert np.isnan(table.loc[4, "welch_p"]) and np.isnan(table.loc[4, "welch_p_holm"])


def test_compare_variants_without_baseline_names_the_problem():
    runs = _runs({("gram", 2): [0.8, 0.81]})
    with pytest.raises(DataError, match="baseline variant 'baseline'"):
        stats.compare_variants(runs)


def test_compare_module_counts_counts_baseline_as_zero_modules():
    base, two, three = [0.81, 0.812, 0.809], [0.815, 0.816, 0.818], [0.82, 0.817, 0.821]
    runs = _runs({("baseline", 0): base, ("gram", 2): two, ("gram", 3): three,
                  ("gramnet", 4): [0.7, 0.71]})
    result = stats.compare_module_counts(runs)
    assert result.groups == [0, 2, 3]
    assert result.anova_p == pytest.approx(scipy_stats.f_oneway(base, two, three).pvalue)


def test_bad_input_gets_clear_errors():
    with pytest.raises(DataError, match="n_a must be a whole number >= 2"):
        stats.compare_from_summary(0.8, 0.01, 1, 0.7, 0.01, 5)
    with pytest.raises(ConfigError, match="sd_ddof"):
        stats.compare_from_summary(0.8, 0.01, 5, 0.7, 0.01, 5, sd_ddof=2)
    with pytest.raises(DataError, match="sd_b must not be negative"):
        stats.compare_from_summary(0.8, 0.01, 5, 0.7, -0.01, 5)
    with pytest.raises(DataError, match="equal length"):
        stats.compare_samples([1, 2, 3], [1, 2], paired=True)
    with pytest.raises(DataError, match="NaN"):
        stats.compare_samples([1, 2, math.nan], [1, 2])
    with pytest.raises(DataError, match="same images"):
        stats.mcnemar_exact([True, False], [True])
    with pytest.raises(ConfigError, match="alpha"):
        stats.holm([0.1], alpha=1.5)


def _holm_by_hand(p_values):
    """Holm's step-down adjustment written out: sorted p times (m - rank), running maximum."""
    order = np.argsort(p_values)
    adjusted, running = np.empty(len(p_values)), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


@pytest.mark.parametrize("sd_ddof", [1, 0])
def test_compare_summary_table_retests_the_whole_thesis_table(sd_ddof):
    table = published.thesis_table().assign(mean=lambda t: t["mean"] * 100,
                                            sd=lambda t: t["sd"] * 100)
    base = table.iloc[0]
    result = stats.compare_summary_table(table, baseline=published.THESIS_BASELINE,
                                         sd_ddof=sd_ddof)
    assert result["network"].tolist() == table["network"].tolist()[1:]
    scale = math.sqrt(5 / 4) if sd_ddof == 0 else 1.0
    for row, (_, network) in zip(result.itertuples(), table.iloc[1:].iterrows(), strict=True):
        for prefix, equal_var in (("welch", False), ("pooled", True)):
            reference = scipy_stats.ttest_ind_from_stats(
                network["mean"], network["sd"] * scale, 5, base["mean"], base["sd"] * scale, 5,
                equal_var=equal_var)
            assert getattr(row, f"{prefix}_t") == pytest.approx(reference.statistic)
            assert getattr(row, f"{prefix}_p") == pytest.approx(reference.pvalue)
    np.testing.assert_allclose(result["welch_p_holm"], _holm_by_hand(result["welch_p"].values))
    np.testing.assert_allclose(result["pooled_p_holm"], _holm_by_hand(result["pooled_p"].values))
    # Under both readings of the SDs: the Gram models beat the baseline after Holm's
    # correction, the Zhang et al. model does not.
    assert result["significant_holm"].tolist() == [True, True, True, False]


def test_significance_view_shows_percentage_points():
    comparisons = pd.DataFrame({
        "network": ["B2 + 4 Gram modules"], "diff": [0.00458], "welch_ci_low": [0.0024423],
        "welch_ci_high": [0.0067177], "welch_t": [5.27644], "welch_df": [5.84423],
        "welch_p": [0.00203003], "welch_p_holm": [0.00812], "hedges_g": [3.01417],
        "seeds_for_power": [4.0],
    })
    view = stats.significance_view(comparisons)
    assert view.columns.tolist() == ["network", "diff (pp)", "95 % CI (pp)", "t", "df", "p",
                                     "Holm p", "Hedges g", "seeds for 80% power"]
    assert view.iloc[0].tolist() == ["B2 + 4 Gram modules", "+0.458", "[+0.244, +0.672]",
                                     5.276, 5.84, "0.00203", "0.00812", 3.01, "4"]
    with pytest.raises(ConfigError, match="no 'paired' test"):
        stats.significance_view(comparisons, test="paired")


def test_compare_variants_on_every_dataset_the_baseline_was_evaluated_on():
    runs = pd.concat([
        _runs({("baseline", 0): [0.80, 0.81, 0.82], ("gram", 3): [0.83, 0.82, 0.84]}),
        _runs({("gram", 3): [0.7, 0.71]}).assign(dataset="emotion6"),
        _runs({("baseline", 0): [0.6, 0.62], ("gram", 3): [0.7, 0.71]}).assign(dataset="fi"),
    ])
    table = stats.compare_variants(runs, dataset=None)
    assert table["dataset"].tolist() == ["test", "fi"]
    assert table["diff"].tolist() == pytest.approx([0.02, 0.095])


def _values_with(mean, sd, n=5):
    """n values whose mean and sample SD are exactly ``mean`` and ``sd``."""
    z = np.linspace(-1, 1, n)
    return mean + sd * (z - z.mean()) / z.std(ddof=1)


@pytest.mark.parametrize("equal_var", [True, False])
def test_anova_from_summary_equals_scipy_on_data_with_those_statistics(equal_var):
    # The thesis table's baseline and 2, 3, 4 Gram modules.
    table = _THESIS.loc[[0, 2, 3, 4]]
    means, sds = table["mean"].tolist(), table["sd"].tolist()
    samples = [_values_with(mean, sd) for mean, sd in zip(means, sds, strict=True)]
    reference = scipy_stats.f_oneway(*samples, equal_var=equal_var)
    result = stats.anova_from_summary(means, sds, [5] * 4, equal_var=equal_var)
    assert (result.f, result.p_value) == pytest.approx((reference.statistic, reference.pvalue),
                                                       rel=1e-9)
    assert result.df_between == 3
    if equal_var:
        assert result.df_within == 16
    population = stats.anova_from_summary(means, np.array(sds) * math.sqrt(4 / 5), [5] * 4,
                                          sd_ddof=0, equal_var=equal_var)
    assert population.f == pytest.approx(result.f)
    with pytest.raises(DataError, match="n >= 2"):
        stats.anova_from_summary(means, sds, [5, 5, 1, 5])


def test_runs_that_all_score_the_same_give_a_note_not_a_crash():
    # A tiny demo model that always predicts the majority class scores the same on every seed.
    runs = _runs({("baseline", 0): [0.5, 0.5], ("gram", 2): [0.5, 0.5]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from dividing by a zero variance
        row = stats.compare_variants(runs).iloc[0]
        groups = stats.compare_module_counts(runs)
    assert "both samples are constant" in row.note
    assert stats.significance_view(stats.compare_variants(runs))["note"].iloc[0] == row.note
    assert "every difference a - b is 0" in row.note
    assert np.isnan(row.welch_p) and np.isnan(row.paired_p) and not row.significant_holm
    assert np.isnan(groups.anova_f) and np.isnan(groups.kruskal_h)
    with pytest.raises(DataError, match="both SDs are zero"):
        stats.compare_from_summary(0.5, 0.0, 5, 0.5, 0.0, 5)

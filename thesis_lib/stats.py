"""Significance tests for comparing networks: from run records and from published tables.

Sign convention: every difference is ``a - b`` (``mean_a - mean_b``); in
:func:`compare_variants` ``a`` is the variant and ``b`` the baseline, so a positive ``diff``
means the variant is more accurate than the baseline.

What is here, and which library computes it:

- two-sample t-tests, pooled (Student) and Welch, with the CI of the difference of means -
  from summary statistics (:func:`compare_from_summary`, scipy) and from samples
  (:func:`compare_samples`, statsmodels ``CompareMeans``); the paired t-test when runs share
  seeds (statsmodels ``DescrStatsW`` on the differences);
- Hedges' g (statsmodels ``effectsize_smd``: Cohen's d with the small-sample correction);
- Holm's correction across variants (statsmodels ``multipletests``);
- one-way ANOVA and Kruskal-Wallis across module counts (scipy), and the ANOVA from a
  published table's means and SDs (statsmodels ``anova_generic``);
- the exact McNemar test on paired per-image predictions (statsmodels ``mcnemar``);
- a bootstrap CI of one run's accuracy (scipy ``bootstrap``, seeded);
- the number of seeds per network for 80 % power (statsmodels ``TTestIndPower``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.meta_analysis import effectsize_smd
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.oneway import anova_generic
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from thesis_lib import settings
from thesis_lib.errors import ConfigError, DataError
from thesis_lib.results import OWN_TEST_SPLIT, sort_networks, with_settings

POOLED = "pooled two-sample t-test"
WELCH = "Welch two-sample t-test"
PAIRED = "paired t-test"
# Beyond this, a power analysis answers "not feasible" (inf).
MAX_SEEDS = 1_000_000


@dataclass(frozen=True)
class ComparisonResult:
    """A two-sided t-test of ``mean_a - mean_b`` with its confidence interval.

    Attributes:
        test: which test (pooled, Welch or paired t-test).
        diff: ``mean_a - mean_b``.
        ci_low, ci_high: the ``1 - alpha`` confidence interval of the difference.
        t, df, p_value: the t statistic, its degrees of freedom (Welch-Satterthwaite for
            Welch) and the two-sided p-value.
        se: the standard error of the difference.
        hedges_g: the standardised difference (Hedges' g, pooled SD, bias-corrected).
        mean_a, mean_b, n_a, n_b, alpha: the inputs, for the record.
    """

    test: str
    diff: float
    ci_low: float
    ci_high: float
    t: float
    df: float
    p_value: float
    se: float
    hedges_g: float
    mean_a: float
    mean_b: float
    n_a: int
    n_b: int
    alpha: float

    def as_dict(self) -> dict:
        return asdict(self)


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")


def _sample(values, name: str) -> np.ndarray:
    """A 1-D float array of at least two finite values."""
    array = np.asarray(values, dtype=float).ravel()
    if array.size < 2:
        raise DataError(f"{name}: a t-test needs at least 2 values, got {array.size}")
    if not np.all(np.isfinite(array)):
        raise DataError(f"{name}: contains NaN or infinite values: {array.tolist()}")
    return array


def _hedges_g(mean_a, sd_a, n_a, mean_b, sd_b, n_b) -> float:
    """Hedges' g of ``a - b`` from sample SDs (ddof = 1); NaN when both SDs are zero."""
    if sd_a == 0 and sd_b == 0:
        return math.nan
    g, _variance = effectsize_smd(mean_a, sd_a, n_a, mean_b, sd_b, n_b)
    return float(g)


def compare_from_summary(
    mean_a: float,
    sd_a: float,
    n_a: int,
    mean_b: float,
    sd_b: float,
    n_b: int,
    *,
    sd_ddof: int = 1,
    equal_var: bool = True,
    alpha: float = 0.05,
) -> ComparisonResult:
    """Two-sample t-test of ``mean_a - mean_b`` from published means, SDs and sizes.

    Use it to re-test a table from a paper (e.g. mean accuracy and SD of 5 trials per
    network). ``t`` and ``p_value`` come from ``scipy.stats.ttest_ind_from_stats``; the CI is
    ``diff +- t_{1-alpha/2, df} * se`` with the same ``se`` and ``df``.

    Args:
        mean_a, sd_a, n_a: mean, SD and number of observations of group a.
        mean_b, sd_b, n_b: the same for group b.
        sd_ddof: 1 when the SDs are sample SDs (divisor n - 1); 0 when they are population SDs
            (divisor n, ``numpy.std``'s default): they are then converted with
            ``sd * sqrt(n / (n - 1))``.
        equal_var: True for the pooled (Student) test, False for Welch's test with the
            Welch-Satterthwaite degrees of freedom.
        alpha: 1 - confidence level of the interval.

    Raises:
        ConfigError: ``sd_ddof`` not 0 or 1, or ``alpha`` outside (0, 1).
        DataError: fewer than 2 observations in a group, a negative or non-finite SD, or
            both SDs zero.
    """
    _check_alpha(alpha)
    if sd_ddof not in (0, 1):
        raise ConfigError(f"sd_ddof must be 0 (population SD) or 1 (sample SD), got {sd_ddof}")
    for name, n in (("n_a", n_a), ("n_b", n_b)):
        if int(n) != n or n < 2:
            raise DataError(f"{name} must be a whole number >= 2, got {n}")
    for name, value in (("mean_a", mean_a), ("mean_b", mean_b), ("sd_a", sd_a), ("sd_b", sd_b)):
        if not np.isfinite(value):
            raise DataError(f"{name} must be a finite number, got {value}")
    for name, sd in (("sd_a", sd_a), ("sd_b", sd_b)):
        if sd < 0:
            raise DataError(f"{name} must not be negative, got {sd}")
    if sd_a == 0 and sd_b == 0:
        raise DataError("t-test undefined: both SDs are zero")
    n_a, n_b = int(n_a), int(n_b)
    if sd_ddof == 0:
        sd_a, sd_b = sd_a * math.sqrt(n_a / (n_a - 1)), sd_b * math.sqrt(n_b / (n_b - 1))

    variance_a, variance_b = sd_a**2 / n_a, sd_b**2 / n_b
    if equal_var:
        df = n_a + n_b - 2
        pooled_variance = ((n_a - 1) * sd_a**2 + (n_b - 1) * sd_b**2) / df
        se = math.sqrt(pooled_variance * (1 / n_a + 1 / n_b))
    else:
        se = math.sqrt(variance_a + variance_b)
        df = (variance_a + variance_b) ** 2 / (
            variance_a**2 / (n_a - 1) + variance_b**2 / (n_b - 1)
        ) if se > 0 else math.nan
    t, p_value = scipy_stats.ttest_ind_from_stats(
        mean_a, sd_a, n_a, mean_b, sd_b, n_b, equal_var=equal_var
    )
    diff = mean_a - mean_b
    half_width = scipy_stats.t.ppf(1 - alpha / 2, df) * se
    return ComparisonResult(
        test=POOLED if equal_var else WELCH,
        diff=float(diff),
        ci_low=float(diff - half_width),
        ci_high=float(diff + half_width),
        t=float(t),
        df=float(df),
        p_value=float(p_value),
        se=float(se),
        hedges_g=_hedges_g(mean_a, sd_a, n_a, mean_b, sd_b, n_b),
        mean_a=float(mean_a),
        mean_b=float(mean_b),
        n_a=n_a,
        n_b=n_b,
        alpha=alpha,
    )


def compare_samples(
    a: Sequence[float],
    b: Sequence[float],
    *,
    equal_var: bool = True,
    paired: bool = False,
    alpha: float = 0.05,
) -> ComparisonResult:
    """t-test of ``mean(a) - mean(b)`` from the observations (e.g. accuracies of 5 seeds).

    Args:
        a, b: the observations of each group; with ``paired`` the i-th values belong together
            (the same seed) and the test is a one-sample t-test of ``a - b``.
        equal_var: pooled (True) or Welch (False) test; ignored when ``paired``.
        paired: paired t-test.
        alpha: 1 - confidence level of the interval of the difference.

    Raises:
        DataError: fewer than 2 values, NaN values, paired samples of different lengths, or
            no variation at all (both samples constant; all paired differences equal), where
            t is undefined.
    """
    _check_alpha(alpha)
    a, b = _sample(a, "a"), _sample(b, "b")
    g = _hedges_g(a.mean(), a.std(ddof=1), a.size, b.mean(), b.std(ddof=1), b.size)
    if paired:
        if a.size != b.size:
            raise DataError(f"paired t-test needs samples of equal length, got {a.size} and "
                            f"{b.size}")
        if np.ptp(a - b) == 0:
            raise DataError(f"paired t-test undefined: every difference a - b is "
                            f"{(a - b)[0]:g}")
        differences = DescrStatsW(a - b)
        t, p_value, df = differences.ttest_mean(0.0)
        ci_low, ci_high = differences.tconfint_mean(alpha=alpha)
        test, se = PAIRED, differences.std_mean
    else:
        if np.ptp(a) == 0 and np.ptp(b) == 0:
            raise DataError(f"t-test undefined: both samples are constant "
                            f"(a = {a[0]:g}, b = {b[0]:g})")
        usevar = "pooled" if equal_var else "unequal"
        compared = CompareMeans(DescrStatsW(a), DescrStatsW(b))
        t, p_value, df = compared.ttest_ind(usevar=usevar)
        ci_low, ci_high = compared.tconfint_diff(alpha=alpha, usevar=usevar)
        test = POOLED if equal_var else WELCH
        se = compared.std_meandiff_pooledvar if equal_var else compared.std_meandiff_separatevar
    return ComparisonResult(
        test=test,
        diff=float(a.mean() - b.mean()),
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        t=float(t),
        df=float(df),
        p_value=float(p_value),
        se=float(se),
        hedges_g=g,
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        n_a=int(a.size),
        n_b=int(b.size),
        alpha=alpha,
    )


def hedges_g(a: Sequence[float], b: Sequence[float]) -> float:
    """Hedges' g of ``a - b``: the difference of means over the pooled sample SD, times the
    small-sample correction J = 1 - 3 / (4 (n_a + n_b) - 9) (Hedges & Olkin 1985; statsmodels
    ``effectsize_smd``)."""
    a, b = _sample(a, "a"), _sample(b, "b")
    return _hedges_g(a.mean(), a.std(ddof=1), a.size, b.mean(), b.std(ddof=1), b.size)


def holm(p_values: Sequence[float], alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down correction for several tests (one per variant).

    Returns:
        ``(reject, p_adjusted)`` in the order of ``p_values``. NaN p-values (tests that could
        not be run) stay NaN and are not counted as tests.
    """
    _check_alpha(alpha)
    p_values = np.asarray(p_values, dtype=float)
    reject = np.zeros(p_values.shape, dtype=bool)
    adjusted = np.full(p_values.shape, np.nan)
    present = np.isfinite(p_values)
    if present.any():
        reject[present], adjusted[present], _, _ = multipletests(
            p_values[present], alpha=alpha, method="holm"
        )
    return reject, adjusted


def seeds_for_power(effect_size: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """Runs (seeds) per network needed to detect a standardised difference ``effect_size``
    (Cohen's d or Hedges' g) with a two-sided two-sample t-test at ``alpha`` with ``power``.

    The smallest whole number of seeds (at least 2) whose power, by statsmodels
    ``TTestIndPower.power``, reaches ``power``; ``inf`` for a zero or missing effect, or when
    even a million seeds would not do.
    """
    _check_alpha(alpha)
    if not 0 < power < 1:
        raise ConfigError(f"power must be between 0 and 1, got {power}")
    if effect_size is None or not np.isfinite(effect_size) or effect_size == 0:
        return math.inf

    def reaches(seeds: int) -> bool:
        achieved = TTestIndPower().power(effect_size=abs(effect_size), nobs1=seeds, alpha=alpha,
                                         ratio=1.0, alternative="two-sided")
        return float(achieved) >= power

    # Power grows with the number of seeds: double until it suffices, then bisect. (The
    # library's solve_power root finder fails to converge for small effects.)
    enough = 2
    while not reaches(enough):
        enough *= 2
        if enough > MAX_SEEDS:
            return math.inf
    too_few = enough // 2 if enough > 2 else 1
    while enough - too_few > 1:
        middle = (enough + too_few) // 2
        if reaches(middle):
            enough = middle
        else:
            too_few = middle
    return float(enough)


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test of two classifiers on the same images.

    Attributes:
        n: number of images.
        both_correct, only_a_correct, only_b_correct, both_wrong: the 2 x 2 table.
        statistic: min(only_a_correct, only_b_correct), the binomial test's statistic.
        p_value: two-sided exact p-value.
    """

    n: int
    both_correct: int
    only_a_correct: int
    only_b_correct: int
    both_wrong: int
    statistic: float
    p_value: float


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> McNemarResult:
    """Exact McNemar test of paired per-image correctness of two classifiers.

    Args:
        correct_a, correct_b: per image, whether classifier a (b) got it right; same images in
            the same order.
    """
    correct_a = np.asarray(correct_a, dtype=bool).ravel()
    correct_b = np.asarray(correct_b, dtype=bool).ravel()
    if correct_a.size != correct_b.size:
        raise DataError(f"McNemar needs the same images for both classifiers, got "
                        f"{correct_a.size} and {correct_b.size} predictions")
    if correct_a.size == 0:
        raise DataError("McNemar needs at least one image, got none")
    table = np.array([
        [np.sum(correct_a & correct_b), np.sum(correct_a & ~correct_b)],
        [np.sum(~correct_a & correct_b), np.sum(~correct_a & ~correct_b)],
    ])
    result = mcnemar(table, exact=True)
    return McNemarResult(
        n=int(correct_a.size),
        both_correct=int(table[0, 0]),
        only_a_correct=int(table[0, 1]),
        only_b_correct=int(table[1, 0]),
        both_wrong=int(table[1, 1]),
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
    )


def mcnemar_runs(
    predictions_a: pd.DataFrame,
    predictions_b: pd.DataFrame,
    *,
    dataset: str = OWN_TEST_SPLIT,
) -> McNemarResult:
    """Exact McNemar test of two runs on one evaluation dataset, images matched by path.

    Args:
        predictions_a, predictions_b: tables of :func:`thesis_lib.results.load_predictions`.
        dataset: the evaluation dataset (``"test"``: the runs' own test split, which must be
            the same images - the same split seed).

    Raises:
        DataError: the runs did not predict the same images, or disagree on their labels.
    """
    def pick(predictions: pd.DataFrame, name: str) -> pd.DataFrame:
        rows = predictions[predictions["dataset"] == dataset]
        if "split" in rows.columns and dataset == OWN_TEST_SPLIT:
            rows = rows[rows["split"] == OWN_TEST_SPLIT]
        if rows.empty:
            raise DataError(f"predictions {name} hold no rows of dataset {dataset!r}")
        return rows[["path", "label_index", "correct"]]

    rows_a, rows_b = pick(predictions_a, "a"), pick(predictions_b, "b")
    merged = rows_a.merge(rows_b, on="path", suffixes=("_a", "_b"), how="outer", indicator=True)
    unmatched = int((merged["_merge"] != "both").sum())
    if unmatched:
        raise DataError(f"McNemar on {dataset!r}: {unmatched} image(s) predicted by only one "
                        f"of the runs; both runs must use the same test images (same split)")
    if not (merged["label_index_a"] == merged["label_index_b"]).all():
        raise DataError(f"McNemar on {dataset!r}: the runs disagree on the true labels")
    return mcnemar_exact(merged["correct_a"].astype(bool), merged["correct_b"].astype(bool))


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap confidence interval of one run's accuracy."""

    accuracy: float
    ci_low: float
    ci_high: float
    confidence: float
    n: int
    n_resamples: int
    method: str
    seed: int


def bootstrap_accuracy(
    correct: Sequence[bool],
    *,
    confidence: float = 0.95,
    n_resamples: int = 9999,
    method: str = "percentile",
    seed: int = 0,
) -> BootstrapResult:
    """Bootstrap CI of an accuracy from per-image correctness (resampling images).

    Args:
        correct: per image, whether the prediction was right.
        confidence: confidence level.
        n_resamples: bootstrap resamples.
        method: ``"percentile"``, ``"basic"`` or ``"BCa"`` (``scipy.stats.bootstrap``).
        seed: seed of the resampling; the same seed gives the same interval.
    """
    correct = np.asarray(correct, dtype=float).ravel()
    if correct.size < 2:
        raise DataError(f"bootstrap needs at least 2 predictions, got {correct.size}")
    if method not in ("percentile", "basic", "BCa"):
        raise ConfigError(f"bootstrap method must be 'percentile', 'basic' or 'BCa', got "
                          f"{method!r}")
    accuracy = float(correct.mean())
    if accuracy in (0.0, 1.0):
        # Every resample has the same accuracy: the interval is that single value.
        ci_low = ci_high = accuracy
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            result = scipy_stats.bootstrap(
                (correct,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                method=method, rng=np.random.default_rng(seed), vectorized=True,
            )
        ci_low, ci_high = result.confidence_interval
    return BootstrapResult(accuracy, float(ci_low), float(ci_high), confidence, int(correct.size),
                           n_resamples, method, seed)


# ---------------------------------------------------------------------------------------------
# Tables from run records


def _setting_groups(runs: pd.DataFrame, metric: str, dataset: str) -> dict[str, pd.DataFrame]:
    """The rows of each setting on ``dataset`` (finite ``metric`` only), by setting id."""
    runs = with_settings(runs)
    missing = [column for column in ("variant", "seed", "dataset", metric)
               if column not in runs.columns]
    if missing:
        raise DataError(f"runs table lacks column(s) {missing}; use the table of "
                        "thesis_lib.results.collect_runs")
    rows = runs[(runs["dataset"] == dataset) & runs[metric].notna()]
    return {sid: group for sid, group in rows.groupby("setting_id", sort=False)}


def _paired_by_seed(variant_rows: pd.DataFrame, baseline_rows: pd.DataFrame, metric: str):
    """Metric values of the seeds both groups ran (once each), in seed order."""
    if variant_rows["seed"].duplicated().any() or baseline_rows["seed"].duplicated().any():
        return None, None
    merged = variant_rows[["seed", metric]].merge(baseline_rows[["seed", metric]], on="seed",
                                                  suffixes=("_a", "_b")).sort_values("seed")
    return merged[f"{metric}_a"].to_numpy(), merged[f"{metric}_b"].to_numpy()


def _test_columns(prefix: str, result: ComparisonResult) -> dict:
    return {f"{prefix}_t": result.t, f"{prefix}_df": result.df, f"{prefix}_p": result.p_value,
            f"{prefix}_ci_low": result.ci_low, f"{prefix}_ci_high": result.ci_high}


def _network_record(rows: pd.DataFrame, baseline_rows: pd.DataFrame | None, *, metric: str,
                    alpha: float, power: float, note: str = "") -> dict:
    """One row of :func:`compare_variants`: the runs of one setting against its baseline's."""
    first = rows.iloc[0]
    values = rows[metric].to_numpy(dtype=float)
    record = {
        "network": first.get("network", first["variant"]), "setting_id": first["setting_id"],
        "variant": first["variant"], "modules": first.get("modules"),
        "dataset": first["dataset"], "metric": metric, "n": values.size, "mean": values.mean(),
        "sd_ddof1": values.std(ddof=1) if values.size > 1 else np.nan,
    }
    notes = [note] if note else []
    if baseline_rows is None:
        record.update(reference=None, reference_setting_id=None, note="; ".join(notes))
        return record
    base = baseline_rows[metric].to_numpy(dtype=float)
    base_first = baseline_rows.iloc[0]
    record.update({
        "reference": base_first.get("network", base_first["variant"]),
        "reference_setting_id": base_first["setting_id"],
        "baseline_n": base.size, "baseline_mean": base.mean(),
        "diff": values.mean() - base.mean(),
    })
    if values.size < 2 or base.size < 2:
        notes.append("fewer than 2 runs: no test")
    else:
        try:
            for prefix, equal_var in (("welch", False), ("pooled", True)):
                result = compare_samples(values, base, equal_var=equal_var, alpha=alpha)
                record.update(_test_columns(prefix, result))
            record["hedges_g"] = result.hedges_g
            record["seeds_for_power"] = seeds_for_power(result.hedges_g, alpha=alpha,
                                                        power=power)
        except DataError as error:  # e.g. every run scored the same
            notes.append(str(error))
    paired_a, paired_b = _paired_by_seed(rows, baseline_rows, metric)
    record["paired_n"] = 0 if paired_a is None else int(paired_a.size)
    if paired_a is not None and paired_a.size >= 2:
        try:
            paired = compare_samples(paired_a, paired_b, paired=True, alpha=alpha)
            record.update(_test_columns("paired", paired))
        except DataError as error:
            notes.append(str(error))
    record["note"] = "; ".join(notes)
    return record


COMPARISON_COLUMNS = [
    "network", "setting_id", "variant", "modules", "dataset", "metric", "n", "mean",
    "sd_ddof1", "reference", "reference_setting_id", "baseline_n", "baseline_mean", "diff",
    "welch_t", "welch_df", "welch_p", "welch_ci_low", "welch_ci_high",
    "pooled_t", "pooled_df", "pooled_p", "pooled_ci_low", "pooled_ci_high",
    "paired_n", "paired_t", "paired_df", "paired_p", "paired_ci_low", "paired_ci_high",
    "hedges_g", "seeds_for_power", "welch_p_holm", "pooled_p_holm", "paired_p_holm",
    "significant_holm", "note",
]


def compare_variants(
    runs: pd.DataFrame,
    *,
    baseline: str = "baseline",
    metric: str = "accuracy",
    dataset: str | None = OWN_TEST_SPLIT,
    alpha: float = 0.05,
    power: float = 0.8,
    allow_different_data: bool = False,
) -> pd.DataFrame:
    """Every setting (network) against its baseline on one metric.

    The reference of a setting is the ``baseline`` setting of the same backbone, image size,
    data, split and training (every field but those a study varies, see
    ``thesis_lib.settings``); it is named in the ``reference`` column. A setting without such a
    baseline gets a row with a note and no test.

    Per setting: n, mean, sample SD, the reference's mean, ``diff`` (network - baseline);
    Welch and pooled t-tests (t, df, p, CI of the difference); the paired t-test over the seeds
    both ran (``paired_n`` pairs; NaN when fewer than 2 or a seed ran twice); Hedges' g; the
    seeds per network needed for ``power`` at ``alpha``; p-values adjusted with Holm across
    the networks of one dataset (``welch_p_holm``, ``pooled_p_holm``, ``paired_p_holm``;
    ``significant_holm`` from the Welch test).

    Args:
        runs: the table of :func:`thesis_lib.results.collect_runs`.
        baseline: the variant compared against.
        metric: the metric column.
        dataset: evaluation dataset (``None``: each dataset the baseline was evaluated on,
            Holm within each).
        alpha: significance level and 1 - confidence of the intervals.
        power: target power of the seed count.
        allow_different_data: compare with a baseline trained on other data or splits when no
            baseline was trained on the same ones (noted in the row); refused otherwise.

    Raises:
        DataError: no runs of the baseline on the dataset, or (without
            ``allow_different_data``) a network whose every baseline saw other data or splits.
    """
    _check_alpha(alpha)
    if dataset is None:
        with_baseline = runs.loc[runs["variant"] == baseline, "dataset"]
        parts = [compare_variants(runs, baseline=baseline, metric=metric, dataset=name,
                                  alpha=alpha, power=power,
                                  allow_different_data=allow_different_data)
                 for name in pd.unique(with_baseline)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=COMPARISON_COLUMNS)
    groups = _setting_groups(runs, metric, dataset)
    fields = {sid: settings.parse_fields(group["setting_fields"].iloc[0])
              for sid, group in groups.items()}
    baselines = {sid: fields[sid] for sid, group in groups.items()
                 if group["variant"].iloc[0] == baseline}
    if not baselines:
        raise DataError(f"no finished runs of the baseline variant {baseline!r} on dataset "
                        f"{dataset!r} (variants present: "
                        f"{sorted({str(g['variant'].iloc[0]) for g in groups.values()})})")
    # The references are the plain baselines (no extra loss...); a baseline trained with,
    # say, the contrastive-center loss is itself compared with the plain one.
    plain = {sid: f for sid, f in baselines.items() if settings.is_default_architecture(f)}
    baselines = plain or baselines
    records = []
    for sid, rows in groups.items():
        if sid in baselines:
            continue
        try:
            reference, note = settings.find_reference(
                fields[sid], baselines, allow_different_data=allow_different_data)
        except DataError as error:
            raise DataError(f"{rows['network'].iloc[0]}: {error}") from None
        records.append(_network_record(rows, groups.get(reference), metric=metric, alpha=alpha,
                                       power=power, note=note))
    table = pd.DataFrame(records).reindex(columns=COMPARISON_COLUMNS)
    if not table.empty:
        table = _add_holm(table, ("welch", "pooled", "paired"), alpha)
        table = sort_networks(table)
    return table


def _add_holm(table: pd.DataFrame, tests: Sequence[str], alpha: float) -> pd.DataFrame:
    """``<test>_p_holm`` for each test, and ``significant_holm`` from the first one."""
    for test in tests:
        reject, adjusted = holm(table[f"{test}_p"].to_numpy(dtype=float), alpha=alpha)
        table[f"{test}_p_holm"] = adjusted
        if test == tests[0]:
            table["significant_holm"] = reject
    return table


def compare_summary_table(
    summary: pd.DataFrame,
    *,
    baseline: str,
    network: str = "network",
    mean: str = "mean",
    sd: str = "sd",
    n: str = "n",
    sd_ddof: int = 1,
    alpha: float = 0.05,
    power: float = 0.8,
) -> pd.DataFrame:
    """Every row of a published results table against its baseline row, from the summary
    statistics alone (:func:`compare_from_summary`).

    The result has the columns of :func:`compare_variants` that summary statistics allow:
    ``network``, ``n``, ``mean``, ``sd``, ``baseline_mean``, ``diff`` (row - baseline), Welch
    and pooled ``t``/``df``/``p``/``ci_low``/``ci_high``, ``hedges_g``, ``seeds_for_power``,
    Holm-adjusted p-values across the rows (``welch_p_holm``, ``pooled_p_holm``) and
    ``significant_holm`` (Welch).

    Args:
        summary: one row per network.
        baseline: the value of the ``network`` column of the baseline row.
        network, mean, sd, n: column names.
        sd_ddof: 1 for sample SDs, 0 for population SDs (see :func:`compare_from_summary`).
        alpha, power: significance level, and the power the seed count aims at.

    Raises:
        DataError: no baseline row, or a missing column.
    """
    missing = [column for column in (network, mean, sd, n) if column not in summary.columns]
    if missing:
        raise DataError(f"summary table lacks column(s) {missing}")
    is_baseline = summary[network] == baseline
    if is_baseline.sum() != 1:
        raise DataError(f"summary table needs exactly one row with {network} == {baseline!r}, "
                        f"found {int(is_baseline.sum())}")
    base = summary[is_baseline].iloc[0]
    records = []
    for _, row in summary[~is_baseline].iterrows():
        record = {"network": row[network], "n": int(row[n]), "mean": row[mean], "sd": row[sd],
                  "baseline_mean": base[mean], "diff": row[mean] - base[mean]}
        for prefix, equal_var in (("welch", False), ("pooled", True)):
            result = compare_from_summary(row[mean], row[sd], row[n], base[mean], base[sd],
                                          base[n], sd_ddof=sd_ddof, equal_var=equal_var,
                                          alpha=alpha)
            record.update(_test_columns(prefix, result))
        record["hedges_g"] = result.hedges_g
        record["seeds_for_power"] = seeds_for_power(result.hedges_g, alpha=alpha, power=power)
        records.append(record)
    return _add_holm(pd.DataFrame(records), ("welch", "pooled"), alpha)


@dataclass(frozen=True)
class GroupTestResult:
    """One-way ANOVA and Kruskal-Wallis test across groups (module counts)."""

    groups: list
    n_per_group: list[int]
    anova_f: float
    anova_df_between: int
    anova_df_within: int
    anova_p: float
    kruskal_h: float
    kruskal_p: float


def compare_groups(samples: dict) -> GroupTestResult:
    """One-way ANOVA (``scipy.stats.f_oneway``) and Kruskal-Wallis (``scipy.stats.kruskal``)
    of several groups of observations, e.g. ``{0: [...], 2: [...], 3: [...], 4: [...]}``.

    Raises:
        DataError: fewer than 2 groups, or a group with fewer than 2 values.
    """
    if len(samples) < 2:
        raise DataError(f"ANOVA needs at least 2 groups, got {len(samples)}: {list(samples)}")
    arrays = [_sample(values, f"group {name!r}") for name, values in samples.items()]
    with warnings.catch_warnings():
        # When every value is the same, F and H are undefined: scipy warns (or, in older
        # versions, refuses) and NaN is the answer.
        warnings.simplefilter("ignore")
        anova = scipy_stats.f_oneway(*arrays)
        try:
            kruskal_h, kruskal_p = scipy_stats.kruskal(*arrays)
        except ValueError:
            kruskal_h, kruskal_p = math.nan, math.nan
    total = sum(array.size for array in arrays)
    return GroupTestResult(
        groups=list(samples), n_per_group=[array.size for array in arrays],
        anova_f=float(anova.statistic), anova_df_between=len(arrays) - 1,
        anova_df_within=total - len(arrays), anova_p=float(anova.pvalue),
        kruskal_h=float(kruskal_h), kruskal_p=float(kruskal_p),
    )


@dataclass(frozen=True)
class AnovaResult:
    """One-way ANOVA: F statistic, its degrees of freedom and p-value."""

    test: str
    f: float
    df_between: float
    df_within: float
    p_value: float


def anova_from_summary(
    means: Sequence[float],
    sds: Sequence[float],
    ns: Sequence[int],
    *,
    sd_ddof: int = 1,
    equal_var: bool = True,
) -> AnovaResult:
    """One-way ANOVA of several groups from their means, SDs and sizes (a published table).

    Args:
        means, sds, ns: per group.
        sd_ddof: 1 for sample SDs, 0 for population SDs (converted as in
            :func:`compare_from_summary`).
        equal_var: classic ANOVA (True) or Welch's ANOVA for unequal variances (False);
            computed by statsmodels ``anova_generic``.

    Raises:
        DataError: fewer than 2 groups, lengths that differ, or a group with n < 2.
    """
    means, sds, ns = (np.asarray(values, dtype=float) for values in (means, sds, ns))
    if not means.size == sds.size == ns.size or means.size < 2:
        raise DataError(f"ANOVA needs means, SDs and sizes of at least 2 groups, got "
                        f"{means.size}, {sds.size} and {ns.size} values")
    if np.any(ns < 2):
        raise DataError(f"every group needs n >= 2, got {ns.tolist()}")
    if sd_ddof not in (0, 1):
        raise ConfigError(f"sd_ddof must be 0 (population SD) or 1 (sample SD), got {sd_ddof}")
    if sd_ddof == 0:
        sds = sds * np.sqrt(ns / (ns - 1))
    result = anova_generic(means, sds**2, ns, use_var="equal" if equal_var else "unequal")
    return AnovaResult(
        test="one-way ANOVA" if equal_var else "Welch one-way ANOVA",
        f=float(result.statistic), df_between=float(result.df_num),
        df_within=float(result.df_denom), p_value=float(result.pvalue),
    )


def module_count_family(
    runs: pd.DataFrame,
    *,
    variant: str = "gram",
    baseline: str = "baseline",
    metric: str = "accuracy",
    dataset: str = OWN_TEST_SPLIT,
) -> pd.DataFrame:
    """The rows of the settings that differ from their baseline in the number of modules only:
    ``variant`` with the default taps, activation... and its baseline (``modules`` = 0).

    These are what "accuracy against the number of Gram modules" compares; a tap or activation
    ablation with the same module count is another family and stays out.

    Raises:
        DataError: no baseline, or settings of ``variant`` with baselines of several trainings or
            datasets (filter the table to one first).
    """
    groups = _setting_groups(runs, metric, dataset)
    fields = {sid: settings.parse_fields(group["setting_fields"].iloc[0])
              for sid, group in groups.items()}
    baselines = {sid: fields[sid] for sid, group in groups.items()
                 if group["variant"].iloc[0] == baseline}
    if not baselines:
        raise DataError(f"no finished runs of the baseline variant {baseline!r} on {dataset!r}")
    members: dict[str, list[str]] = {}
    for sid, group in groups.items():
        if group["variant"].iloc[0] != variant or not settings.is_default_architecture(fields[sid]):
            continue
        try:
            reference, _ = settings.find_reference(fields[sid], baselines)
        except DataError:
            continue
        if reference is not None:
            members.setdefault(reference, []).append(sid)
    if len(members) > 1:
        names = sorted(str(groups[sid]["network"].iloc[0]) for sid in members)
        raise DataError(f"{variant} networks of {len(members)} different trainings or datasets "
                        f"(baselines: {'; '.join(names)}); filter the runs to one of them")
    if not members:
        return runs.iloc[0:0]
    reference, chosen = next(iter(members.items()))
    family = pd.concat([groups[reference], *(groups[sid] for sid in chosen)])
    return family.assign(modules=family["modules"].where(family["variant"] != baseline, 0))


def compare_module_counts(
    runs: pd.DataFrame,
    *,
    variant: str = "gram",
    baseline: str | None = "baseline",
    metric: str = "accuracy",
    dataset: str = OWN_TEST_SPLIT,
) -> GroupTestResult:
    """ANOVA and Kruskal-Wallis of ``metric`` across the module counts of ``variant`` (the
    settings of :func:`module_count_family`); the baseline's runs join as 0 modules when
    ``baseline`` is given (a Gram model with 0 modules is the baseline).

    Groups with a single run are left out (a group needs 2 values for a variance).
    """
    family = module_count_family(runs, variant=variant, baseline=baseline or "baseline",
                                 metric=metric, dataset=dataset)
    if baseline is None:
        family = family[family["variant"] == variant]
    family = family[family[metric].notna()]
    samples = {}
    for modules, group in sorted(family.groupby("modules")[metric], key=lambda item: item[0]):
        if group.size >= 2:
            samples[int(modules)] = group.to_numpy(dtype=float)
    return compare_groups(samples)


def _p_text(value: float) -> str:
    return f"{value:.4g}" if np.isfinite(value) else "-"


def significance_view(
    comparisons: pd.DataFrame,
    *,
    test: str = "welch",
    alpha: float = 0.05,
    power: float = 0.8,
    decimals: int = 3,
) -> pd.DataFrame:
    """A comparison table as text for reading: differences and CIs in percentage points.

    Args:
        comparisons: :func:`compare_variants` or :func:`compare_summary_table` output, metrics
            as fractions.
        test: ``"welch"``, ``"pooled"`` or ``"paired"``: whose t, df, p and CI to show.
        alpha, power: what the comparisons used (they name the CI and seed columns).
        decimals: decimals of differences and intervals (p-values get 4 significant digits).
    """
    if f"{test}_p" not in comparisons.columns:
        raise ConfigError(f"no {test!r} test in the comparison table; columns: "
                          f"{list(comparisons.columns)}")

    def points(value) -> str:
        return "-" if not np.isfinite(value) else f"{value * 100:+.{decimals}f}"

    view = pd.DataFrame({"network": comparisons["network"]})
    if "dataset" in comparisons.columns:
        view["dataset"] = comparisons["dataset"]
    view["diff (pp)"] = [points(value) for value in comparisons["diff"].astype(float)]
    view[f"{(1 - alpha) * 100:g} % CI (pp)"] = [
        "-" if not np.isfinite(low) else f"[{points(low)}, {points(high)}]"
        for low, high in zip(comparisons[f"{test}_ci_low"].astype(float),
                             comparisons[f"{test}_ci_high"].astype(float), strict=True)
    ]
    view["t"] = comparisons[f"{test}_t"].astype(float).round(3)
    view["df"] = comparisons[f"{test}_df"].astype(float).round(2)
    view["p"] = [_p_text(value) for value in comparisons[f"{test}_p"].astype(float)]
    view["Holm p"] = [_p_text(value) for value in comparisons[f"{test}_p_holm"].astype(float)]
    view["Hedges g"] = comparisons["hedges_g"].astype(float).round(2)
    view[f"seeds for {power:.0%} power"] = [
        f"{value:.0f}" if np.isfinite(value) else "-"
        for value in comparisons["seeds_for_power"].astype(float)
    ]
    if "note" in comparisons.columns and comparisons["note"].fillna("").astype(bool).any():
        view["note"] = comparisons["note"].fillna("")
    return view

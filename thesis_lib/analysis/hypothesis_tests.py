"""Hypothesis tests and intervals, on numbers: samples, or a published table's means and SDs.

Every difference is ``a - b``. The statistics come from scipy and statsmodels; which test the
notebooks use where, and why, is in docs/statistics.md.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.meta_analysis import effectsize_smd
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.oneway import anova_generic
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from thesis_lib.errors import ConfigError, DataError

POOLED = "pooled two-sample t-test"
WELCH = "Welch two-sample t-test"
PAIRED = "paired t-test"
# Beyond this, a power analysis answers "not feasible" (inf).
MAX_SEEDS = 1_000_000


@dataclass(frozen=True)
class ComparisonResult:
    """A two-sided t-test (``test``: pooled, Welch or paired) of ``diff`` = ``mean_a - mean_b``:
    the ``1 - alpha`` CI of the difference, t, df (Welch-Satterthwaite for Welch), the p-value,
    the SE of the difference, Hedges' g (pooled SD, bias-corrected), and the inputs."""

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


def mean_half_width(sd, n, confidence: float = 0.95) -> np.ndarray:
    """Half-width of the Student-t interval of a mean, t_{(1+confidence)/2, n-1} * sd / sqrt(n),
    elementwise (``sd`` with ddof = 1); NaN where ``n`` < 2. Used by summaries and figures."""
    sd = np.asarray(sd, dtype=float)
    n = np.asarray(n, dtype=float)
    degrees = np.where(n > 1, n - 1, np.nan)
    return scipy_stats.t.ppf((1 + confidence) / 2, degrees) * (sd / np.sqrt(n))


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")


def _check_confidence(confidence: float) -> None:
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or \
            not 0 < confidence < 1:
        raise ConfigError(f"confidence must be a level in (0, 1), e.g. 0.95, got {confidence!r}")


def _sample_sds(sds, ns, sd_ddof: int):
    """Sample SDs (ddof = 1) from SDs with ``sd_ddof``: population SDs times sqrt(n / (n - 1))."""
    if sd_ddof not in (0, 1):
        raise ConfigError(f"sd_ddof must be 0 (population SD) or 1 (sample SD), got {sd_ddof}")
    return sds if sd_ddof == 1 else sds * np.sqrt(ns / (ns - 1))


def _sample(values, name: str) -> np.ndarray:
    """A 1-D float array of at least two finite values."""
    array = np.asarray(values, dtype=float).ravel()
    if array.size < 2:
        raise DataError(f"{name}: a t-test needs at least 2 values, got {array.size}")
    if not np.all(np.isfinite(array)):
        raise DataError(f"{name}: contains NaN or infinite values: {array.tolist()}")
    return array


def _hedges_g(mean_a, sd_a, n_a, mean_b, sd_b, n_b) -> float:
    """Hedges' g of ``a - b`` from sample SDs; NaN when both SDs are zero."""
    if sd_a == 0 and sd_b == 0:
        return math.nan
    g, _variance = effectsize_smd(mean_a, sd_a, n_a, mean_b, sd_b, n_b)
    return float(g)


def _comparison(test, mean_a, mean_b, n_a, n_b, ci, t, df, p_value, se, g, alpha):
    return ComparisonResult(test, float(mean_a - mean_b), float(ci[0]), float(ci[1]), float(t),
                            float(df), float(p_value), float(se), g, float(mean_a),
                            float(mean_b), int(n_a), int(n_b), alpha)


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

    ``t`` and ``p_value`` come from ``scipy.stats.ttest_ind_from_stats``; the CI is
    ``diff +- t_{1-alpha/2, df} * se`` with the same ``se`` and ``df``.

    Args:
        sd_ddof: 1 for sample SDs (divisor n - 1); 0 for population SDs (divisor n,
            ``numpy.std``'s default), converted with ``sd * sqrt(n / (n - 1))``.
        equal_var: True for the pooled (Student) test, False for Welch's test.
        alpha: 1 - confidence level of the interval.
    """
    _check_alpha(alpha)
    for name, n in (("n_a", n_a), ("n_b", n_b)):
        if int(n) != n or n < 2:
            raise DataError(f"{name} must be a whole number >= 2, got {n}")
    for name, value in (("mean_a", mean_a), ("mean_b", mean_b), ("sd_a", sd_a), ("sd_b", sd_b)):
        if not np.isfinite(value):
            raise DataError(f"{name} must be a finite number, got {value}")
        if name.startswith("sd") and value < 0:
            raise DataError(f"{name} must not be negative, got {value}")
    if sd_a == 0 and sd_b == 0:
        raise DataError("t-test undefined: both SDs are zero")
    n_a, n_b = int(n_a), int(n_b)
    sd_a, sd_b = _sample_sds(sd_a, n_a, sd_ddof), _sample_sds(sd_b, n_b, sd_ddof)

    variance_a, variance_b = sd_a**2 / n_a, sd_b**2 / n_b
    if equal_var:
        df = n_a + n_b - 2
        pooled_variance = ((n_a - 1) * sd_a**2 + (n_b - 1) * sd_b**2) / df
        se = math.sqrt(pooled_variance * (1 / n_a + 1 / n_b))
    else:
        se = math.sqrt(variance_a + variance_b)
        df = (variance_a + variance_b) ** 2 / (
            variance_a**2 / (n_a - 1) + variance_b**2 / (n_b - 1)) if se > 0 else math.nan
    t, p_value = scipy_stats.ttest_ind_from_stats(
        mean_a, sd_a, n_a, mean_b, sd_b, n_b, equal_var=equal_var
    )
    diff = mean_a - mean_b
    half_width = scipy_stats.t.ppf(1 - alpha / 2, df) * se
    return _comparison(POOLED if equal_var else WELCH, mean_a, mean_b, n_a, n_b,
                       (diff - half_width, diff + half_width), t, df, p_value, se,
                       _hedges_g(mean_a, sd_a, n_a, mean_b, sd_b, n_b), alpha)


def compare_samples(
    a: Sequence[float],
    b: Sequence[float],
    *,
    equal_var: bool = True,
    paired: bool = False,
    alpha: float = 0.05,
) -> ComparisonResult:
    """t-test of ``mean(a) - mean(b)`` from the observations (statsmodels).

    Args:
        a, b: the observations; with ``paired`` the i-th values belong together (the same
            seed) and the test is a one-sample t-test of ``a - b``.
        equal_var: pooled (True) or Welch (False) test; ignored when ``paired``.
        alpha: 1 - confidence level of the interval of the difference.
    """
    _check_alpha(alpha)
    g = hedges_g(a, b)
    a, b = _sample(a, "a"), _sample(b, "b")
    if paired:
        if a.size != b.size:
            raise DataError(f"paired t-test needs samples of equal length, got {a.size} and "
                            f"{b.size}")
        if np.ptp(a - b) == 0:
            raise DataError(f"paired t-test undefined: every difference a - b is "
                            f"{(a - b)[0]:g}")
        differences = DescrStatsW(a - b)
        t, p_value, df = differences.ttest_mean(0.0)
        ci = differences.tconfint_mean(alpha=alpha)
        test, se = PAIRED, differences.std_mean
    else:
        if np.ptp(a) == 0 and np.ptp(b) == 0:
            raise DataError(f"t-test undefined: both samples are constant "
                            f"(a = {a[0]:g}, b = {b[0]:g})")
        usevar = "pooled" if equal_var else "unequal"
        compared = CompareMeans(DescrStatsW(a), DescrStatsW(b))
        t, p_value, df = compared.ttest_ind(usevar=usevar)
        ci = compared.tconfint_diff(alpha=alpha, usevar=usevar)
        test = POOLED if equal_var else WELCH
        se = compared.std_meandiff_pooledvar if equal_var else compared.std_meandiff_separatevar
    return _comparison(test, a.mean(), b.mean(), a.size, b.size, ci, t, df, p_value, se, g,
                       alpha)


def hedges_g(a: Sequence[float], b: Sequence[float]) -> float:
    """Hedges' g of ``a - b``: the difference of means over the pooled sample SD, times the
    small-sample correction J = 1 - 3 / (4 (n_a + n_b) - 9) (Hedges & Olkin 1985; statsmodels
    ``effectsize_smd``)."""
    a, b = _sample(a, "a"), _sample(b, "b")
    return _hedges_g(a.mean(), a.std(ddof=1), a.size, b.mean(), b.std(ddof=1), b.size)


def holm(p_values: Sequence[float], alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down correction: ``(reject, p_adjusted)`` in the order of ``p_values``.
    NaN p-values (tests that could not be run) stay NaN and are not counted as tests."""
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
    """Seeds per network for a two-sided two-sample t-test at ``alpha`` to detect
    ``effect_size`` (Cohen's d or Hedges' g) with ``power``: the smallest whole number (at
    least 2) that reaches it by statsmodels ``TTestIndPower.power``; ``inf`` for a zero or
    missing effect, or beyond :data:`MAX_SEEDS`."""
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
    """Exact McNemar test of two classifiers on ``n`` images: the 2 x 2 table, the
    statistic min(only_a_correct, only_b_correct) and the two-sided exact p-value."""

    n: int
    both_correct: int
    only_a_correct: int
    only_b_correct: int
    both_wrong: int
    statistic: float
    p_value: float


def mcnemar_exact(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> McNemarResult:
    """Exact McNemar test of two classifiers' per-image correctness (same images, same
    order)."""
    correct_a = np.asarray(correct_a, dtype=bool).ravel()
    correct_b = np.asarray(correct_b, dtype=bool).ravel()
    if correct_a.size != correct_b.size:
        raise DataError(f"McNemar needs the same images for both classifiers, got "
                        f"{correct_a.size} and {correct_b.size} predictions")
    if correct_a.size == 0:
        raise DataError("McNemar needs at least one image, got none")
    table = [[int(np.sum(first & second)) for second in (correct_b, ~correct_b)]
             for first in (correct_a, ~correct_a)]
    result = mcnemar(table, exact=True)
    return McNemarResult(correct_a.size, *table[0], *table[1], float(result.statistic),
                         float(result.pvalue))


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap confidence interval of one run's accuracy (:func:`bootstrap_accuracy`)."""

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
    """Bootstrap CI of an accuracy from per-image correctness (``scipy.stats.bootstrap``).
    Prefer :func:`accuracy_interval` (Wilson): the bootstrap interval is a point at 0/n and n/n,
    and covers less often than its level for small n or accuracies near 0 or 1.

    Args:
        method: ``"percentile"``, ``"basic"`` or ``"BCa"``.
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


# The methods of proportion_interval: our name -> (statsmodels' name, name in text).
PROPORTION_METHODS = {"wilson": ("wilson", "Wilson"),
                      "clopper-pearson": ("beta", "Clopper-Pearson")}
DEFAULT_PROPORTION_METHOD = "wilson"


def level_text(confidence: float) -> str:
    """A confidence level as text: 0.95 -> ``"95 %"``, 0.975 -> ``"97.5 %"``."""
    return f"{round(confidence * 100, 6):g} %"


def ci_label(confidence: float, method: str | None = None) -> str:
    """How an interval is named in text: ``"95 % CI"``, ``"90 % Wilson CI"``; ``method`` is a
    key of :data:`PROPORTION_METHODS`, any name, or None."""
    name = PROPORTION_METHODS.get(method, (None, method))[1] if method else None
    return f"{level_text(confidence)} {name + ' ' if name else ''}CI"


@dataclass(frozen=True)
class ProportionInterval:
    """A proportion (successes / n) with its confidence interval; proportion and interval
    are NaN when ``n`` is 0. The interval is never a single point: [0, upper > 0] at 0/n,
    [lower < 1, 1] at n/n."""

    proportion: float
    successes: int
    n: int
    ci_low: float
    ci_high: float
    confidence: float
    method: str

    @property
    def label(self) -> str:
        """E.g. ``"95 % Wilson CI"``."""
        return ci_label(self.confidence, self.method)

    def as_dict(self, prefix: str = "") -> dict[str, float | int | str]:
        """A flat dict, keys optionally prefixed."""
        return {f"{prefix}{key}": value for key, value in asdict(self).items()}

    def summary(self, decimals: int = 3) -> str:
        """One line: ``"0.800 (24 of 30), 95 % Wilson CI [0.627, 0.905]"``."""
        if self.n == 0:
            return "no observation (0 of 0): no proportion and no interval"
        return (f"{self.proportion:.{decimals}f} ({self.successes} of {self.n}), {self.label} "
                f"[{self.ci_low:.{decimals}f}, {self.ci_high:.{decimals}f}]")


def _count(value, name: str) -> int:
    """A whole count (an int, or a float without a fraction), never a bool."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) and not (
            isinstance(value, float | np.floating) and float(value).is_integer()):
        raise DataError(f"a proportion needs whole counts; {name} is {value!r}")
    return int(value)


def proportion_interval(
    successes: int,
    n: int,
    *,
    confidence: float = 0.95,
    method: str = DEFAULT_PROPORTION_METHOD,
) -> ProportionInterval:
    """The confidence interval of a proportion: ``successes`` of ``n`` (statsmodels
    ``proportion_confint``).

    Why Wilson by default: it covers the true proportion about as often as its level says also
    for small n and proportions near 0 or 1, and never collapses to a point at 0/n or n/n. At
    n = 30 and 95 %, its exact coverage is 93.9 % at p = 0.05 and 95.7 % at p = 0.5
    (Clopper-Pearson: 98.4 % and 95.7 %; the percentile bootstrap: 77 % at p = 0.05).
    Clopper-Pearson never covers less than its level and is longer; it matters for p within
    about 1/n of 0 or 1, where Wilson's coverage dips (84 % at n = 30, p = 0.006).

    Args:
        successes: Number of successes (correct predictions, images counted as a share).
        n: Number of trials; 0 gives NaN for the proportion and the interval.
        method: ``"wilson"`` (default) or ``"clopper-pearson"``.
    """
    _check_confidence(confidence)
    if method not in PROPORTION_METHODS:
        raise ConfigError(f"proportion interval method must be one of "
                          f"{', '.join(PROPORTION_METHODS)}, got {method!r}")
    successes, n = _count(successes, "successes"), _count(n, "n")
    if not 0 <= successes <= n:
        raise DataError(f"a proportion needs 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return ProportionInterval(math.nan, 0, 0, math.nan, math.nan, confidence, method)
    low, high = proportion_confint(successes, n, alpha=1 - confidence,
                                   method=PROPORTION_METHODS[method][0])
    # Both methods reach 0 at 0/n and 1 at n/n exactly, and never leave [0, 1]; statsmodels'
    # floating point can miss either by 1e-16.
    low = 0.0 if successes == 0 else float(max(low, 0.0))
    high = 1.0 if successes == n else float(min(high, 1.0))
    return ProportionInterval(successes / n, successes, n, low, high, confidence, method)


def accuracy_interval(
    correct: Sequence[bool],
    *,
    confidence: float = 0.95,
    method: str = DEFAULT_PROPORTION_METHOD,
) -> ProportionInterval:
    """One run's accuracy with its :func:`proportion_interval`, from per-image correctness
    (booleans or 0/1)."""
    values = np.asarray(correct).ravel()
    if values.size == 0:
        raise DataError("an accuracy needs at least one prediction, got none")
    if values.dtype != bool:
        values = values.astype(float)
        if not np.isin(values, (0.0, 1.0)).all():
            raise DataError("per-image correctness must be true/false (or 0/1)")
    return proportion_interval(int(values.sum()), int(values.size), confidence=confidence,
                               method=method)


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
    """One-way ANOVA and Kruskal-Wallis (scipy) of groups of at least 2 observations, e.g.
    ``{0: [...], 2: [...], 3: [...], 4: [...]}``."""
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
    sizes = [array.size for array in arrays]
    return GroupTestResult(list(samples), sizes, float(anova.statistic), len(arrays) - 1,
                           sum(sizes) - len(arrays), float(anova.pvalue), float(kruskal_h),
                           float(kruskal_p))


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
    """One-way ANOVA of groups from their means, SDs and sizes (statsmodels ``anova_generic``).

    Args:
        sd_ddof: 1 for sample SDs, 0 for population SDs (as in :func:`compare_from_summary`).
        equal_var: classic ANOVA (True) or Welch's ANOVA (False).
    """
    means, sds, ns = (np.asarray(values, dtype=float) for values in (means, sds, ns))
    if not means.size == sds.size == ns.size or means.size < 2:
        raise DataError(f"ANOVA needs means, SDs and sizes of at least 2 groups, got "
                        f"{means.size}, {sds.size} and {ns.size} values")
    if np.any(ns < 2):
        raise DataError(f"every group needs n >= 2, got {ns.tolist()}")
    sds = _sample_sds(sds, ns, sd_ddof)
    result = anova_generic(means, sds**2, ns, use_var="equal" if equal_var else "unequal")
    return AnovaResult("one-way ANOVA" if equal_var else "Welch one-way ANOVA",
                       float(result.statistic), float(result.df_num), float(result.df_denom),
                       float(result.pvalue))

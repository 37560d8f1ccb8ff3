"""Confidence intervals of proportions (one run's accuracy, a share of images): coverage at
small n, agreement with scipy, the 0/n and n/n cases, and the level they say they have."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from thesis_lib.analysis import (
    accuracy_interval,
    bootstrap_accuracy,
    ci_label,
    proportion_interval,
)
from thesis_lib.errors import ConfigError, DataError

N = 30


def exact_coverage(interval_of, n: int, p: float) -> float:
    """P(the interval of k successes of n holds p), summed over k ~ Binomial(n, p)."""
    covered = [interval_of(k).ci_low <= p <= interval_of(k).ci_high for k in range(n + 1)]
    return float(stats.binom.pmf(np.arange(n + 1), n, p)[covered].sum())


@pytest.mark.parametrize("p", [0.05, 0.5])
@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_intervals_cover_at_least_93_percent_at_n_30(method, p):
    coverage = exact_coverage(lambda k: proportion_interval(k, N, method=method), N, p)
    assert coverage >= 0.93
    if method == "clopper-pearson":
        assert coverage >= 0.95  # exact: never below its level


def test_the_percentile_bootstrap_misses_the_target_that_the_default_meets():
    # The check above can fail: the bootstrap interval of one run's accuracy is the point 0 at
    # 0 of 30, which happens with probability 0.95^30 = 21 % when p = 0.05.
    def bootstrap(k):
        return bootstrap_accuracy(np.arange(N) < k, n_resamples=999, seed=0)

    assert exact_coverage(bootstrap, N, 0.05) < 0.80
    assert exact_coverage(lambda k: accuracy_interval(np.arange(N) < k), N, 0.05) >= 0.93


@pytest.mark.parametrize("successes, n", [(0, 30), (1, 30), (7, 30), (29, 30), (30, 30),
                                          (813, 1000), (3, 7)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_intervals_are_scipys_wilson_and_exact_intervals(successes, n, confidence):
    reference = stats.binomtest(successes, n)
    wilson = proportion_interval(successes, n, confidence=confidence)
    expected = reference.proportion_ci(confidence, method="wilson")
    assert (wilson.ci_low, wilson.ci_high) == pytest.approx((expected.low, expected.high),
                                                            abs=1e-12)
    exact = proportion_interval(successes, n, confidence=confidence, method="clopper-pearson")
    expected = reference.proportion_ci(confidence, method="exact")
    assert (exact.ci_low, exact.ci_high) == pytest.approx((expected.low, expected.high),
                                                          abs=1e-9)
    assert wilson.proportion == exact.proportion == successes / n
    assert (wilson.confidence, wilson.method, exact.method) == (confidence, "wilson",
                                                                "clopper-pearson")


@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_none_and_all_right_give_intervals_of_positive_width(method):
    z2 = stats.norm.ppf(0.975) ** 2
    none, every = (proportion_interval(k, N, method=method) for k in (0, N))
    assert none.ci_low == 0.0 and none.ci_high > 0.0
    assert every.ci_high == 1.0 and every.ci_low < 1.0
    assert none.ci_high == pytest.approx(1 - every.ci_low)
    if method == "wilson":  # the score interval at 0/n: [0, z^2 / (n + z^2)]
        assert none.ci_high == pytest.approx(z2 / (N + z2))
    else:  # Clopper-Pearson at 0/n: [0, 1 - (alpha / 2)^(1 / n)]
        assert none.ci_high == pytest.approx(1 - 0.025 ** (1 / N))


def test_accuracy_interval_counts_the_correct_predictions():
    correct = np.array([True] * 24 + [False] * 6)
    result = accuracy_interval(correct, confidence=0.9)
    assert (result.successes, result.n, result.proportion) == (24, 30, 0.8)
    assert result == proportion_interval(24, 30, confidence=0.9)
    assert accuracy_interval(correct.astype(int)) == accuracy_interval(correct)
    with pytest.raises(DataError, match="at least one prediction"):
        accuracy_interval([])
    with pytest.raises(DataError, match="true/false"):
        accuracy_interval([0.5, 1.0])


def test_every_interval_names_the_level_it_was_computed_at():
    assert proportion_interval(24, 30).label == "95 % Wilson CI"
    reference = stats.binomtest(24, 30).proportion_ci(0.9, method="wilson")
    assert proportion_interval(24, 30, confidence=0.9).summary() == (
        f"0.800 (24 of 30), 90 % Wilson CI [{reference.low:.3f}, {reference.high:.3f}]")
    assert ci_label(0.975, "clopper-pearson") == "97.5 % Clopper-Pearson CI"
    assert ci_label(0.99) == "99 % CI"
    assert proportion_interval(1, 2).as_dict("acc_")["acc_confidence"] == 0.95


def test_no_observation_and_bad_arguments():
    empty = proportion_interval(0, 0)
    assert empty.n == 0 and math.isnan(empty.proportion) and math.isnan(empty.ci_low)
    assert "0 of 0" in empty.summary()
    with pytest.raises(DataError, match="0 <= successes <= n"):
        proportion_interval(31, 30)
    with pytest.raises(DataError, match="whole counts"):
        proportion_interval(2.5, 30)
    with pytest.raises(ConfigError, match="method must be one of wilson, clopper-pearson"):
        proportion_interval(3, 30, method="normal")
    with pytest.raises(ConfigError, match="confidence must be a level in"):
        proportion_interval(3, 30, confidence=95)

"""Top-2 cross-sentiment consistency on hand-built probability tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from thesis_lib.analysis.sentiment import (
    chance_share,
    cross_sentiment_flags,
    cross_sentiment_share,
    default_sentiment_map,
    ranked_classes,
)
from thesis_lib.data.labels import MIKELS8, MIKELS8_SENTIMENT, THESIS7
from thesis_lib.errors import ConfigError, DataError


def probabilities(*rows: dict[str, float]) -> np.ndarray:
    """Rows given as {class: probability}; the rest of each row is spread evenly."""
    table = np.zeros((len(rows), len(MIKELS8)))
    for index, row in enumerate(rows):
        rest = [name for name in MIKELS8 if name not in row]
        leftover = (1 - sum(row.values())) / len(rest)
        table[index] = [row.get(name, leftover) for name in MIKELS8]
    return table


# Top-2 of each row, and whether they have opposite sentiments.
ROWS = [
    ({"sadness": 0.6, "awe": 0.3}, True),          # negative, positive
    ({"sadness": 0.5, "fear": 0.4}, False),        # both negative
    ({"amusement": 0.45, "excitement": 0.4}, False),
    ({"contentment": 0.7, "anger": 0.2}, True),
    ({"disgust": 0.35, "amusement": 0.3}, True),
]


def test_share_counts_opposite_top2_pairs():
    table = probabilities(*(row for row, _ in ROWS))
    flags = cross_sentiment_flags(table, MIKELS8)
    assert flags.tolist() == [cross for _, cross in ROWS]
    result = cross_sentiment_share(table, MIKELS8, scheme="mikels8")
    assert (result.n_cross, result.n_counted, result.n_images) == (3, 5, 5)
    assert result.share == pytest.approx(0.6) and result.coverage == 1.0


def test_ties_go_to_the_lower_class_index():
    # Second place tied between awe (index 1, positive) and sadness (index 7, negative).
    tied_second = probabilities({"fear": 0.4, "awe": 0.25, "sadness": 0.25})
    assert ranked_classes(tied_second, 2).tolist() == [[MIKELS8.index("fear"), 1]]
    assert cross_sentiment_flags(tied_second, MIKELS8).tolist() == [True]
    # First place tied: amusement (0) before sadness (7); second is then sadness.
    tied_first = probabilities({"amusement": 0.4, "sadness": 0.4})
    assert ranked_classes(tied_first, 2).tolist() == [[0, 7]]
    # A uniform row: the first two classes, amusement and awe, both positive.
    uniform = np.full((1, 8), 1 / 8)
    assert cross_sentiment_flags(uniform, MIKELS8).tolist() == [False]


def test_ranking_matches_a_sort_by_probability_then_index():
    rng = np.random.default_rng(0)
    table = rng.dirichlet(np.ones(8), size=50).round(2)  # rounding makes ties
    table /= table.sum(axis=1, keepdims=True)
    expected = [sorted(range(8), key=lambda c, row=row: (-row[c], c)) for row in table]
    assert ranked_classes(table).tolist() == expected


def test_threshold_counts_confident_images_only():
    table = probabilities(*(row for row, _ in ROWS))  # top-1: 0.6 0.5 0.45 0.7 0.35
    result = cross_sentiment_share(table, MIKELS8, threshold=0.5)
    assert (result.n_counted, result.n_cross) == (3, 2)  # rows 0, 1, 3
    assert result.coverage == pytest.approx(3 / 5) and result.share == pytest.approx(2 / 3)
    assert result.threshold == 0.5


def test_threshold_that_leaves_no_image_gives_an_empty_result():
    table = probabilities(*(row for row, _ in ROWS))
    result = cross_sentiment_share(table, MIKELS8, threshold=0.99)
    assert (result.n_counted, result.n_cross, result.n_images, result.coverage) == (0, 0, 5, 0.0)
    assert math.isnan(result.share) and math.isnan(result.ci_low) and math.isnan(result.ci_high)
    assert result.summary() == "no image has a top-1 probability of at least 0.99 (0 of 5 counted)"
    with pytest.raises(ConfigError, match=r"threshold must be a probability in \[0, 1\]"):
        cross_sentiment_share(table, MIKELS8, threshold=1.5)


def test_all_one_sentiment_gives_zero_with_an_interval_of_positive_width():
    table = probabilities({"sadness": 0.5, "fear": 0.3}, {"anger": 0.6, "disgust": 0.3},
                          {"fear": 0.5, "sadness": 0.4})
    result = cross_sentiment_share(table, MIKELS8)
    # 0 of 3 does not prove a share of 0: Wilson's interval is [0, z^2 / (3 + z^2)].
    z2 = stats.norm.ppf(0.975) ** 2
    assert (result.share, result.ci_low) == (0.0, 0.0)
    assert result.ci_high == pytest.approx(z2 / (3 + z2))
    every_class_negative = dict.fromkeys(MIKELS8, "negative")
    table = probabilities(*(row for row, _ in ROWS))
    all_negative = cross_sentiment_share(table, MIKELS8, sentiment_map=every_class_negative)
    assert (all_negative.share, all_negative.chance_share) == (0.0, 0.0)


def test_intervals_of_share_and_coverage_are_scipys_wilson_intervals_at_the_level_given():
    rng = np.random.default_rng(3)
    table = rng.dirichlet(np.ones(8), size=200)
    flags = cross_sentiment_flags(table, MIKELS8)
    confident = table.max(axis=1) >= 0.3
    result = cross_sentiment_share(table, MIKELS8, threshold=0.3, confidence=0.9)
    share = stats.binomtest(int(flags[confident].sum()), int(confident.sum()))
    expected = share.proportion_ci(0.9, method="wilson")
    assert result.share == pytest.approx(flags[confident].mean())
    assert (result.ci_low, result.ci_high) == pytest.approx((expected.low, expected.high))
    expected = stats.binomtest(int(confident.sum()), 200).proportion_ci(0.9, method="wilson")
    assert (result.coverage_ci_low, result.coverage_ci_high) == pytest.approx(
        (expected.low, expected.high))
    assert (result.confidence_level, result.ci_method) == (0.9, "wilson")
    # The text names the level the intervals were computed at.
    assert "90 % Wilson CI" in result.summary() and "95 %" not in result.summary()
    with pytest.raises(ConfigError, match="confidence must be a level in"):
        cross_sentiment_share(table, MIKELS8, confidence=95)


def test_one_counted_image_still_has_an_interval():
    result = cross_sentiment_share(probabilities({"sadness": 0.6, "awe": 0.3}), MIKELS8)
    assert (result.share, result.ci_high) == (1.0, 1.0) and 0 < result.ci_low < 1


def test_chance_level_is_the_share_of_opposite_pairs_among_all_pairs():
    # Mikels-8: 4 positive x 4 negative opposite pairs of C(8, 2) = 28.
    assert chance_share(MIKELS8, scheme="mikels8") == pytest.approx(16 / 28)
    three_positive = {**MIKELS8_SENTIMENT, "anger": "positive"}
    assert chance_share(MIKELS8, three_positive) == pytest.approx(5 * 3 / 28)
    # Counted by enumerating the pairs.
    signs = [three_positive[name] for name in MIKELS8]
    pairs = [(a, b) for a in range(8) for b in range(a + 1, 8)]
    assert chance_share(MIKELS8, three_positive) == pytest.approx(
        np.mean([signs[a] != signs[b] for a, b in pairs]))
    with pytest.raises(ConfigError, match="not applicable"):
        chance_share(["not_sadness", "sadness"], scheme="sadness")


@pytest.mark.parametrize("threshold", [None, 0.4])
def test_uniformly_random_probabilities_give_the_chance_level_with_or_without_a_threshold(
        threshold):
    # Dirichlet(1): uniform on the simplex, so the ranking of the classes knows nothing of
    # their sentiments; keeping the confident images does not change that.
    table = np.random.default_rng(11).dirichlet(np.ones(8), size=40_000)
    result = cross_sentiment_share(table, MIKELS8, threshold=threshold)
    assert result.chance_share == pytest.approx(16 / 28)
    standard_error = math.sqrt(16 / 28 * 12 / 28 / result.n_counted)
    assert abs(result.share - 16 / 28) < 4 * standard_error
    if threshold is not None:
        assert result.n_counted < 0.3 * result.n_images  # the threshold did filter


def test_a_table_of_prob_columns_reads_like_the_array():
    table = probabilities(*(row for row, _ in ROWS))
    frame = pd.DataFrame(table[:, ::-1].copy(), columns=[f"prob_{name}" for name in MIKELS8[::-1]])
    frame.insert(0, "path", [f"{index}.jpg" for index in range(len(frame))])
    from_frame = cross_sentiment_share(frame, MIKELS8)
    assert from_frame.n_cross == 3
    assert cross_sentiment_share(frame).n_cross == 3  # class names from the columns
    frame.loc[1, "prob_sadness"] = np.nan
    with pytest.raises(DataError, match=r"1 row\(s\) have no probabilities"):
        cross_sentiment_share(frame, MIKELS8)
    with pytest.raises(DataError, match="not logits"):
        cross_sentiment_share(np.log(table), MIKELS8)


def test_a_class_missing_from_the_map_is_named():
    partial = {name: sentiment for name, sentiment in MIKELS8_SENTIMENT.items() if name != "awe"}
    with pytest.raises(ConfigError, match="class\\(es\\) 'awe' missing from the sentiment map"):
        cross_sentiment_share(probabilities(*(row for row, _ in ROWS)), MIKELS8,
                              sentiment_map=partial)
    with pytest.raises(ConfigError, match="class 'awe' has sentiment 'happy'"):
        cross_sentiment_share(probabilities(*(row for row, _ in ROWS)), MIKELS8,
                              sentiment_map={**MIKELS8_SENTIMENT, "awe": "happy"})


def test_default_maps_and_the_schemes_without_one():
    assert default_sentiment_map(MIKELS8, scheme="mikels8") == MIKELS8_SENTIMENT
    # Class folders named after Mikels categories (any spelling) get the same sentiments.
    folders = ["Amusement", "Sad", "awe"]
    assert default_sentiment_map(folders, scheme="folders") == \
        {"Amusement": "positive", "Sad": "negative", "awe": "positive"}
    with pytest.raises(ConfigError, match="not applicable to the 2-class scheme 'sadness'"):
        default_sentiment_map(["not_sadness", "sadness"], scheme="sadness")
    with pytest.raises(ConfigError, match="not applicable"):
        cross_sentiment_share(np.array([[0.3, 0.7]]), ["not_sadness", "sadness"],
                              sentiment_map={"not_sadness": "positive", "sadness": "negative"})
    with pytest.raises(ConfigError, match="'surprise', 'confusion' of scheme 'thesis7'"):
        default_sentiment_map(THESIS7, scheme="thesis7")

"""Top-2 cross-sentiment consistency: how often a network's two best guesses disagree in valence.

The share of images whose two most probable classes have opposite sentiments (awe and sadness,
not sadness and fear) is a label-free measure of how well a multi-class network has learned
valence (docs/analysis.md). The default map is Mikels et al. (2005) for the Mikels-8 categories
(``labels.MIKELS8_SENTIMENT``); other schemes need their own map, and binary schemes cannot be
measured: their two classes are always the top two.

Equal probabilities rank by class index, as ``numpy.argmax`` does, so the top-1 class is the
predicted class of ``predictions.csv``. Share and coverage get Wilson intervals; records written
by earlier versions hold a bootstrap interval under the same keys, without ``ci_method``.

Chance level: if the top two were a uniformly random pair of distinct classes, the share would be
``n_pos * n_neg / (K (K - 1) / 2)`` (16/28 for Mikels-8). Any exchangeable distribution of
probabilities gives it, also under a threshold on the top-1 probability, so a filtered share
below it means the confident images' rankings separate the sentiments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from thesis_lib.analysis.hypothesis_tests import (
    DEFAULT_PROPORTION_METHOD,
    _check_confidence,
    ci_label,
    proportion_interval,
)
from thesis_lib.data import labels
from thesis_lib.errors import ConfigError, DataError

PROBABILITY_PREFIX = "prob_"
SENTIMENTS = (labels.POSITIVE, labels.NEGATIVE)
DEFAULT_SENTIMENT_MAPS: dict[str, dict[str, str]] = {"mikels8": dict(labels.MIKELS8_SENTIMENT)}
# Softmax outputs written to CSV and read back sum to 1 within float32 rounding.
SUM_TOLERANCE = 1e-3


def probability_columns(frame: pd.DataFrame) -> list[str]:
    """The ``prob_<class>`` columns of a predictions table, in class-index order."""
    return [column for column in frame.columns if str(column).startswith(PROBABILITY_PREFIX)]


def class_names_of(frame: pd.DataFrame) -> list[str]:
    """Class names from the ``prob_<class>`` columns of a predictions table, in index order."""
    return [column.removeprefix(PROBABILITY_PREFIX) for column in probability_columns(frame)]


@dataclass(frozen=True)
class CrossSentimentResult:
    """The top-2 cross-sentiment share: ``n_cross`` of ``n_counted`` images (of
    ``n_images``; ``coverage`` = n_counted / n_images), the Wilson intervals of share and
    coverage at ``confidence_level``, and :func:`chance_share`; nan when no image counts."""

    share: float
    n_cross: int
    n_counted: int
    n_images: int
    coverage: float
    ci_low: float
    ci_high: float
    coverage_ci_low: float
    coverage_ci_high: float
    confidence_level: float
    ci_method: str
    chance_share: float
    threshold: float | None

    def as_dict(self, prefix: str = "") -> dict[str, float | int | str | None]:
        """A flat dict, keys optionally prefixed (``prefix="top2_cross_"``)."""
        return {f"{prefix}{key}": value for key, value in asdict(self).items()}

    def summary(self) -> str:
        """One line for a report."""
        if self.n_counted == 0:
            return (f"no image has a top-1 probability of at least {self.threshold} "
                    f"(0 of {self.n_images} counted)")
        label = ci_label(self.confidence_level, self.ci_method)
        interval = "" if math.isnan(self.ci_low) else \
            f", {label} [{self.ci_low:.3f}, {self.ci_high:.3f}]"
        coverage = f"coverage {self.coverage:.3f}"
        if self.threshold is not None and not math.isnan(self.coverage_ci_low):
            coverage += f" ({label} [{self.coverage_ci_low:.3f}, {self.coverage_ci_high:.3f}])"
        return (f"top-2 cross-sentiment share {self.share:.3f} ({self.n_cross} of "
                f"{self.n_counted} images{interval}; chance level {self.chance_share:.3f}, "
                f"a random top-2 pair); {coverage}")


def _is_binary(class_names: Sequence[str], scheme: str | None) -> bool:
    key = (scheme or "").strip().lower()
    return key == "sadness" or key.startswith("binary:") or len(class_names) < 3


def default_sentiment_map(class_names: Sequence[str], *, scheme: str | None = None
                          ) -> dict[str, str]:
    """The documented sentiment of each class of a scheme (``scheme``: its name, if known).

    Raises:
        ConfigError: a binary scheme (not applicable), or classes without a default sentiment
            (the message names them and says how to give a map).
    """
    class_names = list(class_names)
    if _is_binary(class_names, scheme):
        raise ConfigError(
            f"top-2 cross-sentiment is not applicable to the {len(class_names)}-class scheme "
            f"'{scheme or ', '.join(class_names)}': with two classes the top two are always "
            "the same pair; it needs a multi-class network (e.g. mikels8)"
        )
    if scheme in DEFAULT_SENTIMENT_MAPS:
        return dict(DEFAULT_SENTIMENT_MAPS[scheme])
    sentiments = {name: labels.MIKELS8_SENTIMENT.get(labels.canonical_emotion(name))
                  for name in class_names}
    unknown = [name for name, sentiment in sentiments.items() if sentiment is None]
    if unknown:
        raise ConfigError(
            f"no default sentiment for class(es) {', '.join(map(repr, unknown))} of scheme "
            f"'{scheme or 'unknown'}' (defaults exist for the Mikels-8 categories); pass "
            "sentiment_map={class: 'positive' or 'negative'}"
        )
    return sentiments


def _positive_classes(class_names: Sequence[str], sentiment_map: Mapping[str, str] | None,
                      scheme: str | None) -> np.ndarray:
    """Per class index: True for positive, False for negative (default map of ``scheme``)."""
    if sentiment_map is None:
        sentiment_map = default_sentiment_map(class_names, scheme=scheme)
    elif _is_binary(class_names, scheme):
        default_sentiment_map(class_names, scheme=scheme)  # raises: not applicable
    missing = [name for name in class_names if name not in sentiment_map]
    if missing:
        raise ConfigError(f"class(es) {', '.join(map(repr, missing))} missing from the "
                          f"sentiment map (it has {', '.join(map(repr, sentiment_map))})")
    for name, value in sentiment_map.items():
        if name in class_names and value not in SENTIMENTS:
                raise ConfigError(f"sentiment map: class {name!r} has sentiment {value!r}; use "
                              f"'{labels.POSITIVE}' or '{labels.NEGATIVE}'")
    return np.array([sentiment_map[name] == labels.POSITIVE for name in class_names])


def probability_matrix(
    probabilities: np.ndarray | pd.DataFrame, class_names: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """The (N, C) probabilities and the class names, from an array or from a table with
    ``prob_<class>`` columns (``predictions.csv``, ``thesis predict``/``embed`` output; class
    names default to those columns).

    Raises:
        DataError: missing columns, a wrong shape, missing values, or rows that are not
            probabilities (negative, or not summing to 1).
    """
    if isinstance(probabilities, pd.DataFrame):
        if class_names is None:
            class_names = class_names_of(probabilities)
        columns = [f"{PROBABILITY_PREFIX}{name}" for name in class_names]
        missing = [column for column in columns if column not in probabilities.columns]
        if missing or not columns:
            raise DataError(f"probability table lacks column(s) "
                            f"{', '.join(missing) or 'prob_<class>'}")
        matrix = probabilities[columns].to_numpy(dtype=float)
    else:
        if class_names is None:
            raise ConfigError("class_names are needed with a probability array")
        matrix = np.asarray(probabilities, dtype=float)
    class_names = list(class_names)
    if matrix.ndim != 2 or matrix.shape[1] != len(class_names):
        raise DataError(f"probabilities must have shape (N, {len(class_names)}) for classes "
                        f"{class_names}, got {matrix.shape}")
    if np.isnan(matrix).any():
        rows = int(np.isnan(matrix).any(axis=1).sum())
        raise DataError(f"{rows} row(s) have no probabilities (images that were skipped?); "
                        "keep only the predicted images (status 'ok')")
    sums = matrix.sum(axis=1)
    if (matrix < 0).any() or (np.abs(sums - 1) > SUM_TOLERANCE).any():
        raise DataError("probabilities must be non-negative and sum to 1 per row (softmax "
                        "outputs, not logits)")
    return matrix, class_names


def ranked_classes(probabilities: np.ndarray, k: int | None = None) -> np.ndarray:
    """Class indices per image, most probable first, ties by lower index; the first ``k``."""
    probabilities = np.asarray(probabilities, dtype=float)
    # A stable sort of the negated values keeps equal probabilities in index order.
    order = np.argsort(-probabilities, axis=1, kind="stable")
    if k is None:
        return order
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not \
            1 <= k <= probabilities.shape[1]:
        raise ConfigError(f"top-k must be between 1 and the number of classes "
                          f"({probabilities.shape[1]}), got {k!r}")
    return order[:, :k]


def cross_sentiment_flags(
    probabilities: np.ndarray | pd.DataFrame,
    class_names: Sequence[str] | None = None,
    sentiment_map: Mapping[str, str] | None = None,
    *,
    scheme: str | None = None,
) -> np.ndarray:
    """Per image, whether its two most probable classes have opposite sentiments.

    Args:
        probabilities, class_names: As for :func:`probability_matrix`.
        sentiment_map: Class -> "positive" or "negative"; default :func:`default_sentiment_map`.
        scheme: The label scheme, for the default map and the binary check.
    """
    matrix, class_names = probability_matrix(probabilities, class_names)
    positive = _positive_classes(class_names, sentiment_map, scheme)
    top = ranked_classes(matrix, 2)
    return positive[top[:, 0]] != positive[top[:, 1]]


def chance_share(
    class_names: Sequence[str],
    sentiment_map: Mapping[str, str] | None = None,
    *,
    scheme: str | None = None,
) -> float:
    """The share if the top-2 classes were a uniformly random pair of distinct classes (see the
    module's notes); ``sentiment_map`` and ``scheme`` as for :func:`cross_sentiment_flags`."""
    class_names = list(class_names)
    positive = int(_positive_classes(class_names, sentiment_map, scheme).sum())
    negative = len(class_names) - positive
    return positive * negative / math.comb(len(class_names), 2)


def cross_sentiment_share(
    probabilities: np.ndarray | pd.DataFrame,
    class_names: Sequence[str] | None = None,
    *,
    sentiment_map: Mapping[str, str] | None = None,
    scheme: str | None = None,
    threshold: float | None = None,
    confidence: float = 0.95,
) -> CrossSentimentResult:
    """The share of images whose top-2 classes have opposite sentiments (label-free), with
    its Wilson CI and its chance level.

    Args:
        probabilities, class_names, sentiment_map, scheme: As for
            :func:`cross_sentiment_flags`.
        threshold: Count only images whose top-1 probability is at least this (0..1).
        confidence: Level of the intervals of the share and of the coverage.

    Raises:
        ConfigError: a binary scheme, a class missing from the map, a bad threshold or level.
        DataError: probabilities that are not (N, C) rows of probabilities.
    """
    if threshold is not None and not 0 <= threshold <= 1:
        raise ConfigError(f"threshold must be a probability in [0, 1], got {threshold!r}")
    _check_confidence(confidence)
    matrix, class_names = probability_matrix(probabilities, class_names)
    flags = cross_sentiment_flags(matrix, class_names, sentiment_map, scheme=scheme)
    counted = np.ones(len(matrix), dtype=bool) if threshold is None else \
        matrix.max(axis=1) >= threshold
    n_images, n_counted = len(matrix), int(counted.sum())
    share = proportion_interval(int(flags[counted].sum()), n_counted, confidence=confidence)
    coverage = proportion_interval(n_counted, n_images, confidence=confidence)
    return CrossSentimentResult(
        share=share.proportion, n_cross=share.successes, n_counted=n_counted,
        n_images=n_images, coverage=coverage.proportion, ci_low=share.ci_low,
        ci_high=share.ci_high, coverage_ci_low=coverage.ci_low,
        coverage_ci_high=coverage.ci_high, confidence_level=confidence,
        ci_method=DEFAULT_PROPORTION_METHOD, threshold=threshold,
        chance_share=chance_share(class_names, sentiment_map, scheme=scheme),
    )

"""Top-2 cross-sentiment consistency: how often a network's two best guesses disagree in valence.

For every image, take the two most probable classes. When one is a positive emotion and the
other a negative one (say awe and sadness), the network hesitates between opposite sentiments;
when both share a sentiment (sadness and fear), its doubt stays within one valence. The share of
images of the first kind is a label-free measure of how well a multi-class network has learned
valence, usable on any folder of images, labelled or not.

    cross_sentiment_share(probs, class_names, threshold=...)   share, coverage, bootstrap CI
    cross_sentiment_flags(probs, class_names, sentiment_map)    per image: opposite or not
    default_sentiment_map(class_names, scheme=...)              the documented defaults
    ranked_classes(probs, k)                                    top-k class indices per image

Sentiment maps. For ``mikels8`` the default is Mikels et al. (2005): amusement, awe,
contentment and excitement positive; anger, disgust, fear and sadness negative
(``labels.MIKELS8_SENTIMENT``). Any scheme whose classes are all Mikels categories (e.g. the
``folders`` of an FI copy) gets the same map. Other schemes need their own map (``thesis7``
has surprise and confusion, which are neither). Binary schemes such as ``sadness`` cannot be
measured at all: their two classes are always the top two.

Ties. Classes are ranked by probability, and equal probabilities by class index (the lower
index first), as ``numpy.argmax`` does for the top-1 class: the result never depends on the
order of evaluation, and the top-1 class is always the predicted class of ``predictions.csv``.

Threshold. With ``threshold=t`` only images whose top-1 probability is at least ``t`` are
counted; the result says how many (``n_counted``) and what fraction (``coverage``) that is. A
threshold that leaves no image gives ``share = nan`` and ``n_counted = 0``, not an error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from thesis_lib.data import labels
from thesis_lib.errors import ConfigError, DataError

PROBABILITY_PREFIX = "prob_"
SENTIMENTS = (labels.POSITIVE, labels.NEGATIVE)
DEFAULT_SENTIMENT_MAPS: dict[str, dict[str, str]] = {"mikels8": dict(labels.MIKELS8_SENTIMENT)}
# Softmax outputs written to CSV and read back sum to 1 within float32 rounding.
SUM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class CrossSentimentResult:
    """The top-2 cross-sentiment share of a set of predictions.

    Attributes:
        share: Fraction of the counted images whose top-2 classes have opposite sentiments;
            ``nan`` when no image is counted.
        n_cross: Number of those images.
        n_counted: Images counted (top-1 probability at least ``threshold``).
        n_images: All images given.
        coverage: ``n_counted / n_images``.
        ci_low, ci_high: Bootstrap confidence interval of ``share`` (percentile method,
            resampling images); the share itself when every counted image agrees (no resample
            can differ), ``nan`` below two counted images.
        confidence_level: Level of the interval.
        threshold: The top-1 probability an image needs to be counted (None: all).
        n_resamples: Bootstrap resamples.
        seed: Seed of the resampling.
    """

    share: float
    n_cross: int
    n_counted: int
    n_images: int
    coverage: float
    ci_low: float
    ci_high: float
    confidence_level: float
    threshold: float | None
    n_resamples: int
    seed: int

    def as_dict(self, prefix: str = "") -> dict[str, float | int | None]:
        """A flat dict, keys optionally prefixed (``prefix="top2_cross_"``)."""
        return {f"{prefix}{key}": value for key, value in asdict(self).items()}

    def summary(self) -> str:
        """One line for a report."""
        if self.n_counted == 0:
            return (f"no image has a top-1 probability of at least {self.threshold} "
                    f"(0 of {self.n_images} counted)")
        interval = "" if math.isnan(self.ci_low) else \
            f", {self.confidence_level:.0%} CI [{self.ci_low:.3f}, {self.ci_high:.3f}]"
        return (f"top-2 cross-sentiment share {self.share:.3f} ({self.n_cross} of "
                f"{self.n_counted} images{interval}); coverage {self.coverage:.3f}")


def _is_binary(class_names: Sequence[str], scheme: str | None) -> bool:
    key = (scheme or "").strip().lower()
    return key == "sadness" or key.startswith("binary:") or len(class_names) < 3


def default_sentiment_map(class_names: Sequence[str], *, scheme: str | None = None
                          ) -> dict[str, str]:
    """The documented sentiment of each class of a scheme.

    Args:
        class_names: The classes of the network, in index order.
        scheme: The run's label scheme name ("mikels8", "sadness", ...), if known.

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


def _check_sentiment_map(sentiment_map: Mapping[str, str], class_names: Sequence[str]
                         ) -> np.ndarray:
    """Per class index: True for positive, False for negative."""
    missing = [name for name in class_names if name not in sentiment_map]
    if missing:
        raise ConfigError(f"class(es) {', '.join(map(repr, missing))} missing from the "
                          f"sentiment map (it has {', '.join(map(repr, sentiment_map))})")
    bad = {name: value for name, value in sentiment_map.items()
           if name in class_names and value not in SENTIMENTS}
    if bad:
        name, value = next(iter(bad.items()))
        raise ConfigError(f"sentiment map: class {name!r} has sentiment {value!r}; use "
                          f"'{labels.POSITIVE}' or '{labels.NEGATIVE}'")
    return np.array([sentiment_map[name] == labels.POSITIVE for name in class_names])


def probability_matrix(
    probabilities: np.ndarray | pd.DataFrame, class_names: Sequence[str] | None = None
) -> tuple[np.ndarray, list[str]]:
    """The (N, C) probabilities and the class names, from an array or a table.

    Args:
        probabilities: An array (N, C), or a DataFrame with ``prob_<class>`` columns (as in a
            run's ``predictions.csv``, ``thesis predict`` or ``thesis embed`` output).
        class_names: The classes, in column order; for a table, default its ``prob_``
            columns in their order.

    Raises:
        DataError: missing columns, a wrong shape, missing values, or rows that are not
            probabilities (negative, or not summing to 1).
    """
    if isinstance(probabilities, pd.DataFrame):
        if class_names is None:
            class_names = [column[len(PROBABILITY_PREFIX):] for column in probabilities.columns
                           if str(column).startswith(PROBABILITY_PREFIX)]
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
    """Class indices per image, most probable first; equal probabilities by lower index.

    Args:
        probabilities: (N, C) array.
        k: Keep the first ``k`` (default: all C).
    """
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
        probabilities, class_names: As for ``probability_matrix``.
        sentiment_map: Class -> "positive" or "negative"; default ``default_sentiment_map``.
        scheme: The label scheme, for the default map and the binary check.
    """
    matrix, class_names = probability_matrix(probabilities, class_names)
    if sentiment_map is None:
        sentiment_map = default_sentiment_map(class_names, scheme=scheme)
    elif _is_binary(class_names, scheme):
        default_sentiment_map(class_names, scheme=scheme)  # raises: not applicable
    positive = _check_sentiment_map(sentiment_map, class_names)
    top = ranked_classes(matrix, 2)
    return positive[top[:, 0]] != positive[top[:, 1]]


def _bootstrap_interval(flags: np.ndarray, confidence_level: float, n_resamples: int,
                        seed: int) -> tuple[float, float]:
    from scipy import stats

    if flags.size < 2:
        return math.nan, math.nan
    if flags.min() == flags.max():
        share = float(flags[0])
        return share, share  # every resample has this share
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        result = stats.bootstrap((flags,), np.mean, confidence_level=confidence_level,
                                 n_resamples=n_resamples, method="percentile",
                                 rng=np.random.default_rng(seed), vectorized=True)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def cross_sentiment_share(
    probabilities: np.ndarray | pd.DataFrame,
    class_names: Sequence[str] | None = None,
    *,
    sentiment_map: Mapping[str, str] | None = None,
    scheme: str | None = None,
    threshold: float | None = None,
    confidence_level: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
) -> CrossSentimentResult:
    """The share of images whose top-2 classes have opposite sentiments, with a bootstrap CI.

    Label-free: only the predicted probabilities are used.

    Args:
        probabilities: (N, C) array, or a table with ``prob_<class>`` columns.
        class_names: Classes in column order (default for a table: its ``prob_`` columns).
        sentiment_map: Class -> "positive" or "negative"; default ``default_sentiment_map``.
        scheme: The run's label scheme, for the default map and the binary check.
        threshold: Count only images whose top-1 probability is at least this (0..1).
        confidence_level: Level of the bootstrap interval.
        n_resamples: Bootstrap resamples.
        seed: Seed of the resampling (the same seed gives the same interval).

    Raises:
        ConfigError: a binary scheme, a class missing from the map, a bad threshold or level.
        DataError: probabilities that are not (N, C) rows of probabilities.
    """
    if threshold is not None and not 0 <= threshold <= 1:
        raise ConfigError(f"threshold must be a probability in [0, 1], got {threshold!r}")
    if not 0 < confidence_level < 1:
        raise ConfigError(f"confidence_level must be in (0, 1), got {confidence_level!r}")
    matrix, class_names = probability_matrix(probabilities, class_names)
    flags = cross_sentiment_flags(matrix, class_names, sentiment_map, scheme=scheme)
    counted = np.ones(len(matrix), dtype=bool) if threshold is None else \
        matrix.max(axis=1) >= threshold
    kept = flags[counted].astype(float)
    n_images, n_counted = len(matrix), int(counted.sum())
    ci_low, ci_high = _bootstrap_interval(kept, confidence_level, n_resamples, seed)
    return CrossSentimentResult(
        share=float(kept.mean()) if n_counted else math.nan,
        n_cross=int(kept.sum()),
        n_counted=n_counted,
        n_images=n_images,
        coverage=n_counted / n_images if n_images else math.nan,
        ci_low=ci_low,
        ci_high=ci_high,
        confidence_level=confidence_level,
        threshold=threshold,
        n_resamples=n_resamples,
        seed=seed,
    )

"""How far predicted probabilities can be trusted: calibration metrics and temperature scaling.

The metrics of one evaluation set (:func:`calibration_metrics`):

* ``expected_calibration_error``: the images sorted by confidence (the largest probability)
  and cut into ``ece_bins`` bins of equal size (equal mass, so every bin has enough images to
  estimate its accuracy); the mean over bins, weighted by their size, of
  ``|accuracy - mean confidence|``.
* ``brier_score``: the mean over images of the sum over classes of the squared difference
  between the probability and the one-hot label (0 is perfect, 2 the worst; for two classes
  twice scikit-learn's ``brier_score_loss`` of class 1).
* ``nll``: the mean negative log-likelihood of the true class (natural log).

Temperature scaling (Guo et al. 2017) divides the log-probabilities by one number ``T`` fitted
on the validation split to minimise its NLL: it changes no prediction (the order of the
classes stays), only how confident they are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

# Equal-mass bins of the ECE (fewer where an evaluation set has fewer images).
ECE_BINS = 15
# Probabilities are clipped to this before a logarithm (a saved 0.0 would give infinity).
PROBABILITY_FLOOR = 1e-12
# Range searched for the temperature: far beyond what a trained network needs.
TEMPERATURE_BOUNDS = (0.05, 20.0)
CALIBRATION_METRICS = ("expected_calibration_error", "brier_score", "nll")


def _checked(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=int).ravel()
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) != len(labels):
        raise ValueError(f"probabilities must have shape ({len(labels)}, classes), "
                         f"got {probabilities.shape}")
    return labels, probabilities


def _nan_without_images(metric: Callable[[np.ndarray, np.ndarray], float]
                        ) -> Callable[[np.ndarray, np.ndarray], float]:
    """``metric`` of the labels and probabilities that pass :func:`_checked`; NaN without
    images."""

    @functools.wraps(metric)
    def checked(labels: np.ndarray, probabilities: np.ndarray) -> float:
        labels, probabilities = _checked(labels, probabilities)
        return metric(labels, probabilities) if len(labels) else float("nan")

    return checked


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray,
                               bins: int = ECE_BINS) -> tuple[float, int]:
    """The ECE over equal-mass bins of confidence, and the number of bins used.

    Args:
        labels: true class index per image, shape (N,).
        probabilities: predicted class probabilities, shape (N, classes).
        bins: the number of bins (at most N are used).

    Returns:
        ``(ece, bins used)``; ``(nan, 0)`` without images.
    """
    labels, probabilities = _checked(labels, probabilities)
    if len(labels) == 0:
        return float("nan"), 0
    return ece_of_table(reliability_table(labels, probabilities, bins))


def ece_of_table(table: dict[str, np.ndarray]) -> tuple[float, int]:
    """The ECE of a :func:`reliability_table` (the mean of ``|accuracy - confidence|`` over its
    bins, weighted by their size), and its number of bins."""
    weights = table["count"] / table["count"].sum()
    return float(np.sum(weights * np.abs(table["accuracy"] - table["confidence"]))), len(weights)


def reliability_table(labels: np.ndarray, probabilities: np.ndarray,
                      bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Per equal-mass bin of confidence: ``count``, mean ``confidence``, ``accuracy``, and the
    bin's lowest and highest confidence (``low``, ``high``), for the ECE and the reliability
    diagram.

    Args:
        labels: true class index per image.
        probabilities: predicted class probabilities, shape (N, classes).
        bins: the number of bins (at most N).
    """
    labels, probabilities = _checked(labels, probabilities)
    if bins < 1:
        raise ValueError(f"the number of bins must be at least 1, got {bins}")
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(float)
    # A stable sort, so that equal confidences fall into bins in image order on every machine.
    order = np.argsort(confidence, kind="stable")
    groups = [group for group in np.array_split(order, min(bins, len(order))) if len(group)]
    return {
        "count": np.array([len(group) for group in groups], dtype=float),
        "confidence": np.array([confidence[group].mean() for group in groups]),
        "accuracy": np.array([correct[group].mean() for group in groups]),
        "low": np.array([confidence[group].min() for group in groups]),
        "high": np.array([confidence[group].max() for group in groups]),
    }


@_nan_without_images
def brier_score(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean over images of the sum over classes of (probability - one-hot label)^2.

    Args:
        labels: true class index per image.
        probabilities: predicted class probabilities, shape (N, classes).
    """
    one_hot = np.eye(probabilities.shape[1])[labels]
    return float(np.mean(np.sum((probabilities - one_hot) ** 2, axis=1)))


@_nan_without_images
def negative_log_likelihood(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean of ``-log p(true class)``, probabilities clipped at :data:`PROBABILITY_FLOOR`.

    Args:
        labels: true class index per image.
        probabilities: predicted class probabilities, shape (N, classes).
    """
    chosen = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(chosen, PROBABILITY_FLOOR, 1.0))))


def calibration_metrics(labels: np.ndarray, probabilities: np.ndarray,
                        bins: int = ECE_BINS) -> dict[str, Any]:
    """``expected_calibration_error`` with ``ece_bins``, ``brier_score`` and ``nll`` of one
    evaluation set, JSON-ready (``None`` for a metric of an empty set).

    Args:
        labels: true class index per image.
        probabilities: predicted class probabilities, shape (N, classes).
        bins: equal-mass bins of the ECE.
    """
    ece, used = expected_calibration_error(labels, probabilities, bins)
    values = {"expected_calibration_error": ece, "ece_bins": used,
              "brier_score": brier_score(labels, probabilities),
              "nll": negative_log_likelihood(labels, probabilities)}
    return {key: (None if isinstance(value, float) and np.isnan(value) else value)
            for key, value in values.items()}


def scale_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(p) / T)``: the probabilities of a network whose logits are divided by
    ``temperature`` (the log-probabilities are the logits up to a constant per image).

    Args:
        probabilities: predicted class probabilities, shape (N, classes).
        temperature: ``T > 0``; 1 leaves them as they are, above 1 softens them.
    """
    if not temperature > 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), PROBABILITY_FLOOR, 1.0))
    scaled = logits / float(temperature)
    scaled -= scaled.max(axis=1, keepdims=True)
    exponent = np.exp(scaled)
    return exponent / exponent.sum(axis=1, keepdims=True)


def fit_temperature(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The temperature that minimises the NLL of ``probabilities`` (the validation split's),
    by a bounded scalar search over :data:`TEMPERATURE_BOUNDS` (the NLL is convex in 1/T).

    Args:
        labels: true class index per image.
        probabilities: predicted class probabilities, shape (N, classes).

    Returns:
        The temperature; 1.0 without images (nothing to fit on).
    """
    from scipy.optimize import minimize_scalar

    labels, probabilities = _checked(labels, probabilities)
    if len(labels) == 0:
        return 1.0
    result = minimize_scalar(
        lambda t: negative_log_likelihood(labels, scale_temperature(probabilities, t)),
        bounds=TEMPERATURE_BOUNDS, method="bounded", options={"xatol": 1e-6})
    return float(result.x)


def temperature_record(val_labels: np.ndarray, val_probabilities: np.ndarray) -> dict[str, Any]:
    """``temperature_scaling`` of ``metrics.json``: the temperature fitted on the validation
    split, the split's size and its NLL before and after.

    Args:
        val_labels: true class index per validation image.
        val_probabilities: the network's probabilities on them.
    """
    temperature = fit_temperature(val_labels, val_probabilities)
    before = negative_log_likelihood(val_labels, val_probabilities)
    after = negative_log_likelihood(val_labels, scale_temperature(val_probabilities, temperature))
    return {"temperature": temperature, "fitted_on": "val", "n_val": int(len(val_labels)),
            "val_nll_before": None if np.isnan(before) else before,
            "val_nll_after": None if np.isnan(after) else after}


def calibrated_metrics(labels: np.ndarray, probabilities: np.ndarray,
                       temperature: float) -> dict[str, Any]:
    """:func:`calibration_metrics` after temperature scaling (``calibrated`` in a record).

    Args:
        labels: true class index per image.
        probabilities: the network's probabilities.
        temperature: the run's fitted temperature.
    """
    return calibration_metrics(labels, scale_temperature(probabilities, temperature))


def recorded_temperature(metrics: dict[str, Any]) -> float | None:
    """The run's fitted temperature from its ``metrics.json``, ``None`` in records written
    before temperature scaling.

    Args:
        metrics: the run's ``metrics.json``, read.
    """
    scaling = metrics.get("temperature_scaling")
    if not isinstance(scaling, dict):
        return None
    temperature = scaling.get("temperature")
    if not isinstance(temperature, int | float) or isinstance(temperature, bool):
        return None
    return float(temperature)

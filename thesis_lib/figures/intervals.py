"""Intervals the figures may draw: Student-t intervals of a mean, only from three runs on, and
never outside the range of the metric.

A t interval from two seeds uses t(0.975, 1) = 12.7: for accuracies of 80 % and 57 % it spans
-77 % to 214 %, which says nothing about the network and misleads the eye. The figures therefore
show each seed itself when a network has fewer than :data:`MIN_RUNS_FOR_INTERVAL` runs, and
draw the interval (clipped to the metric's range, e.g. 0-100 % or losses >= 0) from three runs
on. The labels here are the words every figure uses to say which of the two it shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from thesis_lib.analysis.hypothesis_tests import level_text, mean_half_width

# Fewest runs (seeds) of a network from which a t interval of the mean is drawn.
MIN_RUNS_FOR_INTERVAL = 3
FEW_RUNS_LABEL = f"n < {MIN_RUNS_FOR_INTERVAL} seeds: each seed shown, no interval"

PERCENT = (0.0, 100.0)
FRACTION = (0.0, 1.0)
NON_NEGATIVE = (0.0, np.inf)
UNBOUNDED = (-np.inf, np.inf)


def interval_label(confidence: float) -> str:
    """Legend text of a drawn interval, e.g. "mean ± 95 % t CI (n ≥ 3 seeds)"."""
    return f"mean ± {level_text(confidence)} t CI (n ≥ {MIN_RUNS_FOR_INTERVAL} seeds)"


def clipped_note(bounds: tuple[float, float], unit: str = "") -> str:
    """Note for a figure in which an interval reached past the metric's range."""
    low, high = bounds
    if np.isinf(high):
        return f"intervals clipped at {low:g}{unit}"
    return f"intervals clipped to {low:g}-{high:g}{unit}"


@dataclass(frozen=True)
class MeanInterval:
    """Mean of a network's runs and, from three runs on, its clipped t interval.

    Attributes:
        mean: mean over the runs.
        n: number of runs.
        low, high: the interval clipped to the metric's range; NaN when ``n`` < 3.
        clipped: whether the unclipped interval reached past the range.
    """

    mean: float
    n: int
    low: float
    high: float
    clipped: bool

    @property
    def has_interval(self) -> bool:
        return self.n >= MIN_RUNS_FOR_INTERVAL


def _column_stats(values: np.ndarray, confidence: float):
    """Per column (point) of runs x points: number of runs, mean and t half-width.

    NaN marks a run without a value at that point (a run that stopped earlier). The half-width
    is NaN where fewer than three runs have a value.
    """
    present = ~np.isnan(values)
    counts = present.sum(axis=0)
    filled = np.where(present, values, 0.0)
    divisor = np.maximum(counts, 1)
    mean = np.where(counts > 0, filled.sum(axis=0) / divisor, np.nan)
    squares = np.where(present, (values - mean) ** 2, 0.0).sum(axis=0)
    sd = np.sqrt(squares / np.maximum(counts - 1, 1))
    half = np.where(counts >= MIN_RUNS_FOR_INTERVAL,
                    mean_half_width(sd, np.maximum(counts, 2), confidence), np.nan)
    return counts, mean, half


def mean_interval(
    values: Iterable[float], confidence: float = 0.95, bounds: tuple[float, float] = UNBOUNDED
) -> MeanInterval:
    """The mean of ``values`` and its t interval (sd with ddof = 1), clipped to ``bounds``.

    Args:
        values: one value per run (seed).
        confidence: level of the interval.
        bounds: the metric's range, e.g. :data:`PERCENT` for accuracies in percent.
    """
    array = np.asarray(list(values), dtype=float)
    mean = float(array.mean())
    if array.size < MIN_RUNS_FOR_INTERVAL:
        return MeanInterval(mean, int(array.size), np.nan, np.nan, False)
    _, _, half = _column_stats(array[:, None], confidence)
    low, high = mean - float(half[0]), mean + float(half[0])
    clipped = low < bounds[0] or high > bounds[1]
    return MeanInterval(
        mean, int(array.size), max(low, bounds[0]), min(high, bounds[1]), bool(clipped)
    )


@dataclass(frozen=True)
class CurveBand:
    """Mean curve of several runs and its pointwise clipped t band.

    Attributes:
        mean: mean over the runs at each point (NaN where no run has a value).
        counts: runs with a value at each point.
        low, high: the band, NaN where fewer than three runs have a value.
        clipped: whether the unclipped band reached past the range anywhere.
    """

    mean: np.ndarray
    counts: np.ndarray
    low: np.ndarray
    high: np.ndarray
    clipped: bool


def curve_band(
    curves, confidence: float = 0.95, bounds: tuple[float, float] = UNBOUNDED
) -> CurveBand:
    """Pointwise mean and clipped t band of ``curves`` (runs x points; NaN = no value).

    Args:
        curves: one row per run; a run that ended early has NaN at the later points.
        confidence: level of the band.
        bounds: the metric's range.
    """
    array = np.atleast_2d(np.asarray(curves, dtype=float))
    counts, mean, half = _column_stats(array, confidence)
    low, high = mean - half, mean + half
    drawn = ~np.isnan(half)
    clipped = bool((low[drawn] < bounds[0]).any() or (high[drawn] > bounds[1]).any())
    return CurveBand(mean, counts, np.clip(low, *bounds), np.clip(high, *bounds), clipped)


def seed_offsets(count: int, half_width: float) -> np.ndarray:
    """Evenly spaced offsets that set ``count`` seeds' points side by side: a deterministic
    jitter, so that a figure is the same each time it is drawn."""
    if count < 2:
        return np.zeros(count)
    return np.linspace(-half_width, half_width, count)

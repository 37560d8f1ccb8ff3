"""Student-t intervals of a mean for the figures: only from three runs on, clipped to the
metric's range.

A t interval from two seeds uses t(0.975, 1) = 12.7: for accuracies of 80 % and 57 % it spans
-77 % to 214 %, which misleads the eye. Below :data:`MIN_RUNS_FOR_INTERVAL` runs the figures
show each seed instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from thesis_lib.analysis.hypothesis_tests import level_text, mean_half_width
from thesis_lib.figures.style import palette

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
    """Mean of ``n`` runs and its clipped t interval (NaN below three runs)."""

    mean: float
    n: int
    low: float
    high: float
    clipped: bool

    @property
    def has_interval(self) -> bool:
        return self.n >= MIN_RUNS_FOR_INTERVAL


def mean_interval(
    values: Iterable[float], confidence: float = 0.95, bounds: tuple[float, float] = UNBOUNDED
) -> MeanInterval:
    """The mean of one value per run and its t interval (sd with ddof = 1), clipped to
    ``bounds`` (the metric's range, e.g. :data:`PERCENT`)."""
    array = np.asarray(list(values), dtype=float)
    mean = float(array.mean())
    if array.size < MIN_RUNS_FOR_INTERVAL:
        return MeanInterval(mean, int(array.size), np.nan, np.nan, False)
    band = curve_band(array[:, None], confidence, bounds)
    return MeanInterval(mean, int(array.size), float(band.low[0]), float(band.high[0]),
                        band.clipped)


@dataclass(frozen=True)
class CurveBand:
    """Pointwise mean, run counts and clipped t band (NaN below three runs) of curves."""

    mean: np.ndarray
    counts: np.ndarray
    low: np.ndarray
    high: np.ndarray
    clipped: bool


def curve_band(
    curves, confidence: float = 0.95, bounds: tuple[float, float] = UNBOUNDED
) -> CurveBand:
    """Pointwise mean and clipped t band (sd with ddof = 1) of ``curves`` (runs x points;
    NaN = no value, e.g. after a run ended early)."""
    array = np.atleast_2d(np.asarray(curves, dtype=float))
    counts = (~np.isnan(array)).sum(axis=0)
    # Points without values (or with one) are NaN by design; numpy would warn about them.
    with warnings.catch_warnings(action="ignore", category=RuntimeWarning):
        mean = np.nanmean(array, axis=0)
        sd = np.nanstd(array, axis=0, ddof=1)
    half = np.where(counts >= MIN_RUNS_FOR_INTERVAL,
                    mean_half_width(sd, np.maximum(counts, 2), confidence), np.nan)
    low, high = mean - half, mean + half
    drawn = ~np.isnan(half)
    clipped = bool((low[drawn] < bounds[0]).any() or (high[drawn] > bounds[1]).any())
    return CurveBand(mean, counts, np.clip(low, *bounds), np.clip(high, *bounds), clipped)


def seed_offsets(count: int, half_width: float) -> np.ndarray:
    """Evenly spaced offsets that set ``count`` seeds' points side by side: a deterministic
    jitter (seaborn's ``stripplot`` jitters with the global random state)."""
    if count < 2:
        return np.zeros(count)
    return np.linspace(-half_width, half_width, count)


def interval_text(summaries: Iterable[MeanInterval], confidence: float,
                  bounds: tuple[float, float], unit: str = "") -> str:
    """What the drawn error bars are, and whether one of them was clipped."""
    text = interval_label(confidence)
    if any(summary.clipped for summary in summaries):
        text += f"; {clipped_note(bounds, unit)}"
    return text


def draw_grouped_bars(ax, networks: list, groups: int, values_of, *, confidence: float,
                      bounds: tuple[float, float], capsize: float, linewidth: float,
                      size: float, single_point: bool = True,
                      value_height: float | None = None) -> list[MeanInterval]:
    """Each network's mean bar in each group, with its clipped t interval or each run as a
    black point. ``values_of(network, group)`` gives the runs' values (none: no bar);
    ``single_point``: a bar of one value gets its point too; ``value_height``: where the bars
    carry their means as text (None: no text)."""
    bar_width = 0.8 / len(networks)
    summaries = []
    for index, (name, color) in enumerate(zip(networks, palette(len(networks)), strict=False)):
        positions, bars = [], []
        for group in range(groups):
            values = values_of(name, group)
            if values.size == 0:
                continue
            positions.append(group + (index - (len(networks) - 1) / 2) * bar_width)
            bar = mean_interval(values, confidence, bounds)
            bars.append(bar)
            if bar.has_interval:
                ax.errorbar(positions[-1], bar.mean,
                            yerr=[[bar.mean - bar.low], [bar.high - bar.mean]], fmt="none",
                            color="black", capsize=capsize, linewidth=linewidth, zorder=3)
            elif values.size > 1 or single_point:
                ax.scatter(positions[-1] + seed_offsets(values.size, bar_width * 0.2), values,
                           s=size, color="black", linewidths=0, zorder=3)
        ax.bar(positions, [bar.mean for bar in bars], width=bar_width, color=color,
               label=str(name), zorder=1)
        if value_height is not None:
            for position, bar in zip(positions, bars, strict=True):
                ax.text(position, value_height, f"{bar.mean:.2f}", ha="center", va="bottom",
                        fontsize=6, color="white", zorder=2)
        summaries.extend(bars)
    return summaries

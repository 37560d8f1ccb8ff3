"""Accuracy figures (percent) per network, against the number of Gram modules, and across
datasets, from one row per run (``collect_runs``). The cross-dataset figure marks each
dataset's majority rate: an accuracy below it is worse than a constant answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from thesis_lib.figures.checks import ordered, require_fractions, require_runs
from thesis_lib.figures.intervals import (
    FEW_RUNS_LABEL,
    MIN_RUNS_FOR_INTERVAL,
    PERCENT,
    MeanInterval,
    draw_grouped_bars,
    interval_text,
    mean_interval,
    seed_offsets,
)
from thesis_lib.figures.style import figure_size, palette, publication_style

ACCURACY_LABEL = "Test accuracy (%)"
BALANCED_LABEL = "Balanced accuracy (%)"
MAJORITY_LABEL = "majority rate"
# Where the cross-dataset bars carry their values (percent): at their foot, clear of the error
# bars at their tops and of the majority rate's line (at least 100 / K %, 12.5 % for 8 classes).
BAR_VALUE_HEIGHT = 2.0
# Legend entries up to this many characters stand side by side in the cross-dataset figure.
LEGEND_SHORT_NAME = 16
MAJORITY_NOTE = "dashed: majority rate (always the largest class)"
SEED_LABEL = "one run (seed)"
MEAN_COLOR = "black"


def _clip_to_percent(ax, axis: str) -> None:
    """Keep an accuracy axis within 0-100 % (margins would show impossible accuracies)."""
    low, high = ax.get_xlim() if axis == "x" else ax.get_ylim()
    limits = (max(low, 0.0), min(high, 100.0))
    (ax.set_xlim if axis == "x" else ax.set_ylim)(*limits)


def _legend_proxies(summaries: list[MeanInterval], confidence: float, color: str):
    """Legend handles for 'mean with interval' and 'mean of too few seeds', where present."""
    handles = []
    if any(summary.has_interval for summary in summaries):
        handles.append(
            Line2D([], [], color=color, marker="D", markersize=4, linewidth=1,
                   label=interval_text(summaries, confidence, PERCENT, " %"))
        )
    if any(not summary.has_interval for summary in summaries):
        handles.append(
            Line2D([], [], color=color, marker="D", markersize=4, markerfacecolor="white",
                   linewidth=0, label=f"mean; {FEW_RUNS_LABEL}")
        )
    return handles


def _draw_seeds_and_mean(ax, values: np.ndarray, position: float, *, vertical: bool,
                         spread: float, size: float, alpha: float, point_color, color,
                         confidence: float) -> MeanInterval:
    """Each seed as a point and the mean as a diamond, with its error bar or hollow."""
    offsets = position + seed_offsets(len(values), spread)
    ax.scatter(*((offsets, values) if vertical else (values, offsets)), s=size,
               color=point_color, alpha=alpha, linewidths=0, zorder=2)
    summary = mean_interval(values, confidence, PERCENT)
    x, y = (position, summary.mean) if vertical else (summary.mean, position)
    if summary.has_interval:
        error = [[summary.mean - summary.low], [summary.high - summary.mean]]
        ax.errorbar(
            x, y, **{("yerr" if vertical else "xerr"): error}, fmt="D", color=color,
            markersize=4, capsize=2.5, linewidth=1, zorder=3,
        )
    else:
        ax.plot(x, y, marker="D", markersize=4, color=color, markerfacecolor="white",
                linewidth=0, zorder=3)
    return summary


def plot_accuracy_by_variant(
    runs: pd.DataFrame,
    *,
    network: str = "network",
    accuracy: str = "accuracy",
    order: Sequence[str] | None = None,
    confidence: float = 0.95,
    width: str | float = "single",
) -> Figure:
    """Each run's accuracy as a point and the mean with its CI, one row per network.

    Networks run down the y axis, so that long names stay readable at column width.

    Args:
        runs: one row per run, with columns ``network`` and ``accuracy`` (fraction), of one
            evaluation dataset.
        network: column naming the network (variant) of each run.
        accuracy: column with the run's test accuracy in [0, 1].
        order: networks from top to bottom; default first-seen order.
        confidence: level of the t interval around the mean.
        width: ``"single"``, ``"double"`` or inches.
    """
    require_runs(runs, [network, accuracy], [accuracy], [network], "accuracy by network")
    names = ordered(runs[network], order)
    summaries = []
    with publication_style():
        fig, ax = plt.subplots(figsize=figure_size(width, aspect=0.24 + 0.12 * len(names)))
        point_color = palette()[0]
        for row, name in enumerate(names):
            values = runs.loc[runs[network] == name, accuracy].to_numpy(dtype=float) * 100
            summaries.append(_draw_seeds_and_mean(
                ax, values, row, vertical=False, spread=0.15, size=14, alpha=0.7,
                point_color=point_color, color=MEAN_COLOR, confidence=confidence))
        _clip_to_percent(ax, "x")
        ax.set_yticks(range(len(names)), names)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlabel(ACCURACY_LABEL)
        ax.grid(axis="x", linewidth=0.4, alpha=0.5)
        seed = Line2D([], [], color=point_color, marker="o", markersize=3.5, linewidth=0,
                      alpha=0.7, label=SEED_LABEL)
        # A figure legend spans the whole width, not only the axes right of the long names.
        fig.legend(handles=[seed, *_legend_proxies(summaries, confidence, MEAN_COLOR)],
                   loc="outside upper center", ncol=1)
    return fig


def plot_accuracy_vs_modules(
    runs: pd.DataFrame,
    *,
    modules: str = "modules",
    accuracy: str = "accuracy",
    hue: str | None = None,
    confidence: float = 0.95,
    width: str | float = "single",
) -> Figure:
    """Accuracy against the number of Gram modules: runs as points, mean +- CI as a line.

    Args:
        runs: one row per run of one evaluation dataset.
        modules: column with the number of Gram modules (0 = baseline).
        accuracy: column with the test accuracy in [0, 1].
        hue: optional column separating series (e.g. tap selection), one colour each.
        confidence, width: as in :func:`plot_accuracy_by_variant`.
    """
    series = [hue] if hue else []
    require_runs(runs, [modules, accuracy, *series], [accuracy], [modules, *series],
                 "accuracy against modules")
    groups = [(None, runs)] if hue is None else list(runs.groupby(hue, sort=False))
    colors = palette(max(len(groups), 1))
    summaries, series = [], []
    with publication_style():
        fig, ax = plt.subplots(figsize=figure_size(width, aspect=0.75))
        for (group_name, frame), color in zip(groups, colors, strict=False):
            counts = sorted(frame[modules].unique())
            means = []
            for count in counts:
                values = frame.loc[frame[modules] == count, accuracy].to_numpy(float) * 100
                summaries.append(_draw_seeds_and_mean(
                    ax, values, count, vertical=True, spread=0.08, size=12, alpha=0.45,
                    point_color=color, color=color, confidence=confidence))
                means.append(summaries[-1].mean)
            label = "mean" if group_name is None else str(group_name)
            ax.plot(counts, means, color=color, linewidth=1, zorder=3)
            series.append(Line2D([], [], color=color, linewidth=1, label=label))
        _clip_to_percent(ax, "y")
        ax.set_xticks(sorted(runs[modules].unique()))
        ax.set_xlabel("Number of Gram modules")
        ax.set_ylabel(ACCURACY_LABEL)
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
        seed = Line2D([], [], color="grey", marker="o", markersize=3, linewidth=0, alpha=0.6,
                      label=SEED_LABEL)
        handles = [*(series if hue else []), seed,
                   *_legend_proxies(summaries, confidence, "grey" if hue else colors[0])]
        fig.legend(handles=handles, title=hue, loc="outside upper center",
                   ncol=2 if hue else 1)
    return fig


def plot_cross_dataset(
    runs: pd.DataFrame,
    *,
    dataset: str = "dataset",
    network: str = "network",
    accuracy: str = "accuracy",
    balanced_accuracy: str | None = "balanced_accuracy",
    majority_rate: str | None = "majority_rate",
    dataset_order: Sequence[str] | None = None,
    network_order: Sequence[str] | None = None,
    confidence: float = 0.95,
    width: str | float = "single",
) -> Figure:
    """Grouped bars: mean accuracy of each network on each evaluation dataset, with t CIs; below
    them the same for balanced accuracy, and on the accuracy bars each dataset's majority rate.

    The majority rate (mean over the dataset's rows; runs differ only where their test splits
    do) is a dashed line across the dataset's bars. A note under the axes says what the figure
    holds and what the table lacks.

    Args:
        runs: one row per (run, evaluation dataset) with the accuracy on that dataset.
        dataset: column naming the evaluation dataset (test split, UnbiasedEmo, Emotion-6...).
        network: column naming the network, e.g. baseline and proposed.
        accuracy: column with the accuracy in [0, 1].
        balanced_accuracy: column with the balanced accuracy in [0, 1]; its panel is drawn
            when the column has values (None: never).
        majority_rate: column with the share of the dataset's most frequent class in [0, 1]
            (None: never drawn).
        dataset_order, network_order: order of the groups and of the bars within a group.
        confidence, width: as in :func:`plot_accuracy_by_variant`.
    """
    what = "cross-dataset accuracy"
    require_runs(runs, [dataset, network, accuracy], [accuracy], [dataset, network], what,
                 one_dataset=False)
    networks = ordered(runs[network], network_order)
    datasets = ordered(runs[dataset], dataset_order)
    panels = [(accuracy, ACCURACY_LABEL)]
    has_balanced = balanced_accuracy is not None and balanced_accuracy in runs.columns and \
        runs[balanced_accuracy].notna().any()
    if has_balanced:
        require_fractions(runs[balanced_accuracy].dropna(),
                          f"{what}, column {balanced_accuracy!r}")
        panels.append((balanced_accuracy, BALANCED_LABEL))
    majorities = _majority_rates(runs, dataset, majority_rate, datasets)
    summaries = []
    with publication_style():
        fig, axes = plt.subplots(len(panels), 1, sharex=True, squeeze=False,
                                 figsize=figure_size(width, aspect=0.75 * len(panels)))
        axes = axes[:, 0]
        for ax, (column, label) in zip(axes, panels, strict=True):

            def values_of(name, group: int, column: str = column) -> np.ndarray:
                rows = (runs[network] == name) & (runs[dataset] == datasets[group])
                return runs.loc[rows, column].dropna().to_numpy(float) * 100

            summaries.extend(draw_grouped_bars(
                ax, networks, len(datasets), values_of, confidence=confidence, bounds=PERCENT,
                capsize=2, linewidth=1, size=8, single_point=False,
                value_height=BAR_VALUE_HEIGHT))
            ax.set_ylabel(label)
            ax.set_ylim(0, 100)
        _draw_majority(axes[0], majorities)
        axes[-1].set_xticks(range(len(datasets)), datasets)
        handles, labels = axes[0].get_legend_handles_labels()
        # The networks first, in their order; the majority rate's line last.
        handles = [handle for handle, text in sorted(
            zip(handles, labels, strict=True), key=lambda item: item[1] == MAJORITY_LABEL)]
        # Side by side while the names are short; long setting names one per row, so that
        # the legend never grows wider than the figure.
        short = max(len(handle.get_label()) for handle in handles) <= LEGEND_SHORT_NAME
        axes[0].legend(handles=handles, title=None, loc="lower center",
                       bbox_to_anchor=(0.5, 1.0), ncol=min(len(handles), 3) if short else 1)
        notes = [_bars_note(summaries, confidence)]
        if any(rate is not None for rate in majorities.values()):
            notes.append(MAJORITY_NOTE)
        if not has_balanced:
            notes.append("balanced accuracy: not in the table")
        missing = [name for name in datasets if majorities.get(name) is None]
        if missing:
            notes.append(f"majority rate unknown for {', '.join(map(str, missing))}"
                         if len(missing) < len(datasets) else "majority rate: not in the table")
        axes[-1].text(1.0, -0.12, "\n".join(note for note in notes if note),
                      transform=axes[-1].transAxes, ha="right", va="top", fontsize=6)
    return fig


def _majority_rates(runs: pd.DataFrame, dataset: str, column: str | None,
                    datasets: list) -> dict:
    """Per dataset, the mean majority rate of its rows in percent (None where unknown)."""
    if column is None or column not in runs.columns:
        return dict.fromkeys(datasets)
    require_fractions(runs[column].dropna(), f"cross-dataset accuracy, column {column!r}")
    means = runs.groupby(dataset, sort=False)[column].mean() * 100
    return {name: (float(means[name]) if name in means.index and np.isfinite(means[name])
                   else None) for name in datasets}


def _draw_majority(ax, majorities: dict) -> None:
    """A dashed line across each dataset's bars at its majority rate, with its value."""
    drawn = False
    for group, rate in enumerate(majorities.values()):
        if rate is None:
            continue
        ax.plot([group - 0.45, group + 0.45], [rate, rate], color=MEAN_COLOR, linestyle="--",
                linewidth=0.9, zorder=4, label=None if drawn else MAJORITY_LABEL)
        # The value just above the line's right end, on a white ground over the bars.
        ax.annotate(f"{rate:.1f}", (group + 0.44, rate), xytext=(0, 1.5),
                    textcoords="offset points", ha="right", va="bottom", fontsize=6,
                    color=MEAN_COLOR, zorder=5,
                    bbox={"boxstyle": "square,pad=0.15", "facecolor": "white",
                          "edgecolor": "none", "alpha": 0.85})
        drawn = True


def _bars_note(summaries: list[MeanInterval], confidence: float) -> str:
    parts = []
    if any(summary.has_interval for summary in summaries):
        parts.append(f"error bars: {interval_text(summaries, confidence, PERCENT, ' %')}")
    if any(1 < summary.n < MIN_RUNS_FOR_INTERVAL for summary in summaries):
        parts.append(f"points: each seed (n < {MIN_RUNS_FOR_INTERVAL} seeds), no interval")
    if any(summary.n == 1 for summary in summaries):
        parts.append("bars of one value: no interval")
    return "\n".join(parts)

"""Accuracy figures: per network, against the number of Gram modules, across datasets.

All take a tidy table with one row per finished run (``thesis_lib.results.collect_runs``) and
accuracies as fractions; the axes show percent. Error bars are Student-t 95 % confidence
intervals of the mean across seeds, the same as in the summary tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from thesis_lib.figures.checks import ordered, require_columns, require_fractions, t_interval
from thesis_lib.figures.style import figure_size, palette, publication_style

ACCURACY_LABEL = "Test accuracy (%)"


def _spread(count: int, half_width: float) -> np.ndarray:
    """Evenly spaced offsets for ``count`` points: a deterministic jitter (same figure each run)."""
    if count < 2:
        return np.zeros(count)
    return np.linspace(-half_width, half_width, count)


def _clip_to_percent(ax, axis: str) -> None:
    """Keep an accuracy axis within 0-100 %: with few seeds a t interval can reach past both
    ends (n = 2 has t = 12.7), which would squash the data into the middle of the plot."""
    low, high = ax.get_xlim() if axis == "x" else ax.get_ylim()
    limits = (max(low, 0.0), min(high, 100.0))
    (ax.set_xlim if axis == "x" else ax.set_ylim)(*limits)


def _ci_label(confidence: float) -> str:
    return f"mean ± {confidence:.0%} CI".replace("%", " %")


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

    Networks are listed down the y axis so long names ("EfficientNetV2B2 + 4 Gram modules")
    stay readable at column width.

    Args:
        runs: one row per run, with columns ``network`` and ``accuracy`` (fraction).
        network: column naming the network (variant) of each run.
        accuracy: column with the run's test accuracy in [0, 1].
        order: networks from top to bottom; default first-seen order.
        confidence: level of the t interval around the mean.
        width: ``"single"``, ``"double"`` or inches.
    """
    require_columns(runs, [network, accuracy], "accuracy by network")
    require_fractions(runs[accuracy], f"accuracy by network, column {accuracy!r}")
    names = ordered(runs[network], order)
    with publication_style():
        fig, ax = plt.subplots(figsize=figure_size(width, aspect=0.18 + 0.12 * len(names)))
        point_color, mean_color = palette()[0], "black"
        for row, name in enumerate(names):
            values = runs.loc[runs[network] == name, accuracy].to_numpy(dtype=float) * 100
            ax.scatter(
                values,
                row + _spread(len(values), 0.15),
                s=14,
                color=point_color,
                alpha=0.7,
                linewidths=0,
                label="one run (seed)" if row == 0 else None,
                zorder=2,
            )
            low, high = t_interval(values, confidence)
            mean = values.mean()
            ax.errorbar(
                mean,
                row,
                xerr=[[mean - low], [high - mean]],
                fmt="D",
                color=mean_color,
                markersize=4,
                capsize=2.5,
                linewidth=1,
                label=_ci_label(confidence) if row == 0 else None,
                zorder=3,
            )
        _clip_to_percent(ax, "x")
        ax.set_yticks(range(len(names)), names)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlabel(ACCURACY_LABEL)
        ax.set_ylabel("")
        ax.grid(axis="x", linewidth=0.4, alpha=0.5)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, borderaxespad=0.2)
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
        runs: one row per run with the number of modules (0 = baseline) and the accuracy.
        modules: column with the number of Gram modules.
        accuracy: column with the test accuracy in [0, 1].
        hue: optional column separating series (e.g. tap selection), one colour each.
        confidence: level of the t interval around the mean.
        width: ``"single"``, ``"double"`` or inches.
    """
    columns = [modules, accuracy] + ([hue] if hue else [])
    require_columns(runs, columns, "accuracy against modules")
    require_fractions(runs[accuracy], f"accuracy against modules, column {accuracy!r}")
    groups = [(None, runs)] if hue is None else list(runs.groupby(hue, sort=False))
    colors = palette(max(len(groups), 1))
    with publication_style():
        fig, ax = plt.subplots(figsize=figure_size(width, aspect=0.7))
        for (group_name, frame), color in zip(groups, colors, strict=False):
            counts = sorted(frame[modules].unique())
            means, lows, highs = [], [], []
            for count in counts:
                values = frame.loc[frame[modules] == count, accuracy].to_numpy(float) * 100
                ax.scatter(
                    count + _spread(len(values), 0.08),
                    values,
                    s=12,
                    color=color,
                    alpha=0.45,
                    linewidths=0,
                    zorder=2,
                )
                low, high = t_interval(values, confidence)
                means.append(values.mean())
                lows.append(low)
                highs.append(high)
            means, lows, highs = map(np.asarray, (means, lows, highs))
            ax.errorbar(
                counts,
                means,
                yerr=[means - lows, highs - means],
                marker="o",
                markersize=4,
                capsize=2.5,
                linewidth=1,
                color=color,
                label=_ci_label(confidence) if group_name is None else str(group_name),
                zorder=3,
            )
        _clip_to_percent(ax, "y")
        ax.set_xticks(sorted(runs[modules].unique()))
        ax.set_xlabel("Number of Gram modules")
        ax.set_ylabel(ACCURACY_LABEL)
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
        ax.legend(title=None if hue is None else hue, loc="best")
    return fig


def plot_cross_dataset(
    runs: pd.DataFrame,
    *,
    dataset: str = "dataset",
    network: str = "network",
    accuracy: str = "accuracy",
    dataset_order: Sequence[str] | None = None,
    network_order: Sequence[str] | None = None,
    confidence: float = 0.95,
    width: str | float = "single",
) -> Figure:
    """Grouped bars: mean accuracy of each network on each evaluation dataset, with t CIs.

    Args:
        runs: one row per (run, evaluation dataset) with the accuracy on that dataset.
        dataset: column naming the evaluation dataset (test split, UnbiasedEmo, Emotion-6...).
        network: column naming the network, e.g. baseline and proposed.
        accuracy: column with the accuracy in [0, 1].
        dataset_order, network_order: order of the groups and of the bars within a group.
        confidence: level of the t interval drawn as error bars.
        width: ``"single"``, ``"double"`` or inches.
    """
    require_columns(runs, [dataset, network, accuracy], "cross-dataset accuracy")
    require_fractions(runs[accuracy], f"cross-dataset accuracy, column {accuracy!r}")
    frame = runs.assign(_percent=runs[accuracy].astype(float) * 100)
    networks = ordered(frame[network], network_order)
    with publication_style():
        fig, ax = plt.subplots(figsize=figure_size(width, aspect=0.7))
        sns.barplot(
            data=frame,
            x=dataset,
            y="_percent",
            hue=network,
            order=ordered(frame[dataset], dataset_order),
            hue_order=networks,
            errorbar=lambda values: t_interval(values, confidence),
            palette=palette(len(networks)),
            capsize=0.15,
            err_kws={"linewidth": 1},
            ax=ax,
        )
        for bars in ax.containers:
            ax.bar_label(bars, fmt="%.2f", label_type="center", fontsize=6, color="white")
        ax.set_xlabel("")
        ax.set_ylabel(ACCURACY_LABEL)
        ax.set_ylim(0, 100)
        ax.legend(title=None, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(networks))
        # Published means come without seeds: no error bars, and no note claiming them.
        if frame.groupby([dataset, network]).size().max() > 1:
            note = f"error bars: {confidence:.0%} CI".replace("%", " %")
            ax.text(1.0, -0.16, note, transform=ax.transAxes, ha="right", va="top", fontsize=6)
    return fig

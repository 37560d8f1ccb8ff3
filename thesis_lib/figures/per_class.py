"""Grouped bars of F1 (or precision, recall) per class and network, from the ``<metric>_<class>``
columns of ``collect_runs``."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from thesis_lib.errors import DataError
from thesis_lib.figures.checks import ordered, require_runs
from thesis_lib.figures.intervals import (
    FEW_RUNS_LABEL,
    FRACTION,
    MeanInterval,
    draw_grouped_bars,
    interval_text,
)
from thesis_lib.figures.style import DOUBLE_COLUMN, figure_size, publication_style

METRIC_NAMES = {"f1": "F1", "precision": "Precision", "recall": "Recall"}
_CLASS_ROOM = 0.75  # inches per class group of bars (about five networks)


def per_class_columns(runs: pd.DataFrame, metric: str = "f1") -> list[str]:
    """The classes with a ``<metric>_<class>`` column in ``runs``, in column order."""
    prefix = f"{metric}_"
    return [str(column).removeprefix(prefix) for column in runs.columns
            if str(column).startswith(prefix)]


def plot_per_class_metric(
    runs: pd.DataFrame,
    *,
    metric: str = "f1",
    class_names: Sequence[str] | None = None,
    network: str = "network",
    order: Sequence[str] | None = None,
    confidence: float = 0.95,
    width: str | float | None = None,
) -> Figure:
    """Grouped bars: per class (x axis) the mean ``metric`` of each network (one colour each).

    Args:
        runs: one row per run of one evaluation dataset, with ``network`` and the columns
            ``<metric>_<class>`` (``collect_runs``; e.g. ``own_test``).
        metric: ``"f1"``, ``"precision"`` or ``"recall"``.
        class_names: the classes in axis order (e.g. the ``class_names`` of ``metrics.json``,
            Mikels' order); default every ``<metric>_<class>`` column, in table order.
        network: column naming the network; ``order``: networks in legend and bar order.
        confidence: level of the t interval drawn from three runs on.
        width: ``"single"``, ``"double"`` or inches; default grows with the classes (double
            column for 8 classes).

    Raises:
        DataError: a class column is missing, a value is not in [0, 1] or missing (a run
            trained on other classes), or the table mixes evaluation datasets.
    """
    what = f"per-class {metric}"
    names = list(class_names) if class_names is not None else per_class_columns(runs, metric)
    if not names:
        raise DataError(f"{what}: the table has no {metric}_<class> columns; the runs table of "
                        "collect_runs has them when metrics.json holds per_class scores")
    columns = [f"{metric}_{name}" for name in names]
    require_runs(runs, [network, *columns], columns, [network], what)
    networks = ordered(runs[network], order)
    label = METRIC_NAMES.get(metric, metric)
    if width is None:
        width = min(DOUBLE_COLUMN, max(3.5, 0.8 + _CLASS_ROOM * len(names)))
    with publication_style():
        fig, ax = plt.subplots(figsize=figure_size(width, aspect=0.42 if len(names) > 4
                                                   else 0.75))
        summaries = draw_grouped_bars(
            ax, networks, len(columns),
            lambda name, group: runs.loc[runs[network] == name, columns[group]].to_numpy(float),
            confidence=confidence, bounds=FRACTION, capsize=1.5, linewidth=0.8, size=5)
        ax.set_xticks(range(len(names)), [str(name).replace("_", " ") for name in names])
        if len(names) > 4:
            plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
        ax.set_ylim(0, 1)
        ax.set_ylabel(label)
        ax.grid(axis="y", linewidth=0.4, alpha=0.5)
        handles, _ = ax.get_legend_handles_labels()
        handles += _spread_handles(summaries, confidence)
        # Side by side on a wide figure; one entry per line at column width.
        wide = fig.get_size_inches()[0] > 5
        fig.legend(handles=handles, loc="outside upper center",
                   ncol=min(len(handles), 3) if wide else 1)
    return fig


def _spread_handles(summaries: list[MeanInterval], confidence: float) -> list:
    handles = []
    if any(summary.has_interval for summary in summaries):
        handles.append(Line2D([], [], color="black", marker="_", markersize=6, linewidth=0.8,
                              label=interval_text(summaries, confidence, FRACTION)))
    if any(not summary.has_interval for summary in summaries):
        handles.append(Line2D([], [], color="black", marker="o", markersize=2, linewidth=0,
                              label=f"points: {FEW_RUNS_LABEL}"))
    return handles

"""Confusion matrices as heatmaps: counts and row-normalised (recall per true class)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from thesis_lib.errors import DataError
from thesis_lib.figures.style import HEATMAP_CMAP, figure_size, publication_style


def _as_matrix(matrix, class_names: Sequence[str]) -> np.ndarray:
    array = np.asarray(matrix)
    size = len(class_names)
    if array.shape != (size, size):
        raise DataError(
            f"confusion matrix has shape {array.shape}; expected ({size}, {size}) for classes "
            f"{list(class_names)}"
        )
    if (array < 0).any() or not np.allclose(array, np.round(array)):
        raise DataError("confusion matrix must hold non-negative whole counts")
    return array.astype(int)


def plot_confusion_matrix(
    matrix,
    class_names: Sequence[str],
    *,
    title: str | None = None,
    width: str | float = "single",
) -> Figure:
    """Two heatmaps side by side: the counts, and each row divided by its total (in %).

    Rows are true classes and columns predicted classes, as in ``sklearn.metrics.
    confusion_matrix`` and ``metrics.json``; the diagonal of the right panel is each class's
    recall.

    Args:
        matrix: square array of counts, shape (n_classes, n_classes).
        class_names: names of the classes, in index order.
        title: optional figure title (e.g. the network).
        width: ``"single"``, ``"double"`` or inches.
    """
    counts = _as_matrix(matrix, class_names)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        row_percent = np.where(totals > 0, 100 * counts / np.maximum(totals, 1), 0.0)
    annotation_size = 7 if len(class_names) <= 4 else 5
    # "not_sadness" -> "not sadness" on the y axis; on the x axis a few classes are written
    # on two lines ("not" / "sadness") and many are rotated, so neighbours never overlap.
    tick_names = [str(name).replace("_", " ") for name in class_names]
    rotate = len(class_names) > 3
    x_names = tick_names if rotate else [name.replace(" ", "\n") for name in tick_names]
    with publication_style():
        fig, axes = plt.subplots(1, 2, figsize=figure_size(width, aspect=0.55))
        panels = (
            (axes[0], counts, "d", "Counts\n"),
            (axes[1], row_percent, ".1f", "Row-normalised\n(% of true class)"),
        )
        for ax, values, fmt, panel_title in panels:
            sns.heatmap(
                values,
                annot=True,
                fmt=fmt,
                cmap=HEATMAP_CMAP,
                cbar=False,
                square=True,
                xticklabels=x_names,
                yticklabels=tick_names,
                annot_kws={"fontsize": annotation_size},
                vmin=0,
                vmax=100 if fmt != "d" else None,
                ax=ax,
            )
            ax.set_title(panel_title)
            ax.set_xlabel("Predicted class")
            if rotate:
                plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
            ax.tick_params(axis="y", labelrotation=0)
        axes[0].set_ylabel("True class")
        axes[1].set_ylabel("")
        if title:
            fig.suptitle(title)
    return fig

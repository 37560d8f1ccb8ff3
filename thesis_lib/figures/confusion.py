"""Confusion matrices as heatmaps: row-normalised (recall per true class) and counts.

From five classes on (the 8 Mikels emotions) the default is the row-normalised matrix alone,
with whole percents and a figure that grows with the classes, so that every cell stays legible.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from thesis_lib.errors import ConfigError, DataError
from thesis_lib.figures.style import (
    BASE_FONT_SIZE,
    HEATMAP_CMAP,
    SINGLE_COLUMN,
    figure_size,
    publication_style,
)

PANELS = ("counts", "row")
# Classes up to which both panels are drawn by default, and cells get one decimal.
FEW_CLASSES = 4
# Room in inches for the class names (with their counts) on the y axis, for the rotated names
# and the axis label under the x axis, and the side of one cell of a large matrix.
_NAME_ROOM = 1.3
_ROTATED_ROOM = 0.9
_CELL = 0.3


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


def row_percentages(counts: np.ndarray) -> np.ndarray:
    """Each row of ``counts`` as percent of its total; NaN for a class without images."""
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, 100 * counts / np.maximum(totals, 1), np.nan)


def _panels(panels: Sequence[str] | None, classes: int) -> tuple[str, ...]:
    if panels is None:
        return PANELS if classes <= FEW_CLASSES else ("row",)
    unknown = [panel for panel in panels if panel not in PANELS]
    if unknown or not panels:
        raise ConfigError(f"confusion matrix panels {list(panels)}: choose from {list(PANELS)}")
    return tuple(panels)


def _figure_size(width, classes: int, panels: int, title: bool) -> tuple[float, float]:
    """((width, height) in inches, side of one cell)."""
    if classes <= FEW_CLASSES:
        inches = figure_size(width if width is not None else "single")[0]
        return (inches, inches * (0.55 if panels == 2 else 0.75)), inches / panels / classes
    if width is None:
        inches = max(SINGLE_COLUMN, panels * (classes * _CELL + _NAME_ROOM))
    else:
        inches = figure_size(width)[0]
    cell = (inches / panels - _NAME_ROOM) / classes
    return (inches, classes * cell + _ROTATED_ROOM + 0.3 * title), cell


def plot_confusion_matrix(
    matrix,
    class_names: Sequence[str],
    *,
    panels: Sequence[str] | None = None,
    title: str | None = None,
    width: str | float | None = None,
) -> Figure:
    """Confusion matrix heatmaps: the counts and/or each row divided by its total (in %).

    Rows are true classes, columns predicted classes (as in sklearn and ``metrics.json``); a
    class without test images has an empty row.

    Args:
        matrix: square array of counts, shape (n_classes, n_classes).
        class_names: names of the classes, in index order.
        panels: ``("counts", "row")``, ``("row",)`` or ``("counts",)``; default both up to
            four classes, the row-normalised panel alone from five.
        title: optional figure title (e.g. the network).
        width: ``"single"``, ``"double"`` or inches; default one column up to four classes,
            else wide enough for cells of 0.3 in (one column for 8 classes, one panel).
    """
    counts = _as_matrix(matrix, class_names)
    classes = len(class_names)
    chosen = _panels(panels, classes)
    few = classes <= FEW_CLASSES
    size, cell = _figure_size(width, classes, len(chosen), bool(title))
    # Font size from the cell: "100" fits a 0.3 in cell at 6.5 pt; never above 7 pt.
    annotation_size = BASE_FONT_SIZE - 1 if few else min(BASE_FONT_SIZE - 1, max(4.0, 22 * cell))
    tick_names = [str(name).replace("_", " ") for name in class_names]
    # A few classes are written on two lines under the x axis ("not" / "sadness"); more
    # classes are rotated, so neighbours never overlap.
    rotate = classes > 3
    x_names = tick_names if rotate else [name.replace(" ", "\n") for name in tick_names]
    totals = counts.sum(axis=1)
    with publication_style():
        fig, axes = plt.subplots(1, len(chosen), figsize=size, squeeze=False)
        for ax, panel in zip(axes[0], chosen, strict=True):
            if panel == "counts":
                values, fmt, panel_title = counts, "d", "Counts"
                y_names = tick_names
            else:
                values = row_percentages(counts)
                fmt = ".1f" if few else ".0f"
                panel_title = "Row-normalised (% of true class)"
                # Without the counts panel, the size of each class stays in view.
                y_names = (tick_names if "counts" in chosen else
                           [f"{name} (n = {total})" for name, total in zip(tick_names, totals,
                                                                          strict=True)])
            sns.heatmap(values, annot=True, fmt=fmt, cmap=HEATMAP_CMAP, cbar=False, square=True,
                        xticklabels=x_names, yticklabels=y_names,
                        annot_kws={"fontsize": annotation_size}, vmin=0,
                        vmax=100 if panel == "row" else None, ax=ax)
            # Two-line titles side by side at column width; one line over a wide single panel.
            ax.set_title(panel_title.replace(" (", "\n(") + ("\n" * (panel == "counts"))
                         if few else panel_title)
            ax.set_xlabel("Predicted class")
            if rotate:
                plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
            ax.tick_params(axis="y", labelrotation=0)
        axes[0][0].set_ylabel("True class")
        if title:
            fig.suptitle(title)
    return fig

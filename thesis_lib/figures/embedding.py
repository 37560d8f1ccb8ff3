"""The 2-D (t-SNE) map of a network's embeddings, coloured by true class. A t-SNE map keeps
neighbourhoods, not distances, so its axes carry no ticks."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from thesis_lib.errors import DataError
from thesis_lib.figures.style import figure_size, palette, publication_style

UNLABELLED_COLOUR = (0.45, 0.45, 0.45)
MISCLASSIFIED_COLOUR = "black"
# The colour-blind palette holds ten colours, one of them grey; grey is kept for unlabelled
# images, so up to nine classes get colours of their own.
PALETTE_SIZE = 10


def class_colours(n_classes: int) -> list[tuple[float, float, float]]:
    """Colours of the classes: the palette without its grey (while there are enough)."""
    colours = [colour for colour in palette(PALETTE_SIZE)
               if max(colour) - min(colour) > 0.05]
    return colours[:n_classes] if n_classes <= len(colours) else palette(n_classes)


def plot_embedding_map(
    coordinates: np.ndarray,
    labels: Sequence[object],
    *,
    predicted: Sequence[object] | None = None,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    method: str = "t-SNE",
    width: str | float = "single",
) -> Figure:
    """Scatter plot of a 2-D embedding map, coloured by true class.

    Args:
        coordinates: (N, 2) map coordinates.
        labels: True class name per point; None / NaN for unlabelled images (grey).
        predicted: Predicted class name per point; wrong predictions get a black cross.
        class_names: Classes in legend (and colour) order; default the sorted labels.
        title: Optional title (e.g. the network); method: the map's name on the axes.
        width: ``"single"``, ``"double"`` or inches.
    """
    points = np.asarray(coordinates, dtype=float)
    true = pd.Series(list(labels), dtype=object)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(true):
        raise DataError(f"expected (N, 2) coordinates for {len(true)} labels, got {points.shape}")
    known = true.notna().to_numpy()
    if class_names is None:
        class_names = sorted({str(name) for name in true[known]})
    class_names = [str(name) for name in class_names]
    unknown = sorted({str(name) for name in true[known]} - set(class_names))
    if unknown:
        raise DataError(f"labels {unknown} are not among the classes {class_names}")
    wrong = np.zeros(len(points), dtype=bool)
    if predicted is not None:
        guesses = pd.Series(list(predicted), dtype=object)
        if len(guesses) != len(true):
            raise DataError(f"{len(guesses)} predictions for {len(true)} points")
        wrong = known & (guesses.astype(str).to_numpy() != true.astype(str).to_numpy())
    # Marker area in pt^2: large for a few hundred points, small for tens of thousands.
    size = float(np.clip(600 / np.sqrt(max(len(points), 1)), 1.0, 16.0))
    raster = len(points) > 5000  # tens of thousands of vector dots make a slow PDF
    with publication_style():
        fig, ax = plt.subplots(figsize=figure_size(width, aspect=0.8))
        handles = []
        for colour, name in zip(class_colours(len(class_names)), class_names, strict=True):
            chosen = known & (true.astype(str).to_numpy() == name)
            ax.scatter(*points[chosen].T, s=size, color=colour, linewidths=0, alpha=0.8,
                       rasterized=raster)
            handles.append(Line2D([], [], marker="o", linestyle="", color=colour, markersize=4,
                                  markeredgewidth=0, label=name.replace("_", " ")))
        if (~known).any():
            # Hollow grey rings on top: visible inside the coloured clusters too.
            ax.scatter(*points[~known].T, s=size, facecolors="none",
                       edgecolors=[UNLABELLED_COLOUR], linewidths=0.5, rasterized=raster)
            handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="none",
                                  markeredgecolor=UNLABELLED_COLOUR, markersize=4,
                                  markeredgewidth=0.6, label="unlabelled"))
        if wrong.any():
            ax.scatter(*points[wrong].T, s=size * 0.6, marker="x", color=MISCLASSIFIED_COLOUR,
                       linewidths=0.5, rasterized=raster)
            handles.append(Line2D([], [], marker="x", linestyle="", color=MISCLASSIFIED_COLOUR,
                                  markersize=3.5, markeredgewidth=0.6,
                                  label=f"misclassified ({int(wrong.sum())})"))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"{method} 1")
        ax.set_ylabel(f"{method} 2")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5),
                  handletextpad=0.3, borderaxespad=0.2)
        if title:
            ax.set_title(title)
    return fig

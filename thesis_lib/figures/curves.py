"""Learning curves across seeds, and ``draw_runs`` (shared with the ROC/PR figures): the mean
curve and its clipped t band where three runs have a value, else each run as a thin line.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from thesis_lib.errors import DataError
from thesis_lib.figures.checks import ordered, require_columns
from thesis_lib.figures.intervals import (
    FEW_RUNS_LABEL,
    FRACTION,
    MIN_RUNS_FOR_INTERVAL,
    NON_NEGATIVE,
    PERCENT,
    UNBOUNDED,
    clipped_note,
    curve_band,
    interval_label,
)
from thesis_lib.figures.style import figure_size, palette, publication_style

# Columns of history.csv (Keras CSVLogger) and how they are shown.
METRIC_LABELS = {"loss": "Loss (cross-entropy)", "accuracy": "Accuracy (%)"}
SPLIT_STYLES = {"training": "-", "validation": "--"}
# Metrics (Keras names) bounded to [0, 1]; accuracies are shown in percent.
_FRACTION_METRICS = ("auc", "precision", "recall", "f1")
THIN_LINE = 0.6
BAND_ALPHA = 0.2


def metric_range(name: str) -> tuple[tuple[float, float], float]:
    """``(bounds, scale)`` of a ``history.csv`` metric as drawn (accuracies in percent)."""
    lowered = name.lower()
    if "accuracy" in lowered:
        return PERCENT, 100.0
    if "loss" in lowered or "entropy" in lowered:
        return NON_NEGATIVE, 1.0
    if any(part in lowered for part in _FRACTION_METRICS):
        return FRACTION, 1.0
    return UNBOUNDED, 1.0


def draw_runs(
    ax,
    x: np.ndarray,
    curves: np.ndarray,
    *,
    color,
    confidence: float,
    bounds: tuple[float, float],
    linestyle: str = "-",
    label: str | None = None,
    band_alpha: float | None = None,
) -> dict[str, bool]:
    """Draw one network's runs (runs x points, NaN = no value); return for the legend
    ``{"band": drawn a band, "thin": drawn thin per-run lines, "clipped": a band was clipped}``.
    """
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    band = curve_band(curves, confidence, bounds)
    banded = band.counts >= MIN_RUNS_FOR_INTERVAL
    drawn = {"band": bool(banded.any()), "thin": False, "clipped": band.clipped}
    if banded.any():
        ax.plot(x, np.where(banded, band.mean, np.nan), color=color, linestyle=linestyle,
                linewidth=1, label=label)
        ax.fill_between(x, band.low, band.high, where=banded, color=color,
                        alpha=BAND_ALPHA if band_alpha is None else band_alpha, linewidth=0)
        label = None
    # Thin lines where the band is absent, joined to the band's last point.
    thin = ~banded | np.roll(~banded, -1) & banded
    thin[-1] = ~banded[-1]
    if (~banded & (band.counts > 0)).any():
        drawn["thin"] = True
        width = 1.0 if curves.shape[0] == 1 else THIN_LINE
        for curve in curves:
            ax.plot(x, np.where(thin, curve, np.nan), color=color, linestyle=linestyle,
                    linewidth=width, alpha=0.85, label=label)
            label = None
    return drawn


def interval_handles(drawn: Sequence[dict[str, bool]], confidence: float,
                     bounds: tuple[float, float] | None = None, unit: str = "",
                     wrap: int | None = None) -> list:
    """Legend entries saying what the bands and thin lines are (wrapped at ``wrap``)."""
    handles = []
    if any(item["band"] for item in drawn):
        text = f"band: {interval_label(confidence)}"
        if any(item["clipped"] for item in drawn):
            text += "; " + (clipped_note(bounds, unit) if bounds
                            else "clipped to each metric's range")
        handles.append(Patch(color="grey", alpha=0.35, linewidth=0, label=text))
    if any(item["thin"] for item in drawn):
        handles.append(Line2D([], [], color="grey", linewidth=THIN_LINE,
                              label=FEW_RUNS_LABEL))
    if wrap:
        for handle in handles:
            handle.set_label("\n".join(textwrap.wrap(handle.get_label(), wrap)))
    return handles


def plot_learning_curves(
    history: pd.DataFrame,
    *,
    metrics_to_plot: Sequence[str] = ("loss", "accuracy"),
    network: str = "network",
    run: str = "run_id",
    order: Sequence[str] | None = None,
    confidence: float = 0.95,
    width: str | float = "double",
) -> Figure:
    """Training (solid) and validation (dashed) curves per network, mean and CI band over seeds.

    Args:
        history: one row per (run, epoch) with ``epoch``, ``network``, ``run`` and the metric
            columns of ``history.csv`` (``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``).
        metrics_to_plot: one panel per metric; accuracies are shown in percent.
        network, run: columns naming the network (one colour each) and the run (seed).
        order: networks in legend order.
        confidence: level of the t band across runs at each epoch.
        width: ``"single"``, ``"double"`` or inches.
    """
    needed = ["epoch", network, run]
    for name in metrics_to_plot:
        needed += [name, f"val_{name}"]
    require_columns(history, needed, "learning curves")
    repeated = history[history.duplicated([run, "epoch"], keep=False)]
    if not repeated.empty:
        raise DataError(
            f"learning curves: run(s) {sorted(repeated[run].astype(str).unique())[:5]} list an "
            "epoch more than once; pass one row per run and epoch"
        )
    networks = ordered(history[network], order)
    colors = dict(zip(networks, palette(len(networks)), strict=False))
    drawn = []
    with publication_style():
        fig, axes = plt.subplots(
            1, len(metrics_to_plot), figsize=figure_size(width, aspect=0.32), squeeze=False
        )
        for ax, name in zip(axes[0], metrics_to_plot, strict=True):
            bounds, scale = metric_range(name)
            for network_name in networks:
                frame = history[history[network] == network_name]
                epochs = np.sort(frame["epoch"].unique())
                for split, column in (("training", name), ("validation", f"val_{name}")):
                    # Runs x epochs; NaN where a run has no such epoch.
                    curves = frame.pivot(index=run, columns="epoch", values=column).reindex(
                        columns=epochs).to_numpy(dtype=float) * scale
                    drawn.append(draw_runs(ax, epochs, curves, color=colors[network_name],
                                           confidence=confidence, bounds=bounds,
                                           linestyle=SPLIT_STYLES[split]))
            ax.set_xlabel("Epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(METRIC_LABELS.get(name, name))
            low, high = ax.get_ylim()
            # Margins around values at a bound would show impossible values (loss < 0).
            ax.set_ylim(max(low, bounds[0]), min(high, bounds[1]))
        handles = [Line2D([], [], color=colors[name], linewidth=1, label=str(name))
                   for name in networks]
        handles += [Line2D([], [], color="black", linestyle=style, linewidth=1, label=split)
                    for split, style in SPLIT_STYLES.items()]
        # Notes on short lines, so that the legend beside the panels stays narrow.
        handles += interval_handles(drawn, confidence, wrap=28)
        fig.legend(handles=handles, loc="outside right center")
    return fig

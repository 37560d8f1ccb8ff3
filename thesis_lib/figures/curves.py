"""Curves: learning curves across seeds, ROC and precision-recall curves per network.

ROC and PR points and areas come from ``sklearn.metrics``. When a network has several runs,
each run's curve is interpolated onto a common grid and the mean is drawn with a band of one
standard deviation; the legend gives the mean area +- SD across runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from sklearn import metrics

from thesis_lib.errors import DataError
from thesis_lib.figures.checks import ordered, require_columns, t_interval
from thesis_lib.figures.style import figure_size, palette, publication_style

# Columns of history.csv (Keras CSVLogger) and how they are shown.
METRIC_LABELS = {"loss": "Loss (cross-entropy)", "accuracy": "Accuracy (%)"}
_GRID = np.linspace(0.0, 1.0, 201)


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
        network: column naming the network of each run (one colour each).
        run: column identifying the run (seed) the row belongs to.
        order: networks in legend order.
        confidence: level of the t interval drawn as a band across runs at each epoch.
        width: ``"single"``, ``"double"`` or inches.
    """
    needed = ["epoch", network, run]
    for name in metrics_to_plot:
        needed += [name, f"val_{name}"]
    require_columns(history, needed, "learning curves")
    networks = ordered(history[network], order)
    colors = dict(zip(networks, palette(len(networks)), strict=False))
    # Long form: one row per (run, epoch, metric, split) so seaborn draws mean and band.
    long = history.melt(
        id_vars=["epoch", network, run],
        value_vars=[column for name in metrics_to_plot for column in (name, f"val_{name}")],
        var_name="column",
    )
    long["split"] = np.where(long["column"].str.startswith("val_"), "validation", "training")
    long["metric"] = long["column"].str.removeprefix("val_")
    is_accuracy = long["metric"].str.contains("accuracy")
    long.loc[is_accuracy, "value"] = long.loc[is_accuracy, "value"] * 100
    with publication_style():
        fig, axes = plt.subplots(
            1, len(metrics_to_plot), figsize=figure_size(width, aspect=0.32), squeeze=False
        )
        for ax, name in zip(axes[0], metrics_to_plot, strict=True):
            sns.lineplot(
                data=long[long["metric"] == name],
                x="epoch",
                y="value",
                hue=network,
                hue_order=networks,
                palette=colors,
                style="split",
                style_order=["training", "validation"],
                errorbar=lambda values: t_interval(values, confidence),
                linewidth=1,
                ax=ax,
            )
            ax.set_xlabel("Epoch")
            ax.set_ylabel(METRIC_LABELS.get(name, name))
            ax.get_legend().remove()
        handles, labels = axes[0][0].get_legend_handles_labels()
        # seaborn adds the column names as pseudo-entries; keep only networks and splits.
        keep = [
            (h, lab)
            for h, lab in zip(handles, labels, strict=True)
            if lab not in (network, "split")
        ]
        fig.legend(
            [h for h, _ in keep],
            [lab for _, lab in keep],
            loc="outside right center",
            title=f"band: {confidence:.0%} CI".replace("%", " %"),
        )
    return fig


def _binary_scores(frame: pd.DataFrame, label: str, score: str) -> tuple[np.ndarray, np.ndarray]:
    y_true = frame[label].to_numpy()
    if not set(np.unique(y_true)) <= {0, 1}:
        raise DataError(f"ROC/PR curves: column {label!r} must hold 0/1 labels for a binary task")
    if len(np.unique(y_true)) < 2:
        raise DataError(f"ROC/PR curves: column {label!r} holds one class only; need both")
    return y_true, frame[score].to_numpy(dtype=float)


def _split_runs(frame: pd.DataFrame, run: str | None) -> list[pd.DataFrame]:
    """The rows of each run; all rows as one run when there is no run column."""
    if run is None or run not in frame.columns:
        return [frame]
    return [run_frame for _, run_frame in frame.groupby(run, sort=False)]


def curve_summary(
    predictions: pd.DataFrame,
    *,
    network: str = "network",
    run: str | None = "run_id",
    label: str = "label_index",
    score: str = "score",
) -> pd.DataFrame:
    """Per network: mean and SD across runs of ROC AUC and average precision (sklearn)."""
    rows = []
    for name, frame in predictions.groupby(network, sort=False):
        runs = _split_runs(frame, run)
        aucs, aps = [], []
        for run_frame in runs:
            y_true, y_score = _binary_scores(run_frame, label, score)
            aucs.append(metrics.roc_auc_score(y_true, y_score))
            aps.append(metrics.average_precision_score(y_true, y_score))
        rows.append(
            {
                network: name,
                "runs": len(runs),
                "roc_auc": np.mean(aucs),
                "roc_auc_sd": np.std(aucs, ddof=1) if len(aucs) > 1 else np.nan,
                "average_precision": np.mean(aps),
                "average_precision_sd": np.std(aps, ddof=1) if len(aps) > 1 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _area_label(name: str, kind: str, mean: float, sd: float) -> str:
    spread = "" if np.isnan(sd) else f" ± {sd:.3f}"
    return f"{name} ({kind} {mean:.3f}{spread})"


def plot_roc_pr_curves(
    predictions: pd.DataFrame,
    *,
    network: str = "network",
    run: str | None = "run_id",
    label: str = "label_index",
    score: str = "score",
    order: Sequence[str] | None = None,
    positive_name: str = "sadness",
    width: str | float = "double",
) -> Figure:
    """ROC curve (left) and precision-recall curve (right) of each network on a binary task.

    Args:
        predictions: one row per (run, image) with the true label (0/1), the predicted
            probability of the positive class, the network and (optionally) the run.
        network: column naming the network (one colour each).
        run: column identifying the run; several runs of a network are averaged. ``None``
            treats each network's rows as one run.
        label: column with the true class index (1 = positive class).
        score: column with the predicted probability of the positive class.
        order: networks in legend order.
        positive_name: name of the positive class, for the axis labels.
        width: ``"single"``, ``"double"`` or inches.
    """
    require_columns(predictions, [network, label, score], "ROC/PR curves")
    networks = ordered(predictions[network], order)
    summary = curve_summary(
        predictions, network=network, run=run, label=label, score=score
    ).set_index(network)
    with publication_style():
        fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=figure_size(width, aspect=0.42))
        for name, color in zip(networks, palette(len(networks)), strict=False):
            frame = predictions[predictions[network] == name]
            tprs, precisions = [], []
            for run_frame in _split_runs(frame, run):
                y_true, y_score = _binary_scores(run_frame, label, score)
                fpr, tpr, _ = metrics.roc_curve(y_true, y_score)
                tprs.append(np.interp(_GRID, fpr, tpr))
                precision, recall, _ = metrics.precision_recall_curve(y_true, y_score)
                # recall decreases along the arrays; np.interp needs increasing x.
                precisions.append(np.interp(_GRID, recall[::-1], precision[::-1]))
            stats = summary.loc[name]
            for ax, curves, kind, area in (
                (roc_ax, tprs, "AUC", "roc_auc"),
                (pr_ax, precisions, "AP", "average_precision"),
            ):
                curves = np.asarray(curves)
                ax.plot(
                    _GRID,
                    curves.mean(axis=0),
                    color=color,
                    linewidth=1,
                    label=_area_label(str(name), kind, stats[area], stats[f"{area}_sd"]),
                )
                if len(curves) > 1:
                    spread = curves.std(axis=0, ddof=1)
                    ax.fill_between(
                        _GRID,
                        curves.mean(axis=0) - spread,
                        curves.mean(axis=0) + spread,
                        color=color,
                        alpha=0.2,
                        linewidth=0,
                    )
        roc_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8, label="chance")
        prevalence = predictions[label].mean()
        pr_ax.axhline(prevalence, color="grey", linestyle=":", linewidth=0.8, label="chance")
        roc_ax.set(
            xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1), ylim=(0, 1.01)
        )
        pr_ax.set(
            xlabel=f"Recall ({positive_name})",
            ylabel=f"Precision ({positive_name})",
            xlim=(0, 1),
            ylim=(0, 1.01),
        )
        several_runs = (summary["runs"] > 1).any()
        for ax, title in ((roc_ax, "ROC"), (pr_ax, "Precision-recall")):
            ax.set_title(title)
            ax.set_aspect("equal")
            ax.legend(
                loc="lower right" if ax is roc_ax else "lower left",
                fontsize=6,
                title="mean ± SD over runs (band: ± 1 SD)" if several_runs else None,
                title_fontsize=6,
            )
    return fig

"""ROC and precision-recall curves per network, binary and K-class (one-vs-rest, sklearn).

Each run's curve is interpolated onto a common grid; a K-class macro curve is the mean of the
classes' curves, a micro curve pools all class-image pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics

from thesis_lib.analysis.sentiment import class_names_of, probability_columns
from thesis_lib.errors import ConfigError, DataError
from thesis_lib.figures.checks import class_indices, ordered, require_columns
from thesis_lib.figures.curves import draw_runs, interval_handles
from thesis_lib.figures.intervals import FRACTION, MIN_RUNS_FOR_INTERVAL
from thesis_lib.figures.style import figure_size, palette, publication_style

_GRID = np.linspace(0.0, 1.0, 201)
AVERAGES = ("macro", "micro")


def _split_runs(frame: pd.DataFrame, run: str | None) -> list[pd.DataFrame]:
    """The rows of each run; all rows as one run when there is no run column."""
    if run is None or run not in frame.columns:
        return [frame]
    return [run_frame for _, run_frame in frame.groupby(run, sort=False)]


def _binary_scores(frame: pd.DataFrame, label: str, score: str) -> tuple[np.ndarray, np.ndarray]:
    y_true = frame[label].to_numpy()
    if not set(np.unique(y_true)) <= {0, 1}:
        raise DataError(f"ROC/PR curves: column {label!r} must hold 0/1 labels for a binary task")
    if len(np.unique(y_true)) < 2:
        raise DataError(f"ROC/PR curves: column {label!r} holds one class only; need both")
    if score in frame.columns:
        return y_true, frame[score].to_numpy(dtype=float)
    return y_true, frame[probability_columns(frame)[1]].to_numpy(dtype=float)


def _one_hot_scores(frame: pd.DataFrame, label: str) -> tuple[np.ndarray, np.ndarray]:
    """(one-hot labels, probabilities), both images x classes, of a K-class run."""
    columns = probability_columns(frame)
    names = class_names_of(frame)
    y_true = frame[label].to_numpy()
    if not np.isin(y_true, np.arange(len(columns))).all():
        raise DataError(
            f"ROC/PR curves: column {label!r} must hold class indices 0..{len(columns) - 1} "
            f"(classes {names})"
        )
    one_hot = np.eye(len(columns), dtype=int)[y_true.astype(int)]
    absent = [name for name, count in zip(names, one_hot.sum(axis=0), strict=True) if count == 0]
    if absent:
        raise DataError(
            f"ROC/PR curves: class(es) {absent} have no images in a run's predictions; "
            "one-vs-rest curves need every class"
        )
    return one_hot, frame[columns].to_numpy(dtype=float)


def _check_predictions(predictions: pd.DataFrame, columns: list[str], score: str,
                       average: str) -> bool:
    """Check the table and the average; return whether the task is binary."""
    require_columns(predictions, columns, "ROC/PR curves")
    if score not in predictions.columns and len(probability_columns(predictions)) < 2:
        raise DataError(
            f"ROC/PR curves: need a {score!r} column (binary) or prob_<class> columns; the "
            f"table has {list(predictions.columns)}"
        )
    if average not in AVERAGES:
        raise ConfigError(f"average {average!r} is not one of {list(AVERAGES)}")
    return score in predictions.columns or len(probability_columns(predictions)) == 2


def _roc_on_grid(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    fpr, tpr, _ = metrics.roc_curve(y_true, y_score)
    return np.interp(_GRID, fpr, tpr)


def _pr_on_grid(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    precision, recall, _ = metrics.precision_recall_curve(y_true, y_score)
    # recall decreases along the arrays; np.interp needs increasing x.
    return np.interp(_GRID, recall[::-1], precision[::-1])


def _curves(y_true: np.ndarray, y_score: np.ndarray):
    """(ROC on the grid, PR on the grid, ROC AUC, AP) of one two-class problem."""
    return (_roc_on_grid(y_true, y_score), _pr_on_grid(y_true, y_score),
            metrics.roc_auc_score(y_true, y_score),
            metrics.average_precision_score(y_true, y_score))


def _run_curves(run_frame: pd.DataFrame, label: str, score: str, average: str, binary: bool):
    """(ROC on the grid, PR on the grid, ROC AUC, AP) of one run."""
    if binary:
        return _curves(*_binary_scores(run_frame, label, score))
    one_hot, probabilities = _one_hot_scores(run_frame, label)
    if average == "micro":
        roc = _roc_on_grid(one_hot.ravel(), probabilities.ravel())
        pr = _pr_on_grid(one_hot.ravel(), probabilities.ravel())
    else:
        columns = range(one_hot.shape[1])
        roc = np.mean([_roc_on_grid(one_hot[:, k], probabilities[:, k]) for k in columns], 0)
        pr = np.mean([_pr_on_grid(one_hot[:, k], probabilities[:, k]) for k in columns], 0)
    return (roc, pr, metrics.roc_auc_score(one_hot, probabilities, average=average),
            metrics.average_precision_score(one_hot, probabilities, average=average))


def _sd(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else np.nan


def curve_summary(
    predictions: pd.DataFrame,
    *,
    network: str = "network",
    run: str | None = "run_id",
    label: str = "label_index",
    score: str = "score",
    average: str = "macro",
) -> pd.DataFrame:
    """Per network: mean and SD across runs of ROC AUC and average precision (sklearn):
    of the positive class (binary), else the ``average`` of the one-vs-rest areas.

    Returns:
        Columns ``network``, ``runs``, ``roc_auc``, ``roc_auc_sd``, ``average_precision``,
        ``average_precision_sd`` (SD with ddof = 1; NaN for one run).
    """
    binary = _check_predictions(predictions, [network, label], score, average)
    rows = []
    for name, frame in predictions.groupby(network, sort=False):
        areas = [_run_curves(run_frame, label, score, average, binary)[2:]
                 for run_frame in _split_runs(frame, run)]
        aucs, aps = [area[0] for area in areas], [area[1] for area in areas]
        rows.append(
            {
                network: name,
                "runs": len(areas),
                "roc_auc": float(np.mean(aucs)),
                "roc_auc_sd": _sd(aucs),
                "average_precision": float(np.mean(aps)),
                "average_precision_sd": _sd(aps),
            }
        )
    return pd.DataFrame(rows)


def _areas_text(kind: str, areas: Sequence[float]) -> str:
    """"AUC 0.912", "AUC 0.905, 0.912" (each run below three runs) or "AUC 0.910 ± 0.004"."""
    if len(areas) < MIN_RUNS_FOR_INTERVAL:
        return f"{kind} {', '.join(f'{area:.3f}' for area in areas)}"
    return f"{kind} {np.mean(areas):.3f} ± {np.std(areas, ddof=1):.3f}"


def _legend_title(areas_per_line: Sequence[Sequence[float]], what: str) -> str:
    counts = [len(areas) for areas in areas_per_line]
    if max(counts) == 1:
        return what
    parts = []
    if max(counts) >= MIN_RUNS_FOR_INTERVAL:
        parts.append(f"n ≥ {MIN_RUNS_FOR_INTERVAL}: mean ± SD over runs")
    if min(counts) < MIN_RUNS_FOR_INTERVAL:
        parts.append(f"n < {MIN_RUNS_FOR_INTERVAL}: each run's area")
    return f"{what}; {', '.join(parts)}"


def _draw_panels(lines, *, confidence: float, width, roc_title: str, pr_title: str,
                 pr_axis_name: str, chance_precision: float | None, what: str) -> Figure:
    """ROC and PR panels of ``lines`` (name, color, runs' ROC, PR, AUC, AP); one legend under
    both. ``chance_precision`` None: the classes differ in chance level (said in the legend)."""
    many = len(lines) > 4
    with publication_style():
        fig, (roc_ax, pr_ax) = plt.subplots(
            1, 2, figsize=figure_size(width, aspect=0.62 + 0.025 * len(lines) / (1 + many)))
        drawn = []
        for name, color, rocs, prs, aucs, aps in lines:
            # Many classes overlap: their bands are lighter, so that the means stay visible.
            options = dict(color=color, confidence=confidence, bounds=FRACTION,
                           band_alpha=0.1 if many else None)
            # Both panels' areas in one entry: "gram (AUC 0.910 ± 0.004; AP 0.902 ± 0.006)".
            label = f"{name} ({_areas_text('AUC', aucs)}; {_areas_text('AP', aps)})"
            drawn.append(draw_runs(roc_ax, _GRID, np.asarray(rocs), label=label, **options))
            drawn.append(draw_runs(pr_ax, _GRID, np.asarray(prs), **options))
        roc_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8, label="chance")
        if chance_precision is not None:
            pr_ax.axhline(chance_precision, color="grey", linestyle=":", linewidth=0.8,
                          label="chance")
        roc_ax.set(xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1),
                   ylim=(0, 1.01))
        pr_ax.set(xlabel=f"Recall{pr_axis_name}", ylabel=f"Precision{pr_axis_name}",
                  xlim=(0, 1), ylim=(0, 1.01))
        for ax, panel_title in ((roc_ax, roc_title), (pr_ax, pr_title)):
            ax.set_title(panel_title)
            ax.set_aspect("equal")
        title = _legend_title([line[4] for line in lines], what)
        if chance_precision is None:
            title += "\nchance precision: each class's share of the images"
        handles, _ = roc_ax.get_legend_handles_labels()
        # Under both panels: inside, a legend would hide curves (PR curves fill the square).
        fig.legend(handles=handles + interval_handles(drawn, confidence, FRACTION),
                   loc="outside lower center", ncol=2 if many else 1, fontsize=6,
                   title=title, title_fontsize=6)
    return fig


def plot_roc_pr_curves(
    predictions: pd.DataFrame,
    *,
    network: str = "network",
    run: str | None = "run_id",
    label: str = "label_index",
    score: str = "score",
    order: Sequence[str] | None = None,
    positive_name: str | None = None,
    average: str = "macro",
    confidence: float = 0.95,
    width: str | float = "double",
) -> Figure:
    """ROC (left) and precision-recall (right) curve of each network: of the positive class
    (binary), else the ``average`` of the one-vs-rest curves (per class:
    :func:`plot_roc_pr_by_class`).

    Args:
        predictions: one row per (run, image) with the true class index, the network, the run
            and ``score`` or ``prob_<class>`` columns (``run_tables.load_scores``).
        network: column naming the network (one colour each).
        run: column identifying the run; a network's runs are averaged. ``None`` treats each
            network's rows as one run.
        label: column with the true class index (binary: 1 = positive class).
        score: column with the predicted probability of the positive class (binary tasks).
        order: networks in legend order.
        positive_name: the positive class on a binary task's axis labels; default the class
            of ``prob_<class>`` column 1, else "positive class".
        average: "macro" or "micro" averaging of the one-vs-rest curves (K > 2).
        confidence: level of the t band of networks with at least three runs.
        width: ``"single"``, ``"double"`` or inches.
    """
    binary = _check_predictions(predictions, [network, label], score, average)
    lines = []
    networks = ordered(predictions[network], order)
    for name, color in zip(networks, palette(len(networks)), strict=False):
        frame = predictions[predictions[network] == name]
        curves = [_run_curves(run_frame, label, score, average, binary)
                  for run_frame in _split_runs(frame, run)]
        lines.append((str(name), color, *(list(part) for part in zip(*curves, strict=True))))
    if binary:
        names = class_names_of(predictions)
        positive = positive_name or (names[1] if len(names) == 2 else "positive class")
        positive = positive.replace("_", " ")
        return _draw_panels(lines, confidence=confidence, width=width, roc_title="ROC",
                            pr_title="Precision-recall", pr_axis_name=f" ({positive})",
                            chance_precision=float(predictions[label].mean()),
                            what="network (area)")
    classes = len(probability_columns(predictions))
    return _draw_panels(
        lines, confidence=confidence, width=width,
        roc_title=f"ROC, {average} average over {classes} classes (one-vs-rest)",
        pr_title=f"Precision-recall, {average} average", pr_axis_name="",
        # The macro mean of the class prevalences, and the micro prevalence, are both 1 / K.
        chance_precision=1.0 / classes, what=f"network ({average} area)",
    )


def plot_roc_pr_by_class(
    predictions: pd.DataFrame,
    *,
    network_name: str | None = None,
    network: str = "network",
    run: str | None = "run_id",
    label: str = "label_index",
    classes: Sequence[str | int] | None = None,
    confidence: float = 0.95,
    width: str | float = "double",
) -> Figure:
    """One network's one-vs-rest ROC (left) and precision-recall (right) curve of each class.

    Args:
        predictions: one row per (run, image) with ``label_index`` and ``prob_<class>``
            columns (``run_tables.load_scores``), of one network or of several.
        network_name: the network to show; needed when the table holds several.
        classes: the classes to draw (names or indices), in legend order; default all.
        network, run, label, confidence, width: as in :func:`plot_roc_pr_curves`.
    """
    require_columns(predictions, [label], "ROC/PR curves by class")
    names = class_names_of(predictions)
    if len(names) < 2:
        raise DataError("ROC/PR curves by class: the table has no prob_<class> columns")
    frame = predictions
    if network in predictions.columns:
        present = list(dict.fromkeys(predictions[network]))
        if network_name is None and len(present) > 1:
            raise DataError(
                f"ROC/PR curves by class: the table holds networks {present}; choose one with "
                "network_name="
            )
        if network_name is not None and network_name not in present:
            raise DataError(f"ROC/PR curves by class: no network {network_name!r} in {present}")
        network_name = network_name or present[0]
        frame = predictions[predictions[network] == network_name]
    indices = class_indices(classes, names)
    run_frames = _split_runs(frame, run)
    colors = palette(max(len(indices), 1))
    lines = []
    for index, color in zip(indices, colors, strict=True):
        curves = [_curves(*(part[:, index] for part in _one_hot_scores(run_frame, label)))
                  for run_frame in run_frames]
        lines.append((names[index].replace("_", " "), color,
                      *(list(part) for part in zip(*curves, strict=True))))
    shares = [float((frame[label] == index).mean()) for index in indices]
    prevalence = shares[0] if np.allclose(shares, shares[0]) else None
    runs_text = f", {len(run_frames)} run{'s' if len(run_frames) > 1 else ''}"
    fig = _draw_panels(lines, confidence=confidence, width=width,
                       roc_title=f"ROC, one-vs-rest{runs_text}",
                       pr_title="Precision-recall, one-vs-rest", pr_axis_name="",
                       chance_precision=prevalence, what="class (area)")
    if network_name is not None:
        fig.suptitle(str(network_name))
    return fig

"""Calibration: the reliability diagram of a run's predictions and the LaTeX table of the
calibration metrics per network (ECE, Brier score, NLL, before and after temperature scaling),
mean with its t interval over seeds (``thesis_lib.analysis.results.summarize``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from thesis_lib.analysis import calibration
from thesis_lib.analysis.results import (
    OWN_TEST_SPLIT,
    interval_columns,
    mean_with_interval,
    sort_networks,
)
from thesis_lib.analysis.sentiment import probability_columns
from thesis_lib.errors import DataError
from thesis_lib.figures.checks import require_columns
from thesis_lib.figures.style import figure_size, publication_style
from thesis_lib.figures.tables import MISSING, _to_latex

# Metric -> column title of the calibration table, in column order.
CALIBRATION_LABELS = {
    "expected_calibration_error": "ECE",
    "calibrated_expected_calibration_error": "ECE, scaled",
    "brier_score": "Brier",
    "calibrated_brier_score": "Brier, scaled",
    "nll": "NLL",
    "calibrated_nll": "NLL, scaled",
}


def plot_reliability_diagram(
    predictions: pd.DataFrame,
    *,
    temperature: float | None = None,
    bins: int = calibration.ECE_BINS,
    dataset: str = OWN_TEST_SPLIT,
    width: str | float = "single",
) -> Figure:
    """Accuracy against mean confidence per equal-mass bin (the diagonal is perfect
    calibration), with the ECE in the legend; with ``temperature`` also after scaling.

    Args:
        predictions: a run's ``predictions.csv`` (``label_index``, ``prob_<class>``; rows of
            ``dataset`` when it has a ``dataset`` column).
        temperature: the run's fitted temperature (``metrics.json``'s ``temperature_scaling``).
        bins: equal-mass bins of confidence.
        dataset: which evaluation set of the predictions to draw.
        width: ``"single"``, ``"double"`` or inches.

    Raises:
        DataError: no ``prob_<class>`` / ``label_index`` columns or no rows of ``dataset``.
    """
    columns = probability_columns(predictions)
    require_columns(predictions, ["label_index", *columns], "reliability diagram")
    if not columns:
        raise DataError("reliability diagram: the predictions have no prob_<class> columns")
    rows = predictions
    if "dataset" in rows.columns:
        rows = rows[rows["dataset"] == dataset]
    rows = rows.dropna(subset=["label_index"])
    if rows.empty:
        raise DataError(f"reliability diagram: no labelled predictions of {dataset!r}")
    labels = rows["label_index"].to_numpy(int)
    probabilities = rows[columns].to_numpy(float)
    curves = [("as trained", probabilities, "o-")]
    if temperature is not None:
        curves.append((f"T = {temperature:.2f}",
                       calibration.scale_temperature(probabilities, temperature), "s--"))
    with publication_style():
        fig, ax = plt.subplots(figsize=figure_size(width, aspect=1.0))
        ax.plot([0, 1], [0, 1], color="0.6", linewidth=0.8, label="perfect calibration")
        for name, values, style in curves:
            table = calibration.reliability_table(labels, values, bins)
            ece, used = calibration.ece_of_table(table)
            ax.plot(table["confidence"], table["accuracy"], style, markersize=3, linewidth=1,
                    label=f"{name}: ECE {ece * 100:.1f} % ({used} bins)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("Mean confidence per bin")
        ax.set_ylabel("Accuracy per bin")
        ax.set_aspect("equal")
        ax.legend(loc="upper left", fontsize="small")
    return fig


def calibration_view(summary: pd.DataFrame, *, dataset: str | None = OWN_TEST_SPLIT,
                     decimals: int = 3) -> pd.DataFrame:
    """Per network: each calibration metric the summary holds as "mean [low, high]" (the t
    interval of its ``ci95_low``/``ci95_high``; the mean alone for a single run; "--" for
    runs recorded before calibration was measured), and the number of runs n.

    Args:
        summary: a long summary (``summarize_metrics`` or a study's ``summary.csv``).
        dataset: the evaluation set to show (``None``: the summary has one already).
        decimals: decimals of the numbers.
    """
    require_columns(summary, ["network", "metric", "mean", "n"], "calibration table")
    every = summary
    if dataset is not None and "dataset" in every.columns:
        every = every[every["dataset"] == dataset]
    table = every[every["metric"].isin(list(CALIBRATION_LABELS))]
    if table.empty:
        raise DataError("calibration table: the summary holds no calibration metric (runs "
                        "recorded before calibration was measured have none)")
    key = "setting_id" if "setting_id" in table.columns else "network"
    # Every network of the summary, "--" where its runs were recorded without calibration.
    first = sort_networks(every.drop_duplicates(key).reset_index(drop=True))
    view = pd.DataFrame({"network": first["network"].to_numpy()})
    interval = interval_columns(table)
    for metric, label in CALIBRATION_LABELS.items():
        rows = table[table["metric"] == metric].set_index(key)
        if rows.empty:
            continue
        view[label] = [mean_with_interval(rows.loc[setting], interval, decimals)
                       if setting in rows.index and np.isfinite(rows.loc[setting, "mean"])
                       else MISSING for setting in first[key]]
    view["n"] = first[key].map(every.groupby(key)["n"].max()).to_numpy()
    return view


def calibration_table(summary: pd.DataFrame, *, dataset: str | None = OWN_TEST_SPLIT,
                      decimals: int = 3, caption: str | None = None, label: str | None = None,
                      note: str = "") -> str:
    """:func:`calibration_view` as a booktabs LaTeX table (lower is better in every column).

    Args:
        summary: a long summary holding calibration metrics.
        dataset: the evaluation set to show.
        decimals: decimals of the numbers.
        caption, label, note: as in :func:`thesis_lib.figures.tables.results_table`.
    """
    view = calibration_view(summary, dataset=dataset, decimals=decimals)
    view = view.rename(columns={"network": "Network"})
    view["n"] = view["n"].astype(int).astype(str)
    return _to_latex(view, text_columns=["Network"], caption=caption, label=label, note=note)

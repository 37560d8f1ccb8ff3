"""Learning curves, ROC/PR curves and confusion matrices against numpy and sklearn."""

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from thesis_lib.errors import DataError
from thesis_lib.figures import (
    curve_summary,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_roc_pr_curves,
    save_figure,
)
from thesis_lib.figures.intervals import FEW_RUNS_LABEL


def history_table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for network in ("baseline", "B2 + 4 Gram modules"):
        for seed in range(3):
            for epoch in range(6):
                rows.append({
                    "network": network, "run_id": f"{network}-{seed}", "epoch": epoch,
                    "loss": 1 / (epoch + 1) + 0.01 * rng.random(),
                    "val_loss": 1.2 / (epoch + 1) + 0.02 * rng.random(),
                    "accuracy": 0.6 + 0.04 * epoch, "val_accuracy": 0.55 + 0.04 * epoch,
                })
    return pd.DataFrame(rows)


def predictions_table(runs_per_network: int) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = []
    for network, separation in (("baseline", 1.0), ("gram", 2.0)):
        for run in range(runs_per_network):
            labels = rng.integers(0, 2, 200)
            scores = 1 / (1 + np.exp(-(2 * labels - 1) * separation - rng.standard_normal(200)))
            rows.append(pd.DataFrame({"network": network, "run_id": f"{network}{run}",
                                      "label_index": labels, "score": scores}))
    return pd.concat(rows, ignore_index=True)


def test_learning_curves_show_each_metric_in_a_panel_with_network_and_split_legend(tmp_path):
    history = history_table()
    fig = plot_learning_curves(history)
    loss_ax, accuracy_ax = fig.axes
    assert (loss_ax.get_xlabel(), loss_ax.get_ylabel()) == ("Epoch", "Loss (cross-entropy)")
    assert accuracy_ax.get_ylabel() == "Accuracy (%)"
    labels = [" ".join(text.get_text().split()) for text in fig.legends[0].get_texts()]
    assert labels == ["baseline", "B2 + 4 Gram modules", "training", "validation",
                      "band: mean ± 95 % t CI (n ≥ 3 seeds)"]
    # The first line is the baseline's mean training loss over its seeds, epoch by epoch.
    expected = history[history.network == "baseline"].groupby("epoch")["loss"].mean()
    assert np.allclose(loss_ax.lines[0].get_ydata(), expected)
    assert loss_ax.lines[1].get_linestyle() == "--"
    assert np.allclose(accuracy_ax.lines[0].get_ydata(), np.arange(6) * 4 + 60)
    assert save_figure(fig, "learning_curves", tmp_path)["png"].is_file()


def test_learning_curves_name_missing_history_columns():
    with pytest.raises(DataError, match="val_accuracy"):
        plot_learning_curves(history_table().drop(columns="val_accuracy"))


def test_roc_auc_and_average_precision_in_the_legend_equal_sklearn(tmp_path):
    predictions = predictions_table(runs_per_network=1)
    fig = plot_roc_pr_curves(predictions, positive_name="sadness")
    roc_ax, pr_ax = fig.axes
    assert (roc_ax.get_xlabel(), roc_ax.get_ylabel()) == ("False positive rate",
                                                          "True positive rate")
    assert pr_ax.get_xlabel() == "Recall (sadness)"
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    # One run per network: its curve equals sklearn's, interpolated onto the grid.
    rows = predictions[predictions.network == "gram"]
    fpr, tpr, _ = metrics.roc_curve(rows.label_index, rows.score)
    drawn = roc_ax.lines[1]
    assert np.allclose(drawn.get_ydata(), np.interp(drawn.get_xdata(), fpr, tpr))
    for index, network in enumerate(("baseline", "gram")):
        rows = predictions[predictions.network == network]
        auc = metrics.roc_auc_score(rows.label_index, rows.score)
        ap = metrics.average_precision_score(rows.label_index, rows.score)
        assert labels[index] == f"{network} (AUC {auc:.3f}; AP {ap:.3f})"
    assert labels[-2:] == ["chance", FEW_RUNS_LABEL]
    # Without a name, the positive class is named by the prob_<class> column of index 1.
    named = predictions.assign(prob_not_sadness=1 - predictions.score,
                               prob_sadness=predictions.score).drop(columns="score")
    relabelled = plot_roc_pr_curves(named)
    assert relabelled.axes[1].get_xlabel() == "Recall (sadness)"
    assert [text.get_text() for text in relabelled.legends[0].get_texts()] == labels
    assert save_figure(fig, "roc_pr", tmp_path)["pdf"].is_file()


def test_several_runs_give_mean_and_sd_of_the_per_run_areas():
    predictions = predictions_table(runs_per_network=3)
    summary = curve_summary(predictions).set_index("network")
    aucs = [metrics.roc_auc_score(rows.label_index, rows.score)
            for _, rows in predictions[predictions.network == "gram"].groupby("run_id")]
    assert summary.loc["gram", "runs"] == 3
    assert summary.loc["gram", "roc_auc"] == pytest.approx(np.mean(aucs))
    assert summary.loc["gram", "roc_auc_sd"] == pytest.approx(np.std(aucs, ddof=1))
    labels = [text.get_text() for text in
              plot_roc_pr_curves(predictions).legends[0].get_texts()]
    assert labels[1].startswith(f"gram (AUC {np.mean(aucs):.3f} ± {np.std(aucs, ddof=1):.3f}; AP")


def test_two_runs_give_each_area_and_no_sd():
    predictions = predictions_table(runs_per_network=2)
    aucs = [metrics.roc_auc_score(rows.label_index, rows.score)
            for _, rows in predictions[predictions.network == "baseline"].groupby("run_id")]
    legend = plot_roc_pr_curves(predictions).legends[0]
    assert legend.get_texts()[0].get_text().startswith(
        f"baseline (AUC {aucs[0]:.3f}, {aucs[1]:.3f}; AP ")
    assert "n < 3: each run's area" in legend.get_title().get_text()


def test_roc_needs_binary_labels_of_both_classes():
    predictions = predictions_table(runs_per_network=1)
    with pytest.raises(DataError, match="0/1 labels"):
        plot_roc_pr_curves(predictions.assign(label_index=predictions.label_index + 1))
    with pytest.raises(DataError, match="one class only"):
        plot_roc_pr_curves(predictions.assign(label_index=1))


def drawn_numbers(ax) -> list[str]:
    return [text.get_text() for text in ax.texts]


def test_confusion_matrix_draws_the_input_counts_and_row_percentages(tmp_path):
    counts = np.array([[2701, 344], [790, 2272]])
    fig = plot_confusion_matrix(counts, ["not_sadness", "sadness"])
    count_ax, percent_ax = fig.axes
    assert drawn_numbers(count_ax) == [str(value) for value in counts.ravel()]
    row_percent = 100 * counts / counts.sum(axis=1, keepdims=True)
    assert drawn_numbers(percent_ax) == [f"{value:.1f}" for value in row_percent.ravel()]
    assert (count_ax.get_ylabel(), count_ax.get_xlabel()) == ("True class", "Predicted class")
    assert [label.get_text() for label in count_ax.get_yticklabels()] == ["not sadness",
                                                                         "sadness"]
    assert save_figure(fig, "confusion_matrix", tmp_path)["png"].is_file()


def test_confusion_matrix_with_both_panels_at_eight_classes_matches_sklearn():
    rng = np.random.default_rng(3)
    true, predicted = rng.integers(0, 8, 300), rng.integers(0, 8, 300)
    counts = metrics.confusion_matrix(true, predicted)
    fig = plot_confusion_matrix(counts, [f"class_{index}" for index in range(8)],
                                panels=("counts", "row"))
    assert drawn_numbers(fig.axes[0]) == [str(value) for value in counts.ravel()]
    normalised = metrics.confusion_matrix(true, predicted, normalize="true") * 100
    assert drawn_numbers(fig.axes[1]) == [f"{value:.0f}" for value in normalised.ravel()]


def test_confusion_matrix_shape_must_match_the_classes():
    with pytest.raises(DataError, match=r"shape \(2, 2\); expected \(3, 3\)"):
        plot_confusion_matrix([[1, 2], [3, 4]], ["a", "b", "c"])

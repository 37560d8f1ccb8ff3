"""Figures and example picking for K classes (the 8 Mikels emotions), from run folders that
the training code's own writers produce, checked against sklearn and numpy."""

import json

import numpy as np
import pandas as pd
import pytest
from figure_artists import error_bars, figure_texts, points
from matplotlib.container import BarContainer
from sklearn import metrics
from sklearn.preprocessing import label_binarize

from thesis_lib.analysis.results import collect_runs
from thesis_lib.data.labels import MIKELS8
from thesis_lib.errors import DataError
from thesis_lib.figures import (
    curve_summary,
    plot_confusion_matrix,
    plot_per_class_metric,
    plot_roc_pr_by_class,
    plot_roc_pr_curves,
    save_figure,
)
from thesis_lib.figures.run_tables import example_titles, load_scores, pick_examples
from thesis_lib.training.evaluate import compute_metrics, metrics_record, predictions_frame

NETWORKS = (("baseline", 0, 1.2), ("gram", 2, 2.0))
IMAGES_PER_CLASS = 25


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def synthetic_probabilities(labels: np.ndarray, separation: float, rng) -> np.ndarray:
    """Softmax of a one-hot signal of the true class plus noise."""
    logits = separation * np.eye(len(MIKELS8))[labels] + rng.standard_normal((len(labels), 8))
    return softmax(logits)


def write_run(runs_dir, run_id: str, variant: str, modules: int, seed: int, labels, probs):
    """A finished run folder as the training code writes it: metrics.json, predictions.csv."""
    folder = runs_dir / run_id
    folder.mkdir(parents=True)
    config = {"variant": variant, "modules": modules, "seed": seed,
              "backbone": "EfficientNetV2B0", "label_scheme": "mikels8"}
    (folder / "config.json").write_text(json.dumps({"run_id": run_id, "config": config}))
    (folder / "status.json").write_text(json.dumps({"state": "finished"}))
    record = metrics_record(compute_metrics(labels, probs, MIKELS8), best_epoch=1)
    (folder / "metrics.json").write_text(json.dumps(record))
    frame = pd.DataFrame({"path": [f"/images/{run_id}/{index:03d}.jpg"
                                   for index in range(len(labels))], "label_index": labels})
    predictions_frame(frame, probs, MIKELS8, dataset="test", split="test").to_csv(
        folder / "predictions.csv", index=False)


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("mikels")
    rng = np.random.default_rng(8)
    labels = np.repeat(np.arange(8), IMAGES_PER_CLASS)
    for variant, modules, separation in NETWORKS:
        for seed in range(5):
            write_run(root / "runs", f"{variant}{modules}-s{seed}", variant, modules, seed,
                      labels, synthetic_probabilities(labels, separation, rng))
    return root


@pytest.fixture(scope="module")
def runs(results_dir):
    table = collect_runs(results_dir, warn=False)
    from thesis_lib.figures.run_tables import with_network_names

    return with_network_names(table[table["dataset"] == "test"])


@pytest.fixture(scope="module")
def scores(runs, results_dir):
    return load_scores(runs, results_dir)


def test_scores_of_eight_classes_have_every_probability_and_no_binary_score(scores, results_dir):
    assert [column for column in scores if column.startswith("prob_")] == [
        f"prob_{name}" for name in MIKELS8]
    assert "score" not in scores
    one = pd.read_csv(results_dir / "runs" / "gram2-s3" / "predictions.csv")
    rows = scores[scores.run_id == "gram2-s3"]
    np.testing.assert_allclose(rows["prob_fear"], one["prob_fear"])
    np.testing.assert_array_equal(rows["predicted_index"],
                                  one[[f"prob_{name}" for name in MIKELS8]].to_numpy().argmax(1))


def test_one_class_against_the_rest_gives_its_probability_as_score(runs, results_dir):
    sadness = load_scores(runs, results_dir, positive_index=MIKELS8.index("sadness"))
    np.testing.assert_allclose(sadness["score"], sadness["prob_sadness"])
    with pytest.raises(DataError, match="no class 8"):
        load_scores(runs, results_dir, positive_index=8)


def test_examples_per_class_are_the_most_confident_with_ties_broken_by_path():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(8), 6)
    probabilities = softmax(rng.standard_normal((48, 8)))
    paths = [f"img{index:02d}.jpg" for index in rng.permutation(48)]
    # Two images of "fear" with the same probability of their class: the path decides.
    fear = np.flatnonzero(labels == 6)
    probabilities[fear[:2]] = probabilities[fear[0]]
    table = pd.DataFrame({"path": paths, "label_index": labels,
                          "predicted_index": probabilities.argmax(1)})
    for index, name in enumerate(MIKELS8):
        table[f"prob_{name}"] = probabilities[:, index]
    chosen = ["sadness", "fear", 0]
    picked = pick_examples(table, per_class=2, classes=chosen)
    expected = []
    for label in (7, 6, 0):
        members = [(-probabilities[row, label], paths[row]) for row in np.flatnonzero(labels ==
                                                                                      label)]
        expected += [path for _, path in sorted(members)[:2]]
    assert list(picked["path"]) == expected
    assert list(picked["class_name"]) == ["sadness"] * 2 + ["fear"] * 2 + ["amusement"] * 2
    np.testing.assert_allclose(picked["confidence"],
                               [probabilities[paths.index(path), label] for path, label in
                                zip(picked["path"], picked["label_index"], strict=True)])
    # Default: every class, in index order; the same picks whatever the row order.
    every = pick_examples(table.sample(frac=1, random_state=0), per_class=1)
    assert list(every["label_index"]) == list(range(8))
    assert list(pick_examples(table, per_class=1)["path"]) == list(every["path"])


def test_binary_examples_keep_the_positive_class_first():
    table = pd.DataFrame({"path": ["a", "b", "c", "d"], "label_index": [0, 1, 0, 1],
                          "prob_not_sadness": [0.9, 0.3, 0.6, 0.2],
                          "prob_sadness": [0.1, 0.7, 0.4, 0.8]})
    assert list(pick_examples(table, per_class=1)["path"]) == ["d", "a"]
    assert list(pick_examples(table, per_class=1, classes=["not_sadness"])["path"]) == ["a"]
    with pytest.raises(DataError, match="'joy' is not one of"):
        pick_examples(table, classes=["joy"])
    with pytest.raises(DataError, match="holds 2 runs"):
        pick_examples(table.assign(run_id=["r1", "r1", "r2", "r2"]))


def test_titles_name_the_prediction_when_it_is_wrong():
    examples = pd.DataFrame({"label_index": [7, 6], "predicted_index": [7, 7],
                             "confidence": [0.912, 0.2]})
    assert example_titles(examples, MIKELS8) == ["sadness, p = 0.91",
                                                 "fear, p = 0.20\n(predicted: sadness)"]


def test_per_class_f1_bars_are_the_means_over_seeds_in_mikels_order(runs, tmp_path):
    fig = plot_per_class_metric(runs, class_names=MIKELS8)
    ax = fig.axes[0]
    assert [label.get_text() for label in ax.get_xticklabels()] == MIKELS8
    assert ax.get_ylabel() == "F1" and ax.get_ylim() == (0.0, 1.0)
    containers = [container for container in ax.containers
                  if isinstance(container, BarContainer)]
    assert [container.get_label() for container in containers] == [
        "baseline EfficientNetV2B0", "B0 + 2 Gram modules"]
    for container, variant in zip(containers, ("baseline", "gram"), strict=True):
        rows = runs[runs["variant"] == variant]
        expected = [rows[f"f1_{name}"].mean() for name in MIKELS8]
        assert [bar.get_height() for bar in container] == pytest.approx(expected)
    # Five seeds: one t interval per bar, none drawn outside 0-1.
    bars = error_bars(ax)
    assert len(bars) == 16 and min(bar[:, 1].min() for bar in bars) >= 0
    assert max(bar[:, 1].max() for bar in bars) <= 1
    assert save_figure(fig, "per_class_f1_k8", tmp_path)["png"].is_file()


def test_per_class_f1_equals_sklearn_on_the_predictions(runs, scores):
    row = runs[runs["run_id"] == "baseline0-s2"].iloc[0]
    predictions = scores[scores.run_id == "baseline0-s2"]
    f1 = metrics.f1_score(predictions["label_index"], predictions["predicted_index"],
                          average=None, labels=range(8))
    assert [row[f"f1_{name}"] for name in MIKELS8] == pytest.approx(f1)


def test_per_class_metric_names_missing_classes(runs):
    with pytest.raises(DataError, match="f1_joy"):
        plot_per_class_metric(runs, class_names=["sadness", "joy"])
    with pytest.raises(DataError, match="no f1_<class> columns"):
        plot_per_class_metric(runs.drop(columns=[f"f1_{name}" for name in MIKELS8]))


def test_macro_and_micro_roc_areas_equal_sklearn(scores, tmp_path):
    gram = scores[scores.network == "B0 + 2 Gram modules"]
    expected = {"macro": [], "micro": []}
    for _, run in gram.groupby("run_id"):
        probabilities = run[[f"prob_{name}" for name in MIKELS8]].to_numpy()
        expected["macro"].append(metrics.roc_auc_score(run["label_index"], probabilities,
                                                       multi_class="ovr", average="macro"))
        one_hot = label_binarize(run["label_index"], classes=range(8))
        expected["micro"].append(metrics.roc_auc_score(one_hot, probabilities,
                                                       average="micro"))
    for average in ("macro", "micro"):
        summary = curve_summary(scores, average=average).set_index("network")
        assert summary.loc["B0 + 2 Gram modules", "roc_auc"] == pytest.approx(
            np.mean(expected[average]))
        fig = plot_roc_pr_curves(scores, average=average)
        roc_ax = fig.axes[0]
        labels = [text.get_text() for text in fig.legends[0].get_texts()]
        mean, sd = np.mean(expected[average]), np.std(expected[average], ddof=1)
        assert labels[1].startswith(f"B0 + 2 Gram modules (AUC {mean:.3f} ± {sd:.3f}; AP ")
        assert f"{average} average over 8 classes" in roc_ax.get_title()
        # The drawn mean curve encloses about the sklearn area (trapezoids on the grid).
        curve = roc_ax.lines[1]
        area = np.trapezoid(curve.get_ydata(), curve.get_xdata())
        assert area == pytest.approx(mean, abs=0.01)
        # The PR chance level of K balanced classes is 1 / K.
        chance = next(line for line in fig.axes[1].lines if line.get_label() == "chance")
        assert chance.get_ydata()[0] == pytest.approx(1 / 8)
        save_figure(fig, f"roc_pr_k8_{average}", tmp_path)


def test_roc_by_class_has_one_curve_per_class_with_sklearn_areas(scores, tmp_path):
    fig = plot_roc_pr_by_class(scores, network_name="B0 + 2 Gram modules",
                               classes=["sadness", "fear", "amusement"])
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    gram = scores[scores.network == "B0 + 2 Gram modules"]
    aucs = [metrics.roc_auc_score(run["label_index"] == 7, run["prob_sadness"])
            for _, run in gram.groupby("run_id")]
    assert labels[0].startswith(f"sadness (AUC {np.mean(aucs):.3f} ± {np.std(aucs, ddof=1):.3f};")
    assert [label.split(" (")[0] for label in labels[:3]] == ["sadness", "fear", "amusement"]
    assert fig.get_suptitle() == "B0 + 2 Gram modules"
    with pytest.raises(DataError, match="choose one with network_name"):
        plot_roc_pr_by_class(scores)
    one_run = gram[gram.run_id == "gram2-s0"]
    single = plot_roc_pr_by_class(one_run, run=None)
    assert len(error_bars(single.axes[0])) == 0 and "no interval" in " ".join(
        figure_texts(single))
    save_figure(fig, "roc_pr_by_class_k8", tmp_path)


def test_confusion_matrix_of_eight_classes_is_row_normalised_and_readable(scores, tmp_path):
    run = scores[scores.run_id == "gram2-s0"]
    counts = metrics.confusion_matrix(run["label_index"], run["predicted_index"])
    fig = plot_confusion_matrix(counts, MIKELS8, title="B0 + 2 Gram modules")
    (ax,) = fig.axes
    normalised = metrics.confusion_matrix(run["label_index"], run["predicted_index"],
                                          normalize="true") * 100
    assert [text.get_text() for text in ax.texts] == [f"{value:.0f}"
                                                      for value in normalised.ravel()]
    assert [label.get_text() for label in ax.get_yticklabels()] == [
        f"{name} (n = {IMAGES_PER_CLASS})" for name in MIKELS8]
    # Readable: each number fits inside its cell, and no two class names overlap.
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    cell = ax.transData.transform([(1, 1)]) - ax.transData.transform([(0, 0)])
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert box.width < abs(cell[0, 0]) and box.height < abs(cell[0, 1])
    boxes = [label.get_window_extent(renderer) for label in ax.get_yticklabels()]
    assert not any(first.overlaps(second) for first, second in zip(boxes, boxes[1:], strict=False))
    # Rotated names are parallel: apart by the tick spacing times the sine of the angle,
    # which must exceed the height of a line of text.
    name = ax.get_xticklabels()[0]
    line_height = name.get_fontsize() * fig.dpi / 72
    assert name.get_rotation() == 45
    assert abs(cell[0, 0]) * np.sin(np.radians(45)) > 1.2 * line_height
    assert min(text.get_fontsize() for text in ax.texts) >= 4.0
    # Cells stay at least a quarter inch: the figure grows with the classes.
    assert abs(cell[0, 0]) / fig.dpi >= 0.25
    widths = [plot_confusion_matrix(np.eye(size, dtype=int), list("abcdefghijkl")[:size])
              .get_size_inches()[0] for size in (2, 8, 12)]
    assert widths[0] <= widths[1] < widths[2]
    save_figure(fig, "confusion_k8", tmp_path)


def test_a_class_without_images_has_an_empty_row():
    counts = np.array([[3, 1, 0], [0, 0, 0], [1, 0, 4]])
    fig = plot_confusion_matrix(counts, ["a", "b", "c"], panels=("row",))
    texts = [text.get_text() for text in fig.axes[0].texts]
    assert len(texts) == 6 and "nan" not in texts
    assert fig.axes[0].get_yticklabels()[1].get_text() == "b (n = 0)"


def test_scores_of_runs_with_different_classes_are_refused(results_dir, runs, tmp_path):
    binary = tmp_path / "mixed"
    (binary / "runs").mkdir(parents=True)
    for run_id in ("baseline0-s0", "gram2-s0"):
        source = results_dir / "runs" / run_id
        target = binary / "runs" / run_id
        target.mkdir()
        for name in ("config.json", "status.json", "metrics.json", "predictions.csv"):
            (target / name).write_bytes((source / name).read_bytes())
    predictions = pd.read_csv(binary / "runs" / "gram2-s0" / "predictions.csv")
    predictions = predictions.drop(columns=[f"prob_{name}" for name in MIKELS8[2:]])
    predictions.to_csv(binary / "runs" / "gram2-s0" / "predictions.csv", index=False)
    with pytest.raises(DataError, match="differ from the other runs"):
        load_scores(runs[runs.run_id.isin(["baseline0-s0", "gram2-s0"])], binary)


def test_eight_class_figures_keep_points_when_seeds_are_few(runs):
    two = runs[runs["seed"] < 2]
    fig = plot_per_class_metric(two, class_names=MIKELS8)
    assert error_bars(fig.axes[0]) == [] and len(points(fig.axes[0])) == 2 * 2 * 8

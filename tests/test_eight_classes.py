"""The eight Mikels emotions end to end: demo data, training (with class weighting and with
balanced sampling), evaluation on another dataset, the metrics and every figure."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from thesis_lib import figures as fg
from thesis_lib.analysis import results
from thesis_lib.cli import main
from thesis_lib.figures import run_tables as records
from thesis_lib.training import evaluate_run, make_config, run_training

# Three eight-class trainings end to end (slow tier); the fast tier tests the k-class metrics,
# tables and figures on their own.
pytestmark = pytest.mark.slow

MIKELS8 = ["amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear",
           "sadness"]


@pytest.fixture(scope="module")
def eight_class_runs(tmp_path_factory):
    """Two tiny runs (the Tiny backbone) on an 8-class demo dataset (made by `thesis data demo
    --classes 8`)."""
    root = tmp_path_factory.mktemp("eight")
    assert main(["data", "demo", "--out", str(root / "demo8"), "--classes", "8",
                 "--per-class", "6", "--size", "48x40"]) == 0
    assert main(["data", "demo", "--out", str(root / "other8"), "--classes", "8",
                 "--per-class", "2", "--size", "48x40", "--seed", "5"]) == 0
    common = dict(data_dir=str(root / "demo8"), results_dir=str(root / "results"),
                  scheme="mikels8", backbone="Tiny", image_size=32, max_images=None,
                  split_ratios=[0.5, 0.25, 0.25], epochs=2, batch_size=8, modules=1,
                  verbose=0, cache=None, augment=False, deduplicate=True)
    weighted = run_training(make_config("smoke", class_weighting=True, **common))
    balanced = run_training(make_config("smoke", balanced=True, seed=1, **common))
    evaluate_run(weighted, root / "other8", name="other8")
    return root, weighted, balanced


def test_eight_class_runs_record_the_k_class_metrics(eight_class_runs):
    _, weighted, balanced = eight_class_runs
    for run_dir in (weighted, balanced):
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["class_names"] == MIKELS8
        assert np.asarray(metrics["confusion_matrix"]).shape == (8, 8)
        assert set(metrics["per_class"]) == set(MIKELS8)
        assert 0 <= metrics["top2_accuracy"] <= 1 and metrics["top2_accuracy"] >= \
            metrics["test_accuracy"]
        assert metrics["roc_auc_average"] == "macro one-vs-rest"
        assert 0 <= metrics["top2_cross_sentiment"]["share"] <= 1
    other = json.loads((weighted / "metrics.json").read_text())["datasets"]["other8"]
    assert other["n"] == 16 and "top2_cross_sentiment" in other and "top2_accuracy" in other
    # calibration on the evaluation dataset, against its predictions in plain numpy
    rows = pd.read_csv(weighted / "predictions.csv").query("dataset == 'other8'")
    probabilities = rows[[f"prob_{name}" for name in MIKELS8]].to_numpy()
    labels = rows["label_index"].to_numpy()
    assert other["brier_score"] == pytest.approx(
        np.mean(np.sum((probabilities - np.eye(8)[labels]) ** 2, axis=1)), abs=1e-6)
    assert other["nll"] == pytest.approx(
        -np.mean(np.log(probabilities[np.arange(len(labels)), labels])), abs=1e-6)
    assert other["ece_bins"] == 15 and set(other["calibrated"]) == {
        "expected_calibration_error", "ece_bins", "brier_score", "nll"}


def test_balanced_sampling_and_class_weights_train_eight_classes(eight_class_runs):
    _, weighted, balanced = eight_class_runs
    for run_dir, field in ((weighted, "class_weighting"), (balanced, "balanced")):
        config = json.loads((run_dir / "config.json").read_text())["config"]
        assert config[field] is True
    # Balanced sampling: every epoch has 8 classes x the largest class (3 training images),
    # 24 examples in batches of 8.
    steps = pd.read_csv(balanced / "history.csv")["optimizer_step"].tolist()
    assert steps == [3, 6]


def test_every_figure_draws_eight_classes(eight_class_runs, tmp_path):
    root, weighted, _ = eight_class_runs
    runs = results.collect_runs(root / "results", warn=False)
    own = runs[runs["dataset"] == "test"]
    assert {"top2_accuracy", "top2_cross_sentiment_share", "f1_sadness"} <= set(runs.columns)
    order = records.network_order(own)
    matrix, class_names = records.load_confusion(weighted)
    scores = records.load_scores(own, root / "results")
    figures = {
        "confusion": fg.plot_confusion_matrix(matrix, class_names),
        "per_class_f1": fg.plot_per_class_metric(own, class_names=class_names, order=order),
        "roc_pr": fg.plot_roc_pr_curves(scores, order=order, average="macro"),
        "roc_pr_by_class": fg.plot_roc_pr_by_class(scores, network_name=order[0]),
        "accuracy": fg.plot_accuracy_by_variant(own, order=order),
        "curves": fg.plot_learning_curves(records.load_histories(own, root / "results"),
                                          order=order),
        "cross_dataset": fg.plot_cross_dataset(
            runs.replace({"dataset": {"test": "test split"}}), network_order=order),
    }
    model = keras.saving.load_model(weighted / "model.keras", compile=False)
    run_scores = scores[scores["run_id"] == weighted.name]
    examples = records.pick_examples(run_scores, per_class=1)
    assert sorted(examples["class_name"]) == sorted(
        set(MIKELS8) & set(run_scores["label_index"].map(dict(enumerate(MIKELS8)))))
    images = records.load_examples(examples["path"], 32)
    figures["grad_cam"] = fg.plot_grad_cam(images, fg.grad_cam(model, images),
                                           records.example_titles(examples, class_names))
    for name, figure in figures.items():
        written = fg.save_figure(figure, name, tmp_path)
        assert all(path.stat().st_size > 0 for path in written.values()), name

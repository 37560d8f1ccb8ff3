"""Reading run folders (as the training code writes them) into the figures' tables."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from thesis_lib.analysis.results import collect_runs
from thesis_lib.errors import DataError
from thesis_lib.figures.run_tables import (
    load_confusion,
    load_examples,
    load_histories,
    load_scores,
    network_order,
    pick_examples,
    with_network_names,
)

CLASSES = ["not_sadness", "sadness"]


def write_run(runs_dir, run_id, variant, modules, seed, labels, sad_probability):
    folder = runs_dir / run_id
    folder.mkdir(parents=True)
    config = {"variant": variant, "modules": modules, "seed": seed,
              "backbone": "EfficientNetV2B0"}
    (folder / "config.json").write_text(json.dumps({"run_id": run_id, "config": config}))
    (folder / "status.json").write_text(json.dumps({"state": "finished"}))
    predicted = (sad_probability > 0.5).astype(int)
    matrix = [[int(np.sum((labels == t) & (predicted == p))) for p in (0, 1)] for t in (0, 1)]
    metrics = {"test_accuracy": float(np.mean(predicted == labels)),
               "confusion_matrix": matrix, "class_names": CLASSES}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    pd.DataFrame({"epoch": [0, 1], "loss": [0.7, 0.5], "accuracy": [0.5, 0.7],
                  "val_loss": [0.8, 0.6], "val_accuracy": [0.5, 0.6]}).to_csv(
        folder / "history.csv", index=False)
    pd.DataFrame({"dataset": "test", "split": "test",
                  "path": [f"/images/{index:02d}.png" for index in range(len(labels))],
                  "label_index": labels, "prob_not_sadness": 1 - sad_probability,
                  "prob_sadness": sad_probability}).to_csv(folder / "predictions.csv",
                                                           index=False)
    return matrix


@pytest.fixture
def results_dir(tmp_path):
    labels = np.array([0, 0, 1, 1, 1, 0])
    for variant, modules in (("gram", 2), ("baseline", 0)):
        for seed in (0, 1):
            probability = np.clip(labels * 0.6 + 0.2 + 0.05 * seed, 0, 1)
            write_run(tmp_path / "runs", f"{variant}{modules}-s{seed}", variant, modules, seed,
                      labels, probability)
    return tmp_path


def test_histories_and_scores_carry_run_and_network(results_dir):
    runs = collect_runs(results_dir)
    assert network_order(runs) == ["baseline EfficientNetV2B0", "B0 + 2 Gram modules"]
    histories = load_histories(runs, results_dir)
    assert len(histories) == 4 * 2
    assert set(histories["network"]) == {"baseline EfficientNetV2B0", "B0 + 2 Gram modules"}
    assert list(histories.loc[histories.run_id == "gram2-s1", "val_accuracy"]) == [0.5, 0.6]
    scores = load_scores(runs, results_dir)
    first = scores[scores.run_id == "baseline0-s0"]
    assert list(first["label_index"]) == [0, 0, 1, 1, 1, 0]
    np.testing.assert_allclose(first["score"], [0.2, 0.2, 0.8, 0.8, 0.8, 0.2])


def test_confusion_matrix_comes_from_metrics_json(results_dir):
    matrix, names = load_confusion(results_dir / "runs" / "gram2-s0")
    assert names == CLASSES
    np.testing.assert_array_equal(matrix, [[3, 0], [0, 3]])
    with pytest.raises(DataError, match="no confusion matrix for dataset 'Emotion-6'"):
        load_confusion(results_dir / "runs" / "gram2-s0", "Emotion-6")


def test_missing_history_is_named(results_dir):
    runs = collect_runs(results_dir)
    (results_dir / "runs" / "gram2-s0" / "history.csv").unlink()
    with pytest.raises(DataError, match="gram2-s0/history.csv"):
        load_histories(runs, results_dir)


def test_examples_are_the_most_confident_images_of_each_class():
    scores = pd.DataFrame({"path": ["a", "b", "c", "d", "e"], "label_index": [1, 1, 0, 0, 1],
                           "score": [0.9, 0.95, 0.3, 0.1, 0.4]})
    picked = pick_examples(scores, per_class=2)
    assert list(picked["path"]) == ["b", "a", "d", "c"]
    np.testing.assert_allclose(picked["confidence"], [0.95, 0.9, 0.9, 0.7])
    # A class with too few correct images is filled with its misclassified ones.
    assert list(pick_examples(scores, per_class=3)["path"]) == ["b", "a", "e", "d", "c"]


def test_example_images_are_loaded_at_the_network_size(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (40, 20), (200, 10, 10)).save(path)
    images = load_examples([path], image_size=16)
    assert images.shape == (1, 16, 16, 3) and images.dtype == np.float32
    np.testing.assert_allclose(images[0, 8, 8], [200, 10, 10])


def test_network_names_follow_the_thesis_table():
    runs = pd.DataFrame({"variant": ["gram", "baseline"], "modules": [4, 0],
                         "backbone": ["EfficientNetV2B2"] * 2})
    assert list(with_network_names(runs)["network"]) == ["B2 + 4 Gram modules",
                                                         "baseline EfficientNetV2B2"]

"""compute_metrics against values worked out by hand."""

import numpy as np
import pytest

from thesis_lib.train.evaluate import compute_metrics, predictions_frame


def test_binary_metrics_match_hand_computation():
    # true: 0 0 0 1 1 ; predicted (argmax): 0 1 0 1 0
    labels = np.array([0, 0, 0, 1, 1])
    p1 = np.array([0.2, 0.7, 0.1, 0.9, 0.4])
    result = compute_metrics(labels, np.stack([1 - p1, p1], axis=1), ["not_sadness", "sadness"])
    assert result["accuracy"] == pytest.approx(3 / 5)
    # recall class 0 = 2/3, class 1 = 1/2 -> balanced = 7/12
    assert result["balanced_accuracy"] == pytest.approx(7 / 12)
    # precision class 0 = 2/3, class 1 = 1/2; f1_0 = 2/3, f1_1 = 1/2
    assert result["per_class"]["not_sadness"]["precision"] == pytest.approx(2 / 3)
    assert result["per_class"]["sadness"]["recall"] == pytest.approx(1 / 2)
    assert result["macro_f1"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert result["confusion_matrix"] == [[2, 1], [1, 1]]
    # AUC: positive scores {0.9, 0.4} vs negatives {0.2, 0.7, 0.1}: 5 of 6 pairs ordered
    assert result["roc_auc"] == pytest.approx(5 / 6)
    assert result["n"] == 5


def test_multiclass_has_no_auc_and_counts_every_class():
    labels = np.array([0, 1, 2, 2])
    probs = np.eye(3)[[0, 2, 2, 1]]
    result = compute_metrics(labels, probs, ["a", "b", "c"])
    assert "roc_auc" not in result
    assert result["confusion_matrix"] == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert result["per_class"]["b"]["precision"] == 0.0  # no division warning, just 0


def test_single_class_labels_give_no_auc():
    result = compute_metrics(np.array([1, 1]), np.array([[0.3, 0.7], [0.6, 0.4]]), ["n", "s"])
    assert result["roc_auc"] is None and result["accuracy"] == 0.5


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match="shape"):
        compute_metrics(np.array([0, 1]), np.ones((3, 2)) / 2, ["n", "s"])


def test_predictions_frame_keeps_row_order_and_names_probabilities():
    import pandas as pd

    frame = pd.DataFrame({"path": ["/a.jpg", "/b.jpg"], "label_index": [1, 0]})
    table = predictions_frame(frame, np.array([[0.1, 0.9], [0.8, 0.2]]), ["n", "s"],
                              dataset="test", split="test")
    assert list(table.columns) == ["dataset", "split", "path", "label_index", "predicted_index",
                                   "prob_n", "prob_s"]
    assert table["predicted_index"].tolist() == [1, 0]

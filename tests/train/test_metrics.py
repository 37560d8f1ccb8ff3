"""compute_metrics against values worked out by hand."""

import numpy as np
import pytest

from thesis_lib.training.evaluate import compute_metrics, predictions_frame


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


MIKELS8 = ["amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear",
           "sadness"]


def test_eight_classes_get_top2_accuracy_macro_auc_and_cross_sentiment_like_sklearn():
    from sklearn import metrics as skm

    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(8), 6)
    logits = rng.normal(size=(48, 8)) + 2.0 * np.eye(8)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    result = compute_metrics(labels, probs, MIKELS8, scheme="mikels8")
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(labels, probs.argmax(1)))
    assert result["top2_accuracy"] == pytest.approx(skm.top_k_accuracy_score(labels, probs, k=2))
    assert result["roc_auc"] == pytest.approx(
        skm.roc_auc_score(labels, probs, multi_class="ovr", average="macro"))
    assert result["roc_auc_average"] == "macro one-vs-rest"
    assert result["macro_f1"] == pytest.approx(
        skm.f1_score(labels, probs.argmax(1), average="macro"))
    assert len(result["confusion_matrix"]) == 8 and set(result["per_class"]) == set(MIKELS8)
    positive = set(MIKELS8[:4])
    top_two = np.argsort(-probs, axis=1)[:, :2]
    opposite = [(MIKELS8[a] in positive) != (MIKELS8[b] in positive) for a, b in top_two]
    cross = result["top2_cross_sentiment"]
    assert cross["share"] == pytest.approx(np.mean(opposite)) and cross["n_counted"] == 48
    assert cross["ci_low"] <= cross["share"] <= cross["ci_high"]


def test_an_evaluation_set_missing_a_class_averages_the_present_ones():
    from sklearn import metrics as skm

    labels = np.array([0, 0, 1, 1, 1])  # class 2 never occurs
    probs = np.array([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3], [0.1, 0.8, 0.1],
                      [0.5, 0.4, 0.1]])
    result = compute_metrics(labels, probs, ["a", "b", "c"])
    expected = np.mean([skm.roc_auc_score(labels == c, probs[:, c]) for c in (0, 1)])
    assert result["roc_auc"] == pytest.approx(expected) and result["roc_auc_classes"] == 2
    assert "top2_cross_sentiment" not in result  # a, b, c have no documented sentiment
    assert result["per_class"]["c"]["support"] == 0


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

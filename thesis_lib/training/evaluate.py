"""Metrics and predictions of a trained model, on its test split and on other datasets.

``compute_metrics`` turns true labels and predicted probabilities into the numbers of
``metrics.json``; ``evaluate_run`` evaluates a finished run, unchanged, on a further dataset
(e.g. UnbiasedEmo or Emotion-6 for the cross-dataset table) and merges the result into the
run's record under the dataset's name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from thesis_lib import files, paths
from thesis_lib.analysis import calibration, sentiment
from thesis_lib.data import prepare_dataset
from thesis_lib.errors import ConfigError, DataError, ThesisError
from thesis_lib.training import records


def compute_metrics(
    label_indices: np.ndarray, probabilities: np.ndarray, class_names: list[str], *,
    scheme: str | None = None,
) -> dict[str, Any]:
    """Accuracy, the majority rate, balanced accuracy, macro F1, per-class scores, ROC AUC,
    confusion matrix, the calibration metrics (ECE with its bin count, Brier score, NLL); for
    more than two classes also the top-2 accuracy and the top-2 cross-sentiment share.

    Args:
        label_indices: true class index per image, shape (N,).
        probabilities: predicted class probabilities, shape (N, num_classes).
        class_names: the names of the classes, in index order.
        scheme: the label scheme (for the classes' sentiments).

    Returns:
        A JSON-ready dict. ``majority_rate`` is the share of the most frequent class in the
        labels: the accuracy of always answering that class, which an accuracy must exceed to
        mean anything (Emotion-6 as sad vs not sad: 83.3 %); balanced accuracy (the mean recall
        over the classes present) is not fooled by it. ``roc_auc`` is, for two classes, the
        AUC of the probability of class 1, and for more the macro average of the one-vs-rest
        AUCs of the classes present in the labels (``roc_auc_average`` says which); ``None``
        when the labels hold a single class. ``top2_accuracy`` (K > 2): the true class is
        among the two most probable. ``expected_calibration_error``, ``ece_bins``,
        ``brier_score``, ``nll``: :func:`thesis_lib.analysis.calibration.calibration_metrics`.
        ``top2_cross_sentiment`` (K > 2, classes with a known sentiment, e.g. Mikels-8): the
        label-free share of images whose two most probable classes have opposite sentiments,
        with its Wilson CI and its chance level (``thesis_lib.analysis.sentiment``).
    """
    from sklearn import metrics as skm

    y_true = np.asarray(label_indices, dtype=int)
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim != 2 or probabilities.shape != (len(y_true), len(class_names)):
        raise ValueError(
            f"probabilities must have shape ({len(y_true)}, {len(class_names)}), "
            f"got {probabilities.shape}"
        )
    y_pred = probabilities.argmax(axis=1)
    labels = list(range(len(class_names)))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    result: dict[str, Any] = {
        "n": len(y_true),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "majority_rate": majority_rate(y_true),
        "balanced_accuracy": _balanced_accuracy(y_true, y_pred),
        "macro_f1": float(skm.f1_score(y_true, y_pred, labels=labels, average="macro",
                                       zero_division=0)),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]),
                   "f1": float(f1[i]), "support": int(support[i])}
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "class_names": list(class_names),
    }
    result.update(_roc_auc(y_true, probabilities))
    result.update(calibration.calibration_metrics(y_true, probabilities))
    if len(class_names) > 2:
        top_two = np.argsort(-probabilities, axis=1, kind="stable")[:, :2]
        result["top2_accuracy"] = float(np.mean((top_two == y_true[:, None]).any(axis=1)))
        cross = top2_cross_sentiment(probabilities, class_names, scheme=scheme)
        if cross is not None:
            result["top2_cross_sentiment"] = cross
    return result


def _roc_auc(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Binary: the AUC of class 1. K classes: the mean of the one-vs-rest AUCs over the classes
    present (sklearn's macro one-vs-rest AUC when all are; an evaluation set may lack some)."""
    from sklearn import metrics as skm

    present = np.unique(y_true)
    if len(present) < 2:
        return {"roc_auc": None}
    if probabilities.shape[1] == 2:
        return {"roc_auc": float(skm.roc_auc_score(y_true, probabilities[:, 1]))}
    aucs = [skm.roc_auc_score(y_true == index, probabilities[:, index]) for index in present]
    return {"roc_auc": float(np.mean(aucs)), "roc_auc_average": "macro one-vs-rest",
            "roc_auc_classes": int(len(present))}


def majority_rate(label_indices: np.ndarray) -> float | None:
    """The share of the most frequent class among the labels (``None`` without labels).

    Args:
        label_indices: The true class index per image.
    """
    labels = np.asarray(label_indices, dtype=int).ravel()
    if labels.size == 0:
        return None
    return float(np.bincount(labels).max() / labels.size)


TOP2_RECORD_KEYS = ("share", "n_cross", "n_counted", "coverage", "ci_low", "ci_high",
                    "coverage_ci_low", "coverage_ci_high", "confidence_level", "ci_method",
                    "chance_share")


def top2_cross_sentiment(probabilities: np.ndarray, class_names: list[str], *,
                         scheme: str | None = None) -> dict[str, Any] | None:
    """The top-2 cross-sentiment share with its coverage, their Wilson CIs and the share's
    chance level, or ``None`` when the classes have no documented sentiments."""

    try:
        result = sentiment.cross_sentiment_share(probabilities, class_names, scheme=scheme)
    except ConfigError:
        return None
    return {key: value for key, value in result.as_dict().items() if key in TOP2_RECORD_KEYS}


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true`` (an evaluation set may lack one)."""
    import warnings

    from sklearn import metrics as skm

    if len(y_true) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return float(skm.balanced_accuracy_score(y_true, y_pred))


def metrics_record(split_metrics: dict[str, Any], best_epoch: int | None) -> dict[str, Any]:
    """The layout of ``metrics.json``: test-split numbers at the top level."""
    named = {("test_accuracy" if k == "accuracy" else "n_test" if k == "n" else k): v
             for k, v in split_metrics.items()}
    return {**named, "best_epoch": best_epoch, "datasets": {}}


def calibration_record(
    model: Any, val_frame: pd.DataFrame, config: dict[str, Any], class_names: list[str],
    test_labels: np.ndarray, test_probabilities: np.ndarray,
) -> dict[str, Any]:
    """``temperature_scaling`` (fitted on the validation split) and ``calibrated`` (the test
    split's calibration metrics after it), the fields a run adds to ``metrics.json``.

    Args:
        model: the run's best network.
        val_frame: the validation split (path, label_index...).
        config: the run's configuration (image size, batch size, resize).
        class_names: the classes, in output order.
        test_labels, test_probabilities: the test split's labels and probabilities.
    """
    val_probabilities = predict(model, val_frame, num_classes=len(class_names),
                                image_size=config["image_size"],
                                batch_size=config["batch_size"], resize=config["resize"])
    scaling = calibration.temperature_record(val_frame["label_index"].to_numpy(),
                                             val_probabilities)
    return {"temperature_scaling": scaling,
            "calibrated": calibration.calibrated_metrics(test_labels, test_probabilities,
                                                         scaling["temperature"])}


def predictions_frame(
    frame: pd.DataFrame, probabilities: np.ndarray, class_names: list[str], *,
    dataset: str, split: str,
) -> pd.DataFrame:
    """Per image: dataset, split, path, label_index, predicted index, prob_<class>..."""
    table = pd.DataFrame({
        "dataset": dataset,
        "split": split,
        "path": frame["path"].to_numpy(),
        "label_index": frame["label_index"].to_numpy().astype(int),
        "predicted_index": np.asarray(probabilities).argmax(axis=1),
    })
    for index, name in enumerate(class_names):
        table[f"prob_{name}"] = np.asarray(probabilities)[:, index].astype(float)
    return table


def predict(model: Any, frame: pd.DataFrame, *, num_classes: int, image_size: int,
            batch_size: int, resize: str = "squash") -> np.ndarray:
    """Class probabilities for the images of ``frame``, in the order of its rows."""
    from thesis_lib.data.pipeline import make_dataset

    if len(frame) == 0:
        return np.zeros((0, num_classes), dtype=np.float32)
    dataset = make_dataset(
        frame["path"].tolist(), frame["label_index"].to_numpy(), num_classes=num_classes,
        image_size=image_size, batch_size=batch_size, training=False, augment=False,
        resize=resize, seed=0, deterministic=True, decoders=decoders_of(frame),
    )
    return np.asarray(model.predict(dataset.map(lambda images, labels: images), verbose=0),
                      dtype=np.float32)


def decoders_of(frame: pd.DataFrame) -> list[str] | None:
    """The scanner's choice of decoder per image, when the frame has it."""
    return frame["decoder"].tolist() if "decoder" in frame.columns else None


def evaluate_run(
    run_dir: str | os.PathLike,
    source: str | os.PathLike,
    *,
    name: str,
    adapter: str = "auto",
    scheme: str | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Evaluate a finished run's best model on all images of another dataset.

    The metrics are merged into ``metrics.json`` under ``datasets.<name>`` and the predictions
    appended to ``predictions.csv`` with ``dataset = name`` (an earlier evaluation under the
    same name is replaced, nothing else is touched).

    Args:
        run_dir: a finished run folder (holding ``model.keras``).
        source: the dataset folder or manifest.
        name: the dataset's name in the record, e.g. ``unbiasedemo``.
        adapter: dataset layout adapter, ``auto`` detects it.
        scheme: label scheme; default the run's own, so the classes match.
        batch_size: default the run's batch size.

    Returns:
        The dataset's metrics.
    """
    from thesis_lib.models import load_model

    run_dir = paths.resolve(run_dir)
    status = records.read_status(run_dir) or {}
    if status.get("state") != "finished" or not (run_dir / "model.keras").is_file():
        raise ThesisError(f"{run_dir} is not a finished run (no model.keras / status finished)")
    config = files.read_json(run_dir / "config.json")["config"]
    class_names = files.read_json(run_dir / "metrics.json")["class_names"]
    model = load_model(run_dir / "model.keras")
    return evaluate_dataset(run_dir, model, config, class_names, name, source, adapter=adapter,
                            scheme=scheme, batch_size=batch_size)


def evaluate_dataset(
    run_dir: Path, model: Any, config: dict[str, Any], class_names: list[str], name: str,
    source: str | os.PathLike, *, adapter: str = "auto", scheme: str | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` (of the run in ``run_dir``) on all images of ``source``."""

    if name in ("test", "val", "train"):
        raise ThesisError(f"dataset name {name!r} is reserved for the run's own splits")
    source = paths.resolve(source)
    if not source.exists():
        raise DataError(f"evaluation dataset {name!r} not found: {source}")
    prepared = prepare_dataset(source, scheme=scheme or config["scheme"], ratios=(1.0, 0.0, 0.0),
                               seed=0, adapter=adapter, min_side=config["min_side"])
    if list(prepared.class_names) != list(class_names):
        raise DataError(
            f"dataset {name!r} ({source}) has classes {prepared.class_names}, "
            f"the run was trained on {class_names}"
        )
    frame = pd.concat([prepared.frames[s] for s in ("train", "val", "test")], ignore_index=True)
    if len(frame) == 0:
        raise DataError(f"dataset {name!r} ({source}) has no usable images")
    probabilities = predict(model, frame, num_classes=len(class_names),
                            image_size=config["image_size"],
                            batch_size=batch_size or config["batch_size"],
                            resize=config["resize"])
    result = compute_metrics(frame["label_index"].to_numpy(), probabilities, class_names,
                             scheme=scheme or config["scheme"])
    result["source"] = str(source)
    temperature = calibration.recorded_temperature(files.read_json(run_dir / "metrics.json"))
    if temperature is not None:
        result["calibrated"] = calibration.calibrated_metrics(
            frame["label_index"].to_numpy(), probabilities, temperature)
    add_to_record(run_dir, name, result,
                  predictions_frame(frame, probabilities, class_names, dataset=name, split="all"))
    return result


def add_to_record(run_dir: Path, name: str, result: dict[str, Any],
                  predictions: pd.DataFrame) -> None:
    """Merge one dataset's metrics and predictions into the run record (atomically)."""
    metrics_path = run_dir / "metrics.json"
    metrics = files.read_json(metrics_path)
    metrics.setdefault("datasets", {})[name] = result
    predictions_path = run_dir / "predictions.csv"
    if predictions_path.is_file():
        existing = pd.read_csv(predictions_path)
        existing = existing[existing["dataset"] != name]
        predictions = pd.concat([existing, predictions], ignore_index=True)
    files.write_csv(predictions_path, predictions)
    files.write_json(metrics_path, metrics)


def learning_check(run_dir: str | os.PathLike, *, training_accuracy: float = 0.7
                   ) -> dict[str, Any]:
    """Whether a finished run learned: its last epoch's training accuracy reached
    ``training_accuracy``, and its test accuracy beats always answering the test split's most
    frequent class. Coarse on purpose: the answer is the same on every machine for a run that
    learns, and turns False when learning breaks (a learning rate of 0, labels shuffled...),
    which is what the notebooks' regression test compares.
    """
    run_dir = Path(run_dir)
    history = pd.read_csv(run_dir / "history.csv")
    metrics = files.read_json(run_dir / "metrics.json")
    support = [values["support"] for values in metrics["per_class"].values()]
    majority = max(support) / max(sum(support), 1)
    return {
        "training_accuracy": float(history["accuracy"].iloc[-1]),
        "trained": bool(history["accuracy"].iloc[-1] >= training_accuracy),
        "training_threshold": training_accuracy,
        "majority_rate": majority,
        "above_chance": bool(metrics["test_accuracy"] > majority),
    }

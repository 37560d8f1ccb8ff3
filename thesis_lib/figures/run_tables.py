"""From run records to the tidy tables the figure functions take (beyond ``collect_runs``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from thesis_lib import files
from thesis_lib.analysis import results, sentiment
from thesis_lib.data.images import load_image
from thesis_lib.errors import DataError
from thesis_lib.figures import checks
from thesis_lib.figures.checks import require_columns


def with_network_names(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with a ``network`` column (the readable name of each run's setting)."""
    require_columns(runs, ["variant"], "runs table")
    if "network" in runs:
        return runs
    return results.with_settings(runs)


def network_order(runs: pd.DataFrame) -> list[str]:
    """Network names in table order: baseline, Gram models by module count, GramNet, others."""
    return list(dict.fromkeys(results.sort_networks(with_network_names(runs))["network"]))


def _run_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run (the run's own test-split row), with network names."""
    require_columns(runs, ["run_id", "variant"], "runs table")
    named = runs if "network" in runs else with_network_names(runs)
    if "dataset" in named:
        named = named[named["dataset"] == results.OWN_TEST_SPLIT]
    return named.drop_duplicates("run_id")


def load_histories(runs: pd.DataFrame, results_dir: str | os.PathLike) -> pd.DataFrame:
    """Every run's ``history.csv`` stacked, with ``run_id``, ``network`` and ``seed``.

    Raises:
        DataError: a run has no ``history.csv``.
    """
    folder = results.runs_folder(results_dir)
    frames = []
    for run in _run_rows(runs).itertuples(index=False):
        path = folder / run.run_id / "history.csv"
        if not path.is_file():
            raise DataError(f"{path}: finished run has no history.csv")
        frames.append(pd.read_csv(path).assign(run_id=run.run_id, network=run.network,
                                               seed=getattr(run, "seed", None)))
    return pd.concat(frames, ignore_index=True)


def load_scores(
    runs: pd.DataFrame,
    results_dir: str | os.PathLike,
    *,
    dataset: str = results.OWN_TEST_SPLIT,
    positive_index: int | None = None,
) -> pd.DataFrame:
    """Per run and image: ``run_id``, ``network``, ``path``, ``label_index``,
    ``predicted_index``, the ``prob_<class>`` columns of ``predictions.csv`` and ``score``
    (the positive class's probability, for ROC/PR curves).

    Args:
        runs: the table of ``collect_runs``.
        results_dir: the results folder holding ``runs/``.
        dataset: which evaluation set's predictions (``"test"``: the run's own test split).
        positive_index: class whose probability is ``score``; default 1 ("sadness" in the
            binary scheme) for two classes and no ``score`` for more.

    Raises:
        DataError: a run has no such class, or the runs were trained on different classes.
    """
    folder = results.runs_folder(results_dir)
    frames, classes_seen = [], None
    for run in _run_rows(runs).itertuples(index=False):
        path = folder / run.run_id / "predictions.csv"
        predictions = results.load_predictions(folder / run.run_id)
        predictions = predictions[predictions["dataset"] == dataset]
        probability_columns = sentiment.probability_columns(predictions)
        if classes_seen is None:
            classes_seen = probability_columns
        elif probability_columns != classes_seen:
            raise DataError(
                f"{path}: classes {probability_columns} differ from the other runs' "
                f"{classes_seen}; load the scores of runs of one label scheme"
            )
        frame = (predictions[["path", "label_index", "predicted_index", *probability_columns]]
                 .astype(dict.fromkeys(probability_columns, float)).reset_index(drop=True))
        frame.insert(0, "network", run.network)
        frame.insert(0, "run_id", run.run_id)
        index = positive_index if positive_index is not None else (
            1 if len(probability_columns) == 2 else None)
        if index is not None:
            if not 0 <= index < len(probability_columns):
                raise DataError(f"{path}: no class {index} among {probability_columns}")
            frame["score"] = frame[probability_columns[index]]
        frames.append(frame)
    if not frames:
        raise DataError("load_scores: the runs table has no finished runs")
    return pd.concat(frames, ignore_index=True)


def load_confusion(
    run_dir: str | os.PathLike, dataset: str = results.OWN_TEST_SPLIT
) -> tuple[np.ndarray, list[str]]:
    """The confusion matrix (rows: true classes) and class names of one run's ``metrics.json``."""
    path = Path(run_dir) / "metrics.json"
    metrics = files.read_json(path, kind=dict)
    own = dataset == results.OWN_TEST_SPLIT
    section = metrics if own else metrics.get("datasets", {}).get(dataset, {})
    if "confusion_matrix" not in section:
        raise DataError(f"{path}: no confusion matrix for dataset {dataset!r}")
    class_names = section.get("class_names") or metrics.get("class_names")
    if not class_names:
        raise DataError(f"{path}: no class_names")
    return np.asarray(section["confusion_matrix"], dtype=int), list(class_names)


def _true_class_probability(scores: pd.DataFrame) -> np.ndarray:
    """Probability each image gets for its true class (``prob_<class>`` or binary ``score``)."""
    columns = sentiment.probability_columns(scores)
    labels = scores["label_index"].to_numpy(dtype=int)
    if columns:
        probabilities = scores[columns].to_numpy(dtype=float)
        if labels.min() < 0 or labels.max() >= len(columns):
            raise DataError(f"scores of one run: label_index outside 0..{len(columns) - 1}")
        return probabilities[np.arange(len(scores)), labels]
    if "score" not in scores.columns:
        raise DataError("scores of one run: need prob_<class> columns or a binary 'score'")
    if not np.isin(labels, (0, 1)).all():
        raise DataError("scores of one run: a 'score' column is binary; label_index must be 0/1")
    return np.where(labels == 1, scores["score"], 1 - scores["score"])


def pick_examples(
    scores: pd.DataFrame,
    *,
    per_class: int = 2,
    classes: Sequence[str | int] | None = None,
) -> pd.DataFrame:
    """The images of each class that one run gives the highest probability of their true class.

    A class the run never gets right still gets its (misclassified) images. Ties are broken by
    path, for the same picks on every machine.

    Args:
        scores: one run's rows of :func:`load_scores` (``path``, ``label_index`` and the
            ``prob_<class>`` columns, or a binary ``score``).
        per_class: images per class.
        classes: the classes to show (names or indices), in the order of the rows; default
            the positive class then the other for two classes (1, 0), every class in index
            order for more.

    Returns:
        The picked rows, class by class, with ``confidence`` (the probability of the true
        class) and ``class_name`` (when the table has ``prob_<class>`` columns).
    """
    require_columns(scores, ["path", "label_index"], "scores of one run")
    if "run_id" in scores.columns and scores["run_id"].nunique() > 1:
        raise DataError(
            f"scores of one run: the table holds {scores['run_id'].nunique()} runs; pass one "
            "run's rows (scores[scores.run_id == ...])"
        )
    names = sentiment.class_names_of(scores)
    count = len(names) if names else 2
    if classes is None:
        chosen = [1, 0] if count == 2 else list(range(count))
    else:
        chosen = checks.class_indices(classes, names or ["0", "1"])
    rated = scores.assign(confidence=_true_class_probability(scores))
    if names:
        rated["class_name"] = [names[label] for label in rated["label_index"].astype(int)]
    picked = [
        rated[rated["label_index"] == label]
        .sort_values(["confidence", "path"], ascending=[False, True])
        .head(per_class)
        for label in chosen
    ]
    return pd.concat(picked, ignore_index=True)


def example_titles(examples: pd.DataFrame, class_names: Sequence[str]) -> list[str]:
    """Panel titles of picked examples: ``"sadness, p = 0.91"``, or with the predicted class
    (which Grad-CAM explains) when the run got it wrong: ``"fear, p = 0.20\n(predicted: sadness)"``.
    """
    require_columns(examples, ["label_index", "confidence"], "examples")
    readable = [str(name).replace("_", " ") for name in class_names]
    predicted = (examples["predicted_index"] if "predicted_index" in examples.columns
                 else examples["label_index"])
    titles = []
    for label, guess, confidence in zip(examples["label_index"], predicted,
                                        examples["confidence"], strict=True):
        title = f"{readable[int(label)]}, p = {confidence:.2f}"
        if int(guess) != int(label):
            title += f"\n(predicted: {readable[int(guess)]})"
        titles.append(title)
    return titles


def load_examples(paths, image_size: int) -> np.ndarray:
    """Images as the networks see them: RGB, squashed to ``image_size`` square, float32 0..255."""
    resized = [
        np.asarray(
            Image.fromarray(load_image(path)).resize((image_size, image_size), Image.BILINEAR)
        )
        for path in paths
    ]
    return np.stack(resized).astype("float32")

"""From run records to the tidy tables the figure functions take.

``thesis_lib.results.collect_runs`` gives one row per finished run and evaluation dataset; the
functions here add what the figures need beyond it: the network's display name, the epochs of
``history.csv``, per-image scores of ``predictions.csv``, the confusion matrix of
``metrics.json``, and example images for Grad-CAM.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from thesis_lib import results
from thesis_lib.errors import DataError
from thesis_lib.figures.checks import require_columns


def with_network_names(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with a ``network`` column: the thesis' name of each run's model."""
    require_columns(runs, ["variant"], "runs table")
    modules = runs["modules"] if "modules" in runs else [None] * len(runs)
    backbones = runs["backbone"] if "backbone" in runs else ["EfficientNetV2B2"] * len(runs)
    names = [
        results.network_name(variant, count, backbone)
        for variant, count, backbone in zip(runs["variant"], modules, backbones, strict=True)
    ]
    return runs.assign(network=names)


def network_order(runs: pd.DataFrame) -> list[str]:
    """Network names in table order: baseline, Gram models by module count, GramNet, others."""
    named = runs if "network" in runs else with_network_names(runs)
    return list(dict.fromkeys(results.sort_networks(named)["network"]))


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
        history = pd.read_csv(path)
        frames.append(
            history.assign(run_id=run.run_id, network=run.network, seed=getattr(run, "seed", None))
        )
    return pd.concat(frames, ignore_index=True)


def load_scores(
    runs: pd.DataFrame,
    results_dir: str | os.PathLike,
    *,
    dataset: str = results.OWN_TEST_SPLIT,
    positive_index: int = 1,
) -> pd.DataFrame:
    """Per run and image: ``label_index`` and ``score``, the probability of the positive class.

    Args:
        runs: the table of ``collect_runs``.
        results_dir: the results folder holding ``runs/``.
        dataset: which evaluation set's predictions (``"test"``: the run's own test split).
        positive_index: index of the positive class (1 = "sadness" in the binary scheme).
    """
    folder = results.runs_folder(results_dir)
    frames = []
    for run in _run_rows(runs).itertuples(index=False):
        predictions = results.load_predictions(folder / run.run_id)
        predictions = predictions[predictions["dataset"] == dataset]
        probability_columns = [c for c in predictions.columns if c.startswith("prob_")]
        if positive_index >= len(probability_columns):
            raise DataError(
                f"{folder / run.run_id / 'predictions.csv'}: no class {positive_index} among "
                f"{probability_columns}"
            )
        frames.append(
            pd.DataFrame(
                {
                    "run_id": run.run_id,
                    "network": run.network,
                    "path": predictions["path"].to_numpy(),
                    "label_index": predictions["label_index"].to_numpy(),
                    "score": predictions[probability_columns[positive_index]].to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def load_confusion(
    run_dir: str | os.PathLike, dataset: str = results.OWN_TEST_SPLIT
) -> tuple[np.ndarray, list[str]]:
    """The confusion matrix (rows: true classes) and class names of one run's ``metrics.json``."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise DataError(f"{path}: no metrics file")
    metrics = json.loads(path.read_text(encoding="utf-8"))
    if dataset == results.OWN_TEST_SPLIT:
        section = metrics
    else:
        section = metrics.get("datasets", {}).get(dataset, {})
    if "confusion_matrix" not in section:
        raise DataError(f"{path}: no confusion matrix for dataset {dataset!r}")
    class_names = section.get("class_names") or metrics.get("class_names")
    if not class_names:
        raise DataError(f"{path}: no class_names")
    return np.asarray(section["confusion_matrix"], dtype=int), list(class_names)


def pick_examples(scores: pd.DataFrame, *, per_class: int = 2) -> pd.DataFrame:
    """The images of each class that one run gives the highest probability of their true class.

    Correctly classified images come first by construction; a class the run never gets right
    still gets its ``per_class`` images (then misclassified ones), so the figures always show
    both classes. Rows are ordered positive class first; ties are broken by path, so the same
    images are picked on every machine.

    Args:
        scores: one run's rows of :func:`load_scores` (``path``, ``label_index``, ``score``).
        per_class: images per class.

    Returns:
        The picked rows with a ``confidence`` column: the probability of the true class.
    """
    require_columns(scores, ["path", "label_index", "score"], "scores of one run")
    confidence = np.where(scores["label_index"] == 1, scores["score"], 1 - scores["score"])
    rated = scores.assign(confidence=confidence)
    picked = [
        rated[rated["label_index"] == label]
        .sort_values(["confidence", "path"], ascending=[False, True])
        .head(per_class)
        for label in (1, 0)
    ]
    return pd.concat(picked, ignore_index=True)


def load_examples(paths, image_size: int) -> np.ndarray:
    """Images as the networks see them: RGB, squashed to ``image_size`` square, float32 0..255."""
    from thesis_lib.data.images import load_image

    resized = [
        np.asarray(
            Image.fromarray(load_image(path)).resize((image_size, image_size), Image.BILINEAR)
        )
        for path in paths
    ]
    return np.stack(resized).astype("float32")

"""Predictions of a finished run's network on new images, labelled or not (``thesis predict``).

Sources are image files, folders (every image at any depth), CSV lists (``path[,label]``) or
datasets in any layout the scanner reads. Every file is checked as a scan checks it; one that
fails is listed with its reason, never passed to the network. Labels are read ("auto") from a
dataset layout, a folder of at least two class folders with no images of its own, or a CSV
with a ``label`` column, and mapped to the run's classes by its label scheme.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from thesis_lib import files, paths
from thesis_lib.analysis import calibration
from thesis_lib.analysis.sentiment import default_sentiment_map, ranked_classes
from thesis_lib.data import adapters, discovery
from thesis_lib.data.labels import LabelScheme, get_scheme
from thesis_lib.data.progress import progress_bar
from thesis_lib.errors import ConfigError, DataError, ThesisError

RUN_FILES = ("config.json", "metrics.json", "model.keras")
STATUS_OK = "ok"
STATUS_SKIPPED = "skipped"


@dataclass
class TrainedRun:
    """A finished run, loaded: the ``TrainConfig`` fields of ``config.json``, the classes in
    output order (``metrics.json``) and the Keras model of ``model.keras``."""

    run_dir: Path
    config: dict[str, Any]
    class_names: list[str]
    model: Any
    # Fitted on the validation split (metrics.json); None in runs recorded before calibration.
    temperature: float | None = None

    @property
    def image_size(self) -> int:
        return int(self.config["image_size"])

    @property
    def scheme(self) -> LabelScheme:
        """The run's label scheme, with the run's own classes."""
        name = str(self.config.get("scheme", "folders"))
        if name == "folders":
            return LabelScheme("folders", list(self.class_names), exact=True)
        scheme = get_scheme(name)
        if scheme.class_names != self.class_names:
            raise DataError(f"{self.run_dir}: scheme '{name}' has classes {scheme.class_names}, "
                            f"the run's metrics.json {self.class_names}")
        return scheme


def load_run(run_dir: str | os.PathLike) -> TrainedRun:
    """Load a finished run folder (``results/runs/<run_id>``); a :class:`ThesisError` names
    what is missing or unfinished."""
    run_dir = _release_run(paths.resolve(run_dir))
    if not run_dir.is_dir():
        raise ThesisError(f"{run_dir}: no such run folder")
    status_path = run_dir / "status.json"
    if not status_path.is_file():
        raise ThesisError(f"{run_dir}: not a run folder (no status.json)")
    state = files.read_json(status_path).get("state")
    if state != "finished":
        raise ThesisError(f"{run_dir}: the run has not finished (state: {state}); finish it "
                          "with `thesis train` first")
    missing = [name for name in RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        raise ThesisError(f"{run_dir}: the finished run lacks {', '.join(missing)}")
    config = files.read_json(run_dir / "config.json")["config"]
    metrics = files.read_json(run_dir / "metrics.json")
    from thesis_lib.models import load_model

    return TrainedRun(run_dir=run_dir, config=config, class_names=list(metrics["class_names"]),
                      model=load_model(run_dir / "model.keras"),
                      temperature=calibration.recorded_temperature(metrics))


def _release_run(folder: Path) -> Path:
    """A release folder (``thesis release``) of one run stands for that run; a release of
    several asks for one of them (``RELEASE/runs/<run_id>``, a run folder like any other)."""
    if not (folder / "release.json").is_file() or not (folder / "runs").is_dir():
        return folder
    runs = sorted(path for path in (folder / "runs").iterdir() if path.is_dir())
    if len(runs) == 1:
        return runs[0]
    shown = ", ".join(f"runs/{path.name}" for path in runs[:3])
    raise ThesisError(f"{folder}: a release of {len(runs)} runs; name one of them, e.g. "
                      f"{folder / 'runs' / runs[0].name} (runs: {shown}"
                      f"{', ...' if len(runs) > 3 else ''})")


def as_run(run: TrainedRun | str | os.PathLike) -> TrainedRun:
    """``run`` itself when loaded already, else :func:`load_run` of the folder."""
    return run if isinstance(run, TrainedRun) else load_run(run)


@dataclass
class ImageSet:
    """Checked images: ``frame`` (per usable image: path, raw_label, label, label_index
    (nullable), decoder, layout, the adapter's columns) and ``skipped`` (path, reason, detail)."""

    frame: pd.DataFrame
    skipped: pd.DataFrame


def is_labelled_source(source: str | os.PathLike, adapter: str = "auto") -> bool:
    """Whether ``source`` is read as a labelled dataset (see the module's docstring)."""
    source = Path(source)
    if adapter != "auto":
        return True
    if source.is_file():
        try:
            layout = adapters.detect_adapter(source)
        except DataError:  # an image file (or anything else the scanner takes for no layout)
            return False
        if layout != "csv":
            return True  # ArtEmis' CSV, a WikiArt Emotions TSV
        try:
            header = pd.read_csv(source, nrows=0)
        except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
            raise DataError(f"{source}: cannot read the CSV ({error})") from error
        return "label" in {str(column).strip().lower() for column in header.columns}
    if not source.is_dir():
        return False
    if adapters.detect_adapter(source) != "folders":
        return True
    subfolders = [entry for entry in source.iterdir()
                  if entry.is_dir() and not discovery.is_hidden(entry.name)]
    return len(subfolders) >= 2 and not adapters.has_loose_images(source)


def collect_images(
    sources: Sequence[str | os.PathLike],
    *,
    scheme: LabelScheme | None = None,
    labelled: bool | None = None,
    adapter: str = "auto",
    min_side: int | None = 32,
    workers: int | None = None,
    cache: bool = True,
    progress: bool | None = None,
) -> ImageSet:
    """Check the images of ``sources`` and attach their labels in ``scheme``.

    Args:
        sources: Image files, folders, CSV lists or datasets.
        scheme: The label scheme the labels are mapped to (None: labels stay raw only).
        labelled: None reads labels where a source has them ("auto"), False never.
        adapter: Force one dataset layout on every source (default: detect).
        min_side, workers, cache, progress: As for the scan.
    """
    if not sources:
        raise ConfigError("no image files, folders or datasets given")
    frames, skipped, plain = [], [], []
    for source in map(Path, sources):
        if not source.exists():
            raise DataError(f"{source}: no such file or folder")
        if labelled is False or not is_labelled_source(source, adapter):
            plain.append(source)
            continue
        scan, layout = adapters.read_dataset(source, adapter=adapter, min_side=min_side,
                                             workers=workers, cache=cache, progress=progress)
        frames.append(scan.manifest.assign(layout=layout))
        skipped.append(scan.skipped)
    if plain:
        scan = adapters.read_images(plain, min_side=min_side, workers=workers, cache=cache,
                                    progress=progress)
        manifest = scan.manifest.assign(layout="images")
        if labelled is False:
            manifest["label"] = ""  # a CSV list's labels too
        frames.append(manifest)
        skipped.append(scan.skipped)
    frame = pd.concat(frames, ignore_index=True).drop_duplicates("path").reset_index(drop=True)
    return ImageSet(frame=_with_labels(frame, scheme),
                    skipped=pd.concat(skipped, ignore_index=True))


def run_images(run: TrainedRun, sources: Sequence[str | os.PathLike], *, min_side: int | None,
               **options: Any) -> ImageSet:
    """:func:`collect_images` in the run's label scheme, ``min_side`` by default the run's."""
    if min_side is None:
        min_side = run.config.get("min_side", 32)
    return collect_images(sources, scheme=run.scheme, min_side=min_side, **options)


def _with_labels(frame: pd.DataFrame, scheme: LabelScheme | None) -> pd.DataFrame:
    frame = frame.copy()
    raw = [None if pd.isna(value) or not str(value).strip() else str(value)
           for value in frame["label"]]
    frame["raw_label"] = pd.Series(raw, index=frame.index, dtype=object)
    # An image without a label stays without one, also in one-vs-rest schemes (which map
    # every label they are given).
    frame["label_index"] = pd.array([None if value is None or scheme is None
                                     else scheme.map_label(value) for value in raw], dtype="Int64")
    frame["label"] = [None if pd.isna(index) else scheme.class_names[index]
                      for index in frame["label_index"]]
    first = ["path", "raw_label", "label", "label_index", "decoder", "layout"]
    return frame[first + [column for column in frame.columns if column not in first]]


def run_network(
    run: TrainedRun,
    frame: pd.DataFrame,
    *,
    network: Any = None,
    batch_size: int | None = None,
    progress: bool | None = None,
) -> list[np.ndarray]:
    """The outputs of ``network`` (default the run's model) on the images of ``frame``, in
    row order, decoded and resized as in training: one float32 array per output."""
    from thesis_lib.data.pipeline import make_dataset

    network = run.model if network is None else network
    outputs = network.outputs
    if len(frame) == 0:
        return [np.zeros((0, *output.shape[1:]), dtype=np.float32) for output in outputs]
    batch_size = int(batch_size or run.config.get("batch_size") or 32)
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    dataset = make_dataset(
        frame["path"].tolist(), np.zeros(len(frame), dtype=int), num_classes=1,
        image_size=run.image_size, batch_size=batch_size, training=False, augment=False,
        resize=run.config.get("resize", "squash"), seed=0, deterministic=True,
        decoders=frame["decoder"].tolist() if "decoder" in frame.columns else None,
    )
    bar = progress_bar(len(frame), "predicting", progress, unit="image")
    batches: list[list[np.ndarray]] = []
    for images, _ in dataset:
        # A plain call, not predict_on_batch: a compiled predict function per model (and per
        # last-batch shape) would be traced anew for every run a notebook looks at.
        result = network(images, training=False)
        result = result if isinstance(result, list | tuple) else [result]
        batches.append([np.asarray(part, dtype=np.float32) for part in result])
        bar.update(len(images))
    bar.close()
    return [np.concatenate(parts) for parts in zip(*batches, strict=True)]


def prediction_table(
    frame: pd.DataFrame,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    *,
    top_k: int = 2,
    sentiment_map: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One "ok" row per image: path, labels, predicted class, confidence, sentiment, top-k,
    probabilities.

    Args:
        frame: The images (``ImageSet.frame``), in the order of ``probabilities`` (N, C).
        top_k: Classes listed per image (``top_1`` ... with their ``_prob``).
        sentiment_map: Class -> sentiment; when given, ``sentiment`` is the predicted class's.
    """
    class_names = list(class_names)
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.shape != (len(frame), len(class_names)):
        raise DataError(f"probabilities have shape {probabilities.shape}; expected "
                        f"({len(frame)}, {len(class_names)})")
    ranked = ranked_classes(probabilities, top_k)
    rows = np.arange(len(frame))
    table = pd.DataFrame({
        "path": frame["path"].to_numpy(),
        "status": STATUS_OK,
        "reason": None,
        "detail": None,
        "raw_label": frame["raw_label"].to_numpy() if "raw_label" in frame else None,
        "label": frame["label"].to_numpy() if "label" in frame else None,
        "predicted": [class_names[index] for index in ranked[:, 0]],
        "confidence": probabilities[rows, ranked[:, 0]],
    })
    if sentiment_map is not None:
        table["sentiment"] = [sentiment_map.get(name) for name in table["predicted"]]
    for rank in range(top_k):
        table[f"top_{rank + 1}"] = [class_names[index] for index in ranked[:, rank]]
        table[f"top_{rank + 1}_prob"] = probabilities[rows, ranked[:, rank]]
    for index, name in enumerate(class_names):
        table[f"prob_{name}"] = probabilities[:, index]
    return table


def sentiment_map_of(run: TrainedRun) -> dict[str, str] | None:
    """The default sentiment map of the run's scheme, or None where it has none."""
    try:
        return default_sentiment_map(run.class_names, scheme=run.config.get("scheme"))
    except ConfigError:
        return None


def predict_images(
    run: TrainedRun | str | os.PathLike,
    sources: Sequence[str | os.PathLike],
    *,
    top_k: int = 2,
    labelled: bool | None = None,
    adapter: str = "auto",
    batch_size: int | None = None,
    min_side: int | None = None,
    cache: bool = True,
    progress: bool | None = None,
    calibrated: bool = False,
) -> pd.DataFrame:
    """Predict every usable image of ``sources`` with a finished run's model: the predicted
    images ("ok", in path order), then the skipped files with their reasons.

    Args:
        run: A run folder or a ``TrainedRun``.
        sources: Image files, folders, CSV lists of paths or datasets.
        top_k: Classes listed per image (at most the number of classes).
        labelled, adapter, cache, progress: As for :func:`collect_images`.
        batch_size, min_side: Default the run's.
        calibrated: Probabilities after the run's temperature scaling (the same predicted
            classes, confidences that match accuracy better); a run recorded without a
            temperature is a :class:`ThesisError`.
    """
    run = as_run(run)
    if calibrated and run.temperature is None:
        raise ThesisError(f"{run.run_dir}: metrics.json has no temperature_scaling (the run was "
                          "recorded before calibration); predict without --calibrated")
    ranked_classes(np.zeros((1, len(run.class_names))), top_k)  # check top_k before any work
    images = run_images(run, sources, labelled=labelled, adapter=adapter, min_side=min_side,
                        cache=cache, progress=progress)
    frame = images.frame.sort_values("path", kind="stable").reset_index(drop=True)
    (probabilities,) = run_network(run, frame, batch_size=batch_size, progress=progress)
    if calibrated:
        probabilities = calibration.scale_temperature(probabilities, run.temperature)
    table = prediction_table(frame, probabilities, run.class_names, top_k=top_k,
                             sentiment_map=sentiment_map_of(run))
    skipped = images.skipped.sort_values("path", kind="stable")[["path", "reason", "detail"]]
    skipped.insert(1, "status", STATUS_SKIPPED)
    return pd.concat([table, skipped.astype({"status": str})], ignore_index=True)


def accuracy_of(table: pd.DataFrame) -> tuple[float, int]:
    """Accuracy of the predicted rows that have a label, and how many rows that is."""
    rows = table[(table["status"] == STATUS_OK) & table["label"].notna()]
    if rows.empty:
        return math.nan, 0
    return float((rows["predicted"] == rows["label"]).mean()), len(rows)

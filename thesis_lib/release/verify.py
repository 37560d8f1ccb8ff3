"""``thesis verify RELEASE --data-dir DIR``: one line per item, a failure on any line.

1. The manifest: every file's SHA-256 (files missing, changed, or not listed).
2. The dataset: every file listed under ``data/`` against the copy in ``DIR`` (missing,
   changed and extra files, by name).
3. The models: each run's ``model.keras`` re-evaluated on its packaged test split reproduces
   the recorded metrics and probabilities: exactly where the run and this check both ran on
   CPU with deterministic ops, else within :data:`TOLERANCE`.
4. Loading anywhere: every model loads with ``safe_mode=True`` in a fresh process that has only
   Keras and the release's layers.
5. The tables of ``summary/`` regenerate from the packaged records byte for byte.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from thesis_lib import files, paths
from thesis_lib.errors import DataError, ThesisError
from thesis_lib.release.build import RELEASE_FILE, hash_folder, read_manifest, sha256_of
from thesis_lib.release.portable import CODE_FOLDER, load_in_fresh_process
from thesis_lib.release.tables import release_tables

# Largest difference allowed where the evaluation cannot be bit-exact (a GPU, another
# machine's kernels): far below what any reported digit shows.
TOLERANCE = 1e-5
# At most this many file names per line; the rest are counted.
NAMES_SHOWN = 5
# Metrics of metrics.json compared after re-evaluation (the numbers at its top level, the
# per-class scores and those after temperature scaling).
SKIPPED_KEYS = ("best_epoch", "datasets", "dataset", "temperature_scaling", "class_names",
                "confusion_matrix", "roc_auc_average")


@dataclass
class Check:
    """One line of the verification."""

    item: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.item}: {self.message}"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")


def verify_release(release: str | os.PathLike, data_dir: str | os.PathLike, *,
                   load_check: bool = True) -> list[Check]:
    """Every check of a release folder, in order.

    Args:
        release: the release folder.
        data_dir: the reader's copy of the dataset (for one dataset) or a folder holding one
            folder per dataset name.
        load_check: also load every model in a fresh process (point 4 above).
    """
    release = paths.resolve(release)
    if not (release / RELEASE_FILE).is_file():
        raise DataError(f"{release}: not a release folder (no {RELEASE_FILE})")
    data_dir = paths.resolve(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"--data-dir {data_dir}: no such folder")
    record = files.read_json(release / RELEASE_FILE, kind=dict)
    checks = [check_manifest(release)]
    checks += [check_dataset(release, name, _dataset_folder(data_dir, name, record))
               for name in record.get("datasets", {})]
    for run in record.get("runs", []):
        checks.append(check_model(release, run["run_id"],
                                  _dataset_folder(data_dir, run.get("dataset"), record)))
    if load_check:
        checks += check_loading(release, [run["run_id"] for run in record.get("runs", [])])
    checks += check_tables(release)
    return checks


def _dataset_folder(data_dir: Path, name: str | None, record: dict[str, Any]) -> Path:
    if len(record.get("datasets", {})) > 1 and name and (data_dir / name).is_dir():
        return data_dir / name
    return data_dir


def check_manifest(release: Path) -> Check:
    """Every file of the release against ``MANIFEST.sha256``."""
    try:
        listed = read_manifest(release)
    except DataError as error:
        return Check("manifest", False, str(error))
    present = {path.relative_to(release).as_posix(): path for path in release.rglob("*")
               if path.is_file() and path.name != "MANIFEST.sha256"}
    missing = sorted(set(listed) - set(present))
    extra = sorted(set(present) - set(listed))
    changed = sorted(name for name in set(listed) & set(present)
                     if sha256_of(present[name]) != listed[name])
    problems = [f"{label} {_names(names)}" for label, names in
                (("missing", missing), ("changed", changed), ("not listed", extra)) if names]
    if problems:
        return Check("manifest", False, "; ".join(problems))
    return Check("manifest", True, f"{len(listed)} files match their SHA-256")


def check_dataset(release: Path, name: str, folder: Path) -> Check:
    """The files of ``folder`` against ``data/<name>/images.csv``."""
    item = f"dataset {name} ({folder})"
    listed = pd.read_csv(release / "data" / name / "images.csv").set_index("relpath")
    found = hash_folder(folder).set_index("relpath")
    missing = sorted(set(listed.index) - set(found.index))
    extra = sorted(set(found.index) - set(listed.index))
    common = sorted(set(listed.index) & set(found.index))
    changed = [path for path in common if listed.at[path, "sha256"] != found.at[path, "sha256"]]
    problems = [f"{label} {_names(names)}" for label, names in
                (("missing", missing), ("changed", changed), ("extra", extra)) if names]
    if problems:
        return Check(item, False, "; ".join(problems))
    return Check(item, True, f"{len(listed)} files, sizes and SHA-256 as released")


def check_model(release: Path, run_id: str, data_dir: Path) -> Check:
    """Re-evaluate one packaged run on its packaged test split and compare with its record."""
    item = f"model {run_id}"
    run_dir = release / "runs" / run_id
    if not (run_dir / "model.keras").is_file():
        return Check(item, False, f"runs/{run_id}/model.keras is missing")
    # Each model gets its own predict function; TensorFlow's warning about retracing them
    # would only break the one-line-per-item output.
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        recorded = files.read_json(run_dir / "metrics.json", kind=dict)
        meta = files.read_json(run_dir / "config.json", kind=dict)
        labels, probabilities, class_names, scheme = _reevaluate(run_dir, meta, data_dir)
    except (ThesisError, OSError, KeyError, ValueError) as error:
        # A damaged record (a missing split.csv, a config without its fields) is a failed
        # line like any other, not a traceback.
        return Check(item, False, f"cannot re-evaluate: {type(error).__name__}: {error}"
                     if not isinstance(error, ThesisError) else f"cannot re-evaluate: {error}")
    finally:
        tf_logger.setLevel(level)
    from thesis_lib.analysis.calibration import calibrated_metrics, recorded_temperature
    from thesis_lib.training.evaluate import compute_metrics, metrics_record

    now = metrics_record(compute_metrics(labels, probabilities, class_names, scheme=scheme), None)
    temperature = recorded_temperature(recorded)
    if temperature is not None:
        now["calibrated"] = calibrated_metrics(labels, probabilities, temperature)
    exact = _deterministic_cpu(meta)
    tolerance = 0.0 if exact else TOLERANCE
    # The probabilities first: they move with any change of the weights, a metric may not.
    moved = _moved_predictions(run_dir, probabilities, class_names, tolerance)
    moved += _moved(_numbers(recorded), _numbers(now), tolerance)
    how = "exactly (CPU, deterministic ops)" if exact else f"within {TOLERANCE:g}"
    if moved:
        return Check(item, False, f"not reproduced {how}: " + "; ".join(moved))
    return Check(item, True, f"{len(labels)} test images, metrics reproduced {how}")


def _reevaluate(run_dir: Path, meta: dict[str, Any],
                data_dir: Path) -> tuple[np.ndarray, np.ndarray, list[str], Any]:
    """Labels and probabilities of the run's test split read from ``data_dir`` with the
    run's own split file, decoders and preprocessing (as a resumed run reads them); ``meta``
    is its ``config.json``."""
    import dataclasses

    from thesis_lib.config.training import config_from_dict
    from thesis_lib.models import load_model
    from thesis_lib.training.evaluate import predict
    from thesis_lib.training.run import prepare_frames

    config = config_from_dict(meta["config"])
    config = dataclasses.replace(config, data_dir=data_dir, split_file=None)
    with tempfile.TemporaryDirectory() as scratch:
        # prepare_frames reads split.csv from the run folder (as on resume) and writes
        # nothing then; a scratch copy keeps the release untouched whatever happens.
        work = Path(scratch) / run_dir.name
        work.mkdir()
        (work / "split.csv").write_bytes((run_dir / "split.csv").read_bytes())
        class_names, frames = prepare_frames(config, work)
    model = load_model(run_dir / "model.keras")
    probabilities = predict(model, frames["test"], num_classes=len(class_names),
                            image_size=config.image_size, batch_size=config.batch_size,
                            resize=config.resize)
    return frames["test"]["label_index"].to_numpy(), probabilities, class_names, config.scheme


def _deterministic_cpu(meta: dict[str, Any]) -> bool:
    """The run (``meta``: its ``config.json``) was evaluated on CPU only with deterministic
    ops, and so is this check."""
    from thesis_lib.training.records import environment_info

    recorded = meta.get("environment", {}).get("devices") or []
    deterministic = bool(meta.get("config", {}).get("deterministic"))
    current = environment_info().get("devices") or []
    return deterministic and all("GPU" not in str(device) for device in [*recorded, *current])


def _numbers(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    flat = {}
    for key, value in metrics.items():
        if key in SKIPPED_KEYS or key == "n":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_numbers(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def _moved(recorded: dict[str, float], now: dict[str, float], tolerance: float) -> list[str]:
    moved = []
    for name, value in recorded.items():
        if name not in now:
            continue  # a number the record has and this version does not compute
        if not abs(now[name] - value) <= tolerance:
            moved.append(f"{name} {value:.6g} -> {now[name]:.6g}")
    return moved


def _moved_predictions(run_dir: Path, probabilities: np.ndarray, class_names: list[str],
                       tolerance: float) -> list[str]:
    path = run_dir / "predictions.csv"
    if not path.is_file():
        return []
    table = pd.read_csv(path)
    test = table[table["dataset"] == "test"] if "dataset" in table.columns else table
    columns = [f"prob_{name}" for name in class_names]
    if len(test) != len(probabilities) or not set(columns) <= set(test.columns):
        return [f"predictions.csv has {len(test)} test rows, the split {len(probabilities)}"]
    difference = float(np.max(np.abs(test[columns].to_numpy(float) - probabilities), initial=0))
    return [f"probabilities moved by up to {difference:.3g}"] if difference > tolerance else []


def check_loading(release: Path, run_ids: list[str]) -> list[Check]:
    """Every packaged model loaded with ``safe_mode=True`` in a fresh process."""
    models = [release / "runs" / run_id / "model.keras" for run_id in run_ids]
    present = [model for model in models if model.is_file()]
    if not present:
        return []
    results = load_in_fresh_process(present, release / CODE_FOLDER)
    checks = []
    for model in present:
        result = results.get(str(model), {"ok": False, "error": "no answer"})
        item = f"load {model.parent.name}"
        if result["ok"]:
            shape = result["output_shape"]
            checks.append(Check(item, True, "keras.saving.load_model(safe_mode=True) with only "
                                f"Keras and code/thesis_lib/layers; output {shape}"))
        else:
            checks.append(Check(item, False, result["error"]))
    return checks


def check_tables(release: Path) -> list[Check]:
    """Each table of ``summary/`` regenerated from ``runs/`` and compared byte for byte."""
    try:
        tables = release_tables(release)
    except ThesisError as error:
        return [Check("tables", False, f"cannot regenerate: {error}")]
    packaged = sorted(path.relative_to(release).as_posix()
                      for path in (release / "summary").glob("*") if path.is_file())
    checks = []
    for name in sorted(set(packaged) | set(tables)):
        path = release / name
        if name not in tables:
            checks.append(Check(f"table {name}", False, "not made from the packaged records"))
        elif not path.is_file():
            checks.append(Check(f"table {name}", False, "missing"))
        elif path.read_bytes() != tables[name]:
            checks.append(Check(f"table {name}", False,
                                "differs from the table regenerated from runs/"))
        else:
            checks.append(Check(f"table {name}", True, "regenerates byte for byte"))
    return checks

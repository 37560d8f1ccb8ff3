"""The run record on disk: atomic writes, the status marker, reading runs back.

A run folder ``results/runs/<run_id>/`` holds:

    config.json       the configuration, library versions, git commit, backend, devices
    status.json       state (running / finished / failed), pid, host, start and end times
    RUNNING, FAILED   an empty marker file while a run is not finished (visible in ``ls``)
    split.csv         the images of each split the run used
    history.csv       one row per epoch (epochs 0..N-1, continuous across resumes)
    metrics.json      test metrics; extra evaluation sets under ``datasets.<name>``
    predictions.csv   per image: dataset, split, path, label_index, prob_<class>...
    model.keras       the best model on the validation split
    checkpoint/       the last completed epoch, for resuming (removed when finished)
    tensorboard/      TensorBoard logs

Every file is written to a temporary name in the same folder and then renamed over the target
(``os.replace`` is atomic on POSIX), so a run killed at any moment leaves either the old or the
new version of a file, never half of one.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from thesis_lib import paths
from thesis_lib.errors import ThesisError

STATUS_FILE = "status.json"
STATE_MARKERS = {"running": "RUNNING", "failed": "FAILED"}
LIBRARIES = ("thesis-workbench", "tensorflow", "keras", "jax", "numpy", "pandas",
             "scikit-learn", "pillow", "papermill")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` and rename the temporary file to ``path``.

    The temporary file keeps the suffix of ``path`` (Keras checks ``.keras`` / ``.weights.h5``).
    """
    path = Path(path)
    suffix = "".join(path.suffixes) or ".tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=suffix,
                                            dir=path.parent)
    except OSError as error:
        raise ThesisError(f"cannot write {path}: {error.strerror or error}") from None
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()  # some writers (h5py, zip) refuse to write over an existing file
        write(tmp)
        os.replace(tmp, path)
    except OSError as error:
        # A full disk or a read-only folder: one line naming the file; the old version stays.
        raise ThesisError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | os.PathLike, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_csv(path: str | os.PathLike, frame: pd.DataFrame) -> Path:
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


# --- status


def read_status(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    path = Path(run_dir) / STATUS_FILE
    if not path.is_file():
        return None
    return read_json(path)


def write_status(run_dir: str | os.PathLike, state: str, *, new_attempt: bool = True,
                 **extra: Any) -> dict[str, Any]:
    """Record ``state`` (running / finished / failed) and keep the marker files in step.

    Args:
        run_dir: the run folder.
        state: ``running``, ``finished`` or ``failed``.
        new_attempt: with ``running``: a new start (counts attempts, resets the times);
            ``False`` only adds ``extra`` to the current attempt.
        **extra: further fields, e.g. ``error``.
    """
    run_dir = Path(run_dir)
    status = read_status(run_dir) or {}
    status.update(state=state, pid=os.getpid(), host=socket.gethostname(), **extra)
    if state == "running" and not new_attempt:
        pass
    elif state == "running":
        status.update(started=now(), ended=None, error=None)
        status["attempts"] = int(status.get("attempts", 0)) + 1
    else:
        status["ended"] = now()
    write_json(run_dir / STATUS_FILE, status)
    try:
        for marker_state, marker in STATE_MARKERS.items():
            marker_path = run_dir / marker
            if marker_state == state:
                marker_path.touch()
            else:
                marker_path.unlink(missing_ok=True)
    except OSError as error:
        raise ThesisError(f"cannot mark {run_dir} as {state}: {error.strerror or error}") from None
    return status


def is_alive_here(status: dict[str, Any]) -> bool:
    """Whether the process that wrote ``status`` still runs (only knowable on its host)."""
    if status.get("host") != socket.gethostname() or not status.get("pid"):
        return False
    try:
        os.kill(int(status["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return int(status["pid"]) != os.getpid()


# --- environment


def environment_info() -> dict[str, Any]:
    """Library versions, git commit, Keras backend and devices, for ``config.json``."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    import keras

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "libraries": versions,
        "keras_backend": keras.backend.backend(),
        "devices": _devices(),
        "git_commit": git_commit(),
        "created": now(),
    }


def _devices() -> list[str]:
    try:
        import tensorflow as tf

        return [device.name for device in tf.config.list_logical_devices()]
    except Exception:  # device listing is informative only
        return []


def git_commit() -> str | None:
    """The commit of the project checkout, with ``+dirty`` when files are modified."""
    root = paths.project_root()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


# --- reading runs back


def list_runs(results_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per run folder: run_id, state, the main configuration fields, test accuracy.

    Args:
        results_dir: the folder holding ``runs/``; default ``<project>/results``.
    """
    root = paths.results_dir() if results_dir is None else paths.resolve(results_dir)
    rows = []
    for run_dir in sorted((root / "runs").glob("*/")):
        if not (run_dir / "config.json").is_file():
            continue
        meta = read_json(run_dir / "config.json")
        config = meta.get("config", {})
        status = read_status(run_dir) or {}
        metrics_path = run_dir / "metrics.json"
        metrics = read_json(metrics_path) if metrics_path.is_file() else {}
        rows.append({
            "run_id": run_dir.name,
            "state": status.get("state", "unknown"),
            "variant": config.get("variant"),
            "modules": config.get("modules"),
            "backbone": config.get("backbone"),
            "dataset": meta.get("dataset_name"),
            "seed": config.get("seed"),
            "epochs": config.get("epochs"),
            "test_accuracy": metrics.get("test_accuracy"),
            "best_epoch": metrics.get("best_epoch"),
            "path": str(run_dir),
        })
    return pd.DataFrame(rows, columns=["run_id", "state", "variant", "modules", "backbone",
                                       "dataset", "seed", "epochs", "test_accuracy",
                                       "best_epoch", "path"])

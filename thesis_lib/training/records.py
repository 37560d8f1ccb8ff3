"""The run record on disk: atomic writes, the status marker, reading runs back.

A run folder ``results/runs/<run_id>/`` holds:

    config.json       the configuration, its identity, the data fingerprint, the setting id,
                      library versions, git commit, backend, devices
    status.json       state (running / finished / failed), pid, host, start and end times
    RUNNING, FAILED   an empty marker file while a run is not finished (visible in ``ls``)
    split.csv         the images of each split the run used
    skipped.csv       what was left out (unreadable files, labels outside the scheme, copies)
    duplicates.csv    with ``deduplicate``: the groups of copies and which one was kept
    conflicts.csv     with ``deduplicate``: the groups whose copies carry different labels
    history.csv       one row per epoch (epochs 0..N-1, continuous across resumes)
    metrics.json      test metrics; extra evaluation sets under ``datasets.<name>``
    predictions.csv   per image: dataset, split, path, label_index, prob_<class>...
    model.keras       the best model on the validation split
    checkpoint/       the last completed epoch, for resuming (removed when finished)
    tensorboard/      TensorBoard logs

Every file is written by ``thesis_lib.files`` (to a temporary name, then renamed over the
target), so a run killed at any moment leaves either the old or the new version of a file, never
half of one.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from thesis_lib import paths
from thesis_lib.errors import ThesisError
from thesis_lib.files import read_json, write_json

STATUS_FILE = "status.json"
STATE_MARKERS = {"running": "RUNNING", "failed": "FAILED"}
LIBRARIES = ("thesis-workbench", "tensorflow", "keras", "jax", "numpy", "pandas",
             "scikit-learn", "pillow", "papermill")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
    if slurm_job_id():  # so that `thesis grid --status` can ask SLURM whether it still runs
        status["slurm_job"] = slurm_job_id()
    else:  # resumed outside SLURM: an earlier job's id would make it look dead
        status.pop("slurm_job", None)
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


def slurm_job_id() -> str | None:
    """This process's SLURM job (``<array>_<task>`` in an array job), or None outside SLURM."""
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array:
        return f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID')}"
    return os.environ.get("SLURM_JOB_ID")


def peak_memory_gb() -> float:
    """The largest resident memory of this process so far, in GB (Linux reports KB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3)


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
        # Thread counts change the order of floating-point sums, so the last digits of a run.
        "cpu_threads": _cpu_threads(),
        "git_commit": git_commit(),
        "created": now(),
    }


def _devices() -> list[str]:
    try:
        import tensorflow as tf

        return [device.name for device in tf.config.list_logical_devices()]
    except Exception:  # device listing is informative only
        return []


# TensorFlow's thread pools, read from the environment when TensorFlow starts.
TF_THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
# TensorFlow's oneDNN CPU kernels (on by default on x86 Linux; "0" turns them off): like the
# thread counts, they change the order of floating-point sums, so the digits of a run.
TF_NUMERICS_VARIABLES = ("TF_ENABLE_ONEDNN_OPTS",)


def _cpu_threads() -> dict[str, Any]:
    """The cores, TensorFlow's thread-pool settings (0 or unset: as many as cores) and its
    oneDNN setting where one is given."""
    settings: dict[str, Any] = {"cores": os.cpu_count() or 0}
    try:
        import tensorflow as tf

        settings["intra_op"] = tf.config.threading.get_intra_op_parallelism_threads()
        settings["inter_op"] = tf.config.threading.get_inter_op_parallelism_threads()
    except ImportError:  # a JAX-only installation
        pass
    if os.environ.get("SLURM_CPUS_PER_TASK"):  # the CPUs SLURM gave the job
        settings["slurm_cpus_per_task"] = int(os.environ["SLURM_CPUS_PER_TASK"])
    for variable in TF_THREAD_VARIABLES + TF_NUMERICS_VARIABLES:
        if variable in os.environ:
            settings[variable] = os.environ[variable]
    return settings


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

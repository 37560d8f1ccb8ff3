"""Keras callbacks of a training run: the per-epoch checkpoint that makes runs resumable.

``EpochCheckpoint`` writes, after every completed epoch and in this order:

1. ``checkpoint/epoch-<e>.npz``: model weights (by variable path) and optimizer state (its
   variables in order, step counter included), see :func:`save_checkpoint`;
2. ``checkpoint/best-epoch-<e>.npz`` when the validation accuracy improved;
3. ``checkpoint/state.json``: the last completed epoch, the history so far, the best epoch, the
   files above and the state of the model's random generators (the dropout masks; Keras does not
   save them with the weights), so that a resumed run draws what an uninterrupted one would
   have drawn. This file is the commit point: until it is renamed into place, the
   previous epoch's state is the valid one, so a ``kill -9`` at any moment loses at most the
   epoch in progress;
4. ``history.csv`` in the run folder (for people and TensorBoard-less plots).

Older checkpoint files are deleted only after the new state is committed. Checkpoints that
earlier versions wrote as Keras ``.weights.h5`` files still resume (:func:`load_checkpoint`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from thesis_lib import files
from thesis_lib.errors import ThesisError
from thesis_lib.training import records

STATE_FILE = "state.json"
MONITOR = "val_accuracy"
# The contrastive-center training model logs per output (thesis_lib.models.contrastive); its
# columns in history.csv get the names every run has, so that curves and the checkpoint's
# monitor read all runs alike. Its other columns: loss (the total), contrastive_center_loss.
LOG_NAMES = {
    "probabilities_accuracy": "accuracy",
    "val_probabilities_accuracy": "val_accuracy",
    "probabilities_loss": "cross_entropy_loss",
    "val_probabilities_loss": "val_cross_entropy_loss",
}


def random_generator_states(model) -> dict[str, list[int]]:
    """The state of every Keras ``SeedGenerator`` in ``model`` (dropout, stochastic depth), by
    variable path."""
    return {variable.path: [int(value) for value in keras.ops.convert_to_numpy(variable)]
            for variable in model.non_trainable_variables
            if variable.path.endswith("seed_generator_state")}


def restore_random_state(model, state: dict[str, Any]) -> None:
    """Put the random generators back where the checkpoint's epoch left them."""
    saved = state.get("random_state") or {}
    for variable in model.non_trainable_variables:
        if variable.path in saved:
            variable.assign(keras.ops.convert_to_tensor(saved[variable.path],
                                                        dtype=variable.dtype))


def save_checkpoint(model, path: Path) -> None:
    """Write ``model``'s weights and its optimizer's state to ``path`` (``.npz``).

    Both are stored in their order, as Keras stores an optimizer's state: variable paths carry
    process-wide counters (``seed_generator_3``) that differ between two builds of the same
    network. One ``.npz`` is several times quicker to write than Keras's ``save_weights``,
    which writes one HDF5 dataset per variable (seconds an epoch for EfficientNetV2-B0).
    """
    arrays = {f"model/{index}": keras.ops.convert_to_numpy(variable)
              for index, variable in enumerate(model.variables)}
    optimizer = getattr(model, "optimizer", None)
    for index, variable in enumerate(optimizer.variables if optimizer else []):
        arrays[f"optimizer/{index}"] = keras.ops.convert_to_numpy(variable)
    with open(path, "wb") as handle:  # a handle: numpy would add ".npz" to a path
        np.savez(handle, **arrays)


def load_checkpoint(model, path: Path, *, optimizer: bool = True) -> None:
    """Load a checkpoint into ``model`` (and, with ``optimizer``, its optimizer's state).

    Raises:
        ThesisError: the checkpoint does not belong to this network.
    """
    if optimizer:
        model.optimizer.build(model.trainable_variables)
    if path.name.endswith(".weights.h5"):  # written by an earlier version
        model.load_weights(path)
        return
    with np.load(path) as saved:
        targets = {f"model/{index}": variable for index, variable in enumerate(model.variables)}
        if optimizer:
            targets.update({f"optimizer/{index}": variable
                            for index, variable in enumerate(model.optimizer.variables)})
        stored = {key for key in saved.files if optimizer or key.startswith("model/")}
        if stored != set(targets) or any(saved[key].shape != tuple(variable.shape)
                                         for key, variable in targets.items()):
            raise ThesisError(f"{path}: its variables do not match the network's; the "
                              "checkpoint belongs to another network")
        for key, variable in targets.items():
            variable.assign(saved[key])


def load_state(checkpoint_dir: Path) -> dict[str, Any] | None:
    """The last committed checkpoint state, or ``None`` when no epoch was completed."""
    path = checkpoint_dir / STATE_FILE
    return files.read_json(path) if path.is_file() else None


class EpochCheckpoint(keras.callbacks.Callback):
    """Atomic per-epoch checkpoint, continuous history and best-model tracking.

    Args:
        run_dir: the run folder (``history.csv`` goes there, checkpoints under
            ``checkpoint/``).
        state: the state to continue from (``load_state``), or ``None`` for a fresh run.
        phase: a name for the current training phase (e.g. ``frozen``/``full``); stored so
            that a resumed run rebuilds the matching optimizer before loading its state.
    """

    def __init__(self, run_dir: Path, state: dict[str, Any] | None = None,
                 phase: str = "full") -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.checkpoint_dir = self.run_dir / "checkpoint"
        self.phase = phase
        state = state or {}
        self.history: list[dict[str, Any]] = list(state.get("history", []))
        self.best_epoch: int | None = state.get("best_epoch")
        self.best_value: float | None = state.get("best_value")
        self.best_model: str | None = state.get("best_model")
        self.weights_file: str | None = state.get("weights")
        self._epoch_started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {LOG_NAMES.get(name, name): value for name, value in (logs or {}).items()}
        row = {"epoch": epoch, **{k: float(v) for k, v in sorted(logs.items())}}
        row["learning_rate"] = self._learning_rate()
        # The optimizer's step counter: continuous across a resume when its state was restored.
        row["optimizer_step"] = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        row["seconds"] = round(time.perf_counter() - self._epoch_started, 3)
        self.history = [r for r in self.history if r["epoch"] < epoch] + [row]

        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        stale = []
        weights_file = f"epoch-{epoch}.npz"
        files.atomic_write(self.checkpoint_dir / weights_file,
                           lambda tmp: save_checkpoint(self.model, tmp))
        stale.append(self.weights_file)
        self.weights_file = weights_file

        value = logs.get(MONITOR)
        if value is not None and (self.best_value is None or value > self.best_value):
            best_model = f"best-epoch-{epoch}.npz"
            # The same weights were just saved: a byte copy, not a second serialisation.
            epoch_copy = self.checkpoint_dir / weights_file
            files.atomic_write(self.checkpoint_dir / best_model,
                               lambda tmp: shutil.copyfile(epoch_copy, tmp))
            stale.append(self.best_model)
            self.best_model, self.best_epoch, self.best_value = best_model, epoch, float(value)

        files.write_json(self.checkpoint_dir / STATE_FILE, self.state(epoch))
        files.write_csv(self.run_dir / "history.csv", pd.DataFrame(self.history))
        for name in stale:
            if name and name not in (self.weights_file, self.best_model):
                (self.checkpoint_dir / name).unlink(missing_ok=True)

    def state(self, epoch: int) -> dict[str, Any]:
        return {
            "epoch": epoch,
            "phase": self.phase,
            "weights": self.weights_file,
            "best_model": self.best_model,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "monitor": MONITOR,
            "history": self.history,
            "random_state": random_generator_states(self.model),
            "saved": records.now(),
        }

    def _learning_rate(self) -> float:
        optimizer = self.model.optimizer
        rate = optimizer.learning_rate
        return float(keras.ops.convert_to_numpy(rate))


class EpochDelay(keras.callbacks.Callback):
    """Sleep after each epoch; lets tests interrupt a tiny run at a chosen moment.

    Args:
        seconds: how long to sleep.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        time.sleep(self.seconds)

"""One training run, from a ``TrainConfig`` to a complete run record.

``run_training(config)``:

1. finds the run folder ``results/runs/<run_id>/``: a finished run is skipped (or, with
   ``force=True``, trained again into ``<run_id>-2``, ``-3``...), an unfinished one resumed;
2. writes ``config.json`` and marks the run as running (``status.json`` + ``RUNNING``);
3. prepares the data split (a resumed run reuses its ``split.csv``), builds and compiles the
   model and continues from the last completed epoch if there is a checkpoint;
4. trains with a per-epoch atomic checkpoint, TensorBoard logs and ``history.csv``;
5. evaluates the best model on validation on the test split and the extra datasets, writes
   ``metrics.json``, ``predictions.csv`` and ``model.keras``, and marks the run finished.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from thesis_lib import paths
from thesis_lib.errors import DataError, ThesisError
from thesis_lib.train import evaluate, records
from thesis_lib.train.config import TrainConfig

SPLITS = ("train", "val", "test")
# Layer names of a Keras EfficientNetV2 (used to find the backbone in a flat functional model).
BACKBONE_LAYER = re.compile(r"^(rescaling|normalization|stem_|block\d|top_)")


@dataclass
class RunPlan:
    """Where a run goes and what to do there: ``new``, ``resume`` or ``skip``."""

    run_dir: Path
    action: str


def plan_run(config: TrainConfig, *, force: bool = False) -> RunPlan:
    """Decide the run folder of ``config`` without touching anything.

    Raises:
        ThesisError: the same run is being trained by a live process on this machine.
    """
    run_id = config.run_id()
    base = config.runs_dir / run_id
    status = records.read_status(base)
    if status is None:
        return RunPlan(base, "resume" if (base / "checkpoint").is_dir() else "new")
    if status.get("state") == "finished":
        if not force:
            return RunPlan(base, "skip")
        number = 2
        while (config.runs_dir / f"{run_id}-{number}").exists():
            number += 1
        return RunPlan(config.runs_dir / f"{run_id}-{number}", "new")
    if status.get("state") == "running" and records.is_alive_here(status):
        raise ThesisError(f"run {run_id} is already being trained by pid {status['pid']} ({base})")
    return RunPlan(base, "resume")


def run_training(config: TrainConfig, *, force: bool = False) -> Path:
    """Train ``config`` (or resume / skip it) and return its run folder.

    Args:
        config: the run's configuration.
        force: train again even when a finished run of this configuration exists (into a new
            folder; nothing is overwritten).
    """
    check_config(config)
    plan = plan_run(config, force=force)
    if plan.action == "skip":
        print(f"run {plan.run_dir.name} is already finished: {plan.run_dir}")
        return plan.run_dir
    run_dir = plan.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"run {run_dir.name} ({plan.action}): {run_dir}")
    write_config(run_dir, config)
    records.write_status(run_dir, "running", run_id=run_dir.name)
    try:
        _train_and_record(config, run_dir)
    except BaseException as error:
        records.write_status(run_dir, "failed", error=f"{type(error).__name__}: {error}")
        raise
    records.write_status(run_dir, "finished")
    return run_dir


def check_config(config: TrainConfig) -> None:
    """Everything checkable before training: fields, backbone, image size, taps, dataset.

    Raises:
        ConfigError: an invalid field (the builders' own checks, e.g. an unknown backbone).
        DataError: the dataset folder does not exist.
    """
    from thesis_lib.layers import get_activation
    from thesis_lib.models.backbones import check_image_size, default_taps, get_backbone

    config.validate()
    get_backbone(config.backbone)
    check_image_size(config.image_size)
    get_activation(config.activation)
    if config.taps is None:
        default_taps(config.backbone, config.modules)
    if config.data_dir is not None and not config.data_path.exists():
        raise DataError(f"dataset not found: {config.data_path} (data_dir={config.data_dir!r})")
    for name, source in config.eval_datasets.items():
        if not paths.resolve(source).exists():
            raise DataError(f"evaluation dataset {name!r} not found: {source}")


def write_config(run_dir: Path, config: TrainConfig) -> None:
    """``config.json``: the configuration, its identity hash input and the environment."""
    records.write_json(run_dir / "config.json", {
        "run_id": run_dir.name,
        "config_run_id": config.run_id(),
        "dataset_name": config.name_of_dataset,
        "data_path": str(config.data_path),
        "config": config.to_dict(),
        "identity": config.identity(),
        "environment": records.environment_info(),
    })


# --- data


def prepare_frames(config: TrainConfig, run_dir: Path) -> tuple[list[str], dict[str, pd.DataFrame]]:
    """The class names and the train/val/test frames, saving the split to ``split.csv``.

    A resumed run reads its own ``split.csv`` back, so it trains on exactly the same images.
    """
    from thesis_lib.data import prepare_dataset

    if config.data_dir is None:
        from thesis_lib.data.demo import ensure_demo_dataset

        ensure_demo_dataset(config.data_path)
    elif not config.data_path.exists():
        raise DataError(f"dataset not found: {config.data_path}")
    split_path = run_dir / "split.csv"
    split_file = split_path if split_path.is_file() else config.split_file
    prepared = prepare_dataset(
        config.data_path, scheme=config.scheme, ratios=config.split_ratios,
        seed=config.effective_split_seed, split_file=split_file, adapter=config.adapter,
        min_side=config.min_side,
    )
    frames = {name: _subsample(prepared.frames[name], config.max_images,
                               config.effective_split_seed) for name in SPLITS}
    if not split_path.is_file():
        used_paths = set(pd.concat(frames.values())["path"])
        used = dataclasses.replace(
            prepared, manifest=prepared.manifest[prepared.manifest["path"].isin(used_paths)])
        records.atomic_write(split_path, used.save_split)
    for name in ("train", "val"):
        if len(frames[name]) == 0:
            raise DataError(f"{config.data_path}: the {name} split is empty; "
                            f"check split_ratios {config.split_ratios} and the dataset size")
    return list(prepared.class_names), frames


def _subsample(frame: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    if limit is None or len(frame) <= limit:
        return frame.reset_index(drop=True)
    return frame.sample(n=limit, random_state=seed).sort_index().reset_index(drop=True)


def make_datasets(config: TrainConfig, frames: dict[str, pd.DataFrame], num_classes: int):
    """The training and validation ``tf.data`` pipelines."""
    from thesis_lib.data.pipeline import make_dataset

    def pipeline(frame: pd.DataFrame, training: bool):
        return make_dataset(
            frame["path"].tolist(), frame["label_index"].to_numpy(), num_classes=num_classes,
            image_size=config.image_size, batch_size=config.batch_size, training=training,
            augment=config.augment and training, randaugment_ops=config.randaugment_ops,
            randaugment_magnitude=config.randaugment_magnitude, resize=config.resize,
            cache=config.cache, seed=config.seed, deterministic=config.deterministic,
            balanced=config.balanced and training, decoders=evaluate.decoders_of(frame),
        )

    return pipeline(frames["train"], True), pipeline(frames["val"], False)


# --- model


def set_up_execution(config: TrainConfig):
    """Seeds, deterministic ops, XLA flags; returns the distribution strategy."""
    import keras
    import tensorflow as tf

    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    if config.strategy == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def build_compiled_model(config: TrainConfig, num_classes: int, *, steps_per_epoch: int,
                         frozen: bool):
    """Build the network and compile it for the phase (backbone frozen or not)."""
    import keras

    from thesis_lib.models import build_model

    previous_policy = keras.mixed_precision.global_policy()
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(
            config.variant, backbone=config.backbone, num_classes=num_classes,
            image_size=config.image_size, modules=config.modules, taps=config.taps,
            activation=config.activation, weights=config.weights, dropout=config.dropout,
        )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    compile_for_phase(model, config, steps_per_epoch=steps_per_epoch, frozen=frozen)
    return model


def compile_for_phase(model, config: TrainConfig, *, steps_per_epoch: int, frozen: bool) -> None:
    """Compile with a fresh optimizer; while ``frozen`` only the new layers train.

    The frozen phase (the first ``freeze_backbone_epochs``) uses the constant learning rate;
    the warm-up and the schedule apply to the epochs after it.
    """
    import keras

    set_backbone_trainable(model, not frozen)
    schedule_epochs = config.epochs - config.freeze_backbone_epochs
    if frozen:
        learning_rate: Any = config.learning_rate
    else:
        learning_rate = learning_rate_schedule(config, steps_per_epoch, schedule_epochs)
    model.compile(
        optimizer=make_optimizer(config, learning_rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        # A metric object (not the string "accuracy") and an optimizer built here create
        # their variables before fit traces the train step; otherwise TensorFlow traces the
        # whole network twice (once to create them), which is half a minute on a CPU.
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=config.jit_compile,
    )
    model.optimizer.build(model.trainable_variables)


def make_optimizer(config: TrainConfig, learning_rate: Any):
    import keras

    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    return keras.optimizers.RMSprop(learning_rate)


def learning_rate_schedule(config: TrainConfig, steps_per_epoch: int, epochs: int):
    """Linear warm-up to ``learning_rate``, then constant or cosine decay to zero."""
    import keras

    warmup_steps = config.warmup_epochs * steps_per_epoch
    total_steps = max(epochs * steps_per_epoch, 1)
    if config.lr_schedule == "constant" and warmup_steps == 0:
        return config.learning_rate
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else config.learning_rate,
        decay_steps=max(total_steps - warmup_steps, 1),
        alpha=1.0 if config.lr_schedule == "constant" else 0.0,
        warmup_target=config.learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def set_backbone_trainable(model, trainable: bool) -> None:
    """(Un)freeze the backbone: a nested backbone model, or the EfficientNetV2 layers."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if nested:
        for layer in nested:
            layer.trainable = trainable
        return
    for layer in model.layers:
        if BACKBONE_LAYER.match(layer.name):
            layer.trainable = trainable


# --- training


def _train_and_record(config: TrainConfig, run_dir: Path) -> None:
    from thesis_lib.train.callbacks import EpochCheckpoint, load_state

    class_names, frames = prepare_frames(config, run_dir)
    strategy = set_up_execution(config)
    records.write_status(run_dir, "running", replicas=strategy.num_replicas_in_sync,
                         new_attempt=False)
    train_data, val_data = make_datasets(config, frames, len(class_names))
    steps_per_epoch = math.ceil(len(frames["train"]) / config.batch_size)
    state = load_state(run_dir / "checkpoint")
    first_epoch = 0 if state is None else state["epoch"] + 1
    if state is not None:
        print(f"resuming after epoch {state['epoch']} (of {config.epochs})")
    checkpoint = EpochCheckpoint(run_dir, state)

    phases = [("frozen", 0, config.freeze_backbone_epochs),
              ("full", config.freeze_backbone_epochs, config.epochs)]
    # A resumed run first rebuilds the phase its checkpoint was saved in (same optimizer).
    current = state["phase"] if state else ("frozen" if config.freeze_backbone_epochs else "full")
    with strategy.scope():
        model = build_compiled_model(config, len(class_names), steps_per_epoch=steps_per_epoch,
                                     frozen=current == "frozen")
        if state is not None:
            restore_checkpoint(model, run_dir / "checkpoint" / state["weights"])
        for phase, start, end in phases:
            if end <= max(start, first_epoch):
                continue
            if phase != current:
                compile_for_phase(model, config, steps_per_epoch=steps_per_epoch,
                                  frozen=phase == "frozen")
                current = phase
            checkpoint.phase = phase
            _fit(model, config, train_data, val_data, class_names, frames, run_dir,
                 checkpoint, initial_epoch=max(start, first_epoch), epochs=end)
    if checkpoint.best_model is None:
        raise ThesisError(f"{run_dir}: no completed epoch to evaluate")
    finish_record(model, config, run_dir, checkpoint, class_names, frames)


def restore_checkpoint(model, weights_path: Path) -> None:
    """Load weights and optimizer state of the last completed epoch into ``model``."""
    model.optimizer.build(model.trainable_variables)
    model.load_weights(weights_path)


def _fit(model, config, train_data, val_data, class_names, frames, run_dir, checkpoint, *,
         initial_epoch: int, epochs: int) -> None:
    import keras

    from thesis_lib.train.callbacks import EpochDelay

    callbacks = [checkpoint]
    if importlib.util.find_spec("tensorboard") is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard"),
                                                     write_graph=False))
    else:
        print("tensorboard is not installed: no TensorBoard logs for this run")
    if config.epoch_delay_s:
        callbacks.append(EpochDelay(config.epoch_delay_s))
    class_weight = None
    if config.class_weighting:
        from thesis_lib.data.pipeline import class_weights

        class_weight = class_weights(frames["train"]["label_index"].to_numpy(), len(class_names))
    model.fit(train_data, validation_data=val_data, epochs=epochs, initial_epoch=initial_epoch,
              callbacks=callbacks, class_weight=class_weight, verbose=config.verbose,
              shuffle=False)  # the training pipeline shuffles


def finish_record(model, config: TrainConfig, run_dir: Path, checkpoint, class_names: list[str],
                  frames: dict[str, pd.DataFrame]) -> None:
    """Best model -> ``model.keras``; test and extra datasets -> metrics and predictions."""
    import keras

    model.load_weights(run_dir / "checkpoint" / checkpoint.best_model)
    # A fresh, uncompiled copy: model.keras holds the network without the optimizer state.
    best = keras.models.clone_model(model)
    best.set_weights(model.get_weights())
    records.atomic_write(run_dir / "model.keras", best.save)
    probabilities = evaluate.predict(best, frames["test"], num_classes=len(class_names),
                                     image_size=config.image_size,
                                     batch_size=config.batch_size, resize=config.resize)
    labels = frames["test"]["label_index"].to_numpy()
    split_metrics = evaluate.compute_metrics(labels, probabilities, class_names)
    metrics = evaluate.metrics_record(split_metrics, checkpoint.best_epoch)
    metrics["dataset"] = config.name_of_dataset
    predictions = evaluate.predictions_frame(frames["test"], probabilities, class_names,
                                             dataset="test", split="test")
    records.write_csv(run_dir / "predictions.csv", predictions)
    records.write_json(run_dir / "metrics.json", metrics)
    for name, source in config.eval_datasets.items():
        evaluate.evaluate_dataset(run_dir, best, config.to_dict(), class_names, name, source)
    shutil.rmtree(run_dir / "checkpoint", ignore_errors=True)


def history(run_dir: str | os.PathLike) -> pd.DataFrame:
    """The run's ``history.csv`` (one row per completed epoch)."""
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        raise ThesisError(f"{run_dir} has no history.csv yet")
    return pd.read_csv(path)

"""One training run, from a ``TrainConfig`` to a complete run record.

``run_training(config)``:

1. fingerprints the data (``thesis_lib.training.fingerprint``) and finds the run folder
   ``results/runs/<run_id>/``: a finished run is skipped (or, with ``force=True``, trained again
   into ``<run_id>-2``, ``-3``...), an unfinished one resumed; a caller that planned the folder
   already (a grid cell) passes it as ``run_dir``;
2. writes ``config.json`` (configuration, data fingerprint, setting id, environment) and marks
   the run as running (``status.json`` + ``RUNNING``);
3. prepares the data split (a resumed run reuses its ``split.csv``; what was left out, duplicates
   included, goes to ``skipped.csv``), builds and compiles the model and continues from the last
   completed epoch if there is a checkpoint;
4. trains with a per-epoch atomic checkpoint, TensorBoard logs and ``history.csv``; every epoch's
   data order and augmentation come from ``(seed, epoch)``, and the checkpoint keeps the random
   state of the dropout layers, so a resumed run continues the very same stream;
5. evaluates the best model on validation on the test split and the extra datasets, writes
   ``metrics.json``, ``predictions.csv`` and ``model.keras``, marks the run finished, and only
   then removes the checkpoint: a run killed at any moment resumes or finishes, never retrains.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from thesis_lib import files, paths
from thesis_lib.choices import check_activation, check_image_size, default_taps, get_backbone
from thesis_lib.config.training import TrainConfig
from thesis_lib.data import prepare_dataset
from thesis_lib.data.discovery import ScanResult
from thesis_lib.data.splits import SPLITS
from thesis_lib.errors import DataError, ThesisError
from thesis_lib.training import evaluate, records
from thesis_lib.training.fingerprint import DataFingerprint, data_fingerprint, ensure_dataset

# Layer names of a Keras EfficientNetV2 (used to find the backbone in a flat functional model).
BACKBONE_LAYER = re.compile(r"^(rescaling|normalization|stem_|block\d|top_)")


@dataclass
class RunPlan:
    """Where a run goes and what to do there: ``new``, ``resume`` or ``skip``.

    Args:
        run_dir: the run folder.
        action: ``new``, ``resume`` or ``skip``.
        fingerprint: the data fingerprint the run id was made with.
    """

    run_dir: Path
    action: str
    fingerprint: DataFingerprint


def plan_run(config: TrainConfig, *, force: bool = False,
             run_dir: str | os.PathLike | None = None,
             fingerprint: DataFingerprint | None = None) -> RunPlan:
    """Decide the run folder of ``config``; writes nothing into the results folder.

    Args:
        config: the run's configuration.
        force: a finished run of the same configuration is trained again into a new folder.
        run_dir: the folder a caller planned already (a grid cell passes the folder it chose,
            so that the notebook trains exactly there); it must be empty, unfinished or hold
            this configuration. A finished ``run_dir`` is skipped: nothing finished is touched.
        fingerprint: the data fingerprint, when the caller computed it already.

    Raises:
        ThesisError: the same run is being trained by a live process on this machine, or
            ``run_dir`` holds another configuration.
    """
    fingerprint = fingerprint or data_fingerprint(config)
    run_id = config.run_id(fingerprint.value)
    if run_dir is not None:
        return _plan_given_folder(paths.resolve(run_dir), run_id, fingerprint)
    base = config.runs_dir / run_id
    status = records.read_status(base)
    if status is None:
        action = "resume" if (base / "checkpoint").is_dir() else "new"
        return RunPlan(base, action, fingerprint)
    if status.get("state") == "finished":
        if not force:
            return RunPlan(base, "skip", fingerprint)
        number = 2
        while (config.runs_dir / f"{run_id}-{number}").exists():
            number += 1
        return RunPlan(config.runs_dir / f"{run_id}-{number}", "new", fingerprint)
    _refuse_live_run(status, run_id, base)
    return RunPlan(base, "resume", fingerprint)


def _plan_given_folder(run_dir: Path, run_id: str, fingerprint: DataFingerprint) -> RunPlan:
    config_path = run_dir / "config.json"
    if config_path.is_file():
        recorded = files.read_json(config_path).get("config_run_id")
        if recorded not in (None, run_id):
            raise ThesisError(f"{run_dir} holds the run {recorded}, not {run_id}: choose "
                              "another run_dir")
    status = records.read_status(run_dir)
    if status is None:
        action = "resume" if (run_dir / "checkpoint").is_dir() else "new"
        return RunPlan(run_dir, action, fingerprint)
    if status.get("state") == "finished":
        return RunPlan(run_dir, "skip", fingerprint)
    _refuse_live_run(status, run_id, run_dir)
    return RunPlan(run_dir, "resume", fingerprint)


def _refuse_live_run(status: dict[str, Any], run_id: str, run_dir: Path) -> None:
    if status.get("state") == "running" and records.is_alive_here(status):
        raise ThesisError(f"run {run_id} is already being trained by pid {status['pid']} "
                          f"({run_dir})")


def run_training(config: TrainConfig, *, force: bool = False,
                 run_dir: str | os.PathLike | None = None) -> Path:
    """Train ``config`` (or resume / skip it) and return its run folder.

    Args:
        config: the run's configuration.
        force: train again even when a finished run of this configuration exists (into a new
            folder; nothing is overwritten).
        run_dir: train into this folder (planned by the caller, e.g. a grid cell); see
            :func:`plan_run`.

    Raises:
        ThesisError: one line naming the problem: an invalid configuration, unusable data, a
            results folder that cannot be written, a file that changed during training. The
            run is then marked failed (when its folder can be written) and can be resumed.
    """
    check_config(config)
    plan = plan_run(config, force=force, run_dir=run_dir)
    if plan.action == "skip":
        print(f"run {plan.run_dir.name} is already finished: {paths.shown(plan.run_dir)}")
        _remove_leftover_checkpoint(plan.run_dir)
        return plan.run_dir
    run_dir = plan.run_dir
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ThesisError(f"cannot create the run folder {run_dir}: "
                          f"{error.strerror or error}") from None
    print(f"run {run_dir.name} ({plan.action}): {paths.shown(run_dir)}")
    write_config(run_dir, config, plan.fingerprint)
    records.write_status(run_dir, "running", run_id=run_dir.name)
    try:
        _train_and_record(config, run_dir, plan.fingerprint.scanned)
    except BaseException as error:
        _mark_failed(run_dir, error)
        raise
    return run_dir


def _mark_failed(run_dir: Path, error: BaseException) -> None:
    """Record the failure; a results folder that refuses writes keeps its last good state."""
    message = str(error).splitlines()[0] if str(error) else ""
    try:
        records.write_status(run_dir, "failed", error=f"{type(error).__name__}: {message}")
    except ThesisError:
        pass


def _remove_leftover_checkpoint(run_dir: Path) -> None:
    """A run killed after it was marked finished may still hold its checkpoint: redundant."""
    if (run_dir / "checkpoint").is_dir():
        shutil.rmtree(run_dir / "checkpoint", ignore_errors=True)


def check_config(config: TrainConfig) -> None:
    """Everything checkable before training: fields, backbone, image size, taps, dataset.

    Raises:
        ConfigError: an invalid field (the builders' own checks, e.g. an unknown backbone).
        DataError: the dataset folder does not exist.
    """
    config.validate()
    get_backbone(config.backbone)
    check_image_size(config.image_size)
    check_activation(config.activation)
    if config.taps is None:
        default_taps(config.backbone, config.modules)
    if config.data_dir is not None and not config.data_path.exists():
        raise DataError(f"dataset not found: {config.data_path} (data_dir={config.data_dir!r})")
    for name, source in config.eval_datasets.items():
        if not paths.resolve(source).exists():
            raise DataError(f"evaluation dataset {name!r} not found: {source}")


def write_config(run_dir: Path, config: TrainConfig, fingerprint: DataFingerprint) -> None:
    """``config.json``: the configuration, its identity, the data fingerprint, the setting id
    (what the seeds of one network share) and the environment."""
    files.write_json(run_dir / "config.json", {
        "run_id": run_dir.name,
        "config_run_id": config.run_id(fingerprint.value),
        "setting_id": config.setting_id(fingerprint.value),
        "dataset_name": config.name_of_dataset,
        "data_path": str(config.data_path),
        "data_fingerprint": fingerprint.as_dict(),
        "config": config.to_dict(),
        "identity": config.identity(fingerprint.value),
        "environment": records.environment_info(),
    })


# --- data


def prepare_frames(config: TrainConfig, run_dir: Path,
                   scanned: tuple[ScanResult, str] | None = None,
                   ) -> tuple[list[str], dict[str, pd.DataFrame]]:
    """The class names and the train/val/test frames, saving the split to ``split.csv`` and
    everything left out (unreadable files, labels outside the scheme, duplicate copies...) to
    ``skipped.csv``.

    A resumed run reads its own ``split.csv`` back, so it trains on exactly the same images.
    ``scanned`` is the scan of the run's data fingerprint: a run scans its dataset once.
    """

    source = ensure_dataset(config)
    if not source.exists():
        raise DataError(f"dataset not found: {source}")
    split_path = run_dir / "split.csv"
    resumed = split_path.is_file()
    split_file = split_path if resumed else config.split_file
    prepared = prepare_dataset(
        source, scheme=config.scheme, ratios=config.split_ratios,
        seed=config.effective_split_seed, split_file=split_file, adapter=config.adapter,
        min_side=config.min_side,
        # A split file is used as it is; duplicates are dropped before a new split only.
        deduplicate=config.deduplicate and split_file is None, scanned=scanned,
    )
    frames = {name: _subsample(prepared.frames[name], config.max_images,
                               config.effective_split_seed) for name in SPLITS}
    if not resumed:
        used_paths = set(pd.concat(frames.values())["path"])
        used = dataclasses.replace(
            prepared, manifest=prepared.manifest[prepared.manifest["path"].isin(used_paths)])
        files.atomic_write(split_path, used.save_split)
        files.write_csv(run_dir / "skipped.csv", prepared.skipped)
        if prepared.duplicates is not None:
            files.write_csv(run_dir / "duplicates.csv", prepared.duplicates)
            # Copies filed under different classes: dropped (every copy), and listed here.
            files.write_csv(run_dir / "conflicts.csv", prepared.conflicts)
    for name in ("train", "val"):
        if len(frames[name]) == 0:
            raise DataError(f"{source}: the {name} split is empty; "
                            f"check split_ratios {config.split_ratios} and the dataset size")
    return list(prepared.class_names), frames


def _subsample(frame: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    if limit is None or len(frame) <= limit:
        return frame.reset_index(drop=True)
    return frame.sample(n=limit, random_state=seed).sort_index().reset_index(drop=True)


def training_data(config: TrainConfig, frame: pd.DataFrame, num_classes: int, *,
                  epochs: tuple[int, int]):
    """The training batches of ``epochs = (first, stop)``, one epoch after the other."""
    from thesis_lib.data.pipeline import make_dataset

    return make_dataset(
        frame["path"].tolist(), frame["label_index"].to_numpy(), num_classes=num_classes,
        image_size=config.image_size, batch_size=config.batch_size, training=True,
        augment=config.augment, randaugment_ops=config.randaugment_ops,
        randaugment_magnitude=config.randaugment_magnitude, resize=config.resize,
        cache=config.cache, seed=config.seed, deterministic=config.deterministic,
        balanced=config.balanced, decoders=evaluate.decoders_of(frame), epochs=epochs,
    )


def validation_data(config: TrainConfig, frame: pd.DataFrame, num_classes: int):
    """The validation batches, in file order."""
    from thesis_lib.data.pipeline import make_dataset

    return make_dataset(
        frame["path"].tolist(), frame["label_index"].to_numpy(), num_classes=num_classes,
        image_size=config.image_size, batch_size=config.batch_size, training=False,
        resize=config.resize, cache=config.cache, seed=config.seed,
        deterministic=config.deterministic, decoders=evaluate.decoders_of(frame),
    )


def epoch_steps(config: TrainConfig, frame: pd.DataFrame) -> int:
    from thesis_lib.data.pipeline import steps_per_epoch

    return steps_per_epoch(frame["label_index"].to_numpy(), config.batch_size,
                           balanced=config.balanced)


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


@dataclass
class Networks:
    """The model ``fit`` trains and the network a run exports.

    Args:
        model: what is trained and checkpointed: the network itself, or, with the
            contrastive-center loss, the training model around it (which also holds the class
            centers; ``thesis_lib.models.contrastive``).
        network: the network, image -> probabilities, sharing ``model``'s weights; saved as
            ``model.keras`` and used for testing.
        contrastive: the contrastive-center training wrapper, or ``None``.
    """

    model: Any
    network: Any
    contrastive: Any = None


def build_compiled_model(config: TrainConfig, num_classes: int, *, steps_per_epoch: int,
                         frozen: bool) -> Networks:
    """Build the network (and its contrastive-center training model when the loss is on) and
    compile it for the phase (backbone frozen or not)."""
    import keras

    from thesis_lib.models import build_model, with_contrastive_center

    previous_policy = keras.mixed_precision.global_policy()
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        network = build_model(
            config.variant, backbone=config.backbone, num_classes=num_classes,
            image_size=config.image_size, modules=config.modules, taps=config.taps,
            pairs=config.pairs, activation=config.activation, weights=config.weights,
            dropout=config.dropout,
        )
        networks = Networks(network, network)
        if config.contrastive_center_weight > 0:
            contrastive = with_contrastive_center(
                network, num_classes, weight=config.contrastive_center_weight,
                delta=config.contrastive_center_delta,
                inter_weight=config.contrastive_center_inter_weight,
                center_lr=config.contrastive_center_lr,
                reduction=config.contrastive_center_reduction,
            )
            networks = Networks(contrastive.model, network, contrastive)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    compile_for_phase(networks, config, steps_per_epoch=steps_per_epoch, frozen=frozen)
    return networks


def compile_for_phase(networks: Networks, config: TrainConfig, *, steps_per_epoch: int,
                      frozen: bool) -> None:
    """Compile with a fresh optimizer; while ``frozen`` only the new layers train.

    The frozen phase (the first ``freeze_backbone_epochs``) uses the constant learning rate;
    the warm-up and the schedule apply to the epochs after it.
    """
    import keras

    model = networks.model
    set_backbone_trainable(model, not frozen)
    schedule_epochs = config.epochs - config.freeze_backbone_epochs
    if frozen:
        learning_rate: Any = config.learning_rate
    else:
        learning_rate = learning_rate_schedule(config, steps_per_epoch, schedule_epochs)
    cross_entropy = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    # A metric object (not the string "accuracy") and an optimizer built here create their
    # variables before fit traces the train step; otherwise TensorFlow traces the whole
    # network twice (once to create them), which is half a minute on a CPU.
    metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
    if networks.contrastive is None:
        losses = {"loss": cross_entropy, "metrics": metrics}
    else:
        losses = networks.contrastive.compile_arguments(cross_entropy=cross_entropy,
                                                        metrics=metrics)
    model.compile(optimizer=make_optimizer(config, learning_rate),
                  jit_compile=config.jit_compile, **losses)
    model.optimizer.build(model.trainable_variables)


def for_training_model(dataset, networks: Networks, class_weight: dict[int, float] | None):
    """Batches of (images, one-hot labels) in the form ``networks.model`` trains on.

    Keras takes ``class_weight`` only for single-output models; the contrastive-center
    training model gets the same weights as per-sample weights of both loss terms.
    """
    if networks.contrastive is None:
        return dataset
    import tensorflow as tf

    batch = networks.contrastive.batch
    if class_weight is None:
        return dataset.map(batch)
    weights = tf.constant([class_weight[index] for index in sorted(class_weight)], tf.float32)
    return dataset.map(lambda images, labels: batch(
        images, labels, tf.gather(weights, tf.argmax(labels, axis=-1))))


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


def _train_and_record(config: TrainConfig, run_dir: Path,
                      scanned: tuple[ScanResult, str] | None) -> None:
    class_names, frames = prepare_frames(config, run_dir, scanned)
    try:
        _train_and_evaluate(config, run_dir, class_names, frames)
    except Exception as error:
        problem = _input_problem(error, frames)
        if problem is None:
            raise
        raise DataError(problem) from None


def _train_and_evaluate(config: TrainConfig, run_dir: Path, class_names: list[str],
                        frames: dict[str, pd.DataFrame]) -> None:
    from thesis_lib.training.callbacks import (
        EpochCheckpoint,
        load_checkpoint,
        load_state,
        restore_random_state,
    )

    strategy = set_up_execution(config)
    records.write_status(run_dir, "running", replicas=strategy.num_replicas_in_sync,
                         new_attempt=False)
    val_data = validation_data(config, frames["val"], len(class_names))
    steps_per_epoch = epoch_steps(config, frames["train"])
    state = load_state(run_dir / "checkpoint")
    first_epoch = 0 if state is None else state["epoch"] + 1
    if state is not None:
        print(f"resuming after epoch {state['epoch']} (of {config.epochs})")
    checkpoint = EpochCheckpoint(run_dir, state)

    phases = [("frozen", 0, config.freeze_backbone_epochs),
              ("full", config.freeze_backbone_epochs, config.epochs)]
    # A resumed run first rebuilds the phase its checkpoint was saved in (same optimizer).
    current = state["phase"] if state else ("frozen" if config.freeze_backbone_epochs else "full")
    class_weight = None
    if config.class_weighting:
        from thesis_lib.data.pipeline import class_weights

        class_weight = class_weights(frames["train"]["label_index"].to_numpy(), len(class_names))
    with strategy.scope():
        networks = build_compiled_model(config, len(class_names),
                                        steps_per_epoch=steps_per_epoch,
                                        frozen=current == "frozen")
        if state is not None:
            load_checkpoint(networks.model, run_dir / "checkpoint" / state["weights"])
            restore_random_state(networks.model, state)
        val_data = for_training_model(val_data, networks, None)
        for phase, start, end in phases:
            if end <= max(start, first_epoch):
                continue
            if phase != current:
                compile_for_phase(networks, config, steps_per_epoch=steps_per_epoch,
                                  frozen=phase == "frozen")
                current = phase
            checkpoint.phase = phase
            initial_epoch = max(start, first_epoch)
            train_data = training_data(config, frames["train"], len(class_names),
                                       epochs=(initial_epoch, end))
            _fit(networks, config, for_training_model(train_data, networks, class_weight),
                 val_data, run_dir, checkpoint, initial_epoch=initial_epoch, epochs=end,
                 steps_per_epoch=steps_per_epoch, class_weight=class_weight)
    if checkpoint.best_model is None:
        raise ThesisError(f"{run_dir}: no completed epoch to evaluate")
    finish_record(networks, config, run_dir, checkpoint, class_names, frames)




def _fit(networks: Networks, config, train_data, val_data, run_dir, checkpoint, *,
         initial_epoch: int, epochs: int, steps_per_epoch: int,
         class_weight: dict[int, float] | None) -> None:
    import keras

    from thesis_lib.training.callbacks import EpochDelay

    callbacks = [checkpoint]
    if importlib.util.find_spec("tensorboard") is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard"),
                                                     write_graph=False))
    else:
        print("tensorboard is not installed: no TensorBoard logs for this run")
    if config.epoch_delay_s:
        callbacks.append(EpochDelay(config.epoch_delay_s))
    # The training data holds exactly the batches of these epochs, one after the other;
    # ``steps_per_epoch`` makes Keras read them as one stream (no restart per epoch).
    networks.model.fit(
        train_data, validation_data=val_data, epochs=epochs, initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=config.verbose,
        shuffle=False,
        # The contrastive-center model carries the class weights in its batches.
        class_weight=class_weight if networks.contrastive is None else None,
    )


def _input_problem(error: Exception, frames: dict[str, pd.DataFrame]) -> str | None:
    """A one-line description when training or testing stopped because an image file changed
    or broke after the scan; ``None`` for any other error (a bug: its traceback helps)."""
    import tensorflow as tf

    if not isinstance(error, tf.errors.OpError):
        return None
    used = pd.concat([frames[name] for name in SPLITS], ignore_index=True)
    for row in used.itertuples(index=False):
        path = Path(row.path)
        if not path.is_file():
            return f"{path}: the image file disappeared during training; rescan the dataset"
        if "size_bytes" in used.columns and path.stat().st_size != int(row.size_bytes):
            return (f"{path}: the image file changed during training (size "
                    f"{path.stat().st_size} bytes, {int(row.size_bytes)} when scanned); "
                    "rescan the dataset")
    first_line = (error.message or str(error)).strip().splitlines()[0]
    return f"reading the images failed: {first_line}"


def finish_record(networks: Networks, config: TrainConfig, run_dir: Path, checkpoint,
                  class_names: list[str], frames: dict[str, pd.DataFrame]) -> None:
    """Best model -> ``model.keras``; test and extra datasets -> metrics and predictions; then
    the run is marked finished, and only then is its checkpoint removed.

    Every step rewrites its files atomically and the checkpoint stays until the run is marked
    finished, so a run killed anywhere in here resumes by doing this again (no epoch is
    retrained, ``history.csv`` is left as it is).
    """
    import keras

    from thesis_lib.training.callbacks import load_checkpoint

    load_checkpoint(networks.model, run_dir / "checkpoint" / checkpoint.best_model,
                    optimizer=False)
    # A fresh, uncompiled copy of the network (which shares the trained model's weights):
    # model.keras holds it without the optimizer state and without the class centers.
    best = keras.models.clone_model(networks.network)
    best.set_weights(networks.network.get_weights())
    files.atomic_write(run_dir / "model.keras", best.save)
    probabilities = evaluate.predict(best, frames["test"], num_classes=len(class_names),
                                     image_size=config.image_size,
                                     batch_size=config.batch_size, resize=config.resize)
    labels = frames["test"]["label_index"].to_numpy()
    split_metrics = evaluate.compute_metrics(labels, probabilities, class_names,
                                             scheme=config.scheme)
    metrics = evaluate.metrics_record(split_metrics, checkpoint.best_epoch)
    metrics["dataset"] = config.name_of_dataset
    metrics.update(evaluate.calibration_record(best, frames["val"], config.to_dict(), class_names,
                                               labels, probabilities))
    predictions = evaluate.predictions_frame(frames["test"], probabilities, class_names,
                                             dataset="test", split="test")
    files.write_csv(run_dir / "predictions.csv", predictions)
    files.write_json(run_dir / "metrics.json", metrics)
    for name, source in config.eval_datasets.items():
        evaluate.evaluate_dataset(run_dir, best, config.to_dict(), class_names, name, source)
    records.write_status(run_dir, "finished", peak_memory_gb=records.peak_memory_gb())
    shutil.rmtree(run_dir / "checkpoint", ignore_errors=True)


def history(run_dir: str | os.PathLike) -> pd.DataFrame:
    """The run's ``history.csv`` (one row per completed epoch)."""
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        raise ThesisError(f"{run_dir} has no history.csv yet")
    return pd.read_csv(path)

"""One Keras-on-JAX measurement of the GPU benchmark (see ``bench.py``), in its own process.

    python benchmarks/gpu/keras_worker.py ITEM_FILE RESULT_FILE LOCK_FILE

``keras`` items time Keras' own JAX training step (``Trainer.train_step``, jitted with the
state donated, exactly as ``fit`` jits it) on one batch that lives on the GPU, so the number is
the network's training speed with nothing else in the way. The step is traced and lowered
without the GPU lock (work for the CPU), then compiled ahead of time under the lock
(``jax.jit(...).lower(...).compile()``: XLA's autotuning runs candidate kernels on the GPU, and
would disturb another item's timing and be disturbed by it), so the compile time is reported
apart and no timed step pays for it. Each timed step is waited for (``jax.block_until_ready``)
and the median is taken; a second, pipelined pass (no wait between steps, as ``fit`` runs)
checks the first.

``fit`` items train a network with ``keras.Model.fit`` on uint8 images held in host memory:
the ordinary training path, host-to-device copies included, with a learnable signal in the
images (one class is brighter) so that the loss must fall.
"""

from __future__ import annotations

import os
import sys
import time
from importlib import metadata
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
from common import (  # noqa: E402
    LEARNING_RATE,
    NUM_CLASSES,
    GpuLock,
    Item,
    error_result,
    parse_network,
    timing_record,
    worker_arguments,
    write_result,
)

POLICIES = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
# The timed loop stops early after this many seconds (a slow configuration on a tight budget).
MAX_TIMED_S = 20.0
# Batches per epoch of a ``fit`` item (its images are this many batches, held in host memory).
FIT_BATCHES_PER_EPOCH = 12


def build_and_compile(item: Item, metrics: list[str] | None = None):
    """The item's thesis network under its mixed-precision policy, compiled with XLA."""
    import keras

    from thesis_lib.models import build_model

    keras.mixed_precision.set_global_policy(POLICIES[item.precision])
    model = build_model(
        **parse_network(item.network),
        backbone=item.backbone,
        image_size=item.image_size,
        num_classes=NUM_CLASSES,
        weights=None,
    )
    # Under mixed_float16, compile wraps the optimizer in a LossScaleOptimizer by itself.
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss="categorical_crossentropy",
        metrics=metrics,
        jit_compile=True,
    )
    return model


def model_facts(model) -> dict[str, Any]:
    """Size, FLOPs and the dtypes that matter under mixed precision."""
    import keras

    from thesis_lib.layers import GramMatrix, PairwiseGram
    from thesis_lib.models import count_flops

    gram_layers = [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, GramMatrix | PairwiseGram)
    ]
    return {
        "model": model.name,
        "params": int(model.count_params()),
        "forward_flops_per_image": int(count_flops(model)),
        "dtype_policy": keras.config.dtype_policy().name,
        "optimizer": type(model.optimizer).__name__,
        "gram_layers": len(gram_layers),
        "gram_compute_dtypes": sorted({layer.compute_dtype for layer in gram_layers}),
        "output_dtype": str(model.output.dtype),
    }


def device_batch(item: Item):
    """A random batch made on the device: images 0..255 (float32) and one-hot labels."""
    import jax

    image_key, label_key = jax.random.split(jax.random.key(0))
    shape = (item.batch_size, item.image_size, item.image_size, 3)
    images = jax.random.uniform(image_key, shape, minval=0.0, maxval=255.0)
    classes = jax.random.randint(label_key, (item.batch_size,), 0, NUM_CLASSES)
    labels = jax.nn.one_hot(classes, NUM_CLASSES, dtype="float32")
    return jax.block_until_ready((images, labels))


def keras_train_step(model, data):
    """Keras' JAX training step, jitted as ``fit`` jits it, and the model's state for it.

    ``_symbolic_build`` and ``_get_jax_state`` are what ``fit`` and ``train_on_batch`` call
    first; they build the optimizer and metrics and collect every variable's value.
    """
    import jax

    model._symbolic_build(data_batch=data)
    state = model._get_jax_state(
        trainable_variables=True,
        non_trainable_variables=True,
        optimizer_variables=True,
        metrics_variables=True,
    )
    return jax.jit(model.train_step, donate_argnums=0), state


def peak_memory() -> dict[str, Any]:
    """Peak and limit of this process' GPU memory (JAX's allocator), if the device reports it."""
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    return {
        "peak_bytes": stats.get("peak_bytes_in_use"),
        "bytes_limit": stats.get("bytes_limit"),
    }


def measure_throughput(item: Item, lock: GpuLock) -> dict[str, Any]:
    """Compile the item's training step ahead of time, then time it under the GPU lock."""
    import jax

    start = time.perf_counter()
    model = build_and_compile(item)
    data = device_batch(item)
    step, state = keras_train_step(model, data)
    facts = model_facts(model)
    build_s = time.perf_counter() - start

    start = time.perf_counter()
    lowered = step.lower(state, data)
    lower_s = time.perf_counter() - start

    with lock.hold() as waited_s:
        window = [time.time()]
        start = time.perf_counter()
        compiled = lowered.compile()
        compile_s = time.perf_counter() - start
        for _ in range(item.warmup):
            logs, state = compiled(state, data)
            float(logs["loss"])  # waits for the step
        step_times: list[float] = []
        stop_at = time.perf_counter() + MAX_TIMED_S
        for _ in range(item.steps):
            started = time.perf_counter()
            logs, state = compiled(state, data)
            # All outputs of one executable are ready together; the loss is the cheapest wait.
            jax.block_until_ready(logs["loss"])
            step_times.append(time.perf_counter() - started)
            if time.perf_counter() > stop_at:
                break
        pipelined_steps = max(2, len(step_times) // 2)
        started = time.perf_counter()
        for _ in range(pipelined_steps):
            logs, state = compiled(state, data)
        jax.block_until_ready(state)
        pipelined_s = (time.perf_counter() - started) / pipelined_steps
        window.append(time.time())

    final_loss = float(logs["loss"])
    return {
        "status": "ok" if np.isfinite(final_loss) else "error",
        **({} if np.isfinite(final_loss) else {"reason": f"loss is {final_loss}"}),
        **facts,
        "lower_s": round(lower_s, 2),
        **timing_record(build_s=build_s, compile_s=compile_s, waited_s=waited_s, window=window,
                        step_times=step_times, batch_size=item.batch_size,
                        pipelined_steps=pipelined_steps, pipelined_s=pipelined_s,
                        final_loss=final_loss),
        **peak_memory(),
    }


def host_dataset(item: Item, batches: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images in host memory with a learnable signal: class 1 is brighter."""
    rng = np.random.default_rng(0)
    count = batches * item.batch_size
    classes = np.arange(count) % NUM_CLASSES
    shape = (count, item.image_size, item.image_size, 3)
    images = rng.integers(0, 176, size=shape, dtype=np.uint8)
    images += (classes * 80).astype(np.uint8)[:, None, None, None]
    labels = np.eye(NUM_CLASSES, dtype="float32")[classes]
    return images, labels


def measure_fit(item: Item, lock: GpuLock) -> dict[str, Any]:
    """``fit`` for ``item.steps`` steps on host-memory images; time per epoch after compiling."""
    import keras

    start = time.perf_counter()
    model = build_and_compile(item, metrics=["accuracy"])
    facts = model_facts(model)
    batches = min(FIT_BATCHES_PER_EPOCH, item.steps)
    images, labels = host_dataset(item, batches)
    epochs = max(2, item.steps // batches)
    build_s = time.perf_counter() - start

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None) -> None:
            # Keras turns the logs into Python numbers here: the epoch's steps have finished.
            self.seconds.append(time.perf_counter() - self._start)

    timer = EpochTimer()
    with lock.hold() as waited_s:
        window = [time.time()]
        # One step on the first batch compiles the training function (cached for the real fit).
        start = time.perf_counter()
        first = slice(0, item.batch_size)
        model.fit(images[first], labels[first], batch_size=item.batch_size, epochs=1, verbose=0)
        compile_s = time.perf_counter() - start
        history = model.fit(
            images,
            labels,
            batch_size=item.batch_size,
            epochs=epochs,
            shuffle=True,
            verbose=0,
            callbacks=[timer],
        )
        window.append(time.time())

    losses = [float(value) for value in history.history["loss"]]
    accuracies = [float(value) for value in history.history["accuracy"]]
    epoch_s = float(np.median(timer.seconds))
    images_per_epoch = batches * item.batch_size
    # Trained: finite losses, and the later half of the epochs below the first one.
    later = losses[len(losses) // 2:]
    trained = bool(np.all(np.isfinite(losses)) and np.mean(later) < losses[0])
    return {
        "status": "ok" if trained else "error",
        **({} if trained else {"reason": f"the loss did not fall: {losses}"}),
        **facts,
        "host_images": f"uint8 numpy, {images.nbytes / 2**20:.0f} MiB in host memory",
        "build_s": round(build_s, 2),
        "compile_s": round(compile_s, 2),
        "lock_wait_s": round(waited_s, 2),
        "gpu_window": window,
        "epochs": epochs,
        "steps": epochs * batches,
        "median_epoch_s": round(epoch_s, 4),
        "epoch_times_s": [round(t, 4) for t in timer.seconds],
        "images_per_s": round(images_per_epoch / epoch_s, 1),
        "loss_per_epoch": [round(value, 5) for value in losses],
        "accuracy_per_epoch": [round(value, 4) for value in accuracies],
        **peak_memory(),
    }


def versions() -> dict[str, Any]:
    """Versions of the packages measured, and the device JAX ran on."""
    import jax

    found: dict[str, Any] = {}
    for package in ("jax", "jaxlib", "keras", "numpy"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    device = jax.devices()[0]
    found["device"] = f"{device.platform}: {device.device_kind}"
    return found


def main(argv: list[str]) -> int:
    item, result_file, lock = worker_arguments(argv)
    try:
        measure = measure_fit if item.kind == "fit" else measure_throughput
        result = measure(item, lock)
        result["versions"] = versions()
    except Exception as error:  # recorded in the benchmark's JSON, as the item's outcome
        result = error_result(error)
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    write_result(result_file, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""What the parts of the GPU benchmark share: the work items, the GPU lock and step statistics.

Every measurement is one ``Item``, run in a process of its own (``keras_worker.py`` or
``timm_worker.py``), so that its peak GPU memory is its own and a crash or an out-of-memory
error ends that item alone. A worker builds its network and traces its training step without
the GPU lock (work for the CPU, done side by side with other items), then takes the lock to
compile and time it: compilation runs candidate kernels on the GPU (XLA's autotuning, cuDNN's
trials), which would disturb the timing of another item, and be disturbed by it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import re
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Short names of the backbones in item labels, and the timm model of the same architecture.
BACKBONE_SHORT = {"EfficientNetV2B0": "B0", "EfficientNetV2B2": "B2", "EfficientNetV2S": "S"}
TIMM_MODELS = {
    "EfficientNetV2B0": "tf_efficientnetv2_b0",
    "EfficientNetV2B2": "tf_efficientnetv2_b2",
    "EfficientNetV2S": "tf_efficientnetv2_s",
}
PRECISION_SHORT = {"bfloat16": "bf16", "float16": "fp16"}
# Classes of the benchmarked networks: the thesis' sadness task (the cost hardly depends on it).
NUM_CLASSES = 2
LEARNING_RATE = 1e-4


@dataclass(frozen=True)
class Item:
    """One measurement, run in its own process.

    Args:
        kind: ``"keras"`` (training throughput of a thesis network, data on the GPU),
            ``"fit"`` (``keras.Model.fit`` on images fed from host memory) or ``"timm"``
            (the same backbone in timm / PyTorch).
        backbone: the Keras backbone name, e.g. ``"EfficientNetV2B2"``.
        image_size: side of the square input images in pixels.
        network: ``"baseline"``, ``"gram2"``..``"gram4"``, ``"gramnet4"`` or ``"pairwise3"``
            (a timm item measures the backbone with a linear classifier: ``"baseline"``).
        precision: the half type of mixed precision, ``"bfloat16"`` or ``"float16"``.
        batch_size: images per training step.
        compiler: ``"xla"`` (Keras on JAX, jit_compile), ``"eager"`` or ``"inductor"``
            (PyTorch eager or ``torch.compile``).
        steps: timed training steps (``fit``: the total number of steps).
        warmup: untimed steps after compilation, before the timed ones.
    """

    kind: str
    backbone: str
    image_size: int
    network: str
    precision: str
    batch_size: int
    compiler: str
    steps: int
    warmup: int

    @property
    def name(self) -> str:
        """A unique, readable label, e.g. ``keras/B2-256/gram4/bf16/b256``."""
        backbone = BACKBONE_SHORT.get(self.backbone, self.backbone)
        parts = [
            self.kind if self.kind != "timm" else f"timm-{self.compiler}",
            f"{backbone}-{self.image_size}",
            self.network,
            PRECISION_SHORT.get(self.precision, self.precision),
            f"b{self.batch_size}",
        ]
        return "/".join(parts)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Item:
        return cls(**json.loads(text))


def parse_network(network: str) -> dict[str, Any]:
    """``build_model`` arguments of a network name.

    ``"gram4"`` -> ``{"variant": "gram", "modules": 4}``; ``"baseline"`` -> modules 0; a suffix
    ``k<K>`` sets the Gram modules' reduction kernel, e.g. ``"gram4k1"`` (1x1 convolutions).
    """
    match = re.fullmatch(r"(baseline|gramnet|gram|pairwise)(\d*)(?:k(\d+))?", network)
    if not match or (match.group(1) == "baseline") != (match.group(2) == ""):
        raise ValueError(f"unknown network {network!r} (baseline, gram4, gram4k1, pairwise3)")
    variant, modules, kernel = match.groups()
    arguments: dict[str, Any] = {"variant": variant, "modules": int(modules or 0)}
    if kernel:
        arguments["gram_kernel_size"] = int(kernel)
    return arguments


@dataclass(frozen=True)
class GpuLock:
    """The benchmark's GPU lock (an exclusive ``flock`` on ``path``), one worker at a time.

    A worker holds it to compile and to time, the parts that run on the GPU; the lock goes
    with the process, also when it is killed. On taking it, the worker touches ``marker``, so
    that the scheduler counts an item's time limit from then, not from its start.
    """

    path: Path
    marker: Path

    @contextlib.contextmanager
    def hold(self) -> Iterator[float]:
        """Hold the lock; yields the seconds spent waiting for it."""
        start = time.perf_counter()
        with open(self.path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self.marker.touch()
            try:
                yield time.perf_counter() - start
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def worker_arguments(argv: list[str]) -> tuple[Item, Path, GpuLock]:
    """A worker's command line, ``ITEM_FILE RESULT_FILE LOCK_FILE``: the item, where its result
    goes, and the GPU lock (its marker beside the result: ``RESULT_FILE`` + ``.gpu``)."""
    item_file, result_file, lock_file = argv
    result = Path(result_file)
    lock = GpuLock(Path(lock_file), result.with_name(result.name + ".gpu"))
    return Item.from_json(Path(item_file).read_text()), result, lock


def step_statistics(step_times: Sequence[float], batch_size: int) -> dict[str, Any]:
    """Median, spread and images per second of timed training steps (seconds each)."""
    if not step_times:
        return {"timed_steps": 0}
    ordered = sorted(step_times)
    median = statistics.median(ordered)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [median] * 3
    return {
        "timed_steps": len(ordered),
        "median_step_s": round(median, 6),
        "min_step_s": round(ordered[0], 6),
        "iqr_step_s": round(quartiles[2] - quartiles[0], 6),
        "images_per_s": round(batch_size / median, 1),
        "step_times_s": [round(t, 6) for t in step_times],
    }


def timing_record(*, build_s: float, compile_s: float, waited_s: float, window: list[float],
                  step_times: Sequence[float], batch_size: int, pipelined_steps: int,
                  pipelined_s: float, final_loss: float) -> dict[str, Any]:
    """The timing fields every throughput item records, Keras's and timm's alike."""
    return {
        "build_s": round(build_s, 2),
        "compile_s": round(compile_s, 2),
        "lock_wait_s": round(waited_s, 2),
        "gpu_window": window,
        **step_statistics(step_times, batch_size),
        "pipelined_steps": pipelined_steps,
        "pipelined_step_s": round(pipelined_s, 6),
        "pipelined_images_per_s": round(batch_size / pipelined_s, 1),
        "final_loss": final_loss,
    }


def is_out_of_memory(error: BaseException) -> bool:
    """Whether an exception from JAX/XLA or PyTorch says the GPU memory ran out."""
    text = f"{type(error).__name__}: {error}"
    return any(
        marker in text
        for marker in ("RESOURCE_EXHAUSTED", "Out of memory", "OutOfMemory", "out of memory")
    )


def finite(value: float) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def write_result(path: str | Path, result: dict[str, Any]) -> None:
    """Write one worker's result (the orchestrator reads it when the worker has exited)."""
    Path(path).write_text(json.dumps(result, indent=1, default=str))


def error_result(error: BaseException) -> dict[str, Any]:
    """The result of an item that failed: ``"oom"`` or ``"error"`` with the message."""
    message = f"{type(error).__name__}: {error}"
    status = "oom" if is_out_of_memory(error) else "error"
    return {"status": status, "reason": message[:3000]}

"""One timm / PyTorch measurement of the GPU benchmark (see ``bench.py``), in its own process.

    python benchmarks/gpu/timm_worker.py ITEM_FILE RESULT_FILE LOCK_FILE

The peer of a ``keras`` item: the same EfficientNetV2 architecture from timm
(``tf_efficientnetv2_b2``, ``tf_efficientnetv2_s``; random weights) with a linear classifier,
trained the usual fast way in PyTorch: automatic mixed precision (``torch.autocast``, with a
``GradScaler`` for float16), channels-last memory layout, cuDNN autotuning, fused Adam, and
optionally ``torch.compile``. Timed like the Keras items, all under the GPU lock: untimed first
steps (compilation, cuDNN's trials of its algorithms, both of which run on the GPU), then steps
each waited for (``torch.cuda.synchronize``), median.
"""

from __future__ import annotations

import sys
import time
from importlib import metadata
from typing import Any

from common import (
    LEARNING_RATE,
    NUM_CLASSES,
    TIMM_MODELS,
    GpuLock,
    Item,
    error_result,
    timing_record,
    worker_arguments,
    write_result,
)

# Untimed first steps: torch.compile compiles the forward and backward graphs in the first,
# cuDNN tries its algorithms in the first of each shape.
FIRST_STEPS = 2
MAX_TIMED_S = 20.0


class Skipped(Exception):
    """The item cannot run here (no PyTorch, timm or CUDA device); not a failure."""


def measure(item: Item, lock: GpuLock) -> dict[str, Any]:
    try:
        import timm
        import torch
    except ImportError as error:
        raise Skipped(f"PyTorch / timm not installed: {error}") from error
    if not torch.cuda.is_available():
        raise Skipped("PyTorch sees no CUDA device")

    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    start = time.perf_counter()
    model = timm.create_model(
        TIMM_MODELS[item.backbone], pretrained=False, num_classes=NUM_CLASSES
    ).to(device, memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, fused=True)
    scaler = torch.amp.GradScaler("cuda", enabled=item.precision == "float16")
    half = getattr(torch, item.precision)
    images = torch.randn(item.batch_size, 3, item.image_size, item.image_size, device=device)
    images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, NUM_CLASSES, (item.batch_size,), device=device)
    loss_function = torch.nn.CrossEntropyLoss()
    network = torch.compile(model) if item.compiler == "inductor" else model
    params = sum(parameter.numel() for parameter in model.parameters())
    build_s = time.perf_counter() - start

    def train_step() -> torch.Tensor:
        with torch.autocast("cuda", dtype=half):
            loss = loss_function(network(images), labels)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return loss

    with lock.hold() as waited_s:
        window = [time.time()]
        start = time.perf_counter()
        for _ in range(FIRST_STEPS):
            train_step()
        torch.cuda.synchronize()
        compile_s = time.perf_counter() - start
        for _ in range(item.warmup):
            train_step()
        torch.cuda.synchronize()
        step_times: list[float] = []
        stop_at = time.perf_counter() + MAX_TIMED_S
        for _ in range(item.steps):
            started = time.perf_counter()
            loss = train_step()
            torch.cuda.synchronize()
            step_times.append(time.perf_counter() - started)
            if time.perf_counter() > stop_at:
                break
        pipelined_steps = max(2, len(step_times) // 2)
        started = time.perf_counter()
        for _ in range(pipelined_steps):
            loss = train_step()
        torch.cuda.synchronize()
        pipelined_s = (time.perf_counter() - started) / pipelined_steps
        window.append(time.time())

    final_loss = loss.item()
    return {
        "status": "ok",
        "model": TIMM_MODELS[item.backbone],
        "params": int(params),
        "optimizer": "Adam (fused)",
        "memory_format": "channels_last",
        **timing_record(build_s=build_s, compile_s=compile_s, waited_s=waited_s, window=window,
                        step_times=step_times, batch_size=item.batch_size,
                        pipelined_steps=pipelined_steps, pipelined_s=pipelined_s,
                        final_loss=final_loss),
        # The process' peak since it started (first steps and cuDNN's trials included), as the
        # JAX figure of a Keras item.
        "peak_bytes": int(torch.cuda.max_memory_allocated()),
        "peak_reserved_bytes": int(torch.cuda.max_memory_reserved()),
        "versions": {
            name: _version(name) for name in ("torch", "timm", "triton")
        }
        | {"device": torch.cuda.get_device_name()},
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def main(argv: list[str]) -> int:
    item, result_file, lock = worker_arguments(argv)
    try:
        result = measure(item, lock)
    except Skipped as reason:
        result = {"status": "skipped", "reason": str(reason)}
    except Exception as error:  # recorded in the benchmark's JSON, as the item's outcome
        result = error_result(error)
    write_result(result_file, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

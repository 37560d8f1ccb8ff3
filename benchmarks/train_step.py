"""Training-step time of the thesis' networks, measured side by side in one process.

For each network (default: the baseline, gram with 2, 3 and 4 modules, gramnet with 4) the
script compiles the model as training does (Adam, categorical cross-entropy), runs a few
warm-up steps, then times single ``train_on_batch`` steps on a fixed random batch. The
networks take turns step by step, so a change of load on a shared machine hits them all alike
and the ratios stay fair. It writes the median and interquartile range of the step time (wall
clock, and the process' CPU time, which other programs on a shared machine disturb less), the
images per second, the ratios to the baseline and the analytic FLOPs, with the machine and the
library versions, to ``results/benchmarks/train_step.json``.

    python benchmarks/train_step.py                          # B2, 256 px, batch 16
    python benchmarks/train_step.py --backbone B0 --image-size 128 --steps 5
    KERAS_BACKEND=jax python benchmarks/train_step.py --mixed-precision --batch-size 128 \\
        --output results/benchmarks/train_step_gpu.json

An existing output file is kept unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from thesis_lib.paths import resolve

DEFAULT_NETWORKS = ("baseline", "gram2", "gram3", "gram4", "gramnet4")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default="EfficientNetV2B2")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per network")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per network")
    parser.add_argument(
        "--networks",
        nargs="+",
        default=list(DEFAULT_NETWORKS),
        help="baseline, gram<N>, gramnet<N> (N modules; a suffix kK sets the Gram modules' "
        "reduction kernel, e.g. gram4k1); the first is the reference",
    )
    parser.add_argument("--mixed-precision", action="store_true", help="mixed_float16 policy")
    parser.add_argument(
        "--jit-compile",
        choices=("auto", "true", "false"),
        default="auto",
        help="Keras' jit_compile (auto: XLA on GPU and on JAX, not with TensorFlow on CPU)",
    )
    parser.add_argument("--output", type=Path, default=Path("results/benchmarks/train_step.json"))
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    return parser.parse_args(argv)


def parse_network(name: str) -> dict:
    """``"gram4"`` -> gram with 4 modules; ``"gram4k1"`` -> the same with 1x1 reduction convs."""
    match = re.fullmatch(r"(baseline|gramnet|gram)(\d*)(?:k(\d+))?", name)
    if not match or (match.group(1) == "baseline") != (match.group(2) == ""):
        raise SystemExit(
            f"train_step.py: error: unknown network {name!r} (baseline, gram4, gram4k1, gramnet4)"
        )
    variant, modules, kernel = match.groups()
    return {
        "variant": variant,
        "modules": int(modules or 0),
        "gram_kernel_size": int(kernel or 3),
    }


def machine_info() -> dict:
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        info["load_average_1min"] = os.getloadavg()[0]
    except OSError:
        pass
    try:
        gpus = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if gpus.returncode == 0 and gpus.stdout.strip():
            info["gpus"] = gpus.stdout.strip().splitlines()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return info


def versions(backend: str) -> dict:
    packages = ["keras", "numpy", "jax" if backend == "jax" else "tensorflow"]
    found = {}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def build_networks(args: argparse.Namespace) -> dict:
    import keras

    from thesis_lib.models import build_model, count_flops

    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    networks = {}
    for name in args.networks:
        options = parse_network(name)
        model = build_model(
            options.pop("variant"),
            backbone=args.backbone,
            image_size=args.image_size,
            weights=None,
            **options,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(1e-4),
            loss="categorical_crossentropy",
            jit_compile=jit,
        )
        networks[name] = {"model": model, "flops": count_flops(model)}
    return networks


def time_steps(networks: dict, images, labels, steps: int, warmup: int) -> dict[str, dict]:
    """Per network, wall and CPU seconds of ``steps`` single training steps, taking turns."""
    for entry in networks.values():
        for _ in range(warmup):  # the first call traces and compiles the step
            entry["model"].train_on_batch(images, labels)
    times = {name: {"wall": [], "cpu": []} for name in networks}
    for _ in range(steps):
        for name, entry in networks.items():
            wall, cpu = time.perf_counter(), time.process_time()
            # train_on_batch returns the loss as a Python number: the step has finished.
            entry["model"].train_on_batch(images, labels)
            times[name]["cpu"].append(time.process_time() - cpu)
            times[name]["wall"].append(time.perf_counter() - wall)
    return times


def summarize(times: dict[str, dict], networks: dict, batch_size: int) -> dict:
    """Medians, spreads and ratios to the first network (the baseline)."""
    reference = next(iter(times.values()))
    reference_wall = float(np.median(reference["wall"]))
    reference_cpu = float(np.median(reference["cpu"]))
    results = {}
    for name, seconds in times.items():
        wall, cpu = float(np.median(seconds["wall"])), float(np.median(seconds["cpu"]))
        model = networks[name]["model"]
        results[name] = {
            "model": model.name,
            "params": int(model.count_params()),
            "forward_flops_per_image": int(networks[name]["flops"]),
            "flops_ratio_to_baseline": round(networks[name]["flops"] / _first_flops(networks), 4),
            "median_step_s": round(wall, 5),
            "iqr_step_s": round(_iqr(seconds["wall"]), 5),
            "images_per_s": round(batch_size / wall, 2),
            "ratio_to_baseline": round(wall / reference_wall, 4),
            # Process CPU time (all threads): the work a step takes, which other programs on a
            # shared machine disturb far less than the wall time.
            "median_step_cpu_s": round(cpu, 5),
            "iqr_step_cpu_s": round(_iqr(seconds["cpu"]), 5),
            "cpu_ratio_to_baseline": round(cpu / reference_cpu, 4),
            "step_times_s": [round(s, 5) for s in seconds["wall"]],
            "step_cpu_times_s": [round(s, 5) for s in seconds["cpu"]],
        }
    return results


def _first_flops(networks: dict) -> float:
    return next(iter(networks.values()))["flops"]


def _iqr(values) -> float:
    q1, q3 = np.percentile(values, [25, 75])
    return float(q3 - q1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    output = resolve(args.output)  # relative paths start at the project root
    if output.exists() and not args.overwrite:
        print(f"train_step.py: error: {output} exists; pass --overwrite to replace it")
        return 2
    for name in args.networks:
        parse_network(name)

    import keras

    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    backend = keras.backend.backend()
    started = time.perf_counter()
    networks = build_networks(args)
    rng = np.random.default_rng(0)
    size = args.image_size
    images = rng.uniform(0, 255, (args.batch_size, size, size, 3)).astype("float32")
    labels = np.eye(2, dtype="float32")[rng.integers(0, 2, args.batch_size)]
    times = time_steps(networks, images, labels, args.steps, args.warmup)
    results = summarize(times, networks, args.batch_size)

    report = {
        "benchmark": "train_step",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "machine": machine_info(),
        "versions": versions(backend),
        "backend": backend,
        "config": {
            "backbone": args.backbone,
            "image_size": size,
            "batch_size": args.batch_size,
            "steps": args.steps,
            "warmup": args.warmup,
            "mixed_precision": args.mixed_precision,
            "jit_compile": args.jit_compile,
            "optimizer": "adam",
            "reference": args.networks[0],
        },
        "total_wall_s": round(time.perf_counter() - started, 1),
        "networks": results,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    width = max(map(len, results))
    print(f"{backend}, {args.backbone}, {size} px, batch {args.batch_size} -> {output}")
    for name, row in results.items():
        print(
            f"  {name:<{width}}  step {row['median_step_s']:.3f} s "
            f"(IQR {row['iqr_step_s']:.3f})  {row['images_per_s']:8.1f} img/s  "
            f"x{row['ratio_to_baseline']:.3f}  |  CPU {row['median_step_cpu_s']:.3f} s "
            f"(IQR {row['iqr_step_cpu_s']:.3f}) x{row['cpu_ratio_to_baseline']:.3f}  |  "
            f"FLOPs x{row['flops_ratio_to_baseline']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

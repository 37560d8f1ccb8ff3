"""Training throughput of the thesis' networks on one GPU, with timm / PyTorch as the peer.

    bash benchmarks/gpu/run.sh                                   # on the GPU machine
    KERAS_BACKEND=jax python benchmarks/gpu/bench.py --tiny --output /tmp/gpu_tiny.json

What it measures (docs/gpu.md has the results and what follows from them):

* the training throughput (images/s, median of timed steps after compilation; the compile time
  apart) of the baseline, Gram-2/3/4, GramNet-4 and pairwise-3 networks on EfficientNetV2B2 at
  256 px and EfficientNetV2S at 300 px: Keras on JAX with XLA, mixed bfloat16 and float16,
  batch 64, 128 and 256, with each process' peak GPU memory;
* the same backbones in timm (PyTorch, AMP, channels-last; eager and ``torch.compile``);
* a short ``fit`` of a Gram-4 network on images fed from host memory.

Each measurement is an ``Item`` run in a worker process of its own (``keras_worker.py``,
``timm_worker.py``). The items form one list in order of importance. ``--parallel`` workers
build their networks and trace their training steps side by side (CPU work); a lock lets one
worker at a time use the GPU to compile (XLA's autotuning and cuDNN's trials run kernels on the
GPU) and then time its steps, so that no timing is disturbed by another item's compilation.
Within ``--budget-s`` seconds the list is worked off as far as it goes: an item that would not
finish in the time left is not started, one still running at the end is stopped, and both are
recorded with the reason. ``--tiny`` runs the same code on tiny images and batches, so that it
can be proved on a CPU (JAX on CPU; timm items are recorded as skipped without PyTorch).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from common import Item
from report import relative_spread, summarize

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
NETWORKS = ("baseline", "gram2", "gram3", "gram4", "gramnet4", "pairwise3")
PRECISIONS = ("bfloat16", "float16")


@dataclass(frozen=True)
class Scale:
    """Sizes of one benchmark run: the real one, or a tiny one that proves the code on a CPU."""

    backbones: tuple[tuple[str, int], ...]  # (backbone, image size)
    batches: tuple[int, ...]  # ascending; the largest is the primary batch
    steps: int
    warmup: int
    fit_steps: int


FULL = Scale((("EfficientNetV2B2", 256), ("EfficientNetV2S", 300)), (64, 128, 256), 20, 3, 192)
TINY = Scale((("EfficientNetV2B2", 64), ("EfficientNetV2S", 64)), (2, 4, 8), 3, 1, 48)


def plan_items(scale: Scale) -> list[Item]:
    """Every item of a run, most important first (the list is cut where the time runs out)."""
    primary, smaller = scale.batches[-1], sorted(scale.batches[:-1], reverse=True)
    bf16, fp16 = PRECISIONS

    def keras(backbone, network, precision=bf16, batch=primary) -> Item:
        name, size = backbone
        return Item("keras", name, size, network, precision, batch, "xla", scale.steps,
                    scale.warmup)

    def timm(backbone, compiler="eager", precision=bf16, batch=primary) -> Item:
        name, size = backbone
        return Item("timm", name, size, "baseline", precision, batch, compiler, scale.steps,
                    scale.warmup)

    items: list[Item] = []
    # 1. The questions first: Gram-4 against its baseline, and against timm, on both backbones;
    #    and training end to end from host memory.
    for backbone in scale.backbones:
        items += [keras(backbone, "baseline"), keras(backbone, "gram4"), timm(backbone)]
    b2 = scale.backbones[0]
    items.append(Item("fit", b2[0], b2[1], "gram4", bf16, primary, "xla", scale.fit_steps, 0))
    # 2. The other networks of the comparison.
    for backbone in scale.backbones:
        items += [keras(backbone, network) for network in ("gram2", "gram3", "gramnet4",
                                                           "pairwise3")]
    # The library's cheaper Gram module (1x1 reduction convolutions) on the thesis' backbone.
    items.append(keras(b2, "gram4k1"))
    # 3. float16 against bfloat16.
    for backbone in scale.backbones:
        items += [keras(backbone, "baseline", fp16), keras(backbone, "gram4", fp16),
                  timm(backbone, precision=fp16)]
    # 4. torch.compile for the peer.
    items += [timm(backbone, "inductor") for backbone in scale.backbones]
    # 5. Smaller batches.
    for batch in smaller:
        for backbone in scale.backbones:
            items += [keras(backbone, "baseline", batch=batch),
                      keras(backbone, "gram4", batch=batch), timm(backbone, batch=batch)]
    # 6. The rest of the grid.
    for backbone in scale.backbones:
        items += [keras(backbone, network, fp16) for network in NETWORKS
                  if network not in ("baseline", "gram4")]
    for batch in smaller:
        for backbone in scale.backbones:
            items += [keras(backbone, network, batch=batch) for network in NETWORKS
                      if network not in ("baseline", "gram4")]
    for backbone in scale.backbones:
        items.append(timm(backbone, "inductor", fp16))
    return items


@dataclass
class Outcome:
    """What became of one item: its worker's result plus the scheduler's bookkeeping."""

    item: Item
    status: str = "skipped"
    reason: str = ""
    launched: float | None = None  # time.time() at launch and at exit
    ended: float | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        record = {"name": self.item.name, **asdict(self.item), "status": self.status}
        if self.reason:
            record["reason"] = self.reason
        if self.launched is not None and self.ended is not None:
            record["wall_s"] = round(self.ended - self.launched, 1)
        record.update({k: v for k, v in self.result.items() if k not in ("status", "reason")})
        return record


class Scheduler:
    """Runs items in worker processes, ``parallel`` at a time, within a time budget."""

    def __init__(self, items: list[Item], *, parallel: int, budget_s: float,
                 item_timeout_s: float, default_estimate_s: float, workdir: Path) -> None:
        self.outcomes = [Outcome(item) for item in items]
        self.parallel = parallel
        self.item_timeout_s = item_timeout_s
        self.default_estimate_s = default_estimate_s
        self.workdir = workdir
        self.lock = workdir / "gpu.lock"
        self.start = time.time()
        self.deadline = self.start + budget_s
        self.running: dict[int, tuple[subprocess.Popen, Outcome]] = {}

    def estimate_s(self, item: Item) -> float:
        """How long the item will take: the longest finished item of its sort, else a default."""
        seen = [
            outcome.ended - outcome.launched
            for outcome in self.outcomes
            if outcome.ended is not None and outcome.launched is not None
            and outcome.status in ("ok", "oom")
            and (outcome.item.kind, outcome.item.compiler, outcome.item.backbone)
            == (item.kind, item.compiler, item.backbone)
        ]
        return max(seen) if seen else self.default_estimate_s

    def launch(self, index: int) -> None:
        outcome = self.outcomes[index]
        item_file = self.workdir / f"{index:03d}.item.json"
        item_file.write_text(outcome.item.to_json())
        worker = "timm_worker.py" if outcome.item.kind == "timm" else "keras_worker.py"
        log = open(self.workdir / f"{index:03d}.log", "w")  # the worker writes its own copy
        process = subprocess.Popen(
            [sys.executable, str(HERE / worker), str(item_file),
             str(self.workdir / f"{index:03d}.result.json"), str(self.lock)],
            stdout=log, stderr=subprocess.STDOUT, env=worker_environment(),
            start_new_session=True,  # its own process group, so that stop() ends all of it
        )
        log.close()
        outcome.launched = time.time()
        outcome.status = "running"
        self.running[index] = (process, outcome)
        print(f"[{self.elapsed():6.1f}s] start  {outcome.item.name}", flush=True)

    def elapsed(self) -> float:
        return time.time() - self.start

    def collect(self, index: int, process: subprocess.Popen, stopped: str = "") -> None:
        """Read the result of a worker that has exited (``stopped``: why it was killed)."""
        outcome = self.outcomes[index]
        outcome.ended = time.time()
        result_file = self.workdir / f"{index:03d}.result.json"
        if result_file.exists():
            outcome.result = json.loads(result_file.read_text())
            outcome.status = outcome.result.get("status", "error")
            outcome.reason = outcome.result.get("reason", "")
        elif stopped:
            outcome.status, outcome.reason = "killed", stopped
        else:
            outcome.status = "error"
            outcome.reason = f"worker exited with code {process.returncode} and no result; " \
                             f"log: {self.log_tail(index, 15)}"
        del self.running[index]
        rate = outcome.result.get("images_per_s")
        shown = f"{rate:,.0f} img/s" if rate else outcome.reason[:120]
        print(f"[{self.elapsed():6.1f}s] {outcome.status:<6} {outcome.item.name}: {shown}",
              flush=True)

    def stop(self, index: int, reason: str) -> None:
        process, _ = self.running[index]
        with _suppress_lookup():
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self.collect(index, process, stopped=reason)

    def gpu_held_s(self, index: int) -> float:
        """Seconds since the item's worker took the GPU lock (0 while it has not)."""
        marker = self.workdir / f"{index:03d}.result.json.gpu"
        return time.time() - marker.stat().st_mtime if marker.exists() else 0.0

    def log_tail(self, index: int, lines: int) -> str:
        path = self.workdir / f"{index:03d}.log"
        if not path.exists():
            return ""
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])

    def next_to_launch(self) -> int | None:
        """The first waiting item that fits the time left (None: nothing to start now)."""
        left = self.deadline - time.time()
        for index, outcome in enumerate(self.outcomes):
            if outcome.status != "skipped" or outcome.reason:
                continue
            if self.estimate_s(outcome.item) <= left:
                return index
        return None

    def run(self) -> None:
        while True:
            while len(self.running) < self.parallel:
                index = self.next_to_launch()
                if index is None:
                    break
                self.launch(index)
            for index, (process, _) in list(self.running.items()):
                if process.poll() is not None:
                    self.collect(index, process)
                elif time.time() > self.deadline:
                    self.stop(index, "stopped at the end of the time budget")
                elif self.gpu_held_s(index) > self.item_timeout_s:
                    self.stop(index, f"stopped after holding the GPU for {self.item_timeout_s} s")
            if not self.running and self.next_to_launch() is None:
                break
            time.sleep(0.2)
        for outcome in self.outcomes:
            if outcome.status == "skipped" and not outcome.reason:
                outcome.reason = "not started: it would not have finished within the time budget"
        self.mark_overlaps()

    def mark_overlaps(self) -> None:
        """Per item: how many others were building (CPU work; their new variables are small
        GPU writes) while it held the GPU."""
        for outcome in self.outcomes:
            window = outcome.result.get("gpu_window")
            if not window:
                continue
            preparing = 0
            for other in self.outcomes:
                if other is outcome or other.launched is None:
                    continue
                other_window = other.result.get("gpu_window")
                prepare_end = other_window[0] if other_window else other.ended
                if other.launched < window[1] and prepare_end > window[0]:
                    preparing += 1
            outcome.result["others_preparing"] = preparing


class _suppress_lookup:
    """Ignore ProcessLookupError (the worker had already gone)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        return kind is ProcessLookupError


def worker_environment() -> dict[str, str]:
    """The workers' environment: the project on the path, JAX's memory taken as needed."""
    environment = dict(os.environ)
    paths = [str(ROOT), environment.get("PYTHONPATH", "")]
    environment["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    environment.setdefault("KERAS_BACKEND", "jax")
    # Several workers share the GPU: none may take 75 % of it up front (JAX's default).
    environment.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def machine_info() -> dict[str, Any]:
    """The machine, the GPU (from nvidia-smi) and the package versions."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {},
    }
    for package in ("jax", "jaxlib", "keras", "numpy", "torch", "timm"):
        try:
            info["versions"][package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info["versions"][package] = None
    query = "name,memory.total,driver_version,clocks.max.sm,power.limit"
    try:
        smi = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        if smi.returncode == 0:
            info["gpus"] = smi.stdout.strip().splitlines()
    except (OSError, subprocess.TimeoutExpired):
        info["gpus"] = []
    return info


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true",
                        help="tiny images and batches: prove the code on a CPU")
    default_output = Path(os.environ["OUT"]) / "gpu_bench.json" if os.environ.get("OUT") \
        else ROOT / "results" / "benchmarks" / "gpu_bench.json"
    parser.add_argument("--output", type=Path, default=default_output)
    parser.add_argument("--budget-s", type=float, default=None,
                        help="seconds for the whole run (default 400; tiny 900)")
    parser.add_argument("--parallel", type=int, default=None,
                        help="workers at once (default: 3 on a GPU machine, 2 with --tiny)")
    parser.add_argument("--item-timeout-s", type=float, default=300.0,
                        help="seconds an item may hold the GPU (compilation and timing)")
    parser.add_argument("--estimate-s", type=float, default=None,
                        help="assumed duration of an item of a sort not yet seen "
                             "(default 100; tiny 60)")
    parser.add_argument("--only", default=None,
                        help="run only the items whose name matches this regular expression")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scale = TINY if args.tiny else FULL
    budget_s = args.budget_s or (900.0 if args.tiny else 400.0)
    items = plan_items(scale)
    if args.only:
        items = [item for item in items if re.search(args.only, item.name)]
    started = datetime.datetime.now(datetime.UTC)
    with tempfile.TemporaryDirectory(prefix="gpu_bench_") as workdir:
        scheduler = Scheduler(
            items,
            parallel=args.parallel or (2 if args.tiny else 3),
            budget_s=budget_s,
            item_timeout_s=args.item_timeout_s,
            default_estimate_s=args.estimate_s or (60.0 if args.tiny else 100.0),
            workdir=Path(workdir),
        )
        scheduler.run()
        logs = "\n".join(
            f"===== {outcome.item.name} ({outcome.status})\n"
            + "\n".join(scheduler.log_tail(index, 40).split(" | "))
            for index, outcome in enumerate(scheduler.outcomes)
            if outcome.launched is not None
        )
    outcomes = [outcome.to_dict() for outcome in scheduler.outcomes]
    report = {
        "benchmark": "gpu_training_throughput",
        "date": started.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "tiny" if args.tiny else "full",
        "budget_s": budget_s,
        "elapsed_s": round(scheduler.elapsed(), 1),
        "parallel": scheduler.parallel,
        "scale": asdict(scale),
        "environment": {name: os.environ.get(name) or worker_environment().get(name)
                        for name in ("KERAS_BACKEND", "XLA_PYTHON_CLIENT_PREALLOCATE",
                                     "XLA_FLAGS")},
        "machine": machine_info(),
        "summary": summarize(outcomes),
        "items": outcomes,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    args.output.with_suffix(".log").write_text(logs + "\n")
    print_summary(report)
    print(f"wrote {args.output}")
    return 0


def print_summary(report: dict[str, Any]) -> None:
    """A compact table of every item: status, images/s and spread, compile time, peak memory."""
    print(f"\n{'item':<42} {'status':<7} {'img/s':>8} {'IQR %':>6} {'compile s':>9} "
          f"{'peak GiB':>8}")
    for outcome in report["items"]:
        rate, peak = outcome.get("images_per_s"), outcome.get("peak_bytes")
        spread = relative_spread(outcome)
        print(
            f"{outcome['name']:<42} {outcome['status']:<7} "
            f"{rate if rate is not None else '-':>8} "
            f"{round(100 * spread, 1) if spread is not None else '-':>6} "
            f"{outcome.get('compile_s', '-'):>9} "
            f"{round(peak / 2**30, 1) if peak else '-':>8}"
        )
    print(json.dumps(report["summary"], indent=1))


if __name__ == "__main__":
    sys.exit(main())

"""How fast ``thesis data scan`` checks a dataset: cold (every file decoded) and cached.

Generates demo JPEGs at a realistic size (500x375, like the web photos of WEBEmo) once into a
folder, then scans it in one run: cold with one thread, cold with one per core, and
again from the cache. Writes ``results/benchmarks/dataset_scan.json`` with the rates and the
time a 61,074-image dataset (the thesis's) would take.

    python benchmarks/dataset_scan.py [--images 2000] [--folder /tmp/scan-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from thesis_lib import paths
from thesis_lib.data import demo, discovery

THESIS_IMAGES = 61_074


def timed_scan(folder: Path, **options) -> tuple[float, int]:
    start = time.perf_counter()
    result = discovery.scan_dataset(folder, progress=False, **options)
    return time.perf_counter() - start, len(result.manifest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="images in total (2 classes)")
    parser.add_argument("--folder", default=None, help="where to generate them (kept)")
    parser.add_argument("--out", default=str(paths.results_dir() / "benchmarks"
                                             / "dataset_scan.json"))
    args = parser.parse_args()

    folder = Path(args.folder or Path(tempfile.gettempdir()) / "thesis-scan-benchmark")
    reused = demo.read_marker(folder) is not None
    start = time.perf_counter()
    demo.make_demo_dataset(folder, images_per_class=args.images // 2, size=(500, 375),
                           overwrite=True)
    generate_s = time.perf_counter() - start
    cache_file = discovery.cache_path_for(folder)

    start = time.perf_counter()
    import tensorflow  # noqa: F401  (imported once by every scan; timed apart)

    import_s = time.perf_counter() - start
    workers = os.cpu_count() or 1
    serial_s, count = timed_scan(folder, workers=1, cache=False)
    cache_file.unlink(missing_ok=True)
    parallel_s, _ = timed_scan(folder, workers=workers, cache=True)
    cached_s, _ = timed_scan(folder, workers=workers, cache=True)

    report = {
        "benchmark": "dataset_scan",
        "images": count,
        "image_size": [500, 375],
        "cpus": workers,
        "machine": platform.platform(),
        "generate_s": None if reused else round(generate_s, 2),  # None: made by an earlier run
        "tensorflow_import_s": round(import_s, 2),
        "cold_1_thread_s": round(serial_s, 2),
        f"cold_{workers}_threads_s": round(parallel_s, 2),
        "cached_s": round(cached_s, 3),
        "cold_1_thread_images_per_s": round(count / serial_s, 1),
        f"cold_{workers}_threads_images_per_s": round(count / parallel_s, 1),
        "cached_images_per_s": round(count / cached_s, 1),
        "cached_speedup_vs_cold": round(parallel_s / cached_s, 1),
        "extrapolated_thesis_dataset_cold_min": round(THESIS_IMAGES / (count / parallel_s) / 60,
                                                      1),
        "extrapolated_thesis_dataset_cached_s": round(THESIS_IMAGES / (count / cached_s), 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if args.folder is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

"""How fast the data scan and the duplicate audit are, against plain PIL decoding.

Generates demo JPEGs at a realistic size (500x375, like the web photos of WEBEmo) once into a
folder, then measures in one run (on a shared machine only ratios within one run mean
something), for 1 and 2 threads, in alternating rounds:

- plain PIL decoding of the files (open, load, convert to RGB), the floor of any check that
  decodes every image;
- a cold scan (every file read, decoded by PIL and hashed; the first files of each encoding
  kind also decoded by TensorFlow and compared; cache written) followed by the duplicate audit
  of its manifest.

Then the warm scan (everything from the cache) and the audit's all-pairs comparison on a
synthetic hash table of the thesis dataset's size (61,074 images, with planted near copies).
Writes ``results/benchmarks/dataset_scan.json``.

Given a dataset DIR (a folder of class folders), the same measurements time the user's own
images instead of generated ones; the folder is only read (the scans use a cache folder of
their own, removed afterwards).

    python benchmarks/dataset_scan.py [DIR] [--images 600] [--rounds 3] [--folder /tmp/bench]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from thesis_lib import paths
from thesis_lib.data import audit, demo, discovery

THESIS_IMAGES = 61_074
THREADS = (1, 2)


def pil_decode(path: str) -> None:
    with Image.open(path) as image:
        image.load()
        image.convert("RGB")


def timed(function) -> tuple[float, float]:
    """Wall and CPU (all threads of the process) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def decode_all(files: list[str], threads: int) -> None:
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(pil_decode, files))


def scan_and_audit(folder: Path, threads: int) -> None:
    cache_file = discovery.cache_path_for(folder)
    for stale in [cache_file, *discovery._part_files(cache_file)]:  # cold: no cached file
        stale.unlink(missing_ok=True)
    scan = discovery.scan_dataset(folder, workers=threads, progress=False)
    audit.find_duplicates(scan.manifest, workers=threads)


def measure_rounds(folder: Path, files: list[str], rounds: int) -> dict:
    samples = {threads: {"pil": [], "scan_audit": [], "ratio": [], "cpu_ratio": []}
               for threads in THREADS}
    for _ in range(rounds):
        for threads in THREADS:
            pil_wall, pil_cpu = timed(lambda threads=threads: decode_all(files, threads))
            scan_wall, scan_cpu = timed(lambda threads=threads: scan_and_audit(folder, threads))
            sample = samples[threads]
            sample["pil"].append(len(files) / pil_wall)
            sample["scan_audit"].append(len(files) / scan_wall)
            sample["ratio"].append(pil_wall / scan_wall)
            sample["cpu_ratio"].append(pil_cpu / scan_cpu)
    report = {}
    for threads, sample in samples.items():
        report[f"{threads}_threads"] = {
            "pil_decode_images_per_s": round(statistics.median(sample["pil"]), 1),
            "cold_scan_and_audit_images_per_s": round(statistics.median(sample["scan_audit"]),
                                                      1),
            "ratio_to_pil_decode": round(statistics.median(sample["ratio"]), 3),
            "ratio_to_pil_decode_per_round": [round(value, 3) for value in sample["ratio"]],
            "cpu_time_ratio_to_pil_decode": round(statistics.median(sample["cpu_ratio"]), 3),
        }
    return report


def synthetic_audit(count: int, seed: int = 0) -> dict:
    """find_duplicates on ``count`` random 64-bit hash pairs, 1 % of them planted near copies
    (up to 5 bits flipped in each hash); nothing is read from disk."""
    rng = np.random.default_rng(seed)
    phash = rng.random((count, 64)) < 0.5
    dhash = rng.random((count, 64)) < 0.5
    planted = rng.choice(count, size=(count // 100, 2), replace=False)
    for original, copy in planted:
        for bits in (phash, dhash):
            bits[copy] = bits[original]
            flipped = rng.choice(64, size=rng.integers(0, 6), replace=False)
            bits[copy, flipped] ^= True
    manifest = pd.DataFrame({
        "path": [f"/synthetic/{index:06d}.jpg" for index in range(count)],
        "sha256": [f"{index:064x}" for index in range(count)],
        "phash": [audit.hash_to_hex(row) for row in phash],
        "dhash": [audit.hash_to_hex(row) for row in dhash],
    })
    start = time.perf_counter()
    # Hashes only (no files): the hash-only rule, which the pixel check follows on real files.
    duplicates = audit.find_duplicates(manifest, confirm=False)
    seconds = time.perf_counter() - start
    index_of = {path: index for index, path in enumerate(manifest["path"])}
    groups = {index_of[path]: group for path, group in zip(duplicates["path"],
                                                           duplicates["group"], strict=True)}
    found = sum(1 for original, copy in planted
                if original in groups and groups.get(copy) == groups[original])
    return {"images": count, "planted_pairs": len(planted), "planted_pairs_found": found,
            "groups": int(duplicates["group"].nunique()), "seconds": round(seconds, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, default=None,
                        help="a class-folder dataset of your own (default: generated demo JPEGs)")
    parser.add_argument("--images", type=int, default=600, help="images in total (2 classes)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds measured")
    parser.add_argument("--folder", default=None, help="where to generate them (kept)")
    parser.add_argument("--synthetic", type=int, default=THESIS_IMAGES,
                        help="images in the synthetic all-pairs audit")
    parser.add_argument("--out", default=str(paths.results_dir() / "benchmarks"
                                             / "dataset_scan.json"))
    args = parser.parse_args()

    cache_dir = Path(tempfile.mkdtemp(prefix="thesis-scan-cache-"))
    os.environ[discovery.CACHE_DIR_ENV] = str(cache_dir)  # leaves the user's cache alone
    if args.source is None:
        folder = Path(args.folder or Path(tempfile.gettempdir()) / "thesis-scan-benchmark")
        demo.make_demo_dataset(folder, images_per_class=args.images // 2, size=(500, 375),
                               overwrite=True)
        files = sorted(str(path) for path in folder.rglob("*.jpg"))
    else:
        folder = paths.resolve(args.source)
        entries, _ = discovery.list_class_folders(folder)
        files = [str(folder / entry.relpath) for entry in entries]

    start = time.perf_counter()
    import tensorflow as tf  # imported once by every scan; timed apart

    tf.io.decode_jpeg(Path(files[0]).read_bytes())  # TensorFlow's first op starts its runtime
    import_s = time.perf_counter() - start
    decode_all(files, 1)  # the files are in the page cache for every measurement

    report = {
        "benchmark": "dataset_scan",
        "images": len(files),
        "source": "demo" if args.source is None else str(folder),
        "image_size": [500, 375] if args.source is None else None,
        "cpus": os.cpu_count(),
        "machine": platform.platform(),
        "rounds": args.rounds,
        "tensorflow_import_s": round(import_s, 2),
        "cold": measure_rounds(folder, files, args.rounds),
    }
    discovery.scan_dataset(folder, workers=max(THREADS), progress=False)  # fill the cache
    cached = json.loads(discovery.cache_path_for(folder).read_text())["files"].values()
    report["tensorflow_comparisons_per_cold_scan"] = sum(
        1 for entry in cached if entry["result"].get("tf_compared"))
    warm = [timed(lambda: discovery.scan_dataset(folder, workers=max(THREADS),
                                                 progress=False))[0] for _ in range(3)]
    report["warm_scan_images_per_s"] = round(len(files) / statistics.median(warm), 1)
    report["synthetic_audit"] = synthetic_audit(args.synthetic)
    cold_rate = report["cold"][f"{max(THREADS)}_threads"]["cold_scan_and_audit_images_per_s"]
    report["extrapolated_thesis_dataset_cold_min"] = round(THESIS_IMAGES / cold_rate / 60, 1)
    report["extrapolated_thesis_dataset_warm_s"] = round(
        THESIS_IMAGES / report["warm_scan_images_per_s"], 1)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    shutil.rmtree(cache_dir, ignore_errors=True)
    if args.folder is None and args.source is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

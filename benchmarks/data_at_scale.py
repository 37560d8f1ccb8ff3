"""The data path at the thesis' scale: scan, resume, audit, deduplication and memory, measured.

Generates (once, kept in ``--folder``) a web-photo-like dataset of ``--images`` JPEGs
(default 61,074, WEBEmo's size; 118,102 is EmoSet's) with 1 % exact and 1 % near copies
planted, 20 % of them filed under another class (``thesis_lib.data.synthetic``), then measures
in one run, with its own scan cache (the user's is left alone):

- ``pil_decode``: plain PIL decoding of a sample of the files, the floor of any check;
- ``cold_scan``: every file checked, the cache written in chunks;
- ``interrupted_scan``: a scan in a subprocess stopped by SIGINT part way (as Ctrl-C or a
  SLURM time limit), then resumed: how much was kept, and what the rest cost;
- ``warm_scan``: everything from the cache;
- ``audit``: ``find_duplicates`` on the manifest, against the planted answer: copies found,
  groups that are not planted (false pairs, with and without the pixel check), and the time
  of its parts;
- ``near_search``: the indexed near search against the all-pairs comparison on the dataset's
  pHashes, and on random hash tables of half this size, this size and 118,102 rows (1 %
  planted near copies), with both times projected to 1,000,000 rows by their measured growth;
- ``prepare``: ``prepare_dataset(deduplicate=True)`` twice (cold audit, then again), with the
  counts of groups, copies dropped and label conflicts, and whether the originals stayed;
- ``memory_cache``: the bytes of a memory cache of train + val at 256 px for this dataset and
  for 61,074 and 118,102 images, and the free memory here.

Writes ``results/benchmarks/data_at_scale_<images>.json``. Not part of the tests.

    python benchmarks/data_at_scale.py [--images 61074] [--folder /tmp/thesis-webphotos]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from thesis_lib import paths
from thesis_lib.data import audit, discovery, pipeline, prepare_dataset, scan_dataset
from thesis_lib.data.synthetic import WebPhotoSpec, ensure_web_photo_dataset

WEBEMO_IMAGES = 61_074
EMOSET_IMAGES = 118_102
TRAIN_VAL_SHARE = 0.9  # train + val of an 80/10/10 split
CACHE_SIDE = 256


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def pil_decode_rate(files: list[str], threads: int) -> float:
    def decode(path: str) -> None:
        with Image.open(path) as image:
            image.load()
            image.convert("RGB")

    with ThreadPoolExecutor(threads) as pool:
        _, seconds = timed(lambda: list(pool.map(decode, files)))
    return len(files) / seconds


def interrupted_scan(folder: Path, fraction: float, cold_seconds: float, threads: int) -> dict:
    """A scan stopped by SIGINT after ``fraction`` of a cold scan's time, then resumed."""
    cache_file = discovery.cache_path_for(folder)
    for stale in [cache_file, *discovery._part_files(cache_file)]:
        stale.unlink(missing_ok=True)
    # The default SIGINT handler (Ctrl-C), also when this benchmark runs in the background,
    # where the shell starts it (and so the child) with SIGINT ignored.
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from thesis_lib.data import scan_dataset; "
            f"scan_dataset(sys.argv[1], workers={threads}, progress=False)")
    process = subprocess.Popen([sys.executable, "-c", code, str(folder)],
                               stderr=subprocess.PIPE, env=os.environ.copy())
    time.sleep(fraction * cold_seconds)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate()
    cache_file = discovery.cache_path_for(folder)
    saved = len(discovery._load_cache(cache_file, folder.resolve()))
    total = sum(1 for _ in folder.rglob("*.jpg"))
    checked = []
    original = discovery.inspect_file

    def counting(path, agreement=None):
        checked.append(path)
        return original(path, agreement)

    discovery.inspect_file = counting
    try:
        _, resume_seconds = timed(lambda: scan_dataset(folder, workers=threads, progress=False))
    finally:
        discovery.inspect_file = original
    unfinished = (total - saved) / total
    return {"stopped_after_s": round(fraction * cold_seconds, 1),
            "exit_status": process.returncode,
            "files_saved_before_the_stop": saved, "files": total,
            "files_checked_on_resume": len(checked),
            "resume_s": round(resume_seconds, 1),
            "cold_scan_s_times_unfinished_share": round(cold_seconds * unfinished, 1),
            "last_stderr_line": (stderr.decode(errors="replace").strip().splitlines() or [""])[-1]}


def planted_pairs_found(duplicates: pd.DataFrame, root: Path, planted: pd.DataFrame) -> dict:
    relpaths = duplicates["path"].map(lambda path: Path(path).relative_to(root).as_posix())
    group_of = dict(zip(relpaths, duplicates["group"], strict=True))
    found = [group_of.get(row.copy) is not None and group_of.get(row.copy) ==
             group_of.get(row.original) for row in planted.itertuples()]
    # A group is false when it holds a file of no planted pair or joins two planted pairs.
    family = {}
    for index, row in enumerate(planted.itertuples()):
        family[row.copy] = family[row.original] = index
    false_groups = []
    for _, members in relpaths.groupby(duplicates["group"]):
        families = {family.get(relpath) for relpath in members}
        if None in families or len(families) > 1:
            false_groups.append(sorted(members))
    return {"planted_pairs": len(planted), "planted_pairs_found": int(sum(found)),
            "groups": int(duplicates["group"].nunique()), "false_groups": len(false_groups),
            "false_group_examples": false_groups[:5]}


def random_hashes(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, np.iinfo(np.int64).max, size=count, dtype=np.int64)
    hashes = hashes.astype(np.uint64) ^ (rng.integers(0, 2, size=count).astype(np.uint64) << 63)
    pairs = rng.choice(count, size=(count // 100, 2), replace=False)
    for original, copy in pairs:
        flips = rng.choice(64, size=rng.integers(0, 11), replace=False)
        hashes[copy] = hashes[original] ^ np.bitwise_or.reduce(
            np.uint64(1) << flips.astype(np.uint64), initial=np.uint64(0))
    return hashes


def near_search(sizes: list[int], threads: int) -> dict:
    """Both near searches on random hash tables of ``sizes`` rows, and their times projected
    to a million rows by the growth between the two largest sizes (time ~ N^k)."""
    rows = []
    for count in sizes:
        hashes = random_hashes(count)
        index_pairs, index_s = timed(lambda hashes=hashes: audit._index_pairs(hashes, 10,
                                                                             threads))
        all_pairs, all_s = timed(lambda hashes=hashes: audit._all_pairs(hashes.reshape(-1, 1),
                                                                        10, threads))
        rows.append({"images": count, "index_s": round(index_s, 2),
                     "all_pairs_s": round(all_s, 2), "pairs": len(index_pairs),
                     "same_pairs": len(index_pairs) == len(all_pairs)})
    (small, large) = rows[-2:]
    projection = {}
    for method in ("index_s", "all_pairs_s"):
        exponent = np.log(large[method] / small[method]) / np.log(large["images"] /
                                                                    small["images"])
        projection[method.replace("_s", "_growth_exponent")] = round(float(exponent), 2)
        projection[method.replace("_s", "_projected_1m_s")] = round(
            float(large[method] * (1_000_000 / large["images"]) ** exponent), 1)
    return {"sizes": rows, "projection_to_1m": projection}


def near_search_on_dataset(manifest: pd.DataFrame, threads: int) -> dict:
    phashes = audit.hex_to_hashes(manifest["phash"].tolist(), 64)
    packed = audit.pack_bits(phashes)
    _, index_s = timed(lambda: audit._index_pairs(packed[:, 0], 10, threads))
    _, all_s = timed(lambda: audit._all_pairs(packed, 10, threads))
    return {"images": len(manifest), "index_s": round(index_s, 2),
            "all_pairs_s": round(all_s, 2)}


def keeper_check(prepared, planted: pd.DataFrame) -> dict:
    groups = prepared.duplicates
    kept = set(groups.loc[groups["kept"], "relpath"])
    near = planted[(planted["kind"] != "exact") & ~planted["cross_class"]]
    return {"near_groups_without_conflict": len(near),
            "original_kept": int(sum(row.original in kept for row in near.itertuples())),
            "copy_kept": int(sum(row.copy in kept for row in near.itertuples()))}


def memory_cache(images_after_dedup: int) -> dict:
    def gigabytes(count: int) -> float:
        return round(pipeline.memory_cache_bytes(int(count * TRAIN_VAL_SHARE), CACHE_SIDE) / 1e9,
                     2)

    free = pipeline.available_memory()
    return {"image_size": CACHE_SIDE, "train_val_share": TRAIN_VAL_SHARE,
            "this_dataset_gb": gigabytes(images_after_dedup),
            "webemo_61074_gb": gigabytes(WEBEMO_IMAGES),
            "emoset_118102_gb": gigabytes(EMOSET_IMAGES),
            "free_here_gb": None if free is None else round(free / 1e9, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=WEBEMO_IMAGES)
    parser.add_argument("--folder", type=Path, default=None,
                        help="where the dataset is generated (kept for later runs)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--interrupt-at", type=float, default=0.5,
                        help="share of the cold scan's time after which the scan is stopped")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--audit-only", action="store_true",
                        help="generate, scan and audit only (the false-pair count at a size)")
    parser.add_argument("--interrupt-only", type=float, default=None, metavar="COLD_S",
                        help="only the interrupted scan, stopped after --interrupt-at of COLD_S "
                             "seconds (a cold scan's time), added to an existing report")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.gettempdir()) / f"thesis-webphotos-{args.images}"
    out = args.out or paths.results_dir() / "benchmarks" / f"data_at_scale_{args.images}.json"
    cache_dir = Path(tempfile.mkdtemp(prefix="thesis-scale-cache-"))
    os.environ[discovery.CACHE_DIR_ENV] = str(cache_dir)  # leaves the user's cache alone
    report: dict = {"benchmark": "data_at_scale", "images": args.images,
                    "threads": args.threads, "cpus": os.cpu_count(),
                    "machine": platform.platform(),
                    "load_average_1min_at_start": os.getloadavg()[0]}

    if args.interrupt_only is not None:
        report = json.loads(out.read_text())
        report["interrupted_scan"] = interrupted_scan(folder, args.interrupt_at,
                                                      args.interrupt_only, args.threads)
        report["interrupted_scan_command"] = " ".join([Path(sys.executable).name, *sys.argv])
        out.write_text(json.dumps(report, indent=2) + "\n")
        print(json.dumps(report["interrupted_scan"]))
        return 0

    def step(name: str, value) -> None:
        report[name] = value
        print(f"{name}: {json.dumps(value)}", flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")

    planted, seconds = timed(lambda: ensure_web_photo_dataset(folder, WebPhotoSpec(
        images=args.images)))
    step("dataset", {"folder": str(folder), "generate_s": round(seconds, 1),
                     "planted": planted["kind"].value_counts().to_dict(),
                     "planted_cross_class": int(planted["cross_class"].sum())})
    files = sorted(str(path) for path in folder.rglob("*.jpg"))
    sample = files[:: max(1, len(files) // 3000)]
    pil_decode_rate(sample, args.threads)  # into the page cache
    step("pil_decode_images_per_s", round(pil_decode_rate(sample, args.threads), 1))

    scan, cold_s = timed(lambda: scan_dataset(folder, workers=args.threads, progress=False))
    step("cold_scan", {"seconds": round(cold_s, 1),
                       "images_per_s": round(len(files) / cold_s, 1),
                       "ratio_to_pil_decode": round(len(files) / cold_s /
                                                    report["pil_decode_images_per_s"], 3)})
    _, warm_s = timed(lambda: scan_dataset(folder, workers=args.threads, progress=False))
    step("warm_scan", {"seconds": round(warm_s, 2),
                       "images_per_s": round(len(files) / warm_s, 1)})
    if not args.audit_only:
        step("interrupted_scan", interrupted_scan(folder, args.interrupt_at, cold_s,
                                                  args.threads))

    manifest = scan.manifest
    duplicates, audit_s = timed(lambda: audit.find_duplicates(manifest, workers=args.threads))
    hash_only, hash_only_s = timed(lambda: audit.find_duplicates(manifest, workers=args.threads,
                                                                 confirm=False))
    step("audit", {"seconds": round(audit_s, 2),
                   "with_pixel_check": planted_pairs_found(duplicates, folder, planted),
                   "hash_only_seconds": round(hash_only_s, 2),
                   "hash_only": planted_pairs_found(hash_only, folder, planted)})
    step("near_search_on_dataset", near_search_on_dataset(manifest, args.threads))
    if args.audit_only:
        step("command", " ".join([Path(sys.executable).name, *sys.argv]))
        return 0
    sizes = sorted({args.images // 2, args.images, EMOSET_IMAGES})
    step("near_search_random_hashes", near_search(sizes, args.threads))

    prepared, prepare_s = timed(lambda: prepare_dataset(folder, scheme="mikels8",
                                                        deduplicate=True, workers=args.threads,
                                                        progress=False))
    _, again_s = timed(lambda: prepare_dataset(folder, scheme="mikels8", deduplicate=True,
                                               workers=args.threads, progress=False, seed=1))
    step("prepare", {"seconds": round(prepare_s, 1), "again_other_seed_s": round(again_s, 1),
                     "counts": prepared.duplicate_counts(),
                     "images_after": len(prepared.manifest),
                     "keeper": keeper_check(prepared, planted)})
    step("memory_cache", memory_cache(len(prepared.manifest)))
    report["load_average_1min_at_end"] = os.getloadavg()[0]
    step("command", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

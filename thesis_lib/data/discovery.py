"""Find the images of a dataset, check every one of them, and report what cannot be used.

A dataset is a folder of class folders (``root/<class>/**/<image>``) or a CSV manifest
(``path,label[,split]``, paths relative to the CSV). Each file is read once, decoded once in
grey (``inspect_file``) and hashed for the duplicate audit; unusable files are listed in
``ScanResult.skipped`` with a reason. Whether the pipeline may decode a file with TensorFlow
("tf") is learnt per encoding kind (``TensorFlowAgreement``).

Checking runs in threads and the results are cached per file (keyed by path, size and
modification time) outside the dataset (``cache_path_for``): a dataset folder is never written.
The cache is written in chunks while the scan runs (``_ChunkWriter``), so an interrupted scan
resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from thesis_lib.data import audit, images
from thesis_lib.data.progress import progress_bar
from thesis_lib.errors import DataError, ThesisError
from thesis_lib.files import read_json, write_text

MANIFEST_COLUMNS = [
    "path", "relpath", "label", "width", "height", "format", "mode", "orientation", "frames",
    "decoder", "size_bytes", "sha256", "phash", "dhash",
]  # fmt: skip
SKIPPED_COLUMNS = ["path", "reason", "detail"]

# Skip reasons of the scanner itself (the image reasons live in ``images``).
REASON_OUTSIDE_ROOT = "outside dataset root"
REASON_MISSING = "file not found"
REASON_NO_LABEL = "missing label"
REASON_LISTED_TWICE = "listed twice"

# Folders that zip tools and operating systems leave next to the data.
IGNORED_FOLDERS = frozenset({"__MACOSX", "__pycache__"})

# The folder of the scan caches, when set (else the user's cache folder, see cache_path_for).
CACHE_DIR_ENV = "THESIS_CACHE_DIR"
# Version 2: one pass with the duplicate hashes (sha256, phash, dhash) instead of sha1.
# Version 3: hashes of the grey decode (a JPEG's luma), TensorFlow compared per encoding kind.
CACHE_VERSION = 3
# Below this many files to check, a thread pool costs more time than it saves.
MIN_FILES_FOR_POOL = 32
# Files queued per worker thread: enough to keep the threads busy, few enough that an
# interrupted scan stops at once.
POOL_WINDOW = 4
# A running scan saves its results every CHUNK_FILES files or CHUNK_SECONDS seconds
# (``_ChunkWriter``): an interrupted scan loses at most that much work.
CHUNK_FILES = 2000
CHUNK_SECONDS = 20.0
PART_INFIX = ".part-"
# Files of one encoding kind that must decode identically in TensorFlow and PIL before the rest
# of the kind skip the comparison.
TF_COMPARISONS_PER_KIND = 8


@dataclass
class Entry:
    """One file a dataset lists, before it is checked.

    Args:
        relpath: Path relative to the dataset root, with "/" separators (the key of the file
            in caches and split files).
        label: The raw label (class folder name or CSV label).
        split: A predefined split ("train", "val", "test") or None.
        extra: More columns for the manifest (e.g. an adapter's ground truth).
    """

    relpath: str
    label: str
    split: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class ScanResult:
    """The usable images of a dataset and the files that were skipped.

    Args:
        root: The dataset root (folder, or the folder holding the CSV).
        manifest: One row per usable image, columns ``MANIFEST_COLUMNS`` (+ ``split`` when
            the dataset defines one, + adapter columns), sorted by relpath.
        skipped: Columns path, reason, detail; sorted by path.
    """

    root: Path
    manifest: pd.DataFrame
    skipped: pd.DataFrame

    def class_counts(self) -> pd.Series:
        """Number of usable images per raw label, sorted by label."""
        return self.manifest["label"].value_counts().sort_index()

    def skipped_counts(self) -> pd.Series:
        """Number of skipped files per reason."""
        return self.skipped["reason"].value_counts().sort_index()

    def summary(self) -> str:
        """Images per class and skipped files per reason, as text."""
        lines = [f"{len(self.manifest)} usable images in {self.root}"]
        lines += [f"  {label}: {count}" for label, count in self.class_counts().items()]
        if len(self.skipped):
            lines.append(f"{len(self.skipped)} files skipped")
            lines += [f"  {reason}: {count}" for reason, count in self.skipped_counts().items()]
        else:
            lines.append("no files skipped")
        return "\n".join(lines)


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_FOLDERS


def is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def skip_record(path: str | os.PathLike, reason: str, detail: str | None = None) -> dict:
    return {"path": str(path), "reason": reason, "detail": detail or reason}


def walk_images(root: Path, skipped: list[dict] | None = None) -> Iterator[tuple[str, str]]:
    """(folder, name) of the image files under ``root``, sorted per folder; hidden files and
    folders left out, folder links followed once. With ``skipped``, folder links that leave
    ``root`` are recorded there instead of followed."""
    real_root = os.path.realpath(root)
    visited = {real_root}
    for folder, dirnames, filenames in os.walk(root, followlinks=True):
        kept_dirs = []
        for name in sorted(dirnames):
            if is_hidden(name):
                continue
            real = os.path.realpath(os.path.join(folder, name))
            if skipped is not None and not is_inside(real, real_root):
                skipped.append(skip_record(os.path.join(folder, name), REASON_OUTSIDE_ROOT,
                                           f"folder link to {real} leaves the dataset root"))
            elif real not in visited:  # a link back into the tree would loop forever
                visited.add(real)
                kept_dirs.append(name)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            if not is_hidden(name) and images.is_image_path(name):
                yield folder, name


def list_class_folders(root: str | os.PathLike) -> tuple[list[Entry], list[dict]]:
    """The image files under ``root/<class>/`` (any depth) as entries, and the skipped files.
    Files directly in ``root`` are ignored; links leaving it are skipped."""
    root = Path(root).absolute()
    real_root = os.path.realpath(root)
    entries: list[Entry] = []
    skipped: list[dict] = []
    relfolders: dict[str, PurePosixPath] = {}  # per folder, not per file: 118k files list in s
    for folder, name in walk_images(root, skipped):
        if folder not in relfolders:
            relfolders[folder] = PurePosixPath(Path(folder).relative_to(root).as_posix())
        relfolder = relfolders[folder]
        if not relfolder.parts:
            continue  # files next to the class folders (README, licences) are not images
        path = os.path.join(folder, name)
        # walk_images follows only folders inside the root, so only a file link can leave it.
        if os.path.islink(path):
            real = os.path.realpath(path)
            if not is_inside(real, real_root):
                skipped.append(skip_record(path, REASON_OUTSIDE_ROOT,
                                           f"link to {real} leaves the dataset root"))
                continue
        entries.append(Entry(relpath=f"{relfolder}/{name}", label=relfolder.parts[0]))
    return entries, skipped


def read_csv_manifest(csv_path: str | os.PathLike) -> tuple[list[Entry], list[dict], Path]:
    """The entries, skipped files and root (the CSV's folder) of a ``path,label[,split]`` CSV.

    Relative paths start at the CSV's folder; one that leaves it is skipped with a reason.
    Absolute paths are taken as written.
    """
    csv_path = Path(csv_path)
    try:
        table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(f"{csv_path}: cannot read the CSV manifest ({e})") from e
    table.columns = [str(column).strip().lower() for column in table.columns]
    missing = {"path", "label"} - set(table.columns)
    if missing:
        raise DataError(
            f"{csv_path}: a manifest needs the columns path,label[,split]; missing "
            f"{', '.join(sorted(missing))} (found: {', '.join(table.columns)})"
        )
    root = csv_path.resolve().parent
    real_root = os.path.realpath(root)
    entries: list[Entry] = []
    skipped: list[dict] = []
    seen: set[str] = set()
    has_split = "split" in table.columns
    for row in table.itertuples(index=False):
        raw_path, label = row.path.strip(), row.label.strip()
        if not raw_path:
            continue
        is_absolute = Path(raw_path).is_absolute()
        full = Path(raw_path) if is_absolute else root / raw_path
        if not is_absolute and not is_inside(os.path.realpath(full), real_root):
            skipped.append(skip_record(full, REASON_OUTSIDE_ROOT,
                                       f"'{raw_path}' leaves the manifest's folder {root}"))
            continue
        relpath = Path(os.path.normpath(raw_path)).as_posix()
        if relpath in seen:
            skipped.append(skip_record(full, REASON_LISTED_TWICE, f"'{raw_path}' is listed twice"))
            continue
        seen.add(relpath)
        if not label:
            skipped.append(skip_record(full, REASON_NO_LABEL, f"'{raw_path}' has no label"))
            continue
        split = (row.split.strip() or None) if has_split else None
        entries.append(Entry(relpath=relpath, label=label, split=split))
    return entries, skipped, root


# --- checking one file (runs in worker threads) ---------------------------------------------


class TensorFlowAgreement:
    """Which encoding kinds TensorFlow decodes exactly like PIL, learnt during one scan.

    TensorFlow and PIL wrap the same decoding libraries, which take one code path for all files
    of an encoding kind, so whether their pixels agree depends on the kind, not the picture. A
    kind is trusted after ``per_kind`` agreeing files; one disagreement distrusts it for good.

    Args:
        per_kind: Agreeing comparisons after which a kind is trusted.
    """

    def __init__(self, per_kind: int = TF_COMPARISONS_PER_KIND):
        self.per_kind = per_kind
        self._agreeing: dict[str, int] = {}
        self.disagreeing: set[str] = set()
        self._lock = threading.Lock()

    def must_compare(self, kind: str) -> bool:
        with self._lock:
            return kind in self.disagreeing or self._agreeing.get(kind, 0) < self.per_kind

    def record(self, kind: str, agrees: bool) -> None:
        with self._lock:
            if agrees:
                self._agreeing[kind] = self._agreeing.get(kind, 0) + 1
            else:
                self.disagreeing.add(kind)

    def learn(self, results: Iterable[dict | None]) -> None:
        """Take in the comparisons of earlier scans (cached results)."""
        for result in results:
            if result and result.get("ok") and result.get("tf_compared") and \
                    result.get("encoding"):
                self.record(result["encoding"], "tf_problem" not in result)

    def trusted_without_comparison(self, result: dict) -> bool:
        """Whether a "tf" result skipped the comparison for a kind now distrusted."""
        return bool(result.get("ok")) and result.get("decoder") == "tf" \
            and result.get("tf_compared") is False and result.get("encoding") in self.disagreeing


def inspect_file(path: str, agreement: TensorFlowAgreement | None = None) -> dict:
    """Check one file in one pass: read once, decoded once in grey; a JSON-ready dict.

    A file the decoder rule routes to "tf" is, unless ``agreement`` already trusts its
    encoding kind, also decoded by PIL in colour and by TensorFlow and compared (any difference
    routes it to "pil").

    Args:
        path: The file.
        agreement: What the scan has learnt about encoding kinds; None compares every file.

    Returns:
        {"ok": True, the ``ImageInfo`` fields, size_bytes, sha256, phash, dhash (hex),
        decoder, tf_compared[, tf_problem]} or {"ok": False, reason, detail}.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except FileNotFoundError:
        return {"ok": False, "reason": REASON_MISSING, "detail": "file not found"}
    except OSError as error:
        detail = f"cannot read file ({error.strerror or error})"
        return {"ok": False, "reason": images.REASON_UNREADABLE, "detail": detail}
    try:
        grey, info = images.decode_image(data, name=path, grey=True)
    except images.ImageFileError as error:
        return {"ok": False, "reason": error.reason, "detail": error.detail}
    phash, dhash = audit.perceptual_hashes(grey, audit.SCAN_HASH_SIZE)
    result = asdict(info)
    result.update(
        ok=True,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        phash=audit.hash_to_hex(phash),
        dhash=audit.hash_to_hex(dhash),
        decoder=images.choose_decoder(info),
        tf_compared=False,
    )
    if result["decoder"] == "tf" and (agreement is None or agreement.must_compare(info.encoding)):
        problem = _tensorflow_check(data, path)
        result["tf_compared"] = True
        if problem is not None:
            result.update(decoder="pil", tf_problem=problem)
        if agreement is not None:
            agreement.record(info.encoding, problem is None)
    return result


def _tensorflow_check(data: bytes, name: str) -> str | None:
    """None when ``images.tf_decode_bytes`` gives the reference pixels, else what differs."""
    import tensorflow as tf

    pixels = np.asarray(images.decode_image(data, name=name)[0], dtype=np.uint8)
    try:
        theirs = images.tf_decode_bytes(data)
    except tf.errors.OpError as error:  # invalid data, unsupported variant, too large
        return f"TensorFlow cannot decode it: {error.message.splitlines()[0]}"
    if theirs.shape != pixels.shape:
        return f"TensorFlow decodes it to shape {theirs.shape}, PIL to {pixels.shape}"
    if not np.array_equal(theirs, pixels):
        return "TensorFlow decodes it to other pixels than PIL"
    return None


def _inspect_all(
    paths: list[str], workers: int | None, progress: bool | None,
    agreement: TensorFlowAgreement, on_result: Callable[[int, dict], None] | None = None,
) -> list[dict]:
    """``inspect_file`` of every path, in order, in threads; ``on_result(index, result)`` is
    called in the calling thread as each result arrives, in order (the cache saves them)."""
    if not paths:
        return []
    workers = workers or os.cpu_count() or 1
    results: list[dict] = []
    with progress_bar(len(paths), "checking images", progress, unit="img") as bar:
        def take(result: dict) -> None:
            if on_result is not None:
                on_result(len(results), result)
            results.append(result)
            bar.update(1)

        if workers == 1 or len(paths) < MIN_FILES_FOR_POOL:
            for path in paths:
                take(inspect_file(path, agreement))
            return results
        # Threads, not processes: the decoders, numpy and hashlib release the GIL, and a
        # process pool would import TensorFlow (seconds) in every worker. Only a window of
        # files is queued, so an interruption (Ctrl-C, a time limit) stops within a few files
        # and everything checked before it has been handed to ``on_result``.
        pool = ThreadPoolExecutor(workers)
        pending: deque = deque()
        try:
            queue = iter(paths)
            for path in itertools.islice(queue, POOL_WINDOW * workers):
                pending.append(pool.submit(inspect_file, path, agreement))
            while pending:
                result = pending.popleft().result()
                following = next(queue, None)
                if following is not None:
                    pending.append(pool.submit(inspect_file, following, agreement))
                take(result)
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
        return results


# --- the cache -------------------------------------------------------------------------------


def cache_path_for(root: str | os.PathLike) -> Path:
    """The scan cache of the dataset at ``root``: ``<folder>/<key>.json``, the key being the
    first 16 hex digits of the SHA-256 of the resolved root, the folder ``$THESIS_CACHE_DIR``
    when set, else ``$XDG_CACHE_HOME/thesis-workbench/scans`` (default ``~/.cache/...``).

    Never a file in the dataset. (Caches that older versions left in dataset folders,
    ``.thesis_scan_cache.json``, are ignored and left where they are.)
    """
    digest = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    folder = os.environ.get(CACHE_DIR_ENV) or cache_home() / "scans"
    return Path(folder).expanduser().absolute() / f"{digest}.json"


def cache_home() -> Path:
    """The workbench's caches where ``$THESIS_CACHE_DIR`` is not set:
    ``$XDG_CACHE_HOME/thesis-workbench`` (default ``~/.cache/thesis-workbench``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "thesis-workbench"


def _part_files(path: Path) -> list[Path]:
    """The chunks an unfinished (or still running) scan wrote next to the cache ``path``."""
    return sorted(path.parent.glob(f"{path.stem}{PART_INFIX}*.json"))


def _read_cache_file(path: Path, root: Path) -> dict:
    try:
        content = read_json(path, kind=dict)
    except DataError:
        return {}  # no cache yet, or a damaged one: scan again
    if content.get("version") != CACHE_VERSION or content.get("root") != str(root):
        return {}
    files = content.get("files")
    return files if isinstance(files, dict) else {}


def _load_cache(path: Path, root: Path) -> dict:
    """The cached results of ``root``: the cache file and the chunks of interrupted scans.

    Every entry is checked against its file's size and time before use, so a chunk older than
    the cache file can only cost a new check, never give a stale result.
    """
    files = _read_cache_file(path, root)
    for part in _part_files(path):
        files.update(_read_cache_file(part, root))
    return files


def _save_cache(path: Path, root: Path, files: dict) -> bool:
    """Write ``files`` to ``path`` atomically; False when that is not possible."""
    try:
        write_text(path, json.dumps({"version": CACHE_VERSION, "root": str(root),
                                     "files": files}))
    except ThesisError:
        return False  # a cache that cannot be written only costs time on the next scan
    return True


class _ChunkWriter:
    """Saves the results of a running scan in chunks, so that an interrupted scan resumes.

    Each chunk is a file of the cache's format next to it (``<key>.part-<pid>-<n>.json``),
    written atomically after ``CHUNK_FILES`` results or ``CHUNK_SECONDS``, whichever comes
    first: a kill loses at most one chunk, and saving costs time in proportion to the new
    results, not to the whole table. The finished scan merges them into the cache file.

    Args:
        cache_file: The scan cache (``cache_path_for``).
        root: The dataset root written into every chunk.
    """

    def __init__(self, cache_file: Path, root: Path):
        self.cache_file = cache_file
        self.root = root
        self.buffer: dict = {}
        self.written: list[Path] = []
        self.failed = False
        self.last_flush = time.monotonic()

    def add(self, relpath: str, stamp: list[int] | None, result: dict) -> None:
        if stamp is None or result.get("reason") == REASON_MISSING:
            return
        self.buffer[relpath] = {"stamp": stamp, "result": result}
        if len(self.buffer) >= CHUNK_FILES or \
                time.monotonic() - self.last_flush >= CHUNK_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.buffer or self.failed:
            return
        name = f"{self.cache_file.stem}{PART_INFIX}{os.getpid()}-{len(self.written):06d}.json"
        part = self.cache_file.with_name(name)
        if _save_cache(part, self.root, self.buffer):
            self.written.append(part)
            self.buffer = {}
        else:
            self.failed = True  # e.g. a read-only cache folder: scan on without saving

    def finish(self, files: dict) -> None:
        """Write the whole table as the cache file, then remove the chunks it replaces."""
        self.buffer = {}
        if _save_cache(self.cache_file, self.root, files):
            for part in _part_files(self.cache_file):
                part.unlink(missing_ok=True)


def _file_stamp(path: str) -> list[int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


# --- scanning ----------------------------------------------------------------------------------


def scan_entries(
    root: str | os.PathLike,
    entries: Iterable[Entry],
    *,
    skipped: Iterable[dict] = (),
    min_side: int | None = 32,
    workers: int | None = None,
    cache: bool = True,
    progress: bool | None = None,
    require_classes: int = 2,
) -> ScanResult:
    """Check the listed files and build the manifest (the back end of all layouts).

    Args:
        root: The dataset root; ``Entry.relpath`` is relative to it.
        entries: The files to check.
        skipped: Files already rejected while listing (path, reason, detail).
        min_side, workers, cache, progress: As for ``scan_dataset``.
        require_classes: Raise ``DataError`` when fewer distinct labels remain.
    """
    root = Path(root).resolve()
    entries = sorted(entries, key=lambda entry: entry.relpath)
    skipped = list(skipped)
    paths = [str(path if (path := Path(entry.relpath)).is_absolute() else root / path)
             for entry in entries]
    stamps = [_file_stamp(path) for path in paths]

    cache_file = cache_path_for(root)
    cached = _load_cache(cache_file, root) if cache else {}
    # Chunks of an interrupted scan are merged into the cache file even when nothing is new.
    unmerged = cache and bool(_part_files(cache_file))
    results: list[dict | None] = []
    for entry, stamp in zip(entries, stamps, strict=True):
        hit = cached.get(entry.relpath)
        fresh = stamp is not None and hit is not None and hit.get("stamp") == stamp
        results.append(hit["result"] if fresh else None)
    todo = [index for index, result in enumerate(results) if result is None]
    agreement = TensorFlowAgreement()
    agreement.learn(results)
    writer = _ChunkWriter(cache_file, root) if cache else None

    def keep(position: int, result: dict) -> None:
        index = todo[position]
        results[index] = result
        if writer is not None:
            writer.add(entries[index].relpath, stamps[index], result)

    try:
        _inspect_all([paths[index] for index in todo], workers, progress, agreement, keep)
    finally:
        if writer is not None:
            writer.flush()  # also when interrupted: what was checked is kept for the next scan
    # Files that skipped the comparison for a kind that later turned out to disagree.
    recheck = [index for index, result in enumerate(results)
               if agreement.trusted_without_comparison(result)]
    for index in recheck:
        results[index] = inspect_file(paths[index])

    if writer is not None and (todo or recheck or unmerged):
        # Entries of other listings of the same folder (another CSV) stay: each is checked
        # against its file's size and time before use.
        files = dict(cached)
        files.update({entry.relpath: {"stamp": stamp, "result": result}
                      for entry, stamp, result in zip(entries, stamps, results, strict=True)
                      if stamp is not None and result.get("reason") != REASON_MISSING})
        writer.finish(files)

    rows = []
    for entry, path, result in zip(entries, paths, results, strict=True):
        if not result["ok"]:
            skipped.append(skip_record(path, result["reason"], result["detail"]))
        elif min_side is not None and min(result["width"], result["height"]) < min_side:
            skipped.append(skip_record(path, images.REASON_TOO_SMALL,
                                       f"too small ({result['width']}x{result['height']}, the "
                                       f"shorter side must be at least {min_side} px)"))
        else:
            row = {"path": path, "relpath": entry.relpath, "label": entry.label}
            row.update({column: result[column] for column in MANIFEST_COLUMNS[3:]})
            if entry.split is not None:
                row["split"] = entry.split
            rows.append({**row, **entry.extra})
    columns = list(MANIFEST_COLUMNS)
    if any(entry.split is not None for entry in entries):
        columns.append("split")
    for entry in entries:
        columns.extend(key for key in entry.extra if key not in columns)
    manifest = pd.DataFrame(rows, columns=columns).sort_values("relpath", kind="stable")
    skips = pd.DataFrame(skipped, columns=SKIPPED_COLUMNS).sort_values("path", kind="stable")
    scan = ScanResult(root, manifest.reset_index(drop=True), skips.reset_index(drop=True))
    _require_usable(scan, require_classes)
    return scan


def _require_usable(result: ScanResult, require_classes: int) -> None:
    if result.manifest.empty:
        reasons = ", ".join(f"{reason}: {count}"
                            for reason, count in result.skipped_counts().items())
        found = f" ({len(result.skipped)} files skipped: {reasons})" if reasons else ""
        raise DataError(f"{result.root}: no readable image found{found}")
    labels = sorted(result.manifest["label"].unique())
    if len(labels) < require_classes:
        raise DataError(
            f"{result.root}: found {len(labels)} class ({', '.join(labels)}); a dataset needs "
            f"at least {require_classes} class folders (or labels in its manifest)"
        )


def scan_dataset(
    source: str | os.PathLike,
    *,
    min_side: int | None = 32,
    workers: int | None = None,
    cache: bool = True,
    progress: bool | None = None,
) -> ScanResult:
    """Check every image of a class-folder dataset or of a CSV manifest.

    Args:
        source: A folder ``<root>/<class>/**/<image>`` or a CSV file ``path,label[,split]``.
        min_side: Skip images whose shorter side is below this many pixels (None: no limit).
        workers: Threads for checking (default: all cores).
        cache: Reuse and update the per-file cache of earlier scans (``cache_path_for``).
        progress: Show the progress line (default: for many files, on a terminal; see
            ``thesis_lib.data.progress``).

    Raises:
        DataError: a missing source, fewer than two classes, or no readable image.
    """
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        entries, skipped, root = read_csv_manifest(source)
    elif source.is_dir():
        root = source
        entries, skipped = list_class_folders(source)
    elif source.exists():
        raise DataError(f"{source}: not a dataset (expected a folder of class folders or a CSV)")
    else:
        raise DataError(f"{source}: no such folder or file")
    return scan_entries(root, entries, skipped=skipped, min_side=min_side, workers=workers,
                        cache=cache, progress=progress)

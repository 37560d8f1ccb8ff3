"""The fingerprint of the data a run trains and tests on: part of its identity.

A run id that hashed only the dataset's path would call a run "already finished" after images
were added, removed or relabelled. The fingerprint is a hash of the dataset's scan manifest
(relative path, raw label, predefined split, size and content hash of every usable image, as
``thesis_lib.data`` lists and checks them) and of the split file's bytes when one is given. It
does not depend on where the dataset lies, so a dataset copied to a cluster node finds the runs
it made elsewhere, and it does not depend on file times, so a copy made without preserving
them does too.

The scan is cached per file (by size and modification time), so fingerprinting a dataset that
was scanned before costs a directory listing; the first scan checks every image once, which the
training run would do anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from thesis_lib import paths
from thesis_lib.config.training import TrainConfig
from thesis_lib.data.adapters import read_dataset
from thesis_lib.data.demo import ensure_demo_dataset
from thesis_lib.data.discovery import ScanResult
from thesis_lib.errors import DataError

# Manifest columns that say which images with which labels a dataset holds. A content hash
# column is used when the scan provides one (sha256, or sha1 from older scans).
IDENTITY_COLUMNS = ("relpath", "label", "split", "size_bytes")
CONTENT_COLUMNS = ("sha256", "sha1")


@dataclass(frozen=True)
class DataFingerprint:
    """What a run's data was, for its identity and its record.

    Args:
        value: 16 hex digits combining the dataset and the split file.
        dataset: hash of the dataset's scan manifest.
        images: number of usable images in the dataset.
        split_file: SHA-256 of the split file's bytes, or ``None``.
        scanned: the scan the fingerprint was made from and its adapter's name, handed on to
            ``prepare_dataset`` so that a run scans its dataset once (not part of the value).
    """

    value: str
    dataset: str
    images: int
    split_file: str | None
    scanned: tuple[ScanResult, str] | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict:
        return {"value": self.value, "dataset": self.dataset, "images": self.images,
                "split_file": self.split_file}


# Scans reused within ``reusing_scans()``, by (dataset folder, adapter, min_side); None outside.
# A context variable, so that a grid planning in one thread never lends its scans to another.
_reused: ContextVar[dict[tuple, tuple[ScanResult, str]] | None] = ContextVar("reused_scans",
                                                                           default=None)


@contextmanager
def reusing_scans() -> Iterator[None]:
    """Within this block a dataset is scanned once, however many configurations use it: for a
    grid planning all its cells at one moment (a warm scan of 118,000 images, a listing and a
    check of each file's size and time, takes about 4 s on a CPU core, and a grid may have
    dozens of cells). Outside it every fingerprint scans, so a dataset changed since is
    noticed."""
    token = _reused.set(_reused.get() if _reused.get() is not None else {})
    try:
        yield
    finally:
        _reused.reset(token)


def data_fingerprint(config: TrainConfig) -> DataFingerprint:
    """Scan (cached) the configuration's dataset and hash what it holds.

    Raises:
        DataError: an unusable dataset (missing, no readable image, one class...).
    """

    source = ensure_dataset(config)
    key = (str(source.resolve()), config.adapter, config.min_side)
    reused = _reused.get()
    scanned = reused.get(key) if reused is not None else None
    if scanned is None:
        # progress=None: the scan's progress line on a terminal or in a notebook, nothing in
        # a log (a cold scan of 61,000 images takes minutes before the run's first line).
        scanned = read_dataset(source, adapter=config.adapter, min_side=config.min_side,
                               progress=None)
        if reused is not None:
            reused[key] = scanned
    scan = scanned[0]
    manifest = scan.manifest
    columns = [c for c in IDENTITY_COLUMNS if c in manifest.columns]
    columns += [c for c in CONTENT_COLUMNS if c in manifest.columns][:1]
    rows = manifest[columns].astype(str).sort_values("relpath", kind="stable")
    digest = hashlib.sha256()
    digest.update(",".join(columns).encode())
    for row in rows.itertuples(index=False):
        digest.update(("\n" + "\t".join(row)).encode())
    dataset = digest.hexdigest()
    split_file = None
    if config.split_file is not None:
        split_file = file_sha256(paths.resolve(config.split_file))
    combined = hashlib.sha256(f"{dataset}|{split_file}".encode()).hexdigest()[:16]
    return DataFingerprint(combined, dataset, len(manifest), split_file, scanned)


def ensure_dataset(config: TrainConfig) -> Path:
    """The dataset folder; the generated demo dataset is made when it is missing."""
    if config.data_dir is None:

        ensure_demo_dataset(config.data_path)
    return config.data_path


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes; a missing file is a ``DataError`` naming it."""

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise DataError(f"{path}: cannot read the split file "
                        f"({error.strerror or error})") from None

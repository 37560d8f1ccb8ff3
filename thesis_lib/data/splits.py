"""Deterministic stratified train/val/test splits, saved as CSV and reused.

Within each class, images are ordered by a SHA-256 hash of (seed, relpath) and cut at exact
per-class counts (largest-remainder rounding of ratio x class size). The result depends only
on the seed, the relative paths and the labels: not on directory listing order, the machine,
Python's hash randomisation or the number of files in other classes.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from thesis_lib.errors import ConfigError, DataError
from thesis_lib.files import write_csv

SPLITS = ("train", "val", "test")
SPLIT_COLUMNS = ["relpath", "label", "split"]
DEFAULT_RATIOS = (0.8, 0.1, 0.1)

# Names datasets use for their predefined splits.
SPLIT_ALIASES = {
    "train": "train", "training": "train", "trainval": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
}  # fmt: skip


def check_ratios(ratios: Sequence[float]) -> tuple[float, float, float]:
    """Validated (train, val, test) fractions: ConfigError unless three non-negative numbers
    summing to 1 with a training share."""
    try:
        values = tuple(float(value) for value in ratios)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"split ratios must be three numbers, got {ratios!r}") from error
    if len(values) != 3 or any(value < 0 or math.isnan(value) for value in values):
        raise ConfigError(f"split ratios must be three non-negative numbers, got {ratios!r}")
    if not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ConfigError(f"split ratios must sum to 1 (train, val, test), got {ratios!r}")
    if values[0] == 0:
        raise ConfigError(f"the training share of the split ratios is 0: {ratios!r}")
    return values  # type: ignore[return-value]


def split_counts(total: int, ratios: Sequence[float]) -> list[int]:
    """Exact counts per split for ``total`` items: floor of each share, then the remaining
    items go to the largest fractional parts (ties: train, val, test)."""
    shares = [total * ratio for ratio in ratios]
    counts = [math.floor(share) for share in shares]
    order = sorted(range(len(shares)), key=lambda index: (-(shares[index] - counts[index]), index))
    for index in order[: total - sum(counts)]:
        counts[index] += 1
    return counts


def assign_splits(
    frame: pd.DataFrame,
    *,
    ratios: Sequence[float] = DEFAULT_RATIOS,
    seed: int = 0,
    label_column: str = "label",
) -> pd.Series:
    """A stratified split of ``frame``: "train"/"val"/"test" aligned with its index.

    Args:
        frame: One row per image, with ``relpath`` and ``label_column``.
        ratios: (train, val, test) fractions summing to 1.
        seed: Another seed gives another, equally stratified, split.
        label_column: The column to stratify by.
    """
    ratios = check_ratios(ratios)
    assignment = pd.Series(index=frame.index, dtype=object)
    for _, group in frame.groupby(label_column, sort=True):
        keys = group["relpath"].map(
            lambda relpath: hashlib.sha256(f"{seed}\0{relpath}".encode()).hexdigest())
        ordered = keys.sort_values(kind="stable").index
        start = 0
        for name, count in zip(SPLITS, split_counts(len(ordered), ratios), strict=True):
            assignment.loc[ordered[start:start + count]] = name
            start += count
    return assignment


def normalize_split_names(values: pd.Series, source: str) -> pd.Series:
    """Map "training"/"validation"/"valid"/... to "train"/"val"/"test"; DataError for a value
    that names no split."""
    normalized = values.astype(str).str.strip().str.lower().map(SPLIT_ALIASES)
    unknown = sorted(set(values[normalized.isna()].astype(str)))
    if unknown:
        raise DataError(
            f"{source}: unknown split name(s) {', '.join(unknown[:5])}; use train, val, test"
        )
    return normalized


def complete_predefined_split(
    frame: pd.DataFrame, *, ratios: Sequence[float] = DEFAULT_RATIOS, seed: int = 0,
    label_column: str = "label",
) -> pd.Series:
    """A dataset's own split (column ``split``), with a validation set carved out of the
    training set (stratified, in the proportion val / (train + val) of ``ratios``) when the
    dataset defines only train and test."""
    ratios = check_ratios(ratios)
    split = normalize_split_names(frame["split"], "predefined split")
    if (split == "val").any() or ratios[1] == 0:
        return split
    train = frame[split == "train"]
    if train.empty:
        return split
    val_share = ratios[1] / (ratios[0] + ratios[1])
    carved = assign_splits(train, ratios=(1 - val_share, val_share, 0.0), seed=seed,
                           label_column=label_column)
    split.loc[carved.index] = carved
    return split


def save_split(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``relpath,label,split`` (sorted by relpath) to ``path`` and return it."""
    missing = set(SPLIT_COLUMNS) - set(frame.columns)
    if missing:
        raise DataError(f"cannot save a split without the columns {', '.join(sorted(missing))}")
    return write_csv(path, frame[SPLIT_COLUMNS].sort_values("relpath", kind="stable"))


def load_split(path: str | os.PathLike) -> pd.DataFrame:
    """Read a split CSV written by ``save_split``; DataError for a missing file or column, an
    unknown split name or a relpath listed twice."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError as error:
        raise DataError(f"{path}: split file not found") from error
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"{path}: cannot read the split file ({error})") from error
    missing = {"relpath", "split"} - set(table.columns)
    if missing:
        raise DataError(f"{path}: a split file needs the columns relpath,label,split; missing "
                        f"{', '.join(sorted(missing))}")
    table["split"] = normalize_split_names(table["split"], str(path))
    twice = table["relpath"][table["relpath"].duplicated()]
    if len(twice):
        raise DataError(f"{path}: '{twice.iloc[0]}' is listed more than once")
    return table


def apply_split_file(frame: pd.DataFrame, split_table: pd.DataFrame, source: str) -> pd.Series:
    """The saved split of every row of ``frame``, matched by relpath.

    Images of the split file missing from ``frame`` are a DataError (the split cannot be
    reproduced); images the file does not list are left out with a warning (split NaN).
    """
    lookup = split_table.set_index("relpath")["split"]
    present = set(frame["relpath"])
    missing = [relpath for relpath in lookup.index if relpath not in present]
    if missing:
        raise DataError(
            f"{source}: {len(missing)} image(s) of the split file are missing or unusable in "
            f"the dataset (first: {missing[0]}); rescan, or make a new split"
        )
    split = frame["relpath"].map(lookup)
    unlisted = int(split.isna().sum())
    if unlisted:
        warnings.warn(
            f"{source}: {unlisted} image(s) of the dataset are not in the split file and are "
            "left out", stacklevel=2,
        )
    return split

"""From a dataset folder to labelled train/val/test tables, in one call.

``prepare_dataset`` scans (cached), reads the layout with its adapter, maps raw labels to a
label scheme, optionally drops duplicate images, and splits: with a saved split file when one
is given, with the dataset's own split when it has one, else with a deterministic stratified
split. Everything dropped on the way is listed in ``PreparedDataset.skipped`` with a reason.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from thesis_lib.data import adapters, discovery, splits
from thesis_lib.data.labels import LabelScheme, get_scheme
from thesis_lib.errors import DataError

REASON_OUTSIDE_SCHEME = "label outside scheme"
REASON_DUPLICATE = "duplicate"
REASON_NOT_IN_SPLIT_FILE = "not in split file"

# The columns every split frame starts with (others, from the scan and adapter, follow).
FRAME_COLUMNS = ["path", "label", "label_index", "decoder", "relpath", "raw_label"]


@dataclass
class PreparedDataset:
    """A labelled, split dataset.

    Args:
        root: The dataset root; ``relpath`` values are relative to it.
        adapter: The layout it was read with.
        scheme: The label scheme.
        manifest: Every used image with its ``split``, ``label`` (class name) and
            ``label_index``.
        skipped: Files and images left out (path, reason, detail).
    """

    root: Path
    adapter: str
    scheme: LabelScheme
    manifest: pd.DataFrame
    skipped: pd.DataFrame

    @property
    def class_names(self) -> list[str]:
        return list(self.scheme.class_names)

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """"train", "val", "test" -> their rows (path absolute, label, label_index, ...)."""
        return {name: self.manifest[self.manifest["split"] == name].reset_index(drop=True)
                for name in splits.SPLITS}

    def counts(self) -> pd.DataFrame:
        """Images per class (rows, in class order) and split (columns), with totals."""
        table = pd.crosstab(self.manifest["label"], self.manifest["split"])
        table = table.reindex(index=self.class_names, columns=list(splits.SPLITS), fill_value=0)
        table["total"] = table.sum(axis=1)
        return table

    def save_split(self, path: str | os.PathLike) -> Path:
        """Write the split as ``relpath,label,split``; ``prepare_dataset(split_file=path)``
        reproduces it."""
        return splits.save_split(self.manifest, path)


def _apply_scheme(
    manifest: pd.DataFrame, scheme: LabelScheme
) -> tuple[pd.DataFrame, list[dict]]:
    indices = manifest["label"].map(scheme.map_label)
    outside = manifest[indices.isna()]
    dropped = [discovery.skip_record(row.path, REASON_OUTSIDE_SCHEME,
                                     scheme.drop_reason(row.label))
               for row in outside.itertuples(index=False)]
    kept = manifest[indices.notna()].copy()
    kept["raw_label"] = kept["label"]
    kept["label_index"] = indices[indices.notna()].astype(int)
    kept["label"] = kept["label_index"].map(lambda index: scheme.class_names[index])
    empty = [name for index, name in enumerate(scheme.class_names)
             if not (kept["label_index"] == index).any()]
    found = ", ".join(sorted(manifest["label"].unique()))
    if len(empty) > scheme.num_classes - 2:
        raise DataError(
            f"fewer than two classes of scheme '{scheme.name}' have images (none of "
            f"{', '.join(repr(name) for name in empty)}; raw labels found: {found})"
        )
    if empty:
        # Legitimate for evaluation sets (Emotion6 has no "love"), suspicious for training.
        warnings.warn(f"no image of class {', '.join(repr(name) for name in empty)} in "
                      f"scheme '{scheme.name}' (raw labels found: {found})", stacklevel=3)
    return kept, dropped


def _drop_duplicates(manifest: pd.DataFrame, workers: int | None) -> tuple[pd.DataFrame,
                                                                            list[dict]]:
    from thesis_lib.data import audit

    duplicates = audit.find_duplicates(manifest, workers=workers)
    # With a predefined split, keep the training copy: the val/test copies are the leak.
    keep = "train" if "split" in manifest.columns else "first"
    kept = audit.drop_duplicates(manifest, duplicates, keep=keep)
    removed = manifest[~manifest["path"].isin(set(kept["path"]))]
    dropped = [discovery.skip_record(path, REASON_DUPLICATE,
                                     "duplicate of another image (dropped before splitting)")
               for path in removed["path"]]
    return kept, dropped


def _check_predefined_split(manifest: pd.DataFrame) -> pd.DataFrame:
    """The manifest with its own split (if any) named train/val/test; all or no images must
    have one."""
    if "split" not in manifest.columns:
        return manifest
    undefined = manifest["split"].isna()
    if undefined.any():
        raise DataError(
            f"the dataset's own split leaves {int(undefined.sum())} image(s) without a split "
            f"(first: {manifest.loc[undefined, 'relpath'].iloc[0]}); give every image a "
            "split, or none"
        )
    manifest = manifest.copy()
    manifest["split"] = splits.normalize_split_names(manifest["split"], "the dataset's split")
    return manifest


def _choose_splits(
    manifest: pd.DataFrame, ratios: Sequence[float], seed: int, split_file: str | None
) -> pd.Series:
    if split_file is not None:
        table = splits.load_split(split_file)
        return splits.apply_split_file(manifest, table, str(split_file))
    if "split" in manifest.columns:
        return splits.complete_predefined_split(manifest, ratios=ratios, seed=seed)
    return splits.assign_splits(manifest, ratios=ratios, seed=seed)


def prepare_dataset(
    source: str | os.PathLike,
    *,
    scheme: str | LabelScheme = "sadness",
    ratios: Sequence[float] = splits.DEFAULT_RATIOS,
    seed: int = 0,
    split_file: str | os.PathLike | None = None,
    adapter: str = "auto",
    min_side: int | None = 32,
    deduplicate: bool = False,
    workers: int | None = None,
    cache: bool = True,
    progress: bool | None = None,
) -> PreparedDataset:
    """Scan, label and split a dataset.

    Args:
        source: A dataset folder (any layout of ``adapters.ADAPTERS``) or a CSV manifest.
        scheme: A label scheme or its name ("sadness", "binary:<emotion>", "mikels8",
            "thesis7", "folders").
        ratios: (train, val, test) fractions for a new split.
        seed: Seed of a new split.
        split_file: A split CSV saved earlier; reused instead of making a new split.
        adapter: The dataset layout, or "auto".
        min_side: Skip images whose shorter side is below this many pixels.
        deduplicate: Drop exact and near-duplicate images (``audit.find_duplicates``) before
            splitting, keeping the first of each group.
        workers: Threads for scanning and auditing (default: all cores).
        cache: Reuse the scan cache.
        progress: Show progress bars (default: only for many files).

    Returns:
        The ``PreparedDataset``.

    Raises:
        DataError: an unusable dataset, fewer than two classes with images, a split file
            that does not fit the dataset.
        ConfigError: an unknown scheme or adapter, bad ratios.
    """
    ratios = splits.check_ratios(ratios)
    scan, adapter_name = adapters.read_dataset(source, adapter=adapter, min_side=min_side,
                                               workers=workers, cache=cache, progress=progress)
    if not isinstance(scheme, LabelScheme):
        scheme = get_scheme(scheme, raw_labels=scan.manifest["label"])
    manifest, dropped = _apply_scheme(scan.manifest, scheme)
    if split_file is None:
        manifest = _check_predefined_split(manifest)
    elif "split" in manifest.columns:
        manifest = manifest.drop(columns="split")  # the split file replaces it
    if deduplicate:
        manifest, removed = _drop_duplicates(manifest, workers)
        dropped += removed
    manifest = manifest.copy()
    manifest["split"] = _choose_splits(manifest, ratios, seed,
                                       None if split_file is None else str(split_file))
    unlisted = manifest[manifest["split"].isna()]
    dropped += [discovery.skip_record(path, REASON_NOT_IN_SPLIT_FILE,
                                      f"not listed in {split_file}")
                for path in unlisted["path"]]
    manifest = manifest[manifest["split"].notna()].astype({"split": str})
    columns = FRAME_COLUMNS + [c for c in manifest.columns if c not in FRAME_COLUMNS]
    manifest = manifest[columns].sort_values("relpath", kind="stable").reset_index(drop=True)
    if dropped:
        extra = pd.DataFrame(dropped, columns=discovery.SKIPPED_COLUMNS)
        skipped = pd.concat([scan.skipped, extra], ignore_index=True) if len(scan.skipped) \
            else extra
    else:
        skipped = scan.skipped
    return PreparedDataset(root=scan.root, adapter=adapter_name, scheme=scheme,
                           manifest=manifest, skipped=skipped.reset_index(drop=True))

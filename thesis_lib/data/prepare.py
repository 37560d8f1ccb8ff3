"""From a dataset folder to labelled train/val/test tables, in one call.

``prepare_dataset`` reads the layout with its adapter (a cached scan), maps raw labels to a
label scheme, optionally drops duplicates, and splits: by a saved split file, else by the
dataset's own split, else by a deterministic stratified split. Everything dropped on the way is
listed in ``PreparedDataset.skipped`` with a reason.

Deduplication runs before splitting, on the hashes the scan stored, and keeps of each group the
copy in the dataset's own training split, else the original (largest resolution, then least
compressed, then first by relpath): every split seed sees the same cleaned dataset, and no copy
of a training image can land in val or test. A group whose copies carry different labels is a
label conflict: it is reported (``PreparedDataset.conflicts``) and, by default, every copy is
dropped, since the picture's label is not known.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from thesis_lib.data import adapters, audit, discovery, splits
from thesis_lib.data.labels import LabelScheme, get_scheme
from thesis_lib.errors import ConfigError, DataError, ThesisError
from thesis_lib.files import write_csv, write_text

REASON_OUTSIDE_SCHEME = "label outside scheme"
REASON_DUPLICATE = "duplicate"
REASON_LABEL_CONFLICT = "label conflict"
# Bumped when the duplicate audit changes its result for the same files (cached tables of an
# older audit are then not used).
DUPLICATES_CACHE_VERSION = 2
# What happens to a group of copies whose labels differ: "drop" every copy (the label of the
# picture is unknown), or "keep" one (the keeper, with its label) like any other group.
LABEL_CONFLICT_CHOICES = ("drop", "keep")
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
        skipped: Files and images left out (path, reason, detail); dropped copies have the
            reason ``REASON_DUPLICATE``.
        duplicates: With ``deduplicate=True``, every group of copies found before splitting:
            the columns of ``audit.find_duplicates`` (split: the dataset's own) plus relpath,
            label and kept (True for the one member of each group that stayed; no member of
            a group with a label conflict when those are dropped). None when duplicates were
            not looked for.
    """

    root: Path
    adapter: str
    scheme: LabelScheme
    manifest: pd.DataFrame
    skipped: pd.DataFrame
    duplicates: pd.DataFrame | None = None

    @property
    def conflicts(self) -> pd.DataFrame | None:
        """The rows of ``duplicates`` in groups whose copies carry different labels."""
        return label_conflicts_of(self.duplicates)

    def duplicate_counts(self) -> dict[str, int]:
        """Groups of copies, copies dropped as duplicates, groups with a label conflict and
        the images dropped for it (all 0 when duplicates were not looked for)."""
        if self.duplicates is None:
            return {"groups": 0, "copies_dropped": 0, "conflict_groups": 0,
                    "conflict_images_dropped": 0}
        reasons = self.skipped["reason"]
        return {"groups": int(self.duplicates["group"].nunique()),
                "copies_dropped": int((reasons == REASON_DUPLICATE).sum()),
                "conflict_groups": int(self.conflicts["group"].nunique()),
                "conflict_images_dropped": int((reasons == REASON_LABEL_CONFLICT).sum())}

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
        """Write ``relpath,label,split``, which ``prepare_dataset(split_file=path)`` reproduces."""
        return splits.save_split(self.manifest, path)


def _apply_scheme(manifest: pd.DataFrame, scheme: LabelScheme) -> tuple[pd.DataFrame, list[dict]]:
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


def _drop_duplicates(manifest: pd.DataFrame, workers: int | None, label_conflicts: str,
                     progress: bool | None = None, root: Path | None = None
                     ) -> tuple[pd.DataFrame, list[dict], pd.DataFrame]:
    """The manifest without the redundant copies, their skip records, and the group table."""
    duplicates = _cached_duplicates(manifest, root, workers, progress)
    by_path = manifest.set_index("path")
    groups = duplicates.assign(relpath=duplicates["path"].map(by_path["relpath"]).astype(object),
                               label=duplicates["path"].map(by_path["label"]).astype(object))
    keepers = groups.loc[_keeper_order(groups, by_path)].groupby("group").head(1)
    conflicting = groups.groupby("group")["label"].transform("nunique") > 1
    groups["kept"] = groups.index.isin(keepers.index) & \
        ~(conflicting & (label_conflicts == "drop"))
    kept_relpath = keepers.set_index("group")["relpath"]
    labels_of = groups.groupby("group")["label"].agg(lambda labels: ", ".join(sorted(set(labels))))
    dropped = []
    for row, conflict in zip(groups.itertuples(index=False), conflicting, strict=True):
        if row.kept:
            continue
        if conflict and label_conflicts == "drop":
            dropped.append(discovery.skip_record(
                row.path, REASON_LABEL_CONFLICT,
                f"copies of one picture in classes {labels_of[row.group]} (duplicate group "
                f"{row.group}): every copy dropped before splitting"))
        else:
            dropped.append(discovery.skip_record(
                row.path, REASON_DUPLICATE, f"copy of {kept_relpath[row.group]} (duplicate "
                f"group {row.group}, dropped before splitting)"))
    kept = manifest[~manifest["path"].isin(set(groups.loc[~groups["kept"], "path"]))]
    columns = ["group", "path", "relpath", "label", "kind", "split", "distance", "kept"]
    return kept, dropped, groups[columns].reset_index(drop=True)


def duplicates_fingerprint(manifest: pd.DataFrame) -> str:
    """SHA-256 of what the duplicate audit of ``manifest`` depends on: every path with its
    size, time-independent content hash and perceptual hashes (the scan's columns), and the
    audit's version. The same fingerprint means the same groups."""
    digest = hashlib.sha256(f"duplicates v{DUPLICATES_CACHE_VERSION}".encode())
    columns = [column for column in ("path", "size_bytes", *audit.HASH_COLUMNS)
               if column in manifest.columns]
    digest.update(",".join(columns).encode())
    for row in manifest[columns].astype(str).sort_values("path").itertuples(index=False):
        digest.update(("\n" + "\t".join(row)).encode())
    return digest.hexdigest()


def _cached_duplicates(manifest: pd.DataFrame, root: Path | None, workers: int | None,
                       progress: bool | None) -> pd.DataFrame:
    """``audit.find_duplicates(manifest)``, computed once per dataset content: the table is
    kept next to the scan cache under the manifest's ``duplicates_fingerprint``, so the runs
    of a grid or study (any seed, any process) audit a dataset once; a changed file changes
    the fingerprint and the audit runs again. Without ``root`` (no cache) it always runs."""
    if root is None or not set(audit.HASH_COLUMNS) <= set(manifest.columns):
        return audit.find_duplicates(manifest, workers=workers, progress=progress)
    scan_cache = discovery.cache_path_for(root)
    path = scan_cache.with_name(f"{scan_cache.stem}.duplicates-"
                                f"{duplicates_fingerprint(manifest)[:16]}.csv")
    if path.is_file():
        try:
            table = pd.read_csv(path, dtype={"split": object}, keep_default_na=False)
            if list(table.columns) == audit.DUPLICATE_COLUMNS and \
                    set(table["path"]) <= set(manifest["path"]):
                split = table["split"].astype(object)
                return table.assign(split=split.where(split != "", None))
        except (OSError, ValueError, pd.errors.ParserError):
            pass  # a damaged table is computed again
    table = audit.find_duplicates(manifest, workers=workers, progress=progress)
    try:
        write_csv(path, table)
    except (ThesisError, OSError):
        pass  # only costs the audit next time
    return table


def _keeper_order(groups: pd.DataFrame, by_path: pd.DataFrame) -> pd.Index:
    """The rows of ``groups`` in the order in which they are preferred as the one kept copy.

    The copy in the dataset's own training split first (with a predefined split, the val/test
    copies are the leak); then the original rather than a resized or re-encoded copy: the
    largest resolution, then the least compressed (most bytes per pixel); then the first by
    relpath. All of it depends on the files alone, not on a split seed.
    """
    info = by_path.reindex(groups["path"])
    pixels = pd.to_numeric(info.get("width"), errors="coerce").to_numpy() * \
        pd.to_numeric(info.get("height"), errors="coerce").to_numpy() \
        if {"width", "height"} <= set(by_path.columns) else np.zeros(len(groups))
    size = pd.to_numeric(info["size_bytes"], errors="coerce").to_numpy() \
        if "size_bytes" in by_path.columns else np.zeros(len(groups))
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(pixels > 0, size / pixels, 0.0)
    ranked = groups.assign(not_train=groups["split"].ne("train").to_numpy(),
                           fewer_pixels=-np.nan_to_num(pixels.astype(float)),
                           more_compressed=-np.nan_to_num(density))
    return ranked.sort_values(["group", "not_train", "fewer_pixels", "more_compressed",
                               "relpath"], kind="stable").index


def label_conflicts_of(duplicates: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of the duplicate groups whose copies carry more than one label (in the label
    scheme), sorted by group and relpath; None when duplicates were not looked for.

    Args:
        duplicates: ``PreparedDataset.duplicates``.
    """
    if duplicates is None:
        return None
    conflicting = duplicates.groupby("group")["label"].transform("nunique") > 1
    return duplicates[conflicting].reset_index(drop=True)


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


def choose_splits(
    manifest: pd.DataFrame, ratios: Sequence[float], seed: int, split_file: str | None
) -> pd.Series:
    """The split of every row: from ``split_file``, else the manifest's own split completed
    with a validation set, else a new split."""
    if split_file is not None:
        table = splits.load_split(split_file)
        return splits.apply_split_file(manifest, table, str(split_file))
    if "split" in manifest.columns and manifest["split"].notna().all():
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
    label_conflicts: str = "drop",
    scanned: tuple[discovery.ScanResult, str] | None = None,
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
        deduplicate: Drop exact and near-duplicate images before splitting (see the module
            docstring); what was dropped is in ``skipped`` and ``duplicates``. Not applied with
            a split file, which is used as it is.
        workers: Threads for scanning and auditing (default: all cores).
        cache: Reuse the scan cache.
        progress: Show progress lines (default: for many files, on a terminal).
        label_conflicts: With ``deduplicate``, what happens to a group of copies filed under
            different classes: "drop" every copy (reason ``REASON_LABEL_CONFLICT``) or "keep"
            one like any other group. Either way they are listed in ``conflicts``.
        scanned: ``adapters.read_dataset(source, ...)`` made moments ago with these
            ``adapter`` and ``min_side`` (e.g. for a run's data fingerprint): used instead of
            scanning the dataset again.

    Raises:
        DataError: an unusable dataset, fewer than two classes with images, a split file
            that does not fit the dataset.
        ConfigError: an unknown scheme or adapter, bad ratios.
    """
    ratios = splits.check_ratios(ratios)
    if label_conflicts not in LABEL_CONFLICT_CHOICES:
        raise ConfigError(f"label_conflicts must be one of {list(LABEL_CONFLICT_CHOICES)}, got "
                          f"{label_conflicts!r}")
    if scanned is None:
        scanned = adapters.read_dataset(source, adapter=adapter, min_side=min_side,
                                        workers=workers, cache=cache, progress=progress)
    scan, adapter_name = scanned
    if not isinstance(scheme, LabelScheme):
        scheme = get_scheme(scheme, raw_labels=scan.manifest["label"])
    manifest, dropped = _apply_scheme(scan.manifest, scheme)
    if split_file is None:
        manifest = _check_predefined_split(manifest)
    elif "split" in manifest.columns:
        manifest = manifest.drop(columns="split")  # the split file replaces it
    duplicates = None
    if deduplicate and split_file is None:
        manifest, removed, duplicates = _drop_duplicates(
            manifest, workers, label_conflicts, progress, scan.root if cache else None)
        dropped += removed
    manifest = manifest.copy()
    manifest["split"] = choose_splits(manifest, ratios, seed,
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
                           manifest=manifest, skipped=skipped.reset_index(drop=True),
                           duplicates=duplicates)


# --- what notebook 02 (and ``thesis data split``) hand to training


def leakage_without_deduplication(source: str | os.PathLike, **options) -> pd.DataFrame:
    """The duplicate groups that a split of ``source`` *without* deduplication would spread
    across splits (``audit.leakage_report``): what ``deduplicate`` saves. ``options`` are
    ``prepare_dataset``'s."""
    plain = prepare_dataset(source, **{**options, "deduplicate": False})
    return audit.leakage_report(audit.find_duplicates(plain.manifest))


def write_prepared(prepared: PreparedDataset, out: str | os.PathLike, *,
                   overwrite: bool = False, leakage: pd.DataFrame | None = None,
                   description: dict | None = None) -> list[Path]:
    """Write what training reads and the reports into ``out``; returns the files written.

    ``split.csv`` (pass it as ``split_file`` with the same ``data_dir``), ``manifest.csv``,
    ``skipped.csv``, ``duplicates.csv`` and ``conflicts.csv`` (with deduplication),
    ``leakage.csv`` (when known) and ``dataset.json``
    (``description`` plus the class names and image count). A different ``split.csv`` already
    in ``out`` is a DataError unless ``overwrite``: earlier training runs may have used it.
    """
    out = Path(out)
    split_path = out / "split.csv"
    new_split = prepared.manifest[splits.SPLIT_COLUMNS].sort_values("relpath")
    if split_path.is_file() and not overwrite:
        old_split = splits.load_split(split_path)[splits.SPLIT_COLUMNS].sort_values("relpath")
        if not old_split.reset_index(drop=True).equals(new_split.reset_index(drop=True)):
            raise DataError(f"{split_path} holds a different split; set overwrite=True to "
                            "replace it or choose another output folder")
    written = [write_csv(split_path, new_split)]
    columns = ["relpath", "label", "label_index", "split"]
    written.append(write_csv(out / "manifest.csv",
                             prepared.manifest[columns].sort_values("relpath")))
    written.append(write_csv(out / "skipped.csv", prepared.skipped))
    if prepared.duplicates is not None:
        written.append(write_csv(out / "duplicates.csv", prepared.duplicates))
        written.append(write_csv(out / "conflicts.csv", prepared.conflicts))
    if leakage is not None:
        written.append(write_csv(out / "leakage.csv", leakage))
    summary = {**(description or {}), "class_names": prepared.class_names,
               "images": len(prepared.manifest), "split_file": str(split_path)}
    written.append(write_text(out / "dataset.json", json.dumps(summary, indent=1) + "\n"))
    return written

"""Readers for the layouts in which public emotion datasets are distributed.

Each adapter lists a dataset's files with their raw labels (and predefined split or extra
annotations where the dataset has them); ``discovery.scan_entries`` then checks every file,
so all adapters give the same manifest columns as a plain scan. ``read_dataset(source,
adapter="auto")`` recognises the layout.

Layouts (see MISSION.md):
    csv          a CSV manifest path,label[,split]
    emoset       EmoSet-118K: image/<emotion>/*.jpg, annotation/<emotion>/*.json and the
                 split files train.json, val.json, test.json, each a JSON list of
                 [emotion, image relpath, annotation relpath] (as read by EmoSet's own loader)
    emotion6     Emotion6: images/<emotion>/<image> and ground_truth.txt (per image: name,
                 valence, arousal, then the probabilities of anger, disgust, fear, joy,
                 sadness, surprise, neutral), attached as columns
    unbiasedemo  UnbiasedEmo: images/<emotion>/<object>/<image>; the object becomes a column
    fi           FI: emotion_dataset/<emotion>/ or <root>/<emotion>/ with Mikels emotions
    webemo       class folders named after WEBEmo's fine-grained categories (column category)
    folders      any folder of class folders
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thesis_lib.data import discovery, images, labels
from thesis_lib.data.discovery import Entry, ScanResult
from thesis_lib.errors import ConfigError, DataError

EMOSET_SPLIT_FILES = {"train": "train.json", "val": "val.json", "test": "test.json"}
EMOTION6_COLUMNS = [
    "valence", "arousal", "prob_anger", "prob_disgust", "prob_fear", "prob_joy",
    "prob_sadness", "prob_surprise", "prob_neutral",
]  # fmt: skip

# (entries, skipped files, root the relpaths start from)
Listing = tuple[list[Entry], list[dict], Path]


@dataclass(frozen=True)
class Adapter:
    """One dataset layout.

    Args:
        name: The name used by ``adapter=...`` and ``--adapter``.
        detect: Whether a path looks like this layout.
        list_entries: The layout's files as entries (before checking).
    """

    name: str
    detect: Callable[[Path], bool]
    list_entries: Callable[[Path], Listing]


def _subfolders(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in folder.iterdir()
                  if entry.is_dir() and not discovery.is_hidden(entry.name))


def _entries_under(root: Path, subdir: str) -> tuple[list[Entry], list[dict]]:
    """Class-folder entries of ``root/subdir`` with relpaths relative to ``root``."""
    entries, skipped = discovery.list_class_folders(root / subdir)
    prefix = Path(subdir)
    for entry in entries:
        entry.relpath = (prefix / entry.relpath).as_posix()
    return entries, skipped


# --- CSV and plain folders ---------------------------------------------------------------


def _is_csv(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".csv"


def _list_csv(path: Path) -> Listing:
    root, entries, skipped = discovery.read_csv_manifest(path)
    return entries, skipped, root


def _list_folders(root: Path) -> Listing:
    entries, skipped = discovery.list_class_folders(root)
    return entries, skipped, root


# --- EmoSet-118K -----------------------------------------------------------------------------


def _is_emoset(root: Path) -> bool:
    has_split_file = any((root / name).is_file() for name in EMOSET_SPLIT_FILES.values())
    return (root / "image").is_dir() and (has_split_file or (root / "annotation").is_dir())


def _emoset_item(item: object, source: Path) -> tuple[str, str, str | None]:
    """(emotion, image relpath, annotation relpath) of one split-file item."""
    if isinstance(item, dict):
        emotion = item.get("emotion", item.get("label"))
        image = item.get("image", item.get("path"))
        return str(emotion), str(image), item.get("annotation")
    if isinstance(item, list | tuple) and len(item) >= 2:
        strings = [str(value) for value in item]
        image_paths = [value for value in strings[1:] if images.is_image_path(value)]
        annotations = [value for value in strings[1:] if value.endswith(".json")]
        if image_paths:
            return strings[0], image_paths[0], annotations[0] if annotations else None
    raise DataError(f"{source}: unexpected item {item!r}; expected [emotion, image, annotation]")


def _list_emoset(root: Path) -> Listing:
    split_files = {split: root / name for split, name in EMOSET_SPLIT_FILES.items()
                   if (root / name).is_file()}
    if not split_files:  # no split files: the class folders under image/
        entries, skipped = _entries_under(root, "image")
        return entries, skipped, root
    entries: list[Entry] = []
    skipped: list[dict] = []
    for split, path in split_files.items():
        try:
            items = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise DataError(f"{path}: cannot read the EmoSet split file ({error})") from error
        if not isinstance(items, list):
            raise DataError(f"{path}: expected a JSON list of [emotion, image, annotation]")
        for item in items:
            emotion, image, annotation = _emoset_item(item, path)
            relpath = Path(os.path.normpath(image)).as_posix()
            full = root / relpath
            if not discovery.is_inside(os.path.realpath(full), os.path.realpath(root)):
                skipped.append(discovery.skip_record(full, discovery.REASON_OUTSIDE_ROOT,
                                               f"'{image}' leaves the dataset root"))
                continue
            extra = {"annotation": annotation} if annotation else {}
            entries.append(Entry(relpath=relpath, label=emotion, split=split, extra=extra))
    entries.sort(key=lambda entry: entry.relpath)
    return entries, skipped, root


# --- Emotion6 --------------------------------------------------------------------------------


def _is_emotion6(root: Path) -> bool:
    return (root / "images").is_dir() and (root / "ground_truth.txt").is_file()


def _is_number(text: str) -> bool:
    try:
        return not math.isnan(float(text))
    except ValueError:
        return False


def read_emotion6_ground_truth(path: Path) -> dict[str, dict[str, float]]:
    """Per image name ("sadness/12.jpg"): valence, arousal and the 7 class probabilities.

    Lines are split on tabs or spaces; a header line (non-numeric values) is skipped.
    """
    table: dict[str, dict[str, float]] = {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 1 + len(EMOTION6_COLUMNS) or not all(map(_is_number, fields[1:10])):
            if number == 1:
                continue  # the header
            raise DataError(f"{path}:{number}: expected an image name and 9 numbers "
                            "(valence, arousal, 7 probabilities)")
        name = Path(os.path.normpath(fields[0].strip("'\""))).as_posix()
        table[name] = dict(zip(EMOTION6_COLUMNS, map(float, fields[1:10]), strict=True))
    return table


def _list_emotion6(root: Path) -> Listing:
    entries, skipped = _entries_under(root, "images")
    truth = read_emotion6_ground_truth(root / "ground_truth.txt")
    empty = dict.fromkeys(EMOTION6_COLUMNS, math.nan)
    for entry in entries:
        name = entry.relpath.split("/", 1)[1]  # path under images/
        entry.extra = dict(truth.get(name, empty))
    return entries, skipped, root


# --- UnbiasedEmo -----------------------------------------------------------------------------


def _is_unbiasedemo(root: Path) -> bool:
    emotions = _subfolders(root / "images")
    return bool(emotions) and any(_subfolders(root / "images" / name) for name in emotions)


def _list_unbiasedemo(root: Path) -> Listing:
    entries, skipped = _entries_under(root, "images")
    for entry in entries:
        parts = entry.relpath.split("/")
        entry.extra = {"object": parts[2] if len(parts) > 3 else None}
    return entries, skipped, root


# --- FI and WEBEmo-style folders ---------------------------------------------------------


def _fi_folder(root: Path) -> Path:
    return root / "emotion_dataset" if (root / "emotion_dataset").is_dir() else root


def _all_named(folders: list[str], names: set[str]) -> bool:
    return len(folders) >= 2 and all(labels.canonical_emotion(f) in names for f in folders)


def _is_fi(root: Path) -> bool:
    return _all_named(_subfolders(_fi_folder(root)), set(labels.MIKELS8))


def _list_fi(root: Path) -> Listing:
    folder = _fi_folder(root)
    entries, skipped = _entries_under(root, folder.relative_to(root).as_posix())
    return entries, skipped, root


def _is_webemo(root: Path) -> bool:
    return _all_named(_subfolders(root), set(labels.WEBEMO_TO_THESIS7))


def _list_webemo(root: Path) -> Listing:
    entries, skipped = discovery.list_class_folders(root)
    for entry in entries:
        entry.extra = {"category": entry.label}
    return entries, skipped, root


# Detection order: the most specific layouts first.
ADAPTERS = {
    adapter.name: adapter
    for adapter in (
        Adapter("csv", _is_csv, _list_csv),
        Adapter("emoset", _is_emoset, _list_emoset),
        Adapter("emotion6", _is_emotion6, _list_emotion6),
        Adapter("unbiasedemo", _is_unbiasedemo, _list_unbiasedemo),
        Adapter("fi", _is_fi, _list_fi),
        Adapter("webemo", _is_webemo, _list_webemo),
        Adapter("folders", Path.is_dir, _list_folders),
    )
}


def detect_adapter(source: str | os.PathLike) -> str:
    """The name of the first adapter whose layout ``source`` matches.

    Raises:
        DataError: ``source`` does not exist or matches no layout.
    """
    source = Path(source)
    if not source.exists():
        raise DataError(f"{source}: no such folder or file")
    for adapter in ADAPTERS.values():
        if adapter.detect(source):
            return adapter.name
    raise DataError(f"{source}: not a dataset (expected a folder of class folders or a CSV)")


def get_adapter(name: str) -> Adapter:
    """An adapter by name.

    Raises:
        ConfigError: unknown name (the message lists the valid ones).
    """
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown dataset adapter '{name}'; valid: auto, {', '.join(ADAPTERS)}"
        ) from None


def read_dataset(
    source: str | os.PathLike,
    *,
    adapter: str = "auto",
    min_side: int | None = 32,
    workers: int | None = None,
    cache: bool = True,
    progress: bool | None = None,
) -> tuple[ScanResult, str]:
    """List a dataset with its adapter and check every file.

    Args:
        source: The dataset folder or CSV manifest.
        adapter: A name from ``ADAPTERS`` or "auto" (detect the layout).
        min_side, workers, cache, progress: As for ``discovery.scan_entries``.

    Returns:
        The ``ScanResult`` and the name of the adapter used.
    """
    source = Path(source)
    name = detect_adapter(source) if adapter == "auto" else get_adapter(adapter).name
    if not source.exists():
        raise DataError(f"{source}: no such folder or file")
    entries, skipped, root = ADAPTERS[name].list_entries(source)
    result = discovery.scan_entries(root, entries, skipped=skipped, min_side=min_side,
                                    workers=workers, cache=cache, progress=progress)
    return result, name

"""Readers for the layouts in which public emotion datasets are distributed (docs/data.md).

Each adapter lists a dataset's files with their raw labels (and predefined split or extra
annotations where the dataset has them); ``discovery.scan_entries`` then checks every file, so
all adapters give the manifest columns of a plain scan. ``read_dataset(source, adapter="auto")``
recognises the layout (``ADAPTERS``, most specific first). Art-dataset rows that cannot be given
one label are listed in the skipped files with their reason, beside missing or broken images.

``read_images`` reads what has no labels (image files, folders of images, a CSV with a ``path``
column), checked like a scan, for prediction and label-free metrics.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pandas as pd

from thesis_lib.data import discovery, images, labels
from thesis_lib.data.discovery import Entry, ScanResult, skip_record
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
        options: For layouts with variants, option name -> the ``list_entries`` of that
            variant, chosen as ``"<name>:<option>"`` (e.g. ``"wikiart:title"``).
    """

    name: str
    detect: Callable[[Path], bool]
    list_entries: Callable[[Path], Listing]
    options: dict[str, Callable[[Path], Listing]] | None = None


def _subfolders(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in folder.iterdir()
                  if entry.is_dir() and not discovery.is_hidden(entry.name))


def _entries_under(root: Path, subdir: str) -> Listing:
    """Class-folder entries of ``root/subdir`` with relpaths relative to ``root``."""
    entries, skipped = discovery.list_class_folders(root / subdir)
    for entry in entries:
        entry.relpath = (Path(subdir) / entry.relpath).as_posix()
    return entries, skipped, root


def _read_table(path: Path, sep: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                            encoding="utf-8-sig", encoding_errors="replace")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"{path}: cannot read the file ({error})") from error
    table.columns = [str(column).strip() for column in table.columns]
    return table


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
    """EmoSet-118K: image/<emotion>/*.jpg, annotation/<emotion>/*.json and the split files,
    JSON lists of [emotion, image relpath, annotation relpath]."""
    split_files = {split: root / name for split, name in EMOSET_SPLIT_FILES.items()
                   if (root / name).is_file()}
    if not split_files:  # no split files: the class folders under image/
        return _entries_under(root, "image")
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
                skipped.append(skip_record(full, discovery.REASON_OUTSIDE_ROOT,
                                           f"'{image}' leaves the dataset root"))
                continue
            extra = {"annotation": annotation} if annotation else {}
            entries.append(Entry(relpath=relpath, label=emotion, split=split, extra=extra))
    return entries, skipped, root


# --- Emotion6, UnbiasedEmo, FI and WEBEmo ------------------------------------------------------


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
    """Emotion6: images/<emotion>/<image>, with ground_truth.txt attached as columns."""
    entries, skipped, root = _entries_under(root, "images")
    truth = read_emotion6_ground_truth(root / "ground_truth.txt")
    empty = dict.fromkeys(EMOTION6_COLUMNS, math.nan)
    for entry in entries:
        name = entry.relpath.split("/", 1)[1]  # path under images/
        entry.extra = dict(truth.get(name, empty))
    return entries, skipped, root


def _is_unbiasedemo(root: Path) -> bool:
    emotions = _subfolders(root / "images")
    return bool(emotions) and any(_subfolders(root / "images" / name) for name in emotions)


def _list_unbiasedemo(root: Path) -> Listing:
    """UnbiasedEmo: images/<emotion>/<object>/<image>; the object becomes a column."""
    entries, skipped, root = _entries_under(root, "images")
    for entry in entries:
        parts = entry.relpath.split("/")
        entry.extra = {"object": parts[2] if len(parts) > 3 else None}
    return entries, skipped, root


def _fi_folder(root: Path) -> str:
    """FI: class folders of Mikels emotions in emotion_dataset/ or in the root."""
    return "emotion_dataset" if (root / "emotion_dataset").is_dir() else ""


def _all_named(folders: list[str], names: Iterable[str]) -> bool:
    names = set(names)
    return len(folders) >= 2 and all(labels.canonical_emotion(f) in names for f in folders)


def _is_fi(root: Path) -> bool:
    return _all_named(_subfolders(root / _fi_folder(root)), labels.MIKELS8)


def _list_fi(root: Path) -> Listing:
    return _entries_under(root, _fi_folder(root))


def _is_webemo(root: Path) -> bool:
    return _all_named(_subfolders(root), labels.WEBEMO_TO_THESIS7)


def _list_webemo(root: Path) -> Listing:
    """Class folders named after WEBEmo's fine-grained categories (kept in column category)."""
    entries, skipped, root = _entries_under(root, "")
    for entry in entries:
        entry.extra = {"category": entry.label}
    return entries, skipped, root


# --- WikiArt Emotions --------------------------------------------------------------------------

WIKIART_PREFIX = "WikiArt-Emotions"
WIKIART_DEFAULT_FILE = "WikiArt-Emotions-Ag4.tsv"
# Scenario option -> the column prefix of its annotations in the TSV.
WIKIART_SCENARIOS = {"image": "ImageOnly", "art": "Art (image+title)", "title": "TitleOnly"}
# "-All.tsv" holds the share of annotators who chose each emotion; an emotion counts as present
# from this share on: the level of the Ag4 file, which the dataset's authors label with (an
# emotion chosen by at least 4 of the about 10 annotators of a painting).
WIKIART_ALL_MIN_SHARE = 0.4
WIKIART_METADATA = {"Style": "style", "Category": "category", "Artist": "artist",
                    "Title": "title", "Year": "year"}


def _is_wikiart_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".tsv" and \
        path.name.lower().startswith(WIKIART_PREFIX.lower())


def _wikiart_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if _is_wikiart_file(path))


def _is_wikiart(source: Path) -> bool:
    return _is_wikiart_file(source) or bool(_wikiart_files(source))


def _wikiart_tsv(source: Path) -> Path:
    """The annotation file: ``source`` itself, or in a folder the Ag4 file (else the only one)."""
    if _is_wikiart_file(source):
        return source
    candidates = _wikiart_files(source)
    by_name = {path.name.lower(): path for path in candidates}
    if WIKIART_DEFAULT_FILE.lower() in by_name:
        return by_name[WIKIART_DEFAULT_FILE.lower()]
    if len(candidates) == 1:
        return candidates[0]
    raise DataError(f"{source}: no {WIKIART_DEFAULT_FILE} but several WikiArt Emotions files "
                    f"({', '.join(path.name for path in candidates)}); give the one to use")


def _images_by_stem(root: Path) -> dict[str, list[str]]:
    """Relpaths of the image files anywhere under ``root`` (hidden ones left out), by stem."""
    found: dict[str, list[str]] = {}
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if not discovery.is_hidden(name))
        for name in sorted(filenames):
            if not discovery.is_hidden(name) and images.is_image_path(name):
                relpath = (Path(folder).relative_to(root) / name).as_posix()
                found.setdefault(Path(name).stem, []).append(relpath)
    return found


def _present_emotions(row: pd.Series, columns: dict[str, str], min_value: float,
                      tsv: Path, line: int) -> list[str]:
    present = []
    for emotion, column in columns.items():
        text = str(row[column]).strip()
        try:
            value = float(text) if text else 0.0
        except ValueError:
            raise DataError(f"{tsv}:{line}: column '{column}' holds {text!r}, expected a "
                            "number") from None
        if value >= min_value:
            present.append(emotion)
    return present


def _list_wikiart(source: Path, scenario: str = "image") -> Listing:
    """WikiArt Emotions (Mohammad & Kiritchenko, LREC 2018): one 0/1 column per scenario and
    emotion; the images anywhere under the TSV's folder as <ID>.<ext>; multi-label rows become
    one Mikels-8 label by ``labels.wikiart_to_mikels``."""
    tsv = _wikiart_tsv(source)
    root = tsv.parent
    table = _read_table(tsv, sep="\t")
    prefix = WIKIART_SCENARIOS[scenario]
    columns = {emotion: f"{prefix}: {emotion}" for emotion in labels.WIKIART_EMOTIONS}
    missing = [column for column in ["ID", *columns.values()] if column not in table.columns]
    if missing:
        raise DataError(f"{tsv}: not a WikiArt Emotions file of scenario '{scenario}': missing "
                        f"column(s) {', '.join(repr(name) for name in missing[:3])}"
                        + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
    min_value = WIKIART_ALL_MIN_SHARE if tsv.stem.lower().endswith("-all") else 0.5
    files = _images_by_stem(root)
    entries: list[Entry] = []
    skipped: list[dict] = []
    seen: set[str] = set()
    for line, (_, row) in enumerate(table.iterrows(), start=2):  # line 1 is the header
        image_id = str(row["ID"]).strip()
        if not image_id:
            continue
        found = files.get(image_id, [])
        where = root / found[0] if found else root / image_id
        if image_id in seen:
            skipped.append(skip_record(where, discovery.REASON_LISTED_TWICE,
                                       f"ID {image_id} is listed twice in {tsv.name}"))
            continue
        seen.add(image_id)
        emotions = _present_emotions(row, columns, min_value, tsv, line)
        decision = labels.wikiart_to_mikels(emotions)
        if decision.label is None:
            skipped.append(skip_record(where, decision.reason, f"ID {image_id}: {decision.detail}"))
            continue
        if not found:
            skipped.append(skip_record(where, discovery.REASON_MISSING,
                                       f"no image file named {image_id}.<ext> under {root}"))
            continue
        for extra_copy in found[1:]:
            skipped.append(skip_record(root / extra_copy, discovery.REASON_LISTED_TWICE,
                                       f"another file of ID {image_id}; {found[0]} is used"))
        extra = {name: str(row[column]) for column, name in WIKIART_METADATA.items()
                 if column in table.columns}
        extra.update(wikiart_id=image_id, emotions=";".join(emotions),
                     sentiment=decision.sentiment, scenario=scenario)
        entries.append(Entry(relpath=found[0], label=decision.label, extra=extra))
    return entries, skipped, root


# --- ArtEmis ---------------------------------------------------------------------------------

ARTEMIS_FILE = "artemis_dataset_release_v0.csv"
ARTEMIS_COLUMNS = ("art_style", "painting", "emotion")


def _has_artemis_columns(path: Path) -> bool:
    if not (path.is_file() and path.suffix.lower() == ".csv"):
        return False
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig", encoding_errors="replace")
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return False
    return set(ARTEMIS_COLUMNS) <= {str(column).strip() for column in header.columns}


def _artemis_csv(source: Path) -> Path | None:
    if _has_artemis_columns(source):
        return source
    if source.is_dir() and _has_artemis_columns(source / ARTEMIS_FILE):
        return source / ARTEMIS_FILE
    return None


def _artemis_image_folder(root: Path, styles: Iterable[str]) -> str:
    """"" when the style folders are in ``root``, "wikiart" when they are in root/wikiart/."""
    styles = list(styles)
    if not any((root / style).is_dir() for style in styles) and \
            any((root / "wikiart" / style).is_dir() for style in styles):
        return "wikiart"
    return ""


def artemis_votes(table: pd.DataFrame, source: str | os.PathLike = "ArtEmis") -> pd.DataFrame:
    """Per painting (index art_style, painting): the number of utterances of each emotion.

    Args:
        table: The utterance rows (columns art_style, painting, emotion).
        source: How the file is named in error messages.

    Raises:
        DataError: an emotion outside ArtEmis' nine categories.
    """
    emotions = table["emotion"].map(labels.normalize_label)
    unknown = sorted(set(emotions) - set(labels.ARTEMIS_EMOTIONS))
    if unknown:
        raise DataError(f"{source}: unknown emotion(s) {', '.join(map(repr, unknown[:3]))}; "
                        f"ArtEmis uses {', '.join(labels.ARTEMIS_EMOTIONS)}")
    votes = pd.crosstab([table["art_style"].str.strip(), table["painting"].str.strip()],
                        emotions)
    return votes.reindex(columns=labels.ARTEMIS_EMOTIONS, fill_value=0).astype(int)


def _list_artemis(source: Path) -> Listing:
    """ArtEmis (Achlioptas et al., CVPR 2021): one row per utterance, the images at
    <root>[/wikiart]/<art_style>/<painting>.jpg; a painting's label is its majority emotion."""
    csv = _artemis_csv(source)
    if csv is None:
        raise DataError(f"{source}: not an ArtEmis file (needs the columns "
                        f"{', '.join(ARTEMIS_COLUMNS)})")
    root = csv.resolve().parent
    votes = artemis_votes(_read_table(csv, sep=","), csv)
    folder = _artemis_image_folder(root, votes.index.get_level_values("art_style").unique())
    entries: list[Entry] = []
    skipped: list[dict] = []
    for (style, painting), row in zip(votes.index, votes.to_numpy().tolist(), strict=True):
        counts = dict(zip(labels.ARTEMIS_EMOTIONS, row, strict=True))
        relpath = Path(os.path.normpath(Path(folder, style, f"{painting}.jpg"))).as_posix()
        full = root / relpath
        if relpath.startswith("../") or Path(relpath).is_absolute():
            skipped.append(skip_record(full, discovery.REASON_OUTSIDE_ROOT,
                                       f"'{style}/{painting}' leaves the dataset root"))
            continue
        decision = labels.majority_emotion(counts)
        if decision.label is None:
            skipped.append(skip_record(full, decision.reason,
                                       f"{style}/{painting}: {decision.detail}"))
            continue
        total = sum(counts.values())
        extra = {"art_style": style, "painting": painting, "votes": total,
                 "agreement": float(counts[decision.label]) / total,
                 "sentiment": decision.sentiment}
        extra.update({f"votes_{emotion}": int(counts[emotion])
                      for emotion in labels.ARTEMIS_EMOTIONS})
        entries.append(Entry(relpath=relpath, label=decision.label, extra=extra))
    return entries, skipped, root


def _is_manifest_csv(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".csv" and not _has_artemis_columns(path)


# Detection order: the most specific layouts first.
ADAPTERS = {
    adapter.name: adapter
    for adapter in (
        Adapter("csv", _is_manifest_csv, discovery.read_csv_manifest),
        Adapter("artemis", lambda source: _artemis_csv(source) is not None, _list_artemis),
        Adapter("wikiart", _is_wikiart, partial(_list_wikiart, scenario="image"),
                options={name: partial(_list_wikiart, scenario=name)
                         for name in WIKIART_SCENARIOS}),
        Adapter("emoset", _is_emoset, _list_emoset),
        Adapter("emotion6", _is_emotion6, _list_emotion6),
        Adapter("unbiasedemo", _is_unbiasedemo, _list_unbiasedemo),
        Adapter("fi", _is_fi, _list_fi),
        Adapter("webemo", _is_webemo, _list_webemo),
        Adapter("folders", Path.is_dir, partial(_entries_under, subdir="")),
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
    """An adapter by name; ``"<name>:<option>"`` chooses a variant (``"wikiart:title"``).

    Raises:
        ConfigError: unknown name or option (the message lists the valid ones).
    """
    base, _, option = str(name).partition(":")
    if base not in ADAPTERS:
        raise ConfigError(
            f"unknown dataset adapter '{name}'; valid: auto, {', '.join(ADAPTERS)}"
        )
    adapter = ADAPTERS[base]
    if not option:
        return adapter
    options = adapter.options or {}
    if option not in options:
        valid = ", ".join(f"{base}:{choice}" for choice in options) or "none"
        raise ConfigError(f"dataset adapter '{base}' has no option '{option}'; valid: {valid}")
    return replace(adapter, name=f"{base}:{option}", list_entries=options[option])


def read_dataset(
    source: str | os.PathLike,
    *,
    adapter: str = "auto",
    min_side: int | None = 32,
    workers: int | None = None,
    cache: bool = True,
    progress: bool | None = None,
) -> tuple[ScanResult, str]:
    """List a dataset with its adapter and check every file; the scan and the adapter's name.

    Args:
        source: The dataset folder or CSV manifest.
        adapter: A name from ``ADAPTERS`` or "auto" (detect the layout).
        min_side, workers, cache, progress: As for ``discovery.scan_dataset``.
    """
    source = Path(source)
    chosen = get_adapter(detect_adapter(source) if adapter == "auto" else adapter)
    if not source.exists():
        raise DataError(f"{source}: no such folder or file")
    entries, skipped, root = chosen.list_entries(source)
    result = discovery.scan_entries(root, entries, skipped=skipped, min_side=min_side,
                                    workers=workers, cache=cache, progress=progress)
    return result, chosen.name


# --- images without labels -------------------------------------------------------------------


def has_loose_images(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds image files itself (not only in subfolders): then it is read
    as a plain folder of images, since the scanner ignores files beside class folders."""
    folder = Path(folder)
    return folder.is_dir() and any(
        entry.is_file() and not discovery.is_hidden(entry.name)
        and images.is_image_path(entry.name) for entry in folder.iterdir())


def _paths_of_csv(csv_path: Path) -> tuple[list[tuple[str, str]], list[dict]]:
    """(path, label or "") of each row of a CSV with a ``path`` column, and the skipped rows;
    relative paths start at the CSV's folder and must stay inside it."""
    table = _read_table(csv_path, sep=",")
    table.columns = [column.lower() for column in table.columns]
    if "path" not in table.columns:
        raise DataError(f"{csv_path}: a list of images needs a 'path' column "
                        f"(found: {', '.join(table.columns)})")
    folder = csv_path.resolve().parent
    rows, skipped = [], []
    labels_given = table["label"] if "label" in table.columns else [""] * len(table)
    for raw_path, label in zip(table["path"], labels_given, strict=True):
        raw_path = raw_path.strip()
        if not raw_path:
            continue
        full = Path(raw_path) if Path(raw_path).is_absolute() else folder / raw_path
        if not Path(raw_path).is_absolute() and not discovery.is_inside(
                os.path.realpath(full), os.path.realpath(folder)):
            skipped.append(skip_record(full, discovery.REASON_OUTSIDE_ROOT,
                                       f"'{raw_path}' leaves the CSV's folder {folder}"))
            continue
        rows.append((os.path.normpath(full), str(label).strip()))
    return rows, skipped


def read_images(
    sources: Sequence[str | os.PathLike],
    *,
    min_side: int | None = 32,
    workers: int | None = None,
    cache: bool = True,
    progress: bool | None = None,
) -> ScanResult:
    """Check the images named by ``sources`` like a scan does; each entry's relpath is the
    absolute path, its label "" (or a CSV's ``label``).

    Args:
        sources: Image files (always checked, whatever their name), folders (every image file
            at any depth) and CSV files with a ``path`` column.
        min_side, workers, cache, progress: As for ``discovery.scan_dataset``; the cache is
            used only when ``sources`` is a single folder.

    Raises:
        DataError: a source that does not exist, or no readable image at all.
    """
    if not sources:
        raise ConfigError("no image files or folders given")
    entries: list[Entry] = []
    skipped: list[dict] = []
    seen: set[str] = set()
    for source in map(Path, sources):
        if not source.exists():
            raise DataError(f"{source}: no such file or folder")
        if source.is_dir():
            walked = discovery.walk_images(source.absolute())
            rows = [(os.path.join(folder, name), "") for folder, name in walked]
        elif source.suffix.lower() == ".csv":
            rows, rejected = _paths_of_csv(source)
            skipped += rejected
        else:
            rows = [(str(source.absolute()), "")]
        for path, label in rows:
            if path in seen:
                continue  # a file named twice (in a folder and a list) is checked once
            seen.add(path)
            entries.append(Entry(relpath=Path(path).as_posix(), label=label))
    single_folder = len(sources) == 1 and Path(sources[0]).is_dir()
    root = Path(sources[0]) if single_folder else Path.cwd()
    return discovery.scan_entries(root, entries, skipped=skipped, min_side=min_side,
                                  workers=workers, cache=cache and single_folder,
                                  progress=progress, require_classes=0)

"""``thesis release``: a study (or chosen settings) of a results folder as one folder and one
zip archive, ready to deposit (Zenodo) or publish beside the thesis.

Everything is checked before anything is written (the runs are finished, the datasets are
there to hash), the folder is built under a temporary name and renamed when complete, so a
failed release leaves nothing behind. See ``docs/release.md`` for what a release holds.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from thesis_lib import files, paths
from thesis_lib.analysis.results import (
    FINISHED,
    STUDY_CELLS_FILE,
    name_settings,
    read_run,
    run_folders,
    run_state,
    runs_folder,
    study_dir,
)
from thesis_lib.errors import ConfigError, DataError
from thesis_lib.release import card, portable
from thesis_lib.release.tables import release_tables

RELEASE_FILE = "release.json"
MANIFEST_FILE = "MANIFEST.sha256"
# Folders of a run that are not part of its record: training state and logs for TensorBoard.
RUN_FOLDERS_LEFT_OUT = ("checkpoint", "tensorboard")
TABLE_SUFFIXES = (".tex", ".csv")
FIGURE_SUFFIXES = (".pdf", ".png")
CHUNK = 1 << 20


@dataclass
class ReleaseOptions:
    """What the user sets about a release.

    Args:
        licence: the licence of the release (an SPDX id such as ``CC-BY-4.0``).
        authors: the authors, ``"Family, Given"`` or a name; default git's ``user.name``.
        title: the title of the release; default one naming the study.
        version: the release's version (``CITATION.cff``).
        data_dir: the dataset folder, when it is no longer where the runs recorded it.
    """

    licence: str
    authors: Sequence[str] = ()
    title: str | None = None
    version: str = "1.0.0"
    data_dir: str | os.PathLike | None = None


@dataclass
class Selection:
    """The runs of a release, with their study setting, and what was left out and why."""

    runs: list[Path]
    settings: dict[str, str]
    left_out: list[str] = field(default_factory=list)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks (model files are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


# --- which runs


def select_runs(results_dir: Path, study: str | None, settings: Sequence[str] = ()) -> Selection:
    """The finished runs of ``study`` (all of them: a study with an unfinished run is refused)
    or of the results folder (unfinished runs left out), kept to ``settings`` when given (a
    study's setting label, a setting id or a network name).

    Raises:
        DataError: an unfinished study, an unknown study or setting, or no finished run.
    """
    if study is not None:
        selection = _study_selection(results_dir, study)
    else:
        selection = _folder_selection(results_dir)
    if settings:
        selection = _keep_settings(selection, list(settings))
    if not selection.runs:
        raise DataError(f"{paths.shown(results_dir)}: no finished run to release")
    without = [run.name for run in selection.runs if not (run / "model.keras").is_file()]
    if without:
        raise DataError(f"finished run(s) without model.keras, which a release needs: "
                        f"{', '.join(without)}")
    return selection


def _study_selection(results_dir: Path, study: str) -> Selection:
    cells_path = study_dir(results_dir, study) / STUDY_CELLS_FILE
    if not cells_path.is_file():
        raise DataError(f"{paths.shown(cells_path)}: no such file; the study {study!r} has not "
                        "been run in this results folder")
    cells = pd.read_csv(cells_path)
    if "run_id" not in cells.columns or "setting" not in cells.columns:
        raise DataError(f"{paths.shown(cells_path)}: needs the columns setting and run_id")
    runs, settings, unfinished = [], {}, []
    for row in cells.itertuples(index=False):
        run_id = row.run_id if isinstance(row.run_id, str) and row.run_id else None
        state = run_state(runs_folder(results_dir) / run_id) if run_id else "never started"
        if state != FINISHED:
            unfinished.append(f"{row.setting} seed {getattr(row, 'seed', '?')}: {state}")
            continue
        runs.append(runs_folder(results_dir) / run_id)
        settings[run_id] = str(row.setting)
    if unfinished:
        raise DataError(f"the study {study!r} is not finished ({len(unfinished)} of "
                        f"{len(cells)} runs: {'; '.join(unfinished)}); nothing written")
    return Selection(sorted(set(runs)), settings)


def _folder_selection(results_dir: Path) -> Selection:
    runs, skipped = [], []
    for run_dir in run_folders(results_dir):
        state = run_state(run_dir)
        if state == FINISHED:
            runs.append(run_dir)
        else:
            skipped.append(f"{run_dir.name} ({state})")
    left_out = [f"{len(skipped)} unfinished run(s): {', '.join(skipped)}"] if skipped else []
    return Selection(runs, {}, left_out)


def _keep_settings(selection: Selection, wanted: list[str]) -> Selection:
    rows = pd.DataFrame([read_run(run_dir)[0] for run_dir in selection.runs])
    rows = name_settings(rows)
    labels = rows["run_id"].map(selection.settings).fillna("")
    keep = rows["setting_id"].isin(wanted) | rows["network"].isin(wanted) | labels.isin(wanted)
    known = {*rows["setting_id"], *rows["network"], *(label for label in labels if label)}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        choices = sorted(set(labels) - {""}) or sorted(set(rows["network"]))
        raise ConfigError(f"--setting {', '.join(unknown)}: not a setting of these runs "
                          f"(settings: {', '.join(choices)})")
    kept = set(rows.loc[keep, "run_id"])
    dropped = len(selection.runs) - len(kept)
    left_out = [*selection.left_out, f"{dropped} run(s) of other settings"] if dropped else \
        selection.left_out
    return Selection([run for run in selection.runs if run.name in kept],
                     {key: value for key, value in selection.settings.items() if key in kept},
                     left_out)


# --- the datasets


@dataclass
class DatasetRecord:
    """One dataset the released runs trained on: where it is now and its files' hashes."""

    name: str
    folder: Path
    fingerprints: list[dict[str, Any]]
    images: pd.DataFrame  # relpath, size_bytes, sha256


def dataset_records(run_dirs: list[Path], data_dir: str | os.PathLike | None
                    ) -> dict[str, DatasetRecord]:
    """Per dataset name: the folder (``data_dir`` or the one the runs recorded), the runs'
    data fingerprints and every file's size and SHA-256.

    Raises:
        DataError: a dataset folder is missing (its images could not be hashed).
    """
    found: dict[str, dict[str, Any]] = {}
    for run_dir in run_dirs:
        meta = files.read_json(run_dir / "config.json", kind=dict)
        name = str(meta.get("dataset_name") or "dataset")
        entry = found.setdefault(name, {"paths": set(), "fingerprints": []})
        entry["paths"].add(str(meta.get("data_path") or meta.get("config", {}).get("data_dir")))
        fingerprint = meta.get("data_fingerprint")
        if fingerprint and fingerprint not in entry["fingerprints"]:
            entry["fingerprints"].append(fingerprint)
    if data_dir is not None and len(found) > 1:
        raise ConfigError(f"--data-dir names one folder, the runs trained on {len(found)} "
                          f"datasets ({', '.join(sorted(found))})")
    records = {}
    for name, entry in sorted(found.items()):
        folder = Path(data_dir) if data_dir is not None else Path(sorted(entry["paths"])[0])
        if not folder.is_dir():
            raise DataError(f"dataset {name!r}: {folder} not found; the release lists the SHA-256 "
                            "of every image, so it needs the dataset (pass --data-dir)")
        records[name] = DatasetRecord(name, folder, entry["fingerprints"], hash_folder(folder))
    return records


def hash_folder(folder: Path) -> pd.DataFrame:
    """Every file under ``folder`` (hidden ones aside): relpath, size_bytes, sha256."""
    rows = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        rows.append({"relpath": relative.as_posix(), "size_bytes": path.stat().st_size,
                     "sha256": sha256_of(path)})
    return pd.DataFrame(rows, columns=["relpath", "size_bytes", "sha256"])


# --- the release


def make_release(results_dir: str | os.PathLike, out: str | os.PathLike, options: ReleaseOptions,
                 *, study: str | None = None, settings: Sequence[str] = ()) -> dict[str, Any]:
    """Write the release folder ``out`` and its archive ``out.zip``.

    Args:
        results_dir: the results folder (holding ``runs/``, ``studies/``, ``tables/``...).
        out: the release folder to create (it must not exist).
        options: licence, authors, title, version, dataset folder.
        study: release this study's runs (all finished) instead of every finished run.
        settings: keep only these settings.

    Returns:
        ``release.json``'s content, with ``archive`` (the zip's path) and ``left_out``.

    Raises:
        ThesisError: anything the user can fix; nothing is written then.
    """
    results_dir = paths.resolve(results_dir)
    out = paths.resolve(out)
    if not runs_folder(results_dir).is_dir():
        raise DataError(f"{paths.shown(results_dir)}: not a results folder (no runs/)")
    for target in (out, out.with_name(out.name + ".zip")):
        if target.exists():
            raise ConfigError(f"{target} exists already; choose another --out")
    if not options.licence or not options.licence.strip():
        raise ConfigError("--licence is empty; name the release's licence (e.g. CC-BY-4.0)")
    authors = list(options.authors) or _git_author()
    selection = select_runs(results_dir, study, settings)
    datasets = dataset_records(selection.runs, options.data_dir)
    work = out.with_name(f".{out.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        record = _write_release(work, results_dir, selection, datasets, options, authors, study)
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    # The archive too is written under a temporary name and renamed when complete.
    partial = shutil.make_archive(str(work), "zip", root_dir=out.parent, base_dir=out.name)
    archive = out.with_name(out.name + ".zip")
    os.replace(partial, archive)
    return {**record, "archive": str(archive)}


def _git_author() -> list[str]:
    import subprocess

    try:
        name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    if not name:
        raise ConfigError("no author: pass --author 'Family, Given' (git has no user.name)")
    return [name]


def _write_release(work: Path, results_dir: Path, selection: Selection,
                   datasets: dict[str, DatasetRecord], options: ReleaseOptions,
                   authors: list[str], study: str | None) -> dict[str, Any]:
    left_out = list(selection.left_out)
    is_image = _dataset_image_test(datasets)
    runs = _copy_runs(work, selection, is_image, left_out)
    split_files = _write_data(work, datasets, selection.runs)
    for name, data in release_tables(work).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(data)
    _copy_results_files(work, results_dir, study, is_image, left_out)
    notebooks = portable.render_notebooks(work)
    portable.copy_layers(work)
    environment = portable.environment()
    files.write_json(work / "environment.json", environment)
    n_images = sum(len(record.images) for record in datasets.values())
    left_out.insert(0, f"dataset images ({n_images} files, listed with size and SHA-256 under "
                       "data/)")
    left_out.append(f"checkpoints and TensorBoard logs of {len(runs)} run(s)")
    record = {
        "title": options.title or (f"Study {study!r}: models, splits and results" if study
                                   else "Models, splits and results"),
        "study": study,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "licence": options.licence.strip(),
        "version": options.version,
        "authors": authors,
        "workbench_commit": environment.get("git_commit"),
        "runs": runs,
        "datasets": {name: {"images": len(rec.images), "fingerprints": rec.fingerprints,
                            "files": f"data/{name}/images.csv", "splits": split_files[name]}
                     for name, rec in datasets.items()},
        "notebooks": notebooks,
        "left_out": "left out: " + "; ".join(left_out),
    }
    files.write_json(work / RELEASE_FILE, record)
    files.write_text(work / "CITATION.cff", card.citation_cff(record))
    files.write_text(work / "MODEL_CARD.md", card.model_card(work, record))
    write_manifest(work)
    return record


def _dataset_image_test(datasets: dict[str, DatasetRecord]) -> Callable[[Path], bool]:
    """Whether a file is one of the datasets' images: its size first, then its SHA-256, so
    that a model of 70 MB is not hashed only to be told apart from the images (the manifest
    hashes it once)."""
    sizes = {int(size) for record in datasets.values() for size in record.images["size_bytes"]}
    hashes = {sha for record in datasets.values() for sha in record.images["sha256"]}
    return lambda path: path.stat().st_size in sizes and sha256_of(path) in hashes


def _copy_runs(work: Path, selection: Selection, is_image: Callable[[Path], bool],
               left_out: list[str]) -> list[dict[str, Any]]:
    rows = name_settings(pd.DataFrame([read_run(run_dir)[0] for run_dir in selection.runs]))
    runs = []
    for run_dir, row in zip(selection.runs, rows.itertuples(index=False), strict=True):
        target = work / "runs" / run_dir.name
        for path in sorted(run_dir.rglob("*")):
            relative = path.relative_to(run_dir)
            if not path.is_file() or relative.parts[0] in RUN_FOLDERS_LEFT_OUT:
                continue
            if path.stat().st_size and is_image(path):
                left_out.append(f"{run_dir.name}/{relative.as_posix()} (a dataset image)")
                continue
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / relative)
        runs.append({"run_id": run_dir.name, "setting": selection.settings.get(run_dir.name),
                     "network": row.network, "setting_id": row.setting_id,
                     "seed": None if pd.isna(row.seed) else int(row.seed),
                     "dataset": row.train_data})
    return runs


def _write_data(work: Path, datasets: dict[str, DatasetRecord],
                run_dirs: list[Path]) -> dict[str, dict[str, list[str]]]:
    """``data/<name>/images.csv`` and one ``split-<sha>.csv`` per distinct split (relpath,
    label, split, size_bytes, sha256); returns per dataset: split file -> its runs."""
    used: dict[str, dict[str, list[str]]] = {name: {} for name in datasets}
    for name, record in datasets.items():
        folder = work / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        record.images.to_csv(folder / "images.csv", index=False)
        files.write_json(folder / "fingerprint.json",
                         {"dataset_name": name, "images": len(record.images),
                          "data_fingerprints": record.fingerprints})
    for run_dir in run_dirs:
        meta = files.read_json(run_dir / "config.json", kind=dict)
        name = str(meta.get("dataset_name") or "dataset")
        split_path = run_dir / "split.csv"
        if not split_path.is_file():
            continue
        digest = sha256_of(split_path)[:12]
        target = f"data/{name}/split-{digest}.csv"
        if target not in used[name]:
            split = pd.read_csv(split_path)
            hashed = split.merge(datasets[name].images, on="relpath", how="left")
            missing = hashed[hashed["sha256"].isna()]["relpath"].tolist()
            if missing:
                raise DataError(f"dataset {name!r} ({datasets[name].folder}) lacks "
                                f"{len(missing)} image(s) of {run_dir.name}'s split, e.g. "
                                f"{missing[0]}")
            hashed.to_csv(work / target, index=False)
        used[name].setdefault(target, []).append(run_dir.name)
    return used


def _copy_results_files(work: Path, results_dir: Path, study: str | None,
                        is_image: Callable[[Path], bool], left_out: list[str]) -> None:
    """The results folder's tables, figures, executed notebooks and study tables."""
    wanted = [("tables", TABLE_SUFFIXES), ("figures", FIGURE_SUFFIXES),
              ("notebooks", (".ipynb",))]
    studies = [study] if study else sorted(
        path.name for path in (results_dir / "studies").glob("*") if path.is_dir())
    wanted += [(f"studies/{name}", (".csv",)) for name in studies]
    for folder, suffixes in wanted:
        source = results_dir / folder
        if not source.is_dir():
            continue
        for path in sorted(source.iterdir()):
            if not path.is_file() or path.suffix.lower() not in suffixes:
                continue
            if is_image(path):
                left_out.append(f"{folder}/{path.name} (a dataset image)")
                continue
            (work / folder).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, work / folder / path.name)


# --- the manifest


def write_manifest(folder: Path) -> Path:
    """``MANIFEST.sha256``: ``<sha256>  <relative path>`` of every file but itself, in path
    order (the format ``sha256sum -c`` reads)."""
    lines = [f"{sha256_of(path)}  {path.relative_to(folder).as_posix()}"
             for path in sorted(folder.rglob("*"))
             if path.is_file() and path.name != MANIFEST_FILE]
    return files.write_text(folder / MANIFEST_FILE, "\n".join(lines) + "\n")


def read_manifest(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 from ``MANIFEST.sha256``.

    Raises:
        DataError: the manifest is missing or a line is not ``<64 hex>  <path>``.
    """
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise DataError(f"{path}: no manifest; not a release folder")
    entries = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = re.fullmatch(r"([0-9a-f]{64})  (.+)", line)
        if not match:
            raise DataError(f"{path}: line {number} is not '<sha256>  <path>'")
        entries[match.group(2)] = match.group(1)
    return entries

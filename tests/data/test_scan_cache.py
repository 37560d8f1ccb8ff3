"""Raw data stays untouched: the scan cache lives outside the dataset, read-only data scans."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest

from thesis_lib.cli import main
from thesis_lib.data import audit, discovery, prepare_dataset, scan_dataset

# Where versions before the cache moved out of the dataset wrote it.
OLD_CACHE_NAME = ".thesis_scan_cache.json"


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under ``root``, hidden ones included: kind, size, mtime, mode."""
    entries = {}
    for folder, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(folder) / name
            info = os.lstat(path)
            entries[path.relative_to(root).as_posix()] = (
                stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns,
                stat.S_IMODE(info.st_mode))
    info = os.lstat(root)
    entries["."] = (stat.S_IFMT(info.st_mode), info.st_size, info.st_mtime_ns,
                    stat.S_IMODE(info.st_mode))
    return entries


@pytest.fixture
def dataset_with_old_cache(binary_folder: Path) -> Path:
    """The binary dataset with a copy planted across classes and an old in-folder cache."""
    shutil.copy(binary_folder / "sadness" / "sadness_002.jpg",
                binary_folder / "other" / "copy_of_sadness_002.jpg")
    (binary_folder / OLD_CACHE_NAME).write_text('{"version": 1, "files": {}}')
    return binary_folder


def test_scan_prepare_and_audit_leave_the_dataset_as_it_was(dataset_with_old_cache, scan_cache,
                                                            tmp_path, capsys):
    root = dataset_with_old_cache
    before = snapshot(root)
    old_cache = (root / OLD_CACHE_NAME).read_bytes()

    scan = scan_dataset(root)
    prepared = prepare_dataset(root, deduplicate=True)
    audit.find_duplicates(scan.manifest)
    assert main(["data", "audit", str(root), "--report", str(tmp_path / "dups.csv")]) == 0
    assert main(["data", "split", str(root), "--deduplicate", "--out",
                 str(tmp_path / "split.csv")]) == 0
    capsys.readouterr()

    assert snapshot(root) == before
    assert (root / OLD_CACHE_NAME).read_bytes() == old_cache  # ignored, and not ours to delete
    assert len(prepared.duplicates) == 2  # the work was done, the data left alone
    # The cache is the documented file: THESIS_CACHE_DIR/<16 hex digits of SHA-256(root)>.json.
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    cache_file = scan_cache / f"{key}.json"
    # ...and next to it the duplicate table of that content (computed once per dataset).
    others = [path for path in scan_cache.iterdir() if path != cache_file]
    assert cache_file.is_file() and [path.name[:len(key) + 12] for path in others] == [
        f"{key}.duplicates-"] and others[0].suffix == ".csv"
    content = json.loads(cache_file.read_text())
    assert content["root"] == str(root.resolve())
    assert set(content["files"]) == set(scan.manifest["relpath"])


def test_a_read_only_dataset_scans_and_its_cache_works(dataset_with_old_cache, monkeypatch):
    root = dataset_with_old_cache
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in [root, *root.rglob("*")]}
    for path in modes:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        before = snapshot(root)
        first = scan_dataset(root)
        checked = []
        real_inspect = discovery.inspect_file
        monkeypatch.setattr(discovery, "inspect_file",
                            lambda path, *args: checked.append(path) or real_inspect(path, *args))
        second = scan_dataset(root)
        assert checked == []  # every file came from the cache
        pd.testing.assert_frame_equal(first.manifest, second.manifest)
        assert discovery.cache_path_for(root).is_file()
        assert snapshot(root) == before
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def test_a_cache_of_another_folder_or_version_is_not_used(binary_folder, scan_cache,
                                                          monkeypatch):
    scan_dataset(binary_folder)
    cache_file = discovery.cache_path_for(binary_folder)
    content = json.loads(cache_file.read_text())
    checked = []
    real_inspect = discovery.inspect_file
    monkeypatch.setattr(discovery, "inspect_file",
                        lambda path, *args: checked.append(path) or real_inspect(path, *args))
    for changed in ({"root": "/somewhere/else"}, {"version": discovery.CACHE_VERSION - 1}):
        cache_file.write_text(json.dumps({**content, **changed}))
        checked.clear()
        scan_dataset(binary_folder)
        assert len(checked) == 20, changed

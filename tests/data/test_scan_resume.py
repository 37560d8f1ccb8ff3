"""An interrupted scan keeps what it checked: the cache is written in chunks as it goes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from dataset_builders import make_class_folders

from thesis_lib.data import discovery, scan_dataset

IMAGES_PER_CLASS = 120
CHUNK = 30
INSPECT_FILE = discovery.inspect_file


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_class_folders(tmp_path / "many", {"a": IMAGES_PER_CLASS, "b": IMAGES_PER_CLASS})


class Interrupt:
    """``inspect_file`` that raises KeyboardInterrupt (a Ctrl-C) at its ``after``-th call."""

    def __init__(self, after: int | None):
        self.after = after
        self.calls = 0

    def __call__(self, path, agreement=None):
        self.calls += 1
        if self.after is not None and self.calls > self.after:
            raise KeyboardInterrupt
        return INSPECT_FILE(path, agreement)


def test_an_interrupted_scan_resumes_where_it_stopped(folder, scan_cache, monkeypatch):
    total = 2 * IMAGES_PER_CLASS
    monkeypatch.setattr(discovery, "CHUNK_FILES", CHUNK)
    interrupt = Interrupt(after=150)
    monkeypatch.setattr(discovery, "inspect_file", interrupt)
    with pytest.raises(KeyboardInterrupt):
        scan_dataset(folder, workers=2)
    parts = sorted(scan_cache.glob("*.part-*.json"))
    assert parts and len(list(scan_cache.glob("*.json"))) == len(parts)  # only chunks so far
    saved = set()
    for part in parts:
        saved |= set(json.loads(part.read_text())["files"])
    # Every file checked before the interruption (in order) is saved, up to the window queued
    # in the threads when it came.
    assert 150 - discovery.POOL_WINDOW * 2 <= len(saved) <= 150

    resumed = Interrupt(after=None)
    monkeypatch.setattr(discovery, "inspect_file", resumed)
    result = scan_dataset(folder, workers=2)
    assert resumed.calls == total - len(saved)  # only the unfinished part is checked again
    assert not list(scan_cache.glob("*.part-*.json"))  # merged into the one cache file
    cache_files = list(scan_cache.glob("*.json"))
    assert len(cache_files) == 1
    assert len(json.loads(cache_files[0].read_text())["files"]) == total

    monkeypatch.setattr(discovery, "inspect_file", INSPECT_FILE)
    fresh = scan_dataset(folder, workers=2, cache=False)
    pd.testing.assert_frame_equal(result.manifest, fresh.manifest)
    pd.testing.assert_frame_equal(result.skipped, fresh.skipped)
    again = Interrupt(after=None)
    monkeypatch.setattr(discovery, "inspect_file", again)
    scan_dataset(folder, workers=2)
    assert again.calls == 0  # a warm scan checks nothing


def test_a_scan_killed_between_chunks_resumes_from_the_chunks_on_disk(folder, scan_cache,
                                                                      monkeypatch):
    # A kill leaves no chance to save the last results: only whole chunks remain.
    monkeypatch.setattr(discovery, "CHUNK_FILES", CHUNK)
    monkeypatch.setattr(discovery._ChunkWriter, "flush", _flush_whole_chunks_only)
    interrupt = Interrupt(after=100)
    monkeypatch.setattr(discovery, "inspect_file", interrupt)
    with pytest.raises(KeyboardInterrupt):
        scan_dataset(folder, workers=1)
    saved = sum(len(json.loads(p.read_text())["files"]) for p in scan_cache.glob("*.part-*"))
    assert saved == 90  # three whole chunks of 30

    resumed = Interrupt(after=None)
    monkeypatch.setattr(discovery, "inspect_file", resumed)
    result = scan_dataset(folder, workers=1)
    assert resumed.calls == 2 * IMAGES_PER_CLASS - 90
    assert len(result.manifest) == 2 * IMAGES_PER_CLASS


_real_flush = discovery._ChunkWriter.flush


def _flush_whole_chunks_only(self):
    if len(self.buffer) >= CHUNK:
        _real_flush(self)


def test_a_cache_of_the_earlier_single_file_format_still_loads(folder, scan_cache, monkeypatch):
    first = scan_dataset(folder, workers=2)
    (cache_file,) = scan_cache.glob("*.json")
    content = json.loads(cache_file.read_text())
    assert set(content) == {"version", "root", "files"}  # the format earlier versions wrote
    counting = Interrupt(after=None)
    monkeypatch.setattr(discovery, "inspect_file", counting)
    second = scan_dataset(folder, workers=2)
    assert counting.calls == 0
    pd.testing.assert_frame_equal(first.manifest, second.manifest)

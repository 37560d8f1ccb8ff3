"""Fixtures of the data tests: miniature datasets written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataset_builders import make_class_folders


@pytest.fixture
def binary_folder(tmp_path: Path) -> Path:
    """A folder dataset: 12 "sadness" and 8 "other" JPEGs."""
    return make_class_folders(tmp_path / "binary", {"sadness": 12, "other": 8})


@pytest.fixture(autouse=True)
def scan_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Scan caches go to a folder of the test's own (THESIS_CACHE_DIR), never to ~/.cache."""
    folder = tmp_path / "scan-cache"
    monkeypatch.setenv("THESIS_CACHE_DIR", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return folder

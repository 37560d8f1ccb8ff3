"""Settings shared by the whole test suite."""

import os

import pytest

# Quiet TensorFlow's start-up logs, draw figures off-screen, and default to the TensorFlow
# backend (tests of the JAX backend start their own subprocess with KERAS_BACKEND=jax).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(autouse=True)
def _scan_cache_in_tmp(tmp_path_factory, monkeypatch):
    """Scans cache their checks outside the datasets: here, in the test session's own folder
    (not the user's ~/.cache)."""
    monkeypatch.setenv("THESIS_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "scan-cache"))

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


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """20 small demo images (48 x 40) in the folders "sadness" and "other"."""
    from thesis_lib.data.demo import make_demo_dataset

    return make_demo_dataset(tmp_path_factory.mktemp("tiny") / "demo", images_per_class=10,
                             size=(48, 40), seed=0)


@pytest.fixture(scope="session")
def finished_tiny_run(tiny_dataset, tmp_path_factory):
    """The folder of a finished one-epoch run on ``tiny_dataset`` (the Tiny backbone, one Gram
    module, 32 px), shared by the tests that only read a run (prediction, embeddings)."""
    from thesis_lib.training import make_config, run_training

    config = make_config("smoke", data_dir=str(tiny_dataset),
                         results_dir=str(tmp_path_factory.mktemp("tiny-results")),
                         backbone="Tiny", image_size=32, epochs=1, batch_size=4, modules=1,
                         max_images=None, verbose=0, cache=None, augment=False,
                         split_ratios=[0.5, 0.25, 0.25])
    return run_training(config)

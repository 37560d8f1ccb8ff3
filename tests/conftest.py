"""Settings shared by the whole test suite."""

import gc
import os

import pytest

# Quiet TensorFlow's start-up logs, draw figures off-screen, and default to the TensorFlow
# backend (tests of the JAX backend start their own subprocess with KERAS_BACKEND=jax).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


# --- sharing the cores between pytest-xdist workers (scheduling: conftest.py at the root) ---


def _runs_notebooks(config) -> bool:
    return bool(config.getoption("nbval", False) or config.getoption("nbval_lax", False))


def pytest_configure(config):
    """Each of N workers gets its share of the cores for TensorFlow's thread pools, as the
    cells of a parallel grid do (``experiments.grids.share_cores``), and for OpenMP
    (scikit-learn's t-SNE): N pools as large as the machine oversubscribe it, and OpenMP's
    waiting threads spin. Not with ``--nbval``: the notebooks' kernels would inherit it."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and not _runs_notebooks(config):
        from thesis_lib.experiments.grids import share_cores

        share_cores(int(workers))
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // int(workers))))


def pytest_collection_finish(session):
    """What collecting imported (TensorFlow, Keras, pandas...: most objects of a test process)
    lives to the end of the session: it is frozen out of the garbage collector, whose full
    passes would otherwise walk it all again and again (a sixth of the time of the model
    tests)."""
    gc.collect()
    gc.freeze()


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


def _tiny_values(data_dir, results_dir, **overrides):
    """Configuration values of a seconds-long run; plain types (they also go to subprocesses)."""
    values = {
        "data_dir": str(data_dir), "results_dir": str(results_dir), "image_size": 32,
        "backbone": "Tiny",
        "max_images": None, "split_ratios": [0.5, 0.25, 0.25], "epochs": 2, "batch_size": 4,
        "modules": 1, "deterministic": True, "verbose": 0, "cache": None,
        "augment": False,  # RandAugment only where a test is about the whole thesis pipeline
    }
    return {**values, **overrides}


@pytest.fixture(scope="session")
def tiny_values():
    """``tiny_values(data_dir, results_dir, **overrides)``: the values of a seconds-long run on
    the Tiny backbone (32 px, 2 epochs, deterministic ops, no RandAugment)."""
    return _tiny_values


@pytest.fixture(scope="session")
def smoke_run(tiny_dataset, tmp_path_factory):
    """``(config, run folder)`` of a finished two-epoch run of the smoke profile on
    ``tiny_dataset`` (the Tiny backbone, one Gram module, 32 px), RandAugment and dropout on,
    with the profile's own setting of deterministic ops. Trained once per session (per worker;
    ``SAME_WORKER`` of the root conftest.py puts its users on one): the record tests and the
    tests that only read a run (prediction, embeddings) read it, and the resume test compares a
    killed and resumed run with it. Nothing may change it."""
    from thesis_lib.config.training import make_config
    from thesis_lib.training import run_training

    values = _tiny_values(tiny_dataset, tmp_path_factory.mktemp("smoke-results"), augment=True)
    del values["deterministic"]
    config = make_config("smoke", **values)
    return config, run_training(config)


@pytest.fixture(scope="session")
def finished_tiny_run(smoke_run):
    """The folder of ``smoke_run``, for the tests that only read a finished run."""
    return smoke_run[1]

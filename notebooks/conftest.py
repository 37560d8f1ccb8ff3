"""nbval settings shared by every notebook, so that `pytest --nbval notebooks/` (or
`pytest --nbval` from the project root) works as typed.

- The project's output sanitiser (``sanitize.cfg``: addresses, paths, durations, timestamps,
  run-id and data hashes) is used unless another is given with ``--nbval-sanitize-with``.
- The notebooks run in the current environment (``--nbval-current-env``), the one that has the
  project installed, not in whatever kernel a notebook's metadata names.
- stderr is not compared: TensorFlow and Keras write start-up logs and warnings there whose text
  depends on the machine (CPU features, CUDA presence). What the notebooks show on stdout and in
  their results is compared.
"""

import os
from pathlib import Path

import pytest

# Inherited by the notebook kernels that nbval starts.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

SANITIZER = Path(__file__).with_name("sanitize.cfg")


def pytest_configure(config):
    if getattr(config.option, "nbval_sanitize_with", "unset") is None:
        config.option.nbval_sanitize_with = str(SANITIZER)
    if hasattr(config.option, "nbval_current_env"):
        config.option.nbval_current_env = True


def pytest_collection_modifyitems(items):
    """Every notebook cell carries the ``nbval`` marker (``-m "not nbval"`` leaves them out)."""
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.nbval)


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr", "text/html", "application/javascript")

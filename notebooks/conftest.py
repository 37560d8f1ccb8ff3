"""nbval settings shared by every notebook, so that `pytest --nbval notebooks/` (or
`pytest --nbval` from the project root) works as typed.

- The project's output sanitiser (``sanitize.cfg``: addresses, paths, durations, timestamps,
  run-id and data hashes) is used unless another is given with ``--nbval-sanitize-with``.
- The notebooks run in the current environment (``--nbval-current-env``), the one that has the
  project installed, not in whatever kernel a notebook's metadata names.
- stderr is not compared: TensorFlow and Keras write start-up logs and warnings there whose text
  depends on the machine (CPU features, CUDA presence). What the notebooks show on stdout and in
  their results is compared.
- The kernels run in a scratch copy of the project (``rerun.py``): a results folder without
  runs, as when the committed outputs were made, and nothing written into the project's own
  ``results/``. The notebooks run 01-07 in order on one worker (``conftest.py`` at the root
  schedules them), since 05-07 analyse the runs that 03 and 04 train.
"""

import os
import shutil
from pathlib import Path

import pytest
from rerun import scratch_environment, scratch_project

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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Start a notebook's kernel (in its first cell's setup) with the scratch project in its
    environment; the tests in this process keep the real project."""
    if item.path.suffix != ".ipynb":
        yield
        return
    config = item.config
    if not hasattr(config, "scratch_project"):
        config.scratch_project = scratch_project()
    variables = scratch_environment(config.scratch_project)
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def pytest_unconfigure(config):
    if hasattr(config, "scratch_project"):
        shutil.rmtree(config.scratch_project, ignore_errors=True)

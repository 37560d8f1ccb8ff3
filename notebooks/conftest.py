"""nbval settings shared by every notebook.

stderr is not compared: TensorFlow and Keras write start-up logs and warnings there whose text
depends on the machine (CPU features, CUDA presence). What the notebooks show on stdout and in
their results is compared, with the substitutions in ``sanitize.cfg``.
"""

import os

# Inherited by the notebook kernels that nbval starts.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr", "text/html", "application/javascript")

"""thesis-workbench: emotion recognition in general images with EfficientNetV2 + Gram modules.

The library holds all of the project's logic; the notebooks under ``notebooks/`` only call it.
Its packages and the one direction in which they import each other: ``docs/architecture.md``.
"""

import importlib.abc
import sys

from thesis_lib import quiet_tensorflow

__version__ = "0.1.0"

quiet_tensorflow.install()  # TensorFlow's start-up lines stay out of notebooks and logs

# jsonschema, which nbformat imports (papermill, nbval, a notebook reading its parameters),
# builds 38 lark grammars on import when rfc3987-syntax is installed (jupyterlab brings it in
# through jupyter-events): importing nbformat costs 1.5 s of CPU instead of 0.2 s, in every
# notebook kernel and grid job, for the "iri" format checks that nbformat never makes. Hidden
# from this process, jsonschema skips them; processes that do not import thesis_lib (the
# Jupyter server) keep them.
sys.modules.setdefault("rfc3987_syntax", None)

# Modules of earlier versions -> where their contents live now. Importing an old name fails
# with one line naming the new one, instead of a bare ModuleNotFoundError.
MOVED_MODULES = {
    "thesis_lib.train": "thesis_lib.training",
    "thesis_lib.train.config": "thesis_lib.config.training",
    "thesis_lib.train.run": "thesis_lib.training.run",
    "thesis_lib.train.records": "thesis_lib.training.records",
    "thesis_lib.train.evaluate": "thesis_lib.training.evaluate",
    "thesis_lib.train.callbacks": "thesis_lib.training.callbacks",
    "thesis_lib.train.fingerprint": "thesis_lib.training.fingerprint",
    "thesis_lib.train.notebook": "thesis_lib.training.notebook",
    "thesis_lib.train.cli": "thesis_lib.cli.train",
    "thesis_lib.settings": "thesis_lib.config.settings",
    "thesis_lib.parameters": "thesis_lib.config.parameters",
    "thesis_lib.losses": "thesis_lib.layers.losses",
    "thesis_lib.layers.pairwise_gram": "thesis_lib.layers.gram_matrix",
    "thesis_lib.layers.pairwise_gram_module": "thesis_lib.layers.gram_module",
    "thesis_lib.studies": "thesis_lib.experiments.studies",
    "thesis_lib.notebooks": "thesis_lib.experiments.pipeline",
    "thesis_lib.results": "thesis_lib.analysis.results",
    "thesis_lib.stats": "thesis_lib.analysis",
    "thesis_lib.stats.hypothesis_tests": "thesis_lib.analysis.hypothesis_tests",
    "thesis_lib.stats.comparisons": "thesis_lib.analysis.comparisons",
    "thesis_lib.stats.views": "thesis_lib.analysis.statements",
    "thesis_lib.embedding": "thesis_lib.analysis.embedding",
    "thesis_lib.sentiment": "thesis_lib.analysis.sentiment",
    "thesis_lib.predict": "thesis_lib.analysis.predict",
    "thesis_lib.published": "thesis_lib.analysis.published",
    "thesis_lib.grid_cli": "thesis_lib.cli.grid",
    "thesis_lib.analysis_cli": "thesis_lib.cli.analysis",
    "thesis_lib.data.cli": "thesis_lib.cli.data",
    "thesis_lib.models.cli": "thesis_lib.cli.models",
}


class MovedModuleError(ModuleNotFoundError):
    """An import of a module that moved; the message names its new home."""


class _MovedModules(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED_MODULES:
            raise MovedModuleError(f"{fullname} is now {MOVED_MODULES[fullname]}",
                                   name=fullname)
        return None


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())  # consulted only when no real module matched


def __getattr__(name: str):
    # ``from thesis_lib import settings`` looks the name up here before importing it.
    old = f"thesis_lib.{name}"
    if old in MOVED_MODULES:
        raise MovedModuleError(f"{old} is now {MOVED_MODULES[old]}", name=old)
    raise AttributeError(f"module 'thesis_lib' has no attribute {name!r}")

"""thesis-workbench: emotion recognition in general images with EfficientNetV2 + Gram modules.

The library holds all of the project's logic; the notebooks under ``notebooks/`` only call it.
Packages, lowest first (a package imports only from those above it in this list):

    errors, paths, files  one-line errors, where things live, atomic writing and reading records
    quiet_tensorflow      TensorFlow's start-up lines kept out of notebooks and logs
    layers       Keras layers: Gram matrix, pairwise Gram, Gram module, contrastive-center loss
    models       ``build_model`` for the baseline, gram, gramnet and pairwise networks; summaries
    data         datasets: discovery, validation, splits, audit, labels, adapters, the demo data,
                 RandAugment and the tf.data pipeline
    config       one run's configuration and profiles, setting identity and names, typed
                 notebook parameters
    analysis     run records to tables, statistics, embeddings, sentiment, prediction,
                 published numbers
    training     one run: fit, checkpoints and resume, the run record, evaluation
    figures      publication figures and LaTeX tables
    experiments  grids of runs (local or SLURM), studies, the headless notebook pipeline
    release      a study as a citable, verifiable folder and zip (thesis release, verify)
    cli          the ``thesis`` command

``docs/architecture.md`` draws the same picture.
"""

import importlib.abc
import sys

from thesis_lib import quiet_tensorflow

__version__ = "0.1.0"

quiet_tensorflow.install()  # TensorFlow's start-up lines stay out of notebooks and logs

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

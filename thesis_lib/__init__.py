"""thesis-workbench: emotion recognition in general images with EfficientNetV2 + Gram modules.

The library holds all of the project's logic; the notebooks under ``notebooks/`` only call it.

Sub-packages and modules:
    layers       Keras layers: the Gram matrix, the pairwise Gram and the Gram module.
    models       ``build_model`` for the baseline, gram and gramnet networks, and summaries.
    data         dataset discovery and validation, splits, leakage audit, label schemes,
                 dataset adapters, the demo dataset, RandAugment and the tf.data pipeline.
    train        one training run: configuration, run record, resume.
    experiments  grids of runs on one machine or a SLURM cluster.
    stats        significance tests for comparing networks.
    figures      publication figures and LaTeX tables.
"""

__version__ = "0.1.0"

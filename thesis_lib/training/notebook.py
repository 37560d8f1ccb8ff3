"""Helpers for the training notebook: one-line errors and an early configuration check.

``notebook_config`` is the first call of ``notebooks/03_train.ipynb`` after its parameters: it
builds the configuration (every field converted by its declared type) and checks everything that
can be checked before training (dataset present, variant, backbone, image size, activation), so
that a wrong parameter fails the notebook at its top with one line such as
``ConfigError: unknown variant 'gramm'; valid: ...``. ``describe_run`` then says what will be
trained, where, and on which data.
"""

from __future__ import annotations

import os
from typing import Any

from thesis_lib import paths
from thesis_lib.config.training import TrainConfig, make_config
from thesis_lib.training.run import check_config, plan_run


def notebook_config(profile: str | os.PathLike | None, **parameters: Any) -> TrainConfig:
    """The run's configuration from the notebook's parameters, checked before any training.

    Args:
        profile: ``smoke``, ``thesis`` or a YAML path.
        **parameters: the notebook's other parameters; ``None`` means "as in the profile".

    Raises:
        ThesisError: invalid or inconsistent parameters, a missing dataset.
    """
    config = make_config(profile, **parameters)
    check_config(config)
    return config


def describe_run(config: TrainConfig, *, force: bool = False,
                 run_dir: str | os.PathLike | None = None) -> str:
    """What the notebook is about to do: the run folder, the data, the network, the training."""

    plan = plan_run(config, force=force, run_dir=run_dir)
    fingerprint = plan.fingerprint
    lines = [
        f"run         {plan.run_dir.name}",
        f"dataset     {config.name_of_dataset}: {fingerprint.images} images, fingerprint "
        f"{fingerprint.value}" + (", duplicates dropped" if config.deduplicate else ""),
        f"network     {config.variant}, {config.modules} Gram module(s), {config.backbone}, "
        f"weights={config.weights}",
        f"input       {config.image_size} px, RandAugment "
        + (f"N={config.randaugment_ops} M={config.randaugment_magnitude}"
           if config.augment else "off"),
        f"training    {config.epochs} epochs, batch {config.batch_size}, {config.optimizer} "
        f"lr={config.learning_rate}, seed {config.seed}",
    ]
    if config.split_file:
        lines.insert(2, f"split       {config.split_file} (used as it is)")
    if config.name_of_dataset == paths.DEMO_DATASET:
        lines.append("scale       demo: generated images; the numbers show that the pipeline "
                     "works, they are not thesis results")
    return "\n".join(lines)

"""The configuration of one training run, its profiles and its identity (docs/training.md).

A configuration is one flat dataclass, ``TrainConfig``. Flat, because the same names are used
in three places that must agree: the YAML profiles under ``configs/``, the ``parameters`` cell of
``notebooks/03_train.ipynb`` (papermill ``-p name value`` and ``-f profile.yaml``) and the
keyword overrides of ``make_config``. The defaults are the thesis protocol
(``docs/research.md``); ``configs/thesis.yaml`` writes the same values down. A profile may name
the profile it starts from with a ``profile`` key (``smoke``, ``thesis`` or a path).

Identity: a run is identified by every field that can change its results plus a fingerprint of
the data it trains and tests on (``thesis_lib.training.fingerprint``); a *setting* is the same
without the seed (``config.settings``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from thesis_lib import paths
from thesis_lib.config.conversion import convert_fields
from thesis_lib.config.settings import (
    ADDED_FIELDS,
    DATA_LOCATION_FIELDS,
    NON_IDENTITY_FIELDS,
    backbone_tag,
    identity_hash,
    setting_fields,
    setting_id,
)
from thesis_lib.data.images import RESIZE_MODES
from thesis_lib.errors import ConfigError
from thesis_lib.models.variants import VARIANTS, check_pairwise_arguments

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine")
STRATEGIES = ("none", "mirrored")
# How the contrastive-center term reduces over the batch (as layers.losses.REDUCTIONS; not
# imported from there, so that configurations load without Keras).
CONTRASTIVE_CENTER_REDUCTIONS = ("mean", "sum")

@dataclass
class TrainConfig:
    """Everything that defines one training run.

    Args:
        data_dir: dataset folder or manifest file; ``None`` means the generated demo dataset.
        dataset_name: name of the dataset in the run record; default: the folder name.
        scheme: label scheme of ``thesis_lib.data.labels`` (``sadness``, ``mikels8``...).
        adapter: dataset layout adapter (``auto`` detects it).
        split_ratios: train / validation / test fractions.
        split_seed: seed of the split; ``None`` means the run's ``seed``.
        split_file: a split CSV to use as it is instead of drawing a new split (e.g. the
            ``split.csv`` that notebook 02 or ``thesis data split`` wrote).
        deduplicate: drop all but one copy of each group of exact and near-duplicate images
            before splitting (the copy in the dataset's own training split where it has one),
            so that no test image has a copy in training; not applied on top of a
            ``split_file``.
        max_images: at most this many images per split (a seeded subsample), for quick runs.
        min_side: images whose shorter side is below this are skipped by the scanner.
        image_size: side of the square network input in pixels.
        resize: how images become squares: ``squash``, ``crop`` or ``pad``.
        augment: RandAugment on the training images.
        randaugment_ops: RandAugment N (operations per image).
        randaugment_magnitude: RandAugment M on the 0-10 scale.
        balanced: sample training batches class-balanced.
        class_weighting: weight the loss by inverse class frequency.
        cache: cache decoded images (``None``, ``"memory"`` or a folder).
        variant: ``baseline``, ``gram``, ``gramnet`` or ``pairwise``.
        modules: number of Gram modules (0 means the baseline); for ``pairwise`` the number of
            pairs of taps.
        taps: backbone layer names to tap; ``None`` uses the builder's defaults.
        pairs: for ``pairwise``: the pairs of tapped layers, ``[[a, b], ...]``; ``None``
            pairs consecutive default taps.
        activation: activation inside the Gram modules.
        backbone: Keras application name, e.g. ``EfficientNetV2B2``.
        weights: ``imagenet`` or ``None`` (random initialisation).
        dropout: dropout before the classifier; ``None`` is the builder's default (0.2,
            0.5 for gramnet).
        optimizer: ``adam``, ``adamw``, ``sgd`` or ``rmsprop``.
        learning_rate: peak learning rate.
        lr_schedule: ``constant`` or ``cosine`` (decays to zero at the last epoch).
        warmup_epochs: linear warm-up from 0 to ``learning_rate`` over this many epochs.
        weight_decay: decoupled weight decay (``adamw``) or 0.
        epochs: number of training epochs.
        batch_size: global batch size (split across replicas by a distribution strategy).
        label_smoothing: label smoothing of the categorical cross-entropy.
        contrastive_center_weight: lambda of the total loss cross-entropy + lambda * the
            contrastive-center loss (Qi & Su 2017) on the fused embedding; 0 trains with
            cross-entropy alone.
        contrastive_center_delta: the constant delta in the loss's denominator (1 in the paper).
        contrastive_center_inter_weight: the weight of the inter-class term (the denominator),
            which controls how strongly class separation pulls.
        contrastive_center_lr: the centers' own learning rate (see
            ``thesis_lib.layers.ContrastiveCenter``).
        contrastive_center_reduction: ``mean`` or ``sum``: the contrastive-center term of a
            batch is the mean (default) or, as Qi & Su and the dissertation write it, the sum of
            the per-sample values; the same training step needs lambda_sum = lambda_mean /
            batch_size (0.1 with ``mean`` at batch 32 is 0.003125 with ``sum``). Without the
            loss (weight 0) it has no effect and is recorded as ``mean``.
        freeze_backbone_epochs: train only the new layers for this many first epochs.
        seed: seed of weights initialisation, augmentation and shuffling.
        deterministic: deterministic TensorFlow ops (bit-identical reruns on the same machine).
        mixed_precision: ``mixed_float16`` compute (GPU).
        jit_compile: XLA compilation of the train step.
        strategy: ``none`` or ``mirrored`` (all local GPUs).
        results_dir: folder holding ``runs/``; ``None`` means ``<project>/results``.
        eval_datasets: extra datasets evaluated after training, ``{name: folder}``.
        verbose: Keras fit verbosity (2 = one line per epoch, readable in notebooks).
        epoch_delay_s: sleep after each epoch (only for tests that interrupt a run).
    """

    # --- data
    data_dir: str | None = None
    dataset_name: str | None = None
    scheme: str = "sadness"
    adapter: str = "auto"
    split_ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    split_seed: int | None = None
    split_file: str | None = None
    deduplicate: bool = True
    max_images: int | None = None
    min_side: int = 32
    image_size: int = 256
    resize: str = "squash"
    augment: bool = True
    randaugment_ops: int = 3
    randaugment_magnitude: int = 7
    balanced: bool = False
    class_weighting: bool = False
    cache: str | None = None
    # --- model
    variant: str = "gram"
    modules: int = 4
    taps: list[str] | None = None
    pairs: list[list[str]] | None = None
    activation: str = "relu"
    backbone: str = "EfficientNetV2B2"
    weights: str | None = "imagenet"
    dropout: float | None = None
    # --- optimisation
    optimizer: str = "adam"
    learning_rate: float = 1e-4
    lr_schedule: str = "constant"
    warmup_epochs: int = 0
    weight_decay: float = 0.0
    epochs: int = 30
    batch_size: int = 32
    label_smoothing: float = 0.0
    contrastive_center_weight: float = 0.0
    contrastive_center_delta: float = 1.0
    contrastive_center_inter_weight: float = 1.0
    contrastive_center_lr: float = 0.5
    contrastive_center_reduction: str = "mean"
    freeze_backbone_epochs: int = 0
    # --- execution
    seed: int = 0
    deterministic: bool = False
    mixed_precision: bool = False
    jit_compile: bool = False
    strategy: str = "none"
    results_dir: str | None = None
    eval_datasets: dict[str, str] = field(default_factory=dict)
    verbose: int = 2
    epoch_delay_s: float = 0.0

    def __post_init__(self) -> None:
        convert_fields(self)
        # "modules = 0" is the baseline, whatever the variant says; one network, one run id.
        if self.variant == "gram" and self.modules == 0:
            self.variant = "baseline"
        if self.variant == "baseline":
            self.modules = 0
        # Without the loss its reduction changes nothing: one training, one run id.
        if (self.contrastive_center_weight == 0
                and self.contrastive_center_reduction in CONTRASTIVE_CENTER_REDUCTIONS):
            self.contrastive_center_reduction = "mean"
        self.validate()

    def validate(self) -> None:
        """Raise ``ConfigError`` naming the first invalid field."""
        _check_choice("variant", self.variant, VARIANTS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("lr_schedule", self.lr_schedule, SCHEDULES)
        _check_choice("strategy", self.strategy, STRATEGIES)
        _check_choice("resize", self.resize, RESIZE_MODES)
        _check_choice("contrastive_center_reduction", self.contrastive_center_reduction,
                      CONTRASTIVE_CENTER_REDUCTIONS)
        if len(self.split_ratios) != 3 or any(r < 0 for r in self.split_ratios):
            raise ConfigError(f"split_ratios must be three fractions >= 0, got {self.split_ratios}")
        if abs(sum(self.split_ratios) - 1.0) > 1e-6:
            raise ConfigError(f"split_ratios must sum to 1, got {self.split_ratios}")
        for name in ("image_size", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.modules < 0:
            raise ConfigError(f"modules must be >= 0, got {self.modules}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.freeze_backbone_epochs <= self.epochs:
            raise ConfigError(
                f"freeze_backbone_epochs must be between 0 and epochs ({self.epochs}), "
                f"got {self.freeze_backbone_epochs}"
            )
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ConfigError(
                f"warmup_epochs must be between 0 and epochs ({self.epochs}), "
                f"got {self.warmup_epochs}"
            )
        if self.max_images is not None and self.max_images < 1:
            raise ConfigError(f"max_images must be >= 1 or None, got {self.max_images}")
        if self.variant == "pairwise":
            check_pairwise_arguments(self.modules, self.taps, self.pairs)
        elif self.pairs is not None:
            raise ConfigError(f"pairs apply to the pairwise variant, not {self.variant!r}")
        if self.contrastive_center_weight < 0:
            raise ConfigError("contrastive_center_weight must be >= 0, got "
                              f"{self.contrastive_center_weight}")
        if self.contrastive_center_delta <= 0:
            raise ConfigError("contrastive_center_delta must be > 0, got "
                              f"{self.contrastive_center_delta}")
        if self.contrastive_center_inter_weight < 0 or self.contrastive_center_lr < 0:
            raise ConfigError("contrastive_center_inter_weight and contrastive_center_lr must "
                              "be >= 0")

    # --- derived values

    @property
    def effective_split_seed(self) -> int:
        return self.seed if self.split_seed is None else self.split_seed

    @property
    def data_path(self) -> Path:
        """The dataset folder (the demo data when ``data_dir`` is None)."""
        if self.data_dir is None:
            return paths.demo_data_dir()
        return paths.resolve(self.data_dir)

    @property
    def name_of_dataset(self) -> str:
        if self.dataset_name:
            return self.dataset_name
        return paths.DEMO_DATASET if self.data_dir is None else self.data_path.name

    @property
    def runs_dir(self) -> Path:
        root = paths.results_dir() if self.results_dir is None else paths.resolve(self.results_dir)
        return root / "runs"

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["split_ratios"] = list(self.split_ratios)
        return values

    def identity(self, data_fingerprint: str | None) -> dict[str, Any]:
        """The fields that affect results, in a form that is the same on every machine.

        Args:
            data_fingerprint: ``thesis_lib.training.fingerprint.data_fingerprint(config)``: the
                content of the dataset (and split file) this configuration trains and tests
                on. It replaces the dataset's path, so that a dataset that changed trains a new
                run and a moved one finds its runs.

        A field of ``config.settings.ADDED_FIELDS`` at the value runs had before it existed
        is left out, so that adding a field does not rename the runs already recorded.
        """
        values = {k: v for k, v in self.to_dict().items()
                  if k not in NON_IDENTITY_FIELDS | DATA_LOCATION_FIELDS
                  and not (k in ADDED_FIELDS and v == ADDED_FIELDS[k])}
        values["split_seed"] = self.effective_split_seed
        values["data"] = data_fingerprint
        return values

    def setting_identity(self, data_fingerprint: str | None) -> dict[str, Any]:
        """``identity`` without the seed: what the seeds of one *setting* share
        (``config.settings.setting_fields``, which reads the same from a run record).

        A split drawn from each run's seed (``split_seed`` unset) is part of the seed; a fixed
        split seed is part of the setting.
        """
        return setting_fields(self.to_dict(), data_fingerprint)

    def run_id(self, data_fingerprint: str | None) -> str:
        """``<variant>-m<modules>-<backbone>-s<seed>-<hash>``, e.g. ``gram-m4-v2b2-s0-3f9a1c2e``.

        The hash covers the canonical JSON of ``identity()``: any change that can change the
        results (a field, or the images) gives another id, a change of the output folder does
        not.
        """
        digest = identity_hash(self.identity(data_fingerprint), 8)
        return f"{self.variant}-m{self.modules}-{backbone_tag(self.backbone)}-s{self.seed}-{digest}"

    def setting_id(self, data_fingerprint: str | None) -> str:
        """A short hash of ``setting_identity()``: equal for the seeds of one setting."""
        return setting_id(self.setting_identity(data_fingerprint))


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; valid: {', '.join(choices)}")


def config_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def profile_path(profile: str | os.PathLike) -> Path:
    """A profile name (``smoke``, ``thesis``) or a YAML path, as a path under ``configs/``."""
    text = str(profile)
    if not text.endswith((".yaml", ".yml")) and os.sep not in text and "/" not in text:
        return paths.project_root() / "configs" / f"{text}.yaml"
    return paths.resolve(text)


def load_profile(profile: str | os.PathLike) -> dict[str, Any]:
    """The values of a YAML profile, following its ``profile`` key to the one it extends.

    Raises:
        ConfigError: the file is missing, is not a mapping, or has unknown keys.
    """
    return _load_profile(profile, seen=())


def _load_profile(profile: str | os.PathLike, seen: tuple[Path, ...]) -> dict[str, Any]:
    path = profile_path(profile)
    if path in seen:
        return {}  # a profile naming itself (configs/thesis.yaml says `profile: thesis`)
    if not path.is_file():
        raise ConfigError(f"profile {str(profile)!r} not found: {path}")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a profile must be a mapping of field: value")
    base_name = values.pop("profile", None)
    unknown = sorted(set(values) - set(config_fields()))
    if unknown:
        raise ConfigError(
            f"{path}: unknown field(s) {', '.join(unknown)}; valid: {', '.join(config_fields())}"
        )
    base = _load_profile(base_name, seen + (path,)) if base_name else {}
    return {**base, **values}


def make_config(profile: str | os.PathLike | None = None, **overrides: Any) -> TrainConfig:
    """A ``TrainConfig`` from a profile plus keyword overrides; ``None`` overrides are ignored.

    Ignoring ``None`` lets the notebook pass all its parameters, where ``None`` means "as in
    the profile". To set a field to ``None`` explicitly, put it in the profile.

    Args:
        profile: ``smoke``, ``thesis`` or a YAML path; ``None`` starts from the defaults.
        **overrides: field values that replace the profile's.
    """
    values = load_profile(profile) if profile else {}
    unknown = sorted(set(overrides) - set(config_fields()))
    if unknown:
        raise ConfigError(f"unknown configuration field(s): {', '.join(unknown)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig(**values)
    except TypeError as error:
        raise ConfigError(f"invalid configuration: {error}") from None


def config_from_dict(values: dict[str, Any]) -> TrainConfig:
    """The configuration stored in a run's ``config.json`` (extra keys are ignored)."""
    known = {k: v for k, v in values.items() if k in config_fields()}
    return TrainConfig(**known)

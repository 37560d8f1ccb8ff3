"""The networks the thesis compares, built from one entry point, ``build_model``.

The variants ``baseline``, ``gram``, ``gramnet`` and ``pairwise`` are described in
docs/models.md, and where each comes from in docs/research.md#the-method. ``gramnet`` is the
closest public reading of Zhang et al. 2022, not their exact network; ``pairwise`` is our
reading of the journal version's "pairwise operation" (the text does not fix which sub-maps
are paired or how a cross Gram is consumed; this is one consistent choice).

Every model takes float32 RGB images (B, S, S, 3) with values 0..255 and returns softmax
probabilities (B, num_classes) in float32 (also under a ``mixed_float16`` policy). Layer names
are stable, so code and notebooks can reach the parts:

    "image"                 the input
    "backbone"              the EfficientNetV2 (a nested model; its first output is the last
                            feature map, the others are the tapped maps)
    "pool"                  global average pooling of the last feature map
    "gram_<tap layer>"      one Gram module per tap (gram, gramnet)
    "pair_<tap a>_<tap b>"  one pairwise Gram module per pair (pairwise)
    "shared_scale"          the scale shared by the GramNet branches (gramnet)
    "fusion"                concatenation of the pooled features and the module vectors
    "fc"                    the FC-512 layer (gramnet)
    "dropout", "classifier"
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import keras

from thesis_lib.errors import ConfigError
from thesis_lib.layers import GramModule, PairwiseGramModule, SharedScale, get_activation
from thesis_lib.models.backbones import (
    default_taps,
    get_backbone,
    load_backbone,
    tap_candidates,
)
from thesis_lib.models.variants import (
    DEFAULT_DROPOUT,
    VARIANTS,
    check_pairwise_arguments,
    check_variant,
    consecutive_pairs,
)

__all__ = ["DEFAULT_DROPOUT", "VARIANTS", "build_model", "check_variant", "load_model"]

GRAMNET_FC_UNITS = 512
# Stages of a Gram module whose activation the ``activation`` argument sets.
MODULE_STAGES = ("conv", "gram", "head")


def build_model(
    variant: str,
    *,
    backbone: str = "EfficientNetV2B2",
    num_classes: int = 2,
    image_size: int = 256,
    modules: int = 4,
    taps: Sequence[str] | None = None,
    pairs: Sequence[Sequence[str]] | None = None,
    activation: str | Mapping[str, str | None] = "relu",
    weights: str | os.PathLike | None = "imagenet",
    dropout: float | None = None,
    gram_channels: int = 32,
    gram_kernel_size: int = 3,
) -> keras.Model:
    """Build one of the thesis' networks.

    Args:
        variant: ``"baseline"``, ``"gram"``, ``"gramnet"`` or ``"pairwise"`` (docs/models.md).
        backbone: ``"EfficientNetV2B0"`` .. ``"EfficientNetV2B3"``, ``"EfficientNetV2S"``
            (short forms such as ``"B2"`` work too).
        num_classes: number of output classes, at least 2.
        image_size: side S of the square input images, at least 32.
        modules: number of Gram modules, tapping the backbone's default layers for that number
            (``thesis_lib.models.DEFAULT_TAPS``, 0..6). Ignored by the baseline; ``gram`` with
            ``modules=0`` is the baseline. For ``pairwise``, the number of pairs (1..5),
            joining the default taps of ``modules + 1`` consecutively.
        taps: names of the backbone layers to tap, overriding ``modules`` (one module per
            name; for ``pairwise`` at least two, paired consecutively in the given order);
            ``thesis models taps`` lists the valid names.
        pairs: for ``pairwise`` only: the pairs of layer names whose cross Gram matrices the
            modules see, e.g. ``[("block2c_add", "block4d_add"), ("block3c_add",
            "block6j_add")]``, overriding ``modules`` (give ``taps`` or ``pairs``, not both).
        activation: the activation inside the Gram modules: one name from
            ``thesis_lib.layers.ACTIVATIONS`` for the convolution and the head, or a mapping
            with keys ``"conv"``, ``"gram"``, ``"head"`` to set each stage (the Gram matrix
            itself has none unless given).
        weights: ``"imagenet"``, ``None`` or the path of a local weights file of the backbone
            without its top (see ``thesis_lib.models.backbones``).
        dropout: dropout rate before the classifier; default 0.2 (baseline, gram, pairwise) or
            0.5 (gramnet, as in GramNet).
        gram_channels: width of each module's reduction convolution (the Gram matrix is
            gram_channels x gram_channels); 32 as in GramNet.
        gram_kernel_size: kernel size of that convolution; 3 as in GramNet. 1 costs 9x less
            on the large shallow maps, where this convolution is most of a module's cost.

    Returns:
        An uncompiled ``keras.Model`` from (B, S, S, 3) 0..255 RGB to (B, num_classes) softmax.

    Raises:
        ConfigError: for any invalid argument; the message names the value and the valid ones.
    """
    variant = check_variant(variant)
    _check_num_classes(num_classes)
    dropout = _check_dropout(DEFAULT_DROPOUT[variant] if dropout is None else dropout)
    module_activations = _module_activations(activation)
    spec = get_backbone(backbone)
    if variant == "baseline" and taps:
        raise ConfigError(
            "the baseline has no Gram modules; taps apply to 'gram', 'gramnet' and 'pairwise'"
        )
    if pairs is not None and variant != "pairwise":
        raise ConfigError(f"pairs apply to the 'pairwise' variant only, not to {variant!r}")
    if variant == "pairwise":
        pairs = check_pairwise_arguments(modules, taps, pairs)

    base = load_backbone(spec.name, image_size=image_size, weights=weights)
    pair_names: list[tuple[str, str]] = []
    if variant == "pairwise":
        pair_names = _resolve_pairs(base, spec.name, modules, taps, pairs)
        tap_names = _in_network_order(base, {name for pair in pair_names for name in pair})
    elif variant == "baseline":
        tap_names = []
    else:
        tap_names = _resolve_taps(base, spec.name, modules, taps)
    if variant == "gramnet" and not tap_names:
        raise ConfigError("gramnet needs at least one tap: use modules >= 1 or taps=[...]")
    if not tap_names:
        variant = "baseline"  # gram with modules=0 is exactly the baseline

    features = keras.Model(
        base.input,
        [base.output, *(base.get_layer(name).output for name in tap_names)],
        name="backbone",
    )
    images = keras.Input((image_size, image_size, 3), dtype="float32", name="image")
    deep, *tapped = _as_list(features(images))
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(deep)
    module_options = dict(
        channels=gram_channels, kernel_size=gram_kernel_size, **module_activations
    )

    if variant == "baseline":
        head = pooled
    elif variant == "pairwise":
        maps = dict(zip(tap_names, tapped, strict=True))
        branches = [
            PairwiseGramModule(**module_options, name=f"pair_{a}_{b}")([maps[a], maps[b]])
            for a, b in pair_names
        ]
        head = keras.layers.Concatenate(name="fusion")([pooled, *branches])
    elif variant == "gram":
        branches = [
            GramModule(**module_options, name=f"gram_{name}")(x)
            for name, x in zip(tap_names, tapped, strict=True)
        ]
        head = keras.layers.Concatenate(name="fusion")([pooled, *branches])
    else:
        head = _gramnet_head(pooled, tap_names, tapped, module_options)

    head = keras.layers.Dropout(dropout, name="dropout")(head)
    # float32 softmax even under mixed precision: float16 probabilities round to 0 or 1.
    probabilities = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="classifier"
    )(head)
    modules_built = len(pair_names) if variant == "pairwise" else len(tap_names)
    return keras.Model(images, probabilities, name=_model_name(variant, spec.name, modules_built))


def _gramnet_head(pooled, tap_names, tapped, module_options):
    """GramNet's fusion: scaled Gram branches + pooled features -> FC 512 + ReLU."""
    shared_scale = SharedScale(name="shared_scale")
    branches = [
        shared_scale(
            GramModule(
                signed_sqrt=False,  # GramNet feeds the C*H*W-normalised Gram matrix as it is
                l2_normalize=False,
                **module_options,
                name=f"gram_{name}",
            )(x)
        )
        for name, x in zip(tap_names, tapped, strict=True)
    ]
    fused = keras.layers.Concatenate(name="fusion")([pooled, *branches])
    return keras.layers.Dense(GRAMNET_FC_UNITS, activation="relu", name="fc")(fused)


def _resolve_taps(base: keras.Model, backbone: str, modules: int, taps) -> list[str]:
    """The tapped layer names: ``taps`` if given (checked), else the default table's."""
    if taps is None:
        return default_taps(backbone, modules)
    if isinstance(taps, str):
        taps = [taps]
    taps = list(taps)
    valid = tap_candidates(base)
    unknown = [name for name in taps if name not in valid]
    if unknown:
        raise ConfigError(
            f"unknown tap layer(s) {', '.join(map(repr, unknown))} for {backbone}; "
            f"valid: {', '.join(valid)}"
        )
    duplicates = sorted({name for name in taps if taps.count(name) > 1})
    if duplicates:
        raise ConfigError(f"tap layer(s) named more than once: {', '.join(duplicates)}")
    return taps


def _resolve_pairs(
    base: keras.Model, backbone: str, modules: int, taps, pairs: list[tuple[str, str]] | None
) -> list[tuple[str, str]]:
    """The pairs of the pairwise network: ``pairs`` with known layers, or consecutive taps."""
    if pairs is not None:
        valid = tap_candidates(base)
        unknown = sorted({name for pair in pairs for name in pair if name not in valid})
        if unknown:
            raise ConfigError(
                f"unknown layer(s) {', '.join(map(repr, unknown))} in pairs for {backbone}; "
                f"valid: {', '.join(valid)}"
            )
        return pairs
    if taps is None:
        return consecutive_pairs(default_taps(backbone, modules + 1))
    tap_names = _resolve_taps(base, backbone, modules, taps)
    if len(tap_names) < 2:
        raise ConfigError(
            f"pairwise pairs consecutive taps and needs at least two, got {tap_names}"
        )
    return consecutive_pairs(tap_names)


def _in_network_order(base: keras.Model, names: set[str]) -> list[str]:
    """``names`` sorted by the position of their layers in the backbone, shallow to deep."""
    order = {layer.name: index for index, layer in enumerate(base.layers)}
    return sorted(names, key=order.__getitem__)


def _module_activations(activation) -> dict[str, str | None]:
    """GramModule keyword arguments from ``activation`` (a name or a per-stage mapping)."""
    if isinstance(activation, Mapping):
        unknown = sorted(set(activation) - set(MODULE_STAGES))
        if unknown:
            raise ConfigError(
                f"unknown Gram module stage(s) {unknown} in activation; valid: {MODULE_STAGES}"
            )
        stages = {"conv": "relu", "gram": None, "head": "relu", **activation}
    else:
        stages = {"conv": activation, "gram": None, "head": activation}
    for name in stages.values():
        get_activation(name)  # raises ConfigError listing the valid names
    return {f"{stage}_activation": name for stage, name in stages.items()}


def _check_num_classes(num_classes: int) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ConfigError(f"num_classes must be a whole number >= 2, got {num_classes!r}")


def _check_dropout(rate: float) -> float:
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
        raise ConfigError(f"dropout must be a rate in [0, 1), got {rate!r}")
    return float(rate)


def _as_list(outputs) -> list:
    return list(outputs) if isinstance(outputs, list | tuple) else [outputs]


def _model_name(variant: str, backbone: str, modules: int) -> str:
    """E.g. ``baseline_efficientnetv2b2``, ``gram4_efficientnetv2b2``, ``pairwise3_...``."""
    return f"{variant}{modules or ''}_{backbone.lower()}"


def load_model(path: str | os.PathLike) -> keras.Model:
    """A saved network (a run's ``model.keras``), uncompiled: for prediction and analysis.

    Importing this module registered the thesis' layers, which loading the file needs.
    """
    return keras.saving.load_model(path, compile=False)

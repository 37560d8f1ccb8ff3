"""What a configuration may name, declared once and without Keras, so that a configuration is
checked (``thesis_lib.training.check_config``) without starting TensorFlow: the backbones with
their stage ends and default taps, the smallest image size, the activation names of the Gram
modules. ``thesis_lib.models.backbones`` builds the backbones named here and
``thesis_lib.layers.activations`` maps the names to Keras' functions.

Tap points
----------
A Gram module reads the output of one backbone layer, its *tap*. The default taps are the
ends of the six stages of the backbone (its last block's output; for a block without a
residual connection, its projection). For N modules the table below picks N of them from
shallow to deep:

=====  ==================  ======================================================
N      stages tapped       why
=====  ==================  ======================================================
1      2                   the shallowest affordable map (colour, texture)
2      2, 6                one shallow, one deep
3      2, 4, 6             shallow, middle, deep
4      2, 3, 4, 6          one tap at each of the grids 1/4, 1/8, 1/16, 1/32
5      2, 3, 4, 5, 6       every stage but the first
6      1, 2, 3, 4, 5, 6    every stage (stage 1 runs at 1/2 resolution and is the costliest)
=====  ==================  ======================================================

``BACKBONES`` lists each backbone's stage ends with their shapes at 256 x 256 pixels.
At another image size S the grids scale with S / 256 (rounded up). Any other block output can
be tapped by name (``taps=[...]``); ``thesis_lib.models.backbones.tap_candidates`` lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from thesis_lib.errors import ConfigError

# A plumbing backbone (``thesis_lib.models.backbones.tiny_backbone``): for tests and quick
# checks, never for results.
TINY_BACKBONE = "Tiny"
# The smallest input Keras' EfficientNetV2 accepts (five stride-2 steps).
MIN_IMAGE_SIZE = 32
# Default N -> which stages (1-based) the N Gram modules tap; see the module docstring.
STAGES_FOR_MODULES: dict[int, tuple[int, ...]] = {
    1: (2,),
    2: (2, 6),
    3: (2, 4, 6),
    4: (2, 3, 4, 6),
    5: (2, 3, 4, 5, 6),
    6: (1, 2, 3, 4, 5, 6),
}
MAX_DEFAULT_MODULES = max(STAGES_FOR_MODULES)

# Activation name (what a configuration writes) -> the function's name in ``keras.activations``.
ACTIVATION_FUNCTIONS: dict[str, str] = {
    "relu": "relu",
    "gelu": "gelu",
    "silu": "silu",
    # Keras' own `swish` is the same function as `silu`; both names are common in papers.
    "swish": "silu",
    "elu": "elu",
    "selu": "selu",
    # Keras' default negative slope (0.2), as `keras.layers.LeakyReLU` uses.
    "leaky_relu": "leaky_relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "mish": "mish",
    "none": "linear",
}


@dataclass(frozen=True)
class Backbone:
    """One EfficientNetV2 variant and the ends of its six stages.

    Args:
        name: the Keras application's name, e.g. ``"EfficientNetV2B2"``.
        weights_file: the name of Keras' ImageNet no-top weights file.
        stage_ends: per stage, the tap layer name and its output shape (H, W, C) at 256 px.
    """

    name: str
    weights_file: str
    stage_ends: tuple[tuple[str, tuple[int, int, int]], ...]


BACKBONES: dict[str, Backbone] = {
    backbone.name: backbone
    for backbone in (
        Backbone(
            "EfficientNetV2B0",
            "efficientnetv2-b0_notop.h5",
            (
                ("block1a_project_activation", (128, 128, 16)),
                ("block2b_add", (64, 64, 32)),
                ("block3b_add", (32, 32, 48)),
                ("block4c_add", (16, 16, 96)),
                ("block5e_add", (16, 16, 112)),
                ("block6h_add", (8, 8, 192)),
            ),
        ),
        Backbone(
            "EfficientNetV2B1",
            "efficientnetv2-b1_notop.h5",
            (
                ("block1b_add", (128, 128, 16)),
                ("block2c_add", (64, 64, 32)),
                ("block3c_add", (32, 32, 48)),
                ("block4d_add", (16, 16, 96)),
                ("block5f_add", (16, 16, 112)),
                ("block6i_add", (8, 8, 192)),
            ),
        ),
        Backbone(
            "EfficientNetV2B2",
            "efficientnetv2-b2_notop.h5",
            (
                ("block1b_add", (128, 128, 16)),
                ("block2c_add", (64, 64, 32)),
                ("block3c_add", (32, 32, 56)),
                ("block4d_add", (16, 16, 104)),
                ("block5f_add", (16, 16, 120)),
                ("block6j_add", (8, 8, 208)),
            ),
        ),
        Backbone(
            "EfficientNetV2B3",
            "efficientnetv2-b3_notop.h5",
            (
                ("block1b_add", (128, 128, 16)),
                ("block2c_add", (64, 64, 40)),
                ("block3c_add", (32, 32, 56)),
                ("block4e_add", (16, 16, 112)),
                ("block5g_add", (16, 16, 136)),
                ("block6l_add", (8, 8, 232)),
            ),
        ),
        Backbone(
            "EfficientNetV2S",
            "efficientnetv2-s_notop.h5",
            (
                ("block1b_add", (128, 128, 24)),
                ("block2d_add", (64, 64, 48)),
                ("block3d_add", (32, 32, 64)),
                ("block4f_add", (16, 16, 128)),
                ("block5i_add", (16, 16, 160)),
                ("block6o_add", (8, 8, 256)),
            ),
        ),
        Backbone(
            TINY_BACKBONE,
            "",
            (
                ("block1a_project_activation", (128, 128, 8)),
                ("block2b_add", (64, 64, 8)),
                ("block3b_add", (32, 32, 16)),
                ("block4c_add", (16, 16, 16)),
                ("block5e_add", (16, 16, 16)),
                ("block6h_add", (8, 8, 24)),
            ),
        ),
    )
}

DEFAULT_TAPS: dict[str, dict[int, tuple[str, ...]]] = {
    name: {
        count: tuple(backbone.stage_ends[stage - 1][0] for stage in stages)
        for count, stages in STAGES_FOR_MODULES.items()
    }
    for name, backbone in BACKBONES.items()
}
"""Backbone name -> number of modules -> the tapped layer names, shallow to deep."""


def get_backbone(name: str) -> Backbone:
    """Look up a backbone by its Keras name or a short form.

    Args:
        name: ``"EfficientNetV2B2"``, ``"efficientnetv2-b2"``, ``"B2"``, ``"s"``... (any case).

    Raises:
        ConfigError: for an unknown name; the message lists the valid ones.
    """
    key = re.sub(r"[^a-z0-9]", "", str(name).lower()).removeprefix("efficientnetv2")
    for backbone in BACKBONES.values():
        if backbone.name.lower().removeprefix("efficientnetv2") == key:
            return backbone
    raise ConfigError(
        f"unknown backbone {name!r}; valid: {', '.join(BACKBONES)} (or short: B0, B1, B2, B3, S)"
    )


def default_taps(backbone: str, modules: int) -> list[str]:
    """The default tapped layers for ``modules`` Gram modules, shallow to deep.

    Args:
        backbone: a backbone name (see ``get_backbone``).
        modules: how many modules, 0..6.

    Raises:
        ConfigError: if ``modules`` is outside 0..6 (name the layers with ``taps`` instead).
    """
    spec = get_backbone(backbone)
    if isinstance(modules, bool) or not isinstance(modules, int) or not 0 <= modules:
        raise ConfigError(f"modules must be a whole number >= 0, got {modules!r}")
    if modules == 0:
        return []
    if modules > MAX_DEFAULT_MODULES:
        raise ConfigError(
            f"the default tap table goes up to {MAX_DEFAULT_MODULES} modules, got "
            f"modules={modules}; name the layers to tap with taps=[...] instead"
        )
    return list(DEFAULT_TAPS[spec.name][modules])


def check_image_size(image_size: int) -> int:
    """Return ``image_size`` if the backbones can take it, else raise ConfigError."""
    if isinstance(image_size, bool) or not isinstance(image_size, int):
        raise ConfigError(f"image_size must be a whole number of pixels, got {image_size!r}")
    if image_size < MIN_IMAGE_SIZE:
        raise ConfigError(
            f"image_size={image_size} is too small: EfficientNetV2 needs at least "
            f"{MIN_IMAGE_SIZE} x {MIN_IMAGE_SIZE} pixels"
        )
    return image_size


def check_activation(name: str | None) -> str:
    """The activation's key in :data:`ACTIVATION_FUNCTIONS` (``None`` is ``"none"``, the
    identity; names are case-insensitive).

    Raises:
        ConfigError: if the name is not in the named set; the message lists the valid names.
    """
    if name is None:
        return "none"
    key = name.lower() if isinstance(name, str) else None
    if key not in ACTIVATION_FUNCTIONS:
        valid = ", ".join(ACTIVATION_FUNCTIONS)
        raise ConfigError(f"unknown activation {name!r}; valid names: {valid}")
    return key

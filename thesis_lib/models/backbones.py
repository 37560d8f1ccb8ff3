"""The EfficientNetV2 backbones, their default Gram taps, and where their weights come from.

Every model of the thesis sits on a Keras ``EfficientNetV2`` without its classifier
(``include_top=False``) and with Keras' own preprocessing layers inside
(``include_preprocessing=True``), so the models take RGB images with values 0..255.

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
be tapped by name (``taps=[...]``); ``tap_candidates`` lists them.

Weights
-------
``weights`` is ``"imagenet"`` (Keras downloads the file once into ``~/.keras/models/`` and
reuses it), ``None`` (random initialisation), or the path of a local weights file **of the
backbone without its top**: the file Keras downloads (e.g. ``efficientnetv2-b2_notop.h5``,
copied from ``~/.keras/models/`` of a machine with internet) or a ``.weights.h5`` written by
``keras.applications.EfficientNetV2B2(include_top=False).save_weights(...)``. Weights of a
whole trained model are loaded afterwards with ``model.load_weights(path)`` on a model built
with ``weights=None``, or the whole model with ``keras.saving.load_model``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keras

from thesis_lib.errors import ConfigError

# A plumbing backbone (see ``tiny_backbone``): for tests and quick checks, never for results.
TINY_BACKBONE = "Tiny"
# The smallest input Keras' EfficientNetV2 accepts (five stride-2 steps).
MIN_IMAGE_SIZE = 32
# Seconds a stalled download may wait for the server before the build fails with a clear error.
DOWNLOAD_TIMEOUT_S = 30.0
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

    def application(self):
        """The Keras constructor, e.g. ``keras.applications.EfficientNetV2B2``."""
        if self.name == TINY_BACKBONE:
            return tiny_backbone
        return getattr(keras.applications, self.name)


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


def tiny_backbone(
    *,
    include_top: bool = False,
    input_shape: tuple[int, int, int] = (256, 256, 3),
    include_preprocessing: bool = True,
    weights: str | None = None,
) -> keras.Model:
    """A backbone of about ten thousand weights with B0's stage grids and stage-end names.

    For tests and plumbing checks (``backbone="Tiny"``); its accuracy means nothing.

    Raises:
        ConfigError: for ``include_top=True`` or pretrained weights, which it does not have.
    """
    if include_top or weights is not None:
        raise ConfigError("the Tiny backbone has no classifier top and no pretrained weights; "
                          "use it with weights=None")
    layers = keras.layers
    images = keras.Input(input_shape, name="input")
    x = layers.Rescaling(1 / 255, name="rescaling")(images) if include_preprocessing else images
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("swish", name="stem_activation")(x)
    strides = (1, 2, 2, 2, 1, 2)
    for stage, ((end, (_, _, channels)), stride) in enumerate(
            zip(BACKBONES[TINY_BACKBONE].stage_ends, strides, strict=True), start=1):
        # As in B0: a first block that changes grid and width, then (where B0's stage ends in
        # an ``_add``) a residual block of the same width.
        first = f"block{stage}a"
        x = _tiny_conv(x, channels, stride, first, depthwise=stage > 3)
        if end.endswith("_add"):
            block = end.split("_")[0]
            x = layers.Add(name=end)([x, _tiny_conv(x, channels, 1, block, depthwise=stage > 3)])
        else:
            x = layers.Activation("linear", name=end)(x)
    x = layers.Conv2D(32, 1, use_bias=False, name="top_conv")(x)
    x = layers.BatchNormalization(name="top_bn")(x)
    x = layers.Activation("swish", name="top_activation")(x)
    return keras.Model(images, x, name="tiny")


def _tiny_conv(x, channels: int, stride: int, block: str, *, depthwise: bool):
    """Convolution (full 3 x 3, or depthwise 3 x 3 + 1 x 1), batch norm, swish."""
    layers = keras.layers
    if depthwise:
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                   name=f"{block}_dwconv")(x)
        x = layers.Conv2D(channels, 1, use_bias=False, name=f"{block}_project_conv")(x)
    else:
        x = layers.Conv2D(channels, 3, strides=stride, padding="same", use_bias=False,
                          name=f"{block}_conv")(x)
    x = layers.BatchNormalization(name=f"{block}_bn")(x)
    return layers.Activation("swish", name=f"{block}_activation")(x)


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


def tap_candidates(backbone_model: keras.Model) -> list[str]:
    """The layers a Gram module may tap, in network order: the outputs of stem, blocks, top.

    Args:
        backbone_model: a Keras EfficientNetV2 (no top).
    """
    candidates: dict[str, str] = {}
    for layer in backbone_model.layers:
        match = re.match(r"(stem|top|block\d+[a-z]+)_", layer.name)
        if match:
            # The last layer of a block (in network order) is the block's output.
            candidates[match.group(1)] = layer.name
    return list(candidates.values())


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Within the block, network reads that stall for ``seconds`` fail instead of hanging."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def resolve_weights(weights: str | os.PathLike | None) -> str | None:
    """Check the ``weights`` argument: ``"imagenet"``, ``None`` or an existing local file.

    Returns:
        ``"imagenet"``, ``None``, or the file's absolute path as a string.

    Raises:
        ConfigError: if a path is given and no such file exists.
    """
    if weights is None or weights == "imagenet":
        return weights
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"weights file not found: {path} (weights must be 'imagenet', None, or the path of "
            "a local weights file of the backbone without its top)"
        )
    return str(path.resolve())


def load_backbone(
    backbone: str,
    *,
    image_size: int = 256,
    weights: str | os.PathLike | None = "imagenet",
) -> keras.Model:
    """Keras' EfficientNetV2 without top, with its preprocessing, for (S, S, 3) 0..255 inputs.

    Args:
        backbone: a backbone name (see ``get_backbone``).
        image_size: the side S of the square input, at least 32.
        weights: ``"imagenet"``, ``None`` or the path of a local no-top weights file (see the
            module docstring).

    Raises:
        ConfigError: unknown backbone, too small an image, a weights file that is missing or
            does not fit the backbone, or an ImageNet download that failed.
    """
    spec = get_backbone(backbone)
    check_image_size(image_size)
    weights = resolve_weights(weights)
    construct = spec.application()
    arguments = dict(
        include_top=False,
        input_shape=(image_size, image_size, 3),
        include_preprocessing=True,
    )
    if weights == "imagenet":
        try:
            with _socket_timeout(DOWNLOAD_TIMEOUT_S):
                return construct(weights="imagenet", **arguments)
        except Exception as error:  # Keras wraps every network failure in a bare Exception.
            reason = " ".join(str(error).split())
            raise ConfigError(
                f"could not get the ImageNet weights of {spec.name} ({reason}); on a "
                f"machine without internet copy ~/.keras/models/{spec.weights_file} from one "
                f"with internet and pass weights='<path>/{spec.weights_file}', or "
                "weights=None for random initialisation"
            ) from error
    model = construct(weights=None, **arguments)
    if weights is not None:
        try:
            model.load_weights(weights)
        except Exception as error:
            reason = " ".join(str(error).split())
            raise ConfigError(
                f"cannot load weights file {weights} into {spec.name} without top: {reason}"
            ) from error
    return model

"""The EfficientNetV2 backbones, their default Gram taps, and where their weights come from.

Every model of the thesis sits on a Keras ``EfficientNetV2`` without its classifier
(``include_top=False``) and with Keras' own preprocessing layers inside
(``include_preprocessing=True``), so the models take RGB images with values 0..255.

The backbones' names, stage ends and default taps are data in ``thesis_lib.choices``
(no Keras import), re-exported here.

Weights: ``"imagenet"``, ``None``, or the path of a local weights file of the backbone without
its top (docs/models.md#backbones-taps-and-weights).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import keras

from thesis_lib.choices import (  # noqa: F401  (the backbone table, public here too)
    BACKBONES,
    DEFAULT_TAPS,
    MAX_DEFAULT_MODULES,
    MIN_IMAGE_SIZE,
    STAGES_FOR_MODULES,
    TINY_BACKBONE,
    Backbone,
    check_image_size,
    default_taps,
    get_backbone,
)
from thesis_lib.errors import ConfigError

# Seconds a stalled download may wait for the server before the build fails with a clear error.
DOWNLOAD_TIMEOUT_S = 30.0


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


def keras_application(spec: Backbone):
    """The Keras constructor of a backbone, e.g. ``keras.applications.EfficientNetV2B2``
    (``tiny_backbone`` for the Tiny one)."""
    if spec.name == TINY_BACKBONE:
        return tiny_backbone
    return getattr(keras.applications, spec.name)


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
        weights: ``"imagenet"``, ``None`` or the path of a local no-top weights file.

    Raises:
        ConfigError: unknown backbone, too small an image, a weights file that is missing or
            does not fit the backbone, or an ImageNet download that failed.
    """
    spec = get_backbone(backbone)
    check_image_size(image_size)
    weights = resolve_weights(weights)
    construct = keras_application(spec)
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

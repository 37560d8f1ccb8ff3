"""RandAugment (Cubuk, Zoph, Shlens, Le 2020) that keeps up with a GPU (see docs/data.md).

Every image draws its own ``num_ops`` operations from the 14 of the paper, each at magnitude M
with a random sign where it has a direction. At each step the batch is split into the groups
of images that drew the same operation, each operation runs once on its group (vectorised) and
the groups are stitched back: an image costs three operations, not fourteen.
``COMPILED_OPERATIONS`` run through XLA image by image (one compilation per image size serves
any group size), 2-4x faster on a CPU; the others are as fast without.

Magnitude M -> strength (``level = M / 10``), after timm's "increasing" variants of the
AutoAugment / RandAugment ranges; at the thesis' M = 7:

==============================  ==================================  ===========
operation                       strength                            M = 7
==============================  ==================================  ===========
rotate                          +- 30 * level degrees               +- 21 deg
shear_x, shear_y                +- 0.3 * level                      +- 0.21
translate_x, translate_y        +- 0.45 * level * width (height)    +- 80 px at 256
color, contrast, brightness,    factor 1 +- 0.9 * level             0.37 or 1.63
sharpness
solarize                        threshold round(256 - 256 * level)  77
posterize                       bits kept round(8 - 4 * level)      5
identity, autocontrast,         no strength
equalize
==============================  ==================================  ===========

The translation is relative to the image size (0.45 = AutoAugment's 150 px at 331 px), so the
same M means the same augmentation at 64 px in a test and at 256 px in the thesis.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import tensorflow as tf

from thesis_lib.data import augment_ops
from thesis_lib.errors import ConfigError

MAX_MAGNITUDE = 10.0

# The operations in the order of the paper; the index is what an image's draw selects.
OPERATION_NAMES: tuple[str, ...] = (
    "identity", "autocontrast", "equalize", "rotate", "solarize", "color", "posterize",
    "contrast", "brightness", "sharpness", "shear_x", "shear_y", "translate_x", "translate_y",
)  # fmt: skip
# Operations run through XLA (see the module docstring); the others are plain TensorFlow.
COMPILED_OPERATIONS = frozenset({
    "autocontrast", "rotate", "solarize", "color", "contrast", "brightness", "shear_x",
    "shear_y", "translate_x", "translate_y",
})  # fmt: skip


def operation_strengths(magnitude: float) -> dict[str, float | int]:
    """The unsigned strength of every operation at ``magnitude`` (see the module table)."""
    level = magnitude / MAX_MAGNITUDE
    return {
        "rotate": 30.0 * level,
        "shear": 0.3 * level,
        "translate": 0.45 * level,
        "enhance": 0.9 * level,
        "solarize": round(256 - 256 * level),
        "posterize": round(8 - 4 * level),
    }


@functools.cache
def _image_operations(magnitude: float) -> list[Callable[[tf.Tensor, tf.Tensor], tf.Tensor]]:
    """One ``f(images, signs) -> images`` per entry of ``OPERATION_NAMES``, at ``magnitude``;
    ``signs`` holds -1 or +1 per image. Cached, so RandAugments of one magnitude share the XLA
    compilations."""
    strength = operation_strengths(magnitude)
    enhance, shift = strength["enhance"], strength["translate"]
    ops = augment_ops

    def side(image: tf.Tensor, axis: int) -> tf.Tensor:
        return tf.cast(tf.shape(image)[axis], tf.float32)

    table = {
        "identity": lambda image, sign: image,
        "autocontrast": lambda image, sign: ops.autocontrast(image),
        "equalize": lambda image, sign: ops.equalize(image),
        "rotate": lambda image, sign: ops.rotate(image, sign * strength["rotate"]),
        "solarize": lambda image, sign: ops.solarize(image, strength["solarize"]),
        "color": lambda image, sign: ops.color(image, 1.0 + sign * enhance),
        "posterize": lambda image, sign: ops.posterize(image, strength["posterize"]),
        "contrast": lambda image, sign: ops.contrast(image, 1.0 + sign * enhance),
        "brightness": lambda image, sign: ops.brightness(image, 1.0 + sign * enhance),
        "sharpness": lambda image, sign: ops.sharpness(image, 1.0 + sign * enhance),
        "shear_x": lambda image, sign: ops.shear_x(image, sign * strength["shear"]),
        "shear_y": lambda image, sign: ops.shear_y(image, sign * strength["shear"]),
        "translate_x": lambda image, sign: ops.translate_x(image, sign * shift * side(image, 2)),
        "translate_y": lambda image, sign: ops.translate_y(image, sign * shift * side(image, 1)),
    }
    return [_compiled_per_image(table[name]) if name in COMPILED_OPERATIONS else table[name]
            for name in OPERATION_NAMES]


def _compiled_per_image(operation):
    """``operation`` XLA-compiled for ONE image and mapped over the batch: XLA compiles for
    fixed shapes, and per image one compilation serves every group size, empty ones too."""
    compiled = tf.function(lambda image, sign: operation(image[None], sign[None])[0],
                           jit_compile=True, autograph=False)

    def batched(images: tf.Tensor, signs: tf.Tensor) -> tf.Tensor:
        augmented = tf.map_fn(lambda item: compiled(item[0], item[1]), (images, signs),
                              fn_output_signature=tf.TensorSpec(images.shape[1:], tf.uint8))
        # An empty group must keep its image shape, (0, H, W, 3), to be stitched back.
        return tf.reshape(augmented, tf.shape(images))

    return batched


class RandAugment:
    """RandAugment with an independent choice of operations for every image.

    Call it on a batch (B, H, W, 3) of ``uint8`` or ``float32`` 0..255 images to get a batch of
    the same shape and dtype. Plain TensorFlow, so it runs inside ``tf.data`` maps
    (``data.pipeline.make_dataset`` gives every training batch a stateless seed of its own).

    Args:
        num_ops: operations applied to each image, one after the other (the paper's N).
        magnitude: strength of every operation on the 0..10 scale (the paper's M).
        seed: seed of the random choices of calls without an explicit ``seed``; a new instance
            with the same seed gives the same sequence of batches. ``None``: fresh randomness.
    """

    def __init__(self, num_ops: int = 3, magnitude: float = 7, seed: int | None = None):
        if isinstance(num_ops, bool) or not isinstance(num_ops, int) or num_ops < 0:
            raise ConfigError(f"RandAugment num_ops must be an integer >= 0, got {num_ops!r}")
        if isinstance(magnitude, bool) or not isinstance(magnitude, int | float) \
                or not 0 <= magnitude <= MAX_MAGNITUDE:
            raise ConfigError(
                f"RandAugment magnitude must be a number in 0..{MAX_MAGNITUDE:g}, got {magnitude!r}"
            )
        self.num_ops = num_ops
        self.magnitude = float(magnitude)
        self.seed = seed
        self._operations = _image_operations(self.magnitude)
        self._generator: tf.random.Generator | None = None
        # Shared by the instances of the same settings (the seed is an argument), and traced
        # once per batch shape when called eagerly (a preview).
        self._augment_graph = _augment_graph(num_ops, self.magnitude)

    def __repr__(self) -> str:
        return (
            f"RandAugment(num_ops={self.num_ops}, magnitude={self.magnitude:g}, seed={self.seed})"
        )

    def __call__(self, images: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        """Augment a batch (B, H, W, 3) of 0..255 images; returns the same shape and dtype.

        Args:
            images: ``uint8`` or ``float32`` tensor; float values are rounded to whole grey
                levels (the operations work on 8-bit images, like Pillow's).
            seed: optional stateless seed, shape (2,) integers: the same seed gives the same
                output. Without it, the instance's own generator (from ``self.seed``) is used.
        """
        images = tf.convert_to_tensor(images)
        if images.shape.rank != 4 or images.shape[-1] != 3:
            raise ConfigError(
                f"RandAugment expects a batch of RGB images (B, H, W, 3), got shape {images.shape}"
            )
        if images.dtype not in (tf.uint8, tf.float32):
            raise ConfigError(f"RandAugment expects uint8 or float32 images, got {images.dtype}")
        if seed is None:
            if self._generator is None:  # created on first use: constructing costs nothing
                self._generator = tf.random.Generator.from_non_deterministic_state() \
                    if self.seed is None else tf.random.Generator.from_seed(self.seed)
            seed = self._generator.make_seeds(1)[:, 0]
        pixels = images
        if images.dtype != tf.uint8:
            pixels = tf.cast(tf.round(tf.clip_by_value(images, 0.0, 255.0)), tf.uint8)
        augmented = self._augment_graph(pixels, tf.cast(seed, tf.int64))
        return tf.cast(augmented, images.dtype)


@functools.cache
def _augment_graph(num_ops: int, magnitude: float) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """RandAugment's graph for these settings: a new instance (each training pipeline makes
    one) does not trace the operations again."""
    operations = _image_operations(magnitude)
    return tf.function(lambda images, seed: _augment(images, seed, num_ops, operations),
                       autograph=False)


def _augment(images: tf.Tensor, seed: tf.Tensor, num_ops: int, operations: list) -> tf.Tensor:
    """``num_ops`` steps of ``operations``, each image drawing its own, from ``seed``."""
    batch_size = tf.shape(images)[0]
    choice_seed, sign_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    # Operation and direction of every step for every image, drawn independently.
    choices = tf.random.stateless_uniform(
        [num_ops, batch_size], choice_seed, 0, len(operations), dtype=tf.int32
    )
    signs = tf.where(
        tf.random.stateless_uniform([num_ops, batch_size], sign_seed) < 0.5, -1.0, 1.0
    )
    positions = tf.range(batch_size)
    for step in range(num_ops):
        groups = tf.dynamic_partition(images, choices[step], len(operations))
        group_signs = tf.dynamic_partition(signs[step], choices[step], len(operations))
        group_positions = tf.dynamic_partition(positions, choices[step], len(operations))
        # Each operation sees only the images that chose it (often none: an empty batch).
        outputs = [operation(group, group_sign) for operation, group, group_sign
                   in zip(operations, groups, group_signs, strict=True)]
        images = tf.ensure_shape(tf.dynamic_stitch(group_positions, outputs), images.shape)
    return images

"""The Gram matrix of a feature map: correlations between its channels.

For a feature map F of shape (H, W, C), reshaped to an (H*W) x C matrix, the Gram matrix is
G = F^T F (C x C): entry (i, j) is the inner product of the vectorised channel maps i and j.
It keeps colour and texture statistics and discards where things are in the image, which is why
the thesis adds it to a content-oriented backbone.

``PairwiseGram`` is the journal version's "pairwise operation" on feature sub-maps: for maps
A (H, W, C1) and B (H, W, C2) on the same grid, the cross Gram A^T B (C1 x C2), whose entry
(i, j) correlates channel i of A with channel j of B. The self-Gram is the case A = B.
"""

import keras
import numpy as np
from keras import ops

from thesis_lib.errors import ConfigError

NORMALIZATIONS = ("chw", "hw", None)
GRAM_OUTPUTS = ("matrix", "triu")
_HALF_PRECISION = ("float16", "bfloat16")


def check_normalization(normalization: str | None) -> str | None:
    """Return ``normalization`` if it is one of ``NORMALIZATIONS``, else raise ConfigError."""
    if normalization not in NORMALIZATIONS:
        raise ConfigError(
            f"unknown Gram normalization {normalization!r}; valid: 'chw', 'hw' or None"
        )
    return normalization


def at_least_float32(dtype=None) -> keras.DTypePolicy | str:
    """The dtype policy for a Gram layer: ``dtype`` (or the global policy), but never half.

    A Gram entry sums H*W products of activations; with activations of ~1e3 on a 32x32 map that
    is ~1e9, far beyond float16's 65504. So under ``mixed_float16`` / ``mixed_bfloat16`` the Gram
    layers compute in float32, and the layers after them cast back down themselves.

    Args:
        dtype: a dtype policy, its name, or None for the global policy.
    """
    policy = keras.dtype_policies.get(dtype) if dtype is not None else keras.config.dtype_policy()
    if policy.compute_dtype in _HALF_PRECISION or policy.variable_dtype in _HALF_PRECISION:
        return "float32"
    return policy


def spatial_size(feature_map) -> "keras.KerasTensor":
    """H*W of a (B, H, W, C) tensor as a float32 scalar; H and W may be unknown until run time."""
    shape = ops.shape(feature_map)
    return ops.cast(shape[1], "float32") * ops.cast(shape[2], "float32")


def check_feature_map_shape(layer_name: str, shape) -> None:
    """Raise ConfigError unless ``shape`` is (B, H, W, C) with a known channel count C."""
    if len(shape) != 4:
        raise ConfigError(
            f"{layer_name} expects feature maps of shape (batch, height, width, channels); "
            f"got shape {tuple(shape)}"
        )
    if shape[-1] is None:
        raise ConfigError(f"{layer_name} needs a known channel count; got shape {tuple(shape)}")


@keras.saving.register_keras_serializable(package="thesis_lib")
class GramMatrix(keras.layers.Layer):
    """Gram matrix of a feature map, G = F^T F with F the (H*W) x C reshaped map.

    The layer computes in float32 even under a ``mixed_float16`` policy (unless another
    full-precision dtype is passed), so large activations do not overflow; its output is
    float32.

    Args:
        normalization: ``"chw"`` divides G by C*H*W (as GramNet does), ``"hw"`` by H*W (the
            mean over positions), ``None`` leaves the raw sums.
        output: ``"matrix"`` returns the full symmetric (C, C) matrix; ``"triu"`` returns its
            upper triangle including the diagonal as a vector of C*(C+1)/2 values, in row-major
            order: (0,0), (0,1), ..., (0,C-1), (1,1), (1,2), ..., (C-1,C-1), the order of
            ``numpy.triu_indices(C)``.
        **kwargs: standard `keras.layers.Layer` arguments (``name``, ``dtype``...).

    Input shape:
        (batch, height, width, channels); batch, height and width may be unknown.

    Output shape:
        (batch, channels, channels) for ``"matrix"``; (batch, channels*(channels+1)/2) for
        ``"triu"``.

    Example:
        >>> features = keras.random.normal((2, 16, 12, 8))
        >>> tuple(GramMatrix()(features).shape)
        (2, 8, 8)
    """

    def __init__(self, normalization: str | None = "chw", output: str = "matrix", **kwargs):
        kwargs["dtype"] = at_least_float32(kwargs.get("dtype"))
        super().__init__(**kwargs)
        self.normalization = check_normalization(normalization)
        if output not in GRAM_OUTPUTS:
            raise ConfigError(f"unknown Gram output {output!r}; valid: 'matrix' or 'triu'")
        # `Layer.output` is a Keras property, hence the different attribute name.
        self.output_mode = output

    def build(self, input_shape):
        check_feature_map_shape(self.name, input_shape)
        channels = input_shape[-1]
        rows, cols = np.triu_indices(channels)
        # Positions of the upper-triangle entries in the row-major flattened C x C matrix.
        self._triu_flat_indices = (rows * channels + cols).astype("int32")

    def call(self, inputs):
        features = ops.cast(inputs, self.compute_dtype)
        gram = ops.einsum("bhwc,bhwd->bcd", features, features)
        channels = features.shape[-1]
        if self.normalization == "hw":
            gram = gram / spatial_size(features)
        elif self.normalization == "chw":
            gram = gram / (spatial_size(features) * channels)
        if self.output_mode == "triu":
            flat = ops.reshape(gram, (-1, channels * channels))
            gram = ops.take(flat, self._triu_flat_indices, axis=1)
        return gram

    def compute_output_shape(self, input_shape):
        batch, channels = input_shape[0], input_shape[-1]
        if self.output_mode == "triu":
            return (batch, channels * (channels + 1) // 2)
        return (batch, channels, channels)

    def get_config(self):
        config = super().get_config()
        config.update({"normalization": self.normalization, "output": self.output_mode})
        return config


PAIRWISE_OUTPUTS = ("matrix", "flat")


@keras.saving.register_keras_serializable(package="thesis_lib")
class PairwiseGram(keras.layers.Layer):
    """Cross Gram matrix of two feature maps, aligned to the smaller grid.

    Maps taken from different depths of a CNN have different grids. Before the product, each
    map larger than the common grid (min(H1, H2), min(W1, W2)) is averaged down to it: by
    average pooling when its size is a whole multiple of the common size (the usual factor-2
    steps of a CNN), otherwise by an antialiased bilinear resize, which also averages.

    Like ``GramMatrix``, the layer computes in float32 even under ``mixed_float16``.

    Args:
        normalization: ``"hw"`` divides by the common H*W; ``"chw"`` divides by
            sqrt(C1*C2)*H*W, which equals GramNet's C*H*W when both maps have C channels;
            ``None`` leaves the raw sums.
        output: ``"matrix"`` returns (batch, C1, C2); ``"flat"`` returns the same values as a
            row-major vector (batch, C1*C2).
        **kwargs: standard `keras.layers.Layer` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: a list ``[a, b]`` of feature maps, a (batch, H1, W1, C1) and
            b (batch, H2, W2, C2). The spatial sizes must be known when they differ.

    Output shape:
        (batch, C1, C2) for ``"matrix"``; (batch, C1*C2) for ``"flat"``.

    Example:
        >>> shallow = keras.random.normal((2, 32, 32, 16))
        >>> deep = keras.random.normal((2, 8, 8, 24))
        >>> tuple(PairwiseGram()([shallow, deep]).shape)
        (2, 16, 24)
    """

    def __init__(self, normalization: str | None = "chw", output: str = "matrix", **kwargs):
        kwargs["dtype"] = at_least_float32(kwargs.get("dtype"))
        super().__init__(**kwargs)
        self.normalization = check_normalization(normalization)
        if output not in PAIRWISE_OUTPUTS:
            raise ConfigError(f"unknown PairwiseGram output {output!r}; valid: 'matrix' or 'flat'")
        # `Layer.output` is a Keras property, hence the different attribute name.
        self.output_mode = output

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ConfigError(
                f"{self.name} takes a list of two feature maps [a, b]; got {len(input_shape)}"
            )
        shape_a, shape_b = input_shape
        check_feature_map_shape(self.name, shape_a)
        check_feature_map_shape(self.name, shape_b)
        grid_a, grid_b = tuple(shape_a[1:3]), tuple(shape_b[1:3])
        if grid_a != grid_b and None in grid_a + grid_b:
            raise ConfigError(
                f"{self.name} needs known spatial sizes to align maps of different grids; "
                f"got {tuple(shape_a)} and {tuple(shape_b)}"
            )
        if None in grid_a:
            self._common_grid = None  # Same (unknown) grid: nothing to align.
        else:
            self._common_grid = (min(grid_a[0], grid_b[0]), min(grid_a[1], grid_b[1]))

    def _to_common_grid(self, feature_map):
        """Average ``feature_map`` down to the common grid (a no-op when it is already there)."""
        grid = tuple(feature_map.shape[1:3])
        if self._common_grid is None or grid == self._common_grid:
            return feature_map
        height, width = grid
        common_height, common_width = self._common_grid
        if height % common_height == 0 and width % common_width == 0:
            factors = (height // common_height, width // common_width)
            return ops.average_pool(feature_map, pool_size=factors, strides=factors)
        return ops.image.resize(
            feature_map, self._common_grid, interpolation="bilinear", antialias=True
        )

    def call(self, inputs):
        a, b = (self._to_common_grid(ops.cast(x, self.compute_dtype)) for x in inputs)
        gram = ops.einsum("bhwc,bhwd->bcd", a, b)
        if self.normalization == "hw":
            gram = gram / spatial_size(a)
        elif self.normalization == "chw":
            channels = (a.shape[-1] * b.shape[-1]) ** 0.5
            gram = gram / (spatial_size(a) * channels)
        if self.output_mode == "flat":
            gram = ops.reshape(gram, (-1, a.shape[-1] * b.shape[-1]))
        return gram

    def compute_output_shape(self, input_shape):
        shape_a, shape_b = input_shape
        batch, channels_a, channels_b = shape_a[0], shape_a[-1], shape_b[-1]
        if self.output_mode == "flat":
            return (batch, channels_a * channels_b)
        return (batch, channels_a, channels_b)

    def get_config(self):
        config = super().get_config()
        config.update({"normalization": self.normalization, "output": self.output_mode})
        return config

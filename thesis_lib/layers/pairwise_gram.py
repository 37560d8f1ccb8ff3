"""The pairwise (cross) Gram matrix of two feature maps.

The journal version of the thesis combines the features of selected layers by "a pairwise
operation" computing Gram matrices of feature sub-maps. For maps A (H, W, C1) and B (H, W, C2)
on the same grid, the cross Gram is A^T B (C1 x C2): entry (i, j) correlates channel i of A with
channel j of B. The self-Gram (``GramMatrix``) is the case A = B.
"""

import keras
from keras import ops

from thesis_lib.errors import ConfigError
from thesis_lib.layers.gram_matrix import (
    at_least_float32,
    check_feature_map_shape,
    check_normalization,
    spatial_size,
)

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

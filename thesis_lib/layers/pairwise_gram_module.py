"""The pairwise Gram module: ``GramModule`` with the self-Gram of one map replaced by the cross
Gram (``PairwiseGram``) of two tapped maps. Each map is reduced to ``channels`` by a convolution
of its own, at its own resolution, so the C x C cross Gram goes through exactly the head of a
``GramModule`` (shared code, ``GramBranch``): entry (i, j) correlates reduced channel i of map a
with reduced channel j of map b, after the larger map has been averaged down to the smaller grid.
"""

import keras

from thesis_lib.errors import ConfigError
from thesis_lib.layers.gram_matrix import at_least_float32
from thesis_lib.layers.gram_module import GramBranch
from thesis_lib.layers.pairwise_gram import PairwiseGram


@keras.saving.register_keras_serializable(package="thesis_lib")
class PairwiseGramModule(GramBranch):
    """Texture branch on a pair of maps: reduce both, cross Gram, normalise, CNN head, pool.

    Under a ``mixed_float16`` policy the convolutions run in float16 while the cross Gram and
    its normalisation run in float32, as in ``GramModule``.

    Args:
        channels: width C of both reduction convolutions, so the cross Gram is C x C.
        kernel_size: kernel size of the reduction convolutions (3 as GramNet; 1 is 9x cheaper).
        conv_activation: activation name after the reduction convolutions.
        gram_activation: activation name applied to the cross Gram, or None / ``"none"``.
        head_activation: activation name after each convolution of the head.
        normalization: cross-Gram normalisation, ``"chw"``, ``"hw"`` or None (see
            ``PairwiseGram``; with both maps at C channels ``"chw"`` divides by C*H*W).
        signed_sqrt: apply sign(x) * sqrt(|x| + epsilon) to the entries.
        l2_normalize: divide the cross Gram by its Frobenius norm (per image).
        head_channels: output channels of the head's stride-2 3x3 convolutions; the last one
            is the module's output width.
        epsilon: the small constant inside the signed square root and the norm.
        **kwargs: standard `keras.layers.Layer` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: a list ``[a, b]`` of feature maps (batch, H1, W1, C1) and (batch, H2, W2, C2);
            the grids must be known when they differ.
        training: batch normalisation in training mode or not.

    Output shape:
        (batch, head_channels[-1]).

    Example:
        >>> module = PairwiseGramModule(channels=16)
        >>> shallow = keras.random.normal((2, 32, 32, 24))
        >>> deep = keras.random.normal((2, 16, 16, 48))
        >>> tuple(module([shallow, deep]).shape)
        (2, 32)
    """

    def _make_layers(self) -> None:
        self.reduce_conv_a, self.reduce_norm_a = self._reduction("_a")
        self.reduce_conv_b, self.reduce_norm_b = self._reduction("_b")
        self.gram = PairwiseGram(
            normalization=self.normalization,
            dtype=at_least_float32(self.dtype_policy),
            name="gram",
        )

    def build(self, input_shape):
        if not isinstance(input_shape, list | tuple) or len(input_shape) != 2:
            raise ConfigError(f"{self.name} takes a list of two feature maps [a, b]")
        shape_a, shape_b = (tuple(shape) for shape in input_shape)
        reduced_a = self._build_reduction(self.reduce_conv_a, self.reduce_norm_a, shape_a)
        reduced_b = self._build_reduction(self.reduce_conv_b, self.reduce_norm_b, shape_b)
        self.gram.build([reduced_a, reduced_b])
        self._build_head(shape_a[0])

    def call(self, inputs, training=None):
        a, b = inputs
        a = self._reduce(self.reduce_conv_a, self.reduce_norm_a, a, training)
        b = self._reduce(self.reduce_conv_b, self.reduce_norm_b, b, training)
        return self.head(self.gram([a, b]), training=training)

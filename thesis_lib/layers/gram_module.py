"""The Gram module: a uniform, configurable texture branch after GramNet.

One module turns a tapped feature map of any depth into a short vector of texture statistics:

    conv 3x3 (or 1x1) -> `channels`, BN, conv_activation   reduce the map to a fixed width
    Gram matrix (channels x channels), float32          correlations between channels
    gram_activation, signed sqrt, L2 normalisation      tame the heavy-tailed Gram entries
    the matrix as a 1-channel image:
    per entry of head_channels: conv 3x3 stride 2, BN, head_activation
    global average pooling                              -> (batch, head_channels[-1])

With the defaults this is GramNet's block (Liu et al., CVPR 2020): 32 channels, Gram normalised
by C*H*W, two stride-2 convolutions 1 -> 16 -> 32, ReLU. The thesis' "additional activation
functions" are the per-stage activation names, taken from ``thesis_lib.layers.ACTIVATIONS``.

``PairwiseGramModule`` is the same branch on the cross Gram (``PairwiseGram``) of two tapped
maps, each reduced to ``channels`` by a convolution of its own at its own resolution, so the
C x C cross Gram goes through exactly the head of a ``GramModule``.
"""

from collections.abc import Sequence

import keras
from keras import ops

from thesis_lib.errors import ConfigError
from thesis_lib.layers.activations import get_activation
from thesis_lib.layers.gram_matrix import GramMatrix, PairwiseGram, at_least_float32


def _check_positive_ints(name: str, values) -> tuple[int, ...]:
    values = tuple(values)
    if not values or not all(isinstance(v, int) and v > 0 for v in values):
        raise ConfigError(f"Gram module {name} must be positive integers; got {values!r}")
    return values


class GramBranch(keras.layers.Layer):
    """What every Gram module shares: the options, the normalisation and the CNN head.

    A subclass makes its reduction convolution(s) and its Gram layer in ``_make_layers()``
    (called before the head is made); in ``build`` it calls ``_build_head(batch)``, and in
    ``call`` it hands its float32 (B, C, C) Gram matrix to ``head(gram, training)``. The
    arguments are those of ``GramModule``. Not registered: only its subclasses are layers of a
    model.
    """

    def __init__(
        self,
        channels: int = 32,
        kernel_size: int = 3,
        conv_activation: str | None = "relu",
        gram_activation: str | None = None,
        head_activation: str | None = "relu",
        normalization: str | None = "chw",
        signed_sqrt: bool = True,
        l2_normalize: bool = True,
        head_channels: Sequence[int] = (16, 32),
        epsilon: float = 1e-8,
        **kwargs,
    ):
        super().__init__(**kwargs)
        (self.channels,) = _check_positive_ints("channels", [channels])
        (self.kernel_size,) = _check_positive_ints("kernel_size", [kernel_size])
        self.head_channels = _check_positive_ints("head_channels", head_channels)
        self.conv_activation = conv_activation
        self.gram_activation = gram_activation
        self.head_activation = head_activation
        self.normalization = normalization
        self.signed_sqrt = bool(signed_sqrt)
        self.l2_normalize = bool(l2_normalize)
        self.epsilon = float(epsilon)

        self._conv_activation_fn = get_activation(conv_activation)
        self._gram_activation_fn = get_activation(gram_activation)
        self._head_activation_fn = get_activation(head_activation)
        self._make_layers()
        self._make_head()

    def _make_layers(self) -> None:
        raise NotImplementedError

    def _reduction(self, suffix: str = "") -> tuple[keras.layers.Layer, keras.layers.Layer]:
        """A reduction convolution to ``channels`` and its batch normalisation."""
        # BN follows every convolution, so the convolutions need no bias.
        conv = keras.layers.Conv2D(
            self.channels,
            self.kernel_size,
            padding="same",
            use_bias=False,
            dtype=self.dtype_policy,
            name=f"reduce_conv{suffix}",
        )
        norm = keras.layers.BatchNormalization(
            dtype=self.dtype_policy, name=f"reduce_norm{suffix}"
        )
        return conv, norm

    def _make_head(self) -> None:
        self.head_convs = [
            keras.layers.Conv2D(
                width,
                3,
                strides=2,
                padding="same",
                use_bias=False,
                dtype=self.dtype_policy,
                name=f"head_conv_{i}",
            )
            for i, width in enumerate(self.head_channels)
        ]
        self.head_norms = [
            keras.layers.BatchNormalization(dtype=self.dtype_policy, name=f"head_norm_{i}")
            for i in range(len(self.head_channels))
        ]
        self.pool = keras.layers.GlobalAveragePooling2D(dtype=self.dtype_policy, name="pool")

    def _build_reduction(self, conv, norm, input_shape) -> tuple:
        conv.build(input_shape)
        reduced_shape = conv.compute_output_shape(input_shape)
        norm.build(reduced_shape)
        return reduced_shape

    def _build_head(self, batch) -> None:
        # The C x C Gram matrix enters the head as a one-channel image.
        shape = (batch, self.channels, self.channels, 1)
        for conv, norm in zip(self.head_convs, self.head_norms, strict=True):
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            norm.build(shape)
        self.pool.build(shape)

    def _reduce(self, conv, norm, inputs, training):
        return self._conv_activation_fn(norm(conv(inputs), training=training))

    def normalize_gram(self, gram):
        """Activation, signed sqrt and L2 normalisation of a float32 (B, C, C) Gram matrix."""
        gram = self._gram_activation_fn(gram)
        if self.signed_sqrt:
            # Gram entries are heavy-tailed (products of activations); the square root
            # evens them out, and epsilon keeps its gradient finite at zero.
            gram = ops.sign(gram) * ops.sqrt(ops.abs(gram) + self.epsilon)
        if self.l2_normalize:
            # max(., epsilon) under the root (rather than on the norm) keeps the gradient
            # finite even for an all-zero matrix, e.g. when every ReLU channel is dead.
            squared_norm = ops.sum(ops.square(gram), axis=(1, 2), keepdims=True)
            gram = gram * ops.rsqrt(ops.maximum(squared_norm, self.epsilon))
        return gram

    def head(self, gram, training=None):
        """Normalised (B, C, C) Gram matrix -> head convolutions -> pooled (B, head width)."""
        x = ops.cast(ops.expand_dims(self.normalize_gram(gram), -1), self.compute_dtype)
        for conv, norm in zip(self.head_convs, self.head_norms, strict=True):
            x = self._head_activation_fn(norm(conv(x), training=training))
        return self.pool(x)

    def compute_output_shape(self, input_shape):
        first = input_shape[0] if isinstance(input_shape, list) else input_shape
        return (first[0], self.head_channels[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "channels": self.channels,
                "kernel_size": self.kernel_size,
                "conv_activation": self.conv_activation,
                "gram_activation": self.gram_activation,
                "head_activation": self.head_activation,
                "normalization": self.normalization,
                "signed_sqrt": self.signed_sqrt,
                "l2_normalize": self.l2_normalize,
                "head_channels": list(self.head_channels),
                "epsilon": self.epsilon,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="thesis_lib")
class GramModule(GramBranch):
    """GramNet-style texture branch: reduce, Gram, normalise, small CNN head, pool.

    Under a ``mixed_float16`` policy the convolutions run in float16, while the Gram matrix,
    its activation, the signed square root and the L2 normalisation run in float32; the
    normalised matrix (entries in [-1, 1]) is then safe to hand back to the float16 head.

    Args:
        channels: width C of the reduction convolution, so the Gram matrix is C x C
            whatever the width of the tapped layer.
        kernel_size: kernel size of the reduction convolution. 3 is GramNet's choice; 1 costs
            9x less on shallow taps with large grids (e.g. 128x128 on a 256 px input), where
            the 3x3 convolution is most of the module's cost.
        conv_activation: activation name after the reduction convolution.
        gram_activation: activation name applied to the Gram matrix, or None / ``"none"``.
        head_activation: activation name after each convolution of the head.
        normalization: Gram normalisation, ``"chw"``, ``"hw"`` or None (see ``GramMatrix``).
        signed_sqrt: apply sign(x) * sqrt(|x| + epsilon) to the Gram entries.
        l2_normalize: divide the Gram matrix by its Frobenius norm (per image).
        head_channels: output channels of the head's stride-2 3x3 convolutions, one
            convolution per entry; the last one is the module's output width.
        epsilon: the small constant inside the signed square root and the norm.
        **kwargs: standard `keras.layers.Layer` arguments (``name``, ``dtype``...).

    Input shape:
        (batch, height, width, in_channels); batch, height and width may be unknown.

    Output shape:
        (batch, head_channels[-1]).

    Example:
        >>> module = GramModule(channels=32, conv_activation="gelu")
        >>> tuple(module(keras.random.normal((2, 32, 32, 56))).shape)
        (2, 32)
    """

    def _make_layers(self) -> None:
        self.reduce_conv, self.reduce_norm = self._reduction()
        self.gram = GramMatrix(
            normalization=self.normalization,
            dtype=at_least_float32(self.dtype_policy),
            name="gram",
        )

    def build(self, input_shape):
        reduced_shape = self._build_reduction(self.reduce_conv, self.reduce_norm, input_shape)
        self.gram.build(reduced_shape)
        self._build_head(input_shape[0])

    def call(self, inputs, training=None):
        x = self._reduce(self.reduce_conv, self.reduce_norm, inputs, training)
        return self.head(self.gram(x), training=training)


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

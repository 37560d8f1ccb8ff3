"""Keras layers of the thesis: the Gram matrix, the pairwise Gram, the Gram module.

All layers use ``keras.ops`` only, so they run on the TensorFlow and the JAX backends, and are
registered for ``.keras`` saving under the package name ``thesis_lib``.

    GramMatrix       (B, H, W, C) -> (B, C, C): channel correlations of one feature map.
    PairwiseGram     [(B, H1, W1, C1), (B, H2, W2, C2)] -> (B, C1, C2): cross Gram of two maps.
    GramModule       (B, H, W, C) -> (B, 32): GramNet-style texture branch on a tapped layer.
    SharedScale      one learnable scalar shared by several branches.
    get_activation   the named activations a Gram module accepts per stage (ACTIVATIONS).
"""

from thesis_lib.layers.activations import ACTIVATIONS, get_activation
from thesis_lib.layers.gram_matrix import GramMatrix
from thesis_lib.layers.gram_module import GramModule
from thesis_lib.layers.pairwise_gram import PairwiseGram
from thesis_lib.layers.shared_scale import SharedScale

__all__ = [
    "ACTIVATIONS",
    "GramMatrix",
    "GramModule",
    "PairwiseGram",
    "SharedScale",
    "get_activation",
]

"""Keras layers of the thesis: Gram matrices, Gram modules, the contrastive-center centers.

All layers use ``keras.ops`` only, so they run on the TensorFlow and the JAX backends, and are
registered for ``.keras`` saving under the package name ``thesis_lib``.

    GramMatrix          (B, H, W, C) -> (B, C, C): channel correlations of one feature map.
    PairwiseGram        [(B, H1, W1, C1), (B, H2, W2, C2)] -> (B, C1, C2): cross Gram of two
                        maps.
    GramModule          (B, H, W, C) -> (B, 32): GramNet-style texture branch on a tapped layer.
    PairwiseGramModule  [map a, map b] -> (B, 32): the same branch on the cross Gram of two maps.
    ContrastiveCenter   [embeddings, labels] -> (B,): class centers and the per-sample
                        contrastive-center loss (Qi & Su 2017); moves the centers when training.
    SharedScale         one learnable scalar shared by several branches.
    get_activation      the named activations a Gram module accepts per stage (ACTIVATIONS).
"""

from thesis_lib.layers.activations import ACTIVATIONS, get_activation
from thesis_lib.layers.contrastive_center import ContrastiveCenter
from thesis_lib.layers.gram_matrix import GramMatrix
from thesis_lib.layers.gram_module import GramBranch, GramModule
from thesis_lib.layers.pairwise_gram import PairwiseGram
from thesis_lib.layers.pairwise_gram_module import PairwiseGramModule
from thesis_lib.layers.shared_scale import SharedScale

__all__ = [
    "ACTIVATIONS",
    "ContrastiveCenter",
    "GramBranch",
    "GramMatrix",
    "GramModule",
    "PairwiseGram",
    "PairwiseGramModule",
    "SharedScale",
    "get_activation",
]

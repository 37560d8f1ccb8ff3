"""Keras layers of the thesis: Gram matrices, Gram modules, the contrastive-center centers
(docs/models.md#the-layers). All use ``keras.ops`` only, so they run on the TensorFlow and the
JAX backends, and are registered for ``.keras`` saving under the package name ``thesis_lib``.
"""

from thesis_lib.layers.activations import ACTIVATIONS, get_activation
from thesis_lib.layers.contrastive_center import ContrastiveCenter
from thesis_lib.layers.gram_matrix import GramMatrix, PairwiseGram
from thesis_lib.layers.gram_module import GramBranch, GramModule, PairwiseGramModule
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

"""The fused embedding of a network: the vector its classifier sees.

Every model of ``build_model`` ends in ``... -> "dropout" -> "classifier"``. The input of the
dropout layer is the network's *fused embedding*: the pooled deep features (baseline), the
pooled features concatenated with the Gram module vectors (gram, pairwise), or the FC-512
output (gramnet). The contrastive-center loss acts on it, and embedding analyses (t-SNE,
class separability) read it.
"""

from __future__ import annotations

import keras

from thesis_lib.errors import ConfigError

EMBEDDING_LAYER = "dropout"
"""The layer whose input is the fused embedding."""


def embedding_output(model: keras.Model):
    """The symbolic fused embedding of a functional model (the input of its "dropout" layer).

    Args:
        model: a model of ``build_model``, or one reloaded from a ``.keras`` file.

    Returns:
        The ``KerasTensor`` (batch, width) in the model's graph, e.g. to build a model with an
        extra output from it.

    Raises:
        ConfigError: if the model has no layer named "dropout" (not a ``build_model`` network).
    """
    try:
        layer = model.get_layer(EMBEDDING_LAYER)
    except ValueError:
        raise ConfigError(
            f"model {model.name!r} has no layer named {EMBEDDING_LAYER!r}, whose input is the "
            "fused embedding; use a model of thesis_lib.models.build_model"
        ) from None
    return layer.input


def embedding_model(model: keras.Model) -> keras.Model:
    """A model from the same images to the fused embedding, sharing ``model``'s weights.

    Args:
        model: a model of ``build_model`` (or reloaded from a ``.keras`` file).

    Returns:
        A ``keras.Model`` (B, S, S, 3) -> (B, width), named ``<model name>_embedding``. Call
        it with ``training=False`` (or use ``predict``) for the inference-time embedding.

    Example:
        >>> model = build_model("gram", backbone="B0", image_size=64, modules=2, weights=None)
        >>> embedding_model(model).output.shape  # 1280 pooled + 2 x 32 module values
        (None, 1344)
    """
    # A single input as a tensor, not a list: the model is then called with a plain array.
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, embedding_output(model), name=f"{model.name}_embedding")

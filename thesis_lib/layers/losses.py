"""The contrastive-center loss (Qi & Su, 2017, arXiv:1707.07391) and its pieces.

For embeddings x_i (B x D) with class labels y_i and one center c_k per class (K x D):

    L_ctc = 1/B sum_i  0.5 * ||x_i - c_{y_i}||^2 / (w * sum_{j != y_i} ||x_i - c_j||^2 + delta)

delta > 0 keeps the ratio finite when the centers coincide (all zero at the start); w is the
inter-class weight of the IEEE Access (2025) paper (Qi & Su: w = 1). The batch ``"sum"``
(Qi & Su's convention) is B times the ``"mean"``: docs/models.md#the-contrastive-center-loss.
Everything computes in float32, also for float16 embeddings under mixed precision: squared
distances of a few hundred activations overflow float16's 65504.
"""

from __future__ import annotations

import keras
from keras import ops

from thesis_lib.errors import ConfigError

COMPUTE_DTYPE = "float32"
# How the per-sample values become the batch's loss: their mean (default) or their sum.
REDUCTIONS: tuple[str, ...] = ("mean", "sum")


def check_contrastive_center_options(delta: float, inter_weight: float) -> tuple[float, float]:
    """Return (delta, inter_weight) as floats, or raise ConfigError naming the bad one.

    Args:
        delta: the constant added to the denominator; must be > 0.
        inter_weight: the weight w of the inter-class term; must be >= 0.
    """
    if isinstance(delta, bool) or not isinstance(delta, int | float) or not delta > 0:
        raise ConfigError(f"contrastive-center delta must be a number > 0, got {delta!r}")
    if (
        isinstance(inter_weight, bool)
        or not isinstance(inter_weight, int | float)
        or not inter_weight >= 0
    ):
        raise ConfigError(
            f"contrastive-center inter_weight must be a number >= 0, got {inter_weight!r}"
        )
    return float(delta), float(inter_weight)


def check_reduction(reduction: str) -> str:
    """Return ``reduction`` if it is one of ``REDUCTIONS``, or raise ConfigError naming it.

    Args:
        reduction: ``"mean"`` or ``"sum"`` over the batch.
    """
    if reduction not in REDUCTIONS:
        raise ConfigError(
            f"contrastive-center reduction must be one of {', '.join(REDUCTIONS)}, "
            f"got {reduction!r}"
        )
    return reduction


def _check_shapes(embeddings, centers) -> None:
    embedding_shape, center_shape = tuple(embeddings.shape), tuple(centers.shape)
    if len(embedding_shape) != 2 or len(center_shape) != 2:
        raise ConfigError(
            "contrastive-center loss expects embeddings (batch, dim) and centers "
            f"(classes, dim); got {embedding_shape} and {center_shape}"
        )
    dims = (embedding_shape[-1], center_shape[-1])
    if None not in dims and dims[0] != dims[1]:
        raise ConfigError(
            f"contrastive-center embeddings have {dims[0]} dimensions but the centers have "
            f"{dims[1]}"
        )


def _distance_terms(embeddings, labels, centers):
    """float32 x, c, the one-hot labels, and per sample a = ||x - c_y||^2, b = sum_j!=y."""
    _check_shapes(embeddings, centers)
    x = ops.cast(embeddings, COMPUTE_DTYPE)
    c = ops.cast(centers, COMPUTE_DTYPE)
    own = ops.one_hot(ops.cast(labels, "int32"), centers.shape[0], dtype=COMPUTE_DTYPE)
    # The explicit differences (not ||x||^2 - 2 x.c + ||c||^2) keep the numerator accurate when
    # an embedding sits close to its center, where the expanded form cancels in float32.
    squared = ops.sum(ops.square(x[:, None, :] - c[None, :, :]), axis=-1)  # (B, K)
    intra = ops.sum(own * squared, axis=-1)
    inter = ops.sum((1.0 - own) * squared, axis=-1)
    return x, c, own, intra, inter


def contrastive_center_values(
    embeddings, labels, centers, *, delta: float = 1.0, inter_weight: float = 1.0
):
    """The per-sample contrastive-center ratio, in float32.

    Args:
        embeddings: (B, D) feature vectors, any float dtype.
        labels: (B,) integer class indices in 0..K-1.
        centers: (K, D) class centers.
        delta: constant added to the denominator, > 0.
        inter_weight: weight w of the inter-class sum in the denominator, >= 0.

    Returns:
        (B,) float32: 0.5 * ||x_i - c_{y_i}||^2 / (w * sum_{j != y_i} ||x_i - c_j||^2 + delta).

    Raises:
        ConfigError: for delta <= 0, inter_weight < 0, or embeddings and centers of different
            widths.
    """
    delta, inter_weight = check_contrastive_center_options(delta, inter_weight)
    _, _, _, intra, inter = _distance_terms(embeddings, labels, centers)
    return 0.5 * intra / (inter_weight * inter + delta)


def contrastive_center_loss(
    embeddings,
    labels,
    centers,
    *,
    delta: float = 1.0,
    inter_weight: float = 1.0,
    reduction: str = "mean",
):
    """The contrastive-center loss of a batch: the mean (or sum) of
    ``contrastive_center_values``.

    Args:
        embeddings: (B, D) feature vectors, any float dtype.
        labels: (B,) integer class indices in 0..K-1.
        centers: (K, D) class centers.
        delta: constant added to the denominator, > 0.
        inter_weight: weight w of the inter-class sum in the denominator, >= 0.
        reduction: ``"mean"`` over the batch, or ``"sum"`` (Qi & Su's convention, B times the
            mean).

    Returns:
        A float32 scalar.

    Raises:
        ConfigError: for an unknown reduction, and as ``contrastive_center_values``.

    Example:
        >>> x = keras.ops.convert_to_tensor([[0.0, 0.0]])
        >>> c = keras.ops.convert_to_tensor([[3.0, 4.0], [0.0, 1.0]])
        >>> round(float(contrastive_center_loss(x, [0], c, delta=1.0, inter_weight=2.0)), 4)
        4.1667
    """
    check_reduction(reduction)
    values = contrastive_center_values(
        embeddings, labels, centers, delta=delta, inter_weight=inter_weight
    )
    return ops.sum(values) if reduction == "sum" else ops.mean(values)


def contrastive_center_gradient(
    embeddings, labels, centers, *, delta: float = 1.0, inter_weight: float = 1.0
):
    """d L_ctc / d centers of the batch-mean loss, in closed form (float32, no autodiff).

    With a_i = ||x_i - c_{y_i}||^2, b_i = sum_{j != y_i} ||x_i - c_j||^2 and
    q_i = w b_i + delta, one sample contributes

        d L_i / d c_{y_i} = -(x_i - c_{y_i}) / q_i                  (pulls its own center)
        d L_i / d c_j     = w a_i (x_i - c_j) / q_i^2,  j != y_i     (pushes the others away)

    and the batch gradient is the mean over the samples. The centers receive no gradient
    through the network; ``thesis_lib.layers.ContrastiveCenter`` steps along this one, whatever
    the reduction of the network's loss (the centers' rate is their own).

    Args:
        embeddings: (B, D) feature vectors (treated as constants).
        labels: (B,) integer class indices in 0..K-1.
        centers: (K, D) class centers.
        delta: constant added to the denominator, > 0.
        inter_weight: weight w of the inter-class sum, >= 0.

    Returns:
        (K, D) float32.
    """
    delta, inter_weight = check_contrastive_center_options(delta, inter_weight)
    x, c, own, intra, inter = _distance_terms(ops.stop_gradient(embeddings), labels, centers)
    denominator = (inter_weight * inter + delta)[:, None]  # (B, 1)
    push = inter_weight * intra[:, None] / ops.square(denominator)
    weights = (-own / denominator + (1.0 - own) * push) / ops.cast(ops.shape(x)[0], x.dtype)
    # sum_i weights_ik (x_i - c_k) = (weights^T x)_k - (sum_i weights_ik) c_k
    return ops.matmul(ops.transpose(weights), x) - ops.sum(weights, axis=0)[:, None] * c


@keras.saving.register_keras_serializable(package="thesis_lib")
class PrecomputedLoss(keras.losses.Loss):
    """A loss for a model output that already is a per-sample loss: returns ``y_pred``.

    A training model whose output ``contrastive_center`` is the per-sample
    contrastive-center value (``thesis_lib.layers.ContrastiveCenter``) is compiled with this
    loss on that output, so Keras averages it over the batch (with sample weights, if any;
    ``reduction="sum"`` sums it instead), multiplies it by the output's loss weight and logs it
    as ``contrastive_center_loss``. The target passed for that output is ignored.

    Args:
        name: the loss's name.
        **kwargs: standard `keras.losses.Loss` arguments (``reduction``: Keras'
            ``"sum_over_batch_size"``, the mean, by default, or ``"sum"``; ``dtype``).
    """

    def __init__(self, name: str = "precomputed", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return y_pred

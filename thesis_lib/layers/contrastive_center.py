"""The class centers of the contrastive-center loss, kept and updated by a layer.

The centers are a non-trainable (K, D) variable of ``ContrastiveCenter``, updated inside
``call(training=True)``, the way batch normalisation updates its moving statistics:

    centers <- centers - center_lr * d L_ctc / d centers

with the closed-form gradient of the batch *mean* (``losses.contrastive_center_gradient``),
whatever the ``reduction`` of the network's loss. Why not trainable weights of the model's
optimizer: Qi & Su give the centers a rate of their own, which must not change with lambda or
with the network's schedule and warm-up; Adam-style optimizers would rescale every center step
to about the learning rate (and AdamW's decay would pull the centers to zero); and this rule
runs unchanged under ``fit`` on TensorFlow (also XLA and ``MirroredStrategy``, where the
variable averages the replicas' updates) and on JAX, without a custom train step.

The step pulls a center toward its class's embeddings in the batch, each weighted by
1 / (w b_i + delta), and pushes it away from the other classes' embeddings, each weighted by
w a_i / (w b_i + delta)^2 (notation of ``losses.contrastive_center_gradient``). So each step
closes about center_lr * (n_k / B) / (w b + delta) of the gap between center k and its class's
mean, n_k of the B samples being of class k and b an embedding's summed squared distance to the
other centers. For two balanced classes with b = 250, center_lr = 0.5 closes
0.5 * 0.5 / 251, about 0.1 %, per step: the centers follow the class means over a few thousand
steps (one epoch of WEBEmo at batch 16). Raise ``center_lr`` for short runs or small datasets.
Because of the push, a center settles slightly beyond its class mean, away from the other
classes: for two well separated classes at distance d whose embeddings have a summed variance
sigma^2 (the trace of the covariance), by about sigma^2 / d.
"""

from __future__ import annotations

import keras
from keras import ops

from thesis_lib.errors import ConfigError
from thesis_lib.layers.gram_matrix import at_least_float32
from thesis_lib.layers.losses import (
    check_contrastive_center_options,
    contrastive_center_gradient,
    contrastive_center_values,
)


def _check_num_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ConfigError(
            f"ContrastiveCenter num_classes must be a whole number >= 2, got {num_classes!r}"
        )
    return num_classes


def _check_center_lr(center_lr) -> float:
    if isinstance(center_lr, bool) or not isinstance(center_lr, int | float) or center_lr < 0:
        raise ConfigError(f"ContrastiveCenter center_lr must be a number >= 0, got {center_lr!r}")
    return float(center_lr)


@keras.saving.register_keras_serializable(package="thesis_lib")
class ContrastiveCenter(keras.layers.Layer):
    """Class centers and the per-sample contrastive-center loss of a batch of embeddings.

    The layer holds K x D centers (non-trainable, float32, initially zero). Each call returns
    0.5 * ||x_i - c_{y_i}||^2 / (w * sum_{j != y_i} ||x_i - c_j||^2 + delta) per sample,
    computed with the centers as they were before the call; with ``training=True`` (and the
    layer trainable) it then moves the centers one gradient step of L_ctc with rate
    ``center_lr`` (see the module docstring for why and how fast). With ``training=False``
    the centers stay as they are. Everything runs in float32, also under mixed precision.

    Args:
        num_classes: K, the number of classes (and centers).
        delta: the constant added to the denominator, > 0 (Qi & Su use 1).
        inter_weight: the weight w of the inter-class sum in the denominator, >= 0 (1 is Qi &
            Su's loss; w = 0 turns the loss into the center loss divided by delta).
        center_lr: the centers' own learning rate, >= 0; 0 freezes the centers.
        **kwargs: standard `keras.layers.Layer` arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: ``[embeddings, labels]``: embeddings (batch, dim); labels either (batch,)
            integer class indices or (batch, K) one-hot rows (their argmax is the class).
        training: update the centers (True) or not.

    Output shape:
        (batch,), float32.

    Example:
        >>> layer = ContrastiveCenter(num_classes=3, center_lr=0.5)
        >>> x = keras.random.normal((4, 8))
        >>> tuple(layer([x, keras.ops.array([0, 1, 2, 0])], training=True).shape)
        (4,)
    """

    def __init__(
        self,
        num_classes: int,
        delta: float = 1.0,
        inter_weight: float = 1.0,
        center_lr: float = 0.5,
        **kwargs,
    ):
        kwargs["dtype"] = at_least_float32(kwargs.get("dtype"))
        super().__init__(**kwargs)
        self.num_classes = _check_num_classes(num_classes)
        self.delta, self.inter_weight = check_contrastive_center_options(delta, inter_weight)
        self.center_lr = _check_center_lr(center_lr)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ConfigError(
                f"{self.name} takes a list [embeddings, labels]; got {len(input_shape)} inputs"
            )
        embedding_shape, label_shape = (tuple(shape) for shape in input_shape)
        if len(embedding_shape) != 2 or embedding_shape[-1] is None:
            raise ConfigError(
                f"{self.name} expects embeddings of shape (batch, dim) with a known dim; got "
                f"{embedding_shape}"
            )
        if len(label_shape) == 2 and label_shape[-1] not in (None, self.num_classes):
            raise ConfigError(
                f"{self.name} has {self.num_classes} classes but got one-hot labels of shape "
                f"{label_shape}"
            )
        if len(label_shape) not in (1, 2):
            raise ConfigError(
                f"{self.name} expects labels of shape (batch,) or (batch, {self.num_classes}); "
                f"got {label_shape}"
            )
        self.centers = self.add_weight(
            shape=(self.num_classes, embedding_shape[-1]),
            initializer="zeros",
            trainable=False,
            autocast=False,
            # Under MirroredStrategy each replica computes its step; the variable keeps their mean.
            aggregation="mean",
            name="centers",
        )

    def call(self, inputs, training=None):
        embeddings, labels = inputs
        if len(labels.shape) == 2:
            labels = ops.argmax(labels, axis=-1)
        centers = ops.convert_to_tensor(self.centers)  # read before the update below
        options = {"delta": self.delta, "inter_weight": self.inter_weight}
        values = contrastive_center_values(embeddings, labels, centers, **options)
        if training and self.trainable and self.center_lr > 0:
            gradient = contrastive_center_gradient(embeddings, labels, centers, **options)
            self.centers.assign(centers - self.center_lr * gradient)
        return values

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "delta": self.delta,
                "inter_weight": self.inter_weight,
                "center_lr": self.center_lr,
            }
        )
        return config

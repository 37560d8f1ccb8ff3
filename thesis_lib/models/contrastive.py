"""Training a network with cross-entropy + lambda * contrastive-center loss, with plain ``fit``
(the loss and its conventions: docs/models.md#the-contrastive-center-loss).

``with_contrastive_center(model, weight=...)`` wraps a model of ``build_model`` in a training
model that shares all of its layers and weights:

    inputs  {"image": (B, S, S, 3) 0..255, "label": (B, K) one-hot}
    outputs {"probabilities": (B, K) softmax,
             "contrastive_center": (B,) the per-sample contrastive-center value of the fused
                                   embedding (the input of the "dropout" layer)}

Compiled with ``compile_arguments``, Keras logs each term per epoch (``LOG_NAMES``) with no
custom train step; the centers move inside the ``ContrastiveCenter`` layer.

Example (``train`` and ``val`` are ``tf.data`` datasets of (images, one-hot labels)):

    model = build_model("gram", backbone="B2", modules=4)
    training = with_contrastive_center(model, weight=0.01)
    training.model.compile(optimizer="adam", **training.compile_arguments())
    training.model.fit(train.map(training.batch), validation_data=val.map(training.batch))
    training.inference_model.save("model.keras")
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras

from thesis_lib.errors import ConfigError
from thesis_lib.layers import ContrastiveCenter
from thesis_lib.layers.losses import PrecomputedLoss, check_reduction
from thesis_lib.models.embeddings import embedding_output

PROBABILITIES = "probabilities"
CONTRASTIVE_CENTER = "contrastive_center"
IMAGE_INPUT = "image"
LABEL_INPUT = "label"

LOG_NAMES: dict[str, str] = {
    "loss": "cross-entropy + weight * contrastive-center loss",
    f"{PROBABILITIES}_loss": "cross-entropy",
    f"{CONTRASTIVE_CENTER}_loss": "contrastive-center loss, before the weight",
    f"{PROBABILITIES}_accuracy": "accuracy (a metric named 'accuracy' on the probabilities)",
}
"""The training logs of a contrastive-center model (each also with a ``val_`` prefix)."""


@dataclass(frozen=True)
class ContrastiveCenterTraining:
    """A training model with the contrastive-center term and the inference model it trains.

    Args:
        model: {"image", "label"} -> {"probabilities", "contrastive_center"}; compile it with
            ``compile_arguments`` and fit it on batches mapped by ``batch``.
        inference_model: the wrapped network, image -> probabilities, with the same weights.
        weight: lambda, the loss weight of the contrastive-center term.
        reduction: ``"mean"`` or ``"sum"``: how the term reduces over the batch.
    """

    model: keras.Model
    inference_model: keras.Model
    weight: float
    reduction: str = "mean"

    @property
    def layer(self) -> ContrastiveCenter:
        """The ``ContrastiveCenter`` layer (its ``centers`` variable is (K, D))."""
        return self.model.get_layer(CONTRASTIVE_CENTER)

    def compile_arguments(
        self,
        cross_entropy: keras.losses.Loss | None = None,
        metrics: Sequence[keras.metrics.Metric] | None = None,
    ) -> dict:
        """``loss``, ``loss_weights`` and ``metrics`` for ``model.compile(**...)``.

        Args:
            cross_entropy: the classification loss on the probabilities; default
                ``keras.losses.CategoricalCrossentropy()`` (pass one with label smoothing
                to smooth).
            metrics: metrics of the probabilities; default one
                ``CategoricalAccuracy(name="accuracy")``, logged as ``probabilities_accuracy``.
        """
        if cross_entropy is None:
            cross_entropy = keras.losses.CategoricalCrossentropy()
        if metrics is None:
            metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")]
        # Keras' "sum_over_batch_size" is the mean (of the sample-weighted values).
        term = PrecomputedLoss(
            reduction="sum" if self.reduction == "sum" else "sum_over_batch_size"
        )
        return {
            "loss": {PROBABILITIES: cross_entropy, CONTRASTIVE_CENTER: term},
            "loss_weights": {PROBABILITIES: 1.0, CONTRASTIVE_CENTER: self.weight},
            "metrics": {PROBABILITIES: list(metrics)},
        }

    @staticmethod
    def batch(images, labels, sample_weight=None) -> tuple:
        """Map a batch (images, one-hot labels[, sample weights]) to the training model's form.

        Usable in ``tf.data.Dataset.map``: it only rearranges tensors. The labels are both an
        input (the contrastive-center term needs each sample's class) and the cross-entropy
        target; the target given for ``contrastive_center`` is ignored by its loss. Sample
        weights (e.g. class weights per sample; Keras' ``class_weight`` argument does not work
        for models with two outputs) weight both terms.
        """
        inputs = {IMAGE_INPUT: images, LABEL_INPUT: labels}
        targets = {PROBABILITIES: labels, CONTRASTIVE_CENTER: labels}
        if sample_weight is None:
            return inputs, targets
        return inputs, targets, sample_weight


def with_contrastive_center(
    model: keras.Model,
    num_classes: int | None = None,
    *,
    weight: float,
    delta: float = 1.0,
    inter_weight: float = 1.0,
    center_lr: float = 0.5,
    reduction: str = "mean",
) -> ContrastiveCenterTraining:
    """Wrap a ``build_model`` network for training with CE + weight * L_ctc.

    Args:
        model: a network of ``build_model`` (image -> probabilities, with a "dropout" layer).
        num_classes: the number of classes; default (None) the width of the model's output.
        weight: lambda, the loss weight of the contrastive-center term, >= 0.
        delta: the constant in the loss's denominator, > 0.
        inter_weight: the weight of the inter-class term in the denominator, >= 0.
        center_lr: the centers' own learning rate, >= 0 (see ``ContrastiveCenter``).
        reduction: ``"mean"`` (default) or ``"sum"`` of the term over the batch; with
            ``"sum"``, lambda is the papers' lambda (lambda_sum = lambda_mean / batch size).

    Returns:
        A ``ContrastiveCenterTraining`` with the training model and the inference model.

    Raises:
        ConfigError: for a model without the fused embedding, a class count that does not
            match the model, or an invalid weight, delta, inter_weight, center_lr or
            reduction.
    """
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight >= 0:
        raise ConfigError(f"contrastive-center weight must be a number >= 0, got {weight!r}")
    check_reduction(reduction)
    embedding = embedding_output(model)
    outputs = model.outputs
    output_classes = outputs[0].shape[-1]
    if len(model.inputs) != 1 or len(outputs) != 1:
        raise ConfigError(
            f"with_contrastive_center needs a model image -> probabilities; {model.name!r} has "
            f"{len(model.inputs)} inputs and {len(outputs)} outputs"
        )
    if num_classes is None:
        num_classes = output_classes
    elif num_classes != output_classes:
        raise ConfigError(
            f"num_classes={num_classes} but model {model.name!r} outputs {output_classes} "
            "classes"
        )
    labels = keras.Input((num_classes,), dtype="float32", name=LABEL_INPUT)
    values = ContrastiveCenter(
        num_classes,
        delta=delta,
        inter_weight=inter_weight,
        center_lr=center_lr,
        name=CONTRASTIVE_CENTER,
    )([embedding, labels])
    training_model = keras.Model(
        {IMAGE_INPUT: model.inputs[0], LABEL_INPUT: labels},
        {PROBABILITIES: outputs[0], CONTRASTIVE_CENTER: values},
        name=f"{model.name}_{CONTRASTIVE_CENTER}",
    )
    return ContrastiveCenterTraining(training_model, model, float(weight), reduction)

"""The fused embedding and training with cross-entropy + lambda * contrastive-center loss."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny_networks import tiny_network

from thesis_lib.errors import ConfigError
from thesis_lib.layers import ContrastiveCenter
from thesis_lib.models import (
    build_model,
    embedding_model,
    embedding_output,
    with_contrastive_center,
)
from thesis_lib.models.contrastive import LOG_NAMES


def random_images(count: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype("float32")


def tiny_data(count: int = 12, classes: int = 3):
    labels = keras.utils.to_categorical(np.arange(count) % classes, classes)
    return random_images(count, 8, seed=1), labels


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_the_embedding_is_what_the_classifier_sees():
    model = build_model("gram", backbone="B0", image_size=64, modules=2, weights=None)
    embed = embedding_model(model)
    assert embed.output.shape == (None, 1280 + 2 * 32)
    assert embedding_output(model) is model.get_layer("fusion").output
    images = random_images(2, 64)
    embedding = np.asarray(embed(images, training=False), "float64")
    classifier = model.get_layer("classifier")
    kernel, bias = (np.asarray(w, "float64") for w in (classifier.kernel, classifier.bias))
    # Dropout is the identity at inference, so the probabilities are softmax(e W + b).
    np.testing.assert_allclose(
        np.asarray(model(images, training=False)), softmax(embedding @ kernel + bias),
        rtol=1e-4, atol=1e-6,
    )
    gramnet = build_model("gramnet", backbone="B0", image_size=64, modules=1, weights=None)
    assert embedding_model(gramnet).output.shape == (None, 512)  # the FC-512 output


def test_a_model_without_the_dropout_layer_is_a_config_error():
    images = keras.Input((4,))
    model = keras.Model(images, keras.layers.Dense(2, activation="softmax")(images), name="bare")
    with pytest.raises(ConfigError, match="model 'bare' has no layer named 'dropout'"):
        embedding_model(model)
    with pytest.raises(ConfigError, match="no layer named 'dropout'"):
        with_contrastive_center(model, weight=0.1)


def _train(model, compile_and_data, steps: int = 3):
    keras.utils.set_random_seed(7)
    fit_model, arguments, x, y = compile_and_data(model)
    fit_model.compile(optimizer=keras.optimizers.SGD(0.5), **arguments)
    fit_model.fit(x, y, batch_size=4, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
    return [np.asarray(w) for w in model.weights]


def test_zero_weight_is_exactly_the_cross_entropy_training():
    images, labels = tiny_data()

    def plain(model):
        return model, {"loss": "categorical_crossentropy",
                       "metrics": [keras.metrics.CategoricalAccuracy(name="accuracy")]}, \
            images, labels

    def contrastive(weight):
        def arguments(model):
            training = with_contrastive_center(model, weight=weight, center_lr=1.0)
            x, y = training.batch(images, labels)
            return training.model, training.compile_arguments(), x, y
        return arguments

    expected = _train(tiny_network(), plain)
    got = _train(tiny_network(), contrastive(0.0))
    assert len(got) == len(expected)
    for actual, reference in zip(got, expected, strict=True):
        np.testing.assert_array_equal(actual, reference)
    # The comparison can fail: with a weight the contrastive term changes the weights.
    with_weight = _train(tiny_network(), contrastive(0.5))
    assert any(not np.array_equal(a, b) for a, b in zip(with_weight, expected, strict=True))


# The wrapper's plumbing is the same on every backbone: the fast tier fits the Tiny one, the
# full tier EfficientNetV2B0 too.
@pytest.fixture(scope="module",
                params=["Tiny", pytest.param("EfficientNetV2B0", marks=pytest.mark.slow)])
def trained_gram(request):
    """A gram network (32 px) fitted 2 epochs with weight 0.5 on 8 images."""
    model = build_model("gram", backbone=request.param, image_size=32, modules=1, weights=None)
    training = with_contrastive_center(model, 2, weight=0.5, delta=1.0, inter_weight=1.0,
                                       center_lr=5.0)
    # Eager: tracing the train and test steps would take longer than the four steps themselves.
    training.model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True,
                           **training.compile_arguments())
    images = random_images(8, 32, seed=2)
    labels = keras.utils.to_categorical([0, 1] * 4, 2)
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4).map(training.batch)
    history = training.model.fit(data, validation_data=data, epochs=2, shuffle=False, verbose=0)
    return training, history.history, images, labels


def test_fit_logs_each_term_and_the_weighted_total(trained_gram):
    training, history, _, _ = trained_gram
    assert set(history) == set(LOG_NAMES) | {f"val_{name}" for name in LOG_NAMES}
    for prefix in ("", "val_"):
        total = np.array(history[f"{prefix}loss"])
        terms = (np.array(history[f"{prefix}probabilities_loss"])
                 + 0.5 * np.array(history[f"{prefix}contrastive_center_loss"]))
        np.testing.assert_allclose(total, terms, rtol=1e-5)
    assert np.all(np.array(history["contrastive_center_loss"]) > 0)
    assert np.abs(np.asarray(training.layer.centers)).max() > 0  # the centers moved


def test_logged_term_is_the_loss_of_the_embeddings_and_centers(trained_gram):
    training, _, images, labels = trained_gram
    centers = np.asarray(training.layer.centers, "float64")
    x, y = training.batch(images, labels)
    results = training.model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    np.testing.assert_array_equal(np.asarray(training.layer.centers), centers)  # no update
    embedding = np.asarray(embedding_model(training.inference_model)(images, training=False))
    squared = ((embedding.astype("float64")[:, None, :] - centers[None]) ** 2).sum(-1)
    own = labels.astype(bool)
    expected = np.mean(0.5 * squared[own] / (squared[~own] + 1.0))
    assert results["contrastive_center_loss"] == pytest.approx(expected, rel=1e-4)


def test_the_inference_model_saves_and_reloads_without_the_centers(trained_gram, tmp_path):
    training, _, images, _ = trained_gram
    inference = training.inference_model
    assert inference.inputs[0] is training.model.inputs[0]  # shared graph, shared weights
    expected = np.asarray(inference(images, training=False))
    inference.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert not any(isinstance(layer, ContrastiveCenter) for layer in reloaded.layers)
    assert reloaded.count_params() == inference.count_params()
    np.testing.assert_allclose(np.asarray(reloaded(images, training=False)), expected, atol=1e-6)


def test_sample_weights_weight_both_terms():
    images, labels = tiny_data(count=4)
    training = with_contrastive_center(tiny_network(), weight=1.0, center_lr=0.0)
    training.model.compile(optimizer="sgd", **training.compile_arguments())
    x, y, weights = training.batch(images, labels, np.array([1.0, 0.0, 0.0, 0.0], "float32"))
    weighted = training.model.evaluate(x, y, sample_weight=weights, batch_size=4, verbose=0,
                                       return_dict=True)
    first = training.batch(images[:1], labels[:1])
    alone = training.model.evaluate(*first, batch_size=1, verbose=0, return_dict=True)
    # Keras averages weighted losses over the batch size: one sample of weight 1 in 4.
    for name in ("probabilities_loss", "contrastive_center_loss"):
        assert weighted[name] == pytest.approx(alone[name] / 4, rel=1e-5)


def test_mixed_precision_keeps_the_term_in_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        training = with_contrastive_center(tiny_network(), weight=0.1)
        images, labels = tiny_data()
        outputs = training.model(training.batch(images, labels)[0], training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert training.model.get_layer("dropout").compute_dtype == "float16"
    values = np.asarray(outputs["contrastive_center"])
    assert values.dtype == np.float32 and np.isfinite(values).all()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"weight": -0.1}, "weight must be a number >= 0, got -0.1"),
        ({"weight": 0.1, "num_classes": 5}, "num_classes=5 but model 'tiny' outputs 3 classes"),
        ({"weight": 0.1, "center_lr": -1.0}, "center_lr must be a number >= 0"),
        ({"weight": 0.1, "delta": 0.0}, "delta must be a number > 0"),
    ],
)
def test_bad_arguments_are_config_errors(arguments, message):
    with pytest.raises(ConfigError, match=message):
        with_contrastive_center(tiny_network(), **arguments)

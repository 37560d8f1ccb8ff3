"""ContrastiveCenter: the loss it returns, the update of its centers, config and saving."""

import keras
import numpy as np
import pytest
from keras import ops

from thesis_lib.errors import ConfigError
from thesis_lib.layers import ContrastiveCenter


def reference_loss(x, labels, centers, delta=1.0, inter_weight=1.0) -> float:
    """The batch-mean contrastive-center loss in float64 (vectorised numpy)."""
    x, centers = np.asarray(x, "float64"), np.asarray(centers, "float64")
    squared = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=-1)
    own = np.eye(len(centers))[labels]
    intra, inter = (own * squared).sum(-1), ((1 - own) * squared).sum(-1)
    return float(np.mean(0.5 * intra / (inter_weight * inter + delta)))


def numerical_center_gradient(x, labels, centers, step=1e-6, **options) -> np.ndarray:
    centers = np.asarray(centers, "float64")
    gradient = np.zeros_like(centers)
    for index in np.ndindex(centers.shape):
        up, down = centers.copy(), centers.copy()
        up[index] += step
        down[index] -= step
        gradient[index] = (
            reference_loss(x, labels, up, **options) - reference_loss(x, labels, down, **options)
        ) / (2 * step)
    return gradient


def built_layer(centers: np.ndarray, **kwargs) -> ContrastiveCenter:
    layer = ContrastiveCenter(num_classes=len(centers), **kwargs)
    layer.build([(None, centers.shape[1]), (None,)])
    layer.centers.assign(centers)
    return layer


def problem(seed=0, batch=8, classes=3, dim=4):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, dim)).astype("float32")
    labels = rng.integers(0, classes, batch)
    centers = rng.normal(size=(classes, dim)).astype("float32")
    return x, labels, centers


def test_centers_start_at_zero_and_stay_without_training():
    x, labels, _ = problem()
    layer = ContrastiveCenter(num_classes=3)
    values = ops.convert_to_numpy(layer([x, labels], training=False))
    np.testing.assert_array_equal(ops.convert_to_numpy(layer.centers), np.zeros((3, 4)))
    assert layer.centers.trainable is False and layer.trainable_weights == []
    # All centers at zero: ||x||^2 / (2 ||x||^2 + delta) for three classes.
    squared = (x.astype("float64") ** 2).sum(axis=1)
    np.testing.assert_allclose(values, 0.5 * squared / (2 * squared + 1.0), rtol=1e-5)


def test_a_training_step_descends_the_numerical_gradient():
    x, labels, centers = problem(seed=1)
    options = {"delta": 0.5, "inter_weight": 2.0}
    layer = built_layer(centers, center_lr=0.3, **options)
    values = ops.convert_to_numpy(layer([x, labels], training=True))
    # The returned loss is the one of the centers before the step.
    assert float(values.mean()) == pytest.approx(reference_loss(x, labels, centers, **options),
                                                 rel=1e-5)
    expected = centers - 0.3 * numerical_center_gradient(x, labels, centers, **options)
    np.testing.assert_allclose(ops.convert_to_numpy(layer.centers), expected, atol=1e-6)
    assert reference_loss(x, labels, ops.convert_to_numpy(layer.centers), **options) < float(
        values.mean()
    )


def test_one_hot_labels_are_the_same_as_indices():
    x, labels, centers = problem(seed=2)
    by_index, by_one_hot = built_layer(centers), built_layer(centers)
    out_index = by_index([x, labels], training=True)
    out_one_hot = by_one_hot([x, np.eye(3, dtype="float32")[labels]], training=True)
    np.testing.assert_allclose(ops.convert_to_numpy(out_one_hot), ops.convert_to_numpy(out_index))
    np.testing.assert_allclose(
        ops.convert_to_numpy(by_one_hot.centers), ops.convert_to_numpy(by_index.centers)
    )


def test_centers_find_the_class_means_of_separated_blobs():
    """From zero, the update rule brings each center to its class mean (up to the push)."""
    rng = np.random.default_rng(3)
    classes, dim, spread = 3, 4, 0.3
    means = 6.0 * np.eye(classes, dim)
    layer = ContrastiveCenter(num_classes=classes, center_lr=30.0)
    first = None
    for _ in range(150):
        labels = rng.integers(0, classes, 60)
        x = (means[labels] + rng.normal(0.0, spread, (60, dim))).astype("float32")
        loss = float(ops.mean(layer([x, labels], training=True)))
        first = loss if first is None else first
    centers = ops.convert_to_numpy(layer.centers)
    offsets = centers - means
    # Each center ends within 0.1 of its mean (it starts 6 away); the push of the other classes
    # leaves it about sigma^2 / d = (4 * 0.3^2) / (6 * sqrt(2)) = 0.04 beyond the mean.
    assert np.linalg.norm(offsets, axis=1).max() < 0.1
    for k in range(classes):
        others = np.delete(means, k, axis=0).mean(axis=0)
        assert offsets[k] @ (means[k] - others) > 0, "a center was not pushed away"
    assert loss < first / 100


def test_zero_rate_or_a_frozen_layer_keeps_the_centers():
    x, labels, centers = problem(seed=4)
    frozen = built_layer(centers)
    frozen.trainable = False
    for layer in (built_layer(centers, center_lr=0.0), frozen):
        layer([x, labels], training=True)
        np.testing.assert_array_equal(ops.convert_to_numpy(layer.centers), centers)


def test_mixed_float16_policy_computes_in_float32(mixed_float16_policy):
    x, labels, _ = problem(seed=5)
    layer = ContrastiveCenter(num_classes=3)
    values = layer([ops.cast(x * 300.0, "float16"), labels], training=True)
    assert layer.compute_dtype == "float32" and layer.centers.dtype == "float32"
    values = ops.convert_to_numpy(values)
    assert values.dtype == np.float32 and np.isfinite(values).all()
    assert np.isfinite(ops.convert_to_numpy(layer.centers)).all()


def test_functional_use_and_keras_file_round_trip(tmp_path):
    embeddings = keras.Input((4,), name="embedding")
    labels = keras.Input((3,), name="label")
    layer = ContrastiveCenter(num_classes=3, delta=0.5, inter_weight=2.0, center_lr=0.1)
    output = layer([embeddings, labels])
    assert output.shape == (None,)
    model = keras.Model([embeddings, labels], output)
    x, indices, centers = problem(seed=6)
    layer.centers.assign(centers)
    one_hot = np.eye(3, dtype="float32")[indices]
    expected = ops.convert_to_numpy(model([x, one_hot]))
    model.save(tmp_path / "centers.keras")
    reloaded = keras.saving.load_model(tmp_path / "centers.keras", safe_mode=True)
    np.testing.assert_array_equal(ops.convert_to_numpy(reloaded([x, one_hot])), expected)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(reloaded.layers[-1].centers), centers
    )


def test_get_config_round_trip_covers_every_argument():
    arguments = {"num_classes": 7, "delta": 0.25, "inter_weight": 3.0, "center_lr": 0.05}
    config = ContrastiveCenter(**arguments, name="centers").get_config()
    assert {key: config[key] for key in arguments} == arguments
    assert ContrastiveCenter.from_config(config).get_config() == config


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"num_classes": 1}, "num_classes must be a whole number >= 2, got 1"),
        ({"num_classes": 2, "center_lr": -0.1}, "center_lr must be a number >= 0, got -0.1"),
        ({"num_classes": 2, "delta": 0}, "delta must be a number > 0"),
        ({"num_classes": 2, "inter_weight": -1}, "inter_weight must be a number >= 0"),
    ],
)
def test_bad_arguments_are_config_errors(arguments, message):
    with pytest.raises(ConfigError, match=message):
        ContrastiveCenter(**arguments)


def test_labels_of_another_class_count_are_a_config_error():
    layer = ContrastiveCenter(num_classes=2)
    with pytest.raises(ConfigError, match=r"has 2 classes but got one-hot labels of shape"):
        layer([keras.Input((4,)), keras.Input((3,))])

"""The contrastive-center loss against numpy, finite differences and hand-computed values."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from thesis_lib.errors import ConfigError
from thesis_lib.layers.losses import (
    REDUCTIONS,
    PrecomputedLoss,
    contrastive_center_gradient,
    contrastive_center_loss,
    contrastive_center_values,
)


def reference_values(x, labels, centers, delta=1.0, inter_weight=1.0) -> np.ndarray:
    """The per-sample ratio of Qi & Su, written out with loops, in float64."""
    x, centers = np.asarray(x, "float64"), np.asarray(centers, "float64")
    values = []
    for sample, label in zip(x, labels, strict=True):
        intra = np.sum((sample - centers[label]) ** 2)
        inter = sum(
            np.sum((sample - center) ** 2) for j, center in enumerate(centers) if j != label
        )
        values.append(0.5 * intra / (inter_weight * inter + delta))
    return np.array(values)


def finite_difference_gradient(function, point: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Central differences of a scalar function of an array, in float64."""
    point = point.astype("float64")
    gradient = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        shifted = point.copy()
        shifted[index] += step
        up = function(shifted)
        shifted[index] -= 2 * step
        gradient[index] = (up - function(shifted)) / (2 * step)
    return gradient


def random_problem(batch=7, classes=4, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, dim)).astype("float32")
    labels = rng.integers(0, classes, batch)
    centers = rng.normal(size=(classes, dim)).astype("float32")
    return x, labels, centers


@pytest.mark.parametrize(("delta", "inter_weight"), [(1.0, 1.0), (0.3, 2.5), (5.0, 0.0)])
def test_values_and_mean_match_the_reference(delta, inter_weight):
    x, labels, centers = random_problem()
    options = {"delta": delta, "inter_weight": inter_weight}
    expected = reference_values(x, labels, centers, **options)
    values = ops.convert_to_numpy(contrastive_center_values(x, labels, centers, **options))
    assert values.dtype == np.float32 and values.shape == (7,)
    np.testing.assert_allclose(values, expected, rtol=1e-5)
    loss = ops.convert_to_numpy(contrastive_center_loss(x, labels, centers, **options))
    np.testing.assert_allclose(loss, expected.mean(), rtol=1e-5)


def test_the_sum_reduction_is_qi_and_su_sum_over_the_batch():
    """Qi & Su write L_ctc = 1/2 sum_i ..., a sum over the batch: B times the mean."""
    x, labels, centers = random_problem(batch=7, seed=6)
    options = {"delta": 0.8, "inter_weight": 1.3}
    expected = reference_values(x, labels, centers, **options)
    total = float(contrastive_center_loss(x, labels, centers, reduction="sum", **options))
    mean = float(contrastive_center_loss(x, labels, centers, reduction="mean", **options))
    assert total == pytest.approx(expected.sum(), rel=1e-5)
    assert mean == pytest.approx(expected.mean(), rel=1e-5)
    assert total == pytest.approx(7 * mean, rel=1e-5)
    assert float(contrastive_center_loss(x, labels, centers, **options)) == mean  # the default


def test_an_unknown_reduction_is_a_config_error():
    x, labels, centers = random_problem()
    assert REDUCTIONS == ("mean", "sum")
    with pytest.raises(ConfigError, match="reduction must be one of mean, sum, got 'total'"):
        contrastive_center_loss(x, labels, centers, reduction="total")


def test_hand_computed_value_follows_delta_and_inter_weight():
    # x = (0, 0), own center (3, 4): ||x - c_y||^2 = 25; the other center (0, 1): 1.
    x, centers = np.zeros((1, 2), "float32"), np.array([[3.0, 4.0], [0.0, 1.0]], "float32")
    for delta, inter_weight in [(1.0, 1.0), (1.0, 2.0), (4.0, 1.0), (0.5, 0.0)]:
        value = contrastive_center_loss(x, [0], centers, delta=delta, inter_weight=inter_weight)
        assert float(value) == pytest.approx(12.5 / (inter_weight * 1.0 + delta), rel=1e-6)


def test_zero_inter_weight_is_the_center_loss_over_delta():
    x, labels, centers = random_problem(seed=1)
    center_loss = 0.5 * np.sum((x - centers[labels]) ** 2, axis=1)
    values = contrastive_center_values(x, labels, centers, delta=2.0, inter_weight=0.0)
    np.testing.assert_allclose(ops.convert_to_numpy(values), center_loss / 2.0, rtol=1e-5)


def test_more_inter_weight_or_delta_lowers_the_loss():
    x, labels, centers = random_problem(seed=2)
    by_weight = [float(contrastive_center_loss(x, labels, centers, inter_weight=w))
                 for w in (0.5, 1.0, 2.0)]
    by_delta = [float(contrastive_center_loss(x, labels, centers, delta=d))
                for d in (0.5, 1.0, 2.0)]
    assert by_weight[0] > by_weight[1] > by_weight[2]
    assert by_delta[0] > by_delta[1] > by_delta[2]


def test_gradients_match_finite_differences_of_the_reference():
    x, labels, centers = random_problem(batch=5, classes=3, dim=4, seed=3)
    options = {"delta": 0.7, "inter_weight": 1.5}
    x_variable, center_variable = tf.Variable(x), tf.Variable(centers)
    with tf.GradientTape() as tape:
        loss = contrastive_center_loss(x_variable, labels, center_variable, **options)
    by_x, by_centers = tape.gradient(loss, [x_variable, center_variable])

    def loss_of_x(value):
        return reference_values(value, labels, centers, **options).mean()

    def loss_of_centers(value):
        return reference_values(x, labels, value, **options).mean()

    np.testing.assert_allclose(by_x, finite_difference_gradient(loss_of_x, x), atol=1e-6,
                               rtol=1e-4)
    expected_by_centers = finite_difference_gradient(loss_of_centers, centers)
    np.testing.assert_allclose(by_centers, expected_by_centers, atol=1e-6, rtol=1e-4)
    # The closed form the center update uses is the same gradient, without autodiff.
    closed_form = ops.convert_to_numpy(contrastive_center_gradient(x, labels, centers, **options))
    np.testing.assert_allclose(closed_form, expected_by_centers, atol=1e-6, rtol=1e-4)


def test_closed_form_center_gradient_on_coinciding_centers():
    # All centers at zero (their initial value): finite, and one descent step on the own
    # center moves it toward its samples.
    x, labels, _ = random_problem(batch=6, classes=2, dim=3, seed=4)
    zeros = np.zeros((2, 3), "float32")
    closed_form = ops.convert_to_numpy(contrastive_center_gradient(x, labels, zeros))
    expected = finite_difference_gradient(
        lambda value: reference_values(x, labels, value).mean(), zeros
    )
    np.testing.assert_allclose(closed_form, expected, atol=1e-6, rtol=1e-4)


def test_half_precision_embeddings_are_computed_in_float32():
    # Squared distances of activations ~300 are ~1e5, beyond float16's 65504.
    x, labels, centers = random_problem(seed=5)
    x16 = ops.cast(x * 300.0, "float16")
    values = ops.convert_to_numpy(contrastive_center_values(x16, labels, centers))
    assert values.dtype == np.float32 and np.isfinite(values).all()
    expected = reference_values(ops.convert_to_numpy(x16), labels, centers)
    np.testing.assert_allclose(values, expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delta": 0.0}, "delta must be a number > 0, got 0.0"),
        ({"delta": -1.0}, "delta must be a number > 0"),
        ({"inter_weight": -0.1}, "inter_weight must be a number >= 0, got -0.1"),
        ({"inter_weight": True}, "inter_weight must be a number >= 0"),
    ],
)
def test_bad_options_are_config_errors(options, message):
    x, labels, centers = random_problem()
    with pytest.raises(ConfigError, match=message):
        contrastive_center_loss(x, labels, centers, **options)


def test_embeddings_and_centers_of_different_widths_are_a_config_error():
    x, labels, centers = random_problem(dim=5)
    with pytest.raises(ConfigError, match="embeddings have 5 dimensions but the centers have 3"):
        contrastive_center_loss(x, labels, centers[:, :3])


def test_precomputed_loss_averages_the_output_with_sample_weights():
    values = np.array([1.0, 2.0, 6.0], "float32")
    loss = PrecomputedLoss()
    ignored_target = np.zeros((3, 2), "float32")
    assert float(loss(ignored_target, values)) == pytest.approx(3.0)
    weights = np.array([1.0, 0.0, 0.5], "float32")
    # Keras' default reduction: sum of weighted values over the batch size.
    assert float(loss(ignored_target, values, sample_weight=weights)) == pytest.approx(4.0 / 3)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, PrecomputedLoss) and restored.name == loss.name
    # The sum reduction (the papers' convention) sums the weighted values.
    total = PrecomputedLoss(reduction="sum")
    assert float(total(ignored_target, values)) == pytest.approx(9.0)
    assert float(total(ignored_target, values, sample_weight=weights)) == pytest.approx(4.0)

"""GramModule: shapes, gradients, the normalisation stage, mixed precision, options."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from thesis_lib.errors import ConfigError
from thesis_lib.layers import GramModule


def test_output_shape_for_any_grid():
    module = GramModule()
    inputs = keras.Input((None, None, 24))
    assert module(inputs).shape == (None, 32)
    assert module.compute_output_shape((None, 32, 32, 24)) == (None, 32)
    features = np.random.default_rng(0).normal(size=(3, 20, 12, 24)).astype("float32")
    assert keras.Model(inputs, module(inputs))(features).shape == (3, 32)


def test_gram_stage_is_channels_by_channels_whatever_the_input_width():
    module = GramModule(channels=8, head_channels=(4, 8, 12), kernel_size=1)
    features = np.random.default_rng(1).normal(size=(2, 16, 16, 40)).astype("float32")
    assert module(features).shape == (2, 12)
    assert tuple(module.reduce_conv.kernel.shape) == (1, 1, 40, 8)
    # The 8x8 Gram image goes through three stride-2 convolutions: 8 -> 4 -> 2 -> 1.
    assert [tuple(conv.kernel.shape) for conv in module.head_convs] == [
        (3, 3, 1, 4),
        (3, 3, 4, 8),
        (3, 3, 8, 12),
    ]


def test_a_gradient_reaches_every_trainable_weight():
    module = GramModule(channels=8, conv_activation="gelu", gram_activation="tanh")
    features = np.random.default_rng(2).normal(size=(4, 12, 12, 6)).astype("float32")
    target = np.random.default_rng(3).normal(size=(4, 32)).astype("float32")
    with tf.GradientTape() as tape:
        loss = ops.mean(ops.square(module(features, training=True) - target))
    gradients = tape.gradient(loss, module.trainable_weights)
    assert len(module.trainable_weights) == 9  # 3 kernels + 3 BN (gamma, beta)
    for weight, gradient in zip(module.trainable_weights, gradients, strict=True):
        assert gradient is not None, weight.path
        assert np.isfinite(gradient).all(), weight.path
        assert np.abs(gradient).max() > 0, weight.path


def test_normalize_gram_is_signed_sqrt_then_unit_frobenius_norm():
    module = GramModule(epsilon=1e-8)
    gram = np.random.default_rng(4).normal(size=(3, 5, 5)).astype("float32")
    expected = np.sign(gram) * np.sqrt(np.abs(gram) + 1e-8)
    expected /= np.linalg.norm(expected, axis=(1, 2), keepdims=True)
    got = ops.convert_to_numpy(module.normalize_gram(gram))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=(1, 2)), 1.0, rtol=1e-5)


def test_gram_activation_is_applied_before_the_normalisation():
    module = GramModule(gram_activation="relu", signed_sqrt=False, l2_normalize=False)
    gram = np.array([[[1.0, -2.0], [-2.0, 3.0]]], dtype="float32")
    np.testing.assert_array_equal(
        ops.convert_to_numpy(module.normalize_gram(gram)), [[[1.0, 0.0], [0.0, 3.0]]]
    )


def test_all_zero_gram_keeps_finite_gradients():
    # A map whose ReLU channels are all dead gives an all-zero Gram matrix.
    module = GramModule()
    zeros = tf.zeros((2, 4, 4))
    with tf.GradientTape() as tape:
        tape.watch(zeros)
        total = ops.sum(module.normalize_gram(zeros))
    assert np.isfinite(tape.gradient(total, zeros)).all()


def test_mixed_float16_runs_with_the_gram_in_float32(mixed_float16_policy):
    module = GramModule()
    features = ops.cast(
        np.random.default_rng(5).uniform(-1000, 1000, size=(2, 16, 16, 8)), "float16"
    )
    output = ops.convert_to_numpy(module(features, training=True))
    assert module.gram.compute_dtype == "float32"
    assert module.reduce_conv.compute_dtype == "float16"
    assert output.shape == (2, 32) and np.isfinite(output).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"conv_activation": "relu7"}, "'relu7'"),
        ({"head_activation": "softmaxx"}, "valid names"),
        ({"normalization": "frobenius"}, "'frobenius'"),
        ({"head_channels": ()}, "head_channels"),
        ({"channels": 0}, "channels"),
    ],
)
def test_bad_options_raise_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        GramModule(**kwargs)


def test_get_config_round_trip_covers_every_argument():
    arguments = {
        "channels": 16,
        "kernel_size": 1,
        "conv_activation": "silu",
        "gram_activation": "tanh",
        "head_activation": "mish",
        "normalization": "hw",
        "signed_sqrt": False,
        "l2_normalize": False,
        "head_channels": [8, 16, 24],
        "epsilon": 1e-6,
    }
    config = GramModule(**arguments).get_config()
    assert {key: config[key] for key in arguments} == arguments
    assert GramModule.from_config(config).get_config() == config

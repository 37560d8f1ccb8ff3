"""PairwiseGramModule: its cross Gram, the self-pair case, gradients, precision, config."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from thesis_lib.errors import ConfigError
from thesis_lib.layers import GramModule, PairwiseGramModule


def random_maps(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype("float32") for shape in shapes]


def test_output_shape_and_one_reduction_per_map():
    module = PairwiseGramModule(channels=8, head_channels=(4, 12))
    shallow, deep = random_maps((2, 16, 16, 24), (2, 8, 8, 40))
    assert module([shallow, deep]).shape == (2, 12)
    assert tuple(module.reduce_conv_a.kernel.shape) == (3, 3, 24, 8)
    assert tuple(module.reduce_conv_b.kernel.shape) == (3, 3, 40, 8)
    # The 8 x 8 cross Gram goes through the head like a GramModule's Gram matrix.
    assert [tuple(conv.kernel.shape) for conv in module.head_convs] == [(3, 3, 1, 4),
                                                                       (3, 3, 4, 12)]
    symbolic = module.compute_output_shape([(None, 16, 16, 24), (None, 8, 8, 40)])
    assert symbolic == (None, 12)


def test_the_head_sees_the_cross_gram_of_the_reduced_maps():
    """With the head replaced by a probe, the module's matrix equals a numpy cross Gram."""
    module = PairwiseGramModule(channels=3, kernel_size=1, conv_activation="none",
                                normalization="hw")
    shallow, deep = random_maps((2, 8, 8, 5), (2, 4, 4, 6), seed=1)
    module([shallow, deep])  # build
    seen = {}
    module.head = lambda gram, training=None: seen.setdefault("gram", gram)
    module([shallow, deep], training=False)

    def reduced(x, conv, norm):
        # A 1x1 convolution, then inference-mode BN at its initial statistics (mean 0, var 1).
        y = np.einsum("bhwc,cd->bhwd", x.astype("float64"), np.asarray(conv.kernel)[0, 0])
        return y / np.sqrt(1.0 + norm.epsilon)

    a = reduced(shallow, module.reduce_conv_a, module.reduce_norm_a)
    b = reduced(deep, module.reduce_conv_b, module.reduce_norm_b)
    a = a.reshape(2, 4, 2, 4, 2, 3).mean(axis=(2, 4))  # 8x8 averaged down to the 4x4 grid
    expected = np.einsum("bhwc,bhwd->bcd", a, b) / 16.0
    np.testing.assert_allclose(ops.convert_to_numpy(seen["gram"]), expected, rtol=1e-4,
                               atol=1e-6)


def test_a_map_paired_with_itself_is_a_gram_module():
    options = dict(channels=4, head_channels=(4, 8), conv_activation="gelu")
    single, pairwise = GramModule(**options), PairwiseGramModule(**options)
    (features,) = random_maps((3, 8, 8, 6), seed=2)
    single(features)
    pairwise([features, features])
    weights = {w.path.split("/", 1)[1]: w for w in single.weights}
    for weight in pairwise.weights:
        name = weight.path.split("/", 1)[1].replace("_a/", "/").replace("_b/", "/")
        weight.assign(weights[name])
    np.testing.assert_allclose(
        ops.convert_to_numpy(pairwise([features, features], training=False)),
        ops.convert_to_numpy(single(features, training=False)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_a_gradient_reaches_every_trainable_weight():
    module = PairwiseGramModule(channels=4, head_channels=(4, 8))
    shallow, deep = random_maps((4, 8, 8, 3), (4, 4, 4, 5), seed=3)
    with tf.GradientTape() as tape:
        loss = ops.mean(ops.square(module([shallow, deep], training=True) - 1.0))
    gradients = tape.gradient(loss, module.trainable_weights)
    assert len(module.trainable_weights) == 12  # 4 kernels + 4 BN (gamma, beta)
    for weight, gradient in zip(module.trainable_weights, gradients, strict=True):
        assert gradient is not None and np.abs(gradient).max() > 0, weight.path


def test_mixed_float16_keeps_the_cross_gram_in_float32(mixed_float16_policy):
    module = PairwiseGramModule(channels=8)
    shallow, deep = (ops.cast(x * 1000, "float16")
                     for x in random_maps((2, 16, 16, 4), (2, 8, 8, 4), seed=4))
    output = ops.convert_to_numpy(module([shallow, deep], training=True))
    assert module.gram.compute_dtype == "float32"
    assert module.reduce_conv_a.compute_dtype == "float16"
    assert np.isfinite(output).all()


def test_bad_inputs_and_options_are_config_errors():
    with pytest.raises(ConfigError, match="list of two feature maps"):
        PairwiseGramModule()(random_maps((1, 4, 4, 2), seed=5)[0])
    with pytest.raises(ConfigError, match="'relu7'"):
        PairwiseGramModule(conv_activation="relu7")
    with pytest.raises(ConfigError, match="channels"):
        PairwiseGramModule(channels=0)


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
        "head_channels": [8, 16],
        "epsilon": 1e-6,
    }
    config = PairwiseGramModule(**arguments, name="pair").get_config()
    assert {key: config[key] for key in arguments} == arguments
    assert PairwiseGramModule.from_config(config).get_config() == config
    assert keras.saving.get_registered_name(PairwiseGramModule) == "thesis_lib>PairwiseGramModule"

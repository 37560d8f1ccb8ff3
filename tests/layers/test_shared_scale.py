"""SharedScale: one learnable scalar, shared by every branch it is called on."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from thesis_lib.layers import SharedScale


def test_multiplies_by_its_initial_value():
    values = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(ops.convert_to_numpy(SharedScale(2.5)(values)), 2.5 * values)


def test_one_instance_on_two_branches_shares_one_weight():
    scale = SharedScale(initial_value=0.5)
    left, right = keras.Input((3,)), keras.Input((5,))
    model = keras.Model([left, right], [scale(left), scale(right)])
    assert len(model.trainable_weights) == 1

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=(2, 5)).astype("float32")
    with tf.GradientTape() as tape:
        out_a, out_b = model([a, b])
        loss = ops.sum(out_a) + ops.sum(out_b)
    (gradient,) = tape.gradient(loss, model.trainable_weights)
    # d/ds [sum(s*a) + sum(s*b)] = sum(a) + sum(b): both branches reach the same weight.
    np.testing.assert_allclose(float(gradient), a.sum() + b.sum(), rtol=1e-5)


def test_get_config_round_trip():
    layer = SharedScale(initial_value=0.1, name="branch_scale")
    clone = SharedScale.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_allclose(ops.convert_to_numpy(clone(np.ones((1, 2), "float32"))), 0.1)

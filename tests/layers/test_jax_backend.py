"""The layers run on the JAX backend, without TensorFlow, in a fresh interpreter."""

import textwrap

import pytest
from jax_subprocess import run_on_jax

pytestmark = pytest.mark.jax

JAX_SCRIPT = textwrap.dedent(
    """
    import sys

    import numpy as np

    import thesis_lib.layers as layers

    assert "tensorflow" not in sys.modules, "thesis_lib.layers imported TensorFlow"

    import keras

    assert keras.backend.backend() == "jax"
    images = keras.Input((16, 16, 3))
    scaled = keras.layers.Rescaling(1 / 255)(images)
    shallow = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(scaled)
    deep = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")(shallow)
    odd = keras.layers.Conv2D(3, 3, strides=3, padding="same")(shallow)
    scale = layers.SharedScale()
    branches = [
        scale(layers.GramMatrix(output="triu")(deep)),
        scale(layers.PairwiseGram(output="flat")([shallow, deep])),
        scale(layers.PairwiseGram(output="flat")([deep, odd])),
        scale(layers.GramModule(channels=4, gram_activation="gelu", head_channels=(4, 8))(shallow)),
    ]
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Concatenate()(branches))
    model = keras.Model(images, outputs)

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, size=(4, 16, 16, 3)).astype("float32")
    y = keras.utils.to_categorical([0, 1, 0, 1], 2)
    probabilities = model.predict(x, verbose=0)
    assert probabilities.shape == (4, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    model.compile(optimizer="adam", loss="categorical_crossentropy")
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [not np.array_equal(b, np.array(w)) for b, w in zip(before, model.trainable_weights)]
    assert all(changed), "a weight did not change in the training step"
    print("JAX OK")
    """
)


def test_layers_forward_and_fit_on_jax_without_tensorflow():
    result = run_on_jax(JAX_SCRIPT, timeout=120)
    assert "JAX OK" in result.stdout

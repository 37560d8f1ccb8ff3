"""The layers run on the JAX backend, without TensorFlow, in a fresh interpreter."""

import os
import subprocess
import sys
import textwrap

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
    environment = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        # Compiling, not running, dominates here (each weight shape compiles its own random
        # initializer); XLA's cheapest optimisation level cuts the CPU time by more than half.
        "XLA_FLAGS": "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true",
    }
    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "JAX OK" in result.stdout

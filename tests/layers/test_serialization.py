"""A tiny model with every layer survives `.keras` save/reload with safe_mode=True."""

import keras
import numpy as np
from keras import ops

from thesis_lib.layers import GramMatrix, GramModule, PairwiseGram, SharedScale


def tiny_model_with_every_layer() -> keras.Model:
    """16 px RGB -> two conv stages -> Gram branches with a shared scale -> softmax."""
    images = keras.Input((16, 16, 3))
    scaled = keras.layers.Rescaling(1 / 255)(images)
    shallow = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(scaled)
    deep = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu")(shallow)
    scale = SharedScale(initial_value=0.7)
    branches = [
        scale(GramMatrix(output="triu")(deep)),
        scale(PairwiseGram(output="flat")([shallow, deep])),
        scale(
            GramModule(
                channels=4,
                conv_activation="gelu",
                gram_activation="tanh",
                head_activation="mish",
                head_channels=(4, 8),
            )(shallow)
        ),
    ]
    fused = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(deep), *branches])
    outputs = keras.layers.Dense(2, activation="softmax")(fused)
    return keras.Model(images, outputs)


def test_keras_file_round_trip_in_safe_mode_gives_identical_outputs(tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny_model_with_every_layer()
    images = np.random.default_rng(0).uniform(0, 255, size=(3, 16, 16, 3)).astype("float32")
    labels = keras.utils.to_categorical([0, 1, 1], 2)
    # Eager: tracing a graph would take longer than the single step itself.
    model.compile(optimizer="adam", loss="categorical_crossentropy", run_eagerly=True)
    # One step, so BN statistics and the shared scale are no longer at their initial values.
    model.fit(images, labels, epochs=1, batch_size=3, verbose=0)

    path = tmp_path / "tiny.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)

    np.testing.assert_array_equal(ops.convert_to_numpy(reloaded(images)), model(images))
    assert sorted(layer.__class__.__name__ for layer in reloaded.layers) == sorted(
        layer.__class__.__name__ for layer in model.layers
    )

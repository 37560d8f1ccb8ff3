"""A network small enough to train a step in milliseconds, with the layer names the workbench's
training code looks for ("dropout": the fused embedding's layer, "classifier")."""

import keras


def tiny_network(seed: int = 0, classes: int = 3, dropout: float = 0.3) -> keras.Model:
    """8 px images -> conv -> BN -> pooled 4-vector -> "dropout" -> "classifier"."""
    keras.utils.set_random_seed(seed)  # the same weights and dropout seeds for the same seed
    images = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Rescaling(1 / 255)(images)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    probabilities = keras.layers.Dense(classes, activation="softmax", name="classifier")(x)
    return keras.Model(images, probabilities, name="tiny")

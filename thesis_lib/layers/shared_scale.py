"""A learnable scalar shared by several branches (GramNet's shared scale)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="thesis_lib")
class SharedScale(keras.layers.Layer):
    """Multiplies its input by one learnable scalar.

    GramNet scales the outputs of all its Gram branches by a single learnable factor before
    fusing them with the backbone's features, so the network can learn how much weight the
    texture branches get as a whole. Call ONE instance on every branch: all calls share the
    same weight.

    Args:
        initial_value: the starting value of the scale.
        **kwargs: standard `keras.layers.Layer` arguments (``name``, ``dtype``...).

    Input shape:
        any; each call may have a different shape.

    Output shape:
        the input's shape.

    Example:
        >>> scale = SharedScale(initial_value=0.5)
        >>> branch_a = scale(keras.ops.ones((2, 32)))
        >>> branch_b = scale(keras.ops.ones((2, 16)))  # the same weight
    """

    def __init__(self, initial_value: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_value = float(initial_value)

    def build(self, input_shape):
        self.scale = self.add_weight(
            name="scale",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_value),
            trainable=True,
        )

    def call(self, inputs):
        return inputs * ops.cast(self.scale, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"initial_value": self.initial_value})
        return config

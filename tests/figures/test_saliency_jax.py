"""Under the JAX backend the Gram heatmaps work and Grad-CAM says what it needs."""

import textwrap

from jax_subprocess import run_on_jax


def test_gram_matrices_run_on_jax_and_grad_cam_asks_for_tensorflow():
    script = textwrap.dedent(
        """
        import keras
        import numpy as np
        from thesis_lib.errors import ConfigError
        from thesis_lib.figures.saliency import grad_cam, gram_matrices

        image = np.zeros((1, 4, 4, 3), "float32")
        image[..., 2] = 1.0
        assert np.allclose(gram_matrices(image, normalization="hw")[0], np.diag([0, 0, 1.0]))
        inputs = keras.Input((8, 8, 3))
        features = keras.layers.Conv2D(2, 3, padding="same")(inputs)
        outputs = keras.layers.Dense(2, activation="softmax")(
            keras.layers.GlobalAveragePooling2D()(features))
        try:
            grad_cam(keras.Model(inputs, outputs), np.zeros((1, 8, 8, 3)))
        except ConfigError as error:
            print(error)
        """
    )
    result = run_on_jax(script, timeout=300)
    assert "needs the TensorFlow backend; the Keras backend is 'jax'" in result.stdout

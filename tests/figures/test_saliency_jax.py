"""Under the JAX backend Gram heatmaps and Grad-CAM work, and Grad-CAM equals TensorFlow's."""

import textwrap

import keras
import numpy as np
import pytest
from jax_subprocess import run_on_jax

from thesis_lib.figures.saliency import grad_cam

pytestmark = [pytest.mark.jax, pytest.mark.slow]


def test_gram_matrices_and_grad_cam_on_jax_equal_the_closed_form_and_tensorflow(tmp_path):
    # A Gram network on the Tiny backbone (B0's tap names), saved here (TensorFlow) and
    # explained on both backends with the same weights and images.
    from thesis_lib.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model("gram", backbone="Tiny", image_size=64, modules=2,
                        weights=None, num_classes=8)
    images = np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 3)).astype("float32")
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "images.npy", images)
    np.save(tmp_path / "cams.npy", grad_cam(model, images))
    np.save(tmp_path / "cams_class5.npy", grad_cam(model, images, class_index=5))
    script = textwrap.dedent(
        f"""
        import keras
        import numpy as np
        import thesis_lib.layers  # noqa: F401  (registers the Gram layers for loading)
        from thesis_lib.errors import ConfigError
        from thesis_lib.figures.saliency import grad_cam, gram_matrices

        image = np.zeros((1, 4, 4, 3), "float32")
        image[..., 2] = 1.0
        assert np.allclose(gram_matrices(image, normalization="hw")[0], np.diag([0, 0, 1.0]))

        # conv -> global average pooling -> dense softmax: dp_c/dA_k is the same at every
        # position, p_c * (W_kc - sum_j p_j W_kj) / (H*W).
        keras.utils.set_random_seed(1)
        inputs = keras.Input((8, 8, 3))
        features = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                                       name="features")(inputs)
        outputs = keras.layers.Dense(3, activation="softmax", name="classifier")(
            keras.layers.GlobalAveragePooling2D()(features))
        tiny = keras.Model(inputs, outputs)
        batch = np.random.default_rng(1).uniform(0, 1, (2, 8, 8, 3)).astype("float32")
        activation = np.asarray(keras.Model(inputs, features)(batch), "float64")
        probabilities = np.asarray(tiny(batch), "float64")
        kernel = np.asarray(tiny.get_layer("classifier").kernel, "float64")
        targets = [2, 0]
        heatmaps = grad_cam(tiny, batch, layer_name="features", class_index=targets)
        for index, target in enumerate(targets):
            p = probabilities[index]
            weights = p[target] * (kernel[:, target] - kernel @ p) / 64
            expected = np.maximum(activation[index] @ weights, 0)
            expected = expected / expected.max() if expected.max() > 0 else expected
            assert np.allclose(heatmaps[index], expected, atol=1e-5), index
        default = grad_cam(tiny, batch, layer_name="features")
        predicted = probabilities.argmax(axis=1)
        assert np.allclose(default, grad_cam(tiny, batch, layer_name="features",
                                             class_index=list(predicted)), atol=1e-6)

        model = keras.saving.load_model("{tmp_path}/model.keras", compile=False)
        images = np.load("{tmp_path}/images.npy")
        for name, index in (("cams", None), ("cams_class5", 5)):
            difference = np.abs(grad_cam(model, images, class_index=index)
                                - np.load("{tmp_path}/" + name + ".npy")).max()
            print(name, "largest difference to TensorFlow", difference)
            assert difference < 1e-4, difference
        # A tapped layer feeds later backbone layers too: JAX cannot split the model there.
        try:
            grad_cam(model, images, layer_name="block2b_add")
        except ConfigError as error:
            print(error)
        """
    )
    result = run_on_jax(script, timeout=400)
    assert "largest difference to TensorFlow" in result.stdout
    assert "'block2b_add' is not, use KERAS_BACKEND=tensorflow" in result.stdout

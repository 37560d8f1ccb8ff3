"""The models on the JAX backend, in one fresh interpreter (Keras picks its backend at import):
every variant builds, predicts and trains, the pairwise network and its contrastive-center
model train, Gram heatmaps and Grad-CAM equal the closed form and TensorFlow's; and the model
code imports no TensorFlow.

One interpreter for the three parts: starting JAX and Keras and compiling the Tiny backbone's
shapes once instead of three times saves most of a minute of the full tier.
"""

import ast
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from jax_subprocess import run_on_jax

import thesis_lib
from thesis_lib.figures.saliency import grad_cam

MODELS = textwrap.dedent(
    """

    import sys

    import numpy as np

    from thesis_lib.models import build_model

    import keras

    assert keras.backend.backend() == "jax"
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(2, 64, 64, 3)).astype("float32")
    labels = keras.utils.to_categorical([0, 1], 2)
    # The real EfficientNetV2B0 builds and predicts on JAX; the variants train on the Tiny
    # backbone (B0's tap names on ten thousand weights): compiling B0's training step on JAX
    # takes a minute and proves nothing more about the builders.
    b0 = build_model("gram", backbone="B0", image_size=64, modules=2, weights=None)
    assert b0.predict(images, verbose=0).shape == (2, 2)
    for variant in ("baseline", "gram", "gramnet"):
        model = build_model(variant, backbone="Tiny", image_size=64, modules=2, weights=None)
        probabilities = model.predict(images, verbose=0)
        assert probabilities.shape == (2, 2), variant
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

        model.compile(optimizer="sgd", loss="categorical_crossentropy")
        classifier_before = np.array(model.get_layer("classifier").kernel)
        loss = model.train_on_batch(images, labels)
        assert np.isfinite(loss), variant
        assert not np.array_equal(classifier_before, model.get_layer("classifier").kernel)
        for layer in model.layers:
            if layer.name.startswith("gram_"):
                kernel = layer.reduce_conv.kernel
                assert np.all(np.isfinite(np.array(kernel))), (variant, layer.name)
        print(variant, "OK")

    assert "tensorflow" not in sys.modules, "building and training on JAX imported TensorFlow"
    print("JAX OK")
    """
)

PAIRWISE = textwrap.dedent(
    """

    import numpy as np

    import keras

    from thesis_lib.models import build_model, model_pairs, with_contrastive_center

    assert keras.backend.backend() == "jax"
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(4, 64, 64, 3)).astype("float32")
    labels = keras.utils.to_categorical([0, 1, 0, 1], 2)

    # The Tiny backbone carries B0's tap names (B0 itself builds on JAX in MODELS above).
    model = build_model("pairwise", backbone="Tiny", image_size=64, modules=2, weights=None)
    assert model_pairs(model) == [("block2b_add", "block4c_add"), ("block4c_add", "block6h_add")]
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (4, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    module = model.get_layer("pair_block2b_add_block4c_add")
    watched = [module.reduce_conv_a.kernel, module.reduce_conv_b.kernel,
               model.get_layer("classifier").kernel]
    before = [np.array(w) for w in watched]
    loss = model.train_on_batch(images, labels)
    assert np.isfinite(loss)
    for weight, value in zip(watched, before):
        assert not np.array_equal(value, np.array(weight)), weight.path
    print("pairwise OK")

    training = with_contrastive_center(model, weight=0.5, center_lr=5.0)
    training.model.compile(optimizer="sgd", **training.compile_arguments())
    x, y = training.batch(images, labels)
    history = training.model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0).history
    assert set(history) == {"loss", "probabilities_loss", "contrastive_center_loss",
                            "probabilities_accuracy"}, history
    total = history["probabilities_loss"][0] + 0.5 * history["contrastive_center_loss"][0]
    np.testing.assert_allclose(history["loss"][0], total, rtol=1e-5)
    centers = np.array(training.layer.centers)
    assert np.isfinite(centers).all() and np.abs(centers).max() > 0, "the centers did not move"
    assert training.inference_model.predict(images, verbose=0).shape == (4, 2)
    print("contrastive-center OK")
    """
)

# Formatted with the folder of the model, images and heatmaps that TensorFlow made.
SALIENCY = textwrap.dedent(
    """

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

    model = keras.saving.load_model("{folder}/model.keras", compile=False)
    images = np.load("{folder}/images.npy")
    for name, index in (("cams", None), ("cams_class5", 5)):
        difference = np.abs(grad_cam(model, images, class_index=index)
                            - np.load("{folder}/" + name + ".npy")).max()
        print(name, "largest difference to TensorFlow", difference)
        assert difference < 1e-4, difference
    # A tapped layer feeds later backbone layers too: JAX cannot split the model there.
    try:
        grad_cam(model, images, layer_name="block2b_add")
    except ConfigError as error:
        print(error)
    """
)


def in_functions(*parts: str) -> str:
    """One script running each part in a function of its own (no name leaks between them)."""
    script = ""
    for index, part in enumerate(parts):
        script += f"def part_{index}():\n" + textwrap.indent(part, "    ") + "\n"
    return script + "".join(f"part_{index}()\n" for index in range(len(parts)))


@pytest.mark.jax
@pytest.mark.slow
def test_models_train_and_explain_on_jax(tmp_path):
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

    # The saliency part comes last: it may import TensorFlow, which the others must not.
    script = in_functions(MODELS, PAIRWISE, SALIENCY.replace("{folder}", str(tmp_path)))
    output = run_on_jax(script, timeout=900).stdout
    assert "JAX OK" in output
    assert "pairwise OK" in output and "contrastive-center OK" in output
    assert "largest difference to TensorFlow" in output
    assert "'block2b_add' is not, use KERAS_BACKEND=tensorflow" in output


def test_model_code_imports_no_tensorflow():
    """Model and layer code uses keras.ops only, so it runs on every Keras backend."""
    package = Path(thesis_lib.__file__).parent
    offenders = []
    for path in [*package.glob("models/*.py"), *package.glob("layers/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(name.split(".")[0] == "tensorflow" for name in names):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []

"""The model builders work on the JAX backend, and thesis_lib.models imports no TensorFlow."""

import ast
import textwrap
from pathlib import Path

import pytest
from jax_subprocess import run_on_jax

import thesis_lib

JAX_SCRIPT = textwrap.dedent(
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


@pytest.mark.jax
@pytest.mark.slow
def test_every_variant_builds_predicts_and_trains_on_jax():
    result = run_on_jax(JAX_SCRIPT, timeout=600)
    assert "JAX OK" in result.stdout


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

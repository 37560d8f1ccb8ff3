"""Every variant survives a round trip through a .keras file with safe_mode (no Lambda layers)."""

import keras
import numpy as np
import pytest

from thesis_lib.models import build_model, model_taps


@pytest.mark.parametrize("variant", ["baseline", "gram", "gramnet"])
def test_keras_file_round_trip_gives_identical_predictions(variant, tmp_path):
    # The Tiny backbone (B0's tap names): the round trip of the thesis' own layers is the point.
    model = build_model(variant, backbone="Tiny", image_size=64, modules=2, weights=None)
    # Move the trainable weights off their initial values (BN gammas of 1, zero biases...), so
    # a layer that reloads with fresh weights would change the predictions.
    rng = np.random.default_rng(0)
    for weight in model.trainable_weights:
        value = np.asarray(weight)
        weight.assign(value + rng.normal(0.0, 0.1, value.shape) * (np.abs(value).mean() + 0.01))
    images = np.random.default_rng(1).uniform(0, 255, (3, 64, 64, 3)).astype("float32")
    expected = np.asarray(model(images, training=False))

    path = tmp_path / f"{variant}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)

    assert reloaded.name == model.name
    assert reloaded.count_params() == model.count_params()
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]
    assert model_taps(reloaded) == model_taps(model)
    np.testing.assert_allclose(np.asarray(reloaded(images, training=False)), expected, atol=1e-6)

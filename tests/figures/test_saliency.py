"""Grad-CAM and Gram-matrix heatmaps on tiny models built without downloaded weights."""

import keras
import numpy as np
import pytest

from thesis_lib.errors import ConfigError, DataError
from thesis_lib.figures import save_figure
from thesis_lib.figures.saliency import (
    feature_maps,
    find_layer,
    grad_cam,
    gram_matrices,
    plot_grad_cam,
    plot_gram_heatmaps,
)


@pytest.fixture(scope="module")
def gram_b0():
    """The thesis' Gram network at test size: B0 backbone, 64 px, 2 modules, random weights."""
    from thesis_lib.models import build_model

    keras.utils.set_random_seed(0)
    return build_model("gram", backbone="EfficientNetV2B0", image_size=64, modules=2,
                       weights=None)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 255, (3, 64, 64, 3)).astype("float32")


def test_grad_cam_of_a_b0_gram_model_has_image_size_and_range(gram_b0, images, tmp_path):
    heatmaps = grad_cam(gram_b0, images)
    assert heatmaps.shape == (3, 64, 64)
    assert heatmaps.min() >= 0.0 and heatmaps.max() <= 1.0
    assert np.isclose(heatmaps.reshape(3, -1).max(axis=1), 1.0).all()
    assert (heatmaps.reshape(3, -1).std(axis=1) > 0.01).all()
    # The default layer is the backbone's last feature map, inside the nested backbone model.
    container, layer = find_layer(gram_b0)
    assert (container.name, layer.name) == ("backbone", "top_activation")
    fig = plot_grad_cam(images, heatmaps, ["sadness", "sadness", "not sadness"])
    assert [ax.get_title() for ax in fig.axes[:3]] == ["sadness", "sadness", "not sadness"]
    assert fig.axes[-1].get_ylabel() == "Grad-CAM (0-1)"
    assert save_figure(fig, "grad_cam", tmp_path)["png"].is_file()


def tiny_classifier(classes: int = 2) -> keras.Model:
    images = keras.Input((8, 8, 3))
    features = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(
        images
    )
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    outputs = keras.layers.Dense(classes, activation="softmax", name="classifier")(pooled)
    return keras.Model(images, outputs)


def test_grad_cam_equals_the_closed_form_for_pooling_and_softmax():
    # For conv -> global average pooling -> dense softmax, dp_c/dA_k is the same at every
    # position: p_c * (W_kc - sum_j p_j W_kj) / (H*W); the map is ReLU(sum_k w_k A_k) / max.
    keras.utils.set_random_seed(1)
    model = tiny_classifier()
    # Small inputs keep the softmax away from saturation, where float32 gradients lose digits.
    batch = np.random.default_rng(1).uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    activation = keras.Model(model.inputs[0], model.get_layer("features").output)(batch)
    activation = keras.ops.convert_to_numpy(activation).astype("float64")
    probabilities = keras.ops.convert_to_numpy(model(batch)).astype("float64")
    kernel = keras.ops.convert_to_numpy(model.get_layer("classifier").kernel).astype("float64")
    assert 0.05 < probabilities.min()
    for target in (0, 1):
        heatmaps = grad_cam(model, batch, layer_name="features", class_index=target)
        for index in range(2):
            p = probabilities[index]
            weights = p[target] * (kernel[:, target] - kernel @ p) / 64
            expected = np.maximum(activation[index] @ weights, 0)
            expected = expected / expected.max() if expected.max() > 0 else expected
            np.testing.assert_allclose(heatmaps[index], expected, atol=1e-5)


def test_grad_cam_of_eight_classes_explains_each_image_s_predicted_class():
    keras.utils.set_random_seed(2)
    model = tiny_classifier(classes=8)
    batch = np.random.default_rng(2).uniform(0, 1, (4, 8, 8, 3)).astype("float32")
    predicted = keras.ops.convert_to_numpy(model(batch)).argmax(axis=1)
    default = grad_cam(model, batch, layer_name="features")
    np.testing.assert_allclose(
        default, grad_cam(model, batch, layer_name="features", class_index=list(predicted)),
        atol=1e-6)
    # One class per image: each map is that image's map for its own class.
    for index, target in enumerate(predicted):
        alone = grad_cam(model, batch[index:index + 1], layer_name="features",
                         class_index=int(target))
        np.testing.assert_allclose(default[index], alone[0], atol=1e-6)
    with pytest.raises(ConfigError, match="one class per image"):
        grad_cam(model, batch, layer_name="features", class_index=[1, 2])


def test_unknown_layer_and_wrong_image_shape_are_named(gram_b0, images):
    with pytest.raises(ConfigError, match="no layer 'block9z'.*top_activation"):
        grad_cam(gram_b0, images, layer_name="block9z")
    with pytest.raises(ConfigError, match=r"class_index 2 is not a class .*\(0\.\.1\)"):
        grad_cam(gram_b0, images, class_index=2)
    with pytest.raises(DataError, match=r"\(2, 32, 32, 3\)"):
        grad_cam(gram_b0, images[:2, :32, :32])


def test_gram_heatmaps_of_a_tapped_layer_equal_numpy(gram_b0, images, tmp_path):
    tap = next(layer.name for layer in gram_b0.layers if layer.name.startswith("gram_"))
    maps = feature_maps(gram_b0, images, tap.removeprefix("gram_"))
    assert maps.ndim == 4 and maps.shape[0] == 3
    grams = gram_matrices(maps)
    _, height, width, channels = maps.shape
    expected = np.einsum("bhwc,bhwd->bcd", maps, maps) / (height * width * channels)
    np.testing.assert_allclose(grams, expected, rtol=1e-4, atol=1e-7)
    fig = plot_gram_heatmaps(images, grams, ["a", "b", "c"], max_channels=16)
    heatmap_axes = fig.axes[3:6]
    assert heatmap_axes[0].get_xlabel() == "Channel"
    assert heatmap_axes[0].images[0].get_array().shape == (16, 16)
    assert save_figure(fig, "gram_heatmaps", tmp_path)["pdf"].is_file()


def test_colour_gram_of_the_images_themselves():
    image = np.zeros((1, 4, 4, 3), "float32")
    image[..., 0] = 1.0  # pure red: only the red-red entry is non-zero
    gram = gram_matrices(image, normalization="hw")
    np.testing.assert_allclose(gram[0], np.diag([1.0, 0.0, 0.0]))


def test_plots_refuse_mismatched_inputs(images):
    with pytest.raises(DataError, match="one of each per image"):
        plot_gram_heatmaps(images, np.zeros((2, 4, 4)), ["a", "b", "c"])
    with pytest.raises(DataError, match="do not match"):
        plot_grad_cam(images, np.zeros((3, 8, 8)), ["a", "b", "c"])

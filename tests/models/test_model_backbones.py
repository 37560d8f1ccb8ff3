"""Backbone registry, default tap tables, tap candidates and weights handling."""

import math
import socket

import keras
import numpy as np
import pytest

from thesis_lib.errors import ConfigError
from thesis_lib.models import backbones
from thesis_lib.models.backbones import (
    BACKBONES,
    DEFAULT_TAPS,
    TINY_BACKBONE,
    default_taps,
    get_backbone,
    keras_application,
    load_backbone,
    tap_candidates,
)


@pytest.mark.parametrize(
    "alias, name",
    [
        ("EfficientNetV2B2", "EfficientNetV2B2"),
        ("B0", "EfficientNetV2B0"),
        ("efficientnetv2-b3", "EfficientNetV2B3"),
        ("s", "EfficientNetV2S"),
    ],
)
def test_backbone_aliases(alias, name):
    assert get_backbone(alias).name == name


def test_unknown_backbone_lists_valid_names():
    with pytest.raises(ConfigError, match="unknown backbone 'ResNet50'.*EfficientNetV2S"):
        get_backbone("ResNet50")


def test_every_backbone_is_a_keras_application():
    assert set(BACKBONES) >= {f"EfficientNetV2B{i}" for i in range(4)} | {"EfficientNetV2S"}
    for spec in BACKBONES.values():
        assert callable(keras_application(spec))


def test_default_tap_tables_go_shallow_to_deep():
    for name, spec in BACKBONES.items():
        stage_order = [layer for layer, _ in spec.stage_ends]
        for count in range(1, 7):
            taps = DEFAULT_TAPS[name][count]
            assert len(taps) == len(set(taps)) == count
            positions = [stage_order.index(tap) for tap in taps]
            assert positions == sorted(positions), (name, count)
        # Each table adds a tap to the one before: more modules never drop a layer.
        for count in range(2, 7):
            assert set(DEFAULT_TAPS[name][count - 1]) <= set(DEFAULT_TAPS[name][count])


def test_default_taps_bounds():
    assert default_taps("B2", 0) == []
    assert default_taps("B2", 4) == ["block2c_add", "block3c_add", "block4d_add", "block6j_add"]
    with pytest.raises(ConfigError, match="up to 6 modules.*taps="):
        default_taps("B2", 7)
    with pytest.raises(ConfigError, match=">= 0"):
        default_taps("B2", -1)


@pytest.mark.parametrize("name", ["EfficientNetV2B0", "EfficientNetV2B2"])
def test_documented_stage_ends_match_keras(name):
    """The stage-end table (names and shapes at 256 px) is what Keras builds."""
    model = load_backbone(name, image_size=256, weights=None)
    for layer_name, shape in BACKBONES[name].stage_ends:
        assert tuple(model.get_layer(layer_name).output.shape[1:]) == shape
    candidates = tap_candidates(model)
    assert candidates[0] == "stem_activation" and candidates[-1] == "top_activation"
    assert {layer for layer, _ in BACKBONES[name].stage_ends} <= set(candidates)
    # Block outputs only (one per block), not the layers inside a block.
    blocks = [c.split("_")[0] for c in candidates[1:-1]]
    assert len(blocks) == len(set(blocks))
    assert all(c.endswith(("_add", "_project_bn", "_project_activation")) for c in candidates[1:-1])


@pytest.mark.parametrize("image_size", [32, 256])
def test_the_tiny_backbone_has_b0s_stage_ends_on_b0s_grids(image_size):
    """Plumbing tests train the Tiny backbone in place of B0: the same tap names, the same
    grids, about ten thousand weights, and no pretrained weights to pretend with."""
    tiny, b0 = BACKBONES[TINY_BACKBONE], BACKBONES["EfficientNetV2B0"]
    assert [name for name, _ in tiny.stage_ends] == [name for name, _ in b0.stage_ends]
    model = load_backbone("tiny", image_size=image_size, weights=None)
    for (name, (_, _, channels)), (_, (height, width, _)) in zip(tiny.stage_ends, b0.stage_ends,
                                                                 strict=True):
        expected = (math.ceil(height * image_size / 256), math.ceil(width * image_size / 256))
        assert tuple(model.get_layer(name).output.shape[1:]) == (*expected, channels)
    assert {name for name, _ in tiny.stage_ends} <= set(tap_candidates(model))
    assert model.count_params() < 20_000
    with pytest.raises(ConfigError, match="no pretrained weights"):
        load_backbone("tiny", image_size=32, weights="imagenet")


def test_image_too_small_is_a_config_error():
    with pytest.raises(ConfigError, match="image_size=16 is too small.*32"):
        load_backbone("B0", image_size=16, weights=None)


def test_missing_weights_file(tmp_path):
    missing = tmp_path / "nowhere.weights.h5"
    with pytest.raises(ConfigError, match=f"weights file not found: {missing}"):
        load_backbone("B0", image_size=64, weights=missing)


@pytest.fixture(scope="module")
def b0_weights_file(tmp_path_factory):
    """A B0 backbone (64 px) with every weight moved off its initial value, saved: (its
    weights, the file)."""
    source = load_backbone("B0", image_size=64, weights=None)
    rng = np.random.default_rng(0)
    source.set_weights([w + rng.normal(0, 0.01, w.shape) for w in source.get_weights()])
    path = tmp_path_factory.mktemp("weights") / "b0_notop.weights.h5"
    source.save_weights(path)
    return source.get_weights(), path


def test_local_weights_file_is_loaded(b0_weights_file):
    weights, path = b0_weights_file
    # A different input size shares the weights: convolutions do not depend on the grid.
    loaded = load_backbone("B0", image_size=96, weights=str(path))
    for expected, actual in zip(weights, loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_weights_of_another_backbone_are_rejected(b0_weights_file):
    _, path = b0_weights_file
    with pytest.raises(ConfigError, match=f"cannot load weights file {path} into EfficientNetV2B1"):
        load_backbone("B1", image_size=64, weights=path)


def test_failed_download_is_one_clear_line_and_never_hangs(monkeypatch):
    seen_timeouts = []

    def offline_get_file(fname, origin, **kwargs):
        seen_timeouts.append(socket.getdefaulttimeout())
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] name resolution")

    monkeypatch.setattr(keras.src.utils.file_utils, "get_file", offline_get_file)
    before = socket.getdefaulttimeout()
    with pytest.raises(ConfigError) as error:
        load_backbone("B0", image_size=64, weights="imagenet")
    message = str(error.value)
    assert "\n" not in message
    assert "could not get the ImageNet weights of EfficientNetV2B0" in message
    assert "URL fetch failure" in message
    assert "weights='<path>/efficientnetv2-b0_notop.h5'" in message
    # The download ran under a finite socket timeout, restored afterwards.
    assert seen_timeouts == [backbones.DOWNLOAD_TIMEOUT_S]
    assert socket.getdefaulttimeout() == before

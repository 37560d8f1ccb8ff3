"""build_model: every variant, the thesis configuration (B2, 256 px) and B0, and bad input."""

import keras
import numpy as np
import pytest

from thesis_lib.errors import ConfigError
from thesis_lib.layers import GramModule, SharedScale
from thesis_lib.models import BACKBONES, build_model, model_taps

# Keras' EfficientNetV2B2 without top (keras.applications documentation and count_params).
B2_NO_TOP_PARAMS = 8_769_374


def random_images(count: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype("float32")


@pytest.fixture(scope="module")
def models_256():
    """backbone -> variant -> model (4 modules) at 256 px, built once for the tests below."""
    return {
        backbone: {
            variant: build_model(
                variant, backbone=backbone, image_size=256, modules=4, weights=None
            )
            for variant in ("baseline", "gram", "gramnet")
        }
        for backbone in ("EfficientNetV2B0", "EfficientNetV2B2")
    }


def test_variants_have_the_documented_taps(models_256):
    for backbone, models in models_256.items():
        # Stages 2, 3, 4 and 6: one tap on each grid (64, 32, 16, 8 at 256 px).
        stage_ends = BACKBONES[backbone].stage_ends
        expected = [stage_ends[stage - 1] for stage in (2, 3, 4, 6)]
        assert model_taps(models["baseline"]) == []
        assert model_taps(models["gram"]) == expected
        assert model_taps(models["gramnet"]) == expected


def test_forward_pass_gives_probabilities(models_256):
    images = random_images(1, 256)  # one image: a 256 px pass through six networks is costly
    for backbone, models in models_256.items():
        for variant, model in models.items():
            probabilities = np.asarray(model(images, training=False))
            assert probabilities.shape == (1, 2), (backbone, variant)
            assert probabilities.dtype == np.float32
            np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
            assert np.all(probabilities >= 0)


def test_variant_structure(models_256):
    models = models_256["EfficientNetV2B2"]
    gram, gramnet = models["gram"], models["gramnet"]
    assert sum(isinstance(layer, GramModule) for layer in gram.layers) == 4
    assert not any(isinstance(layer, SharedScale) for layer in gram.layers)
    # GramNet: one shared scale for all branches, FC 512 + ReLU, dropout 0.5.
    assert sum(isinstance(layer, SharedScale) for layer in gramnet.layers) == 1
    assert gramnet.get_layer("fc").units == 512
    assert gramnet.get_layer("fc").activation is keras.activations.relu
    assert gramnet.get_layer("dropout").rate == 0.5
    assert gram.get_layer("dropout").rate == 0.2
    modules = [layer for layer in gramnet.layers if isinstance(layer, GramModule)]
    assert all(not m.signed_sqrt and not m.l2_normalize for m in modules)
    # Fusion width: pooled deep features (1408 for B2) + 32 values per module.
    assert gram.get_layer("fusion").output.shape[-1] == 1408 + 4 * 32


def test_b2_baseline_backbone_has_keras_parameter_count(models_256):
    baseline = models_256["EfficientNetV2B2"]["baseline"]
    assert baseline.get_layer("backbone").count_params() == B2_NO_TOP_PARAMS
    # Backbone + classifier (1408 features -> 2 classes) and nothing else.
    assert baseline.count_params() == B2_NO_TOP_PARAMS + 1408 * 2 + 2


def test_gram_without_modules_is_the_baseline(models_256):
    baseline = models_256["EfficientNetV2B0"]["baseline"]
    gram0 = build_model("gram", backbone="B0", image_size=256, modules=0, weights=None)
    assert gram0.count_params() == baseline.count_params()
    assert [(type(layer), layer.name) for layer in gram0.layers] == [
        (type(layer), layer.name) for layer in baseline.layers
    ]
    assert gram0.name == baseline.name


def test_taps_override_modules():
    model = build_model(
        "gram",
        backbone="B0",
        image_size=64,
        taps=["stem_activation", "block5e_add"],
        modules=4,
        gram_kernel_size=1,
        weights=None,
    )
    assert model_taps(model) == [("stem_activation", (32, 32, 32)), ("block5e_add", (4, 4, 112))]
    assert model.get_layer("gram_stem_activation").reduce_conv.kernel.shape == (1, 1, 32, 32)


def test_unknown_tap_lists_valid_layers():
    with pytest.raises(ConfigError) as error:
        build_model("gram", backbone="B0", image_size=64, taps=["block9z_add"], weights=None)
    message = str(error.value)
    assert "unknown tap layer(s) 'block9z_add' for EfficientNetV2B0" in message
    assert "stem_activation" in message and "block6h_add" in message
    assert "block2b_expand_activation" not in message  # inside a block, not a tap point


def test_per_stage_activations_reach_the_modules():
    # Plumbing from the argument to the module: the Tiny backbone has B0's tap names.
    model = build_model(
        "gram",
        backbone="Tiny",
        image_size=64,
        modules=1,
        activation={"conv": "gelu", "gram": "tanh"},
        weights=None,
    )
    module = model.get_layer("gram_block2b_add")
    assert (module.conv_activation, module.gram_activation, module.head_activation) == (
        "gelu",
        "tanh",
        "relu",
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"variant": "resnet"}, "unknown model variant 'resnet'; valid: baseline, gram, gramnet"),
        ({"num_classes": 1}, "num_classes must be a whole number >= 2"),
        ({"image_size": 31}, "image_size=31 is too small"),
        ({"dropout": 1.0}, r"dropout must be a rate in \[0, 1\)"),
        ({"activation": "swishy"}, "swishy"),
        ({"activation": {"gramm": "relu"}}, "unknown Gram module stage"),
        ({"backbone": "B7"}, "unknown backbone 'B7'"),
        # These two are found once the backbone is built: the Tiny one (B0's tap names) is
        # built in milliseconds.
        ({"variant": "gramnet", "modules": 0, "backbone": "Tiny"},
         "gramnet needs at least one tap"),
        ({"variant": "baseline", "taps": ["block2b_add"]}, "baseline has no Gram modules"),
        ({"taps": ["block2b_add", "block2b_add"], "backbone": "Tiny"},
         "more than once: block2b_add"),
    ],
)
def test_bad_arguments_are_config_errors(arguments, message):
    arguments = {"variant": "gram", "backbone": "B0", "image_size": 64, **arguments}
    with pytest.raises(ConfigError, match=message):
        build_model(weights=None, **arguments)


def test_mixed_precision_keeps_float32_probabilities():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model("gram", backbone="B0", image_size=64, modules=2, weights=None)
        probabilities = np.asarray(model(random_images(2, 64), training=False))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("backbone").compute_dtype == "float16"
    assert probabilities.dtype == np.float32
    assert np.all(np.isfinite(probabilities))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

"""build_model("pairwise"): default and explicit pairs, bad pairs, B2 shapes, saving, FLOPs."""

import keras
import numpy as np
import pytest

from thesis_lib.cli import main
from thesis_lib.errors import ConfigError
from thesis_lib.layers import PairwiseGramModule
from thesis_lib.models import (
    DEFAULT_TAPS,
    build_model,
    count_flops,
    describe_model,
    model_pairs,
    model_taps,
)


def random_images(count: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype("float32")


@pytest.fixture(scope="module")
def pairwise_b0():
    return build_model("pairwise", backbone="B0", image_size=64, modules=3, weights=None)


def test_default_pairs_join_consecutive_default_taps(pairwise_b0):
    taps = DEFAULT_TAPS["EfficientNetV2B0"][4]  # three pairs use the four taps of modules=4
    assert taps == ("block2b_add", "block3b_add", "block4c_add", "block6h_add")
    assert model_pairs(pairwise_b0) == [(taps[0], taps[1]), (taps[1], taps[2]), (taps[2], taps[3])]
    assert [name for name, _ in model_taps(pairwise_b0)] == list(taps)
    modules = [layer for layer in pairwise_b0.layers if isinstance(layer, PairwiseGramModule)]
    assert [m.name for m in modules] == [f"pair_{a}_{b}" for a, b in model_pairs(pairwise_b0)]
    assert pairwise_b0.name == "pairwise3_efficientnetv2b0"
    # Fusion: 1280 pooled B0 features + 32 values per pair; dropout 0.2 as the gram network.
    assert pairwise_b0.get_layer("fusion").output.shape == (None, 1280 + 3 * 32)
    assert pairwise_b0.get_layer("dropout").rate == 0.2


def test_forward_pass_gives_probabilities(pairwise_b0):
    probabilities = np.asarray(pairwise_b0(random_images(2, 64), training=False))
    assert probabilities.shape == (2, 2) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_one_pair_is_one_shallow_and_one_deep_tap():
    # The choice of the default pair is the same on every backbone; the Tiny one builds fast.
    model = build_model("pairwise", backbone="Tiny", image_size=64, modules=1, weights=None)
    assert model_pairs(model) == [tuple(DEFAULT_TAPS["Tiny"][2])]
    assert DEFAULT_TAPS["Tiny"][2] == DEFAULT_TAPS["EfficientNetV2B0"][2]


def test_explicit_pairs_and_taps():
    pairs = [("block4c_add", "block2b_add"), ("block3b_add", "block6h_add")]
    model = build_model("pairwise", backbone="B0", image_size=64, pairs=pairs, modules=5,
                        gram_kernel_size=1, weights=None)
    assert model_pairs(model) == pairs  # as given, each pair in its own order
    # The backbone is tapped once per layer, shallow to deep.
    assert model_taps(model) == [("block2b_add", (16, 16, 32)), ("block3b_add", (8, 8, 48)),
                                 ("block4c_add", (4, 4, 96)), ("block6h_add", (2, 2, 192))]
    module = model.get_layer("pair_block4c_add_block2b_add")
    assert module.reduce_conv_a.kernel.shape == (1, 1, 96, 32)
    assert module.reduce_conv_b.kernel.shape == (1, 1, 32, 32)
    assert model.name == "pairwise2_efficientnetv2b0"

    # Pairs from taps in the order given (plumbing: the Tiny backbone has B0's tap names).
    by_taps = build_model("pairwise", backbone="Tiny", image_size=64, weights=None,
                          taps=["block6h_add", "stem_activation", "block3b_add"])
    assert model_pairs(by_taps) == [("block6h_add", "stem_activation"),
                                    ("stem_activation", "block3b_add")]


def test_b2_at_256_px_shapes():
    model = build_model("pairwise", backbone="B2", image_size=256, modules=4, weights=None)
    assert model_taps(model) == [
        ("block2c_add", (64, 64, 32)),
        ("block3c_add", (32, 32, 56)),
        ("block4d_add", (16, 16, 104)),
        ("block5f_add", (16, 16, 120)),
        ("block6j_add", (8, 8, 208)),
    ]
    assert [len(pair) for pair in model_pairs(model)] == [2, 2, 2, 2]
    assert model.get_layer("fusion").output.shape == (None, 1408 + 4 * 32)
    assert model.output.shape == (None, 2)
    for layer in model.layers:
        if isinstance(layer, PairwiseGramModule):
            assert layer.output.shape == (None, 32)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"pairs": [("block2b_add", "block9z_add")]},
         r"unknown layer\(s\) 'block9z_add' in pairs for EfficientNetV2B0; valid: stem_activation"),
        ({"pairs": [("block2b_add", "block2b_add")]}, "pairs a layer with itself"),
        ({"pairs": [("block2b_add", "block3b_add"), ("block3b_add", "block2b_add")]},
         r"named more than once \(in either order\)"),
        ({"pairs": ["block2b_add"]}, "each pair must be two layer names"),
        ({"pairs": [("block2b_add", "block3b_add", "block4c_add")]}, "each pair must be two"),
        ({"pairs": []}, "pairs must be a non-empty list"),
        ({"pairs": "block2b_add"}, "pairs must be a non-empty list"),
        ({"pairs": [("block2b_add", "block3b_add")], "taps": ["block2b_add"]},
         "either taps=.* or pairs=.*, not both"),
        ({"variant": "gram", "pairs": [("block2b_add", "block3b_add")]},
         "pairs apply to the 'pairwise' variant only, not to 'gram'"),
        ({"modules": 0}, "pairwise needs at least one pair"),
        ({"modules": 6}, r"default pairs of the pairwise network go up to 5 modules \(6 taps\)"),
        ({"taps": ["block2b_add"], "backbone": "Tiny"}, "needs at least two"),
    ],
)
def test_bad_pairs_are_one_line_config_errors(arguments, message):
    arguments = {"variant": "pairwise", "backbone": "B0", "image_size": 32, **arguments}
    with pytest.raises(ConfigError, match=message) as error:
        build_model(weights=None, **arguments)
    assert "\n" not in str(error.value)


# The pairwise modules and the network around the backbone, saved and reloaded: the fast tier
# on the Tiny backbone (a nested functional model, as B0 is; as tests/models/test_model_saving.py
# does), the full tier on EfficientNetV2B0 too.
@pytest.mark.parametrize("backbone",
                         ["Tiny", pytest.param("EfficientNetV2B0", marks=pytest.mark.slow)])
def test_keras_file_round_trip_gives_identical_predictions(tmp_path, backbone):
    model = build_model("pairwise", backbone=backbone, image_size=64, modules=2, weights=None)
    rng = np.random.default_rng(0)
    for weight in model.weights:  # BN statistics too, so nothing is at its initial value
        value = np.asarray(weight)
        weight.assign(value + rng.normal(0.0, 0.1, value.shape) * (np.abs(value).mean() + 0.01))
    images = random_images(3, 64, seed=1)
    expected = np.asarray(model(images, training=False))
    model.save(tmp_path / "pairwise.keras")
    reloaded = keras.saving.load_model(tmp_path / "pairwise.keras", safe_mode=True)
    assert reloaded.name == model.name and reloaded.count_params() == model.count_params()
    assert model_pairs(reloaded) == model_pairs(model)
    np.testing.assert_allclose(np.asarray(reloaded(images, training=False)), expected, atol=1e-6)


def test_flops_of_a_pairwise_module_counted_by_hand():
    inputs = keras.Input((16, 16, 3))
    shallow = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs)  # 8x8x8
    deep = keras.layers.Conv2D(6, 3, strides=2, padding="same")(shallow)  # 4x4x6
    x = PairwiseGramModule(channels=4, head_channels=(2, 5))([shallow, deep])
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    convs = 8 * 8 * (3 * 3 * 3) * 8 + 4 * 4 * (3 * 3 * 8) * 6
    # Reductions: 3x3 conv 8 -> 4 on 8x8 and 6 -> 4 on 4x4; the cross Gram 4x4 over the 16
    # pixels of the smaller grid; head convs on the 4x4 matrix: 1 -> 2 (2x2), 2 -> 5 (1x1).
    module = (8 * 8 * 9 * 8 * 4 + 4 * 4 * 9 * 6 * 4 + 16 * 4 * 4
              + 2 * 2 * 9 * 1 * 2 + 1 * 1 * 9 * 2 * 5)
    assert count_flops(model) == 2 * (convs + module + 5 * 3)


def test_describe_model_and_thesis_models_show_the_pairs(pairwise_b0, capsys):
    row = describe_model(pairwise_b0)
    assert row["pairs"] == ("block2b_add x block3b_add; block3b_add x block4c_add; "
                            "block4c_add x block6h_add")
    assert row["flops"] == count_flops(pairwise_b0)
    code = main(["models", "--backbone", "B0", "--image-size", "64", "--modules", "1",
                 "--variants", "baseline", "pairwise"])
    output = capsys.readouterr().out
    assert code == 0
    assert "pairwise1_efficientnetv2b0" in output
    assert "pairs of pairwise1_efficientnetv2b0: block2b_add x block6h_add" in output
    assert "block2b_add 16x16x32; block6h_add 2x2x192" in output

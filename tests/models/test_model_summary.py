"""FLOP counts against published numbers and hand counts; describe_model; ``thesis models``."""

import keras
import pytest

from thesis_lib.cli import main
from thesis_lib.layers import GramModule
from thesis_lib.models import build_model, count_flops, describe_model, summarize_variants


@pytest.mark.parametrize(
    "backbone, image_size, published_macs",
    # Tan & Le 2021, EfficientNetV2, Table 7: "FLOPs" there are multiply-accumulates.
    [("B0", 224, 0.72e9), ("B2", 260, 1.7e9)],
)
def test_backbone_flops_match_the_efficientnetv2_paper(backbone, image_size, published_macs):
    model = build_model("baseline", backbone=backbone, image_size=image_size, weights=None)
    assert count_flops(model) / 2 == pytest.approx(published_macs, rel=0.01)


def test_flops_of_a_small_network_counted_by_hand():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs)  # 8x8x8 outputs
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)  # 8x8x8
    x = GramModule(channels=4, head_channels=(2, 5))(x)  # see below
    outputs = keras.layers.Dense(3)(x)
    model = keras.Model(inputs, outputs)
    conv = 8 * 8 * (3 * 3 * 3) * 8
    depthwise = 8 * 8 * (3 * 3) * 8
    # GramModule: 3x3 conv 8 -> 4 on 8x8, Gram 4x4 over 64 pixels, head convs on the 4x4
    # matrix: 3x3 stride 2, 1 -> 2 (2x2 out), 3x3 stride 2, 2 -> 5 (1x1 out).
    module = 8 * 8 * 9 * 8 * 4 + 64 * 4 * 4 + 2 * 2 * 9 * 1 * 2 + 1 * 1 * 9 * 2 * 5
    dense = 5 * 3
    assert count_flops(model) == 2 * (conv + depthwise + module + dense)


def test_describe_model_names_taps_and_counts():
    model = build_model("gram", backbone="B0", image_size=64, modules=2, weights=None)
    row = describe_model(model)
    assert row["model"] == "gram2_efficientnetv2b0"
    assert row["params"] == model.count_params()
    assert 0 < row["trainable"] < row["params"]  # BN moving statistics are not trainable
    assert row["taps"] == "block2b_add 16x16x32; block6h_add 2x2x192"
    assert row["flops"] == count_flops(model)


@pytest.mark.slow
def test_summarize_variants_adds_cost_relative_to_baseline():
    table = summarize_variants(
        backbone="B0", image_size=64, modules=(1, 2), variants=("baseline", "gram")
    )
    assert list(table["model"]) == [
        "baseline_efficientnetv2b0",
        "gram1_efficientnetv2b0",
        "gram2_efficientnetv2b0",
    ]
    assert table["flops_vs_baseline"].iloc[0] == 1.0
    assert table["flops"].is_monotonic_increasing
    assert table["params"].is_monotonic_increasing


@pytest.mark.slow
def test_thesis_models_prints_the_table(capsys):
    code = main(["models", "--backbone", "B0", "--image-size", "64", "--modules", "1"])
    output = capsys.readouterr().out
    assert code == 0
    assert "EfficientNetV2B0, 64 x 64 px" in output
    for name in (
        "baseline_efficientnetv2b0",
        "gram1_efficientnetv2b0",
        "gramnet1_efficientnetv2b0",
    ):
        assert name in output
    assert "block2b_add 16x16x32" in output


def test_thesis_models_taps_lists_tap_points(capsys):
    assert main(["models", "taps", "--backbone", "B0", "--image-size", "64"]) == 0
    output = capsys.readouterr().out
    assert "block2b_add" in output and "16x16x32" in output
    assert "stem_activation" in output and "top_activation" in output


def test_thesis_models_bad_option_is_one_line_error(capsys):
    assert main(["models", "--backbone", "B9"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("thesis models: error: unknown backbone 'B9'")
    assert "\n" not in error

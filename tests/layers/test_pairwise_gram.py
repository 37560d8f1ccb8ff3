"""PairwiseGram against numpy: same grid, pooled grids, resized grids, normalisations."""

import importlib

import keras
import numpy as np
import pytest
from keras import ops
from PIL import Image

from thesis_lib.errors import ConfigError
from thesis_lib.layers import GramMatrix, PairwiseGram


def average_pool(features: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Mean over non-overlapping blocks, down to ``grid`` (sizes must divide)."""
    batch, height, width, channels = features.shape
    rows, cols = grid
    blocks = features.reshape(batch, rows, height // rows, cols, width // cols, channels)
    return blocks.mean(axis=(2, 4))


def pil_resize(features: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """PIL's antialiased bilinear resize of every channel map (an independent resampler)."""
    return np.stack(
        [
            np.stack(
                [
                    np.asarray(Image.fromarray(image[..., c], mode="F").resize(grid[::-1], 2))
                    for c in range(image.shape[-1])
                ],
                axis=-1,
            )
            for image in features
        ]
    )


def reference_cross_gram(a: np.ndarray, b: np.ndarray, normalization: str | None) -> np.ndarray:
    """A^T B per image on a common grid, in float64."""
    a, b = a.astype("float64"), b.astype("float64")
    _, height, width, channels_a = a.shape
    gram = np.einsum("bhwc,bhwd->bcd", a, b)
    divisor = {
        "chw": np.sqrt(channels_a * b.shape[-1]) * height * width,
        "hw": height * width,
        None: 1.0,
    }[normalization]
    return gram / divisor


def assert_close_to_reference(got, expected, tolerance=1e-5):
    got = ops.convert_to_numpy(got)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= tolerance * np.abs(expected).max()


def random_maps(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype("float32") for shape in shapes]


@pytest.mark.parametrize("normalization", ["chw", "hw", None])
def test_same_grid_matches_numpy(normalization):
    a, b = random_maps((3, 7, 9, 4), (3, 7, 9, 6))
    gram = PairwiseGram(normalization=normalization)([a, b])
    assert_close_to_reference(gram, reference_cross_gram(a, b, normalization))


@pytest.mark.parametrize("larger_first", [True, False])
def test_larger_map_is_average_pooled_to_the_smaller_grid(larger_first):
    shallow, deep = random_maps((2, 16, 12, 3), (2, 4, 6, 5), seed=1)
    pairs = [shallow, deep] if larger_first else [deep, shallow]
    gram = PairwiseGram(normalization="hw")(pairs)
    pooled = average_pool(shallow, (4, 6))
    expected = (
        reference_cross_gram(pooled, deep, "hw")
        if larger_first
        else reference_cross_gram(deep, pooled, "hw")
    )
    assert_close_to_reference(gram, expected)


def test_each_axis_is_pooled_to_the_smaller_size():
    tall, wide = random_maps((2, 8, 4, 3), (2, 4, 8, 2), seed=2)
    gram = PairwiseGram()([tall, wide])
    expected = reference_cross_gram(average_pool(tall, (4, 4)), average_pool(wide, (4, 4)), "chw")
    assert_close_to_reference(gram, expected)


def test_non_dividing_grids_are_resized_with_antialiasing():
    big, small = random_maps((2, 10, 15, 3), (2, 4, 6, 2), seed=3)
    gram = PairwiseGram(normalization=None)([big, small])
    expected = reference_cross_gram(pil_resize(big, (4, 6)), small, None)
    assert_close_to_reference(gram, expected, tolerance=1e-4)


def test_self_pair_equals_gram_matrix():
    (features,) = random_maps((2, 6, 6, 5), seed=4)
    assert_close_to_reference(
        PairwiseGram()([features, features]),
        ops.convert_to_numpy(GramMatrix()(features)).astype("float64"),
    )


def test_flat_output_and_functional_shapes():
    shallow = keras.Input((32, 32, 8))
    deep = keras.Input((8, 8, 4))
    layer = PairwiseGram(output="flat")
    assert layer([shallow, deep]).shape == (None, 32)
    a, b = random_maps((2, 32, 32, 8), (2, 8, 8, 4), seed=5)
    expected = reference_cross_gram(average_pool(a, (8, 8)), b, "chw").reshape(2, 32)
    assert_close_to_reference(layer([a, b]), expected)


def test_unknown_grids_are_accepted_only_when_equal():
    same = PairwiseGram()([keras.Input((None, None, 3)), keras.Input((None, None, 4))])
    assert same.shape == (None, 3, 4)
    with pytest.raises(ConfigError, match="known spatial sizes"):
        PairwiseGram()([keras.Input((None, None, 3)), keras.Input((8, 8, 4))])


def test_mixed_float16_gives_finite_float32(mixed_float16_policy):
    a, b = random_maps((2, 16, 16, 4), (2, 8, 8, 3), seed=6)
    a16, b16 = ops.cast(a * 1000, "float16"), ops.cast(b * 1000, "float16")
    gram = ops.convert_to_numpy(PairwiseGram(normalization=None)([a16, b16]))
    assert gram.dtype == np.float32 and np.isfinite(gram).all()


def test_bad_options_and_inputs_raise_config_error():
    with pytest.raises(ConfigError, match="'cc'"):
        PairwiseGram(normalization="cc")
    with pytest.raises(ConfigError, match="'triu'"):
        PairwiseGram(output="triu")
    with pytest.raises(ConfigError, match="list of two"):
        PairwiseGram()(random_maps((1, 4, 4, 2), (1, 4, 4, 2), (1, 4, 4, 2)))


def test_get_config_round_trip():
    layer = PairwiseGram(normalization=None, output="flat", name="cross")
    assert PairwiseGram.from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize(("old", "new"), [
    ("thesis_lib.layers.pairwise_gram", "thesis_lib.layers.gram_matrix"),
    ("thesis_lib.layers.pairwise_gram_module", "thesis_lib.layers.gram_module"),
])
def test_the_old_modules_of_the_pairwise_layers_name_their_new_home(old, new):
    with pytest.raises(ModuleNotFoundError, match=f"^{old} is now {new}$"):
        importlib.import_module(old)

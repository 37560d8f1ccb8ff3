"""GramMatrix against a numpy reference: values, normalisations, triangle form, precision."""

import keras
import numpy as np
import pytest
from keras import ops

from thesis_lib.errors import ConfigError
from thesis_lib.layers import GramMatrix

SHAPES = [(1, 4, 4, 3), (3, 7, 5, 8), (2, 1, 9, 16), (2, 16, 12, 32)]


def reference_gram(features: np.ndarray, normalization: str | None) -> np.ndarray:
    """G = F^T F per image in float64, divided as the normalisation says."""
    features = features.astype("float64")
    _, height, width, channels = features.shape
    gram = np.einsum("bhwc,bhwd->bcd", features, features)
    divisor = {"chw": channels * height * width, "hw": height * width, None: 1}[normalization]
    return gram / divisor


def assert_close_to_reference(got, expected, tolerance=1e-5):
    """Errors relative to the largest entry: off-diagonal entries may be near zero."""
    got = ops.convert_to_numpy(got)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= tolerance * np.abs(expected).max()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("normalization", ["chw", "hw", None])
def test_gram_matches_numpy_einsum(shape, normalization):
    features = np.random.default_rng(0).normal(size=shape).astype("float32")
    gram = GramMatrix(normalization=normalization)(features)
    assert_close_to_reference(gram, reference_gram(features, normalization))


def test_gram_is_symmetric_positive_semidefinite():
    features = np.random.default_rng(1).normal(size=(4, 9, 11, 12)).astype("float32")
    gram = ops.convert_to_numpy(GramMatrix()(features)).astype("float64")
    np.testing.assert_allclose(gram, np.transpose(gram, (0, 2, 1)), rtol=1e-6, atol=1e-7)
    for matrix in gram:
        eigenvalues = np.linalg.eigvalsh(matrix)
        assert eigenvalues.min() >= -1e-6 * eigenvalues.max()


@pytest.mark.parametrize("channels", [1, 5, 8])
def test_triu_output_is_the_row_major_upper_triangle(channels):
    features = np.random.default_rng(2).normal(size=(3, 6, 5, channels)).astype("float32")
    layer = GramMatrix(normalization="hw", output="triu")
    triangle = layer(features)
    rows, cols = np.triu_indices(channels)
    expected = reference_gram(features, "hw")[:, rows, cols]
    assert triangle.shape == (3, channels * (channels + 1) // 2)
    assert layer.compute_output_shape((None, 6, 5, channels)) == (None, triangle.shape[1])
    assert_close_to_reference(triangle, expected)


def test_unknown_batch_and_grid_in_a_functional_model():
    inputs = keras.Input((None, None, 6))
    model = keras.Model(inputs, GramMatrix()(inputs))
    assert model.output_shape == (None, 6, 6)
    rng = np.random.default_rng(3)
    for shape in [(2, 8, 8, 6), (5, 3, 13, 6)]:
        features = rng.normal(size=shape).astype("float32")
        assert_close_to_reference(model(features), reference_gram(features, "chw"))


def test_mixed_float16_gives_finite_float32_for_large_activations(mixed_float16_policy):
    # Entries reach 1e6 * 256 positions: float16 (max 65504) would overflow at once.
    rng = np.random.default_rng(4)
    features = ops.cast(rng.uniform(500.0, 1500.0, size=(2, 16, 16, 8)), "float16")
    layer = GramMatrix(normalization=None)
    gram = layer(features)
    assert layer.compute_dtype == "float32"
    assert ops.convert_to_numpy(gram).dtype == np.float32
    assert np.isfinite(ops.convert_to_numpy(gram)).all()
    assert_close_to_reference(gram, reference_gram(ops.convert_to_numpy(features), None))


@pytest.mark.parametrize(
    "kwargs", [{"normalization": "frobenius"}, {"normalization": "CHW"}, {"output": "vector"}]
)
def test_bad_options_raise_config_error(kwargs):
    with pytest.raises(ConfigError, match=repr(next(iter(kwargs.values())))):
        GramMatrix(**kwargs)


def test_non_image_input_raises_config_error():
    with pytest.raises(ConfigError, match=r"\(batch, height, width, channels\)"):
        GramMatrix()(np.zeros((2, 5, 3), "float32"))


def test_get_config_round_trip():
    layer = GramMatrix(normalization="hw", output="triu", name="texture")
    clone = GramMatrix.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    features = np.random.default_rng(5).normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(clone(features)), layer(features))

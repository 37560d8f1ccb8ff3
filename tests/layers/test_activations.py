"""The named activations match their textbook formulas; unknown names fail clearly."""

import numpy as np
import pytest
from keras import ops
from scipy.special import erf, expit

from thesis_lib.errors import ConfigError
from thesis_lib.layers import ACTIVATIONS, get_activation

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805


def _elu(x):
    return np.where(x > 0, x, np.expm1(x))


REFERENCES = {
    "relu": lambda x: np.maximum(x, 0.0),
    "gelu": lambda x: 0.5 * x * (1.0 + erf(x / np.sqrt(2.0))),
    "silu": lambda x: x * expit(x),
    "swish": lambda x: x * expit(x),
    "elu": _elu,
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "tanh": np.tanh,
    "sigmoid": expit,
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
    "none": lambda x: x,
}

VALUES = np.array([-4.0, -1.5, -0.3, 0.0, 0.2, 1.0, 3.5], dtype="float64")


def test_the_named_set_is_the_documented_one():
    assert set(ACTIVATIONS) == set(REFERENCES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_activation_matches_its_formula(name):
    got = ops.convert_to_numpy(get_activation(name)(ops.convert_to_tensor(VALUES, "float32")))
    np.testing.assert_allclose(got, REFERENCES[name](VALUES), rtol=1e-5, atol=1e-6)


def test_names_are_case_insensitive_and_none_is_identity():
    assert get_activation("GELU") is get_activation("gelu")
    assert get_activation(None) is get_activation("none")


@pytest.mark.parametrize("bad", ["relu6x", "", 3])
def test_unknown_activation_lists_valid_names(bad):
    with pytest.raises(ConfigError) as error:
        get_activation(bad)
    message = str(error.value)
    assert repr(bad) in message
    for name in ACTIVATIONS:
        assert name in message

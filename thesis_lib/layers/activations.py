"""The named set of activation functions that Gram modules accept per stage.

The thesis adds "additional activation functions" inside the Gram module. Each stage of a
``GramModule`` takes one of the names below, so an ablation can switch them from a config file
or the command line (``-p activation gelu``) without touching code.
"""

from collections.abc import Callable
from types import MappingProxyType

import keras

from thesis_lib.errors import ConfigError

ACTIVATIONS: MappingProxyType[str, Callable] = MappingProxyType(
    {
        "relu": keras.activations.relu,
        "gelu": keras.activations.gelu,
        "silu": keras.activations.silu,
        # Keras' own `swish` is the same function as `silu`; both names are common in papers.
        "swish": keras.activations.silu,
        "elu": keras.activations.elu,
        "selu": keras.activations.selu,
        # Keras' default negative slope (0.2), as `keras.layers.LeakyReLU` uses.
        "leaky_relu": keras.activations.leaky_relu,
        "tanh": keras.activations.tanh,
        "sigmoid": keras.activations.sigmoid,
        "mish": keras.activations.mish,
        "none": keras.activations.linear,
    }
)
"""Activation name -> function of one tensor. ``"none"`` is the identity."""


def get_activation(name: str | None) -> Callable:
    """Look up an activation function by name.

    Args:
        name: one of ``ACTIVATIONS`` (case-insensitive), or ``None`` for the identity.

    Returns:
        The function, taking and returning a tensor of the same shape and dtype.

    Raises:
        ConfigError: if the name is not in the named set; the message lists the valid names.
    """
    if name is None:
        return ACTIVATIONS["none"]
    key = name.lower() if isinstance(name, str) else None
    if key not in ACTIVATIONS:
        valid = ", ".join(ACTIVATIONS)
        raise ConfigError(f"unknown activation {name!r}; valid names: {valid}")
    return ACTIVATIONS[key]

"""The named set of activation functions that Gram modules accept per stage.

The thesis adds "additional activation functions" inside the Gram module. Each stage of a
``GramModule`` takes one of the names below, so an ablation can switch them from a config file
or the command line (``-p activation gelu``) without touching code.
"""

from collections.abc import Callable
from types import MappingProxyType

import keras

from thesis_lib.choices import ACTIVATION_FUNCTIONS, check_activation

ACTIVATIONS: MappingProxyType[str, Callable] = MappingProxyType(
    {name: getattr(keras.activations, function) for name, function in ACTIVATION_FUNCTIONS.items()}
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
    return ACTIVATIONS[check_activation(name)]

"""Fixtures shared by the layer tests."""

import keras
import pytest


@pytest.fixture
def mixed_float16_policy():
    """Run a test under the global ``mixed_float16`` policy, then restore the previous one."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)

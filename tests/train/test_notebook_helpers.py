"""The notebook's early configuration check: wrong parameters fail before any training."""

import pytest

from thesis_lib.config.training import make_config
from thesis_lib.errors import ConfigError, DataError
from thesis_lib.training.notebook import notebook_config


@pytest.mark.parametrize(("parameters", "error", "message"), [
    ({"variant": "gramm"}, ConfigError, "unknown variant 'gramm'"),
    ({"backbone": "EfficientNetV2B9"}, ConfigError, "unknown backbone"),
    ({"image_size": 16}, ConfigError, "image_size=16 is too small"),
    ({"activation": "reluu"}, ConfigError, "reluu"),
    ({"modules": 9}, ConfigError, "modules"),
    ({"data_dir": "/no/such/folder"}, DataError, "dataset not found: /no/such/folder"),
])
def test_bad_parameters_raise_one_clear_error(parameters, error, message):
    with pytest.raises(error, match=message):
        notebook_config("smoke", **parameters)


def test_good_parameters_give_the_config(tiny_dataset):
    config = notebook_config("smoke", data_dir=str(tiny_dataset), modules=0, epochs=None)
    assert config.variant == "baseline" and config.epochs == make_config("smoke").epochs

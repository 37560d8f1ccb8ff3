"""Tiny datasets and configurations for the training tests (32 px, a few images).

Runs train the ``Tiny`` backbone (EfficientNetV2B0's stage-end names on about ten thousand
weights): the point of these tests is the plumbing around a network. Real EfficientNetV2
trainings are in the tests marked ``slow`` and in the notebooks. ``tiny_values`` and the
session's ``smoke_run`` are in tests/conftest.py."""

import pytest

from thesis_lib.config.training import make_config
from thesis_lib.data.demo import make_demo_dataset


@pytest.fixture(scope="session")
def other_dataset(tmp_path_factory):
    """A second, differently drawn dataset for cross-dataset evaluation."""
    return make_demo_dataset(tmp_path_factory.mktemp("other") / "demo", images_per_class=4,
                             size=(40, 48), seed=1)


@pytest.fixture
def tiny_config(tiny_dataset, tiny_values, tmp_path):
    def make(**overrides):
        return make_config("smoke", **tiny_values(tiny_dataset, tmp_path / "results", **overrides))
    return make

"""Tiny datasets and configurations for the training tests (32 px, a few images).

Runs train the ``Tiny`` backbone (EfficientNetV2B0's stage-end names on about ten thousand
weights): the point of these tests is the plumbing around a network. Real EfficientNetV2
trainings are in the tests marked ``slow`` and in the notebooks."""

import pytest

from thesis_lib.config.training import make_config
from thesis_lib.data.demo import make_demo_dataset


@pytest.fixture(scope="session")
def other_dataset(tmp_path_factory):
    """A second, differently drawn dataset for cross-dataset evaluation."""
    return make_demo_dataset(tmp_path_factory.mktemp("other") / "demo", images_per_class=4,
                             size=(40, 48), seed=1)


def _tiny_values(data_dir, results_dir, **overrides):
    """Configuration values of a seconds-long run; plain types (they also go to subprocesses)."""
    values = {
        "data_dir": str(data_dir), "results_dir": str(results_dir), "image_size": 32,
        "backbone": "Tiny",
        "max_images": None, "split_ratios": [0.5, 0.25, 0.25], "epochs": 2, "batch_size": 4,
        "modules": 1, "deterministic": True, "verbose": 0, "cache": None,
        "augment": False,  # RandAugment only where a test is about the whole thesis pipeline
    }
    return {**values, **overrides}


@pytest.fixture(scope="session")
def tiny_values():
    return _tiny_values


@pytest.fixture
def tiny_config(tiny_dataset, tmp_path):
    def make(**overrides):
        return make_config("smoke", **_tiny_values(tiny_dataset, tmp_path / "results", **overrides))
    return make

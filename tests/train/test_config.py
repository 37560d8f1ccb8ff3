"""TrainConfig: thesis defaults, YAML profiles, overrides, validation, run ids."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from thesis_lib import paths
from thesis_lib.config.training import TrainConfig, load_profile, make_config
from thesis_lib.errors import ConfigError


def test_defaults_are_the_thesis_protocol():
    config = TrainConfig()
    assert (config.backbone, config.image_size, config.modules) == ("EfficientNetV2B2", 256, 4)
    assert (config.randaugment_ops, config.randaugment_magnitude) == (3, 7)
    assert config.split_ratios == (0.8, 0.1, 0.1)
    assert config.scheme == "sadness" and config.weights == "imagenet"


def test_thesis_profile_states_the_defaults():
    """configs/thesis.yaml and the dataclass defaults must not drift apart."""
    assert make_config("thesis") == TrainConfig()
    listed = yaml.safe_load((paths.project_root() / "configs" / "thesis.yaml").read_text())
    assert listed["modules"] == 4 and listed["image_size"] == 256


def test_smoke_profile_is_a_small_cpu_run():
    config = make_config("smoke")
    assert config.backbone == "EfficientNetV2B0" and config.weights is None
    assert config.image_size <= 64 and config.epochs <= 10 and config.data_dir is None
    # Reruns are identical (tests/train/test_run.py checks it byte for byte), also for the demo.
    assert config.deterministic and make_config("demo").deterministic


def test_overrides_replace_profile_values_and_none_keeps_them():
    config = make_config("smoke", modules=3, epochs=None, learning_rate="1e-4")
    assert config.modules == 3
    assert config.epochs == make_config("smoke").epochs
    assert config.learning_rate == pytest.approx(1e-4)  # strings from YAML become numbers


def test_modules_zero_is_the_baseline_with_one_run_id():
    assert make_config("smoke", modules=0).variant == "baseline"
    assert (make_config("smoke", modules=0).run_id("data")
            == make_config("smoke", variant="baseline", modules=5).run_id("data"))


@pytest.mark.parametrize(("overrides", "message"), [
    ({"variant": "gramm"}, "unknown variant 'gramm'"),
    ({"split_ratios": [0.5, 0.1, 0.1]}, "sum to 1"),
    ({"epochs": 0}, "epochs must be >= 1"),
    ({"modules": 2.5}, "whole number"),
    ({"strategy": "horovod"}, "unknown strategy"),
    ({"no_such_field": 1}, "no_such_field"),
])
def test_invalid_values_name_the_field(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_config("smoke", **overrides)


def test_profile_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochz: 3\n")
    with pytest.raises(ConfigError, match="bad.yaml: unknown field"):
        load_profile(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_profile(tmp_path / "missing.yaml")


def test_profile_extends_its_base(tmp_path):
    child = tmp_path / "child.yaml"
    child.write_text("profile: smoke\nepochs: 1\n")
    config = make_config(child)
    assert config.epochs == 1 and config.backbone == "EfficientNetV2B0"


def test_run_id_is_readable_and_follows_results_not_storage():
    config = make_config("smoke", modules=2, seed=3)
    run_id = config.run_id("data-a")
    assert run_id.startswith("gram-m2-v2b0-s3-") and len(run_id.split("-")[-1]) == 8
    # Where the data and the results lie is not part of the identity; what the data is, is.
    same_results = dataclasses.replace(config, results_dir="/elsewhere", verbose=0,
                                       data_dir="/moved/demo")
    assert same_results.run_id("data-a") == run_id
    assert config.run_id("data-b") != run_id
    for change in ({"seed": 4}, {"learning_rate": 0.01}, {"deduplicate": False}):
        assert dataclasses.replace(config, **change).run_id("data-a") != run_id


def test_the_seeds_of_one_setting_share_its_id():
    config = make_config("smoke", modules=2, seed=3)
    assert config.setting_id("d") == dataclasses.replace(config, seed=7).setting_id("d")
    assert config.setting_id("d") != dataclasses.replace(config, activation="gelu").setting_id("d")
    assert config.setting_id("d") != config.setting_id("other data")
    # A split fixed apart from the seed is part of the setting; one drawn per seed is not.
    fixed = dataclasses.replace(config, split_seed=0)
    assert fixed.setting_id("d") == dataclasses.replace(fixed, seed=7).setting_id("d")
    assert fixed.setting_id("d") != config.setting_id("d")


# What is not part of a setting, by the workbench's contract: the seed (a setting's runs differ
# in it), where data and results live (the data's content is in the fingerprint), and what
# only changes logging, caching or pacing. Every other field changes what is trained.
NOT_A_SETTING = {"seed", "data_dir", "split_file", "results_dir", "eval_datasets", "cache",
                 "verbose", "epoch_delay_s"}
# A valid other value for the fields a generic rule cannot change.
OTHER_VALUES = {
    "split_ratios": (0.7, 0.2, 0.1), "split_seed": 3, "max_images": 50, "dataset_name": "x",
    "scheme": "mikels8", "adapter": "folders", "resize": "pad", "variant": "gramnet",
    "taps": ["block2b_add"], "pairs": None, "activation": "gelu", "backbone": "B2",
    "weights": "imagenet", "dropout": 0.5, "optimizer": "sgd", "lr_schedule": "constant",
    "contrastive_center_reduction": "sum", "strategy": "mirrored", "cache": None,
    "data_dir": "/elsewhere", "split_file": "/elsewhere/split.csv", "results_dir": "/other",
    "eval_datasets": {"other": "/data/other"},
}


def other_value(name, value):
    if name in OTHER_VALUES:
        return OTHER_VALUES[name]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return value + 0.25


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(TrainConfig)])
def test_a_field_changes_the_setting_exactly_when_it_changes_what_is_trained(field):
    config = make_config("smoke", modules=2, epochs=8)
    changed = dataclasses.replace(config, **{field: other_value(field, getattr(config, field))})
    if field == "pairs":  # pairs belong to the pairwise network
        config = dataclasses.replace(config, variant="pairwise", modules=1)
        changed = dataclasses.replace(config, pairs=[["block2b_add", "block4c_add"]])
    if field == "contrastive_center_reduction":  # without the loss, its reduction is moot
        config = dataclasses.replace(config, contrastive_center_weight=0.1)
        changed = dataclasses.replace(config, contrastive_center_reduction="sum")
    same = config.setting_id("d") == changed.setting_id("d")
    assert same == (field in NOT_A_SETTING), field


def test_paths_are_shown_relative_to_the_project_and_absolute_outside_it(tmp_path):
    root = paths.project_root()
    assert paths.shown(root / "results" / "runs" / "r1") == Path("results/runs/r1")
    assert paths.shown(tmp_path / "elsewhere") == tmp_path / "elsewhere"


BAD_FIELDS = {  # field -> (value, what check_config says)
    "backbone": ("ResNet50", "unknown backbone 'ResNet50'"),
    "image_size": (16, "image_size=16 is too small"),
    "activation": ("softplus", "unknown activation 'softplus'"),
    "modules": (7, "the default tap table goes up to 6 modules"),
}


def test_a_configuration_is_checked_without_starting_tensorflow(tmp_path):
    # A grid cell's job and `grid --status` check every cell before a kernel trains it: the
    # check must not pay TensorFlow's start-up (seconds of CPU per job), and it still names
    # each bad field. One fresh interpreter, as a job starts.
    code = f"""
import sys
from thesis_lib.config.training import make_config
from thesis_lib.errors import ConfigError
from thesis_lib.training.run import check_config
check_config(make_config("smoke", data_dir={str(tmp_path)!r}))
for field, value in {({f: v for f, (v, _) in BAD_FIELDS.items()})!r}.items():
    try:
        check_config(make_config("smoke", data_dir={str(tmp_path)!r}, **{{field: value}}))
    except ConfigError as error:
        print(field, "|", error)
print(sorted(name for name in ("tensorflow", "keras", "jax") if name in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    *said, loaded = done.stdout.splitlines()
    assert [line.split(" | ")[0] for line in said] == list(BAD_FIELDS)
    for line, (_, message) in zip(said, BAD_FIELDS.values(), strict=True):
        assert message in line
    assert loaded == "[]"

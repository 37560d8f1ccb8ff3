"""Every parameter means what it says, whatever text it arrives as (papermill -p, YAML, --set)."""

import dataclasses
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from papermill.translators import translate_parameters

from thesis_lib.config.conversion import convert
from thesis_lib.config.parameters import (
    NOTEBOOK_PARAMETERS,
    AblationParameters,
    TrainingParameters,
    notebook_parameters,
    typed,
)
from thesis_lib.config.training import TrainConfig, config_fields, make_config
from thesis_lib.errors import ConfigError

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"

# (field, the text a user typed, the value the configuration must hold)
TRAIN_CONFIG_TEXTS = [
    ("augment", "false", False), ("augment", "FALSE", False), ("augment", "No", False),
    ("augment", "0", False), ("augment", "off", False), ("augment", "True", True),
    ("augment", "yes", True), ("augment", "1", True), ("augment", True, True),
    ("deduplicate", "true", True),
    ("epochs", "3", 3), ("epochs", "3.0", 3), ("epochs", 3.0, 3),
    ("learning_rate", "1e-4", 1e-4), ("learning_rate", "0.001", 0.001),
    ("dropout", "none", None), ("dropout", "0.3", 0.3), ("max_images", "null", None),
    ("max_images", "100", 100),
    ("taps", "block2b_add", ["block2b_add"]),
    ("taps", '["block2c_add", "block4d_add"]', ["block2c_add", "block4d_add"]),
    ("taps", "[block2c_add, block4d_add]", ["block2c_add", "block4d_add"]),
    ("taps", ("block2c_add",), ["block2c_add"]), ("taps", "None", None),
    ("split_ratios", "[0.7, 0.2, 0.1]", (0.7, 0.2, 0.1)),
    ("split_ratios", [0.6, 0.2, 0.2], (0.6, 0.2, 0.2)),
    ("eval_datasets", '{"unbiasedemo": "/data/u"}', {"unbiasedemo": "/data/u"}),
    ("eval_datasets", "{emotion6: /data/e6}", {"emotion6": "/data/e6"}),
    ("weights", "none", None), ("weights", "imagenet", "imagenet"),
    ("weights", "/models/efficientnetv2-b2_notop.h5", "/models/efficientnetv2-b2_notop.h5"),
    ("data_dir", Path("/data/webemo"), "/data/webemo"), ("data_dir", "null", None),
    ("dataset_name", 2024, "2024"), ("activation", "none", "none"),
    ("seed", "7", 7), ("split_seed", "none", None),
    ("pairs", "[[block2b_add, block4a_add]]", [["block2b_add", "block4a_add"]]),
    ("pairs", [("block2b_add", "block4a_add")], [["block2b_add", "block4a_add"]]),
]

# (field, text, the words the one-line error must contain)
TRAIN_CONFIG_ERRORS = [
    ("augment", "maybe", "augment: expected true or false"),
    ("augment", "2", "augment: expected true or false"),
    ("epochs", "3.5", "epochs: expected a whole number, got '3.5'"),
    ("epochs", "many", "epochs: expected a whole number, got 'many'"),
    ("epochs", True, "epochs: expected a whole number, got True"),
    ("learning_rate", "fast", "learning_rate: expected a number, got 'fast'"),
    ("split_ratios", "[0.8, 0.2]", "split_ratios: expected 3 values"),
    ("split_ratios", "[0.8, a, 0.1]", "split_ratios[1]: expected a number"),
    ("eval_datasets", "[a, b]", "eval_datasets: expected a mapping"),
    ("taps", "[1, [2]]", "taps[1]: expected text"),
    ("max_images", "lots", "max_images: expected a whole number"),
    ("pairs", "[[a, [b]]]", "pairs[0][1]: expected text"),
]


def _config(field, text):
    """The smoke profile with ``field`` set to ``text`` (pairs belong to the pairwise net)."""
    extra = {"variant": "pairwise", "modules": 1} if field == "pairs" else {}
    return make_config("smoke", **extra, **{field: text})


@pytest.mark.parametrize(("field", "text", "expected"), TRAIN_CONFIG_TEXTS)
def test_every_field_type_converts_from_text(field, text, expected):
    config = _config(field, text)
    assert getattr(config, field) == expected
    assert type(getattr(config, field)) is type(expected)


@pytest.mark.parametrize(("field", "text", "message"), TRAIN_CONFIG_ERRORS)
def test_text_that_does_not_convert_is_one_line_naming_the_field(field, text, message):
    with pytest.raises(ConfigError) as error:
        _config(field, text)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_every_declared_field_type_is_covered_by_the_table():
    covered = {field for field, _, _ in TRAIN_CONFIG_TEXTS + TRAIN_CONFIG_ERRORS}
    kinds = {field.type for field in dataclasses.fields(TrainConfig)}
    covered_kinds = {field.type for field in dataclasses.fields(TrainConfig)
                     if field.name in covered}
    assert kinds - covered_kinds == set()


def test_yaml_profiles_and_command_line_assignments_are_converted_the_same(tmp_path):
    from thesis_lib.config.conversion import parse_assignments

    profile = tmp_path / "profile.yaml"
    profile.write_text("profile: smoke\naugment: 'no'\ntaps: block2b_add\nepochs: '4'\n")
    from_yaml = make_config(profile)
    from_cli = make_config("smoke", **parse_assignments(["augment=no", "taps=block2b_add",
                                                          "epochs=4"]))
    for config in (from_yaml, from_cli):
        assert (config.augment, config.taps, config.epochs) == (False, ["block2b_add"], 4)


def test_a_bad_value_fails_before_any_data_is_read(tmp_path):
    from thesis_lib.training.notebook import notebook_config

    missing = tmp_path / "no-such-dataset"
    with pytest.raises(ConfigError, match="augment: expected true or false"):
        notebook_config("smoke", data_dir=str(missing), augment="perhaps")


@pytest.mark.parametrize(("declared", "text", "expected"), [
    ("list[int] | None", "[1, 2]", [1, 2]), ("list[int] | None", "3", [3]),
    ("list[int] | None", "none", None), ("list[str] | None", "taps", ["taps"]),
    ("bool | None", "None", None), ("bool | None", "false", False),
    ("dict[str, Any]", "{slurm_partition: gpu, gpus_per_node: 1}",
     {"slurm_partition": "gpu", "gpus_per_node": 1}),
    ("dict[str, Any]", "", {}), ("tuple[float, ...]", "[1, 2]", (1.0, 2.0)),
    ("int | None", "5", 5), ("str", "results/demo", "results/demo"),
])
def test_declared_types_convert(declared, text, expected):
    assert convert("x", text, declared) == expected


def test_notebook_parameters_are_converted_in_place():
    namespace = {"seeds": "[1, 2]", "studies": "taps", "force": "false", "jobs": "2",
                 "gramnet": "no", "slurm": "{gpus_per_node: 1}", "unrelated": "kept"}
    typed(namespace, AblationParameters)
    assert namespace["seeds"] == [1, 2] and namespace["studies"] == ["taps"]
    assert namespace["force"] is False and namespace["jobs"] == 2
    assert namespace["gramnet"] is False and namespace["slurm"] == {"gpus_per_node": 1}
    assert namespace["unrelated"] == "kept"
    with pytest.raises(ConfigError, match="seeds\\[1\\]: expected a whole number, got 'x'"):
        typed({"seeds": "[1, x]"}, AblationParameters)
    with pytest.raises(ConfigError, match="seeds\\[1\\]: expected a whole number, got 'x'"):
        typed({"seeds": "[1, x]"}, "04_ablations")
    namespace = {"seeds": "[3]"}
    assert typed(namespace, "04_ablations")["profile"] == "smoke"  # a missing one: its default
    assert namespace["seeds"] == [3] and namespace["slurm"] == {}


# (notebook, parameter, its declared type, its default), as written in the notebooks
NOTEBOOK_DECLARATIONS = [
    ("01_data_exploration", "split_ratios", tuple[float, float, float], (0.8, 0.1, 0.1)),
    ("01_data_exploration", "randaugment_magnitude", float, 7.0),
    ("01_data_exploration", "data_dir", str | None, None),
    ("02_prepare_data", "drop_duplicates", bool, True),
    ("02_prepare_data", "min_side", int, 32),
    ("03_train", "profile", str | None, "smoke"), ("03_train", "force", bool, False),
    ("03_train", "run_dir", str | None, None),
    ("04_ablations", "seeds", list[int] | None, None),
    ("04_ablations", "studies", list[str] | None, None),
    ("04_ablations", "gramnet", bool | None, None), ("04_ablations", "jobs", int, 1),
    ("04_ablations", "slurm", dict[str, Any], {}),
    ("05_significance", "alpha", float, 0.05),
    ("05_significance", "study", str | None, "comparison"),
    ("06_figures", "example_classes", list[str] | None, None),
    ("06_figures", "gram_max_channels", int, 32),
    ("07_embeddings", "confidence_threshold", float | None, None),
    ("07_embeddings", "neighbours", int, 10),
]


@pytest.mark.parametrize(("notebook", "name", "declared", "default"), NOTEBOOK_DECLARATIONS)
def test_types_and_defaults_are_derived_from_the_parameters_cell(notebook, name, declared,
                                                                 default):
    parameter = notebook_parameters(notebook)[name]
    assert parameter.type == declared
    assert parameter.default == default and type(parameter.default) is type(default)


@pytest.mark.parametrize("name", sorted(NOTEBOOK_PARAMETERS))
def test_every_parameter_of_every_notebook_is_declared_and_converted(name):
    path = NOTEBOOK_DIR / f"{name}.ipynb"
    found = set(papermill.inspect_notebook(str(path)))
    derived = notebook_parameters(name)  # raises for a parameter without a type
    if name == "03_train":  # the TrainConfig fields there are TrainConfig's to declare
        assert set(derived) == {"profile", "force", "run_dir"}
        assert found - set(derived) <= set(config_fields())
    else:
        assert set(derived) == found and len(derived) >= 6
    notebook = nbformat.read(path, as_version=4)
    parameters_cell = next(i for i, cell in enumerate(notebook.cells)
                           if "parameters" in cell.metadata.get("tags", []))
    following = next(cell.source for cell in notebook.cells[parameters_cell + 1:]
                     if cell.cell_type == "code")
    assert f'typed(globals(), "{name}")' in following, f"{name}: parameters are not converted"


def test_train_notebook_leaves_the_configuration_fields_to_the_configuration():
    namespace = {"profile": "demo", "force": "yes", "weights": "none", "epochs": "3"}
    typed(namespace, TrainingParameters)
    assert namespace["force"] is True and namespace["run_dir"] is None
    # "none" is no weights for TrainConfig; typed must not turn it into None (= the profile's)
    assert namespace["weights"] == "none" and namespace["epochs"] == "3"


def _notebook(tmp_path, source):
    path = tmp_path / "scratch.ipynb"
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nbformat.v4.new_notebook(cells=[cell], metadata={"kernelspec": kernel}), path)
    return path


def test_a_notebook_declares_its_parameters_once(tmp_path):
    path = _notebook(tmp_path, "from typing import Optional\n\n"
                               "seeds: Optional[list[int]] = None  # seeds of every setting\n"
                               "augment: bool = True\n")
    # What `papermill -p seeds "[1, 2]" -p augment off` injects after the parameters cell
    injected = translate_parameters("python3", "python", {"seeds": "[1, 2]", "augment": "off"},
                                    "Parameters")
    namespace = {}
    for source in (nbformat.read(path, as_version=4).cells[0].source, injected):
        exec(source, namespace)
    assert namespace["seeds"] == "[1, 2]"
    converted = typed(namespace, path)
    assert namespace["seeds"] == [1, 2] and namespace["augment"] is False
    assert converted == {"seeds": [1, 2], "augment": False}
    assert notebook_parameters(path)["seeds"].help == "seeds of every setting"


@pytest.mark.parametrize(("source", "message"), [
    ("seed = 0\n", "scratch: the parameter seed has no type; declare it in the parameters "
                   "cell as `seed: <type> = 0`"),
    ("seeds: list[int] | None = None\n", "scratch: papermill cannot read the parameter seeds"),
    ("when: datetime = None\n", "scratch: cannot read the parameter when"),
    ("seeds: list[int] = sorted([1])\n", "scratch: cannot read the parameter seeds"),
    ("seed: int = 0.5\n", "scratch: cannot read the parameter seed (int = 0.5): seed: expected a "
                          "whole number, got 0.5"),
])
def test_a_parameter_the_derivation_cannot_read_names_notebook_and_parameter(tmp_path, source,
                                                                           message):
    with pytest.raises(ConfigError) as error:
        notebook_parameters(_notebook(tmp_path, source))
    assert message in str(error.value) and "\n" not in str(error.value)

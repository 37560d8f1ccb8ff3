"""Every parameter means what it says, whatever text it arrives as (papermill -p, YAML, --set)."""

import ast
import dataclasses
from pathlib import Path

import nbformat
import papermill
import pytest

from thesis_lib.errors import ConfigError
from thesis_lib.notebooks import NOTEBOOK_PARAMETERS, AblationParameters, typed
from thesis_lib.parameters import convert
from thesis_lib.train.config import TrainConfig, make_config

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
    from thesis_lib.parameters import parse_assignments

    profile = tmp_path / "profile.yaml"
    profile.write_text("profile: smoke\naugment: 'no'\ntaps: block2b_add\nepochs: '4'\n")
    from_yaml = make_config(profile)
    from_cli = make_config("smoke", **parse_assignments(["augment=no", "taps=block2b_add",
                                                          "epochs=4"]))
    for config in (from_yaml, from_cli):
        assert (config.augment, config.taps, config.epochs) == (False, ["block2b_add"], 4)


def test_a_bad_value_fails_before_any_data_is_read(tmp_path):
    from thesis_lib.train.notebook import notebook_config

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


@pytest.mark.parametrize("name", sorted(NOTEBOOK_PARAMETERS))
def test_each_notebook_declares_what_its_parameter_class_declares(name):
    path = NOTEBOOK_DIR / f"{name}.ipynb"
    declared = papermill.inspect_notebook(str(path))
    fields = {field.name: field for field in dataclasses.fields(NOTEBOOK_PARAMETERS[name])}
    assert set(fields) <= set(declared), f"{name} lacks {set(fields) - set(declared)}"
    defaults = NOTEBOOK_PARAMETERS[name]()
    for field_name in fields:
        in_notebook = ast.literal_eval(declared[field_name]["default"])
        expected = getattr(defaults, field_name)
        converted = convert(field_name, in_notebook, fields[field_name].type)
        assert converted == expected, f"{name}: {field_name} is {in_notebook!r} in the notebook"
    notebook = nbformat.read(path, as_version=4)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    parameters_cell = next(i for i, cell in enumerate(notebook.cells)
                           if "parameters" in cell.metadata.get("tags", []))
    following = next(cell.source for cell in notebook.cells[parameters_cell + 1:]
                     if cell.cell_type == "code")
    assert "typed(globals()" in following, f"{name}: parameters are not converted"
    assert code

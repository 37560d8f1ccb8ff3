"""The notebooks' parameters: declared once, in each notebook's parameters cell.

A notebook's parameters are declared once, in its ``parameters`` cell, with annotations
(``seed: int = 0``; ``Optional[X]`` rather than ``X | None``, which papermill's inspection does
not read). :func:`notebook_parameters` derives their types and defaults from that cell with
``papermill.inspect_notebook``; the notebook converts what papermill injected with
``typed(globals(), "04_ablations")``.

Conversion follows the rules of :mod:`thesis_lib.config.conversion`.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, NamedTuple

from thesis_lib import paths
from thesis_lib.config.conversion import convert, resolve_type
from thesis_lib.config.training import config_fields
from thesis_lib.errors import ConfigError


class Parameter(NamedTuple):
    """One parameter of a notebook, as its ``parameters`` cell declares it."""

    type: Any  # e.g. Optional[list[int]]
    default: Any  # the cell's value, converted to ``type``
    help: str  # the comment after it


# 03_train's cell also sets TrainConfig fields (None: the profile's value). TrainConfig declares
# and converts those, so they carry no annotation in the cell and are not converted by `typed`.
CONFIG_FIELD_NOTEBOOKS = frozenset({"03_train"})


@functools.cache
def notebook_parameters(notebook: str | os.PathLike) -> dict[str, Parameter]:
    """The parameters a notebook's ``parameters`` cell declares, read with papermill.

    Args:
        notebook: a name under the project's ``notebooks/`` (``"04_ablations"``) or a path.

    Raises:
        ConfigError: a parameter without an annotation, one papermill cannot read (``X | None``),
            or an annotation or default that is not understood; naming notebook and parameter.
    """
    import nbformat
    import papermill

    path = Path(notebook)
    if path.suffix != ".ipynb":
        path = paths.notebook_path(str(notebook))
    name = path.stem
    inspected = papermill.inspect_notebook(str(path))
    cell = next((cell.source for cell in nbformat.read(path, as_version=4).cells
                 if "parameters" in cell.metadata.get("tags", [])), "")
    assigned = [target.id for node in ast.parse(cell).body
                for target in (node.targets if isinstance(node, ast.Assign) else
                               [node.target] if isinstance(node, ast.AnnAssign) else [])
                if isinstance(target, ast.Name)]
    for parameter in assigned:
        if parameter not in inspected:
            raise ConfigError(f"{name}: papermill cannot read the parameter {parameter} (declare "
                              f"it as `name: type = value` on one line, X | None as Optional[X])")
    left_to_config = set(config_fields()) if name in CONFIG_FIELD_NOTEBOOKS else set()
    declared = {}
    for parameter, found in inspected.items():
        if found["inferred_type_name"] == "None":
            if parameter in left_to_config:
                continue
            raise ConfigError(f"{name}: the parameter {parameter} has no type; declare it in "
                              f"the parameters cell as `{parameter}: <type> = {found['default']}`")
        try:
            declared_type = resolve_type(found["inferred_type_name"])
            default = convert(parameter, ast.literal_eval(found["default"]), declared_type)
        except (ConfigError, ValueError, SyntaxError) as error:
            raise ConfigError(f"{name}: cannot read the parameter {parameter} "
                              f"({found['inferred_type_name']} = {found['default']}): {error}"
                              ) from None
        declared[parameter] = Parameter(declared_type, default, found["help"])
    return declared


@dataclasses.dataclass(frozen=True)
class NotebookParameters:
    """Names a notebook's parameters for :func:`typed`; they are declared by its parameters cell."""

    notebook: str


ExplorationParameters = NotebookParameters("01_data_exploration")
PreparationParameters = NotebookParameters("02_prepare_data")
TrainingParameters = NotebookParameters("03_train")
AblationParameters = NotebookParameters("04_ablations")
SignificanceParameters = NotebookParameters("05_significance")
FigureParameters = NotebookParameters("06_figures")
EmbeddingParameters = NotebookParameters("07_embeddings")

NOTEBOOK_PARAMETERS: dict[str, NotebookParameters] = {
    parameters.notebook: parameters
    for parameters in (ExplorationParameters, PreparationParameters, TrainingParameters,
                       AblationParameters, SignificanceParameters, FigureParameters,
                       EmbeddingParameters)
}


def typed(namespace: MutableMapping[str, Any],
          parameters: str | os.PathLike | NotebookParameters) -> dict[str, Any]:
    """Convert the parameters a notebook declares, in ``namespace`` (its ``globals()``), to their
    declared types, in place; a missing one gets its default. Returns the converted values.

    Args:
        namespace: the notebook's ``globals()``, after papermill injected its parameters.
        parameters: the notebook (``"04_ablations"``, a path, or ``AblationParameters``).

    Raises:
        ConfigError: one line naming the parameter, its value and what it should be.
    """
    if isinstance(parameters, NotebookParameters):
        parameters = parameters.notebook
    converted = {name: convert(name, namespace.get(name, declared.default), declared.type)
                 for name, declared in notebook_parameters(parameters).items()}
    namespace.update(converted)
    return converted

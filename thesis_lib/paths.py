"""Where things live: the project root, the demo data, the results folder.

Notebooks run from the repository root (``papermill notebooks/03_train.ipynb ...``) and from
``notebooks/`` (JupyterLab). Relative paths given as parameters are therefore resolved against
the project root, found by walking up from the working directory to ``pyproject.toml``, so a
notebook means the same folder wherever it was started.
"""

from __future__ import annotations

import os
from pathlib import Path

# Overrides the search, e.g. on a cluster where the code and the results live apart.
ROOT_ENV = "THESIS_PROJECT_ROOT"
# The name run records give the generated demo dataset (its numbers are never results).
DEMO_DATASET = "demo"


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding the project.

    From a folder outside the project (a script in the home directory), the checkout that
    holds this package is used (the usual editable install); failing that, ``start`` itself.
    """
    if os.environ.get(ROOT_ENV):
        return Path(os.environ[ROOT_ENV]).resolve()
    here = Path(start or Path.cwd()).resolve()
    package_checkout = Path(__file__).resolve().parents[1]
    for folder in (here, *here.parents, package_checkout):
        if (folder / "pyproject.toml").is_file() and (folder / "thesis_lib").is_dir():
            return folder
    return here


def resolve(path: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """``path`` as an absolute path; a relative one is taken from the project root."""
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    return (Path(root) if root is not None else project_root()) / path


def shown(path: str | os.PathLike) -> Path:
    """``path`` as messages and notebooks print it: relative to the project root when inside
    it (so an executed notebook names no machine's folders), else as it is."""
    path = Path(path)
    try:
        return path.resolve().relative_to(project_root())
    except ValueError:
        return path


def notebook_path(name: str) -> Path:
    """The committed notebook ``name`` (``"03_train"``) in the project's ``notebooks/``."""
    return project_root() / "notebooks" / f"{name}.ipynb"


def demo_data_dir() -> Path:
    """Default folder of the generated demo dataset (not committed; made on demand)."""
    return project_root() / "data" / DEMO_DATASET


def results_dir() -> Path:
    """Default folder for everything that runs produce."""
    return project_root() / "results"

"""The committed notebooks as the regression test (nbval) runs them: in a scratch copy of the
project, so that they start from a results folder without runs and never write into yours.

    python notebooks/rerun.py          # re-execute 01-07 in order and commit their new outputs

A scratch project holds a copy of ``pyproject.toml``, ``configs/`` and the notebooks, and an
empty ``results/``; the kernels find it through ``THESIS_PROJECT_ROOT`` (``thesis_lib.paths``),
generate the demo data into it and train the smoke runs there. Notebooks 05-07 analyse the runs
that 03 and 04 made, so the order matters: ``notebooks/conftest.py`` runs them in this order.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent
PROJECT = NOTEBOOKS.parent


def scratch_project(folder: str | os.PathLike | None = None) -> Path:
    """A new scratch project in ``folder`` (default: a new temporary folder); returns it."""
    root = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="thesis-notebooks-"))
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PROJECT / "pyproject.toml", root)
    shutil.copytree(PROJECT / "configs", root / "configs", dirs_exist_ok=True)
    (root / "notebooks").mkdir(exist_ok=True)
    for notebook in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        shutil.copy2(notebook, root / "notebooks")
    (root / "results").mkdir(exist_ok=True)
    return root


def scratch_environment(root: Path) -> dict[str, str]:
    """The variables that point a kernel at the scratch project (and its scan cache there)."""
    return {"THESIS_PROJECT_ROOT": str(root), "THESIS_CACHE_DIR": str(root / ".cache")}


def rerun_committed_notebooks() -> None:
    """Execute every committed notebook in order in a scratch project (from its ``notebooks/``,
    as a reader runs papermill) and write each back over the committed one."""
    import papermill

    root = scratch_project()
    os.environ.update(scratch_environment(root))
    here = Path.cwd()
    os.chdir(root / "notebooks")  # papermill records the paths as given: relative, as a reader's
    try:
        for notebook in sorted(Path().glob("*.ipynb")):
            print(f"executing {notebook.name}", flush=True)
            papermill.execute_notebook(notebook.name, notebook.name, log_output=False,
                                       progress_bar=False)
            shutil.copy2(notebook, NOTEBOOKS / notebook.name)
    finally:
        os.chdir(here)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(rerun_committed_notebooks())

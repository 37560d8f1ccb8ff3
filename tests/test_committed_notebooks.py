"""The committed notebooks as a reader meets them (in JupyterLab or on a repository web page):
figures in place, no machine's folders, no start-up noise, a size a web page shows."""

import re
import shutil
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))
# A folder of some machine: a home, a scratch or temporary folder, a checkout's absolute path.
MACHINE_PATH = re.compile(r"(?<![\w.])(/(home|root|tmp|work|Users|mnt|scratch|var)/|[A-Z]:\\)")
DRAWS = re.compile(r"plt\.show\(\)|fg\.plot_|figure = ")


def output_texts(cell) -> list[str]:
    texts = []
    for output in cell.get("outputs", []):
        texts.append("".join(output.get("text", "")))
        texts += ["".join(value) for kind, value in output.get("data", {}).items()
                  if kind.startswith("text/")]
    return texts


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_no_committed_output_names_a_machines_folder(path):
    notebook = nbformat.read(path, as_version=4)
    found = [(index, match.group(0)) for index, cell in enumerate(notebook.cells)
             for text in output_texts(cell) for match in MACHINE_PATH.finditer(text)]
    assert not found, f"{path.name}: cells print absolute paths: {found[:3]}"


def says_why_no_figure(cell) -> bool:
    return any(re.search(r"\bno\b.*\bfigure\b", text) for text in output_texts(cell))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_cell_that_draws_shows_its_figure_or_says_why_not(path):
    notebook = nbformat.read(path, as_version=4)
    empty = [index for index, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and DRAWS.search(cell.source)
             and not any("image/png" in output.get("data", {}) for output in cell.outputs)
             and not says_why_no_figure(cell)]
    assert not empty, f"{path.name}: figure cells without a figure: {empty}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_committed_notebook_is_clean_and_small(path):
    notebook = nbformat.read(path, as_version=4)
    noise = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             for output in cell.outputs if output.get("name") == "stderr"]
    assert not noise, f"{path.name}: start-up logs or warnings in cells {noise}"
    assert path.stat().st_size < 1_000_000, f"{path.name}: {path.stat().st_size} bytes"


def test_at_most_a_quarter_of_the_cells_are_left_out_of_the_regression():
    cells = [cell for path in NOTEBOOKS for cell in nbformat.read(path, as_version=4).cells
             if cell.cell_type == "code"]
    ignored = [cell for cell in cells if "nbval-ignore-output" in cell.metadata.get("tags", [])]
    assert len(ignored) <= len(cells) / 4, f"{len(ignored)} of {len(cells)} code cells ignored"


@pytest.mark.slow
def test_an_analysis_notebook_without_runs_stops_with_one_line(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    # A project with the notebook and no runs at all.
    monkeypatch.setenv("THESIS_PROJECT_ROOT", str(tmp_path))
    (tmp_path / "notebooks").mkdir()
    notebook = next(path for path in NOTEBOOKS if path.stem == "05_significance")
    shutil.copy2(notebook, tmp_path / "notebooks")
    out = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError):
        papermill.execute_notebook(str(notebook), str(out), cwd=str(tmp_path / "notebooks"),
                                   progress_bar=False)
    cells = [cell for cell in nbformat.read(out, as_version=4).cells if cell.cell_type == "code"]
    errors = [(index, output) for index, cell in enumerate(cells) for output in cell.outputs
              if output.output_type == "error"]
    [(index, error)] = errors
    assert "require_runs" in cells[index].source  # part 1 ran; part 2 stops at its first cell
    assert any("published.thesis_table()" in cell.source and cell.outputs
               for cell in cells[:index])
    assert error.ename == "DataError"
    assert len(error.traceback) == 1 and "the study 'comparison' has not been run" in (
        error.traceback[0])

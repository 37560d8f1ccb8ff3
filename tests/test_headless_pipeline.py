"""The headless pipeline: the notebooks it runs and the parameters it gives them."""

from pathlib import Path

import nbformat
import papermill
import pytest

from thesis_lib.errors import ConfigError
from thesis_lib.experiments import pipeline

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("name", pipeline.NOTEBOOKS)
def test_each_notebook_has_one_parameters_cell(name):
    notebook = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1


@pytest.mark.parametrize("name", pipeline.NOTEBOOKS)
def test_the_pipeline_passes_only_parameters_the_notebook_declares(name, tmp_path):
    declared = papermill.inspect_notebook(str(NOTEBOOK_DIR / f"{name}.ipynb"))
    given = pipeline.pipeline_parameters(name, profile="demo", data_dir=str(tmp_path),
                                         results_dir=tmp_path / "results", jobs=2)
    assert set(given) <= set(declared), f"{name} does not declare {set(given) - set(declared)}"


def test_every_notebook_writes_into_the_pipeline_results_folder(tmp_path):
    writers = [name for name in pipeline.NOTEBOOKS if name != "01_data_exploration"]
    for name in writers:
        given = pipeline.pipeline_parameters(name, profile="demo", data_dir=None,
                                             results_dir=tmp_path, jobs=1)
        assert given["results_dir"] == str(tmp_path)
        assert "data_dir" not in given  # None: each notebook's own default, the demo data


def test_unknown_notebook_and_missing_dataset_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown notebook.*07_extra; valid: 01_data"):
        pipeline.run_pipeline("demo", notebooks=("07_extra",), results_dir=tmp_path)
    with pytest.raises(ConfigError, match="dataset not found: .*no-such-folder"):
        pipeline.run_pipeline("demo", data_dir=str(tmp_path / "no-such-folder"),
                              results_dir=tmp_path)
    assert not (tmp_path / "notebooks").exists()  # nothing was started


def test_report_lists_the_product_folders(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "accuracy.pdf").write_bytes(b"%PDF")
    (tmp_path / "tables").mkdir()
    report = pipeline.report_outputs(tmp_path)
    assert f"figures:   {tmp_path / 'figures'} (1 files)" in report
    assert f"tables:    {tmp_path / 'tables'} (0 files)" in report

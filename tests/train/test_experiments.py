"""Grids: cells, notebook execution per cell, skipping, failures, local and submitit executors."""

import json

import pytest

from thesis_lib.errors import ConfigError
from thesis_lib.experiments.grids import Grid, load_grid, run_grid, summary


def test_cells_are_every_combination_in_a_stable_order():
    grid = Grid(axes={"modules": [0, 2], "seed": [0, 1]}, fixed={"epochs": 1}, profile="smoke")
    cells = grid.cells()
    assert [(c["modules"], c["seed"]) for c in cells] == [(0, 0), (0, 1), (2, 0), (2, 1)]
    assert all(c["epochs"] == 1 and c["profile"] == "smoke" for c in cells)
    assert grid.cell_name(cells[1]) == "modules=0,seed=1"


def test_grid_file_is_read_and_checked(tmp_path):
    path = tmp_path / "table.yaml"
    path.write_text("profile: thesis\nfixed: {data_dir: /data/x}\ngrid:\n  modules: [0, 4]\n"
                    "eval_datasets: {unbiasedemo: /data/u}\n")
    grid = load_grid(path)
    assert grid.name == "table" and len(grid.cells()) == 2
    assert grid.cells()[0]["eval_datasets"] == {"unbiasedemo": "/data/u"}
    path.write_text("grid:\n  modulez: [1]\n")
    with pytest.raises(ConfigError, match="unknown field 'modulez'"):
        load_grid(path)


def tiny_grid(tiny_dataset, tiny_values, tmp_path) -> Grid:
    """Two cells: one real (a Tiny-backbone run of one epoch), one with a missing dataset."""
    fixed = tiny_values(tiny_dataset, tmp_path / "results", epochs=1, deterministic=False)
    del fixed["data_dir"]
    missing = str(tmp_path / "no_such_dataset")
    return Grid(axes={"data_dir": [str(tiny_dataset), missing]}, fixed=fixed, profile="smoke",
                name="tiny")


@pytest.fixture(scope="module")
def tiny_grid_run(tiny_dataset, tiny_values, tmp_path_factory):
    """``tiny_grid`` run once on the local executor: (grid, its folder, its summary table),
    for the first run's checks and then the reruns of the slow test."""
    tmp_path = tmp_path_factory.mktemp("tiny-grid")
    grid = tiny_grid(tiny_dataset, tiny_values, tmp_path)
    return grid, tmp_path, run_grid(grid, executor="local")


def test_grid_runs_notebooks_and_reports_failures(tiny_dataset, tiny_grid_run):
    grid, tmp_path, table = tiny_grid_run

    good, bad = table.to_dict("records")
    assert good["state"] == "finished" and 0 <= good["test_accuracy"] <= 1
    executed = json.loads((tmp_path / "results" / "runs" / good["run_id"] / "03_train.ipynb")
                          .read_text())
    assert executed["metadata"]["papermill"]["parameters"]["data_dir"] == str(tiny_dataset)
    # No start-up line of the cell's kernel or of TensorFlow in the executed notebook.
    streams = [output for cell in executed["cells"] for output in cell.get("outputs", [])
               if output.get("name") == "stderr"]
    assert streams == []
    assert (tmp_path / "results" / "runs" / good["run_id"] / "03_train.log").is_file()
    assert bad["state"] == "failed"
    missing = str(tmp_path / "no_such_dataset")
    assert bad["error"] == f"DataError: dataset not found: {missing} (data_dir={missing!r})"
    assert (tmp_path / "results" / "grids" / "tiny-summary.csv").is_file()
    assert summary(grid)["state"].tolist() == ["finished", "failed"]


@pytest.mark.slow
def test_a_grid_run_again_skips_finished_cells_on_submitit_and_forced_trains_anew(
        tiny_grid_run):
    grid, tmp_path, table = tiny_grid_run
    good, bad = table.to_dict("records")

    # The SLURM code path (one submitit job per cell), on this machine: nothing is retrained.
    again = run_grid(grid, executor="submitit-local", log_dir=tmp_path / "logs")
    assert again["state"].tolist() == ["skipped", "failed"]
    assert again.loc[0, "test_accuracy"] == good["test_accuracy"]
    assert again.loc[1, "error"] == bad["error"]

    # Forced: the cell trains once more, into the folder the summary names, with its results.
    forced = run_grid(grid, executor="local", force=True).iloc[0]
    assert forced["state"] == "finished" and forced["run_id"] == f"{good['run_id']}-2"
    forced_dir = tmp_path / "results" / "runs" / forced["run_id"]
    assert str(forced_dir) == forced["run_dir"] and (forced_dir / "metrics.json").is_file()
    assert (forced_dir / "03_train.ipynb").is_file()
    assert not (tmp_path / "results" / "runs" / f"{good['run_id']}-3").exists()


def test_parallel_local_executor_reports_every_cell(tmp_path):
    grid = Grid(axes={"variant": ["gramm", "resnet"]}, fixed={"results_dir": str(tmp_path)},
                profile="smoke", name="bad")
    table = run_grid(grid, executor="local", jobs=2)
    assert table["cell"].tolist() == ["variant=gramm", "variant=resnet"]
    assert table["state"].tolist() == ["failed", "failed"]
    assert table.loc[1, "error"].startswith("ConfigError: unknown variant 'resnet'")


def test_cells_side_by_side_share_the_cores(monkeypatch):
    import os

    from thesis_lib.experiments import grids as experiments
    from thesis_lib.training import records

    # share_cores writes os.environ itself, which monkeypatch would not undo: it writes into a
    # copy, so that no later test (or the subprocesses it starts) inherits these thread pools.
    environment = {name: value for name, value in os.environ.items()
                   if name not in records.TF_THREAD_VARIABLES}
    monkeypatch.setattr(os, "environ", environment)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    experiments.share_cores(3)
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "5"
    assert os.environ["TF_NUM_INTEROP_THREADS"] == "5"
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "7")  # the user's choice stays
    experiments.share_cores(2)
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "7"
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS")
    experiments.share_cores(4)
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "1"  # never 0 (0 means all cores)


def test_the_worker_processes_of_a_parallel_grid_get_their_share(monkeypatch):
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from thesis_lib.experiments import grids as experiments
    from thesis_lib.training import records

    for variable in records.TF_THREAD_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context, initializer=experiments.share_cores,
                             initargs=(2,)) as pool:
        seen = pool.submit(os.getenv, "TF_NUM_INTRAOP_THREADS").result()
    assert seen == str(max(1, (os.cpu_count() or 1) // 2))
    assert "TF_NUM_INTRAOP_THREADS" not in os.environ  # the parent is left as it was

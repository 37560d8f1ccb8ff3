"""Grids of training runs, executed on this machine or on a SLURM cluster.

A grid file (YAML) names a base profile, fields shared by all cells, and lists of values whose
every combination is one cell::

    profile: thesis                 # base profile (configs/thesis.yaml)
    fixed:                          # fields of every cell
      data_dir: /data/webemo_sad
    grid:                           # every combination of these is one cell
      modules: [0, 2, 3, 4]
      seed: [0, 1, 2, 3, 4]
    eval_datasets:                  # optional, passed to every cell
      unbiasedemo: /data/unbiasedemo

Each cell executes ``notebooks/03_train.ipynb`` with papermill, its parameters set from the
cell, into the cell's run folder (``results/runs/<run_id>/03_train.ipynb``), so that every run
carries its executed notebook. Finished cells are skipped, a failed cell is reported and the
others go on; ``summary`` lists every cell with its state and test accuracy.

Executors: ``local`` (one cell after another, or ``jobs`` at a time) and ``slurm`` through
``submitit`` (the unfinished cells as one array job; memory, time limit, CPUs and GPUs from the
profile's defaults, the grid file's ``slurm:`` section and the command line; see
:mod:`thesis_lib.experiments.slurm`).
"""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import os
import socket
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from thesis_lib import files, paths
from thesis_lib.config.training import config_fields, make_config
from thesis_lib.errors import ConfigError, ThesisError
from thesis_lib.experiments import slurm as slurm_requests
from thesis_lib.experiments.execute import PROGRESS_PREFIX, stderr_to
from thesis_lib.training import records
from thesis_lib.training.fingerprint import data_fingerprint, reusing_scans
from thesis_lib.training.run import check_config, plan_run

DEFAULT_NOTEBOOK = "notebooks/03_train.ipynb"
NOTEBOOK_NAME = "03_train.ipynb"
SUMMARY_COLUMNS = ["cell", "run_id", "state", "test_accuracy", "error", "run_dir"]


@dataclass
class Grid:
    """A grid of training runs.

    Args:
        axes: field -> list of values; every combination is one cell.
        fixed: fields shared by all cells.
        profile: the base profile of all cells (``smoke``, ``thesis`` or a YAML path).
        notebook: the training notebook each cell executes.
        name: the grid's name (summary file name).
        slurm: SLURM requests of every cell (submitit parameters such as ``mem_gb``,
            ``timeout_min``, ``cpus_per_task``, ``gpus_per_node``, ``slurm_partition``); they
            are resources, not part of any run's setting.
    """

    axes: dict[str, list[Any]]
    fixed: dict[str, Any] = field(default_factory=dict)
    profile: str | None = "smoke"
    notebook: str = DEFAULT_NOTEBOOK
    name: str = "grid"
    slurm: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        known = set(config_fields())
        for name in [*self.axes, *self.fixed]:
            if name not in known:
                valid = ", ".join(sorted(known))
                raise ConfigError(f"grid: unknown field {name!r}; valid: {valid}")
        for name, values in self.axes.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"grid: {name!r} must be a non-empty list of values")

    def cells(self) -> list[dict[str, Any]]:
        """The parameters of each cell (profile included), in a stable order."""
        names = list(self.axes)
        combos = itertools.product(*(self.axes[n] for n in names)) if names else [()]
        return [{"profile": self.profile, **self.fixed, **dict(zip(names, combo, strict=True))}
                for combo in combos]

    def cell_name(self, cell: dict[str, Any]) -> str:
        return ",".join(f"{name}={cell[name]}" for name in self.axes) or "default"


def load_grid(path: str | os.PathLike) -> Grid:
    """A ``Grid`` from a YAML file (see the module docstring for the format)."""
    path = paths.resolve(path)
    if not path.is_file():
        raise ConfigError(f"grid file not found: {path}")
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    allowed = {"profile", "fixed", "grid", "notebook", "eval_datasets", "name", "slurm"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}; "
                          f"valid: {', '.join(sorted(allowed))}")
    fixed = dict(spec.get("fixed") or {})
    if spec.get("eval_datasets"):
        fixed["eval_datasets"] = dict(spec["eval_datasets"])
    return Grid(axes=dict(spec.get("grid") or {}), fixed=fixed,
                profile=spec.get("profile", "smoke"),
                notebook=spec.get("notebook", DEFAULT_NOTEBOOK),
                name=spec.get("name", path.stem), slurm=dict(spec.get("slurm") or {}))


# --- one cell


def run_cell(cell: dict[str, Any], notebook: str = DEFAULT_NOTEBOOK, name: str = "",
             force: bool = False, run_dir: str | None = None) -> dict[str, Any]:
    """Execute the training notebook for one cell; never raises for a failed cell.

    The cell's run folder is planned here (a forced cell gets a new ``<run_id>-2`` folder),
    or given as ``run_dir`` (the folder a SLURM job's cell was planned into when it was
    submitted, so that a requeued attempt resumes there), and passed to the notebook, so that
    the notebook trains exactly there and the summary points at the folder with the results.

    Returns:
        The cell's summary row: cell, run_id, state (finished / skipped / failed), test
        accuracy, error (one line) and run folder.
    """
    import papermill

    follow_slurm_cpus()
    row = _plan_cell(cell, name or str(cell), force, run_dir)
    if row["state"] != "pending":  # finished already, or unusable
        return row
    row["state"] = "failed"  # until the notebook has trained the run
    folder = Path(row["run_dir"])
    output = folder / NOTEBOOK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _keep_earlier_attempt(output)
    except OSError as error:
        row["error"] = f"cannot write {folder}: {error.strerror or error}"
        return row
    parameters = {**_notebook_values(cell), "run_dir": str(folder)}
    # Fields that the notebook's parameters cell does not list are expected: no warnings.
    logging.getLogger("papermill").setLevel(logging.ERROR)
    try:
        # The kernel's own start-up lines go to a log beside the executed notebook, not into
        # the cell of the notebook (or the terminal) that runs the grid.
        with open(output.with_suffix(".log"), "w", encoding="utf-8") as log, stderr_to(log):
            papermill.execute_notebook(
                str(paths.resolve(notebook)), str(output), parameters=parameters,
                cwd=str(paths.project_root()), progress_bar=False, log_output=False,
            )
    except Exception as error:  # a failed cell, a kernel that died, a missing notebook...
        if slurm_requests.requeuing():
            raise SystemExit(1) from None  # stopped for a requeue: the next attempt goes on
        if isinstance(error, papermill.PapermillExecutionError):
            row["error"] = f"{error.ename}: {error.evalue}".splitlines()[0]
        else:
            row["error"] = f"{type(error).__name__}: {error}".splitlines()[0]
        if slurm_requests.out_of_memory_here():  # the job's memory limit killed the kernel
            row["error"] = slurm_requests.out_of_memory_line()
        _record_failure(folder, row["error"])
        return row
    status = records.read_status(folder) or {}
    row["state"] = status.get("state", "unknown")
    row["test_accuracy"] = _test_accuracy(folder)
    return row


def follow_slurm_cpus() -> None:
    """In a SLURM job, TensorFlow's thread pools get the CPUs SLURM gave the job, not the
    node's (the kernel inherits the variables; the run record shows them)."""
    cpus = os.environ.get("SLURM_CPUS_PER_TASK")
    if cpus:  # over values exported where the job was submitted (sbatch exports them all)
        for variable in records.TF_THREAD_VARIABLES:
            os.environ[variable] = cpus


def _record_failure(run_dir: Path, error: str) -> None:
    """A cell that failed before (or without) marking its run failed gets a failed status; a
    finished run is never touched."""
    status = records.read_status(run_dir) or {}
    if status.get("state") == "finished":
        return
    try:
        records.write_status(run_dir, "failed", error=error)
    except ThesisError:
        pass  # an unwritable results folder: the summary row still says what happened


def _notebook_values(cell: dict[str, Any]) -> dict[str, Any]:
    """Parameters as papermill writes them into the notebook (plain JSON types)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in cell.items()}


def _keep_earlier_attempt(output: Path) -> None:
    """An earlier (interrupted) attempt's notebook is renamed, never overwritten."""
    if output.exists():
        number = 1
        while (earlier := output.with_name(f"03_train.attempt-{number}.ipynb")).exists():
            number += 1
        os.replace(output, earlier)


def _test_accuracy(run_dir: Path) -> float | None:
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        return None
    return files.read_json(metrics_path).get("test_accuracy")


# --- executors


def run_grid(grid: Grid, *, executor: str = "local", jobs: int = 1, force: bool = False,
             slurm: dict[str, Any] | None = None, log_dir: str | os.PathLike | None = None,
             results_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Run every cell of ``grid`` and return (and save) the summary table.

    Args:
        grid: the grid.
        executor: ``local`` or ``slurm``; ``submitit-local`` runs the submitit code path on
            this machine (for testing the cluster set-up).
        jobs: cells at a time on the local executor.
        force: train finished cells again (into new run folders).
        slurm: submitit parameters, e.g. ``{"slurm_partition": "gpu", "gpus_per_node": 1,
            "timeout_min": 720, "cpus_per_task": 8, "mem_gb": 32}``.
        log_dir: where submitit keeps job logs; default ``<results>/grid-logs/<name>``.
        results_dir: folder of the summary file; default the cells' ``results_dir`` or
            ``<project>/results``.
    """
    return run_grids([grid], executor=executor, jobs=jobs, force=force, slurm=slurm,
                     log_dir=log_dir, results_dir=results_dir, name=grid.name)[0]


def run_grids(grids: list[Grid], *, name: str, executor: str = "local", jobs: int = 1,
              force: bool = False, slurm: dict[str, Any] | None = None,
              log_dir: str | os.PathLike | None = None,
              results_dir: str | os.PathLike | None = None) -> list[pd.DataFrame]:
    """Run the cells of several grids as one batch (``jobs`` cells at a time across all of
    them, so no core waits for a grid's last cell) and save each grid's summary.

    Args:
        grids: the grids (e.g. the settings of a study).
        name: the batch's name (progress lines, SLURM log folder).
        executor, jobs, force, slurm, log_dir, results_dir: as for :func:`run_grid`.

    Returns:
        Each grid's summary table, in the order of ``grids``.
    """
    arguments, owners = [], []
    for index, grid in enumerate(grids):
        for cell in grid.cells():
            label = grid.cell_name(cell)
            if len(grids) > 1:  # say which grid a progress line is about
                label = f"{grid.name} {label}"
            arguments.append((cell, grid.notebook, label, force))
            owners.append(index)
    root = _results_root(grids[0], results_dir)
    print(f"grid {name}: {len(arguments)} cell(s), executor {executor}")
    progress = _Progress(name, len(arguments))
    if executor == "local":
        rows = _run_local(arguments, jobs, progress)
    elif executor in ("slurm", "submitit-local"):
        folder = Path(log_dir) if log_dir else root / "grid-logs" / name
        cluster = "local" if executor == "submitit-local" else "slurm"
        requests = slurm_requests.requests_for(grids[0].profile, grids[0].slurm, slurm)
        if cluster == "slurm":
            slurm_requests.check_requests(requests)  # one line, before anything is submitted
        rows = _run_submitit(arguments, folder, requests, progress, cluster=cluster)
    else:
        raise ConfigError(f"unknown executor {executor!r}; valid: local, slurm, submitit-local")
    summaries = []
    for index, grid in enumerate(grids):
        own = [row for row, owner in zip(rows, owners, strict=True) if owner == index]
        summary = pd.DataFrame(own, columns=SUMMARY_COLUMNS)
        files.write_csv(root / "grids" / f"{grid.name}-summary.csv", summary)
        summaries.append(summary)
    return summaries


def _results_root(grid: Grid, results_dir: str | os.PathLike | None) -> Path:
    chosen = results_dir or grid.fixed.get("results_dir")
    return paths.resolve(chosen) if chosen else paths.results_dir()


def share_cores(jobs: int) -> None:
    """Give each of ``jobs`` cells running side by side its share of the cores.

    Each TensorFlow process otherwise starts thread pools as large as the machine, and
    ``jobs`` of them oversubscribe the cores: two smoke runs side by side on 2 cores took 145 s
    with full pools and 105 s with one thread each (intra- and inter-op). Runs in the pool's
    worker processes (the kernels they start inherit the variables); values the user set are
    kept.
    """
    share = str(max(1, (os.cpu_count() or 1) // jobs))
    for variable in records.TF_THREAD_VARIABLES:  # inter-op threads also run tf.data's maps
        os.environ.setdefault(variable, share)


def _run_local(arguments: list[tuple], jobs: int, progress: _Progress) -> list[dict[str, Any]]:
    if jobs < 1:
        raise ConfigError(f"jobs must be >= 1, got {jobs}")
    if jobs == 1:
        return [progress.report(run_cell(*args)) for args in arguments]
    # Separate processes: each cell's papermill client runs its own kernel and event loop.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=share_cores,
                             initargs=(jobs,)) as pool:
        futures = [pool.submit(run_cell, *args) for args in arguments]
        for future in as_completed(futures):  # a line as each cell ends
            progress.report(future.result())
        return [future.result() for future in futures]


def _run_submitit(arguments: list[tuple], folder: Path, requests: dict[str, Any],
                  progress: _Progress, *, cluster: str) -> list[dict[str, Any]]:
    """Finished cells are reported here; the others go to the cluster as one array job."""
    rows: list[dict[str, Any] | None] = []
    unfinished = []
    with reusing_scans():  # every cell planned now: each dataset scanned once
        planned = [_plan_cell(cell, name, force) for cell, _, name, force in arguments]
    for index, row in enumerate(planned):
        if row["state"] in ("skipped", "failed"):  # finished, or invalid: nothing to submit
            rows.append(progress.report(row))
        else:
            rows.append(row)
            unfinished.append(index)
    if not unfinished:
        return rows
    # Each cell trains into the folder planned now (a forced cell's "-2" folder also when its
    # job is requeued), in a runs folder the job must see (one token per runs folder).
    shared = {folder: slurm_requests.SharedFolder(folder)
              for folder in {Path(rows[i]["run_dir"]).parent for i in unfinished}}
    cells = [(*arguments[i], rows[i]["run_dir"]) for i in unfinished]
    jobs = slurm_requests.submit_cells(
        run_cell, cells, folder, requests, cluster=cluster,
        shared=[shared[Path(rows[i]["run_dir"]).parent] for i in unfinished])
    print(f"submitted {len(jobs)} cell(s) as job {jobs[0].job_id.split('_')[0]} "
          f"(logs in {folder})", flush=True)

    def on_end(position: int, result: dict[str, Any] | None, cause: str | None) -> None:
        index = unfinished[position]
        planned = rows[index]
        if result is None:
            cause = _with_memory(cause, requests)
            result = {**planned, "state": "failed",
                      "error": f"job {jobs[position].job_id}: {cause}"}
            slurm_requests.mark_dead(Path(planned["run_dir"]) if planned["run_dir"] else None,
                                     cause)
        rows[index] = progress.report(result)

    slurm_requests.wait_for(jobs, on_end)
    for token in shared.values():  # not on an interruption: queued jobs still look for it
        token.remove()
    return rows


def _plan_cell(cell: dict[str, Any], name: str, force: bool,
               run_dir: str | None = None) -> dict[str, Any]:
    """The summary row of a cell before it runs: its run id and folder, ``skipped`` where it
    is finished, else ``pending``; a cell whose configuration is unusable is ``failed``. Only
    the row is kept: the plan's data fingerprint holds the dataset's scan, which a cell must
    not hold in memory for the hours its notebook runs."""
    row = {"cell": name, "run_id": None, "state": "pending", "test_accuracy": None,
           "error": None, "run_dir": None}
    try:
        config = make_config(cell.get("profile"),
                             **{k: v for k, v in cell.items() if k != "profile"})
        check_config(config)
        plan = plan_run(config, force=force, run_dir=run_dir)
    except ThesisError as error:
        return {**row, "state": "failed", "error": f"{type(error).__name__}: {error}"}
    row.update(run_id=plan.run_dir.name, run_dir=str(plan.run_dir))
    if plan.action == "skip":
        row.update(state="skipped", test_accuracy=_test_accuracy(plan.run_dir))
    return row


def _with_memory(cause: str | None, requests: dict[str, Any]) -> str:
    cause = cause or "unknown"
    if cause.startswith("out of memory") and requests.get("mem_gb"):
        peak = cause.removeprefix("out of memory")  # ", peak 4.1 GB" where accounting works
        return f"out of memory: {requests['mem_gb']} GB requested{peak}"
    return cause


class _Progress:
    """One line per finished cell: which, how it ended, how long the grid has run, how many
    are left. The lines carry the prefix that ``thesis pipeline`` shows in the terminal."""

    def __init__(self, name: str, total: int) -> None:
        self.name, self.total, self.done = name, total, 0
        self.started = time.monotonic()

    def report(self, row: dict[str, Any]) -> dict[str, Any]:

        self.done += 1
        accuracy = row.get("test_accuracy")
        shown = f", test accuracy {accuracy:.4f}" if isinstance(accuracy, float) else ""
        error = f" ({row['error']})" if row.get("error") else ""
        minutes = (time.monotonic() - self.started) / 60
        left = self.total - self.done
        print(f"{PROGRESS_PREFIX}[{self.done}/{self.total}] {row['cell']}: "
              f"{row['state']}{shown}{error} ({minutes:.1f} min; {left} left)", flush=True)
        return row


def summary(grid: Grid) -> pd.DataFrame:
    """The state of every cell as found on disk (e.g. while SLURM jobs still run)."""

    with reusing_scans():
        rows = [_summary_row(grid, cell) for cell in grid.cells()]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _summary_row(grid: Grid, cell: dict[str, Any]) -> dict[str, Any]:
    name = grid.cell_name(cell)
    try:
        config = make_config(cell.get("profile"),
                             **{k: v for k, v in cell.items() if k != "profile"})
        check_config(config)
        # The folder plan_run would choose, without its refusal of a run that is live here.
        run_dir = config.runs_dir / config.run_id(data_fingerprint(config).value)
    except ConfigError as error:
        return {"cell": name, "state": "invalid", "error": str(error)}
    except ThesisError as error:  # no usable data: the cell cannot run (or has failed)
        return {"cell": name, "state": "failed", "error": str(error)}
    status = records.read_status(run_dir) or {}
    return {"cell": name, "run_id": run_dir.name,
            "state": _live_state(status) or _notebook_state(run_dir),
            "test_accuracy": _test_accuracy(run_dir), "error": status.get("error"),
            "run_dir": str(run_dir)}


def _live_state(status: dict[str, Any]) -> str | None:
    """The state in ``status.json``, with a ``running`` run whose process or SLURM job is
    gone shown as ``dead``."""
    state = status.get("state")
    if state != "running":
        return state
    job = status.get("slurm_job")
    if job:
        alive = slurm_requests.is_job_alive(str(job))
        return "dead" if alive is False else state
    if status.get("host") == socket.gethostname() and not records.is_alive_here(status):
        return "dead"
    return state


def _notebook_state(run_dir: Path) -> str:
    """``failed`` when the cell's notebook stopped before training started, else ``pending``."""
    notebook = run_dir / NOTEBOOK_NAME
    if notebook.is_file():
        metadata = json.loads(notebook.read_text()).get("metadata", {}).get("papermill", {})
        if metadata.get("exception"):
            return "failed"
    return "pending"

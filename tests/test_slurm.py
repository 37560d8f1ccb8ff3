"""Grids on a real SLURM cluster: an array job that finishes, requests and their checks, jobs
that die (cancelled, out of memory) with and without accounting, requeued cells that resume.

They need ``sbatch`` and a cluster that takes jobs: ``.ci/slurm/setup.sh`` (root, Debian) sets
up a single-node one, as ``.ci/run`` does. Without sbatch they are skipped, unless
THESIS_REQUIRE_SLURM is set (CI), where they fail.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from thesis_lib.experiments.grids import Grid, run_grid, summary
from thesis_lib.training import records

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

HOW_TO_GET_ONE = ("no SLURM cluster (sbatch not found); as root on Debian, .ci/slurm/setup.sh "
                  "sets up a single-node one")


# sinfo's short node states of a node that runs or will run jobs (not down, drained...).
TAKES_JOBS = {"idle", "mix", "alloc", "comp", "resv", "plnd"}


def require_cluster() -> None:
    """Skip without a cluster (fail where THESIS_REQUIRE_SLURM is set): no sbatch, or no node
    that takes jobs (daemons down after a reboot)."""
    if shutil.which("sbatch") is None:
        problem = HOW_TO_GET_ONE
    else:
        nodes = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
        states = nodes.stdout.split() if nodes.returncode == 0 else []
        if any(state.rstrip("*~#!%$@^-") in TAKES_JOBS for state in states):
            return
        problem = (f"no SLURM node takes jobs (sinfo: {' '.join(states) or nodes.stderr.strip()})"
                   "; .ci/slurm/setup.sh starts the test cluster's daemons")
    if os.environ.get("THESIS_REQUIRE_SLURM"):
        pytest.fail(f"THESIS_REQUIRE_SLURM is set but there is {problem}")
    pytest.skip(problem)


@pytest.fixture(autouse=True)
def _cluster(tmp_path):
    require_cluster()
    yield
    cancel_jobs_under(tmp_path)  # a test that failed leaves no job to slow down the next ones


def cancel_jobs_under(folder: Path) -> None:
    jobs = {path.name.split("_")[0] for path in folder.glob("**/*_submission.sh")}
    if jobs:
        subprocess.run(["scancel", *sorted(jobs)], check=False)


@pytest.fixture
def no_accounting(tmp_path, monkeypatch):
    """``sacct`` fails, as on clusters that restrict it (for submitit and the grid alike)."""
    folder = tmp_path / "no-sacct"
    folder.mkdir()
    fake = folder / "sacct"
    fake.write_text("#!/bin/sh\necho 'sacct: error: accounting storage is disabled' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture(scope="module", autouse=True)
def time_limited_cell(tiny_dataset, tiny_values, tmp_path_factory):
    """A cell with a two-minute time limit, started in the background as the module starts
    (it mostly waits: for the limit, the requeue, its pauses) and checked by the module's last
    test. Two minutes, with submitit's warning 30 s before the end, which SLURM sends up to a
    minute early: the first attempt is stopped 30-90 s in. A pause of 2 s after each of 40
    epochs keeps it from finishing first. The requeued attempt is given 15 minutes, as one
    asks an administrator for more time, and finishes."""
    require_cluster()
    tmp_path = tmp_path_factory.mktemp("time-limit")
    grid = tiny_cells(tiny_dataset, tiny_values, tmp_path, seeds=[0], epochs=40,
                      epoch_delay_s=2.0,
                      requests={"timeout_min": 2, "slurm_signal_delay_s": 30})
    thread, box = run_in_background(grid, tmp_path)
    box["run_dir"] = summary(grid)["run_dir"].map(Path)[0]
    logs = tmp_path / "logs"

    def requeued() -> bool:  # submitit's warning as it requeues the job at the time limit
        return "this job is timed-out" in "".join(p.read_text() for p in logs.glob("*_log.*"))

    def give_more_time() -> None:
        deadline = time.monotonic() + 300
        while not requeued():
            if time.monotonic() > deadline or not thread.is_alive():
                box["error"] = "no requeue at the time limit within 300 s"
                return
            time.sleep(1)
        box["epochs_at_limit"] = epochs_done(box["run_dir"])
        job = next(logs.glob("*_log.out")).name.split("_")[0]  # 57 of 57_0_log.out
        subprocess.run(["scontrol", "update", f"JobId={job}", "TimeLimit=15"], check=True)

    watcher = threading.Thread(target=give_more_time, daemon=True)
    watcher.start()
    yield thread, watcher, box
    cancel_jobs_under(tmp_path)  # never leave a job behind


def tiny_cells(tiny_dataset, tiny_values, tmp_path, *, seeds, requests=None, **overrides):
    fixed = tiny_values(tiny_dataset, tmp_path / "results", **overrides)
    return Grid(axes={"seed": list(seeds)}, fixed=fixed, profile="smoke", name="cluster",
                slurm={"cpus_per_task": 1, "mem_gb": 3, "timeout_min": 10, **(requests or {})})


def run_in_background(grid, tmp_path):
    """``run_grid`` on SLURM in a thread; returns (thread, box with the table once done)."""
    box = {}

    def target():
        try:
            box["table"] = run_grid(grid, executor="slurm", log_dir=tmp_path / "logs")
        except Exception as error:  # shown by the test, not as a missing table
            box["error"] = f"run_grid raised {type(error).__name__}: {error}"

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1)
    pytest.fail(f"{what} not within {seconds} s")


def epochs_done(run_dir: Path) -> int:
    history = run_dir / "history.csv"
    return len(pd.read_csv(history)) if history.is_file() else 0


def slurm_job_of(run_dir: Path) -> str | None:
    return (records.read_status(run_dir) or {}).get("slurm_job")


@pytest.mark.parametrize("request_, message", [
    ("slurm_partition=no_such_partition", "partition 'no_such_partition' does not exist"),
    # Checked by sbatch itself, which refuses the whole array.
    ("mem_gb=100000", "slurm: sbatch: error: Memory specification can not be satisfied"),
])
def test_a_request_the_cluster_cannot_grant_is_one_line_and_nothing_is_submitted(
        tiny_dataset, tmp_path, request_, message):
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text("profile: smoke\ngrid:\n  seed: [0]\n"
                         f"fixed: {{results_dir: {tmp_path / 'results'}, "
                         f"data_dir: {tiny_dataset}, backbone: Tiny, image_size: 32}}\n")
    done = subprocess.run([sys.executable, "-m", "thesis_lib", "grid", str(grid_file),
                           "--executor", "slurm", "--slurm", request_],
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    # Nothing was submitted: submitit writes its submission script into the log folder.
    assert not list((tmp_path / "results").glob("grid-logs/**/*_submission.sh"))


def test_a_cancelled_cell_is_reported_without_accounting_then_resumes_when_resubmitted(
        tiny_dataset, tiny_values, tmp_path, no_accounting):
    # A pause after each epoch: the cell is still training when it is cancelled.
    grid = tiny_cells(tiny_dataset, tiny_values, tmp_path, seeds=[0], epochs=20,
                      epoch_delay_s=0.5)
    thread, box = run_in_background(grid, tmp_path)
    run_dir = summary(grid)["run_dir"].map(Path)[0]
    wait_until(lambda: epochs_done(run_dir) >= 2, 300, "two epochs")

    subprocess.run(["scancel", slurm_job_of(run_dir)], check=True)
    cancelled_at = time.monotonic()
    thread.join(timeout=120)

    assert not thread.is_alive(), "the grid did not notice the cancelled job"
    assert time.monotonic() - cancelled_at < 60
    row = box["table"].iloc[0]
    assert row["state"] == "failed" and "cancelled" in row["error"], row.to_dict()
    assert row["run_dir"] == str(run_dir) and row["run_id"] == run_dir.name
    status = records.read_status(run_dir)
    assert status["state"] == "failed" and "cancelled" in status["error"]
    assert summary(grid)["state"].tolist() == ["failed"]
    assert (tmp_path / "results" / "grids" / "cluster-summary.csv").is_file()

    # Resubmitted: the cell resumes from its last epoch and finishes.
    epochs_before = epochs_done(run_dir)
    table = run_grid(grid, executor="slurm", log_dir=tmp_path / "logs")
    assert table["state"].tolist() == ["finished"]
    assert epochs_done(run_dir) == 20 and 2 <= epochs_before < 20
    assert records.read_status(run_dir)["attempts"] == 2


def test_status_tells_a_running_cell_from_one_whose_job_died(
        tiny_dataset, tiny_values, tmp_path):
    grid = tiny_cells(tiny_dataset, tiny_values, tmp_path, seeds=[0], epochs=1)
    run_dir = Path(summary(grid)["run_dir"][0])
    run_dir.mkdir(parents=True)
    # A job that dies so hard that nothing updates status.json (as on a node failure).
    job = subprocess.run(["sbatch", "--parsable", "-t", "1", "--mem=100M", "-o", "/dev/null",
                          "--wrap", "sleep 60"], capture_output=True, text=True, check=True)
    job_id = job.stdout.strip().split(";")[0]
    status = {"state": "running", "pid": 1, "host": "elsewhere", "slurm_job": job_id}
    (run_dir / "status.json").write_text(json.dumps(status))
    assert summary(grid)["state"].tolist() == ["running"]

    try:
        subprocess.run(["scancel", "--signal=KILL", "--full", job_id], check=True)
        wait_until(lambda: summary(grid)["state"].tolist() == ["dead"], 30, "dead")
    finally:
        subprocess.run(["scancel", job_id], check=False)


@pytest.mark.parametrize("accounting", [True, False], ids=["accounting", "no-accounting"])
def test_a_cell_over_its_memory_is_reported_as_out_of_memory(
        tiny_dataset, tiny_values, tmp_path, request, accounting):
    if not accounting:
        request.getfixturevalue("no_accounting")
    # 0.1 GB: the job's own process (about 0.2 GB with its imports) is killed while it starts;
    # SLURM's accounting or the job's log says why. (A kernel killed inside a job that lives on
    # is the next test's.)
    grid = tiny_cells(tiny_dataset, tiny_values, tmp_path, seeds=[0], epochs=1,
                      requests={"mem_gb": 0.1})

    started = time.monotonic()
    row = run_grid(grid, executor="slurm", log_dir=tmp_path / "logs").iloc[0]

    assert row["state"] == "failed", row.to_dict()
    assert "out of memory: 0.1 GB requested, peak" in row["error"], row.to_dict()
    assert row["run_id"] and time.monotonic() - started < 240
    status = records.read_status(Path(row["run_dir"]))
    assert status["state"] == "failed" and "out of memory" in status["error"]


def test_a_job_whose_child_was_killed_for_memory_says_so_from_its_cgroup(tmp_path):
    # As when a cell's notebook kernel, the job's largest process, is killed mid-training while
    # the job itself lives on: the job reads the kill and its peak from its memory cgroup.
    script = ("import subprocess, sys\n"
              "from thesis_lib.experiments import slurm\n"
              "code = 'x = bytearray(1500 * 2**20); x[::4096] = bytes(len(x[::4096]))'\n"
              "child = subprocess.run([sys.executable, '-c', code])\n"
              "print('child', child.returncode, slurm.out_of_memory_here(), "
              "slurm.out_of_memory_line())\n")
    (tmp_path / "job.py").write_text(script)
    output = tmp_path / "job.out"
    # --wait: until the job ends (SLURM then calls it out of memory: exit status 1).
    subprocess.run(["sbatch", "--wait", "--mem=1G", "-t", "5", "-o", str(output),
                    "--wrap", f"{sys.executable} {tmp_path / 'job.py'}"],
                   check=False, capture_output=True, timeout=180)

    said = output.read_text()
    assert "child -9 True out of memory: 1 GB requested, peak " in said, said


def train_with_one_thread(values: dict) -> Path:
    """Train in a fresh process with TensorFlow's thread pools at 1, as in a 1-CPU job."""
    script = ("import json, sys\nfrom thesis_lib.training import make_config, run_training\n"
              "print(run_training(make_config('smoke', **json.loads(sys.argv[1]))))")
    environment = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(values)], env=environment,
                          capture_output=True, text=True, timeout=300, check=True)
    return Path(done.stdout.strip().splitlines()[-1])


def history_without_times(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "history.csv").drop(columns=["seconds"])


def test_two_cells_run_as_one_array_job_and_a_requeued_one_resumes_into_the_same_history(
        tiny_dataset, tiny_values, tmp_path, capsys):
    # A pause after each epoch (not in the history compared): still training when requeued.
    grid = tiny_cells(tiny_dataset, tiny_values, tmp_path, seeds=[0, 1], epochs=12,
                      epoch_delay_s=0.5)
    thread, box = run_in_background(grid, tmp_path)
    requeued = summary(grid)["run_dir"].map(Path)[0]
    wait_until(lambda: epochs_done(requeued) >= 2, 300, "two epochs")
    epochs_at_requeue = epochs_done(requeued)

    subprocess.run(["scontrol", "requeue", slurm_job_of(requeued)], check=True)
    # The old attempt stops training when SLURM signals it (the job stops its notebook's
    # kernel, a session of its own that SLURM's signal does not reach), not 10 s later at the
    # end of the grace period; its next attempt starts only after about 20 s.
    time.sleep(3)
    epochs_when_signalled = epochs_done(requeued)
    time.sleep(6)
    assert epochs_done(requeued) == epochs_when_signalled, "the old attempt trained on"
    thread.join(timeout=300)

    assert not thread.is_alive()
    table = box["table"]
    assert table["state"].tolist() == ["finished", "finished"], table.to_string()
    jobs = [records.read_status(Path(d))["slurm_job"] for d in table["run_dir"]]
    assert {job.split("_")[0] for job in jobs} == {jobs[0].split("_")[0]}  # one array job
    assert sorted(job.split("_")[1] for job in jobs) == ["0", "1"]
    for run_dir in map(Path, table["run_dir"]):
        assert epochs_done(run_dir) == 12
        threads = json.loads((run_dir / "config.json").read_text())["environment"]["cpu_threads"]
        assert threads["slurm_cpus_per_task"] == 1
        assert threads["TF_NUM_INTRAOP_THREADS"] == threads["TF_NUM_INTEROP_THREADS"] == "1"
        assert 0.2 < records.read_status(run_dir)["peak_memory_gb"] < 3
    assert records.read_status(requeued)["attempts"] >= 2 and epochs_at_requeue < 12
    # Deterministic ops: the requeued run trained exactly as one that never stopped, given
    # the same number of threads (TensorFlow's sums depend on how they are split).
    uninterrupted = train_with_one_thread(
        tiny_values(tiny_dataset, tmp_path / "uninterrupted", seed=0, epochs=12))
    assert uninterrupted.name == requeued.name
    pd.testing.assert_frame_equal(history_without_times(requeued),
                                  history_without_times(uninterrupted))
    # Run again: finished cells are not submitted at all.
    capsys.readouterr()
    again = run_grid(grid, executor="slurm", log_dir=tmp_path / "logs")
    assert again["state"].tolist() == ["skipped", "skipped"]
    assert "submitted" not in capsys.readouterr().out


def test_the_pipeline_checks_its_slurm_requests_before_running_a_notebook(tmp_path):
    done = subprocess.run([sys.executable, "-m", "thesis_lib", "pipeline", "--profile", "smoke",
                           "--results-dir", str(tmp_path / "results"), "--executor", "slurm",
                           "--slurm", "gpus_per_node=1"],
                          capture_output=True, text=True, timeout=120)

    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "1 GPU(s) requested, but partition default has no GPUs" in lines[0]
    assert not (tmp_path / "results" / "notebooks" / "01_data_exploration.ipynb").exists()


def test_a_cell_that_reaches_its_time_limit_is_requeued_and_finishes(time_limited_cell):
    thread, watcher, box = time_limited_cell
    thread.join(timeout=600)
    watcher.join(timeout=10)

    assert not thread.is_alive(), "the time-limited cell did not end"
    assert "error" not in box, box.get("error")
    row = box["table"].iloc[0]
    assert row["state"] == "finished", row.to_dict()
    assert box["epochs_at_limit"] < 40 and epochs_done(box["run_dir"]) == 40
    assert records.read_status(box["run_dir"])["attempts"] == 2

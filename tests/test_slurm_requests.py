"""The SLURM logic that needs no cluster: requests from the profile, their checks, the cause of
a dead job read from its log, the one-line error of a job, the shared-folder check. The same
paths run against a real cluster in tests/test_slurm.py."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from thesis_lib.errors import ConfigError, ThesisError
from thesis_lib.experiments import grids, slurm


def test_requests_come_from_the_profile_then_each_override():
    assert slurm.requests_for("smoke") == {"mem_gb": 4, "timeout_min": 30, "cpus_per_task": 2}
    thesis = slurm.requests_for("configs/thesis.yaml", {"mem_gb": 48}, {"timeout_min": 1440})
    assert thesis == {"mem_gb": 48, "timeout_min": 1440, "cpus_per_task": 8,
                      "gpus_per_node": 1}
    # GPUs only when wanted: a zero request leaves the option out of sbatch altogether.
    assert "gpus_per_node" not in slurm.requests_for("thesis", {"gpus_per_node": 0})


@pytest.fixture
def cluster(monkeypatch):
    """A cluster with one partition ``debug`` and no GPUs, as far as the checks can tell."""
    monkeypatch.setattr(slurm.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(slurm, "_partitions", lambda: {"debug"})
    monkeypatch.setattr(slurm, "_gres", lambda partition: [])
    monkeypatch.setattr(slurm, "_time_limit_minutes", lambda partition: None)


@pytest.mark.parametrize("override, message", [
    ({"timeout_min": 0}, "timeout_min must be a whole number of minutes >= 1, got 0"),
    ({"timeout_min": "2h"}, "timeout_min must be a whole number of minutes >= 1, got '2h'"),
    ({"mem_gb": -1}, "mem_gb must be a positive number, got -1"),
    ({"slurm_partition": "gpu"}, "partition 'gpu' does not exist; valid: debug"),
    ({"gpus_per_node": 1}, "1 GPU(s) requested, but partition default has no GPUs"),
])
def test_a_request_the_cluster_cannot_grant_is_one_config_error(cluster, override, message):
    with pytest.raises(ConfigError) as caught:
        slurm.check_requests(slurm.requests_for("smoke", override))
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("listed, minutes", [
    ("1-12:00:00\n", 2160), ("30:00\n", 30), ("2:00:00\n4:00:00\n", 240), ("infinite\n", None),
])
def test_the_partition_time_limit_is_read_from_sinfo(monkeypatch, listed, minutes):
    monkeypatch.setattr(slurm, "_command", lambda arguments, timeout=30: listed)
    assert slurm._time_limit_minutes("gpu") == minutes


def test_a_time_limit_above_the_partition_is_one_config_error(cluster, monkeypatch):
    monkeypatch.setattr(slurm, "_time_limit_minutes", lambda partition: 1440)
    with pytest.raises(ConfigError, match="timeout_min 2880 is above the partition's limit of "
                                          "1440 min"):
        slurm.check_requests(slurm.requests_for("thesis", {"timeout_min": 2880,
                                                           "gpus_per_node": 0}))


def test_a_profile_that_extends_thesis_asks_for_what_thesis_asks(tmp_path):
    (tmp_path / "mine.yaml").write_text("profile: thesis\nepochs: 80\n")
    (tmp_path / "mine2.yaml").write_text(f"profile: {tmp_path / 'mine.yaml'}\n")
    assert slurm.requests_for(str(tmp_path / "mine2.yaml")) == slurm.requests_for("thesis")


def test_a_grantable_request_passes(cluster):
    slurm.check_requests(slurm.requests_for("smoke", {"slurm_partition": "debug"}))


def dead_job(tmp_path: Path, log: str):
    stderr = tmp_path / "job_0_log.err"
    stderr.write_text(log)
    return SimpleNamespace(job_id="17_0", paths=SimpleNamespace(
        stderr=stderr, stdout=tmp_path / "job_0_log.out"))


@pytest.mark.parametrize("log, cause", [
    ("slurmstepd: error: *** JOB 17 ON vm CANCELLED AT 2026-12-06T02:10:00 ***\n"
     "submitit WARNING (2026-12-06 02:10:00) - Bypassing signal SIGTERM\n",
     "cancelled (scancel)"),
    ("slurmstepd: error: *** STEP 17.0 ON vm CANCELLED AT 2026-12-06T02:10:00 by 0 ***\n",
     "cancelled by user 0 (scancel)"),
    ("slurmstepd: error: Detected 1 oom-kill event(s) in StepId=17.0.\n",
     "out of memory, peak not recorded (no accounting of the job's memory)"),
    ("slurmstepd: error: *** JOB 17 ON vm CANCELLED AT 2026-12-06T02:10:00 DUE TO TIME LIMIT ***",
     "time limit reached"),
    ("Traceback (most recent call last):\nRuntimeError: boom\n",
     "the job died without a result (RuntimeError: boom)"),
    # A requeued job's log holds every attempt: an earlier requeue is not the cause.
    ("slurmstepd: error: *** JOB 17 ON vm CANCELLED AT 2026-12-06T02:10:00 DUE TO JOB REQUEUE"
     " ***\nsubmitit INFO - Starting with JobEnvironment(job_id=17)\nRuntimeError: boom\n",
     "the job died without a result (RuntimeError: boom)"),
    ("slurmstepd: error: *** JOB 17 ON vm CANCELLED AT 2026-12-06T02:10:00 DUE TO PREEMPTION ***",
     "preempted"),
    ("submitit.core.utils.UncompletedJobError: Job not requeued because: timed-out too many "
     "times.", "time limit reached too many times"),
])
def test_without_accounting_the_cause_of_death_is_read_from_the_log(
        tmp_path, monkeypatch, log, cause):
    monkeypatch.setattr(slurm, "_command", lambda arguments, timeout=30: None)  # sacct fails
    assert slurm.death_cause(dead_job(tmp_path, log)) == cause


def test_with_accounting_its_state_and_peak_memory_say_why(tmp_path, monkeypatch):
    answers = {"State,ReqMem": "OUT_OF_MEMORY|3G\n", "MaxRSS": "\n2304M\n3251200K\n"}
    monkeypatch.setattr(slurm, "_command",
                        lambda arguments, timeout=30: answers[arguments[-1]])
    cause = slurm.death_cause(dead_job(tmp_path, ""))
    assert cause == f"out of memory, peak {3251200 / 1024**2:.2f} GB"
    # The grid's row names what was requested too.
    assert grids._with_memory(cause, {"mem_gb": 3}) == "out of memory: 3 GB requested, peak 3.10 GB"


def test_the_line_of_a_job_error_that_says_what_happened():
    message = ("Job (task=0) failed during processing with trace:\n"
               "----------------------\n"
               "Traceback (most recent call last):\n"
               '  File "x.py", line 1, in <module>\n'
               "thesis_lib.errors.ThesisError: this job cannot see the results folder\n"
               "----------------------\n"
               "You can check full logs with 'job.stderr(0)' and 'job.stdout(0)'")
    assert slurm._error_line(message) == "ThesisError: this job cannot see the results folder"


def test_a_job_that_cannot_see_the_results_folder_says_so_before_it_trains(tmp_path):
    calls = []
    shared = slurm.SharedFolder(tmp_path / "results" / "runs")
    cell = slurm.CheckpointableCell(lambda value: calls.append(value) or {"state": "finished"},
                                    1, shared=shared)
    assert cell() == {"state": "finished"} and calls == [1]

    shared.remove()  # as a node whose /results is another folder of the same name sees it
    with pytest.raises(ThesisError, match=r"cannot see the results folder .*results/runs .* "
                                          r"filesystem that the cluster's nodes share"):
        cell()
    assert calls == [1]  # nothing was trained into the wrong folder
    assert not list((tmp_path / "results" / "runs").iterdir())


@pytest.mark.parametrize("megabytes, said", [("307", "0.3 GB"), ("1024", "1 GB"),
                                             ("3072", "3 GB"), ("1536", "1.5 GB")])
def test_the_memory_a_job_requested_is_said_as_it_was_asked(monkeypatch, megabytes, said):
    # submitit hands SLURM whole MB (0.3 GB -> 307 MB); the line says what the user asked for.
    monkeypatch.setenv("SLURM_MEM_PER_NODE", megabytes)
    monkeypatch.setattr(slurm, "_memory_cgroups", lambda: [])
    assert slurm.out_of_memory_line() == f"out of memory: {said} requested"

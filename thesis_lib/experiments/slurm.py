"""A grid's cells as one SLURM array job (through ``submitit``), watched until each ends.

The requests (memory, time limit, CPUs, GPUs) come from the profile's defaults
(:data:`PROFILE_REQUESTS`), then the grid file's ``slurm:`` section, then the command line's
``--slurm NAME=VALUE``; they are checked against the cluster (partition, GPUs, time) before
anything is submitted. Each cell is checkpointable: a cell that reaches its time limit or is
preempted is requeued by submitit and resumes from its last completed epoch.

The watcher does not rely on accounting (``sacct``), which many clusters restrict: a job that
is no longer in ``squeue`` and left no result has died, and the cause is read from ``sacct``
where it works, else from the job's log (cancelled, time limit, out of memory).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from thesis_lib.config.training import profile_path
from thesis_lib.errors import ConfigError, ThesisError
from thesis_lib.experiments.execute import stderr_to
from thesis_lib.training import records

# What a cell of each profile asks for. A smoke cell peaks at about 2.4 GB (measured). The
# thesis (B2, 256 px) and dissertation (V2-S, 300 px) cells run for hours on one GPU; their
# 32 GB are not measured on a real cell (no GPU or dataset where this was written): they hold a
# memory cache of 61k images at 256 px (10.8 GB measured, docs/data.md) and TensorFlow with
# room to spare. Each finished run records its peak (status.json: peak_memory_gb), from which
# to set mem_gb.
PROFILE_REQUESTS: dict[str, dict[str, Any]] = {
    "smoke": {"mem_gb": 4, "timeout_min": 30, "cpus_per_task": 2},
    "demo": {"mem_gb": 4, "timeout_min": 30, "cpus_per_task": 2},
    "thesis": {"mem_gb": 32, "timeout_min": 720, "cpus_per_task": 8, "gpus_per_node": 1},
    "dissertation": {"mem_gb": 32, "timeout_min": 720, "cpus_per_task": 8, "gpus_per_node": 1},
}
DEFAULT_REQUESTS = PROFILE_REQUESTS["smoke"]
# How often a cell is requeued after reaching its time limit before it is given up.
MAX_REQUEUES = 3
POLL_SECONDS = 5.0


def requests_for(profile: str | None, *overrides: dict[str, Any] | None) -> dict[str, Any]:
    """submitit parameters of a cell: the defaults of the profile (or of the built-in profile
    a YAML profile extends), then each of ``overrides``."""
    chosen = dict(PROFILE_REQUESTS.get(_built_in_profile(profile), DEFAULT_REQUESTS))
    for override in overrides:
        chosen.update(override or {})
    if not chosen.get("gpus_per_node"):
        chosen.pop("gpus_per_node", None)  # GPUs only when wanted
    return chosen


def _built_in_profile(profile: str | os.PathLike | None) -> str:
    """``thesis`` for a YAML profile that says ``profile: thesis`` (or extends one that does)."""
    seen: set[Path] = set()
    while profile and Path(str(profile)).stem not in PROFILE_REQUESTS:
        path = profile_path(profile)
        if path in seen or not path.is_file():
            break
        seen.add(path)
        try:
            profile = (yaml.safe_load(path.read_text()) or {}).get("profile")
        except (OSError, yaml.YAMLError, AttributeError):
            break
    return Path(str(profile)).stem if profile else "smoke"


def check_requests(requests: dict[str, Any]) -> None:
    """A request the cluster cannot grant is one ``ConfigError`` line, before any submission."""
    if shutil.which("sbatch") is None:
        raise ConfigError("executor slurm: sbatch not found; run on a SLURM login node "
                          "(or set up a test cluster with .ci/slurm/setup.sh)")
    timeout = requests.get("timeout_min")
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
        raise ConfigError(f"slurm: timeout_min must be a whole number of minutes >= 1, "
                          f"got {timeout!r}")
    memory = requests.get("mem_gb")
    if memory is not None and (not isinstance(memory, int | float) or memory <= 0):
        raise ConfigError(f"slurm: mem_gb must be a positive number, got {memory!r}")
    partitions = _partitions()
    if partitions is None:
        raise ConfigError("slurm: sinfo failed: the SLURM controller cannot be reached")
    partition = requests.get("slurm_partition")
    if partition is not None and partition not in partitions:
        raise ConfigError(f"slurm: partition {partition!r} does not exist; "
                          f"valid: {', '.join(sorted(partitions)) or 'none'}")
    longest = _time_limit_minutes(partition)
    if longest is not None and timeout > longest:
        raise ConfigError(f"slurm: timeout_min {timeout} is above the partition's limit of "
                          f"{longest} min ({partition or 'default partition'})")
    gpus = requests.get("gpus_per_node")
    gres = requests.get("slurm_gres")
    if gpus or gres:
        available = _gres(partition)
        if not any(name.startswith("gpu") for name in available):
            wanted = f"gres {gres!r}" if gres else f"{gpus} GPU(s)"
            raise ConfigError(f"slurm: {wanted} requested, but partition "
                              f"{partition or 'default'} has no GPUs (gres: "
                              f"{', '.join(available) or 'none'}); drop gpus_per_node")


def _partitions() -> set[str] | None:
    listed = _command(["sinfo", "-h", "-o", "%R"])
    return set(listed.split()) if listed is not None else None


def _time_limit_minutes(partition: str | None) -> int | None:
    """The partition's MaxTime in minutes (``1-12:00:00``, ``30:00``), None when unlimited."""
    listed = _command(["sinfo", "-h", "-o", "%l"] + (["-p", partition] if partition else []))
    limits = []
    for text in (listed or "").split():
        match = re.fullmatch(r"(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)", text)
        if match:
            days, hours, minutes, _ = (int(group or 0) for group in match.groups())
            limits.append(days * 1440 + hours * 60 + minutes)
    return max(limits) if limits and "infinite" not in (listed or "") else None


def _gres(partition: str | None) -> list[str]:
    arguments = ["sinfo", "-h", "-o", "%G"] + (["-p", partition] if partition else [])
    listed = _command(arguments) or ""
    return [name for name in listed.split() if name != "(null)"]


def _command(arguments: list[str], timeout: float = 30) -> str | None:
    """A SLURM command's output, or None where it fails (e.g. ``sacct`` without accounting)."""
    try:
        done = subprocess.run(arguments, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


# --- the cell as a checkpointable job


# Set in a job once submitit checkpoints it for a requeue.
_requeuing = False


class CheckpointableCell:
    """One grid cell as a submitit job that submitit requeues on time limit or preemption.

    Training resumes from the run's last completed epoch (``run_training`` finds the
    checkpoint in the run folder), so a requeued cell only starts again.
    """

    def __init__(self, function, *arguments: Any, shared: SharedFolder | None = None) -> None:
        self.function = function
        self.arguments = arguments
        self.shared = shared

    def __call__(self) -> dict[str, Any]:
        if os.environ.get("SLURM_JOB_ID"):
            signal.signal(signal.SIGTERM, _stop_on_sigterm)
        if self.shared is not None:
            self.shared.check()
        try:
            return self.function(*self.arguments)
        except SystemExit:
            if _requeuing:
                # The kernel was stopped for a requeue: this attempt leaves no result, the
                # next one gives it.
                os._exit(1)
            raise

    def checkpoint(self):
        import submitit

        global _requeuing
        _requeuing = True
        stop_kernels()  # the old attempt stops training now, not when the step is killed
        return submitit.helpers.DelayedSubmission(
            CheckpointableCell(self.function, *self.arguments, shared=self.shared))


def requeuing() -> bool:
    """Whether this job is being checkpointed for a requeue (its kernel was stopped)."""
    return _requeuing


def out_of_memory_here() -> bool:
    """Whether the memory limit of this process's cgroup (the SLURM job's) killed a process."""
    for folder in _memory_cgroups():
        for name in ("memory.oom_control", "memory.events"):  # cgroup v1, v2
            with contextlib.suppress(OSError):
                if re.search(r"^oom_kill [1-9]", (folder / name).read_text(), re.M):
                    return True
    return False


def out_of_memory_line() -> str:
    """``out of memory: 3 GB requested, peak 3.00 GB`` from this job's cgroup."""
    requested = os.environ.get("SLURM_MEM_PER_NODE")  # in MB
    peak = None
    for folder in _memory_cgroups():
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            with contextlib.suppress(OSError, ValueError):
                peak = max(peak or 0, int((folder / name).read_text()))
    # SLURM keeps whole MB: 0.3 GB is 307 MB, said as 0.3 GB again (three digits).
    said = f"{int(requested) / 1024:.3g} GB requested" if requested else "memory limit reached"
    return f"out of memory: {said}" + (f", peak {peak / 1024**3:.2f} GB" if peak else "")


def _memory_cgroups() -> list[Path]:
    """This process's memory cgroup folders (v1 ``memory`` controller, or v2's unified one),
    from the job's step up to the job."""
    folders = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(",") or controllers == "":
                root = Path("/sys/fs/cgroup") / ("memory" if controllers else "")
                folder = root / path.lstrip("/")
                folders += [folder, *[p for p in folder.parents if "job_" in p.name]]
    return folders


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    """scancel or a requeue: SLURM signals this process, not the notebook's kernel (a session
    of its own), which would otherwise train on through the grace period. The job ends
    without a result, so the grid asks SLURM what happened (a requeued job comes back)."""
    stop_kernels()
    sys.stderr.write("thesis: stopped by SIGTERM (job cancelled, preempted or requeued)\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def stop_kernels() -> None:
    """Terminate this process's child processes (the papermill kernel) with their groups."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == me:  # the parent process id
            child = int(stat.parent.name)
            try:
                group = os.getpgid(child)
                if group == os.getpgrp():  # a child in this job's own group: just the child
                    os.kill(child, signal.SIGTERM)
                else:
                    os.killpg(group, signal.SIGTERM)
            except OSError:
                with contextlib.suppress(OSError):
                    os.kill(child, signal.SIGTERM)


class SharedFolder:
    """A token file the submitting process leaves in a results folder, which each job looks
    for before it trains: a job on a node that does not share the folder (a node-local
    ``/scratch/results`` of the same name, say) would otherwise train into a folder that
    nobody sees. Removed with :meth:`remove` once the jobs have ended.

    Args:
        folder: the results folder the jobs write into.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.token = self.folder / f".thesis-shared-{uuid.uuid4().hex}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.token.write_text(socket.gethostname())

    def check(self) -> None:
        if not self.token.is_file():
            raise ThesisError(
                f"this job (on {socket.gethostname()}) cannot see the results folder "
                f"{self.folder} that the submitting machine ({self.token.name}) wrote into; "
                f"the results folder and the environment must be on a filesystem that the "
                f"cluster's nodes share")

    def remove(self) -> None:
        self.token.unlink(missing_ok=True)


def submit_cells(function, arguments: list[tuple], folder: Path,
                 requests: dict[str, Any], *, cluster: str,
                 shared: list[SharedFolder] | None = None) -> list:
    """Submit ``function(*args)`` for each of ``arguments`` as one array job; the jobs.
    ``shared``: the results folder each job must see, one per cell."""
    import submitit
    from submitit.core.utils import FailedJobError

    bound = {"slurm_max_num_timeout": MAX_REQUEUES} if cluster == "slurm" else {}
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster, **bound)
    try:
        executor.update_parameters(**requests)
    except (NameError, TypeError, ValueError) as error:  # an unknown or mistyped parameter
        raise ConfigError(f"slurm: {str(error).splitlines()[0]}") from None
    tokens = shared or [None] * len(arguments)
    # sbatch writes its refusals to the terminal: caught, they become the one line below.
    with tempfile.TemporaryFile("w+", encoding="utf-8") as said_by_sbatch:
        try:
            with stderr_to(said_by_sbatch), executor.batch():
                jobs = [executor.submit(CheckpointableCell(function, *args, shared=token))
                        for args, token in zip(arguments, tokens, strict=True)]
        except FailedJobError as error:  # sbatch refused the array: nothing was submitted
            said_by_sbatch.seek(0)
            text = said_by_sbatch.read() + "\n" + str(error)
            said = [line.strip() for line in text.splitlines() if "error:" in line]
            raise ConfigError(f"slurm: {said[0] if said else 'sbatch failed'}") from None
    return jobs


# --- watching the jobs


def wait_for(jobs: list, on_end, poll_seconds: float = POLL_SECONDS) -> None:
    """Call ``on_end(index, result, cause)`` as each job ends: ``result`` is the job's return
    value, or ``None`` with ``cause`` the reason in words where the job died."""
    pending = dict(enumerate(jobs))
    missing: set[int] = set()  # not in squeue at the last poll, and no result seen
    while pending:
        queued = _queued_ids() if any(_on_slurm(j) for j in pending.values()) else None
        for index, job in list(pending.items()):
            outcome = _outcome(job, queued, gone_before=index in missing)
            if outcome == "missing":
                missing.add(index)
            elif outcome is not None:
                del pending[index]
                on_end(index, *outcome)
            else:
                missing.discard(index)
        if pending:
            time.sleep(poll_seconds)


def _on_slurm(job) -> bool:
    return type(job).__name__ == "SlurmJob"


def _outcome(job, queued: set[str] | None, gone_before: bool = False):
    """(result, None) for a job that returned, (None, cause) for one that died, None while it
    runs, ``"missing"`` the first time it is neither queued nor done: a job dies only when it
    was missing from ``squeue`` at two polls in a row, which leaves a shared filesystem time
    to show its result and ``scontrol requeue`` time to put it back in the queue."""
    with contextlib.suppress(OSError):  # refreshes a network filesystem's view of the folder
        folder = job.paths.result_pickle.parent
        folder.chmod(folder.stat().st_mode)
    if job.paths.result_pickle.exists():
        try:
            return job.result(), None
        except Exception as error:  # raised in the job, or submitit's own "not requeued"
            return None, _error_line(str(error))
    if not _on_slurm(job):
        return None if not job.done() else (None, "the job ended without a result")
    if job.job_id in queued or job.job_id.split("_")[0] in queued:
        return None
    return (None, death_cause(job)) if gone_before else "missing"


def _queued_ids() -> set[str]:
    """Job ids in ``squeue`` (array tasks as ``<array>_<task>``); a failing squeue counts as
    all queued, so a cluster hiccup never declares a job dead. ``-r``: a pending array's
    tasks one a line, not as ``<array>_[0-1]``."""
    listed = _command(["squeue", "--me", "-h", "-r", "-o", "%i"])
    if listed is None:
        return _EVERYTHING
    return {line.strip() for line in listed.splitlines() if line.strip()}


class _Everything(set):
    def __contains__(self, item: object) -> bool:
        return True


_EVERYTHING = _Everything()


def death_cause(job) -> str:
    """Why a job that left no result ended, in words: from ``sacct`` where accounting works,
    else from the job's log."""
    accounted = _command(["sacct", "-n", "-X", "-P", "-j", job.job_id, "-o", "State,ReqMem"])
    state = accounted.split("|")[0].strip() if accounted and accounted.strip() else ""
    log = ""
    for path in (job.paths.stderr, job.paths.stdout):
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        # Every attempt of a requeued job appends to the log: the last one's part, and no
        # line of an earlier requeue ("CANCELLED AT ... DUE TO JOB REQUEUE").
        start = text.rfind("Starting with JobEnvironment")
        log += "\n".join(line for line in text[max(start, 0):].splitlines()
                         if "DUE TO JOB REQUEUE" not in line) + "\n"
    if state.startswith("OUT_OF_ME") or re.search(r"oom[-_ ]kill|out of memory", log, re.I):
        return "out of memory" + _peak_memory(job.job_id)
    if state.startswith("TIMEOUT") or "DUE TO TIME LIMIT" in log or "timed-out too many" in log:
        return "time limit reached" + (" too many times" if "too many" in log else "")
    if state.startswith("PREEMPTED") or "DUE TO PREEMPTION" in log:
        return "preempted"
    if state.startswith("NODE_FAIL") or "DUE TO NODE FAILURE" in log:
        return "the node failed"
    cancelled = re.search(r"CANCELLED AT \S+ (?:DUE TO (\w+)|by (\S+))?", log)
    if state.startswith("CANCELLED") or cancelled:
        who = cancelled.group(2) if cancelled and cancelled.group(2) else None
        return f"cancelled{f' by user {who}' if who else ''} (scancel)"
    if state:
        return f"the job ended as {state.split()[0].lower()}"
    lines = [line for line in log.splitlines() if "Bypassing signal" not in line and line]
    return f"the job died without a result ({lines[-1] if lines else 'no log'})"


def _peak_memory(job_id: str) -> str:
    """``, peak 4.1 GB`` from accounting (the largest step's MaxRSS), or that it is unknown."""
    listed = _command(["sacct", "-n", "-P", "-j", job_id, "-o", "MaxRSS"]) or ""
    units = {"K": 1024**-2, "M": 1024**-1, "G": 1.0}
    peaks = [float(value[:-1]) * units[value[-1]] for value in listed.split()
             if value[-1:] in units and value[:-1].replace(".", "", 1).isdigit()]
    if not peaks or max(peaks) == 0:  # no accounting, or a step killed before it was sampled
        return ", peak not recorded (no accounting of the job's memory)"
    return f", peak {max(peaks):.2f} GB"


def _error_line(message: str) -> str:
    """The line of a submitit error that says what happened (not its last, often a log)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception)\b|not requeued", line):
            return re.sub(r"^(\w+\.)+", "", line)  # thesis_lib.errors.ThesisError: ...
    return lines[-1] if lines else "unknown error"


def is_job_alive(job_id: str) -> bool | None:
    """Whether the SLURM job still runs or waits; None where that cannot be known here."""
    if shutil.which("squeue") is None:
        return None
    listed = _command(["squeue", "-h", "-r", "-j", job_id, "-o", "%T"])
    if listed is None:
        return False if _command(["squeue", "-h", "-o", "%i"]) is not None else None
    return bool(listed.strip())


def mark_dead(run_dir: Path | None, cause: str) -> None:
    """The run of a job that died is marked failed with the cause (a finished run never); a
    job that died before it made the run folder leaves the folder with just this status."""
    if run_dir is None:
        return
    status = records.read_status(run_dir) or {}
    if status.get("state") == "finished":
        return
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        records.write_status(run_dir, "failed", error=cause)
    except (OSError, ThesisError):
        pass  # an unwritable results folder: the summary row still says what happened

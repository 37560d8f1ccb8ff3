"""One notebook run headlessly with papermill: its executed copy, its log and its progress lines.

The kernel's own output (TensorFlow's C++ start-up logs, written straight to the process's
standard error) and the notebook's stderr stream go to a log file beside the executed notebook;
the lines a notebook prints with :data:`PROGRESS_PREFIX` (a grid's per-run lines) are shown in
the terminal. A failed notebook is one ``ThesisError`` naming the notebook, the error and the
files that show where, after its failing cell and the end of its log are printed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from thesis_lib import paths
from thesis_lib.errors import ThesisError

# Lines a notebook prints that the pipeline shows in the terminal (the grid's per-run lines).
PROGRESS_PREFIX = "progress: "


def execute_notebook(name: str, parameters: dict[str, Any], folder: Path, *,
                     out: TextIO) -> float:
    """Run one notebook into ``folder/<name>.ipynb`` with its kernel's logs in
    ``folder/<name>.log``; returns the seconds it took.

    The kernel's own output (TensorFlow's C++ start-up logs, written straight to the process's
    standard error) and the notebook's stderr stream go to the log file; lines the notebook
    prints with :data:`PROGRESS_PREFIX` are shown in ``out``.
    """
    import papermill

    output = folder / f"{name}.ipynb"
    log_path = folder / f"{name}.log"
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log, stderr_to(log):
        try:
            papermill.execute_notebook(
                str(paths.notebook_path(name)), str(output),
                parameters=parameters, cwd=str(paths.project_root()), progress_bar=False,
                log_output=False, stdout_file=_ProgressLines(out), stderr_file=log,
            )
        except papermill.PapermillExecutionError as error:
            log.flush()
            failure = error
        else:
            failure = None
    if failure is not None:
        _show_failure(name, failure, log_path, out)
        first_line = failure.evalue.splitlines()[0] if failure.evalue else ""
        raise ThesisError(f"notebook {name} failed: {failure.ename}: {first_line} "
                          f"(see {output} and {log_path})") from None
    return time.monotonic() - started


class _ProgressLines:
    """A file-like sink for a notebook's stdout that passes on only the progress lines."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.startswith(PROGRESS_PREFIX):
                print("  " + line.removeprefix(PROGRESS_PREFIX), file=self.out, flush=True)
        return len(text)

    def flush(self) -> None:
        self.out.flush()


@contextlib.contextmanager
def stderr_to(log: TextIO) -> Iterator[None]:
    """Point this process's file descriptor 2 (inherited by the kernels it starts) at ``log``."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters): leave it as it is
        yield
        return
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _show_failure(name: str, error, log_path: Path, out: TextIO, tail: int = 15) -> None:
    """The failing cell and the end of the kernel's log, for the terminal."""
    print(f"\n{name} failed in cell {error.cell_index}: {error.ename}: "
          f"{(error.evalue or '').splitlines()[0] if error.evalue else ''}", file=out)
    print("--- the cell:", file=out)
    print("\n".join("    " + line for line in (error.source or "").splitlines()), file=out)
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    if lines:
        print(f"--- the last lines of {log_path}:", file=out)
        print("\n".join("    " + line for line in lines[-tail:]), file=out)
    out.flush()


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"

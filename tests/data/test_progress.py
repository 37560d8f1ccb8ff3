"""One progress line where a user waits (a terminal, a notebook), nothing in a log."""

from __future__ import annotations

import io
import re

import nbformat
import pytest
from dataset_builders import make_class_folders

from thesis_lib.data import progress, scan_dataset

LINE = re.compile(r"checking images: 600/600 img \[\d\d:\d\d<00:00, .*img/s\]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def count_to(total: int, desc: str = "checking images", setting: bool | None = None) -> None:
    with progress.progress_bar(total, desc, setting) as bar:
        for _ in range(total // 100):
            bar.update(100)


def test_a_terminal_shows_the_line_and_a_log_stays_quiet(monkeypatch):
    terminal, log = Terminal(), io.StringIO()
    monkeypatch.setattr("sys.stderr", terminal)
    count_to(600)
    count_to(400)  # too few to wait for: no line
    assert LINE.search(terminal.getvalue())
    assert "/400 " not in terminal.getvalue()
    monkeypatch.setattr("sys.stderr", log)
    count_to(600)
    assert log.getvalue() == ""
    count_to(600, setting=True)  # asked for: shown anywhere
    assert LINE.search(log.getvalue())


def test_the_scan_reports_through_the_line(tmp_path, monkeypatch):
    folder = make_class_folders(tmp_path / "d", {"a": 3, "b": 3})
    shown, real = [], progress.tqdm
    monkeypatch.setattr(progress, "tqdm", lambda **options: shown.append(options) or
                        real(disable=True))
    scan_dataset(folder, workers=1, progress=True, cache=False)
    assert [(o["desc"], o["total"], o["disable"]) for o in shown] == [("checking images", 6, False)]


@pytest.mark.slow
def test_a_notebook_keeps_one_output_updated_in_place():
    """In a kernel the line is one display output that each refresh replaces: the executed
    notebook (papermill, a grid cell) holds its last state, not a trail of updates."""
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import time\n"
        "from thesis_lib.data.progress import progress_bar\n"
        "with progress_bar(600, 'checking images', None) as bar:\n"
        "    for _ in range(6):\n"
        "        time.sleep(0.2)\n"
        "        bar.update(100)\n")]
    NotebookClient(notebook, kernel_name="python3", timeout=120).execute()
    outputs = notebook.cells[0].outputs
    assert len(outputs) == 1, outputs
    assert outputs[0].output_type == "display_data"
    assert LINE.fullmatch(outputs[0].data["text/plain"])

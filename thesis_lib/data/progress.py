"""The one progress line of the data path: images done, rate and time left, quiet in logs.

The scan, the duplicate audit and a cache fill show the same ``tqdm`` line:

- on a terminal, on standard error, redrawn in place;
- in a notebook (JupyterLab, or a kernel run by papermill or a grid), as one text output that
  is updated in place: the executed notebook keeps the last state ("checking images:
  61074/61074 img [00:44<00:00, 1390 img/s]"), not a trail of updates;
- in a log file or a SLURM output file, nothing: no carriage-return updates fill it.

By default (``progress=None``) the line appears only for enough images to be worth waiting for
(``MIN_ITEMS_FOR_PROGRESS``); ``True`` shows it anywhere, ``False`` never.
"""

from __future__ import annotations

import io
import sys

from tqdm import tqdm

# Below this many images a scan or audit takes about a second: no line.
MIN_ITEMS_FOR_PROGRESS = 500
BAR_FORMAT = "{desc}: {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}, {rate_fmt}]"


def wants_progress(total: int, progress: bool | None) -> bool:
    """Whether to show a progress line for ``total`` items.

    Args:
        total: Items that will be processed.
        progress: True (always), False (never) or None (on a terminal or in a notebook, for
            at least ``MIN_ITEMS_FOR_PROGRESS`` items).
    """
    if progress is not None:
        return bool(progress)
    return total >= MIN_ITEMS_FOR_PROGRESS and (_stderr_is_terminal() or in_notebook())


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (JupyterLab, papermill, a grid cell)."""
    if "IPython" not in sys.modules:  # never imported: no kernel (and no import cost)
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class NotebookLine(tqdm):
    """``tqdm`` drawn as one notebook text output that is replaced on each refresh.

    The output is made with a display id and updated with ``update_display``, which Jupyter
    and nbclient (papermill) apply to the output in place.
    """

    _handle = None

    def __init__(self, *args, **kwargs):
        # tqdm's own writes (the final newline) go nowhere; ``display`` draws the line.
        super().__init__(*args, file=io.StringIO(), **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> None:
        from IPython.display import display

        text = {"text/plain": msg if msg is not None else str(self)}
        if self._handle is None:
            self._handle = display(text, raw=True, display_id=True)
        else:
            self._handle.update(text, raw=True)


def progress_bar(total: int, desc: str, progress: bool | None, *, unit: str = "img") -> tqdm:
    """A progress line (use as a context manager, ``update(n)``): on standard error, or in a
    notebook as one output updated in place.

    Args:
        total: Items that will be processed.
        desc: What is being done ("checking images").
        progress: As for ``wants_progress``.
        unit: The unit of the rate (images per second by default).
    """
    options = dict(total=total, desc=desc, unit=unit, disable=not wants_progress(total, progress),
                   mininterval=0.5, bar_format=BAR_FORMAT)
    if in_notebook():
        return NotebookLine(**options)
    return tqdm(file=sys.stderr, dynamic_ncols=True, **options)

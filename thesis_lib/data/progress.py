"""The one progress line of the data path: images done, rate and time left, quiet in logs.

The scan, the duplicate audit and a cache fill show the same ``tqdm`` line on a terminal. By
default (``progress=None``) it appears only for enough images to be worth waiting for and only
when standard error is a terminal: a log file, a SLURM output file or an executed notebook's
committed output never fill with carriage-return updates. ``True`` shows it anywhere, ``False``
never.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

# Below this many images a scan or audit takes about a second: no line.
MIN_ITEMS_FOR_PROGRESS = 500


def wants_progress(total: int, progress: bool | None) -> bool:
    """Whether to show a progress line for ``total`` items.

    Args:
        total: Items that will be processed.
        progress: True (always), False (never) or None (on a terminal, for at least
            ``MIN_ITEMS_FOR_PROGRESS`` items).
    """
    if progress is not None:
        return bool(progress)
    return total >= MIN_ITEMS_FOR_PROGRESS and _stderr_is_terminal()


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def progress_bar(total: int, desc: str, progress: bool | None, *, unit: str = "img") -> tqdm:
    """A progress line on standard error (use as a context manager, ``update(n)``).

    Args:
        total: Items that will be processed.
        desc: What is being done ("checking images").
        progress: As for ``wants_progress``.
        unit: The unit of the rate (images per second by default).
    """
    return tqdm(total=total, desc=desc, unit=unit, disable=not wants_progress(total, progress),
                file=sys.stderr, dynamic_ncols=True, mininterval=0.5,
                bar_format="{desc}: {n_fmt}/{total_fmt} {unit} "
                           "[{elapsed}<{remaining}, {rate_fmt}]")

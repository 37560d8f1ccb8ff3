"""Writing figures and tables under the results folder, atomically and reproducibly."""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path

from matplotlib.figure import Figure

from thesis_lib import paths
from thesis_lib.errors import ConfigError
from thesis_lib.files import atomic_write, write_text

# A figure or table name becomes a file name: letters, digits, '-', '_' and '.' only, so the
# same name gives the same path on every system and cannot escape the output folder.
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
PNG_DPI = 300


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_PATTERN.match(name):
        raise ConfigError(
            f"output name {name!r} is not a plain file name (use letters, digits, '-', '_', '.')"
        )
    return name


def output_dir(results_dir: str | os.PathLike | None, kind: str) -> Path:
    """``<results_dir>/<kind>/`` (created); ``results_dir`` defaults to the project's."""
    base = paths.resolve(results_dir) if results_dir is not None else paths.results_dir()
    folder = base / kind
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_stream(path: Path, write) -> Path:
    """``write(binary stream)`` into ``path`` atomically (``thesis_lib.files``)."""

    def into(tmp: Path) -> None:
        with open(tmp, "wb") as stream:
            write(stream)

    return atomic_write(path, into)


def save_figure(
    fig: Figure, name: str, results_dir: str | os.PathLike | None = None
) -> dict[str, Path]:
    """Save ``fig`` as ``<results_dir>/figures/<name>.pdf`` and ``.png`` (300 dpi), without a
    creation date (the same figure gives the same bytes); returns ``{"pdf": ..., "png": ...}``.

    Args:
        name: the file stem, e.g. ``"accuracy_by_variant"``.
        results_dir: the results folder; default ``thesis_lib.paths.results_dir()``.
    """
    _check_name(name)
    folder = output_dir(results_dir, "figures")
    written = {}
    for fmt, metadata in (("pdf", {"CreationDate": None}), ("png", {"Software": None})):
        save = partial(fig.savefig, format=fmt, dpi=PNG_DPI, metadata=metadata)
        written[fmt] = write_stream(folder / f"{name}.{fmt}", save)
    return written


def save_table(latex: str, name: str, results_dir: str | os.PathLike | None = None) -> Path:
    """Save LaTeX text as ``<results_dir>/tables/<name>.tex`` (for ``\\input`` in the thesis)."""
    _check_name(name)
    target = output_dir(results_dir, "tables") / f"{name}.tex"
    return write_text(target, latex)

"""Writing files so that nothing half-written is ever seen: the one atomic writer.

Every file the workbench writes (run records, summaries, figures, tables, caches) is written to
a temporary name in the target folder and then renamed over the target (``os.replace`` is atomic
on POSIX), so a process killed at any moment leaves either the old or the new version of a file,
never half of one. A full disk or an unwritable folder is one ``ThesisError`` naming the file;
the old version stays.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from thesis_lib.errors import DataError, ThesisError


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` and rename the temporary file to ``path``; returns ``path``.

    The temporary file keeps the suffix of ``path`` (Keras checks ``.keras`` / ``.weights.h5``)
    and gets the permissions of an ordinary new file (not ``mkstemp``'s private 0600).

    Raises:
        ThesisError: the folder cannot be created or written (``cannot write <path>: ...``).
    """
    path = Path(path)
    suffix = "".join(path.suffixes) or ".tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=suffix,
                                            dir=path.parent)
    except OSError as error:
        raise ThesisError(f"cannot write {path}: {error.strerror or error}") from None
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        tmp.unlink()  # some writers (h5py, zip) refuse to write over an existing file
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as error:
        raise ThesisError(f"cannot write {path}: {error.strerror or error}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_json(path: str | os.PathLike, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_csv(path: str | os.PathLike, frame: pd.DataFrame) -> Path:
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def read_json(path: str | os.PathLike, *, kind: type | None = None) -> Any:
    """The JSON value stored at ``path`` (a ``kind`` instance when ``kind`` is given).

    Raises:
        DataError: the file is missing, unreadable, not JSON or not a ``kind``; the message
            names the file.
    """
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    if kind is not None and not isinstance(value, kind):
        raise DataError(f"{path}: expected a JSON {'object' if kind is dict else kind.__name__}"
                        f", found {type(value).__name__}")
    return value

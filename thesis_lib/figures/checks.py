"""Input checks shared by the figure and table functions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from thesis_lib.errors import DataError


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise DataError naming ``what`` and the missing columns when ``frame`` lacks any."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {missing}; the table has {list(frame.columns)}")
    if frame.empty:
        raise DataError(f"{what}: the table has no rows")


def require_fractions(values: pd.Series, what: str) -> None:
    """Accuracies are stored as fractions (metrics.json); reject percentages and NaN."""
    array = np.asarray(values, dtype=float)
    if np.isnan(array).any() or (array < 0).any() or (array > 1).any():
        raise DataError(
            f"{what}: values must be fractions in [0, 1] (as in metrics.json); got "
            f"min {np.nanmin(array):.4g}, max {np.nanmax(array):.4g}"
            " (divide percentages by 100)"
        )


def require_runs(runs: pd.DataFrame, columns: Sequence[str], fractions: Sequence[str],
                 run_keys: Sequence[str], what: str, one_dataset: bool = True) -> None:
    """The checks of a table of one row per run: ``columns`` present, ``fractions`` in [0, 1],
    (``one_dataset``) one evaluation dataset, each run once per ``run_keys`` group."""
    require_columns(runs, columns, what)
    for column in fractions:
        require_fractions(runs[column], f"{what}, column {column!r}")
    if one_dataset:
        require_one_dataset(runs, what)
    require_unique_runs(runs, [*run_keys, "run_id"], what)


def ordered(values: Iterable, order: Sequence | None) -> list:
    """``order`` restricted to the values present, or the values in first-seen order."""
    present = list(dict.fromkeys(values))
    if order is None:
        return present
    unknown = [value for value in present if value not in order]
    return [value for value in order if value in present] + unknown


def require_one_dataset(frame: pd.DataFrame, what: str, dataset: str = "dataset") -> None:
    """Refuse a table mixing evaluation datasets: a mean over them would mix test sets."""
    if dataset in frame.columns and frame[dataset].nunique() > 1:
        names = sorted(frame[dataset].astype(str).unique())
        raise DataError(
            f"{what}: the table holds several evaluation datasets {names}; pass the rows of one"
            f" (e.g. runs[runs[{dataset!r}] == 'test'])"
        )


def require_unique_runs(frame: pd.DataFrame, keys: Sequence[str], what: str) -> None:
    """Refuse a table listing the same run twice for one group (it would count as two seeds)."""
    keys = [key for key in keys if key in frame.columns]
    if "run_id" not in keys:
        return
    repeated = frame[frame.duplicated(keys, keep=False)]
    if not repeated.empty:
        raise DataError(
            f"{what}: run(s) {sorted(repeated['run_id'].unique())[:5]} appear more than once for "
            f"the same {', '.join(key for key in keys if key != 'run_id')}; each run counts once"
        )


def class_indices(classes: Sequence[str | int] | None, names: Sequence[str]) -> list[int]:
    """Indices of ``classes`` (names or indices) among ``names``; all when ``None``."""
    if classes is None:
        return list(range(len(names)))
    indices = []
    for item in classes:
        if isinstance(item, int | np.integer) and not isinstance(item, bool):
            if not 0 <= item < len(names):
                raise DataError(f"class index {item} is not one of 0..{len(names) - 1} "
                                f"(classes {list(names)})")
            indices.append(int(item))
        elif item in names:
            indices.append(list(names).index(item))
        else:
            raise DataError(f"class {item!r} is not one of {list(names)}")
    return indices

"""Input checks and small statistics shared by the figure and table functions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

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


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean; a single value gives (value, value).

    The same interval as the summary tables (``mean +- t * sd / sqrt(n)``, sd with ddof=1), so
    error bars in the figures and numbers in the tables agree. Seaborn accepts this function
    as ``errorbar=``.
    """
    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    if array.size < 2:
        return mean, mean
    half_width = stats.sem(array) * stats.t.ppf((1 + confidence) / 2, array.size - 1)
    return mean - half_width, mean + half_width


def ordered(values: Iterable, order: Sequence | None) -> list:
    """``order`` restricted to the values present, or the values in first-seen order."""
    present = list(dict.fromkeys(values))
    if order is None:
        return present
    unknown = [value for value in present if value not in order]
    return [value for value in order if value in present] + unknown

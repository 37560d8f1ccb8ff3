"""The tables a release makes from its own run records, which ``thesis verify`` regenerates
and compares byte for byte: the long summary per setting (every headline and calibration
metric with its t interval), the headline metrics table and the calibration table (LaTeX)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from thesis_lib.analysis.results import SUMMARY_COLUMNS, collect_runs, summarize_metrics
from thesis_lib.errors import DataError
from thesis_lib.figures.calibration import calibration_table
from thesis_lib.figures.tables import metrics_table

SUMMARY_FOLDER = "summary"


def release_tables(release_dir: str | os.PathLike) -> dict[str, bytes]:
    """Relative path -> bytes of each table made from the runs under ``release_dir/runs``.

    Args:
        release_dir: a release folder (or a results folder: anything holding ``runs/``).
    """
    with warnings.catch_warnings():
        # A seed counted once is said in the model card; here the tables only.
        warnings.simplefilter("ignore")
        runs = collect_runs(Path(release_dir), warn=False)
        if runs.empty:
            raise DataError(f"{release_dir}: no finished run to make tables from")
        summary = summarize_metrics(runs, metrics=SUMMARY_COLUMNS)
    tables = {
        f"{SUMMARY_FOLDER}/summary.csv": summary.to_csv(index=False).encode(),
        # The metrics table reads the summary's headline metrics (METRIC_COLUMNS) only.
        f"{SUMMARY_FOLDER}/metrics.tex": metrics_table(summary).encode(),
    }
    try:
        tables[f"{SUMMARY_FOLDER}/calibration.tex"] = calibration_table(summary).encode()
    except DataError:
        pass  # runs recorded before calibration was measured: no calibration table
    return tables

"""Collect training-run records into tidy tables and summaries.

A finished training run leaves a folder ``<results_dir>/runs/<run_id>/`` with ``config.json``,
``metrics.json``, ``history.csv``, ``predictions.csv`` and ``status.json``. This module reads
those folders and turns them into pandas tables:

- :func:`collect_runs` - one row per finished run and evaluation dataset (``"test"`` is the
  run's own test split; extra datasets keep their names);
- :func:`summarize` - mean, sample SD (ddof = 1), n, SEM and a t-based 95 % CI per group;
- :func:`thesis_table` - the thesis' results table (network, overall accuracy (%), SD);
- :func:`write_summary` - ``summary.csv`` of one study.

Accuracies stay fractions (0.81368) in every table; only :func:`thesis_table` formats them as
percentages with three decimals, the way the thesis reports them.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from thesis_lib.errors import DataError

RUNS_FOLDER = "runs"
FINISHED = "finished"
OWN_TEST_SPLIT = "test"
SUMMARY_FILE = "summary.csv"

# Configuration fields copied into every row of collect_runs(); found in flat or nested configs.
CONFIG_COLUMNS = ("variant", "modules", "backbone", "seed", "taps", "activation", "image_size",
                  "epochs")
# A study's member runs, written by thesis_lib.studies.run_study (setting, seed, run_id...).
STUDY_CELLS_FILE = "cells.csv"
# The headline metrics, in the order summaries list them.
METRIC_COLUMNS = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc")
# Variants in the order tables list them; anything else follows alphabetically.
VARIANT_ORDER = ("baseline", "gram", "gramnet")


# ---------------------------------------------------------------------------------------------
# Reading run folders


def runs_folder(results_dir: str | os.PathLike) -> Path:
    """The folder holding the run folders: ``results_dir/runs`` (or ``results_dir`` itself
    when it is named ``runs``)."""
    results_dir = Path(results_dir)
    return results_dir if results_dir.name == RUNS_FOLDER else results_dir / RUNS_FOLDER


def study_dir(results_dir: str | os.PathLike, study: str | None = None) -> Path:
    """Where the tables of a study go: ``results_dir/studies/<study>`` (``all`` when no study
    is named)."""
    return Path(results_dir) / "studies" / (study or "all")


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def run_state(run_dir: Path) -> str:
    """The state recorded in ``status.json`` (``"finished"``, ``"running"``, ``"failed"``), or
    ``"unknown"`` when the run has no readable status file."""
    status_path = run_dir / "status.json"
    if not status_path.is_file():
        return "unknown"
    try:
        return str(_read_json(status_path).get("state", "unknown"))
    except DataError:
        return "unknown"


def _flatten(mapping: dict, prefix: str = "") -> dict:
    """Nested dicts as one level with dotted keys: {"model": {"variant": "gram"}} ->
    {"model.variant": "gram"}."""
    flat = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def _config_value(flat_config: dict, name: str):
    """A configuration field by its own name: at the top level, in the ``config`` section the
    training code writes, or inside any other section."""
    for key in (name, f"config.{name}"):
        if key in flat_config:
            return flat_config[key]
    for key, value in flat_config.items():
        if key.endswith(f".{name}"):
            return value
    return None


def _cell_value(value):
    """Lists (e.g. tapped layer names) become one comma-separated string so that they can be
    grouped on."""
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return value


def _metric_columns(metrics: dict) -> dict:
    """Scalar metrics of one evaluation set as columns.

    ``test_accuracy`` becomes ``accuracy``; per-class dicts become ``<metric>_<class>`` columns
    (both ``{"precision": {"sadness": 0.8}}`` and ``{"per_class": {"sadness": {"precision":
    0.8}}}`` are understood); lists such as the confusion matrix are left out.
    """
    columns = {}
    for key, value in metrics.items():
        if key == "datasets":
            continue
        name = key.removeprefix("test_")
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            columns[name] = value
        elif isinstance(value, dict):
            for inner_key, inner_value in value.items():
                if isinstance(inner_value, int | float) and not isinstance(inner_value, bool):
                    columns[f"{name}_{inner_key}"] = inner_value
                elif isinstance(inner_value, dict):
                    for metric, number in inner_value.items():
                        if isinstance(number, int | float) and not isinstance(number, bool):
                            columns[f"{metric}_{inner_key}"] = number
    if "n_test" in columns:
        columns["n_images"] = columns.pop("n_test")
    elif "n" in columns:
        columns["n_images"] = columns.pop("n")
    return columns


def read_run(run_dir: str | os.PathLike) -> list[dict]:
    """Rows of one finished run: its own test split, then each extra evaluation dataset.

    Raises:
        DataError: the run is not finished, or ``config.json``/``metrics.json`` is missing or
            unreadable.
    """
    run_dir = Path(run_dir)
    state = run_state(run_dir)
    if state != FINISHED:
        raise DataError(f"{run_dir}: run state is {state!r}, not {FINISHED!r}")
    for required in ("config.json", "metrics.json"):
        if not (run_dir / required).is_file():
            raise DataError(f"{run_dir}: finished run has no {required}")
    flat_config = _flatten(_read_json(run_dir / "config.json"))
    metrics = _read_json(run_dir / "metrics.json")

    identity = {"run_id": _config_value(flat_config, "run_id") or run_dir.name}
    for name in CONFIG_COLUMNS:
        identity[name] = _cell_value(_config_value(flat_config, name))
    identity["train_data"] = _cell_value(
        _config_value(flat_config, "dataset_name") or _config_value(flat_config, "data_dir")
    )

    rows = [{**identity, "dataset": OWN_TEST_SPLIT, **_metric_columns(metrics)}]
    extra = metrics.get("datasets") or {}
    if not isinstance(extra, dict):
        raise DataError(f"{run_dir / 'metrics.json'}: 'datasets' must map names to metrics")
    for dataset_name, dataset_metrics in extra.items():
        if isinstance(dataset_metrics, dict):
            rows.append({**identity, "dataset": dataset_name, **_metric_columns(dataset_metrics)})
    return rows


def scan_runs(results_dir: str | os.PathLike) -> tuple[list[dict], pd.DataFrame]:
    """Rows of every finished run under ``results_dir``, and the runs left out.

    Returns:
        ``(rows, skipped)``: ``skipped`` is a DataFrame with columns ``run_id``, ``state`` and
        ``reason`` (unfinished, failed, or unreadable records).
    """
    folder = runs_folder(results_dir)
    rows, skipped = [], []
    if not folder.is_dir():
        return rows, pd.DataFrame(skipped, columns=["run_id", "state", "reason"])
    for run_dir in sorted(path for path in folder.iterdir() if path.is_dir()):
        try:
            rows.extend(read_run(run_dir))
        except DataError as error:
            skipped.append({"run_id": run_dir.name, "state": run_state(run_dir),
                            "reason": str(error)})
    return rows, pd.DataFrame(skipped, columns=["run_id", "state", "reason"])


def collect_runs(
    results_dir: str | os.PathLike,
    *,
    study: str | None = None,
    warn: bool = True,
) -> pd.DataFrame:
    """One row per finished run and evaluation dataset.

    Columns: ``run_id``, the configuration fields of :data:`CONFIG_COLUMNS`, ``train_data``,
    ``dataset`` (``"test"`` for the run's own test split), then the metrics (``accuracy``,
    ``balanced_accuracy``, ``macro_f1``, ``roc_auc``, ``best_epoch``, ``n_images``,
    per-class ``precision_<class>``...). Metrics are fractions.

    Args:
        results_dir: the results folder (holding ``runs/``) or the ``runs`` folder itself.
        study: keep only the runs of this study (listed in
            ``results_dir/studies/<study>/cells.csv`` by ``thesis_lib.studies.run_study``);
            adds the columns ``study`` and ``setting``. A run shared by several studies
            (e.g. the default three-module network) belongs to each of them.
        warn: warn (listing run ids and reasons) about runs that were left out; the same list
            is in ``table.attrs["skipped"]``.
    """
    rows, skipped = scan_runs(results_dir)
    table = pd.DataFrame(rows)
    if table.empty:
        table = pd.DataFrame(
            columns=["run_id", *CONFIG_COLUMNS, "train_data", "dataset", *METRIC_COLUMNS]
        )
    for metric in METRIC_COLUMNS:
        if metric not in table.columns:
            table[metric] = np.nan
    if study is not None:
        table = _study_members(table, results_dir, study)
    if warn and not skipped.empty:
        listing = "; ".join(f"{row.run_id} ({row.state})" for row in skipped.itertuples())
        warnings.warn(f"{len(skipped)} run(s) not finished or unreadable, left out: {listing}",
                      stacklevel=2)
    table.attrs["skipped"] = skipped.to_dict("records")
    return table


def _study_members(table: pd.DataFrame, results_dir: str | os.PathLike,
                   study: str) -> pd.DataFrame:
    """The rows of ``table`` whose run is listed in the study's cell file, with its setting."""
    root = runs_folder(results_dir).parent
    cells_path = study_dir(root, study) / STUDY_CELLS_FILE
    if not cells_path.is_file():
        raise DataError(f"{cells_path}: no such file; the study {study!r} has not been run "
                        f"(notebooks/04_ablations.ipynb runs it)")
    cells = pd.read_csv(cells_path, usecols=["setting", "run_id"]).dropna()
    members = cells.merge(table, on="run_id", how="inner")
    members.insert(0, "study", study)
    return members.reset_index(drop=True)


def load_predictions(run_dir: str | os.PathLike) -> pd.DataFrame:
    """A run's ``predictions.csv`` with two added columns: ``predicted_index`` (argmax of the
    ``prob_<class>`` columns, in file order) and ``correct``.

    Raises:
        DataError: the file is missing or has no ``label_index``/``prob_*`` columns.
    """
    path = Path(run_dir) / "predictions.csv"
    if not path.is_file():
        raise DataError(f"{path}: no predictions file")
    predictions = pd.read_csv(path)
    prob_columns = [column for column in predictions.columns if column.startswith("prob_")]
    if "label_index" not in predictions.columns or not prob_columns:
        raise DataError(f"{path}: needs a label_index column and prob_<class> columns, "
                        f"found {list(predictions.columns)}")
    if "dataset" not in predictions.columns:
        predictions["dataset"] = OWN_TEST_SPLIT
    predictions["predicted_index"] = predictions[prob_columns].to_numpy().argmax(axis=1)
    predictions["correct"] = predictions["predicted_index"] == predictions["label_index"]
    return predictions


# ---------------------------------------------------------------------------------------------
# Names and order of networks


def short_backbone(backbone: str) -> str:
    """``"EfficientNetV2B2"`` -> ``"B2"``, ``"EfficientNetV2S"`` -> ``"S"``; other names as is."""
    match = re.fullmatch(r"EfficientNet(?:V2)?(\w+)", str(backbone))
    return match.group(1) if match else str(backbone)


def _modules_count(modules) -> int | None:
    if modules is None or (isinstance(modules, float) and math.isnan(modules)):
        return None
    return int(modules)


def network_name(variant: str, modules=None, backbone: str = "EfficientNetV2B2") -> str:
    """The network's name as the thesis table writes it.

    ``("baseline", 0, "EfficientNetV2B2")`` -> ``"baseline EfficientNetV2B2"``;
    ``("gram", 3, "EfficientNetV2B2")`` -> ``"B2 + 3 Gram modules"``;
    ``("gramnet", 4, ...)`` -> ``"GramNet-style EfficientNetV2B2"``.
    """
    count = _modules_count(modules)
    backbone = backbone if isinstance(backbone, str) else "EfficientNetV2B2"
    if variant == "baseline":
        return f"baseline {backbone}"
    if variant == "gram" and count is not None:
        plural = "" if count == 1 else "s"
        return f"{short_backbone(backbone)} + {count} Gram module{plural}"
    if variant == "gramnet":
        return f"GramNet-style {backbone}"
    suffix = f", {count} modules" if count else ""
    return f"{variant} {backbone}{suffix}"


def _order_key(variant, modules) -> tuple:
    """Baseline first, then Gram models by module count, then GramNet, then the rest."""
    rank = VARIANT_ORDER.index(variant) if variant in VARIANT_ORDER else len(VARIANT_ORDER)
    count = _modules_count(modules)
    return (rank, str(variant), -1 if count is None else count)


def sort_networks(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in table order (baseline, Gram by modules, GramNet, others); stable otherwise."""
    if table.empty or "variant" not in table.columns:
        return table
    modules = table["modules"] if "modules" in table.columns else [None] * len(table)
    keys = [_order_key(variant, count) for variant, count in zip(table["variant"], modules,
                                                                  strict=True)]
    order = sorted(range(len(table)), key=lambda index: keys[index])
    return table.iloc[order].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Summaries


def summarize(
    runs: pd.DataFrame,
    by: Sequence[str] = ("variant", "modules", "dataset"),
    metric: str = "accuracy",
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per group: ``mean``, ``sd_ddof1`` (sample SD), ``n``, ``sem``, ``ci95_low``,
    ``ci95_high`` (t-based: mean +- t_{(1+confidence)/2, n-1} * sem) of one metric.

    Groups with a single run have no SD and no CI (NaN). Adds ``network`` (the thesis' name
    of the model) when the groups are variants, and ``metric`` (the metric's name).

    Args:
        runs: the table of :func:`collect_runs`.
        by: columns that define a group.
        metric: the column to summarise.
        confidence: level of the confidence interval (columns keep the ``ci95_`` names only
            for 0.95; otherwise ``ci<level>_low``/``_high``).

    Raises:
        DataError: ``metric`` or a ``by`` column is not in the table.
    """
    by = list(by)
    missing = [column for column in [*by, metric] if column not in runs.columns]
    if missing:
        raise DataError(f"summarize: column(s) {missing} not in the runs table "
                        f"(columns: {list(runs.columns)})")
    ci_name = f"ci{round(confidence * 100):d}"
    # The backbone names the network even when it is not a grouping column.
    backbone = ["backbone"] if "backbone" in runs.columns and "backbone" not in by else []
    values = runs[[*by, *backbone, metric]].copy()
    values[metric] = pd.to_numeric(values[metric], errors="coerce")
    values = values.dropna(subset=[metric])
    grouped = values.groupby(by, dropna=False, sort=False)[metric]
    summary = grouped.agg(mean="mean", sd_ddof1=lambda x: x.std(ddof=1), n="count").reset_index()
    summary["n"] = summary["n"].astype(int)
    summary["sem"] = summary["sd_ddof1"] / np.sqrt(summary["n"])
    degrees = (summary["n"] - 1).where(summary["n"] > 1)
    half_width = scipy_stats.t.ppf((1 + confidence) / 2, degrees) * summary["sem"]
    summary[f"{ci_name}_low"] = summary["mean"] - half_width
    summary[f"{ci_name}_high"] = summary["mean"] + half_width
    summary.insert(len(by), "metric", metric)
    if "variant" in by:
        summary.insert(0, "network", _network_names(summary, values, by))
        summary = sort_networks(summary)
    return summary


def _network_names(summary: pd.DataFrame, values: pd.DataFrame, by: list[str]) -> list[str]:
    if "backbone" in values.columns:
        backbones = values.groupby(by, dropna=False, sort=False)["backbone"].first().to_numpy()
    else:
        backbones = ["EfficientNetV2B2"] * len(summary)
    modules = summary["modules"] if "modules" in summary.columns else [None] * len(summary)
    return [network_name(variant, count, backbone) for variant, count, backbone
            in zip(summary["variant"], modules, backbones, strict=True)]


def summarize_metrics(
    runs: pd.DataFrame,
    by: Sequence[str] = ("variant", "modules", "dataset"),
    metrics: Iterable[str] = METRIC_COLUMNS,
) -> pd.DataFrame:
    """:func:`summarize` for several metrics stacked in one long table (column ``metric``);
    metrics that no run reports are left out."""
    parts = [summarize(runs, by, metric) for metric in metrics
             if metric in runs.columns and runs[metric].notna().any()]
    if not parts:
        return summarize(runs.assign(accuracy=np.nan), by, "accuracy")
    return pd.concat(parts, ignore_index=True)


def thesis_table(
    summary: pd.DataFrame,
    *,
    dataset: str | None = OWN_TEST_SPLIT,
    decimals: int = 3,
    with_n: bool = False,
) -> pd.DataFrame:
    """The thesis' results table: ``network``, ``overall accuracy (%)``, ``SD`` as text.

    Mean and sample SD (ddof = 1) are shown in percent with ``decimals`` decimals
    (0.813680 -> "81.368").

    Args:
        summary: a :func:`summarize` table of the accuracy, grouped by variant (and modules).
        dataset: the evaluation dataset to show (``None``: the summary has one already).
        decimals: decimals of the percentages.
        with_n: add the number of runs as a column ``n``.
    """
    table = summary
    if "metric" in table.columns:
        table = table[table["metric"] == "accuracy"]
    if dataset is not None and "dataset" in table.columns:
        table = table[table["dataset"] == dataset]
    if "network" not in table.columns:
        raise DataError("thesis_table: the summary must be grouped by variant (no 'network' "
                        "column)")
    table = sort_networks(table.reset_index(drop=True))
    layout = pd.DataFrame({
        "network": table["network"],
        "overall accuracy (%)": [_percent(value, decimals) for value in table["mean"]],
        "SD": [_percent(value, decimals) for value in table["sd_ddof1"]],
    })
    if with_n:
        layout["n"] = table["n"].to_numpy()
    return layout


def _percent(fraction: float, decimals: int) -> str:
    if fraction is None or not np.isfinite(fraction):
        return "-"
    return f"{fraction * 100:.{decimals}f}"


def write_summary(
    runs: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    by: Sequence[str] = ("variant", "modules", "dataset"),
    metrics: Iterable[str] = METRIC_COLUMNS,
) -> Path:
    """Write ``summary.csv`` (all metrics, long format; SD column ``sd_ddof1``) into
    ``out_dir`` and return its path.

    The summary is derived from the run records, so re-writing it replaces the previous
    summary; the file is written to a temporary name first and then moved into place, so a
    reader never sees half a file.
    """
    return write_table(summarize_metrics(runs, by, metrics), Path(out_dir) / SUMMARY_FILE)


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``table`` as CSV to ``path`` through a temporary file in the same folder, so a
    reader never sees half a file; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A per-process name (rather than mkstemp's private 0600 file) keeps the usual permissions.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        table.to_csv(temporary, index=False)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def same_seed_pair(
    runs: pd.DataFrame,
    variant: str,
    modules,
    *,
    baseline: str = "baseline",
    dataset: str = OWN_TEST_SPLIT,
) -> tuple[str, str] | None:
    """Run ids ``(variant run, baseline run)`` of the lowest seed both ran, or ``None``.

    Runs with the same seed share the data split (unless a split seed was fixed apart), so
    their test predictions are on the same images - what a McNemar test needs.
    """
    rows = runs[runs["dataset"] == dataset]
    same_modules = rows["modules"].isna() if pd.isna(modules) else rows["modules"] == modules
    candidates = rows[(rows["variant"] == variant) & same_modules]
    baselines = rows[rows["variant"] == baseline]
    pairs = candidates.merge(baselines, on="seed", suffixes=("", "_baseline"))
    if pairs.empty:
        return None
    first = pairs.sort_values("seed").iloc[0]
    return str(first["run_id"]), str(first["run_id_baseline"])

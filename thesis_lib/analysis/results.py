"""Training-run records (``<results_dir>/runs/<run_id>/``) as tidy tables, summaries and views.

One row per finished run and evaluation dataset, with the run's *setting* (every
result-affecting field but the seed, :mod:`thesis_lib.config.settings`) and its readable name,
``network``. Metrics stay fractions in every table; the views format them as text.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from thesis_lib import files, paths
from thesis_lib.analysis.hypothesis_tests import mean_half_width
from thesis_lib.analysis.sentiment import probability_columns
from thesis_lib.config import settings
from thesis_lib.config.settings import network_name, short_backbone  # noqa: F401  (public here too)
from thesis_lib.errors import DataError
from thesis_lib.files import write_csv

RUNS_FOLDER = "runs"
FINISHED = "finished"
OWN_TEST_SPLIT = "test"
SUMMARY_FILE = "summary.csv"

# Configuration fields copied into every row of collect_runs(); found in flat or nested configs.
CONFIG_COLUMNS = ("variant", "modules", "backbone", "seed", "taps", "activation", "image_size",
                  "epochs")
# A study's member runs, written by experiments.studies.run_study (setting, seed, run_id...).
STUDY_CELLS_FILE = "cells.csv"
# The headline metrics, in the order summaries list them.
METRIC_COLUMNS = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "top2_accuracy",
                  "top2_cross_sentiment_share")
# Calibration (thesis_lib.analysis.calibration), before and after temperature scaling; records
# written before it have none, and summaries leave out what no run reports.
CALIBRATION_COLUMNS = ("expected_calibration_error", "brier_score", "nll",
                       "calibrated_expected_calibration_error", "calibrated_brier_score",
                       "calibrated_nll")
SUMMARY_COLUMNS = METRIC_COLUMNS + CALIBRATION_COLUMNS
# Columns that describe a setting in a summary (taken from its first run).
SETTING_COLUMNS = ("network", "variant", "modules", "backbone", "setting", "train_data")


def runs_folder(results_dir: str | os.PathLike) -> Path:
    """``results_dir/runs`` (or ``results_dir`` itself when it is named ``runs``)."""
    results_dir = Path(results_dir)
    return results_dir if results_dir.name == RUNS_FOLDER else results_dir / RUNS_FOLDER


def study_dir(results_dir: str | os.PathLike, study: str | None = None) -> Path:
    """Where the tables of a study go: ``results_dir/studies/<study or "all">``."""
    return Path(results_dir) / "studies" / (study or "all")


def run_state(run_dir: Path) -> str:
    """The state in ``status.json`` (``"finished"``, ``"running"``, ``"failed"``), or
    ``"unknown"`` without a readable status file."""
    status_path = run_dir / "status.json"
    if not status_path.is_file():
        return "unknown"
    try:
        return str(files.read_json(status_path, kind=dict).get("state", "unknown"))
    except DataError:
        return "unknown"


def _flatten(mapping: dict, prefix: str = "") -> dict:
    """Nested dicts as one level with dotted keys ("model.variant")."""
    flat = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, prefix=f"{name}."))
        else:
            flat[name] = value
    return flat


def _config_value(flat_config: dict, name: str):
    """A configuration field: at the top level, in the ``config`` section, or in any other."""
    for key in (name, f"config.{name}"):
        if key in flat_config:
            return flat_config[key]
    for key, value in flat_config.items():
        if key.endswith(f".{name}"):
            return value
    return None


def _cell_value(value):
    """Lists (e.g. tapped layers) as one comma-separated string, so they can be grouped on."""
    return ",".join(map(str, value)) if isinstance(value, list | tuple) else value


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _metric_columns(metrics: dict) -> dict:
    """Scalar metrics of one evaluation set as columns: ``test_accuracy`` -> ``accuracy``,
    ``{"precision": {"sadness": 0.8}}`` and ``{"per_class": {"sadness": {"precision": 0.8}}}``
    -> ``precision_sadness``; lists (the confusion matrix) are left out. Older records without
    ``majority_rate`` get it from their per-class supports where they have them.
    """
    columns = {}
    for key, value in metrics.items():
        name = key.removeprefix("test_")
        if _is_number(value):
            columns[name] = value
        elif isinstance(value, dict) and key != "datasets":
            for inner_key, inner in value.items():
                if _is_number(inner):
                    columns[f"{name}_{inner_key}"] = inner
                elif isinstance(inner, dict):
                    columns.update({f"{metric}_{inner_key}": number
                                    for metric, number in inner.items() if _is_number(number)})
    if "n_test" in columns:
        columns["n_images"] = columns.pop("n_test")
    elif "n" in columns:
        columns["n_images"] = columns.pop("n")
    if "majority_rate" not in columns:
        majority = _majority_from_supports(metrics.get("per_class"))
        if majority is not None:
            columns["majority_rate"] = majority
    return columns


def _majority_from_supports(per_class) -> float | None:
    """The share of the most frequent class, from ``{class: {"support": count}}``."""
    if not isinstance(per_class, dict) or not per_class:
        return None
    supports = [scores.get("support") if isinstance(scores, dict) else None
                for scores in per_class.values()]
    if not all(_is_number(count) for count in supports) or sum(supports) <= 0:
        return None
    return float(max(supports) / sum(supports))


def read_run(run_dir: str | os.PathLike) -> list[dict]:
    """Rows of one finished run: its own test split, then each extra evaluation dataset.
    A run that is not finished, or lacks a readable record, is a :class:`DataError`."""
    run_dir = Path(run_dir)
    state = run_state(run_dir)
    if state != FINISHED:
        raise DataError(f"{run_dir}: run state is {state!r}, not {FINISHED!r}")
    for required in ("config.json", "metrics.json"):
        if not (run_dir / required).is_file():
            raise DataError(f"{run_dir}: finished run has no {required}")
    flat_config = _flatten(files.read_json(run_dir / "config.json", kind=dict))
    metrics = files.read_json(run_dir / "metrics.json", kind=dict)

    identity = {"run_id": _config_value(flat_config, "run_id") or run_dir.name,
                **{name: _cell_value(_config_value(flat_config, name)) for name in CONFIG_COLUMNS},
                "train_data": _cell_value(_config_value(flat_config, "dataset_name")
                                          or _config_value(flat_config, "data_dir")),
                **_setting_of(run_dir, flat_config)}
    rows = [{**identity, "dataset": OWN_TEST_SPLIT, **_metric_columns(metrics)}]
    extra = metrics.get("datasets") or {}
    if not isinstance(extra, dict):
        raise DataError(f"{run_dir / 'metrics.json'}: 'datasets' must map names to metrics")
    for dataset_name, dataset_metrics in extra.items():
        if isinstance(dataset_metrics, dict):
            rows.append({**identity, "dataset": dataset_name, **_metric_columns(dataset_metrics)})
    return rows


def _setting_of(run_dir: Path, flat_config: dict) -> dict:
    """``setting_id`` and ``setting_fields`` (JSON) of a run, from the ``config`` section and
    data fingerprint of its ``config.json``, or from whatever fields older records hold."""
    config = {key.removeprefix("config."): value for key, value in flat_config.items()
              if key.startswith("config.")}
    if not config:
        config = {name: _config_value(flat_config, name) for name in
                  {key.rsplit(".", 1)[-1] for key in flat_config}}
        config.pop("run_id", None)
    config.setdefault("dataset_name", _config_value(flat_config, "dataset_name"))
    data = _config_value(flat_config, "data_fingerprint.value")
    fields = settings.setting_fields(config, data)
    return {"setting_id": settings.setting_id(fields),
            "setting_fields": json.dumps(fields, sort_keys=True, default=str)}


def run_folders(results_dir: str | os.PathLike) -> list[Path]:
    """Every run folder under ``results_dir``, in name order, whatever its state."""
    folder = runs_folder(results_dir)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_dir())


LIST_COLUMNS = ["run_id", "state", "variant", "modules", "backbone", "dataset", "seed",
                "epochs", "test_accuracy", "best_epoch", "path"]


def list_runs(results_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per run folder, finished or not, with its main fields and test accuracy."""
    rows = []
    for run_dir in run_folders(results_dir):
        config_path, metrics_path = run_dir / "config.json", run_dir / "metrics.json"
        try:
            meta = files.read_json(config_path, kind=dict) if config_path.is_file() else {}
            metrics = files.read_json(metrics_path, kind=dict) if metrics_path.is_file() else {}
        except DataError:
            meta, metrics = {}, {}
        config = meta.get("config", {})
        rows.append({
            "run_id": run_dir.name, "state": run_state(run_dir),
            **{name: config.get(name) for name in ("variant", "modules", "backbone", "seed",
                                                   "epochs")},
            "dataset": meta.get("dataset_name"), "test_accuracy": metrics.get("test_accuracy"),
            "best_epoch": metrics.get("best_epoch"), "path": str(run_dir),
        })
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def collect_runs(
    results_dir: str | os.PathLike,
    *,
    study: str | None = None,
    warn: bool = True,
) -> pd.DataFrame:
    """One row per finished run and evaluation dataset (``"test"``: the run's own split).

    Columns: ``run_id``, :data:`CONFIG_COLUMNS`, ``train_data``, ``setting_id``,
    ``setting_fields``, ``network`` (distinct settings get distinct names), ``dataset``, then
    the metrics as fractions (``accuracy``, ..., per-class ``precision_<class>``...).

    Args:
        results_dir: the results folder (holding ``runs/``) or the ``runs`` folder itself.
        study: keep only the runs of this study (its ``cells.csv``), adding the columns
            ``study`` and ``setting``; a run shared by several studies belongs to each.
        warn: warn about runs that were left out; they are in ``table.attrs["skipped"]``.
    """
    rows, skipped = [], []
    for run_dir in run_folders(results_dir):
        try:
            rows.extend(read_run(run_dir))
        except DataError as error:
            skipped.append({"run_id": run_dir.name, "state": run_state(run_dir),
                            "reason": str(error)})
    table = pd.DataFrame(rows)
    if table.empty:
        table = pd.DataFrame(
            columns=["run_id", *CONFIG_COLUMNS, "train_data", "setting_id", "setting_fields",
                     "dataset", *METRIC_COLUMNS]
        )
    for metric in METRIC_COLUMNS:
        if metric not in table.columns:
            table[metric] = np.nan
    if study is not None:
        table = _study_members(table, results_dir, study)
    table = name_settings(table)
    if warn and skipped:
        listing = "; ".join(f"{row['run_id']} ({row['state']})" for row in skipped)
        warnings.warn(f"{len(skipped)} run(s) not finished or unreadable, left out: {listing}",
                      stacklevel=2)
    table.attrs["skipped"] = skipped
    return table


def require_runs(results_dir: str | os.PathLike, *, study: str | None = None) -> pd.DataFrame:
    """:func:`collect_runs` for an analysis that needs runs: with none, a :class:`DataError`
    whose one line says what to run (a notebook shows it and stops there)."""
    runs = collect_runs(results_dir, study=study, warn=False)
    if runs.empty:
        of_study = f" of the study {study!r}" if study else ""
        raise DataError(f"no finished runs{of_study} in {paths.shown(runs_folder(results_dir))} "
                        f"yet: run notebooks/03_train.ipynb or 04_ablations.ipynb (or `make demo`) "
                        f"first")
    return runs


def describe_runs(runs: pd.DataFrame, *, study: str | None = None) -> str:
    """One line on what :func:`collect_runs` found (runs, settings, what was left out, the
    evaluation datasets), then :func:`scale_note` for runs on the demo data."""
    skipped = runs.attrs.get("skipped", [])
    of_study = f"of the study {study!r}" if study else "of every study"
    datasets = ", ".join(dict.fromkeys(runs["dataset"]))
    line = (f"{runs['run_id'].nunique()} finished run(s) {of_study}, "
            f"{runs['setting_id'].nunique()} setting(s), evaluated on: {datasets}")
    if skipped:
        line += "; left out: " + ", ".join(f"{row['run_id']} ({row['state']})" for row in skipped)
    note = scale_note(runs)
    return f"{line}\n{note}" if note else line


def scale_note(runs: pd.DataFrame) -> str:
    """The sentence that labels numbers of runs on the generated demo data as such ("" when no
    run used it), so that a demo number is never mistaken for a result."""
    demo = runs[runs["train_data"] == paths.DEMO_DATASET]
    if demo.empty:
        return ""
    own = demo[demo["dataset"] == OWN_TEST_SPLIT]
    sizes = sorted({int(n) for n in own.get("n_images", pd.Series(dtype=float)).dropna()})
    tested = f", {'/'.join(map(str, sizes))} test images per run" if sizes else ""
    return f"Demo numbers (generated data{tested}), not thesis results."


def _study_members(table: pd.DataFrame, results_dir: str | os.PathLike,
                   study: str) -> pd.DataFrame:
    """The rows of ``table`` whose run is listed in the study's cell file, with its setting."""
    root = runs_folder(results_dir).parent
    cells_path = study_dir(root, study) / STUDY_CELLS_FILE
    if not cells_path.is_file():
        raise DataError(f"{paths.shown(cells_path)}: no such file; the study {study!r} has not "
                        f"been run (notebooks/04_ablations.ipynb runs it)")
    cells = pd.read_csv(cells_path, usecols=["setting", "run_id"]).dropna()
    members = cells.merge(table, on="run_id", how="inner")
    members.insert(0, "study", study)
    return members.reset_index(drop=True)


def load_predictions(run_dir: str | os.PathLike) -> pd.DataFrame:
    """A run's ``predictions.csv`` with ``predicted_index`` (argmax of the ``prob_<class>``
    columns) and ``correct``."""
    path = Path(run_dir) / "predictions.csv"
    if not path.is_file():
        raise DataError(f"{path}: no predictions file")
    predictions = pd.read_csv(path)
    prob_columns = probability_columns(predictions)
    if "label_index" not in predictions.columns or not prob_columns:
        raise DataError(f"{path}: needs a label_index column and prob_<class> columns, "
                        f"found {list(predictions.columns)}")
    if "dataset" not in predictions.columns:
        predictions["dataset"] = OWN_TEST_SPLIT
    predictions["predicted_index"] = predictions[prob_columns].to_numpy().argmax(axis=1)
    predictions["correct"] = predictions["predicted_index"] == predictions["label_index"]
    return predictions


def name_settings(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``network`` column first: the settings' distinct readable names."""
    if table.empty:
        return table.assign(network=pd.Series(dtype=object))
    names = settings.setting_names(settings.describe_settings(table))
    named = table.assign(network=table["setting_id"].map(names))
    columns = ["network", *[column for column in named.columns if column != "network"]]
    return named[columns]


def with_settings(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with ``setting_id``, ``setting_fields`` and ``network``, for tables not read by
    :func:`collect_runs`: the setting is made of the configuration columns the table has."""
    if "setting_id" in runs.columns and "setting_fields" in runs.columns:
        return runs if "network" in runs.columns else name_settings(runs)
    columns = [column for column in (*CONFIG_COLUMNS, "train_data")
               if column in runs.columns and column != "seed"]
    fields = [json.dumps({column: _json_value(row[column]) for column in columns},
                         sort_keys=True, default=str) for _, row in runs.iterrows()]
    ids = [settings.setting_id(json.loads(text)) for text in fields]
    return name_settings(runs.assign(setting_id=ids, setting_fields=fields))


def one_run_per_seed(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with each seed counted once per setting and evaluation dataset: a seed trained
    twice would count as two independent trials; the lowest run id is kept, the others named
    in a warning."""
    keys = [column for column in ("setting_id", "dataset", "seed") if column in runs.columns]
    if len(keys) < 3 or runs.empty or "run_id" not in runs.columns:
        return runs
    ordered = runs.sort_values("run_id", kind="stable")
    repeated = ordered.duplicated(keys, keep="first")
    if not repeated.any():
        return runs
    dropped = ordered[repeated]
    notes = []
    for (setting, seed), group in dropped.groupby(["setting_id", "seed"], sort=True):
        kept = ordered.loc[(ordered["setting_id"] == setting) & (ordered["seed"] == seed),
                           "run_id"].iloc[0]
        name = group["network"].iloc[0] if "network" in group.columns else setting
        notes.append(f"{name} seed {seed}: kept {kept}, left out "
                     f"{', '.join(sorted(set(group['run_id'])))}")
    warnings.warn("a seed ran more than once for one setting and is counted once: "
                  + "; ".join(notes), stacklevel=2)
    return runs.drop(index=dropped.index)


def _json_value(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def sort_networks(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in table order (baseline, Gram by modules, GramNet, others; by name within)."""
    if table.empty or "variant" not in table.columns:
        return table
    modules = table["modules"] if "modules" in table.columns else [None] * len(table)
    names = table["network"] if "network" in table.columns else [""] * len(table)
    keys = [settings.order_key(variant, count, str(name)) for variant, count, name
            in zip(table["variant"], modules, names, strict=True)]
    order = sorted(range(len(table)), key=lambda index: keys[index])
    return table.iloc[order].reset_index(drop=True)


BY_SETTING = ("setting_id", "dataset")


def summarize(
    runs: pd.DataFrame,
    by: Sequence[str] = BY_SETTING,
    metric: str = "accuracy",
    *,
    confidence: float = 0.95,
    allow_pooling: bool = False,
) -> pd.DataFrame:
    """Per group of ``by``: ``mean``, ``sd_ddof1``, ``n``, ``sem``, ``ci95_low``, ``ci95_high``
    (the t interval of the mean, cut at 0 and 1 for shares, ``ci_clipped`` saying where) of
    ``metric``, with the columns that describe the setting; NaN SD and CI for a single run.

    Args:
        runs: the table of :func:`collect_runs`.
        confidence: level of the interval (columns ``ci<level>_low``/``_high``).
        allow_pooling: allow groups (``by`` without ``setting_id``) that pool runs of
            different settings; refused otherwise, since such a mean belongs to no network.

    Raises:
        DataError: ``metric`` or a ``by`` column is not in the table, or a group would pool
            different settings.
    """
    by = list(by)
    if "setting_id" in by and "setting_id" not in runs.columns and "variant" in runs.columns:
        runs = with_settings(runs)
    missing = [column for column in [*by, metric] if column not in runs.columns]
    if missing:
        raise DataError(f"summarize: column(s) {missing} not in the runs table "
                        f"(columns: {list(runs.columns)})")
    if not allow_pooling and "setting_id" in runs.columns and "setting_id" not in by:
        _refuse_pooling(runs, by)
    runs = one_run_per_seed(runs)
    ci_name = f"ci{round(confidence * 100):d}"
    described = [column for column in (*SETTING_COLUMNS, "setting_id")
                 if column in runs.columns and column not in by]
    values = runs[[*by, *described, metric]].copy()
    values[metric] = pd.to_numeric(values[metric], errors="coerce")
    values = values.dropna(subset=[metric])
    grouped = values.groupby(by, dropna=False, sort=False)
    summary = grouped[metric].agg(mean="mean", sd_ddof1=lambda x: x.std(ddof=1),
                                  n="count").reset_index()
    if described and not summary.empty:
        first = grouped[described].first().reset_index(drop=True)
        summary = pd.concat([first, summary], axis=1)
    summary["n"] = summary["n"].astype(int)
    summary["sem"] = summary["sd_ddof1"] / np.sqrt(summary["n"])
    half_width = pd.Series(mean_half_width(summary["sd_ddof1"], summary["n"], confidence),
                           index=summary.index)
    low, high = summary["mean"] - half_width, summary["mean"] + half_width
    if _is_fraction(metric):
        # A t interval of few seeds can reach past 0 or 1 (n = 2 has t = 12.7): the metric
        # cannot, so the interval is cut at its range and says so.
        summary["ci_clipped"] = ((low < 0) | (high > 1)).to_numpy()
        low, high = low.clip(lower=0.0), high.clip(upper=1.0)
    elif metric in BOUNDED_METRICS:
        lowest, highest = BOUNDED_METRICS[metric]
        summary["ci_clipped"] = ((low < lowest) | (high > highest)).to_numpy()
        low, high = low.clip(lower=lowest), high.clip(upper=highest)
    summary[f"{ci_name}_low"] = low
    summary[f"{ci_name}_high"] = high
    summary.insert(summary.columns.get_loc("mean"), "metric", metric)
    return sort_networks(summary)


# Metrics that are shares in [0, 1] (per-class ones too: precision_<class>, f1_<class>...).
FRACTION_METRICS = frozenset({
    "accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "top2_accuracy",
    "top2_cross_sentiment_share", "embedding_ambiguous_share", "majority_rate",
    "top2_cross_sentiment_chance_share", "embedding_ambiguous_share_chance",
    "expected_calibration_error", "calibrated_expected_calibration_error",
})
# The range of metrics that are not shares, where their intervals are cut like a share's: the
# Brier score of K classes lies in [0, 2], the NLL in [0, infinity).
BOUNDED_METRICS = {"brier_score": (0.0, 2.0), "calibrated_brier_score": (0.0, 2.0),
                   "nll": (0.0, np.inf), "calibrated_nll": (0.0, np.inf)}
# What a metric is worth by chance, summarised and shown beside it where asked
# (summarize_metrics(..., chance_levels=True)): metric -> (its chance level, column title).
# Accuracy: always answering the most frequent class. Top-2 cross-sentiment: the two most
# probable classes a uniformly random pair (16/28 for Mikels-8). Ambiguous share: the labels
# permuted on the same neighbours.
CHANCE_LEVELS = {
    "accuracy": ("majority_rate", "majority rate"),
    "top2_cross_sentiment_share": ("top2_cross_sentiment_chance_share", "{label} by chance"),
    "embedding_ambiguous_share": ("embedding_ambiguous_share_chance", "{label} by chance"),
}
# Metrics where a smaller value is the better result (a significance table calls a network
# "better" by this direction, not by the sign alone).
LOWER_IS_BETTER = frozenset({
    "top2_cross_sentiment_share", "embedding_ambiguous_share", "davies_bouldin",
    "expected_calibration_error", "brier_score", "loss", "val_loss", "nll",
    "calibrated_expected_calibration_error", "calibrated_brier_score", "calibrated_nll",
})


def _is_fraction(metric: str) -> bool:
    return metric in FRACTION_METRICS or metric.startswith(("precision_", "recall_", "f1_"))


def _refuse_pooling(runs: pd.DataFrame, by: list[str]) -> None:
    for key, group in runs.groupby(by, dropna=False, sort=False):
        if group["setting_id"].nunique() > 1:
            names = sorted(group["network"].astype(str).unique()) if "network" in group else []
            raise DataError(
                f"summarize by {by}: the group {key!r} holds {group['setting_id'].nunique()} "
                f"different settings ({'; '.join(names)}); group by setting_id, or pass "
                "allow_pooling=True to pool them anyway")


def summarize_metrics(
    runs: pd.DataFrame,
    by: Sequence[str] = BY_SETTING,
    metrics: Iterable[str] = METRIC_COLUMNS,
    *,
    chance_levels: bool = False,
) -> pd.DataFrame:
    """:func:`summarize` for several metrics stacked in one long table (column ``metric``);
    metrics that no run reports are left out.

    Args:
        chance_levels: also summarise, right after each metric, its chance level where the
            runs report it (:data:`CHANCE_LEVELS`), which :func:`metrics_view` shows beside it.
    """
    if chance_levels:
        metrics = dict.fromkeys(name for metric in metrics
                                for name in (metric, CHANCE_LEVELS.get(metric, (metric,))[0]))
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
    """The thesis' results table: ``network``, ``overall accuracy (%)``, ``SD`` as text in
    percent (0.813680 -> "81.368"), and the number of runs ``n`` when ``with_n``.

    Args:
        summary: a :func:`summarize` table of the accuracy.
        dataset: the evaluation dataset to show (``None``: the summary has one already).
    """
    table = summary
    if "metric" in table.columns:
        table = table[table["metric"] == "accuracy"]
    if dataset is not None and "dataset" in table.columns:
        table = table[table["dataset"] == dataset]
    if "network" not in table.columns:
        raise DataError("thesis_table: the summary needs a 'network' column (summarize the "
                        "runs of collect_runs)")
    table = sort_networks(table.reset_index(drop=True))
    layout = pd.DataFrame({
        "network": table["network"],
        "overall accuracy (%)": [_percent(value, decimals) for value in table["mean"]],
        "SD": [_percent(value, decimals) for value in table["sd_ddof1"]],
    })
    if with_n:
        layout["n"] = table["n"].to_numpy()
    return layout


# Headline metrics as a table shows them; accuracy first, the imbalance-aware ones beside it.
METRIC_LABELS = {
    "accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro F1",
    "roc_auc": "ROC AUC", "top2_accuracy": "top-2 accuracy",
    "top2_cross_sentiment_share": "top-2 cross-sentiment",
}


def metrics_view(summary: pd.DataFrame, *, dataset: str | None = OWN_TEST_SPLIT,
                 decimals: int = 2, labels: dict[str, str] | None = None,
                 percent: bool = True) -> pd.DataFrame:
    """Metrics per network as "mean ± SD" (in percent by default), with n; a metric's chance
    level, where the summary holds it (``summarize_metrics(..., chance_levels=True)``), right
    after it ("majority rate (%)" after accuracy); "-" where a record lacks a value.

    Args:
        summary: a :func:`summarize_metrics` table.
        dataset: the evaluation dataset to show (``None``: the summary has one already).
        labels: metric -> column title, in column order (default :data:`METRIC_LABELS`).
        percent: show fractions as percentages (off for scores such as a silhouette).
    """
    labels = METRIC_LABELS if labels is None else labels
    table = summary
    if dataset is not None and "dataset" in table.columns:
        table = table[table["dataset"] == dataset]
    if table.empty:
        return pd.DataFrame(columns=["network", "n"])
    key = "setting_id" if "setting_id" in table.columns else "network"
    first = sort_networks(table.drop_duplicates(key).reset_index(drop=True))
    view = pd.DataFrame({"network": first["network"].to_numpy()})
    counts = table.groupby(key)["n"].max()
    view["n"] = first[key].map(counts).to_numpy()
    scale = 100 if percent else 1
    chance_present = set(table["metric"])
    for metric, label in labels.items():
        rows = table[table["metric"] == metric].set_index(key)
        if rows.empty:
            continue
        view[f"{label} (%)" if percent else label] = _metric_texts(
            rows, first[key], scale, decimals, spread=True)
        chance, title = CHANCE_LEVELS.get(metric, (None, None))
        if chance in chance_present:
            title = title.format(label=label)
            view[f"{title} (%)" if percent else title] = _metric_texts(
                table[table["metric"] == chance].set_index(key), first[key], scale, decimals,
                spread=False)
    return view


def _metric_texts(rows: pd.DataFrame, settings_in_order: pd.Series, scale: float,
                  decimals: int, *, spread: bool) -> list[str]:
    """Per setting: "mean ± SD" (or the mean alone), "-" where there is no value."""
    texts = []
    for setting in settings_in_order:
        if setting not in rows.index or not np.isfinite(rows.loc[setting, "mean"]):
            texts.append("-")
            continue
        mean, sd = rows.loc[setting, "mean"], rows.loc[setting, "sd_ddof1"]
        shown_sd = "" if not spread or not np.isfinite(sd) else f" ± {sd * scale:.{decimals}f}"
        texts.append(f"{mean * scale:.{decimals}f}{shown_sd}")
    return texts


def interval_columns(summary: pd.DataFrame) -> tuple[str, str] | None:
    """The ``ci<level>_low`` and ``ci<level>_high`` columns of a :func:`summarize` table;
    ``None`` where it has none."""
    low = next((c for c in summary.columns if c.startswith("ci") and c.endswith("_low")), None)
    return None if low is None else (low, low.removesuffix("_low") + "_high")


def mean_with_interval(row: pd.Series, columns: tuple[str, str] | None,
                       decimals: int = 3) -> str:
    """One row of a :func:`summarize` table as "mean [low, high]", the mean alone without
    interval ``columns`` (:func:`interval_columns`) or a finite interval (a single run)."""
    text = f"{row['mean']:.{decimals}f}"
    if columns is None:
        return text
    low, high = row[columns[0]], row[columns[1]]
    if not (np.isfinite(low) and np.isfinite(high)):
        return text
    return f"{text} [{low:.{decimals}f}, {high:.{decimals}f}]"


CROSS_DATASET_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy"}


def cross_dataset_view(runs: pd.DataFrame, *, decimals: int = 2,
                       dataset_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Each network on each evaluation dataset: ``accuracy (%)``, the dataset's ``majority
    rate (%)`` and ``balanced accuracy (%)`` (mean ± SD over seeds; "-" where a record lacks a
    value), datasets in ``dataset_order`` (default the own test split first). An accuracy means
    something only above the majority rate (docs/statistics.md#chance-levels)."""
    columns = ["dataset", "network", "n", "accuracy (%)", "majority rate (%)",
               "balanced accuracy (%)"]
    if runs.empty:
        return pd.DataFrame(columns=columns)
    datasets = list(dict.fromkeys(runs["dataset"]))
    if dataset_order is None:
        datasets.sort(key=lambda name: name != OWN_TEST_SPLIT)
    else:
        datasets = [name for name in dataset_order if name in datasets]
    parts = []
    for name in datasets:
        rows = runs[runs["dataset"] == name]
        summary = summarize_metrics(rows, metrics=list(CROSS_DATASET_LABELS),
                                    chance_levels=True)
        view = metrics_view(summary, dataset=name, decimals=decimals,
                            labels=CROSS_DATASET_LABELS)
        view.insert(0, "dataset", name)
        parts.append(view.reindex(columns=columns, fill_value="-"))
    return pd.concat(parts, ignore_index=True)[columns]


def _percent(fraction: float, decimals: int) -> str:
    if fraction is None or not np.isfinite(fraction):
        return "-"
    return f"{fraction * 100:.{decimals}f}"


def best_run(runs: pd.DataFrame, metric: str = "accuracy") -> pd.Series:
    """The run a figure shows as "the best": of the network with the highest mean ``metric``,
    its run with the highest ``metric`` (ties: the smallest run id), from rows of one dataset.
    """
    scored = runs.dropna(subset=[metric]) if metric in runs.columns else runs.iloc[0:0]
    if scored.empty:
        raise DataError(f"no finished run with {metric!r} to choose the best run from")
    network = scored.groupby("network")[metric].mean().idxmax()
    ranked = scored[scored["network"] == network].sort_values([metric, "run_id"],
                                                              ascending=[False, True])
    return ranked.iloc[0]


def best_gram_run(runs: pd.DataFrame, metric: str = "accuracy") -> pd.Series:
    """The run whose Gram matrices a figure shows: :func:`best_run` among the networks with
    Gram modules (any variant but the baseline, with at least one module), or among all
    networks where none has any. Which network wins on accuracy must not decide whether there
    are Gram matrices to show."""
    modules = pd.to_numeric(runs.get("modules", pd.Series(index=runs.index, dtype=float)),
                            errors="coerce").fillna(0)
    with_modules = runs[(runs.get("variant") != "baseline") & (modules > 0)]
    if metric in runs.columns and with_modules[metric].notna().any():
        return best_run(with_modules, metric)
    return best_run(runs, metric)


def write_summary(runs: pd.DataFrame, out_dir: str | os.PathLike, *,
                  by: Sequence[str] = BY_SETTING,
                  metrics: Iterable[str] = SUMMARY_COLUMNS) -> Path:
    """Write ``summary.csv`` (:func:`summarize_metrics`) into ``out_dir`` atomically."""
    return write_table(summarize_metrics(runs, by, metrics), Path(out_dir) / SUMMARY_FILE)


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``table`` as CSV to ``path`` atomically (``thesis_lib.files``); returns the path."""
    return write_csv(path, table)


def same_seed_pair(
    runs: pd.DataFrame,
    setting_id: str,
    baseline_setting_id: str,
    *,
    dataset: str = OWN_TEST_SPLIT,
) -> tuple[str, str] | None:
    """Run ids ``(network run, baseline run)`` of the lowest seed both settings ran, or
    ``None``: runs of one seed share the split, so the test images (what McNemar needs)."""
    rows = runs[runs["dataset"] == dataset]
    candidates = rows[rows["setting_id"] == setting_id]
    baselines = rows[rows["setting_id"] == baseline_setting_id]
    pairs = candidates.merge(baselines, on="seed", suffixes=("", "_baseline"))
    if pairs.empty:
        return None
    first = pairs.sort_values("seed").iloc[0]
    return str(first["run_id"]), str(first["run_id_baseline"])

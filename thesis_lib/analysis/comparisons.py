"""Comparisons of run records and published tables: every setting against its reference,
module-count families, McNemar on two runs' predictions (docs/statistics.md).

Differences are setting - reference; runs are grouped by setting, never by (variant, modules).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from thesis_lib.analysis.hypothesis_tests import (
    ComparisonResult,
    GroupTestResult,
    McNemarResult,
    _check_alpha,
    accuracy_interval,
    compare_from_summary,
    compare_groups,
    compare_samples,
    holm,
    mcnemar_exact,
    seeds_for_power,
)
from thesis_lib.analysis.results import (
    LOWER_IS_BETTER,
    OWN_TEST_SPLIT,
    load_predictions,
    one_run_per_seed,
    runs_folder,
    same_seed_pair,
    sort_networks,
    with_settings,
)
from thesis_lib.config import settings
from thesis_lib.errors import DataError


def mcnemar_runs(
    predictions_a: pd.DataFrame,
    predictions_b: pd.DataFrame,
    *,
    dataset: str = OWN_TEST_SPLIT,
) -> McNemarResult:
    """Exact McNemar test of two runs' :func:`~analysis.results.load_predictions` on one
    evaluation dataset (``"test"``: their own test splits, so runs of one seed), by path.

    Raises:
        DataError: the runs did not predict the same images, or disagree on their labels.
    """
    def pick(predictions: pd.DataFrame, name: str) -> pd.DataFrame:
        rows = predictions[predictions["dataset"] == dataset]
        if "split" in rows.columns and dataset == OWN_TEST_SPLIT:
            rows = rows[rows["split"] == OWN_TEST_SPLIT]
        if rows.empty:
            raise DataError(f"predictions {name} hold no rows of dataset {dataset!r}")
        return rows[["path", "label_index", "correct"]]

    rows_a, rows_b = pick(predictions_a, "a"), pick(predictions_b, "b")
    merged = rows_a.merge(rows_b, on="path", suffixes=("_a", "_b"), how="outer", indicator=True)
    unmatched = int((merged["_merge"] != "both").sum())
    if unmatched:
        raise DataError(f"McNemar on {dataset!r}: {unmatched} image(s) predicted by only one "
                        f"of the runs; both runs must use the same test images (same split)")
    if not (merged["label_index_a"] == merged["label_index_b"]).all():
        raise DataError(f"McNemar on {dataset!r}: the runs disagree on the true labels")
    return mcnemar_exact(merged["correct_a"].astype(bool), merged["correct_b"].astype(bool))


def _setting_groups(runs: pd.DataFrame, metric: str, dataset: str
                    ) -> tuple[dict[str, pd.DataFrame], dict[str, dict]]:
    """By setting id: the rows of each setting on ``dataset`` (finite ``metric`` only, each
    seed once), and its fields."""
    runs = with_settings(runs)
    missing = [column for column in ("variant", "seed", "dataset", metric)
               if column not in runs.columns]
    if missing:
        raise DataError(f"runs table lacks column(s) {missing}; use the table of "
                        "thesis_lib.analysis.results.collect_runs")
    rows = one_run_per_seed(runs[(runs["dataset"] == dataset) & runs[metric].notna()])
    groups = {sid: group for sid, group in rows.groupby("setting_id", sort=False)}
    fields = {sid: settings.parse_fields(group["setting_fields"].iloc[0])
              for sid, group in groups.items()}
    return groups, fields


def _paired_by_seed(variant_rows: pd.DataFrame, baseline_rows: pd.DataFrame, metric: str):
    """Metric values of the seeds both groups ran (once each), in seed order."""
    if variant_rows["seed"].duplicated().any() or baseline_rows["seed"].duplicated().any():
        return None, None
    merged = variant_rows[["seed", metric]].merge(baseline_rows[["seed", metric]], on="seed",
                                                  suffixes=("_a", "_b")).sort_values("seed")
    return merged[f"{metric}_a"].to_numpy(), merged[f"{metric}_b"].to_numpy()


def _test_columns(prefix: str, result: ComparisonResult) -> dict:
    return {f"{prefix}_t": result.t, f"{prefix}_df": result.df, f"{prefix}_p": result.p_value,
            f"{prefix}_ci_low": result.ci_low, f"{prefix}_ci_high": result.ci_high}


def _unpaired_columns(test, *args, alpha: float, power: float, **options) -> dict:
    """The Welch and pooled columns of ``test(*args, ...)``, Hedges' g and seeds for power."""
    columns = {}
    for prefix, equal_var in (("welch", False), ("pooled", True)):
        result = test(*args, equal_var=equal_var, alpha=alpha, **options)
        columns.update(_test_columns(prefix, result))
    columns["hedges_g"] = result.hedges_g
    columns["seeds_for_power"] = seeds_for_power(result.hedges_g, alpha=alpha, power=power)
    return columns


def _design(rows: pd.DataFrame, reference_rows: pd.DataFrame) -> str:
    """How the runs of a setting and its reference pair: one seed, one split and data order."""
    seeds, reference_seeds = set(rows["seed"]), set(reference_rows["seed"])
    shared = len(seeds & reference_seeds)
    if seeds == reference_seeds:
        return "paired by seed"
    if shared >= 2:
        return f"partly paired ({shared} seeds shared)"
    return "independent"


def _network_record(rows: pd.DataFrame, reference_rows: pd.DataFrame | None, *, metric: str,
                    alpha: float, power: float, step: str | None, note: str = "") -> dict:
    """One row of :func:`compare_variants`: the runs of one setting against its reference's."""
    first = rows.iloc[0]
    values = rows[metric].to_numpy(dtype=float)
    record = {
        "network": first.get("network", first["variant"]), "setting_id": first["setting_id"],
        "variant": first["variant"], "modules": first.get("modules"),
        "dataset": first["dataset"], "metric": metric, "n": values.size, "mean": values.mean(),
        "sd_ddof1": values.std(ddof=1) if values.size > 1 else np.nan, "step": step,
        "confidence": 1 - alpha,
    }
    notes = [note] if note else []
    if reference_rows is None:
        record.update(reference=None, reference_setting_id=None, note="; ".join(notes))
        return record
    base = reference_rows[metric].to_numpy(dtype=float)
    base_first = reference_rows.iloc[0]
    record.update({
        "reference": base_first.get("network", base_first["variant"]),
        "reference_setting_id": base_first["setting_id"],
        "baseline_n": base.size, "baseline_mean": base.mean(),
        "diff": values.mean() - base.mean(), "design": _design(rows, reference_rows),
    })
    if values.size < 2 or base.size < 2:
        notes.append("fewer than 2 runs: no test")
    else:
        try:
            record.update(_unpaired_columns(compare_samples, values, base, alpha=alpha,
                                            power=power))
        except DataError as error:  # e.g. every run scored the same
            notes.append(str(error))
    paired_a, paired_b = _paired_by_seed(rows, reference_rows, metric)
    record["paired_n"] = 0 if paired_a is None else int(paired_a.size)
    if paired_a is not None and paired_a.size >= 2:
        try:
            paired = compare_samples(paired_a, paired_b, paired=True, alpha=alpha)
            record.update(_test_columns("paired", paired))
        except DataError as error:
            notes.append(str(error))
    record["note"] = "; ".join(notes)
    return record


COMPARISON_COLUMNS = [
    "network", "setting_id", "variant", "modules", "dataset", "metric", "n", "mean",
    "sd_ddof1", "step", "reference", "reference_setting_id", "baseline_n", "baseline_mean",
    "diff", "design", "confidence",
    "welch_t", "welch_df", "welch_p", "welch_ci_low", "welch_ci_high",
    "pooled_t", "pooled_df", "pooled_p", "pooled_ci_low", "pooled_ci_high",
    "paired_n", "paired_t", "paired_df", "paired_p", "paired_ci_low", "paired_ci_high",
    "hedges_g", "seeds_for_power", "welch_p_holm", "pooled_p_holm", "paired_p_holm",
    "holm_m", "significant_holm", "outcome", "note",
]
# What a comparison found, by the sign of the difference and the Holm-corrected rejection.
BETTER, WORSE, NOT_SIGNIFICANT, NO_TEST = "better", "worse", "not significant", "no test"


def compare_variants(
    runs: pd.DataFrame,
    *,
    baseline: str = "baseline",
    reference: str | None = None,
    rule: str = "step",
    metric: str = "accuracy",
    dataset: str | None = OWN_TEST_SPLIT,
    alpha: float = 0.05,
    power: float = 0.8,
    allow_different_data: bool = False,
) -> pd.DataFrame:
    """Every setting against its reference on one metric (columns :data:`COMPARISON_COLUMNS`).

    The reference is the setting without its outermost step, trained the same way
    (``rule="step"``, ``config.settings.find_reference``); ``rule="baseline"`` compares every
    setting with the plain baseline. A setting without its reference gets a row with a note.
    Per setting: ``diff`` (setting - reference), the ``design`` of the runs, Welch, pooled and
    paired t-tests at ``confidence`` = 1 - alpha, Hedges' g, the seeds for ``power``, Holm over
    the ``holm_m`` tested settings of one dataset, and the ``outcome`` (by the Welch test and
    the metric's direction, ``results.LOWER_IS_BETTER``). Each seed counts once per setting.

    Args:
        runs: the table of ``collect_runs``; its settings form the Holm family, so pass one
            study's runs (``collect_runs(..., study=...)``).
        baseline: the variant name of the baseline.
        reference: a setting (readable name, e.g. ``"B2 + 4 Gram modules"``, or setting id)
            to compare every other setting with, instead of the rule.
        dataset: evaluation dataset (``None``: each the baseline was evaluated on).
        allow_different_data: compare with a reference trained on other data or splits when
            none was trained on the same ones (noted in the row); refused otherwise.

    Raises:
        DataError: no runs of the baseline on the dataset, a reference that is ambiguous (the
            candidates are named) or names no setting, or (without ``allow_different_data``)
            a setting whose only references saw other data or splits.
    """
    _check_alpha(alpha)
    if dataset is None:
        with_baseline = runs.loc[runs["variant"] == baseline, "dataset"]
        parts = [compare_variants(runs, baseline=baseline, reference=reference, rule=rule,
                                  metric=metric, dataset=name, alpha=alpha, power=power,
                                  allow_different_data=allow_different_data)
                 for name in pd.unique(with_baseline)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=COMPARISON_COLUMNS)
    groups, fields = _setting_groups(runs, metric, dataset)
    named = None
    if reference is not None:
        names = {sid: str(group["network"].iloc[0]) for sid, group in groups.items()}
        named = settings.resolve_reference(reference, names)
    records = []
    for sid, rows in groups.items():
        if named is not None:
            if sid != named:
                records.append(_network_record(rows, groups[named], metric=metric, alpha=alpha,
                                               power=power, step="named"))
            continue
        step = settings.outermost_step(fields[sid], baseline)
        if step is None:
            continue  # the plain baseline: the root of every comparison
        try:
            found, note = settings.find_reference(
                fields[sid], fields, rule=rule, baseline=baseline,
                allow_different_data=allow_different_data)
        except DataError as error:
            raise DataError(f"{rows['network'].iloc[0]}: {error}") from None
        records.append(_network_record(rows, groups.get(found), metric=metric, alpha=alpha,
                                       power=power, step=step, note=note))
    has_baseline = any(group["variant"].iloc[0] == baseline for group in groups.values())
    if not has_baseline and not any(record.get("reference") for record in records):
        # Nothing could be compared (a study of its tap variants has its default network as
        # the reference, and needs no baseline).
        raise DataError(f"no finished runs of the baseline variant {baseline!r} on dataset "
                        f"{dataset!r} (variants present: "
                        f"{sorted({str(g['variant'].iloc[0]) for g in groups.values()})})")
    table = pd.DataFrame(records).reindex(columns=COMPARISON_COLUMNS)
    if not table.empty:
        table = _add_holm(table, ("welch", "pooled", "paired"), alpha)
        table = sort_networks(table)
    return table


def outcome(diff: float, rejected: bool, p_value: float, *,
            higher_is_better: bool = True) -> str:
    """``"better"``/``"worse"`` for a significant difference by its sign and the metric's
    direction, ``"not significant"``, or ``"no test"`` without a p-value."""
    if not np.isfinite(p_value):
        return NO_TEST
    if not rejected:
        return NOT_SIGNIFICANT
    return BETTER if (diff > 0) == higher_is_better else WORSE


def _add_holm(table: pd.DataFrame, tests: Sequence[str], alpha: float) -> pd.DataFrame:
    """``<test>_p_holm`` per test; ``holm_m``, ``significant_holm`` and ``outcome`` of the
    first."""
    for test in tests:
        p_values = table[f"{test}_p"].to_numpy(dtype=float)
        reject, adjusted = holm(p_values, alpha=alpha)
        table[f"{test}_p_holm"] = adjusted
        if test == tests[0]:
            table["holm_m"] = int(np.isfinite(p_values).sum())
            table["significant_holm"] = reject
            metrics = table["metric"] if "metric" in table.columns else ["accuracy"] * len(table)
            table["outcome"] = [
                outcome(d, r, p, higher_is_better=metric not in LOWER_IS_BETTER)
                for d, r, p, metric in zip(table["diff"].astype(float), reject, p_values,
                                           metrics, strict=True)]
    return table


def compare_summary_table(
    summary: pd.DataFrame,
    *,
    baseline: str,
    network: str = "network",
    mean: str = "mean",
    sd: str = "sd",
    n: str = "n",
    sd_ddof: int = 1,
    alpha: float = 0.05,
    power: float = 0.8,
) -> pd.DataFrame:
    """Every row of a published results table against its baseline row, from the summary
    statistics alone (:func:`compare_from_summary`): :func:`compare_variants`' columns but the
    paired test.

    Args:
        summary: one row per network.
        baseline: the value of the ``network`` column of the baseline row.
        network, mean, sd, n: column names.
        sd_ddof: 1 for sample SDs, 0 for population SDs.

    Raises:
        DataError: no baseline row, or a missing column.
    """
    missing = [column for column in (network, mean, sd, n) if column not in summary.columns]
    if missing:
        raise DataError(f"summary table lacks column(s) {missing}")
    is_baseline = summary[network] == baseline
    if is_baseline.sum() != 1:
        raise DataError(f"summary table needs exactly one row with {network} == {baseline!r}, "
                        f"found {int(is_baseline.sum())}")
    base = summary[is_baseline].iloc[0]
    records = []
    for _, row in summary[~is_baseline].iterrows():
        record = {"network": row[network], "n": int(row[n]), "mean": row[mean], "sd": row[sd],
                  "baseline_mean": base[mean], "diff": row[mean] - base[mean],
                  "confidence": 1 - alpha}
        record.update(_unpaired_columns(compare_from_summary, row[mean], row[sd], row[n],
                                        base[mean], base[sd], base[n], sd_ddof=sd_ddof,
                                        alpha=alpha, power=power))
        records.append(record)
    return _add_holm(pd.DataFrame(records), ("welch", "pooled"), alpha)


def published_interval_readings(
    summary: pd.DataFrame,
    *,
    baseline: str,
    rows: Sequence[str],
    published_pp: tuple[float, float],
    network: str = "network",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Which row and reading of a published table give a published confidence interval: each
    candidate row with sample or population SDs and the Welch or pooled t, recomputed.

    Args:
        summary: the published table (``network``, ``mean``, ``sd``, ``n``; fractions).
        rows: the rows that could be "proposed".
        published_pp: the published interval, in percentage points.

    Returns:
        One row per (row, SDs, test): ``network``, ``sds``, ``test``, ``ci_low_pp``,
        ``ci_high_pp`` and ``distance_pp`` (the larger bound's distance), closest first.
    """
    records = []
    for name in rows:
        for sds, ddof in (("sample", 1), ("population", 0)):
            table = compare_summary_table(summary[summary[network].isin([baseline, name])],
                                          baseline=baseline, network=network, sd_ddof=ddof,
                                          alpha=alpha)
            for test in ("welch", "pooled"):
                low, high = (table[f"{test}_ci_low"].iloc[0] * 100,
                             table[f"{test}_ci_high"].iloc[0] * 100)
                records.append({"network": name, "sds": sds, "test": test,
                                "ci_low_pp": low, "ci_high_pp": high,
                                "distance_pp": max(abs(low - published_pp[0]),
                                                   abs(high - published_pp[1]))})
    return pd.DataFrame(records).sort_values("distance_pp", kind="stable").reset_index(drop=True)


def module_count_family(
    runs: pd.DataFrame,
    *,
    variant: str = "gram",
    baseline: str = "baseline",
    metric: str = "accuracy",
    dataset: str = OWN_TEST_SPLIT,
) -> pd.DataFrame:
    """The rows of the settings that differ from their baseline in the number of modules only
    (``variant`` with the default taps, activation...), and the baseline's as ``modules`` = 0.

    Raises:
        DataError: no baseline, or settings of ``variant`` with baselines of several trainings or
            datasets (filter the table to one first).
    """
    groups, fields = _setting_groups(runs, metric, dataset)
    baselines = {sid: fields[sid] for sid, group in groups.items()
                 if group["variant"].iloc[0] == baseline}
    if not baselines:
        raise DataError(f"no finished runs of the baseline variant {baseline!r} on {dataset!r}")
    members: dict[str, list[str]] = {}
    for sid, group in groups.items():
        if group["variant"].iloc[0] != variant or not settings.is_default_architecture(fields[sid]):
            continue
        try:
            reference, _ = settings.find_reference(fields[sid], baselines, baseline=baseline)
        except DataError:
            continue
        if reference is not None:
            members.setdefault(reference, []).append(sid)
    if len(members) > 1:
        names = sorted(str(groups[sid]["network"].iloc[0]) for sid in members)
        raise DataError(f"{variant} networks of {len(members)} different trainings or datasets "
                        f"(baselines: {'; '.join(names)}); filter the runs to one of them")
    if not members:
        return runs.iloc[0:0]
    reference, chosen = next(iter(members.items()))
    family = pd.concat([groups[reference], *(groups[sid] for sid in chosen)])
    return family.assign(modules=family["modules"].where(family["variant"] != baseline, 0))


def compare_module_counts(
    runs: pd.DataFrame,
    *,
    variant: str = "gram",
    baseline: str | None = "baseline",
    metric: str = "accuracy",
    dataset: str = OWN_TEST_SPLIT,
) -> GroupTestResult:
    """ANOVA and Kruskal-Wallis of ``metric`` across the module counts of
    :func:`module_count_family`, the baseline as 0 modules unless ``baseline`` is None; groups
    of a single run are left out (no variance)."""
    family = module_count_family(runs, variant=variant, baseline=baseline or "baseline",
                                 metric=metric, dataset=dataset)
    if baseline is None:
        family = family[family["variant"] == variant]
    family = family[family[metric].notna()]
    samples = {int(modules): group.to_numpy(dtype=float)
               for modules, group in family.groupby("modules", sort=True)[metric]
               if group.size >= 2}
    return compare_groups(samples)


def paired_run_test(runs: pd.DataFrame, comparison: pd.Series,
                    results_dir: str | os.PathLike, *, confidence: float = 0.95) -> dict | None:
    """The exact McNemar test of one network's run against its reference's run of the same
    seed, and the Wilson interval of that run's accuracy.

    Args:
        comparison: one row of :func:`compare_variants`.
        results_dir: the results folder holding ``runs/``.

    Returns:
        ``{"runs": (network run, reference run), "mcnemar": McNemarResult, "interval":
        ProportionInterval}``, or ``None`` when the two settings share no seed.
    """
    if not isinstance(comparison.get("reference_setting_id"), str):
        return None
    pair = same_seed_pair(runs, comparison["setting_id"], comparison["reference_setting_id"])
    if pair is None:
        return None
    folder = runs_folder(results_dir)
    predictions = [load_predictions(folder / run_id) for run_id in pair]
    first = predictions[0]
    correct = first.loc[first["dataset"] == OWN_TEST_SPLIT, "correct"]
    return {"runs": pair, "mcnemar": mcnemar_runs(*predictions),
            "interval": accuracy_interval(correct.to_numpy(dtype=bool), confidence=confidence)}

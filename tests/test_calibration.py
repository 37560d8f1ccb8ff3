"""Calibration metrics and temperature scaling against plain numpy, scikit-learn and scipy."""

import numpy as np
import pytest

from thesis_lib.analysis import calibration
from thesis_lib.errors import DataError
from thesis_lib.training.evaluate import compute_metrics


def _softmax(logits):
    exponent = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponent / exponent.sum(axis=1, keepdims=True)


def _reference_ece(labels, probabilities, bins):
    """Equal-mass ECE written out with a loop: sort by confidence, cut into ``bins`` runs of
    (almost) equal length, sum of |accuracy - confidence| weighted by size."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    order = sorted(range(len(labels)), key=lambda i: (confidence[i], i))
    n = len(labels)
    total, start = 0.0, 0
    for b in range(bins):
        size = n // bins + (1 if b < n % bins else 0)
        chosen = order[start:start + size]
        start += size
        total += size / n * abs(np.mean(correct[chosen]) - np.mean(confidence[chosen]))
    return total


@pytest.fixture
def eight_classes():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 8, size=203)
    logits = rng.normal(size=(203, 8)) * 2 + 3.0 * np.eye(8)[labels]
    return labels, _softmax(logits)


def test_ece_matches_a_plain_loop_with_equal_mass_bins(eight_classes):
    labels, probabilities = eight_classes
    ece, bins = calibration.expected_calibration_error(labels, probabilities, bins=15)
    assert bins == 15
    assert ece == pytest.approx(_reference_ece(labels, probabilities, 15), abs=1e-12)
    table = calibration.reliability_table(labels, probabilities, 15)
    assert table["count"].sum() == 203 and table["count"].max() - table["count"].min() <= 1


def test_ece_uses_at_most_one_bin_per_image():
    labels = np.array([0, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]])
    ece, bins = calibration.expected_calibration_error(labels, probabilities, bins=15)
    assert bins == 3
    # each image its own bin: mean of |correct - confidence| = (0.1 + 0.4 + 0.7) / 3
    assert ece == pytest.approx((0.1 + 0.4 + 0.7) / 3)


def test_brier_score_is_twice_sklearns_for_two_classes_and_the_one_hot_sum_for_more(
        eight_classes):
    from sklearn.metrics import brier_score_loss

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, size=50)
    p1 = rng.uniform(size=50)
    binary = np.stack([1 - p1, p1], axis=1)
    assert calibration.brier_score(labels, binary) == pytest.approx(
        2 * brier_score_loss(labels, p1))
    labels, probabilities = eight_classes
    expected = np.mean([sum((probabilities[i, k] - (labels[i] == k)) ** 2 for k in range(8))
                        for i in range(len(labels))])
    assert calibration.brier_score(labels, probabilities) == pytest.approx(expected)


def test_nll_matches_sklearns_log_loss(eight_classes):
    from sklearn.metrics import log_loss

    labels, probabilities = eight_classes
    assert calibration.negative_log_likelihood(labels, probabilities) == pytest.approx(
        log_loss(labels, probabilities, labels=list(range(8))))


def test_temperature_recovers_the_softening_of_overconfident_logits():
    # Labels drawn from softmax(z); the network reports softmax(2.5 z): T = 2.5 undoes it.
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(4000, 4)) * 1.5
    labels = np.array([rng.choice(4, p=row) for row in _softmax(logits)])
    overconfident = _softmax(2.5 * logits)
    temperature = calibration.fit_temperature(labels, overconfident)
    assert temperature == pytest.approx(2.5, rel=0.08)
    # the fitted value is the minimum of the NLL over a fine grid (an independent search)
    grid = np.linspace(1.5, 3.5, 401)
    nll = [calibration.negative_log_likelihood(labels, _softmax(2.5 * logits / t)) for t in grid]
    assert temperature == pytest.approx(grid[int(np.argmin(nll))], abs=0.01)
    scaled = calibration.scale_temperature(overconfident, temperature)
    assert np.array_equal(scaled.argmax(axis=1), overconfident.argmax(axis=1))
    record = calibration.temperature_record(labels, overconfident)
    assert record["val_nll_after"] < record["val_nll_before"]
    before = calibration.calibration_metrics(labels, overconfident)
    after = calibration.calibrated_metrics(labels, overconfident, temperature)
    assert after["expected_calibration_error"] < before["expected_calibration_error"]


def test_scaling_by_one_changes_nothing(eight_classes):
    _, probabilities = eight_classes
    assert np.allclose(calibration.scale_temperature(probabilities, 1.0), probabilities)
    with pytest.raises(ValueError, match="positive"):
        calibration.scale_temperature(probabilities, 0.0)


def test_compute_metrics_records_the_calibration_with_its_bin_count(eight_classes):
    labels, probabilities = eight_classes
    result = compute_metrics(labels, probabilities, [f"c{i}" for i in range(8)])
    assert result["ece_bins"] == calibration.ECE_BINS
    assert result["expected_calibration_error"] == pytest.approx(
        _reference_ece(labels, probabilities, calibration.ECE_BINS))
    assert result["nll"] == pytest.approx(
        -np.mean(np.log(probabilities[np.arange(len(labels)), labels])))


# --- run records, summaries, tables and the figure


def _write_calibrated_run(tmp_path, run_id, seed, ece, brier, nll):
    import json

    from run_records import write_run

    run_dir = write_run(tmp_path, run_id, seed=seed)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.update({"expected_calibration_error": ece, "ece_bins": 15, "brier_score": brier,
                    "nll": nll, "temperature_scaling": {"temperature": 1.5, "fitted_on": "val"},
                    "calibrated": {"expected_calibration_error": ece / 2, "ece_bins": 15,
                                   "brier_score": brier - 0.01, "nll": nll - 0.1}})
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


def test_summaries_carry_calibration_with_t_intervals_and_old_records_still_load(tmp_path):
    from run_records import write_run
    from scipy import stats

    from thesis_lib.analysis import results
    from thesis_lib.experiments import studies
    from thesis_lib.figures import calibration_table

    eces = [0.10, 0.14, 0.12]
    for seed, ece in enumerate(eces):
        _write_calibrated_run(tmp_path, f"gram-s{seed}", seed, ece, 0.3 + seed / 100, 0.6)
    write_run(tmp_path, "old-baseline-s0", variant="baseline", modules=0, seed=0)  # no fields
    runs = results.collect_runs(tmp_path)
    old = runs[runs["run_id"] == "old-baseline-s0"]
    assert old["expected_calibration_error"].isna().all() and old["accuracy"].notna().all()
    summary = results.summarize_metrics(runs, metrics=results.SUMMARY_COLUMNS)
    row = summary[(summary["metric"] == "expected_calibration_error")].iloc[0]
    half = stats.t.ppf(0.975, 2) * np.std(eces, ddof=1) / np.sqrt(3)
    assert row["mean"] == pytest.approx(0.12)
    assert (row["ci95_low"], row["ci95_high"]) == pytest.approx((0.12 - half, 0.12 + half))
    # NLL and Brier score are cut at 0 only (the Brier score of K classes reaches 2)
    nll = summary[summary["metric"] == "nll"].iloc[0]
    assert nll["ci95_low"] == 0.6 and nll["ci95_high"] == 0.6
    brier = summary[summary["metric"] == "brier_score"].iloc[0]
    brier_half = stats.t.ppf(0.975, 2) * np.std([0.30, 0.31, 0.32], ddof=1) / np.sqrt(3)
    assert brier["ci95_high"] == pytest.approx(0.31 + brier_half)
    scaled = summary[summary["metric"] == "calibrated_expected_calibration_error"]
    assert scaled["mean"].iloc[0] == pytest.approx(0.06)
    assert len(summary[summary["metric"] == "nll"]) == 1  # only the calibrated setting
    latex = calibration_table(summary)
    assert f"0.120 [{0.12 - half:.3f}, {0.12 + half:.3f}]" in latex
    # the old run is in the table with its accuracy, without calibration numbers
    baseline_line = next(line for line in latex.splitlines() if line.startswith("baseline"))
    assert baseline_line.count("--") == 6 and baseline_line.endswith("& 1 \\\\")
    # a study summary of old records only is written as before (no calibration rows)
    only_old = tmp_path / "old"
    write_run(only_old, "b-s0", variant="baseline", modules=0, seed=0)
    old_summary = results.summarize_metrics(results.collect_runs(only_old),
                                            metrics=results.SUMMARY_COLUMNS)
    assert not set(old_summary["metric"]) & set(results.CALIBRATION_COLUMNS)
    assert studies.SUMMARY_COLUMNS == results.SUMMARY_COLUMNS
    with pytest.raises(DataError, match="no calibration metric"):
        calibration_table(old_summary)


def test_reliability_diagram_draws_the_equal_mass_bins(eight_classes):
    import pandas as pd

    from thesis_lib.figures import plot_reliability_diagram

    labels, probabilities = eight_classes
    predictions = pd.DataFrame(probabilities, columns=[f"prob_c{i}" for i in range(8)])
    predictions.insert(0, "label_index", labels)
    predictions.insert(0, "dataset", "test")
    fig = plot_reliability_diagram(predictions, temperature=1.7, bins=10)
    lines = fig.axes[0].get_lines()
    table = calibration.reliability_table(labels, probabilities, 10)
    assert np.allclose(lines[1].get_xdata(), table["confidence"])
    assert np.allclose(lines[1].get_ydata(), table["accuracy"])
    scaled = calibration.reliability_table(
        labels, calibration.scale_temperature(probabilities, 1.7), 10)
    assert np.allclose(lines[2].get_ydata(), scaled["accuracy"])
    ece, _ = calibration.expected_calibration_error(labels, probabilities, 10)
    assert f"ECE {ece * 100:.1f} %" in lines[1].get_label()


def test_intervals_of_brier_score_and_nll_are_cut_at_their_range_only():
    import pandas as pd
    from scipy import stats

    from thesis_lib.analysis.results import summarize

    runs = pd.DataFrame({"setting_id": "a", "dataset": "test", "seed": [0, 1],
                         "run_id": ["x", "y"], "brier_score": [0.1, 0.5], "nll": [1.9, 2.5]})
    half = stats.t.ppf(0.975, 1) * np.std([1.9, 2.5], ddof=1) / np.sqrt(2)
    brier = summarize(runs, metric="brier_score").iloc[0]
    assert (brier["ci95_low"], brier["ci95_high"], brier["ci_clipped"]) == (0.0, 2.0, True)
    nll = summarize(runs, metric="nll").iloc[0]
    assert nll["ci95_low"] == 0.0 and nll["ci95_high"] == pytest.approx(2.2 + half)

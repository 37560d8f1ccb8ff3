"""What a metric is worth by chance, beside the metric: the majority rate and balanced
accuracy beside accuracy (recorded per evaluation dataset, derived for older records, shown in
the cross-dataset view), the chance levels of the ambiguous and top-2 cross-sentiment shares in
the metric views."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from run_records import write_run

from thesis_lib.analysis import results
from thesis_lib.training.evaluate import compute_metrics, majority_rate


def test_majority_rate_and_balanced_accuracy_of_a_constant_answer_by_hand():
    # Emotion-6 as sad vs not sad: 330 of 1,980 images sad, the rest not.
    labels = np.array([0] * 1650 + [1] * 330)
    always_not_sad = np.tile([0.9, 0.1], (1980, 1))
    result = compute_metrics(labels, always_not_sad, ["not_sadness", "sadness"])
    assert result["majority_rate"] == pytest.approx(1650 / 1980)  # 83.33 %
    assert result["accuracy"] == pytest.approx(result["majority_rate"])
    assert result["balanced_accuracy"] == pytest.approx(0.5)  # recalls 1 and 0
    # A network that finds 200 of the 330 sad images and calls 500 others sad: accuracy
    # (200 + 1150) / 1980 = 68.2 %, below the majority rate; balanced (200/330 + 1150/1650) / 2.
    guesses = np.r_[np.zeros(1150), np.ones(500), np.ones(200), np.zeros(130)].astype(int)
    result = compute_metrics(labels, np.eye(2)[guesses], ["not_sadness", "sadness"])
    assert result["accuracy"] == pytest.approx(1350 / 1980)
    assert result["balanced_accuracy"] == pytest.approx((200 / 330 + 1150 / 1650) / 2)
    assert result["majority_rate"] == pytest.approx(1650 / 1980)
    assert json.loads(json.dumps(result))["majority_rate"] == result["majority_rate"]


def test_majority_rate_of_several_classes_and_of_none():
    assert majority_rate(np.array([2, 0, 2, 1, 2, 0])) == pytest.approx(3 / 6)
    assert majority_rate(np.array([], dtype=int)) is None


def test_older_records_get_the_majority_rate_from_their_supports(tmp_path):
    # Records written before majority_rate existed: per-class supports 100 / 100 on the test
    # split; Emotion-6 with supports 1650 / 330; a dataset without supports stays missing.
    emotion6 = {"n": 1980, "accuracy": 0.6946, "balanced_accuracy": 0.61,
                "per_class": {"not_sadness": {"support": 1650}, "sadness": {"support": 330}}}
    write_run(tmp_path, "base-s0", variant="baseline", modules=0, accuracy=0.81,
              extra_datasets={"emotion6": emotion6, "bare": {"n": 10, "accuracy": 0.5}})
    runs = results.collect_runs(tmp_path).set_index("dataset")
    assert runs.loc["test", "majority_rate"] == pytest.approx(0.5)
    assert runs.loc["emotion6", "majority_rate"] == pytest.approx(1650 / 1980)
    assert math.isnan(runs.loc["bare", "majority_rate"])
    # A recorded value is read as it is.
    write_run(tmp_path, "base-s1", variant="baseline", modules=0, seed=1,
              extra_datasets={"emotion6": {**emotion6, "majority_rate": 0.8}})
    runs = results.collect_runs(tmp_path)
    assert runs.loc[(runs.run_id == "base-s1") & (runs.dataset == "emotion6"),
                    "majority_rate"].item() == 0.8


def test_cross_dataset_view_puts_majority_rate_and_balanced_accuracy_beside_accuracy(tmp_path):
    emotion6 = {"per_class": {"not_sadness": {"support": 1650}, "sadness": {"support": 330}}}
    accuracies = {"baseline": (0.80, 0.81, 0.82), "gram": (0.83, 0.84, 0.85)}
    for variant, values in accuracies.items():
        for seed, accuracy in enumerate(values):
            write_run(tmp_path, f"{variant}-s{seed}", variant=variant,
                      modules=0 if variant == "baseline" else 4, seed=seed, accuracy=accuracy,
                      extra_datasets={"emotion6": {**emotion6, "n": 1980,
                                                   "accuracy": accuracy - 0.1,
                                                   "balanced_accuracy": accuracy - 0.2}})
    write_run(tmp_path, "old-s0", variant="gram", modules=2, accuracy=0.8,
              extra_datasets={"emotion6": {"n": 1980, "accuracy": 0.7}})
    runs = results.collect_runs(tmp_path)
    view = results.cross_dataset_view(runs)
    assert view.columns.tolist() == ["dataset", "network", "n", "accuracy (%)",
                                     "majority rate (%)", "balanced accuracy (%)"]
    assert view["dataset"].tolist() == ["test"] * 3 + ["emotion6"] * 3
    base = view[(view.dataset == "emotion6") & view.network.str.startswith("baseline")].iloc[0]
    values = np.array(accuracies["baseline"]) - 0.1
    assert base["accuracy (%)"] == (f"{values.mean() * 100:.2f} ± "
                                    f"{values.std(ddof=1) * 100:.2f}")
    assert base["majority rate (%)"] == f"{1650 / 1980 * 100:.2f}"
    assert base["balanced accuracy (%)"].startswith(f"{(values.mean() - 0.1) * 100:.2f} ± ")
    # The old record has no supports and no balanced accuracy there: dashes, not zeros.
    old = view[(view.dataset == "emotion6") & (view.n == 1)].iloc[0]
    assert (old["accuracy (%)"], old["majority rate (%)"], old["balanced accuracy (%)"]) == (
        "70.00", "-", "-")
    assert results.cross_dataset_view(runs.iloc[0:0]).empty


def test_metrics_view_shows_the_majority_rate_only_where_asked(tmp_path):
    for seed, accuracy in enumerate((0.7, 0.8)):
        write_run(tmp_path, f"base-s{seed}", variant="baseline", modules=0, seed=seed,
                  accuracy=accuracy)
    runs = results.collect_runs(tmp_path)
    plain = results.metrics_view(results.summarize_metrics(runs))
    assert "majority rate (%)" not in plain.columns
    summary = results.summarize_metrics(runs, chance_levels=True)
    assert summary["metric"].tolist() == ["accuracy", "majority_rate", "balanced_accuracy",
                                          "macro_f1"]
    view = results.metrics_view(summary)
    assert view.columns.tolist() == ["network", "n", "accuracy (%)", "majority rate (%)",
                                     "balanced accuracy (%)", "macro F1 (%)"]
    assert view.loc[0, "majority rate (%)"] == "50.00"
    assert view.loc[0, "accuracy (%)"] == f"75.00 ± {pd.Series([70, 80]).std():.2f}"


def test_metrics_view_shows_each_share_beside_its_chance_level(tmp_path):
    # Two seeds with recorded chance levels, one older record without them.
    records = [("s0", 0.20, 0.95, 0.30), ("s1", 0.30, 0.97, 0.40), ("old", 0.25, None, 0.35)]
    for seed, (name, ambiguous, chance, cross) in enumerate(records):
        run_dir = write_run(tmp_path, f"gram-{name}", seed=seed)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        metrics["embedding"] = {"ambiguous_share": ambiguous, "neighbours": 10}
        metrics["top2_cross_sentiment"] = {"share": cross, "ci_low": 0.1, "ci_high": 0.5,
                                           "confidence_level": 0.95}
        if chance is not None:
            metrics["embedding"]["ambiguous_share_chance"] = chance
            metrics["top2_cross_sentiment"].update(chance_share=16 / 28, ci_method="wilson")
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
    runs = results.collect_runs(tmp_path)
    assert "top2_cross_sentiment_ci_method" not in runs.columns  # text is not a metric
    shares = ["embedding_ambiguous_share", "top2_cross_sentiment_share"]
    labels = {"embedding_ambiguous_share": "ambiguous",
              "top2_cross_sentiment_share": "top-2 cross-sentiment"}
    new = results.metrics_view(
        results.summarize_metrics(runs[runs.run_id != "gram-old"], metrics=shares,
                                  chance_levels=True), labels=labels)
    assert new.columns.tolist() == ["network", "n", "ambiguous (%)", "ambiguous by chance (%)",
                                    "top-2 cross-sentiment (%)",
                                    "top-2 cross-sentiment by chance (%)"]
    assert new.loc[0, "ambiguous by chance (%)"] == "96.00"  # mean of 95 and 97
    assert new.loc[0, "top-2 cross-sentiment by chance (%)"] == f"{16 / 28 * 100:.2f}"
    old = results.metrics_view(
        results.summarize_metrics(runs[runs.run_id == "gram-old"], metrics=shares,
                                  chance_levels=True), labels=labels)
    assert old.loc[0, "ambiguous (%)"] == "25.00"
    assert "ambiguous by chance (%)" not in old.columns  # no record has it

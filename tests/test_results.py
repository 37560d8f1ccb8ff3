"""Tests of thesis_lib.analysis.results on run folders written here with known numbers."""

import math

import numpy as np
import pandas as pd
import pytest
from run_records import CLASSES, accuracies_with, write_run
from scipy import stats as scipy_stats

from thesis_lib import analysis as stats
from thesis_lib import files
from thesis_lib.analysis import published, results
from thesis_lib.errors import DataError


def test_collect_runs_reads_finished_runs_and_reports_the_others(tmp_path):
    write_run(tmp_path, "base-s0", variant="baseline", modules=0, seed=0, accuracy=0.81,
              extra_datasets={"emotion6": {"n": 60, "accuracy": 0.7, "macro_f1": 0.69}})
    write_run(tmp_path, "gram4-s0", seed=0, accuracy=0.82, nested=False,
              taps=["block2a_expand_activation", "top_activation"])
    write_run(tmp_path, "gram4-s1", seed=1, state="running")
    write_run(tmp_path, "gram4-s2", seed=2, state="failed")
    (tmp_path / "runs" / "empty").mkdir()

    with pytest.warns(UserWarning, match=r"3 run\(s\) not finished.*gram4-s1 \(running\)"):
        runs = results.collect_runs(tmp_path)

    assert sorted(row["run_id"] for row in runs.attrs["skipped"]) == [
        "empty", "gram4-s1", "gram4-s2"]
    assert runs[["run_id", "dataset"]].values.tolist() == [
        ["base-s0", "test"], ["base-s0", "emotion6"], ["gram4-s0", "test"]]
    base = runs.iloc[0]
    assert (base.variant, base.modules, base.seed, base.backbone) == (
        "baseline", 0, 0, "EfficientNetV2B2")
    assert (base.accuracy, base.balanced_accuracy, base.macro_f1) == pytest.approx(
        (0.81, 0.80, 0.79))
    assert (base.n_images, base.best_epoch, base.train_data) == (200, 7, "webemo_sad")
    assert base.precision_sadness == 0.7 and base.recall_not_sadness == 0.9
    assert math.isnan(base.roc_auc)
    emotion6 = runs.iloc[1]
    assert (emotion6.accuracy, emotion6.n_images, emotion6.variant) == (0.7, 60, "baseline")
    assert runs.iloc[2].taps == "block2a_expand_activation,top_activation"


def test_collect_runs_names_an_unreadable_record(tmp_path):
    run_dir = write_run(tmp_path, "broken", accuracy=0.8)
    (run_dir / "metrics.json").write_text("{not json")
    with pytest.warns(UserWarning, match="broken"):
        runs = results.collect_runs(tmp_path)
    assert runs.empty
    assert "metrics.json: not valid JSON" in runs.attrs["skipped"][0]["reason"]


def test_collect_runs_of_a_results_folder_without_runs(tmp_path):
    assert results.collect_runs(tmp_path / "nothing-yet").empty
    (tmp_path / "tables").mkdir()  # other outputs are not mistaken for run folders
    runs = results.collect_runs(tmp_path)
    assert runs.empty and runs.attrs["skipped"] == []
    assert {"run_id", "variant", "modules", "dataset", "accuracy"} <= set(runs.columns)



def test_an_analysis_without_runs_gets_one_sentence_naming_the_folder_and_what_to_run(tmp_path):
    with pytest.raises(DataError) as empty:
        results.require_runs(tmp_path)
    message = str(empty.value)
    assert "no finished runs in" in message and "runs" in message and "03_train" in message
    assert "\n" not in message
    write_run(tmp_path, "unfinished", state="running")
    with pytest.raises(DataError, match="no finished runs"):  # an unfinished run is not a result
        results.require_runs(tmp_path)
    write_run(tmp_path, "done")
    with pytest.raises(DataError, match="'comparison' has not been run"):
        results.require_runs(tmp_path, study="comparison")
    runs = results.require_runs(tmp_path)
    assert list(runs["run_id"]) == ["done"]
    assert results.describe_runs(runs) == ("1 finished run(s) of every study, 1 setting(s), "
                                           "evaluated on: test; left out: unfinished (running)")


def test_numbers_of_the_demo_data_are_labelled_as_demo_numbers(tmp_path):
    write_run(tmp_path, "thesis-s0", dataset="webemo_sad")
    assert results.scale_note(results.collect_runs(tmp_path)) == ""
    write_run(tmp_path, "demo-s0", dataset="demo", seed=1)
    runs = results.collect_runs(tmp_path)
    note = results.scale_note(runs)
    assert note == "Demo numbers (generated data, 200 test images per run), not thesis results."
    assert results.describe_runs(runs).endswith("\n" + note)


def _write_study(tmp_path, table):
    """Five seeds per network with the given (mean, sd) of accuracy as fractions."""
    for (variant, modules), (mean, sd) in table.items():
        for seed, accuracy in enumerate(accuracies_with(mean, sd)):
            write_run(tmp_path, f"{variant}{modules}-s{seed}", variant=variant, modules=modules,
                      seed=seed, accuracy=float(accuracy))


def test_summarize_matches_numpy_and_the_t_interval(tmp_path):
    _write_study(tmp_path, {("gram", 2): (0.81772, 0.00118), ("baseline", 0): (0.81368, 0.00174)})
    write_run(tmp_path, "gramnet-s0", variant="gramnet", modules=4, accuracy=0.815)
    runs = results.collect_runs(tmp_path)
    summary = results.summarize(runs)

    assert summary["network"].tolist() == [
        "baseline EfficientNetV2B2", "B2 + 2 Gram modules", "GramNet-style EfficientNetV2B2"]
    for row in summary.itertuples():
        values = runs.loc[(runs.variant == row.variant) & (runs.dataset == "test"), "accuracy"]
        assert row.n == len(values)
        assert row.mean == pytest.approx(np.mean(values))
        if row.n == 1:
            assert math.isnan(row.sd_ddof1) and math.isnan(row.ci95_low)
            continue
        low, high = scipy_stats.t.interval(0.95, len(values) - 1, loc=np.mean(values),
                                           scale=scipy_stats.sem(values))
        assert row.sd_ddof1 == pytest.approx(np.std(values, ddof=1))
        assert row.sem == pytest.approx(scipy_stats.sem(values))
        assert (row.ci95_low, row.ci95_high) == pytest.approx((low, high))
    assert set(summary["metric"]) == {"accuracy"}


def test_thesis_table_reproduces_the_thesis_layout(tmp_path):
    # Runs whose accuracies have exactly the published means and SDs give the published table.
    thesis = published.thesis_table().dropna(subset=["modules"])
    _write_study(tmp_path, {
        ("baseline" if row.modules == 0 else "gram", int(row.modules)): (row.mean, row.sd)
        for row in thesis.iloc[::-1].itertuples()})  # written in reverse: the table sorts them
    table = results.thesis_table(results.summarize(results.collect_runs(tmp_path)), with_n=True)
    assert table.columns.tolist() == ["network", "overall accuracy (%)", "SD", "n"]
    assert table.values.tolist() == [
        [row.network, f"{row.mean * 100:.3f}", f"{row.sd * 100:.3f}", 5]
        for row in thesis.itertuples()]


def test_summary_and_significance_of_the_same_runs_agree(tmp_path):
    _write_study(tmp_path, {("gram", 4): (0.81826, 0.00086), ("baseline", 0): (0.81368, 0.00174)})
    runs = results.collect_runs(tmp_path)
    summary = results.summarize(runs).set_index("variant")
    from_table = stats.compare_from_summary(
        summary.loc["gram", "mean"], summary.loc["gram", "sd_ddof1"], 5,
        summary.loc["baseline", "mean"], summary.loc["baseline", "sd_ddof1"], 5,
        equal_var=False)
    from_runs = stats.compare_variants(runs).iloc[0]
    assert from_runs.welch_p == pytest.approx(from_table.p_value)
    assert from_runs.welch_ci_low == pytest.approx(from_table.ci_low)


def test_write_summary_writes_every_reported_metric_and_replaces_the_old_file(tmp_path):
    _write_study(tmp_path, {("baseline", 0): (0.8, 0.01)})
    runs = results.collect_runs(tmp_path)
    study_dir = tmp_path / "studies" / "thesis"
    path = results.write_summary(runs, study_dir)
    assert path == study_dir / "summary.csv"
    written = pd.read_csv(path)
    # roc_auc is None in every run: no row for it.
    assert written["metric"].tolist() == ["accuracy", "balanced_accuracy", "macro_f1"]
    assert written.loc[0, "sd_ddof1"] == pytest.approx(0.01)
    assert written.loc[1, "mean"] == pytest.approx(0.79)

    write_run(tmp_path, "baseline0-s9", variant="baseline", modules=0, seed=9, accuracy=0.9)
    results.write_summary(results.collect_runs(tmp_path), study_dir)
    assert pd.read_csv(path).loc[0, "n"] == 6
    assert [p.name for p in study_dir.iterdir()] == ["summary.csv"]


def test_summarize_names_a_missing_column(tmp_path):
    with pytest.raises(DataError, match=r"\['top5'\] not in the runs table"):
        results.summarize(pd.DataFrame({"variant": ["gram"], "modules": [2], "dataset": ["x"]}),
                          by=["variant", "modules", "dataset"], metric="top5")


def _predictions(paths, labels, predicted):
    probability = np.where(np.asarray(predicted) == 1, 0.9, 0.1)
    return pd.DataFrame({"dataset": "test", "split": "test", "path": paths,
                         "label_index": labels, "prob_not_sadness": 1 - probability,
                         "prob_sadness": probability})


def test_mcnemar_of_two_runs_from_their_prediction_files(tmp_path):
    paths = [f"/data/img{i}.jpg" for i in range(8)]
    labels = [1, 1, 0, 0, 1, 0, 1, 0]
    predicted_a = [1, 1, 0, 0, 1, 0, 0, 1]  # right on images 0, 1, 2, 3, 4, 5
    predicted_b = [1, 0, 0, 1, 0, 1, 0, 0]  # right on images 0, 2, 7
    run_a = write_run(tmp_path, "a", predictions=_predictions(paths, labels, predicted_a))
    # b lists the same images in another order: they are matched by path.
    order = list(reversed(range(8)))
    run_b = write_run(tmp_path, "b", predictions=_predictions(
        [paths[i] for i in order], [labels[i] for i in order], [predicted_b[i] for i in order]))

    predictions_a = results.load_predictions(run_a)
    assert predictions_a["correct"].tolist() == [True] * 6 + [False] * 2
    result = stats.mcnemar_runs(predictions_a, results.load_predictions(run_b))
    # both right: 0, 2; only a: 1, 3, 4, 5; only b: 7; both wrong: 6.
    assert (result.both_correct, result.only_a_correct, result.only_b_correct,
            result.both_wrong) == (2, 4, 1, 1)
    assert result.p_value == pytest.approx(2 * (1 + 5) / 32)  # 2 P(X <= 1), X ~ Bin(5, 1/2)

    run_c = write_run(tmp_path, "c", predictions=_predictions(paths[:7], labels[:7],
                                                              predicted_b[:7]))
    with pytest.raises(DataError, match="1 image\\(s\\) predicted by only one of the runs"):
        stats.mcnemar_runs(predictions_a, results.load_predictions(run_c))


def test_the_paired_run_test_of_a_network_and_its_reference_of_the_same_seed(tmp_path):
    paths = [f"/data/img{i}.jpg" for i in range(8)]
    labels = [1, 1, 0, 0, 1, 0, 1, 0]
    all_right = _predictions(paths, labels, labels)
    half_right = _predictions(paths, labels, [1, 1, 0, 0, 0, 1, 0, 1])
    write_run(tmp_path, "gram-s0", modules=3, seed=0, accuracy=1.0, predictions=all_right)
    write_run(tmp_path, "base-s0", variant="baseline", modules=0, seed=0, accuracy=0.5,
              predictions=half_right)
    runs = results.collect_runs(tmp_path)
    row = stats.compare_variants(runs).iloc[0]
    tested = stats.paired_run_test(runs, row, tmp_path, confidence=0.9)
    assert tested["runs"] == ("gram-s0", "base-s0")
    assert (tested["mcnemar"].only_a_correct, tested["mcnemar"].only_b_correct) == (4, 0)
    # 8 of 8 right: the Wilson interval is not a point; its lower bound is n / (n + z^2).
    interval = tested["interval"]
    z = scipy_stats.norm.ppf(0.95)
    assert (interval.ci_low, interval.ci_high) == pytest.approx((8 / (8 + z**2), 1.0))
    assert interval.confidence == 0.9 and interval.label.startswith("90 %")


def test_load_predictions_names_a_missing_file(tmp_path):
    with pytest.raises(DataError, match="predictions.csv: no predictions file"):
        results.load_predictions(tmp_path)


@pytest.mark.parametrize(("variant", "modules", "backbone", "name"), [
    ("baseline", 0, "EfficientNetV2B2", "baseline EfficientNetV2B2"),
    ("gram", 3, "EfficientNetV2B2", "B2 + 3 Gram modules"),
    ("gram", 1, "EfficientNetV2S", "S + 1 Gram module"),
    ("gramnet", 4, "EfficientNetV2B2", "GramNet-style EfficientNetV2B2"),
])
def test_network_names_follow_the_thesis(variant, modules, backbone, name):
    assert results.network_name(variant, modules, backbone) == name


def test_study_dir_keeps_studies_apart(tmp_path):
    assert results.study_dir(tmp_path, "ablation_taps") == tmp_path / "studies" / "ablation_taps"
    assert results.study_dir(tmp_path) == tmp_path / "studies" / "all"


def test_same_seed_pair_finds_the_lowest_common_seed(tmp_path):
    for seed in (0, 1, 2):
        write_run(tmp_path, f"base-s{seed}", variant="baseline", modules=0, seed=seed)
    for seed in (2, 1):
        write_run(tmp_path, f"gram3-s{seed}", modules=3, seed=seed)
    runs = results.collect_runs(tmp_path)
    ids = runs.drop_duplicates("variant").set_index("variant")["setting_id"]
    assert results.same_seed_pair(runs, ids["gram"], ids["baseline"]) == ("gram3-s1", "base-s1")
    assert results.same_seed_pair(runs, ids["gram"], "no-such-setting") is None


def test_collect_runs_reads_the_record_the_training_code_writes(tmp_path, monkeypatch):
    """The training code's own writers, so a change of the record's layout shows up here."""
    from thesis_lib.training import TrainConfig, evaluate, records
    from thesis_lib.training.fingerprint import DataFingerprint
    from thesis_lib.training.run import write_config

    # The environment section (library versions, devices) would import TensorFlow; not needed.
    monkeypatch.setattr(records, "environment_info", dict)

    config = TrainConfig(variant="gram", modules=3, seed=4, taps=["a", "b"],
                         results_dir=str(tmp_path), dataset_name="webemo_sad")
    fingerprint = DataFingerprint("f" * 16, "d" * 64, 5, None)
    run_dir = tmp_path / "runs" / config.run_id(fingerprint.value)
    run_dir.mkdir(parents=True)
    write_config(run_dir, config, fingerprint)
    records.write_status(run_dir, "running")
    labels = np.array([0, 0, 1, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.4, 0.6], [0.6, 0.4]])
    split_metrics = evaluate.compute_metrics(labels, probabilities, CLASSES)
    files.write_json(run_dir / "metrics.json", evaluate.metrics_record(split_metrics, 2))
    frame = pd.DataFrame({"path": [f"/x/{i}.jpg" for i in range(5)], "label_index": labels})
    files.write_csv(run_dir / "predictions.csv", evaluate.predictions_frame(
        frame, probabilities, CLASSES, dataset="test", split="test"))

    with pytest.warns(UserWarning, match="running"):
        assert results.collect_runs(tmp_path).empty
    records.write_status(run_dir, "finished")
    row = results.collect_runs(tmp_path).iloc[0]
    assert (row.run_id, row.variant, row.modules, row.seed, row.taps, row.train_data) == (
        config.run_id(fingerprint.value), "gram", 3, 4, "a,b", "webemo_sad")
    assert (row.dataset, row.n_images, row.best_epoch) == ("test", 5, 2)
    assert row.accuracy == pytest.approx(3 / 5)  # right: images 0, 2, 3
    assert row.recall_sadness == pytest.approx(2 / 3)
    assert row.roc_auc == pytest.approx(4 / 6)  # 4 of the 6 (sad, not sad) pairs ranked right
    assert results.load_predictions(run_dir)["correct"].sum() == 3


# --- settings: runs of different networks are never pooled

SHALLOW_TAPS = ["block1b_add", "block2c_add", "block3c_add"]  # stages 1-3 of B2


def _write_ablation_folder(tmp_path):
    """One results folder after the comparison, tap and activation studies: three different
    networks with three Gram modules, and the baseline; five seeds each."""
    networks = {
        "default": dict(modules=3, mean=0.8181),
        "shallow": dict(modules=3, taps=SHALLOW_TAPS, mean=0.8100),
        "gelu": dict(modules=3, activation="gelu", mean=0.8170),
        "base": dict(variant="baseline", modules=0, mean=0.8137),
    }
    for label, spec in networks.items():
        spec = dict(spec)
        mean = spec.pop("mean")
        for seed, accuracy in enumerate(accuracies_with(mean, 0.0015)):
            write_run(tmp_path, f"{label}-s{seed}", seed=seed, accuracy=float(accuracy), **spec)
    return networks


def test_runs_that_differ_in_one_field_are_separate_settings(tmp_path):
    _write_ablation_folder(tmp_path)
    summary = results.summarize(results.collect_runs(tmp_path))
    assert summary["network"].tolist() == [
        "baseline EfficientNetV2B2", "B2 + 3 Gram modules", "B2 + 3 Gram modules (gelu)",
        "B2 + 3 Gram modules (taps 1-3)"]
    assert summary["n"].tolist() == [5, 5, 5, 5]
    assert summary["mean"].tolist() == pytest.approx([0.8137, 0.8181, 0.8170, 0.8100])
    assert summary["setting_id"].nunique() == 4


def test_pooling_different_settings_is_refused_unless_asked(tmp_path):
    _write_ablation_folder(tmp_path)
    runs = results.collect_runs(tmp_path)
    with pytest.raises(DataError, match="holds 3 different settings"):
        results.summarize(runs, by=["variant", "modules", "dataset"])
    pooled = results.summarize(runs, by=["variant", "modules", "dataset"], allow_pooling=True)
    assert pooled.loc[pooled["variant"] == "gram", "n"].item() == 15


def test_each_ablation_is_tested_against_the_default_network_trained_like_it(tmp_path):
    _write_ablation_folder(tmp_path)
    runs = results.collect_runs(tmp_path)
    comparisons = stats.compare_variants(runs).set_index("network")
    assert comparisons["n"].tolist() == [5, 5, 5]
    assert comparisons["reference"].to_dict() == {
        "B2 + 3 Gram modules": "baseline EfficientNetV2B2",
        "B2 + 3 Gram modules (gelu)": "B2 + 3 Gram modules",
        "B2 + 3 Gram modules (taps 1-3)": "B2 + 3 Gram modules"}
    assert comparisons["step"].tolist() == ["modules", "variation", "variation"]
    # The default network beats the baseline; pooled with the shallow taps it would not.
    assert comparisons.loc["B2 + 3 Gram modules", "diff"] == pytest.approx(0.8181 - 0.8137)
    assert comparisons.loc["B2 + 3 Gram modules (taps 1-3)", "diff"] == pytest.approx(
        0.8100 - 0.8181)
    assert comparisons.loc["B2 + 3 Gram modules", "welch_p"] < 0.01
    # Asked for, every setting is compared with the plain baseline instead.
    against_baseline = stats.compare_variants(runs, rule="baseline").set_index("network")
    assert set(against_baseline["reference"]) == {"baseline EfficientNetV2B2"}
    assert against_baseline.loc["B2 + 3 Gram modules (taps 1-3)", "diff"] == pytest.approx(
        0.8100 - 0.8137)


def test_runs_on_other_data_or_training_are_not_compared_silently(tmp_path):
    for seed, accuracy in enumerate(accuracies_with(0.81, 0.002)):
        write_run(tmp_path, f"base-s{seed}", variant="baseline", modules=0, seed=seed,
                  accuracy=float(accuracy), dataset="webemo_sad")
        write_run(tmp_path, f"gram-s{seed}", modules=3, seed=seed, accuracy=float(accuracy),
                  dataset="fi8")
    runs = results.collect_runs(tmp_path)
    assert results.summarize(runs)["network"].tolist() == [
        "baseline EfficientNetV2B2", "B2 + 3 Gram modules"]
    with pytest.raises(DataError, match="B2 \\+ 3 Gram modules: no baseline was trained on the "
                                        "same data and split .*dataset_name"):
        stats.compare_variants(runs)
    anyway = stats.compare_variants(runs, allow_different_data=True).iloc[0]
    assert "other data" in anyway["note"] and anyway["n"] == 5

    write_run(tmp_path, "gram-long", modules=4, seed=0, epochs=60, dataset="webemo_sad")
    write_run(tmp_path, "gram-long-1", modules=4, seed=1, epochs=60, dataset="webemo_sad")
    rows = stats.compare_variants(results.collect_runs(tmp_path),
                                  allow_different_data=True).set_index("network")
    assert "no baseline trained the same way (differs in: epochs)" in rows.loc[
        "B2 + 4 Gram modules", "note"]
    assert math.isnan(rows.loc["B2 + 4 Gram modules", "welch_p"])


def test_the_module_count_family_leaves_the_ablations_out(tmp_path):
    _write_ablation_folder(tmp_path)
    for seed, accuracy in enumerate(accuracies_with(0.818, 0.001)):
        write_run(tmp_path, f"gram2-s{seed}", modules=2, seed=seed, accuracy=float(accuracy))
    family = stats.module_count_family(results.collect_runs(tmp_path))
    assert sorted(family.groupby("modules")["run_id"].count().items()) == [(0, 5), (2, 5), (3, 5)]
    assert not family["run_id"].str.startswith(("shallow", "gelu")).any()
    result = stats.compare_module_counts(results.collect_runs(tmp_path))
    assert result.groups == [0, 2, 3] and result.n_per_group == [5, 5, 5]


def test_an_interval_of_two_seeds_is_cut_at_the_metric_range_and_says_so(tmp_path):
    for seed, accuracy in enumerate((0.7, 0.9)):
        write_run(tmp_path, f"gram-s{seed}", seed=seed, accuracy=accuracy)
    row = results.summarize(results.collect_runs(tmp_path)).iloc[0]
    half_width = scipy_stats.t.ppf(0.975, 1) * scipy_stats.sem([0.7, 0.9])
    assert 0.8 - half_width < 0 and 0.8 + half_width > 1  # the raw t interval
    assert (row.ci95_low, row.ci95_high, row.ci_clipped) == (0.0, 1.0, True)


# --- references: each step against the setting without it


def _write_loss_study_folder(tmp_path, *, with_plain_gram4=True):
    """The baseline, 2, 3 and 4 Gram modules and 4 Gram modules + the contrastive-center loss,
    five seeds each, written as the training code writes them (every field present)."""
    means = {"base": (0, 0.8131), "gram2": (2, 0.8190), "gram3": (3, 0.8221),
             "gram4": (4, 0.8252), "gram4cc": (4, 0.8374)}
    values = {}
    for label, (modules, mean) in means.items():
        if label == "gram4" and not with_plain_gram4:
            continue
        values[label] = accuracies_with(mean, 0.002)
        for seed, accuracy in enumerate(values[label]):
            write_run(tmp_path, f"{label}-s{seed}", variant="baseline" if modules == 0 else "gram",
                      modules=modules, seed=seed, accuracy=float(accuracy),
                      contrastive_center_weight=0.1 if label == "gram4cc" else 0.0,
                      contrastive_center_delta=1.0)
    return values


def test_the_loss_step_is_tested_against_gram4_and_every_gram_network_against_the_baseline(
        tmp_path):
    values = _write_loss_study_folder(tmp_path)
    table = stats.compare_variants(results.collect_runs(tmp_path)).set_index("network")
    cc = "B2 + 4 Gram modules (contrastive-center λ=0.1)"
    assert table["reference"].to_dict() == {
        "B2 + 2 Gram modules": "baseline EfficientNetV2B2",
        "B2 + 3 Gram modules": "baseline EfficientNetV2B2",
        "B2 + 4 Gram modules": "baseline EfficientNetV2B2",
        cc: "B2 + 4 Gram modules"}
    assert table.loc[cc, "step"] == "loss"
    # By hand: 83.74 - 82.52 = +1.22 points, not +1.71 against two modules or +2.43 against
    # the baseline.
    assert table.loc[cc, "diff"] == pytest.approx(0.8374 - 0.8252)
    welch = scipy_stats.ttest_ind(values["gram4cc"], values["gram4"], equal_var=False)
    assert table.loc[cc, "welch_p"] == pytest.approx(welch.pvalue)
    for label, name in (("gram2", "B2 + 2 Gram modules"), ("gram3", "B2 + 3 Gram modules"),
                        ("gram4", "B2 + 4 Gram modules")):
        expected = scipy_stats.ttest_ind(values[label], values["base"], equal_var=False)
        assert table.loc[name, "welch_p"] == pytest.approx(expected.pvalue)
        assert table.loc[name, "diff"] == pytest.approx(
            np.mean(values[label]) - np.mean(values["base"]))
    assert set(table["holm_m"]) == {4}
    assert set(table["design"]) == {"paired by seed"}
    assert set(table["outcome"]) == {"better"}


def test_a_missing_reference_is_a_note_and_an_ambiguous_one_names_the_candidates(tmp_path):
    _write_loss_study_folder(tmp_path, with_plain_gram4=False)
    row = stats.compare_variants(results.collect_runs(tmp_path)).set_index("network").loc[
        "B2 + 4 Gram modules"]
    assert row["reference"] is None or pd.isna(row["reference"])
    assert row["note"].startswith("no setting without the extra loss trained the same way "
                                  "(differs in: modules)")
    assert row["outcome"] == "no test" and math.isnan(row["welch_p"])

    # Two plain four-module settings that differ in a loss field unused without the loss.
    for seed, accuracy in enumerate(accuracies_with(0.825, 0.002)):
        for delta in (1.0, 2.0):
            write_run(tmp_path, f"gram4-d{delta:g}-s{seed}", modules=4, seed=seed,
                      accuracy=float(accuracy), contrastive_center_weight=0.0,
                      contrastive_center_delta=delta)
    runs = results.collect_runs(tmp_path)
    with pytest.raises(DataError, match=r"contrastive-center λ=0.1.*: 2 settings qualify as the "
                                        r"setting without the extra loss \(\w+, \w+\)"):
        stats.compare_variants(runs)
    names = runs.drop_duplicates("setting_id").set_index("setting_id")["network"]
    chosen = next(name for name in names if "delta 2" in name)
    named = stats.compare_variants(runs, reference=chosen)
    assert set(named["reference"]) == {chosen} and set(named["step"]) == {"named"}
    assert len(named) == len(names) - 1
    with pytest.raises(DataError, match="reference 'B9 net' names no setting"):
        stats.compare_variants(runs, reference="B9 net")


def test_a_significantly_worse_network_is_listed_as_worse_never_better():
    thesis = published.thesis_table()
    planted = pd.DataFrame([{"network": "planted", "modules": 1, "mean": 0.8090,
                             "sd": 0.0010, "n": 5}])
    table = stats.compare_summary_table(pd.concat([thesis, planted], ignore_index=True),
                                        baseline=published.THESIS_BASELINE).set_index("network")
    assert table.loc["planted", "diff"] == pytest.approx(0.8090 - 0.81368)
    assert table.loc["planted", "welch_p_holm"] < 0.05
    assert table.loc["planted", "outcome"] == "worse"
    assert table.loc["B2 + 4 Gram modules", "outcome"] == "better"
    assert table.loc["Zhang et al. 2022 model", "outcome"] == "not significant"
    assert set(table["holm_m"]) == {5}


def test_a_seed_run_twice_counts_once_with_a_warning_naming_the_runs(tmp_path):
    for seed, accuracy in enumerate((0.80, 0.81, 0.82)):
        write_run(tmp_path, f"base-s{seed}", variant="baseline", modules=0, seed=seed,
                  accuracy=accuracy)
        write_run(tmp_path, f"gram-s{seed}", modules=3, seed=seed, accuracy=accuracy + 0.01)
    write_run(tmp_path, "gram-s1-rerun", modules=3, seed=1, accuracy=0.95)
    runs = results.collect_runs(tmp_path)
    with pytest.warns(UserWarning, match="B2 \\+ 3 Gram modules seed 1: kept gram-s1, left out "
                                         "gram-s1-rerun"):
        summary = results.summarize(runs).set_index("network")
    assert summary.loc["B2 + 3 Gram modules", "n"] == 3
    assert summary.loc["B2 + 3 Gram modules", "mean"] == pytest.approx(0.82)
    with pytest.warns(UserWarning, match="gram-s1-rerun"):
        row = stats.compare_variants(runs).iloc[0]
    assert row["n"] == 3 and row["diff"] == pytest.approx(0.01)


def test_the_design_says_whether_the_runs_pair_by_seed(tmp_path):
    for seed, accuracy in enumerate((0.80, 0.81, 0.82)):
        write_run(tmp_path, f"base-s{seed}", variant="baseline", modules=0, seed=seed,
                  accuracy=accuracy)
        write_run(tmp_path, f"gram-s{seed + 3}", modules=3, seed=seed + 3, accuracy=accuracy)
    row = stats.compare_variants(results.collect_runs(tmp_path)).iloc[0]
    assert row["design"] == "independent" and row["paired_n"] == 0


def test_a_significant_drop_of_a_lower_is_better_metric_is_better(tmp_path):
    shares = {}
    for label, modules, share in (("base", 0, 0.40), ("gram", 3, 0.30)):
        for seed, value in enumerate(accuracies_with(share, 0.01)):
            write_run(tmp_path, f"{label}-s{seed}", variant="baseline" if modules == 0
                      else "gram", modules=modules, seed=seed)
            shares[f"{label}-s{seed}"] = float(value)
    runs = results.collect_runs(tmp_path)
    runs["embedding_ambiguous_share"] = runs["run_id"].map(shares)
    row = stats.compare_variants(runs, metric="embedding_ambiguous_share").iloc[0]
    assert row["diff"] == pytest.approx(-0.10)
    assert row["outcome"] == "better"
    accuracy = stats.compare_variants(runs.assign(accuracy=runs["embedding_ambiguous_share"]))
    assert accuracy.iloc[0]["outcome"] == "worse"


def test_the_published_emotion6_accuracies_lie_below_its_majority_rate():
    # Emotion-6 has 330 images in each of 6 classes: sad vs not sad, "not sad" is right for
    # 1,650 of 1,980 images.
    view = published.cross_dataset_view()
    assert view.loc["Emotion-6", "majority rate"] == pytest.approx(100 * 5 * 330 / (6 * 330))
    assert (view.loc["Emotion-6", ["baseline", "proposed"]] < view.loc[
        "Emotion-6", "majority rate"]).all()
    assert view.loc[["test split", "UnbiasedEmo"], "majority rate"].isna().all()


def test_a_tap_study_without_a_baseline_tests_each_variant_against_the_default(tmp_path):
    _write_ablation_folder(tmp_path)
    for seed in range(5):  # the tap study's folder: no baseline
        for path in (tmp_path / "runs" / f"base-s{seed}").iterdir():
            path.unlink()
        (tmp_path / "runs" / f"base-s{seed}").rmdir()
    table = stats.compare_variants(results.collect_runs(tmp_path)).set_index("network")
    assert table.loc["B2 + 3 Gram modules (taps 1-3)", "reference"] == "B2 + 3 Gram modules"
    assert table.loc["B2 + 3 Gram modules (taps 1-3)", "diff"] == pytest.approx(0.8100 - 0.8181)
    assert table.loc["B2 + 3 Gram modules", "note"] == "no baseline among the runs"
    assert set(table["holm_m"]) == {2}


def test_the_best_run_is_the_best_networks_best_seed_with_ties_to_the_smaller_id():
    runs = pd.DataFrame({
        "network": ["baseline", "baseline", "gram-4", "gram-4", "gram-4"],
        "run_id": ["b-s0", "b-s1", "g-s2", "g-s0", "g-s1"],
        # the baseline holds the single best run, gram-4 the best mean
        "accuracy": [0.90, 0.60, 0.80, 0.80, 0.79],
    })
    best = results.best_run(runs)
    assert best["network"] == "gram-4" and best["run_id"] == "g-s0"
    with pytest.raises(DataError, match="no finished run with 'accuracy'"):
        results.best_run(runs.assign(accuracy=np.nan))


def test_the_gram_figures_show_the_best_network_with_gram_modules_even_when_a_baseline_wins():
    runs = pd.DataFrame({
        "network": ["baseline", "baseline", "gram-2", "gram-2", "gram-4", "gram-4"],
        "variant": ["baseline", "baseline", "gram", "gram", "gram", "gram"],
        # a baseline keeps its configured module count; it still has no Gram module
        "modules": [2, 2, 2, 2, 4, 4],
        "run_id": ["b-s0", "b-s1", "g2-s0", "g2-s1", "g4-s0", "g4-s1"],
        "accuracy": [0.95, 0.94, 0.70, 0.72, 0.80, 0.78],
    })
    assert results.best_run(runs)["run_id"] == "b-s0"
    assert results.best_gram_run(runs)["run_id"] == "g4-s0"
    # a study of baselines only: the best run, whose Grad-CAM is still worth showing
    only_baselines = runs[runs["variant"] == "baseline"]
    assert results.best_gram_run(only_baselines)["run_id"] == "b-s0"
    # Gram networks without a score do not hide the scored baselines
    unscored = runs.assign(accuracy=runs["accuracy"].where(runs["variant"] == "baseline"))
    assert results.best_gram_run(unscored)["run_id"] == "b-s0"

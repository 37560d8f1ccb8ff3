"""A whole run on a tiny dataset: the record, skip / force, reproducibility, evaluation."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from thesis_lib.training import evaluate_run, records, run_training
from thesis_lib.training.evaluate import predict

RECORD_FILES = {"config.json", "status.json", "split.csv", "skipped.csv", "history.csv",
                "metrics.json", "predictions.csv", "model.keras"}


def planned_id(config):
    from thesis_lib.training.run import plan_run

    return config.run_id(plan_run(config).fingerprint.value)


@pytest.fixture(scope="module")
def finished_runs(smoke_run):
    """The same tiny configuration trained twice (the second time forced), with the smoke
    profile's own setting of deterministic ops; the first run is the session's ``smoke_run``."""
    config, first = smoke_run
    again = run_training(config)
    forced = run_training(config, force=True)
    return config, first, again, forced


def test_run_writes_a_complete_record(finished_runs):
    config, first, _, _ = finished_runs
    assert first.name == planned_id(config)
    assert RECORD_FILES <= {path.name for path in first.iterdir()}
    assert not (first / "RUNNING").exists() and not (first / "checkpoint").exists()
    assert records.read_status(first)["state"] == "finished"
    meta = json.loads((first / "config.json").read_text())
    assert meta["config"]["image_size"] == 32
    assert meta["environment"]["libraries"]["keras"] == keras.__version__
    assert meta["environment"]["keras_backend"] == "tensorflow"
    history = pd.read_csv(first / "history.csv")
    assert history["epoch"].tolist() == [0, 1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.columns)


def test_metrics_agree_with_predictions_and_saved_model(finished_runs):
    config, first, _, _ = finished_runs
    metrics = json.loads((first / "metrics.json").read_text())
    predictions = pd.read_csv(first / "predictions.csv")
    assert metrics["n_test"] == len(predictions) == 4  # 2 per class: 25 % of 10
    probs = predictions[["prob_not_sadness", "prob_sadness"]].to_numpy()
    accuracy = np.mean(probs.argmax(axis=1) == predictions["label_index"].to_numpy())
    assert metrics["test_accuracy"] == pytest.approx(accuracy)
    assert np.asarray(metrics["confusion_matrix"]).sum() == 4
    assert metrics["best_epoch"] in (0, 1) and "roc_auc" in metrics
    # model.keras is the evaluated model: reloading it reproduces the stored probabilities.
    model = keras.models.load_model(first / "model.keras", compile=False)
    again = predict(model, predictions.assign(label_index=predictions["label_index"]),
                    num_classes=2, image_size=32, batch_size=4)
    np.testing.assert_allclose(again, probs, atol=1e-5)


def test_finished_run_is_skipped_and_forced_run_goes_elsewhere(finished_runs):
    config, first, again, forced = finished_runs
    assert again == first
    assert forced.name == f"{planned_id(config)}-2"
    assert records.read_status(first)["attempts"] == 1  # the skip touched nothing


def history_without_timing(run_dir) -> bytes:
    """history.csv's bytes, less the column of epoch durations (the one thing that may
    differ)."""
    lines = (run_dir / "history.csv").read_bytes().splitlines(keepends=True)
    column = lines[0].rstrip(b"\r\n").split(b",").index(b"seconds")
    return b"".join(b",".join(cell for index, cell in enumerate(line.split(b","))
                              if index != column) for line in lines)


def test_the_smoke_profile_reruns_byte_for_byte(finished_runs):
    """Two runs of the smoke profile (RandAugment and dropout on) on one machine: the same
    split, history, metrics, predictions and weights, to the last bit."""
    config, first, _, forced = finished_runs
    assert config.deterministic  # the profile's own setting, not the test's
    for name in ("split.csv", "metrics.json", "predictions.csv"):
        assert (first / name).read_bytes() == (forced / name).read_bytes(), name
    assert history_without_timing(first) == history_without_timing(forced)
    assert b"val_accuracy" in history_without_timing(first)
    for mine, theirs in zip(keras.models.load_model(first / "model.keras").get_weights(),
                            keras.models.load_model(forced / "model.keras").get_weights(),
                            strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_evaluate_on_another_dataset_merges_into_the_record(finished_runs, other_dataset):
    _, _, _, forced = finished_runs
    result = evaluate_run(forced, other_dataset, name="other")
    metrics = json.loads((forced / "metrics.json").read_text())
    assert metrics["datasets"]["other"]["n"] == 8 == result["n"]
    predictions = pd.read_csv(forced / "predictions.csv")
    other = predictions[predictions["dataset"] == "other"]
    assert len(other) == 8 and (predictions["dataset"] == "test").sum() == 4
    probs = other[["prob_not_sadness", "prob_sadness"]].to_numpy()
    assert result["accuracy"] == pytest.approx(
        np.mean(probs.argmax(axis=1) == other["label_index"].to_numpy()))
    evaluate_run(forced, other_dataset, name="other")  # again: replaced, not appended
    assert (pd.read_csv(forced / "predictions.csv")["dataset"] == "other").sum() == 8


def test_evaluate_refuses_unfinished_runs_and_missing_data(finished_runs, tmp_path):
    from thesis_lib.errors import DataError, ThesisError

    _, first, _, _ = finished_runs
    with pytest.raises(ThesisError, match="not a finished run"):
        evaluate_run(tmp_path, first, name="x")
    with pytest.raises(DataError, match="not found"):
        evaluate_run(first, tmp_path / "missing", name="x")

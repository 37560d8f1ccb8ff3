"""Predicting new images with a finished run: broken files, labels, top-k, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from thesis_lib.analysis.predict import (
    is_labelled_source,
    load_run,
    predict_images,
    prediction_table,
)
from thesis_lib.cli import main as thesis
from thesis_lib.data.labels import MIKELS8
from thesis_lib.errors import ConfigError, ThesisError


@pytest.fixture(scope="session")
def tiny_run(finished_tiny_run):
    """The shared finished smoke run (Tiny backbone, one Gram module, 32 px)."""
    return finished_tiny_run


@pytest.fixture(scope="session")
def loaded_run(tiny_run):
    """The tiny run, loaded once for the library calls."""
    return load_run(tiny_run)


@pytest.fixture(autouse=True)
def _private_scan_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def reference_probabilities(run, paths):
    """``model.predict`` on the images decoded by PIL and resized as in training (bilinear,
    rounded to uint8)."""
    import tensorflow as tf

    size = run.config["image_size"]
    batch = []
    for path in paths:
        pixels = np.asarray(Image.open(path).convert("RGB"))
        resized = tf.image.resize(pixels, [size, size]).numpy()
        batch.append(np.clip(np.round(resized), 0, 255).astype(np.float32))
    return run.model.predict(np.stack(batch), verbose=0)


def folder_with_broken_files(tmp_path, tiny_dataset):
    folder = tmp_path / "new images"
    (folder / "nested" / "deeper").mkdir(parents=True)
    shutil.copy(tiny_dataset / "sadness" / "sadness_0000.jpg", folder / "a.jpg")
    shutil.copy(tiny_dataset / "other" / "other_0001.jpg", folder / "nested" / "b.jpg")
    shutil.copy(tiny_dataset / "sadness" / "sadness_0002.jpg",
                folder / "nested" / "deeper" / "c.JPG")
    (folder / "zero.jpg").touch()
    (folder / "nested" / "notes.jpg").write_text("this is a text file")
    whole = (tiny_dataset / "other" / "other_0003.jpg").read_bytes()
    (folder / "nested" / "deeper" / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    (folder / "readme.txt").write_text("not an image name: never listed")
    return folder


def test_predict_lists_broken_files_and_predicts_the_rest(tmp_path, tiny_dataset, tiny_run,
                                                          loaded_run, capsys):
    folder = folder_with_broken_files(tmp_path, tiny_dataset)
    out = tmp_path / "predictions.csv"
    assert thesis(["predict", str(tiny_run), str(folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 images predicted, 3 files skipped" in printed
    table = pd.read_csv(out)
    skipped = table[table["status"] == "skipped"].set_index("path")
    assert skipped["reason"].to_dict() == {
        str(folder / "nested" / "deeper" / "truncated.jpg"): "truncated or corrupt",
        str(folder / "nested" / "notes.jpg"): "not an image",
        str(folder / "zero.jpg"): "empty file",
    }
    assert skipped[["prob_not_sadness", "prob_sadness"]].isna().all().all()
    done = table[table["status"] == "ok"]
    good = [folder / "a.jpg", folder / "nested" / "b.jpg", folder / "nested" / "deeper" / "c.JPG"]
    assert done["path"].tolist() == [str(path) for path in good]
    probabilities = done[["prob_not_sadness", "prob_sadness"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probabilities, reference_probabilities(loaded_run, good),
                               atol=1e-5)
    names = np.array(["not_sadness", "sadness"])
    assert done["top_1"].tolist() == names[probabilities.argmax(axis=1)].tolist()
    assert (done["predicted"] == done["top_1"]).all()
    np.testing.assert_allclose(done["confidence"], probabilities.max(axis=1))
    np.testing.assert_allclose(done["top_2_prob"], probabilities.min(axis=1))
    assert done["label"].isna().all()  # a plain folder of images has no labels
    assert "sentiment" not in table.columns  # the binary scheme has no sentiment map


def test_labelled_datasets_lists_and_single_files(tmp_path, tiny_dataset, loaded_run):
    listing = tmp_path / "list.csv"
    pd.DataFrame({"path": [str(tiny_dataset / "other" / "other_0004.jpg"), "missing.jpg"]}) \
        .to_csv(listing, index=False)
    single = tiny_dataset / "sadness" / "sadness_0005.jpg"
    table = predict_images(loaded_run, [tiny_dataset, listing, single])
    done = table[table["status"] == "ok"].set_index("path")
    assert len(done) == 20  # the dataset's 20 images; the list and the file name two of them
    assert done.loc[str(tiny_dataset / "other" / "other_0000.jpg"), "label"] == "not_sadness"
    assert done.loc[str(tiny_dataset / "other" / "other_0000.jpg"), "raw_label"] == "other"
    assert done.loc[str(single), "label"] == "sadness"  # labelled by its dataset
    skipped = table[table["status"] == "skipped"]
    assert skipped["reason"].tolist() == ["file not found"]
    unlabelled = predict_images(loaded_run, [tiny_dataset], labelled=False)
    assert unlabelled["label"].isna().all() and len(unlabelled) == 20


def test_missing_unfinished_and_unreadable_runs_are_one_line_errors(tmp_path, tiny_dataset,
                                                                    tiny_run, capsys):
    out = str(tmp_path / "p.csv")
    assert thesis(["predict", str(tmp_path / "no-run"), str(tiny_dataset), "--out", out]) == 2
    assert capsys.readouterr().err.strip().endswith("no-run: no such run folder")
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    for name in ("config.json", "metrics.json"):
        shutil.copy(tiny_run / name, unfinished / name)
    (unfinished / "status.json").write_text(json.dumps({"state": "running"}))
    assert thesis(["predict", str(unfinished), str(tiny_dataset), "--out", out]) == 2
    error = capsys.readouterr().err
    assert "the run has not finished (state: running)" in error and len(error.splitlines()) == 1
    (unfinished / "status.json").write_text(json.dumps({"state": "finished"}))
    with pytest.raises(ThesisError, match="the finished run lacks model.keras"):
        load_run(unfinished)
    assert thesis(["predict", str(tiny_run), str(tiny_dataset), "--out", out,
                   "--top-k", "3"]) == 2
    assert "top-k must be between 1 and the number of classes (2), got 3" in \
        capsys.readouterr().err


def test_prediction_table_ranks_ties_by_class_index_and_adds_sentiment():
    probabilities = np.zeros((2, 8))
    probabilities[0, [MIKELS8.index("sadness"), MIKELS8.index("awe"),
                      MIKELS8.index("fear")]] = [0.5, 0.25, 0.25]
    probabilities[1, [MIKELS8.index("amusement"), MIKELS8.index("anger")]] = [0.5, 0.5]
    frame = pd.DataFrame({"path": ["x.jpg", "y.jpg"], "raw_label": ["sad", None],
                          "label": ["sadness", None]})
    sentiments = {"sadness": "negative", "amusement": "positive"}
    table = prediction_table(frame, probabilities, MIKELS8, top_k=3, sentiment_map=sentiments)
    assert table[["top_1", "top_2", "top_3"]].values.tolist() == [
        ["sadness", "awe", "fear"],          # awe (index 1) before fear (6) at 0.25 each
        ["amusement", "anger", "awe"],       # amusement (0) before anger (4) at 0.5
    ]
    assert table["sentiment"].tolist() == ["negative", "positive"]
    assert table["confidence"].tolist() == [0.5, 0.5]
    with pytest.raises(ConfigError, match="top-k must be between 1 and the number of classes"):
        prediction_table(frame, probabilities, MIKELS8, top_k=9)


def test_existing_output_needs_force(tmp_path, tiny_dataset, tiny_run, capsys):
    out = tmp_path / "p.csv"
    out.write_text("keep me")
    assert thesis(["predict", str(tiny_run), str(tiny_dataset), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_text() == "keep me"


def write_pattern(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((40, 48, 3), 120, dtype=np.uint8)).save(path)


def test_which_sources_count_as_labelled(tmp_path, tiny_dataset):
    plain = tmp_path / "plain"
    write_pattern(plain / "loose.jpg")
    write_pattern(plain / "a" / "1.jpg")
    write_pattern(plain / "b" / "2.jpg")
    single = tmp_path / "single"
    write_pattern(single / "only" / "1.jpg")
    labelled_csv, paths_csv = tmp_path / "labelled.csv", tmp_path / "paths.csv"
    labelled_csv.write_text("path,label\nplain/loose.jpg,sadness\n")
    paths_csv.write_text("path\nplain/loose.jpg\n")
    assert is_labelled_source(tiny_dataset)            # two class folders
    assert not is_labelled_source(plain)               # images of its own
    assert not is_labelled_source(single)              # one folder is no classification
    assert is_labelled_source(labelled_csv) and not is_labelled_source(paths_csv)
    assert not is_labelled_source(plain / "loose.jpg")
    assert is_labelled_source(plain, adapter="folders")  # a forced layout


def test_a_run_records_calibration_and_predict_calibrated_applies_its_temperature(
        tmp_path, tiny_dataset, tiny_run, loaded_run, capsys):
    from thesis_lib.analysis import calibration

    metrics = json.loads((tiny_run / "metrics.json").read_text())
    recorded = pd.read_csv(tiny_run / "predictions.csv")
    test = recorded[recorded["dataset"] == "test"]
    labels = test["label_index"].to_numpy()
    probabilities = test[["prob_not_sadness", "prob_sadness"]].to_numpy()
    one_hot = np.eye(2)[labels]
    assert metrics["brier_score"] == pytest.approx(
        np.mean(np.sum((probabilities - one_hot) ** 2, axis=1)), abs=1e-6)
    assert metrics["nll"] == pytest.approx(
        -np.mean(np.log(probabilities[np.arange(len(labels)), labels])), abs=1e-6)
    assert metrics["ece_bins"] == min(calibration.ECE_BINS, len(labels))
    scaling = metrics["temperature_scaling"]
    assert scaling["fitted_on"] == "val" and scaling["n_val"] > 0
    assert scaling["val_nll_after"] <= scaling["val_nll_before"] + 1e-9
    temperature = scaling["temperature"]
    assert loaded_run.temperature == temperature
    assert metrics["calibrated"] == pytest.approx(
        calibration.calibration_metrics(labels, calibration.scale_temperature(probabilities,
                                                                              temperature)))
    out = tmp_path / "calibrated.csv"
    paths = [tiny_dataset / "sadness" / "sadness_0000.jpg",
             tiny_dataset / "other" / "other_0001.jpg"]
    assert thesis(["predict", str(tiny_run), *map(str, paths), "--out", str(out),
                   "--calibrated"]) == 0
    assert f"T = {temperature:.4f}" in capsys.readouterr().out
    table = pd.read_csv(out).sort_values("path")
    raw = reference_probabilities(loaded_run, sorted(paths))
    expected = np.exp(np.log(raw) / temperature)
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(table[["prob_not_sadness", "prob_sadness"]], expected, atol=1e-5)


def test_predict_calibrated_refuses_a_run_recorded_without_a_temperature(
        tmp_path, tiny_dataset, tiny_run, capsys):
    old = tmp_path / "old-run"
    shutil.copytree(tiny_run, old)
    metrics = json.loads((old / "metrics.json").read_text())
    del metrics["temperature_scaling"]
    (old / "metrics.json").write_text(json.dumps(metrics))
    image = tiny_dataset / "sadness" / "sadness_0000.jpg"
    out = tmp_path / "p.csv"
    assert thesis(["predict", str(old), str(image), "--out", str(out), "--calibrated"]) == 2
    assert "no temperature_scaling" in capsys.readouterr().err
    assert thesis(["predict", str(old), str(image), "--out", str(out)]) == 0

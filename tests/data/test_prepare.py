"""prepare_dataset: scheme mapping, splits, reuse of a saved split, duplicate dropping."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from dataset_builders import make_class_folders

from thesis_lib.data import prepare_dataset
from thesis_lib.data.prepare import REASON_DUPLICATE, REASON_OUTSIDE_SCHEME
from thesis_lib.errors import DataError


def test_binary_sadness_frames(binary_folder):
    prepared = prepare_dataset(binary_folder, seed=0)
    assert prepared.class_names == ["not_sadness", "sadness"]
    frames = prepared.frames
    assert [len(frames[name]) for name in ("train", "val", "test")] == [16, 2, 2]
    counts = prepared.counts()
    assert counts.loc["sadness"].tolist() == [10, 1, 1, 12]  # 9.6 / 1.2 / 1.2 of 12
    assert counts.loc["not_sadness"].tolist() == [6, 1, 1, 8]
    train = frames["train"]
    assert list(train.columns[:4]) == ["path", "label", "label_index", "decoder"]
    for row in train.itertuples():
        assert row.label_index == prepared.class_names.index(row.label)
        assert row.label == ("sadness" if row.raw_label == "sadness" else "not_sadness")
        assert row.path.startswith(str(binary_folder))
    paths = [set(frame["path"]) for frame in frames.values()]
    assert not (paths[0] & paths[1] or paths[0] & paths[2] or paths[1] & paths[2])


def test_saved_split_reproduces_the_split_elsewhere(binary_folder, tmp_path):
    first = prepare_dataset(binary_folder, seed=4)
    split_csv = first.save_split(tmp_path / "run" / "split.csv")
    copy = shutil.copytree(binary_folder, tmp_path / "copy")
    second = prepare_dataset(copy, seed=99, split_file=split_csv)
    columns = ["relpath", "label", "split"]
    pd.testing.assert_frame_equal(first.manifest[columns], second.manifest[columns])
    (copy / "sadness" / "sadness_003.jpg").unlink()
    with pytest.raises(DataError, match="missing or unusable in the dataset"):
        prepare_dataset(copy, split_file=split_csv)


def test_labels_outside_the_scheme_are_dropped_with_a_reason(tmp_path):
    root = make_class_folders(tmp_path / "fi", {"amusement": 10, "sadness": 10, "neutral": 3})
    with pytest.warns(UserWarning, match="no image of class 'awe', 'contentment'"):
        prepared = prepare_dataset(root, scheme="mikels8", adapter="folders")
    assert prepared.class_names[0] == "amusement" and len(prepared.manifest) == 20
    dropped = prepared.skipped[prepared.skipped["reason"] == REASON_OUTSIDE_SCHEME]
    assert len(dropped) == 3 and "label 'neutral'" in dropped["detail"].iloc[0]


def test_scheme_class_without_images_is_an_error(binary_folder):
    with pytest.raises(DataError, match=r"fewer than two classes .*\(none of 'joy'"):
        prepare_dataset(binary_folder, scheme="binary:joy")


def test_predefined_split_is_honoured(tmp_path):
    root = make_class_folders(tmp_path / "ds", {"a": 10, "b": 10})
    rows = [(f"{c}/{c}_{i:03d}.jpg", c, "test" if i < 2 else "train")
            for c in "ab" for i in range(10)]
    csv = root / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(csv, index=False)
    prepared = prepare_dataset(csv, scheme="folders")
    test = prepared.frames["test"]
    assert sorted(test["relpath"]) == ["a/a_000.jpg", "a/a_001.jpg", "b/b_000.jpg",
                                       "b/b_001.jpg"]
    assert len(prepared.frames["val"]) == 2  # 1/9 of each class's 8 training images


def test_duplicates_are_dropped_before_splitting(binary_folder):
    shutil.copy(binary_folder / "sadness" / "sadness_000.jpg",
                binary_folder / "sadness" / "copy_of_000.jpg")
    assert len(prepare_dataset(binary_folder).manifest) == 21
    prepared = prepare_dataset(binary_folder, deduplicate=True)
    assert len(prepared.manifest) == 20
    assert prepared.skipped["reason"].tolist() == [REASON_DUPLICATE]


def test_partly_predefined_split_is_an_error(tmp_path):
    root = make_class_folders(tmp_path / "ds", {"a": 3, "b": 3})
    rows = [(f"{c}/{c}_{i:03d}.jpg", c, "train" if i else "") for c in "ab" for i in range(3)]
    csv = root / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(csv, index=False)
    with pytest.raises(DataError, match=r"leaves 2 image\(s\) without a split"):
        prepare_dataset(csv, scheme="folders")


def test_with_a_predefined_split_the_training_copy_of_a_duplicate_is_kept(tmp_path):
    root = make_class_folders(tmp_path / "ds", {"a": 5, "b": 5})
    shutil.copy(root / "b" / "b_000.jpg", root / "a" / "a_copy.jpg")
    rows = [(f"{c}/{c}_{i:03d}.jpg", c, "Training" if i < 4 else "validation")
            for c in "ab" for i in range(5)] + [("a/a_copy.jpg", "a", "testing")]
    csv = root / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(csv, index=False)
    prepared = prepare_dataset(csv, scheme="folders", deduplicate=True)
    # "a/a_copy.jpg" sorts first, but its copy "b/b_000.jpg" is the one in train.
    relpaths = set(prepared.manifest["relpath"])
    assert "b/b_000.jpg" in relpaths and "a/a_copy.jpg" not in relpaths
    assert prepared.manifest["split"].value_counts().to_dict() == {"train": 8, "val": 2}

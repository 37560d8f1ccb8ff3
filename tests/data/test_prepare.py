"""prepare_dataset: scheme mapping, splits, reuse of a saved split, deduplication before
splitting."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from dataset_builders import make_class_folders
from PIL import Image

from thesis_lib.data import audit, prepare_dataset, scan_dataset
from thesis_lib.data.demo import make_demo_dataset
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
    # The copies carry labels a and b: a label conflict, kept here to see which copy stays.
    prepared = prepare_dataset(csv, scheme="folders", deduplicate=True, label_conflicts="keep")
    # "a/a_copy.jpg" sorts first, but its copy "b/b_000.jpg" is the one in train.
    relpaths = set(prepared.manifest["relpath"])
    assert "b/b_000.jpg" in relpaths and "a/a_copy.jpg" not in relpaths
    assert prepared.manifest["split"].value_counts().to_dict() == {"train": 8, "val": 2}


@pytest.fixture(scope="module")
def demo_with_copies(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """40 demo images and three planted copies; returns the root and copy -> original."""
    root = make_demo_dataset(tmp_path_factory.mktemp("dedup") / "demo", images_per_class=20,
                             size=(160, 120))
    shutil.copyfile(root / "sadness" / "sadness_0000.jpg", root / "sadness" / "z_exact.jpg")
    with Image.open(root / "other" / "other_0001.jpg") as image:
        image.save(root / "other" / "z_quality40.jpg", quality=40)
    with Image.open(root / "sadness" / "sadness_0002.jpg") as image:
        # Sorts before its original, but the original (larger) is the copy that stays.
        image.resize((80, 60), Image.Resampling.BILINEAR).save(root / "sadness" / "a_half.png")
    copies = {"sadness/z_exact.jpg": "sadness/sadness_0000.jpg",
              "other/z_quality40.jpg": "other/other_0001.jpg",
              "sadness/a_half.png": "sadness/sadness_0002.jpg"}  # dropped -> kept
    return root, copies


def without_scan_hashes(manifest: pd.DataFrame) -> pd.DataFrame:
    return manifest.drop(columns=["sha256", "phash", "dhash"])


def test_deduplication_gives_every_seed_the_same_clean_dataset(demo_with_copies):
    root, copies = demo_with_copies
    leaking_seeds = 0
    cleaned = set()
    for seed in range(5):
        plain = prepare_dataset(root, seed=seed)
        leaking_seeds += not audit.leakage_report(audit.find_duplicates(plain.manifest)).empty
        prepared = prepare_dataset(root, seed=seed, deduplicate=True)
        dropped = prepared.skipped[prepared.skipped["reason"] == REASON_DUPLICATE]
        assert {str(Path(path).relative_to(root)) for path in dropped["path"]} == set(copies)
        for path, detail in zip(dropped["path"], dropped["detail"], strict=True):
            assert f"copy of {copies[str(Path(path).relative_to(root))]} " in detail
        groups = prepared.duplicates
        assert groups["group"].nunique() == 3 and len(groups) == 6
        assert set(groups.loc[~groups["kept"], "relpath"]) == set(copies)
        assert set(groups.loc[groups["kept"], "relpath"]) == set(copies.values())
        # Re-hashed from the files: no group is left, so none spans two splits.
        assert audit.find_duplicates(without_scan_hashes(prepared.manifest)).empty
        assert len(prepared.manifest) == 40
        cleaned.add(tuple(prepared.manifest["relpath"]))
    assert len(cleaned) == 1  # the same images for every seed
    assert leaking_seeds > 0  # without deduplication some seed splits a copy from its original


def test_deduplication_uses_the_scans_hashes(demo_with_copies, monkeypatch):
    root, copies = demo_with_copies
    scan_dataset(root)  # fills the cache, as any earlier scan of the dataset does

    def no_hashing(*args, **kwargs):
        raise AssertionError("an image was hashed again")

    confirmed = []
    original_thumbnail = audit.thumbnail

    def counted_thumbnail(path):
        confirmed.append(Path(path).relative_to(root).as_posix())
        return original_thumbnail(path)

    monkeypatch.setattr(audit, "fingerprint_bytes", no_hashing)
    monkeypatch.setattr(audit, "thumbnail", counted_thumbnail)
    prepared = prepare_dataset(root, deduplicate=True)
    assert set(prepared.duplicates.loc[~prepared.duplicates["kept"], "relpath"]) == set(copies)
    # Only the files of the near pairs are decoded again, for the pixel check, once each.
    near = {"other/z_quality40.jpg", "other/other_0001.jpg", "sadness/a_half.png",
            "sadness/sadness_0002.jpg"}
    assert sorted(confirmed) == sorted(near)


def test_a_split_file_is_used_as_it_is(demo_with_copies, tmp_path):
    root, copies = demo_with_copies
    split_csv = prepare_dataset(root, seed=1).save_split(tmp_path / "split.csv")
    prepared = prepare_dataset(root, split_file=split_csv, deduplicate=True)
    assert prepared.duplicates is None
    assert set(copies) <= set(prepared.manifest["relpath"])
    assert (prepared.skipped["reason"] != REASON_DUPLICATE).all()
    # A split written after deduplication leaves the copies out when it is reused.
    clean_csv = prepare_dataset(root, seed=1, deduplicate=True).save_split(tmp_path / "c.csv")
    with pytest.warns(UserWarning, match="3 image"):
        reused = prepare_dataset(root, split_file=clean_csv)
    assert not set(copies) & set(reused.manifest["relpath"])


def test_the_duplicate_table_records_the_kept_training_copy(tmp_path):
    root = make_class_folders(tmp_path / "ds", {"a": 5, "b": 5})
    shutil.copy(root / "b" / "b_001.jpg", root / "a" / "a_copy.jpg")
    shutil.copy(root / "b" / "b_001.jpg", root / "b" / "b_copy.jpg")
    rows = [(f"{c}/{c}_{i:03d}.jpg", c, "train" if i < 4 else "test")
            for c in "ab" for i in range(5)]
    rows += [("a/a_copy.jpg", "a", "test"), ("b/b_copy.jpg", "b", "train")]
    csv = root / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(csv, index=False)
    groups = prepare_dataset(csv, scheme="folders", deduplicate=True,
                             label_conflicts="keep").duplicates
    kept = groups.set_index("relpath")["kept"].to_dict()
    # Two training copies: the first by relpath stays; the test copy goes.
    assert kept == {"a/a_copy.jpg": False, "b/b_001.jpg": True, "b/b_copy.jpg": False}
    assert groups.set_index("relpath")["split"].to_dict() == {
        "a/a_copy.jpg": "test", "b/b_001.jpg": "train", "b/b_copy.jpg": "train"}
    assert groups.set_index("relpath")["label"].to_dict() == {  # a conflict to look at
        "a/a_copy.jpg": "a", "b/b_001.jpg": "b", "b/b_copy.jpg": "b"}
    # By default a label conflict drops every copy, and is reported.
    prepared = prepare_dataset(csv, scheme="folders", deduplicate=True)
    assert not prepared.duplicates["kept"].any()
    assert set(prepared.conflicts["relpath"]) == {"a/a_copy.jpg", "b/b_001.jpg", "b/b_copy.jpg"}
    assert prepared.duplicate_counts() == {"groups": 1, "copies_dropped": 0,
                                           "conflict_groups": 1, "conflict_images_dropped": 3}

"""Deterministic stratified splits: ratios, stratification, stability, reuse."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from thesis_lib.data import splits
from thesis_lib.errors import ConfigError, DataError


def toy_frame(counts: dict[str, int]) -> pd.DataFrame:
    rows = [(f"{label}/img_{i:04d}.jpg", label) for label, n in counts.items() for i in range(n)]
    return pd.DataFrame(rows, columns=["relpath", "label"])


def assignment(frame: pd.DataFrame, **options) -> dict[str, str]:
    return dict(zip(frame["relpath"], splits.assign_splits(frame, **options), strict=True))


@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.1), (0.7, 0.15, 0.15), (0.5, 0.5, 0.0)])
def test_split_counts_are_exact_and_within_one_of_the_ratio(ratios):
    for total in range(0, 60):
        counts = splits.split_counts(total, ratios)
        assert sum(counts) == total
        for count, ratio in zip(counts, ratios, strict=True):
            assert abs(count - ratio * total) < 1


def test_split_is_stratified_disjoint_and_has_the_ratios():
    frame = toy_frame({"sadness": 613, "other": 1187, "rare": 7})
    split = splits.assign_splits(frame, ratios=(0.8, 0.1, 0.1), seed=3)
    assert set(split) == {"train", "val", "test"} and split.notna().all()
    table = pd.crosstab(frame["label"], split)
    for label, row in table.iterrows():
        total = row.sum()
        for name, ratio in zip(splits.SPLITS, (0.8, 0.1, 0.1), strict=True):
            assert abs(row.get(name, 0) - ratio * total) < 1, (label, name)
    # Every image is in exactly one split (a Series over the rows cannot say otherwise, but
    # the saved table must not list an image twice either).
    assert frame["relpath"].is_unique


def test_split_does_not_depend_on_row_order_or_other_classes():
    frame = toy_frame({"a": 50, "b": 31})
    reference = assignment(frame, seed=7)
    shuffled = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert assignment(shuffled, seed=7) == reference
    with_more = pd.concat([frame, toy_frame({"c": 40})], ignore_index=True)
    extended = assignment(with_more, seed=7)
    assert {k: v for k, v in extended.items() if not k.startswith("c/")} == reference
    assert assignment(frame, seed=8) != reference


def test_split_is_the_same_on_every_machine():
    # The order is a SHA-256 of "seed NUL relpath": recompute it with hashlib directly.
    frame = toy_frame({"a": 10})
    keys = {p: hashlib.sha256(f"5\0{p}".encode()).hexdigest() for p in frame["relpath"]}
    ordered = sorted(keys, key=keys.get)
    expected = dict.fromkeys(ordered[:8], "train") | {ordered[8]: "val", ordered[9]: "test"}
    assert assignment(frame, seed=5) == expected


@pytest.mark.parametrize("ratios", [(0.8, 0.1), (0.8, 0.3, 0.1), (0.0, 0.5, 0.5),
                                    (1.1, -0.1, 0.0), ("a", 0, 0)])
def test_bad_ratios_are_rejected(ratios):
    with pytest.raises(ConfigError, match="ratio"):
        splits.check_ratios(ratios)


def test_saved_split_is_reused_and_checked(tmp_path):
    frame = toy_frame({"a": 20, "b": 20})
    frame["split"] = splits.assign_splits(frame, seed=1)
    path = splits.save_split(frame, tmp_path / "run" / "split.csv")
    table = splits.load_split(path)
    assert list(table.columns) == splits.SPLIT_COLUMNS
    again = splits.apply_split_file(frame.drop(columns="split"), table, str(path))
    assert again.tolist() == frame["split"].tolist()
    with pytest.raises(DataError, match="2 image.s. of the split file are missing"):
        splits.apply_split_file(frame.iloc[2:], table, str(path))
    extra = pd.concat([frame, toy_frame({"new": 1})], ignore_index=True)
    with pytest.warns(UserWarning, match="1 image.s. of the dataset are not in the split file"):
        result = splits.apply_split_file(extra, table, str(path))
    assert result.isna().sum() == 1


def test_split_files_with_bad_content_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="split file not found"):
        splits.load_split(tmp_path / "none.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("relpath,label,split\na.jpg,x,holdout\n")
    with pytest.raises(DataError, match="unknown split name.*holdout"):
        splits.load_split(bad)


def test_predefined_split_is_kept_and_val_carved_from_train():
    frame = toy_frame({"a": 40, "b": 40})
    frame["split"] = np.where(np.arange(80) % 5 == 0, "testing", "training")
    split = splits.complete_predefined_split(frame, ratios=(0.8, 0.1, 0.1), seed=0)
    assert (split[frame["split"] == "testing"] == "test").all()
    counts = split.value_counts()
    assert counts["test"] == 16
    # val takes 1/9 of each class's 32 training images: 3.56 -> 3 or 4 per class
    assert 6 <= counts["val"] <= 8 and counts["train"] == 64 - counts["val"]
    frame.loc[0, "split"] = "valid"
    assert splits.complete_predefined_split(frame, seed=0).value_counts()["val"] == 1

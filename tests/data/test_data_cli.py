"""The ``thesis data`` command: scan, split, audit and demo, and its one-line errors."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from thesis_lib.cli import main


def test_scan_prints_a_summary_and_writes_reports(binary_folder, tmp_path, capsys):
    (binary_folder / "other" / "broken.jpg").write_text("no image")
    out, report = tmp_path / "manifest.csv", tmp_path / "skipped.csv"
    assert main(["data", "scan", str(binary_folder), "--out", str(out),
                 "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "20 usable images" in printed and "sadness: 12" in printed
    assert "not an image: 1" in printed
    assert len(pd.read_csv(out)) == 20
    assert pd.read_csv(report)["reason"].tolist() == ["not an image"]
    # Existing outputs are kept unless --force.
    assert main(["data", "scan", str(binary_folder), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err


def test_unusable_dataset_exits_non_zero_with_one_line(tmp_path, capsys):
    assert main(["data", "scan", str(tmp_path / "missing")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "no such folder or file" in error


def test_split_writes_a_reusable_split(binary_folder, tmp_path, capsys):
    split_csv = tmp_path / "split.csv"
    assert main(["data", "split", str(binary_folder), "--seed", "3", "--out",
                 str(split_csv)]) == 0
    assert "not_sadness" in capsys.readouterr().out
    table = pd.read_csv(split_csv)
    assert list(table.columns) == ["relpath", "label", "split"] and len(table) == 20
    again = tmp_path / "again.csv"
    assert main(["data", "split", str(binary_folder), "--split-file", str(split_csv),
                 "--out", str(again)]) == 0
    pd.testing.assert_frame_equal(table, pd.read_csv(again))


def test_audit_reports_and_drops_a_planted_copy(binary_folder, tmp_path, capsys):
    shutil.copy(binary_folder / "sadness" / "sadness_001.jpg", binary_folder / "other" / "x.jpg")
    report, cleaned = tmp_path / "duplicates.csv", binary_folder / "clean.csv"
    assert main(["data", "audit", str(binary_folder), "--exact-only", "--report", str(report),
                 "--drop", "--out", str(cleaned)]) == 0
    assert "1 duplicate groups" in capsys.readouterr().out
    assert len(pd.read_csv(report)) == 2
    assert main(["data", "scan", str(cleaned)]) == 0
    assert "20 usable images" in capsys.readouterr().out


def test_demo_writes_the_requested_dataset(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["data", "demo", "--out", str(out), "--classes", "3", "--per-class", "4",
                 "--size", "64x48", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert printed.count(": 4") == 3
    assert main(["data", "demo", "--out", str(out), "--size", "64by48"]) == 2
    assert "--size must look like 500x375" in capsys.readouterr().err


def test_split_with_deduplicate_writes_a_split_without_the_copies(binary_folder, tmp_path,
                                                                  capsys):
    from thesis_lib.data import prepare_dataset

    shutil.copy(binary_folder / "sadness" / "sadness_004.jpg",
                binary_folder / "sadness" / "z_copy.jpg")
    split_csv, groups_csv = tmp_path / "split.csv", tmp_path / "groups.csv"
    assert main(["data", "split", str(binary_folder), "--seed", "2", "--deduplicate",
                 "--out", str(split_csv), "--duplicates", str(groups_csv)]) == 0
    assert "1 duplicate groups: 1 copies dropped before splitting" in capsys.readouterr().out
    table = pd.read_csv(split_csv)
    assert len(table) == 20 and "sadness/z_copy.jpg" not in set(table["relpath"])
    groups = pd.read_csv(groups_csv)
    assert groups.set_index("relpath")["kept"].to_dict() == {"sadness/sadness_004.jpg": True,
                                                             "sadness/z_copy.jpg": False}
    # The file is a split_file: it gives the deduplicated split back.
    with pytest.warns(UserWarning, match="1 image"):  # the dropped copy
        reused = prepare_dataset(binary_folder, split_file=split_csv)
    direct = prepare_dataset(binary_folder, seed=2, deduplicate=True)
    columns = ["relpath", "label", "split"]
    pd.testing.assert_frame_equal(reused.manifest[columns], direct.manifest[columns])
    assert main(["data", "split", str(binary_folder), "--split-file", str(split_csv),
                 "--deduplicate"]) == 2
    assert "a split file is used as it is" in capsys.readouterr().err


def test_split_reports_label_conflicts_and_drops_them_unless_told(binary_folder, tmp_path,
                                                                  capsys):
    shutil.copy(binary_folder / "sadness" / "sadness_003.jpg",
                binary_folder / "other" / "copy_of_sadness_003.jpg")
    conflicts = tmp_path / "conflicts.csv"
    assert main(["data", "split", str(binary_folder), "--deduplicate", "--conflicts",
                 str(conflicts)]) == 0
    printed = capsys.readouterr().out
    assert "1 groups with copies under different labels: 2 images dropped" in printed
    assert sorted(pd.read_csv(conflicts)["relpath"]) == ["other/copy_of_sadness_003.jpg",
                                                         "sadness/sadness_003.jpg"]
    assert main(["data", "split", str(binary_folder), "--deduplicate", "--label-conflicts",
                 "keep"]) == 0
    assert "1 groups with copies under different labels: 0 images dropped (one kept)" in \
        capsys.readouterr().out
    assert main(["data", "split", str(binary_folder), "--conflicts", str(conflicts)]) == 2
    assert "give both" in capsys.readouterr().err

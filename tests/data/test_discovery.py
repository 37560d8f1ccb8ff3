"""Scanning datasets: what is found, what is skipped and why, caching, unusable datasets."""

from __future__ import annotations

import hashlib
import os

import imagehash
import pandas as pd
import pytest
from dataset_builders import make_class_folders, write_image
from PIL import Image

from thesis_lib.data import discovery, images
from thesis_lib.data.discovery import scan_dataset
from thesis_lib.errors import DataError


def test_folder_scan_finds_nested_images_and_ignores_hidden_files(binary_folder):
    write_image(binary_folder / "other" / "deeper" / "nested.png")
    write_image(binary_folder / "other" / ".hidden.jpg")
    write_image(binary_folder / ".trash" / "gone.jpg")
    write_image(binary_folder / "stray.jpg")  # next to the class folders: not in a class
    (binary_folder / "sadness" / "notes.txt").write_text("not an image file name")
    result = scan_dataset(binary_folder)
    manifest = result.manifest
    assert result.class_counts().to_dict() == {"other": 9, "sadness": 12}
    assert "other/deeper/nested.png" in set(manifest["relpath"])
    assert manifest["relpath"].is_monotonic_increasing
    assert result.skipped.empty
    row = manifest.set_index("relpath").loc["sadness/sadness_000.jpg"]
    assert (row["width"], row["height"], row["format"], row["decoder"]) == (48, 40, "JPEG", "tf")
    assert row["path"] == str(binary_folder / "sadness" / "sadness_000.jpg")
    assert set(discovery.MANIFEST_COLUMNS) <= set(manifest.columns)


def test_every_skip_reason_is_reported(binary_folder, tmp_path):
    sad = binary_folder / "sadness"
    (sad / "empty.jpg").touch()
    (sad / "text.jpg").write_text("hello")
    whole = (sad / "sadness_000.jpg").read_bytes()
    (sad / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    write_image(sad / "tiny.png", size=(20, 20))
    outside = write_image(tmp_path / "elsewhere" / "outside.jpg")
    os.symlink(outside, sad / "link.jpg")
    os.symlink(outside.parent, binary_folder / "other" / "linked_folder")
    result = scan_dataset(binary_folder, min_side=32)
    reasons = result.skipped.set_index(result.skipped["path"].map(os.path.basename))["reason"]
    assert reasons.to_dict() == {
        "empty.jpg": images.REASON_EMPTY,
        "text.jpg": images.REASON_NOT_IMAGE,
        "truncated.jpg": images.REASON_CORRUPT,
        "tiny.png": images.REASON_TOO_SMALL,
        "link.jpg": discovery.REASON_OUTSIDE_ROOT,
        "linked_folder": discovery.REASON_OUTSIDE_ROOT,
    }
    assert len(result.manifest) == 20  # the good images are all there
    assert "truncated or corrupt: 1" in result.summary()
    assert "outside dataset root: 2" in result.summary()


def test_links_inside_the_root_are_followed(binary_folder):
    os.symlink(binary_folder / "sadness" / "sadness_000.jpg", binary_folder / "other" / "l.jpg")
    result = scan_dataset(binary_folder)
    assert "other/l.jpg" in set(result.manifest["relpath"])


def test_csv_manifest_paths_are_relative_to_the_csv(tmp_path):
    root = make_class_folders(tmp_path / "ds", {"a": 2, "b": 2})
    write_image(tmp_path / "secret.jpg")
    rows = [("a/a_000.jpg", "sad", "train"), ("a/a_001.jpg", "sad", "test"),
            ("b/b_000.jpg", "happy", "train"), ("b/b_001.jpg", "happy", "val"),
            ("../secret.jpg", "happy", "train"), ("b/missing.jpg", "happy", "train"),
            ("a/a_000.jpg", "sad", "train")]
    csv = root / "manifest.csv"
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(csv, index=False)
    result = scan_dataset(csv)
    assert result.manifest["relpath"].tolist() == ["a/a_000.jpg", "a/a_001.jpg", "b/b_000.jpg",
                                                   "b/b_001.jpg"]
    assert result.manifest["split"].tolist() == ["train", "test", "train", "val"]
    assert result.manifest["label"].tolist() == ["sad", "sad", "happy", "happy"]
    reasons = dict(zip(result.skipped["path"].map(os.path.basename), result.skipped["reason"],
                       strict=True))
    assert reasons == {"secret.jpg": discovery.REASON_OUTSIDE_ROOT,
                       "missing.jpg": discovery.REASON_MISSING,
                       "a_000.jpg": discovery.REASON_LISTED_TWICE}


def test_csv_without_label_column_is_a_clear_error(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("file,class\na.jpg,x\n")
    with pytest.raises(DataError, match=r"m\.csv: .*missing label, path"):
        scan_dataset(csv)


def test_unusable_datasets_raise_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        scan_dataset(tmp_path / "nowhere")
    one_class = make_class_folders(tmp_path / "one", {"sadness": 3})
    with pytest.raises(DataError, match="found 1 class"):
        scan_dataset(one_class)
    broken = tmp_path / "broken"
    for name in ("a", "b"):
        (broken / name).mkdir(parents=True)
        (broken / name / "x.jpg").write_text("not an image")
    with pytest.raises(DataError, match=r"no readable image found \(2 files skipped: not an"):
        scan_dataset(broken)


def test_second_scan_uses_the_cache_and_notices_changed_files(binary_folder, monkeypatch):
    first = scan_dataset(binary_folder)
    assert discovery.cache_path_for(binary_folder).is_file()
    checked = []
    real_inspect = discovery.inspect_file

    def counting_inspect(path, *args):
        checked.append(os.path.basename(path))
        return real_inspect(path, *args)

    monkeypatch.setattr(discovery, "inspect_file", counting_inspect)
    second = scan_dataset(binary_folder)
    assert checked == []
    pd.testing.assert_frame_equal(first.manifest, second.manifest)
    # Replace a file by a broken one of another size: only it is checked again.
    (binary_folder / "other" / "other_000.jpg").write_text("broken now")
    third = scan_dataset(binary_folder)
    assert checked == ["other_000.jpg"]
    assert third.skipped["reason"].tolist() == [images.REASON_NOT_IMAGE]
    # The minimum side is applied after the cache: a new limit needs no new decoding.
    checked.clear()
    with pytest.raises(DataError, match="too small: 19"):
        scan_dataset(binary_folder, min_side=41)  # the images are 48x40
    assert checked == []


def test_the_cache_folder_is_thesis_cache_dir_else_the_users_cache(tmp_path, monkeypatch,
                                                                    scan_cache):
    dataset = tmp_path / "ds"
    expected_name = hashlib.sha256(str(dataset.resolve()).encode()).hexdigest()[:16] + ".json"
    assert discovery.cache_path_for(dataset) == scan_cache / expected_name
    monkeypatch.delenv("THESIS_CACHE_DIR")
    assert discovery.cache_path_for(dataset) == (
        tmp_path / "xdg-cache" / "thesis-workbench" / "scans" / expected_name)
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert discovery.cache_path_for(dataset) == (
        tmp_path / "home" / ".cache" / "thesis-workbench" / "scans" / expected_name)
    # Another path to the same folder (a link) shares its cache; another folder has its own.
    dataset.mkdir()
    os.symlink(dataset, tmp_path / "link")
    assert discovery.cache_path_for(tmp_path / "link") == discovery.cache_path_for(dataset)
    assert discovery.cache_path_for(tmp_path) != discovery.cache_path_for(dataset)


def test_parallel_scan_gives_the_same_manifest(binary_folder, monkeypatch):
    serial = scan_dataset(binary_folder, workers=1, cache=False)
    monkeypatch.setattr(discovery, "MIN_FILES_FOR_POOL", 1)
    parallel = scan_dataset(binary_folder, workers=2, cache=False)
    pd.testing.assert_frame_equal(serial.manifest, parallel.manifest)


def test_files_tensorflow_reads_differently_go_to_pil(binary_folder, monkeypatch):
    monkeypatch.setattr(discovery, "_tensorflow_check",
                        lambda path, result: "TensorFlow decodes it to other pixels than PIL")
    manifest = scan_dataset(binary_folder, cache=False).manifest
    assert set(manifest["decoder"]) == {"pil"}


def counting_tensorflow_checks(monkeypatch, differs=lambda data: False) -> list[bytes]:
    """Replace the TensorFlow comparison by one that records what it compared and reports a
    difference where ``differs(file bytes)`` says so."""
    compared = []

    def check(data, name):
        compared.append(data)
        return "TensorFlow decodes it to other pixels than PIL" if differs(data) else None

    monkeypatch.setattr(discovery, "_tensorflow_check", check)
    return compared


def test_tensorflow_is_compared_on_the_first_files_of_each_encoding_kind(tmp_path,
                                                                         monkeypatch):
    root = make_class_folders(tmp_path / "ds", {"a": 15, "b": 15})
    for index in range(12):  # a second kind: progressive JPEGs
        write_image(root / "b" / f"progressive_{index:02d}.jpg", progressive=True, seed=index)
    compared = counting_tensorflow_checks(monkeypatch)
    manifest = scan_dataset(root, workers=1).manifest
    assert len(compared) == 2 * discovery.TF_COMPARISONS_PER_KIND
    assert set(manifest["decoder"]) == {"tf"}
    # A second scan of the unchanged folder compares nothing; a new file of a trusted kind
    # is trusted from what the cache says was compared.
    write_image(root / "a" / "new.jpg", seed=99)
    compared.clear()
    scan_dataset(root, workers=1)
    assert compared == []


def test_one_disagreeing_file_sends_its_whole_kind_through_the_comparison(tmp_path,
                                                                          monkeypatch):
    root = make_class_folders(tmp_path / "ds", {"a": 15, "b": 15})
    odd_one = (root / "a" / "a_003.jpg").read_bytes()  # among the first files compared
    compared = counting_tensorflow_checks(monkeypatch, differs=lambda data: data == odd_one)
    manifest = scan_dataset(root, workers=1, cache=False).manifest
    assert len(compared) == 30  # every file of the kind, before and after the odd one
    decoders = manifest.set_index("relpath")["decoder"]
    assert decoders["a/a_003.jpg"] == "pil"
    assert set(decoders.drop("a/a_003.jpg")) == {"tf"}


def test_trusted_files_are_compared_again_when_their_kind_disagrees_later(tmp_path,
                                                                          monkeypatch):
    root = make_class_folders(tmp_path / "ds", {"a": 15, "b": 15})
    compared = counting_tensorflow_checks(monkeypatch)
    scan_dataset(root, workers=1)
    # Without the files whose comparison made the kind trusted, the cache holds only files
    # that skipped it; a newly added file of the kind then disagrees.
    for index in range(discovery.TF_COMPARISONS_PER_KIND):
        (root / "a" / f"a_{index:03d}.jpg").unlink()
    write_image(root / "a" / "odd.jpg", seed=99)
    odd_one = (root / "a" / "odd.jpg").read_bytes()
    compared = counting_tensorflow_checks(monkeypatch, differs=lambda data: data == odd_one)
    manifest = scan_dataset(root, workers=1).manifest
    assert len(compared) == 1 + 30 - discovery.TF_COMPARISONS_PER_KIND
    decoders = manifest.set_index("relpath")["decoder"]
    assert decoders["a/odd.jpg"] == "pil"
    assert set(decoders.drop("a/odd.jpg")) == {"tf"}  # compared one by one: they agree
    compared.clear()
    pd.testing.assert_frame_equal(scan_dataset(root, workers=1).manifest, manifest)  # cached
    assert compared == []


def test_parallel_scan_compares_enough_files_of_each_kind(tmp_path, monkeypatch):
    root = make_class_folders(tmp_path / "ds", {"a": 40, "b": 40})
    compared = counting_tensorflow_checks(monkeypatch)
    monkeypatch.setattr(discovery, "MIN_FILES_FOR_POOL", 1)
    manifest = scan_dataset(root, workers=2, cache=False).manifest
    assert discovery.TF_COMPARISONS_PER_KIND <= len(compared) < 80
    assert set(manifest["decoder"]) == {"tf"}


def test_decoder_column_follows_the_format(tmp_path):
    root = make_class_folders(tmp_path / "ds", {"a": 1, "b": 1})
    rgba = Image.new("RGBA", (40, 40), (10, 20, 30, 128))
    rgba.save(root / "a" / "alpha.png")
    write_image(root / "b" / "lossless.webp", lossless=True)
    decoders = scan_dataset(root).manifest.set_index("relpath")["decoder"].to_dict()
    assert decoders == {"a/a_000.jpg": "tf", "a/alpha.png": "pil", "b/b_000.jpg": "tf",
                        "b/lossless.webp": "pil"}


def test_manifest_does_not_depend_on_listing_order(binary_folder, monkeypatch):
    write_image(binary_folder / "other" / "deeper" / "nested.png")
    expected = scan_dataset(binary_folder, cache=False).manifest
    real_walk = os.walk

    def reversed_walk(top, **options):
        for folder, dirnames, filenames in real_walk(top, **options):
            dirnames.reverse()
            yield folder, dirnames, filenames[::-1]

    monkeypatch.setattr(discovery.os, "walk", reversed_walk)
    pd.testing.assert_frame_equal(scan_dataset(binary_folder, cache=False).manifest, expected)


def test_the_scan_stores_the_hashes_of_the_duplicate_audit(binary_folder):
    write_image(binary_folder / "other" / "small.png", size=(36, 33))  # below pHash's 32x32
    manifest = scan_dataset(binary_folder).manifest
    for row in manifest.itertuples():
        assert row.sha256 == hashlib.sha256(open(row.path, "rb").read()).hexdigest()
        # The documented recipe: grey (a colour JPEG's luma as libjpeg decodes it), shrunk to
        # 32x32 (box, then Lanczos), imagehash's hashes.
        if row.format == "JPEG":
            grey = Image.open(row.path)
            grey.draft("L", grey.size)
        else:
            grey = Image.fromarray(images.load_image(row.path)).convert("L")
        if min(grey.size) > 32:
            grey = grey.resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=2.0)
        assert row.phash == str(imagehash.phash(grey)), row.relpath
        assert row.dhash == str(imagehash.dhash(grey)), row.relpath
    assert manifest["phash"].nunique() == len(manifest)  # 21 different pictures


def test_each_file_is_decoded_once_by_pil_and_tensorflow_only_until_its_kind_is_trusted(
        binary_folder, monkeypatch):
    from PIL import Image as pil_image

    from thesis_lib.data import audit

    rgba = Image.new("RGBA", (40, 40), (10, 20, 30, 128))
    rgba.save(binary_folder / "other" / "alpha.png")  # "pil": TensorFlow need not decode it
    opened, tf_decoded = [], []
    real_open, real_tf_decode = pil_image.open, images.tf_decode_bytes
    monkeypatch.setattr(pil_image, "open",
                        lambda stream, *a, **k: opened.append(1) or real_open(stream, *a, **k))
    monkeypatch.setattr(images, "tf_decode_bytes",
                        lambda data: tf_decoded.append(1) or real_tf_decode(data))
    monkeypatch.setattr(discovery, "MIN_FILES_FOR_POOL", 1)  # the threaded path

    manifest = scan_dataset(binary_folder, workers=2).manifest
    duplicates = audit.find_duplicates(manifest)

    assert len(manifest) == 21 and duplicates.empty
    # The 20 JPEGs are of one kind: the first ones are compared, decoded by TensorFlow and,
    # in colour, by PIL a second time (at most one more than needed per thread, decoded while
    # the last needed comparison ran).
    per_kind = discovery.TF_COMPARISONS_PER_KIND
    assert per_kind <= len(tf_decoded) <= per_kind + 1
    # Otherwise the scan decoded each file once, the audit not at all.
    assert len(opened) == 21 + len(tf_decoded)
    assert (manifest["decoder"] == "tf").sum() == 20

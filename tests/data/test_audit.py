"""Duplicate audit on demo images with planted copies: exact, re-encoded, resized, rotated."""

from __future__ import annotations

import shutil
from pathlib import Path

import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from thesis_lib.data import audit, demo
from thesis_lib.errors import ConfigError, DataError

EXIF_ORIENTATION = 0x0112


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """40 distinct demo images plus one copy of each kind; returns the manifest and the
    expected duplicate pairs (by kind of copy)."""
    root = tmp_path_factory.mktemp("audit")
    originals = sorted(str(p) for p in demo.make_demo_dataset(
        root / "demo", images_per_class=20, size=(160, 120)).rglob("*.jpg"))
    copies = root / "copies"
    copies.mkdir()

    exact = copies / "exact.jpg"
    shutil.copyfile(originals[0], exact)
    with Image.open(originals[1]) as image:
        image.save(copies / "reencoded.jpg", quality=40)
    with Image.open(originals[2]) as image:
        image.resize((80, 60), Image.Resampling.BILINEAR).save(copies / "half.png")
    with Image.open(originals[3]) as image:
        # Stored on its side; EXIF orientation 6 tells viewers to turn it upright again.
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = 6
        image.transpose(Image.Transpose.ROTATE_90).save(copies / "rotated.jpg", quality=95,
                                                        exif=exif)
    expected = {
        "exact": {originals[0], str(exact)},
        "reencoded": {originals[1], str(copies / "reencoded.jpg")},
        "half": {originals[2], str(copies / "half.png")},
        "rotated": {originals[3], str(copies / "rotated.jpg")},
    }
    paths = originals + sorted(str(p) for p in copies.iterdir())
    manifest = pd.DataFrame({"path": paths, "label": [Path(p).parent.name for p in paths]})
    return manifest, expected


def groups_of(duplicates: pd.DataFrame) -> list[set[str]]:
    return sorted((set(g["path"]) for _, g in duplicates.groupby("group")), key=sorted)


def test_finds_every_planted_copy_and_nothing_else(planted):
    manifest, expected = planted
    duplicates = audit.find_duplicates(manifest)

    assert list(duplicates.columns) == ["group", "path", "kind", "split", "distance"]
    assert groups_of(duplicates) == sorted(expected.values(), key=sorted)
    kinds = dict(zip(duplicates["path"], duplicates["kind"], strict=True))
    assert {kinds[p] for p in expected["exact"]} == {"exact"}
    assert {kinds[p] for name in ("reencoded", "half", "rotated") for p in expected[name]} == {
        "near"}
    assert (duplicates["distance"] <= 10).all()
    assert duplicates["split"].isna().all()


def test_exact_only_mode_finds_byte_copies_only(planted):
    manifest, expected = planted
    duplicates = audit.find_duplicates(manifest, near=False)
    assert groups_of(duplicates) == [expected["exact"]]
    assert (duplicates["distance"] == 0).all()


def test_result_does_not_depend_on_manifest_order(planted):
    manifest, _ = planted
    shuffled = manifest.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(audit.find_duplicates(manifest, workers=1),
                                  audit.find_duplicates(shuffled))


def test_leakage_report_lists_groups_spanning_splits(planted):
    manifest, expected = planted
    manifest = manifest.assign(split="train")
    leaked_copy = str(Path(sorted(expected["half"])[0]))  # the copy, sorted before "demo/..."
    manifest.loc[manifest["path"] == leaked_copy, "split"] = "test"

    duplicates = audit.find_duplicates(manifest)
    report = audit.leakage_report(duplicates)

    assert set(report["path"]) == expected["half"]
    assert sorted(report["split"]) == ["test", "train"]
    assert audit.leakage_report(audit.find_duplicates(planted[0])).empty


def test_drop_duplicates_keeps_one_file_per_group(planted):
    manifest, expected = planted
    manifest = manifest.assign(split="train")
    copy = sorted(expected["half"])[0]
    manifest.loc[manifest["path"] == copy, "split"] = "test"
    duplicates = audit.find_duplicates(manifest)

    first = audit.drop_duplicates(manifest, duplicates, keep="first")
    train = audit.drop_duplicates(manifest, duplicates, keep="train")
    none = audit.drop_duplicates(manifest, duplicates, keep="none")

    assert len(first) == len(train) == len(manifest) - 4
    assert len(none) == len(manifest) - 8
    for pair in expected.values():
        assert len(pair & set(first["path"])) == 1
        assert min(pair) in set(first["path"])  # the first by sorted path stays
    # keep="train" keeps the training copy, so the test split loses the leaked image.
    assert copy in set(first["path"]) and copy not in set(train["path"])
    assert (train["split"] == "train").all()
    assert list(first.index) == sorted(first.index)  # original order and index


def test_drop_with_no_duplicates_returns_everything(planted):
    manifest, _ = planted
    distinct = manifest.iloc[:10]
    duplicates = audit.find_duplicates(distinct)
    assert duplicates.empty
    pd.testing.assert_frame_equal(audit.drop_duplicates(distinct, duplicates), distinct)


@pytest.mark.parametrize("hash_size", [8, 16])
def test_hamming_distances_match_a_bit_by_bit_count(hash_size):
    rng = np.random.default_rng(hash_size)
    bits_a = rng.random((7, hash_size**2)) < 0.5
    bits_b = rng.random((5, hash_size**2)) < 0.5

    distances = audit.hamming_distances(audit.pack_bits(bits_a), audit.pack_bits(bits_b))

    reference = [[int(np.sum(a != b)) for b in bits_b] for a in bits_a]
    np.testing.assert_array_equal(distances, reference)


def test_missing_file_is_named(planted, tmp_path):
    manifest = pd.concat([planted[0].iloc[:3], pd.DataFrame({"path": [str(tmp_path / "x.jpg")]})])
    with pytest.raises(DataError, match="x.jpg"):
        audit.find_duplicates(manifest)


def test_corrupt_file_is_named(planted, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(Path(planted[0]["path"].iloc[0]).read_bytes()[:200])
    manifest = pd.DataFrame({"path": [*planted[0]["path"].iloc[:3], str(broken)]})
    with pytest.raises(DataError, match="broken.jpg"):
        audit.find_duplicates(manifest)


@pytest.mark.parametrize(
    "manifest, error",
    [
        (pd.DataFrame({"file": ["a.jpg"]}), "'path' column"),
        (pd.DataFrame({"path": ["a.jpg", "a.jpg"]}), "a.jpg: listed more than once"),
    ],
)
def test_bad_manifests_are_refused(manifest, error):
    with pytest.raises(DataError, match=error):
        audit.find_duplicates(manifest)


def test_unknown_keep_is_refused(planted):
    manifest, _ = planted
    with pytest.raises(ConfigError, match="keep"):
        audit.drop_duplicates(manifest, audit.find_duplicates(manifest.iloc[:2]), keep="last")


def test_exact_and_near_copies_of_one_image_form_one_group(planted, tmp_path):
    manifest, _ = planted
    original = manifest["path"].iloc[5]
    shutil.copyfile(original, tmp_path / "same_bytes.jpg")
    with Image.open(original) as image:
        image.resize((120, 90)).save(tmp_path / "smaller.jpg", quality=85)
    paths = [*manifest["path"].iloc[4:8], str(tmp_path / "same_bytes.jpg"),
             str(tmp_path / "smaller.jpg")]

    duplicates = audit.find_duplicates(pd.DataFrame({"path": paths}))

    kinds = dict(zip(duplicates["path"], duplicates["kind"], strict=True))
    assert duplicates["group"].nunique() == 1
    assert kinds == {original: "exact", str(tmp_path / "same_bytes.jpg"): "exact",
                     str(tmp_path / "smaller.jpg"): "near"}


def test_an_empty_manifest_has_no_duplicates():
    duplicates = audit.find_duplicates(pd.DataFrame({"path": []}))
    assert duplicates.empty
    assert list(duplicates.columns) == ["group", "path", "kind", "split", "distance"]
    assert audit.leakage_report(duplicates).empty


def with_hashes(manifest: pd.DataFrame) -> pd.DataFrame:
    """The manifest with the hash columns a scan gives (computed here from the files)."""
    rows = [audit.fingerprint_bytes(Path(path).read_bytes(), name=path)
            for path in manifest["path"]]
    return manifest.assign(sha256=[digest for digest, _, _ in rows],
                           phash=[audit.hash_to_hex(phash) for _, phash, _ in rows],
                           dhash=[audit.hash_to_hex(dhash) for _, _, dhash in rows])


def test_hash_columns_give_the_same_groups_without_reading_a_file(planted, tmp_path):
    manifest, _ = planted
    hashed = with_hashes(manifest)
    # The hash-only rule (confirm=False): the pixel check would read the files.
    expected = audit.find_duplicates(manifest, confirm=False)
    pd.testing.assert_frame_equal(expected, audit.find_duplicates(manifest))  # same groups
    # Paths that do not exist (in the same order): everything must come from the columns.
    gone = str(tmp_path / "gone")
    elsewhere = hashed.assign(path=gone + hashed["path"])
    moved = audit.find_duplicates(elsewhere, confirm=False)
    moved["path"] = moved["path"].str.removeprefix(gone)
    pd.testing.assert_frame_equal(moved, expected)
    assert len(audit.find_duplicates(elsewhere, near=False)) == 2  # the byte-identical pair
    with pytest.raises(DataError, match="gone"):  # 16 x 16 hashes are not stored: read
        audit.find_duplicates(elsewhere, hash_size=16)


def test_rows_without_hashes_are_hashed_from_their_files(planted):
    manifest, _ = planted
    hashed = with_hashes(manifest)
    hashed.loc[hashed.index[::3], ["phash"]] = None  # as in a table joined from two sources
    pd.testing.assert_frame_equal(audit.find_duplicates(hashed), audit.find_duplicates(manifest))


def test_hex_hashes_are_written_as_imagehash_writes_them():
    rng = np.random.default_rng(3)
    for bits in (rng.random((5, 64)) < 0.5, rng.random((5, 256)) < 0.5):
        texts = [audit.hash_to_hex(row) for row in bits]
        side = int(np.sqrt(bits.shape[1]))
        assert texts == [str(imagehash.ImageHash(row.reshape(side, side))) for row in bits]
        np.testing.assert_array_equal(audit.hex_to_hashes(texts, bits.shape[1]), bits)


def test_a_damaged_hash_column_is_named(planted):
    hashed = with_hashes(planted[0].iloc[:3])
    hashed.loc[hashed.index[1], "dhash"] = "not-a-hash"
    with pytest.raises(DataError, match=r"\.jpg: the manifest's dhash 'not-a-hash' is not 16"):
        audit.find_duplicates(hashed)


def test_all_pairs_comparison_matches_a_brute_force_count_across_blocks_and_tiles(monkeypatch):
    rng = np.random.default_rng(7)
    count = 400
    phash, dhash = rng.random((count, 64)) < 0.5, rng.random((count, 64)) < 0.5
    for original, copy in rng.choice(count, size=(40, 2), replace=False):
        for bits, flips in ((phash, rng.integers(0, 11)), (dhash, rng.integers(0, 14))):
            bits[copy] = bits[original]
            bits[copy, rng.choice(64, size=flips, replace=False)] ^= True
    manifest = pd.DataFrame({
        "path": [f"/nowhere/{index:03d}.jpg" for index in range(count)],
        "sha256": [f"{index:064x}" for index in range(count)],
        "phash": [audit.hash_to_hex(row) for row in phash],
        "dhash": [audit.hash_to_hex(row) for row in dhash]})
    monkeypatch.setattr(audit, "BLOCK_ROWS", 16)  # many blocks and tiles, ragged at the end
    monkeypatch.setattr(audit, "COLUMN_TILE", 37)

    duplicates = audit.find_duplicates(manifest, max_distance=10, confirm=False)

    # Reference: every pair counted bit by bit, groups joined by a plain union-find.
    parent = list(range(count))

    def root(index):
        while parent[index] != index:
            index = parent[index]
        return index

    p_distance = (phash[:, None, :] != phash[None, :, :]).sum(axis=-1)
    d_distance = (dhash[:, None, :] != dhash[None, :, :]).sum(axis=-1)
    for i, j in zip(*np.nonzero((p_distance <= 10) & (d_distance <= 10)), strict=True):
        parent[root(i)] = root(j)
    expected = {}
    for index in range(count):
        expected.setdefault(root(index), set()).add(manifest["path"][index])
    expected_groups = sorted((group for group in expected.values() if len(group) > 1), key=min)
    assert 20 < len(expected_groups) < 40  # some planted copies are too far off to count
    assert groups_of(duplicates) == expected_groups

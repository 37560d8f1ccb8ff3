"""Duplicates at scale, in miniature: the indexed near search, the pixel check that keeps
distinct pictures apart, label conflicts and the choice of the copy that stays."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from thesis_lib.data import audit, prepare_dataset, scan_dataset
from thesis_lib.data.prepare import REASON_DUPLICATE, REASON_LABEL_CONFLICT
from thesis_lib.data.synthetic import WebPhotoSpec, make_web_photo_dataset, read_planted

SPEC = WebPhotoSpec(images=240, exact_fraction=0.05, near_fraction=0.1, cross_class=0.4,
                    long_side=(96, 128), classes=("a", "b", "c"), seed=5)


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("web") / "photos"
    planted = make_web_photo_dataset(root, SPEC, workers=1)
    return root, planted


@pytest.fixture(scope="module")
def web_manifest(web) -> pd.DataFrame:
    return scan_dataset(web[0], workers=2, cache=False).manifest


def random_hashes(count: int, copies: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random 64-bit hashes (as bits) with ``copies`` rows copied with 0-12 bits flipped."""
    rng = np.random.default_rng(seed)
    bits = rng.random((count, 64)) < 0.5
    for original, copy in rng.choice(count, size=(copies, 2), replace=False):
        bits[copy] = bits[original]
        bits[copy, rng.choice(64, size=rng.integers(0, 13), replace=False)] ^= True
    return bits, audit.pack_bits(bits)[:, 0]


@pytest.mark.parametrize("max_distance", [3, 10, 11])
def test_the_indexed_near_search_finds_exactly_the_pairs_of_a_full_comparison(max_distance):
    bits, packed = random_hashes(2000, 300, seed=max_distance)
    found = audit._index_pairs(packed, max_distance, workers=2)
    # Reference: every pair, by the differing bits of the whole hashes.
    distance = np.bitwise_count(packed[:, None] ^ packed[None, :])
    rows, columns = np.nonzero(np.triu(distance <= max_distance, k=1))
    expected = np.stack([rows, columns], axis=1)
    assert len(expected) > 50  # planted copies within reach
    np.testing.assert_array_equal(found, expected)


def test_the_index_is_used_for_large_tables_and_gives_the_same_groups(monkeypatch):
    bits, _ = random_hashes(600, 80, seed=1)
    manifest = pd.DataFrame({
        "path": [f"/nowhere/{index:03d}.jpg" for index in range(600)],
        "sha256": [f"{index:064x}" for index in range(600)],
        "phash": [audit.hash_to_hex(row) for row in bits],
        "dhash": [audit.hash_to_hex(row) for row in bits]})
    full = audit.find_duplicates(manifest, confirm=False)
    used = []
    index_pairs = audit._index_pairs
    monkeypatch.setattr(audit, "_index_pairs",
                        lambda *args: used.append(1) or index_pairs(*args))
    monkeypatch.setattr(audit, "INDEX_MIN_ROWS", 100)
    indexed = audit.find_duplicates(manifest, confirm=False)
    assert used and len(full["group"].unique()) > 40
    pd.testing.assert_frame_equal(indexed, full)


def test_every_planted_copy_is_found_and_nothing_else(web, web_manifest):
    root, planted = web
    duplicates = audit.find_duplicates(web_manifest, workers=2)
    found = sorted(sorted(group["path"].map(lambda p: Path(p).relative_to(root).as_posix()))
                   for _, group in duplicates.groupby("group"))
    expected = sorted(sorted([row.copy, row.original]) for row in planted.itertuples())
    assert found == expected


def test_distinct_pictures_with_colliding_hashes_are_not_merged(web_manifest):
    manifest = web_manifest.iloc[:40].copy()
    # Give ten distinct pictures the pHash and dHash of another, 2 bits off: to the hashes
    # they are copies (as 64-bit hashes of 100,000 distinct photos sometimes are).
    bits_p = audit.hex_to_hashes(manifest["phash"].tolist(), 64)
    bits_d = audit.hex_to_hashes(manifest["dhash"].tolist(), 64)
    for row in range(0, 20, 2):
        for bits in (bits_p, bits_d):
            bits[row + 1] = bits[row]
            bits[row + 1, [3, 40]] ^= True
    manifest["phash"] = [audit.hash_to_hex(row) for row in bits_p]
    manifest["dhash"] = [audit.hash_to_hex(row) for row in bits_d]
    pairs = [manifest["path"].iloc[[row, row + 1]].tolist() for row in range(0, 20, 2)]
    by_hashes = audit.find_duplicates(manifest, confirm=False)
    assert all(in_one_group(pair, by_hashes) for pair in pairs)  # the hashes alone merge them
    confirmed = audit.find_duplicates(manifest)
    assert not any(in_one_group(pair, confirmed) for pair in pairs)


def in_one_group(pair: list[str], duplicates: pd.DataFrame) -> bool:
    groups = duplicates.set_index("path")["group"]
    return all(path in groups.index for path in pair) and groups[pair[0]] == groups[pair[1]]


def test_thumbnails_agree_for_copies_only():
    rng = np.random.default_rng(0)

    def thumb(pixels, size=(400, 300)):
        return np.concatenate([pixels, np.array(size, dtype=np.float32)])

    pixels = rng.uniform(0, 255, 1024).astype(np.float32)
    picture = thumb(pixels)
    noisy = np.clip(pixels + rng.normal(0, 2, 1024), 0, 255)
    assert audit.thumbnails_agree(picture, thumb(noisy, (200, 150)))  # half size
    assert audit.thumbnails_agree(picture, thumb(noisy, (267, 200)))  # 2/3, rounded
    assert not audit.thumbnails_agree(picture, thumb(noisy, (300, 400)))  # another shape
    assert not audit.thumbnails_agree(picture, thumb(rng.uniform(0, 255, 1024)))
    assert not audit.thumbnails_agree(picture, thumb(pixels + 4))  # other brightness: 4 levels
    flat = np.full(1024, 80.0, dtype=np.float32)
    assert audit.thumbnails_agree(thumb(flat), thumb(flat + 1))
    assert not audit.thumbnails_agree(thumb(flat), picture)


def test_label_conflicts_are_reported_and_dropped_and_the_original_stays(web, tmp_path):
    root, planted = web
    prepared = prepare_dataset(root, scheme="folders", deduplicate=True, workers=2)
    label_of = {relpath: relpath.split("/")[0] for relpath in planted["copy"]}
    label_of.update({relpath: relpath.split("/")[0] for relpath in planted["original"]})
    conflicting = planted[[label_of[c] != label_of[o]
                           for c, o in zip(planted["copy"], planted["original"], strict=True)]]
    assert len(conflicting) == planted["cross_class"].sum() > 3
    conflicts = prepared.conflicts
    assert sorted(conflicts["relpath"]) == sorted([*conflicting["copy"],
                                                   *conflicting["original"]])
    skipped = prepared.skipped.assign(
        relpath=prepared.skipped["path"].map(lambda p: Path(p).relative_to(root).as_posix()))
    dropped_for_conflict = set(skipped.loc[skipped["reason"] == REASON_LABEL_CONFLICT, "relpath"])
    assert dropped_for_conflict == set(conflicts["relpath"])
    counts = prepared.duplicate_counts()
    assert counts == {"groups": len(planted), "copies_dropped": len(planted) - len(conflicting),
                      "conflict_groups": len(conflicting),
                      "conflict_images_dropped": 2 * len(conflicting)}
    # In the other groups the original stays: larger, or the same size and less compressed;
    # a byte copy is the same file, so the first path stays.
    agreeing = planted.drop(conflicting.index)
    dropped = set(skipped.loc[skipped["reason"] == REASON_DUPLICATE, "relpath"])
    for row in agreeing.itertuples():
        if row.kind == "exact":
            assert dropped & {row.copy, row.original} == {max(row.copy, row.original)}
        else:
            assert row.copy in dropped and row.original not in dropped
    assert set(prepared.manifest["relpath"]).isdisjoint(dropped | dropped_for_conflict)

    kept = prepare_dataset(root, scheme="folders", deduplicate=True, workers=2,
                           label_conflicts="keep")
    assert (kept.skipped["reason"] != REASON_LABEL_CONFLICT).all()
    assert len(kept.manifest) == len(prepared.manifest) + len(conflicting)
    assert kept.duplicate_counts()["conflict_groups"] == len(conflicting)


def test_the_dataset_is_what_its_marker_says(web, web_manifest):
    root, planted = web
    pd.testing.assert_frame_equal(read_planted(root, SPEC), planted)
    assert read_planted(root, WebPhotoSpec(images=241)) is None
    relpaths = {path.relative_to(root).as_posix() for path in root.rglob("*.jpg")}
    assert len(relpaths) == SPEC.images
    assert set(planted["copy"]) | set(planted["original"]) <= relpaths
    exact = planted[planted["kind"] == "exact"].iloc[0]
    assert (root / exact["copy"]).read_bytes() == (root / exact["original"]).read_bytes()
    assert web_manifest["width"].max() <= 128 and len(web_manifest) == SPEC.images


def test_a_dataset_is_audited_once_for_every_seed_until_it_changes(web, tmp_path, monkeypatch):
    root, _ = web
    copy = tmp_path / "photos"
    shutil.copytree(root, copy)
    first = prepare_dataset(copy, scheme="folders", deduplicate=True, workers=2, seed=0)
    audits = []
    find_duplicates = audit.find_duplicates
    monkeypatch.setattr(audit, "find_duplicates",
                        lambda *args, **kwargs: audits.append(1) or find_duplicates(*args,
                                                                                     **kwargs))
    second = prepare_dataset(copy, scheme="folders", deduplicate=True, workers=2, seed=1)
    assert audits == []  # the table of the first call, by the manifest's fingerprint
    pd.testing.assert_frame_equal(second.duplicates, first.duplicates)
    assert not second.manifest["split"].equals(first.manifest["split"])  # the seed still counts
    # Another picture under a name of the planted answer: the fingerprint changes, and the
    # audit runs again.
    victim = copy / first.duplicates["relpath"].iloc[0]
    victim.write_bytes((copy / first.manifest["relpath"].iloc[0]).read_bytes())
    third = prepare_dataset(copy, scheme="folders", deduplicate=True, workers=2, seed=1)
    assert audits == [1]
    assert len(third.duplicates) != len(first.duplicates) or \
        not third.duplicates.equals(first.duplicates)

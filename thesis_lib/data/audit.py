"""Duplicate and near-duplicate images, and the leakage they cause between splits.

Web-scraped datasets hold byte-identical copies, re-encoded JPEGs and resized versions of the
same picture; a copy in train and another in test inflates the test accuracy. Exact duplicates
share the SHA-256 of their bytes; near duplicates have perceptual hashes (``imagehash``'s pHash
and dHash of the grey decode) that differ in at most ``max_distance`` bits, for *both* hashes:
pHash alone survives re-encoding and resizing, also requiring dHash keeps smooth, similar but
different images apart. Pairs are joined into groups (connected components).

The data scan stores the hashes in the manifest (``sha256``, ``phash``, ``dhash``), so auditing
a scanned dataset decodes nothing; other tables are hashed here, in threads.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import imagehash
import numpy as np
import pandas as pd
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from thesis_lib.data.images import decode_image, read_bytes
from thesis_lib.data.progress import progress_bar
from thesis_lib.errors import ConfigError, DataError

DUPLICATE_COLUMNS = ["group", "path", "kind", "split", "distance"]
KEEP_CHOICES = ("first", "train", "none")
# Rows of the hash table compared with all later rows by one task, in tiles of COLUMN_TILE
# columns: the temporaries (128 x 4096 x 8 bytes, 4 MB) stay in the CPU cache, which makes the
# comparison of all pairs 1.5 times faster than whole rows of 60,000 columns at once.
BLOCK_ROWS = 128
COLUMN_TILE = 4096
# Near search of 64-bit hashes by multi-index hashing (``_index_pairs``): 4 chunks of 16 bits,
# used from INDEX_MIN_ROWS distinct files (below, comparing all pairs is as fast) and while the
# per-chunk radius max_distance // 4 is at most INDEX_MAX_RADIUS (2: 137 lookups per chunk);
# queries go in blocks of INDEX_BLOCK_ROWS rows, which bounds the memory of the candidates.
INDEX_CHUNKS = 4
INDEX_CHUNK_BITS = 16
INDEX_MIN_ROWS = 4096
INDEX_MAX_RADIUS = 2
INDEX_BLOCK_ROWS = 4096
# The pixel check of near pairs (``confirm_pairs``): the same aspect ratio (within 2 %), and
# grey thumbnails of 32 x 32 pixels whose levels (0-255) differ by at most 3 on average and
# correlate by 0.9 or more. Measured on generated web photos: resized (50-80 %) and re-encoded
# (quality 30-50) copies differ by at most 0.7 levels and correlate by 0.997 or more; the 300
# most similar distinct pictures by pHash of 2,000 (4-14 bits apart) differ by 10.7 levels or
# more and correlate by 0.93 at most; at 61,074 two distinct pairs came within 4.1 and 5.1
# levels (mostly flat sky over dark ground), both of another aspect ratio.
THUMBNAIL_SIDE = 32
DHASH_SCREEN_FACTOR = 2
MAX_THUMBNAIL_DIFFERENCE = 3.0
MIN_THUMBNAIL_CORRELATION = 0.9
ASPECT_TOLERANCE = 0.02
# The side of the perceptual hashes the data scan stores (64 bits each).
SCAN_HASH_SIZE = 8
# The manifest columns with the scan's hashes (lower-case hex strings).
HASH_COLUMNS = ("sha256", "phash", "dhash")


def find_duplicates(
    manifest: pd.DataFrame,
    *,
    near: bool = True,
    hash_size: int = SCAN_HASH_SIZE,
    max_distance: int | None = None,
    workers: int | None = None,
    progress: bool | None = False,
    confirm: bool = True,
) -> pd.DataFrame:
    """Groups of files with the same bytes or (near=True) the same picture.

    Args:
        manifest: one row per image with a ``path`` column, optionally ``split`` and the scan's
            hash columns ``sha256``, ``phash``, ``dhash``: rows that have them are not read
            again (with hash_size 8, the size the scan stores).
        near: also find re-encoded, resized or slightly edited copies; False compares the
            file bytes only.
        hash_size: side of the perceptual hashes; each has ``hash_size**2`` bits.
        max_distance: the most bits in which both hashes of two copies may differ; default
            15 % of the bits (10 of 64). Re-encoded (JPEG quality 30-50) and resized (1/4 to
            2/3) copies of demo images differ in at most 9 bits; distinct demo images in 14+.
        workers: threads reading and hashing files (default: the number of CPUs).
        progress: show a progress line while hashing or confirming (True, False, or None:
            on a terminal, for many files).
        confirm: confirm every near pair by its pixels (``confirm_pairs``: small grey
            thumbnails of both files must agree) instead of by the dHash: files whose pHash is
            within ``max_distance`` are one picture only if their thumbnails agree. This reads
            the files of the candidate pairs again (a few per cent of a scraped dataset).
            False keeps the hash-only rule (pHash and dHash within ``max_distance``), which
            needs no file when the manifest carries the hashes.

    Returns:
        Columns group (0, 1, ... in order of each group's first path), path, kind ("exact"
        when another file in the group has the same bytes, else "near"), split (None without
        a split column) and distance (pHash bits differing from the group's first path; 0 when
        near=False). Only files that have a duplicate appear, sorted by group and path.

    Raises:
        DataError: a missing ``path`` column, a path listed twice, a hash column holding
            something else than hashes, or a file that cannot be read (or decoded).
    """
    frame = _validated_manifest(manifest)
    if max_distance is None:
        max_distance = round(0.15 * hash_size**2)
    if hash_size < 2 or max_distance < 0:
        raise ConfigError(f"hash_size must be >= 2 and max_distance >= 0, got {hash_size}, "
                          f"{max_distance}")
    if frame.empty:
        return _groups_table(frame, np.array([]), np.empty((0, 2), dtype=np.int64), None)
    digests, phashes, dhashes = _manifest_hashes(manifest, frame, near, hash_size)
    missing = np.flatnonzero(digests == "")
    if len(missing):
        fingerprints = _fingerprints(frame["path"].iloc[missing].tolist(), near, hash_size,
                                     workers, progress)
        for row, (digest, phash, dhash) in zip(missing, fingerprints, strict=True):
            digests[row] = digest
            if near:
                phashes[row], dhashes[row] = phash, dhash
    digests = digests.astype(str)
    edges = [_exact_edges(digests)]
    if near:
        # With the pixel check, the dHash only screens out pairs far apart (at twice the
        # distance: resizing moves a dHash more than a pHash), which saves their decoding.
        pairs = _near_edges(phashes, dhashes, digests, max_distance, workers,
                            d_limit=DHASH_SCREEN_FACTOR * max_distance if confirm else None)
        if confirm:
            paths = frame["path"].to_numpy()
            pairs = pairs[confirm_pairs(paths[pairs[:, 0]], paths[pairs[:, 1]],
                                        workers=workers, progress=progress)]
        edges.append(pairs)
    return _groups_table(frame, digests, np.concatenate(edges), phashes)


def drop_duplicates(
    manifest: pd.DataFrame, duplicates: pd.DataFrame, *, keep: str = "first"
) -> pd.DataFrame:
    """The manifest rows (original order and index) left after dropping redundant copies.

    Args:
        manifest: the manifest that was audited (column ``path``).
        duplicates: the table returned by ``find_duplicates``.
        keep: which file of each group stays: "first" (first by sorted path), "train" (a file
            of the train split if the group has one, then first by path: removes leakage from
            val/test), or "none" (drop every file of every group).
    """
    if keep not in KEEP_CHOICES:
        raise ConfigError(f"keep must be one of {list(KEEP_CHOICES)}, got {keep!r}")
    frame = _validated_manifest(manifest)
    _check_duplicates_table(duplicates)
    if duplicates.empty:
        return manifest.copy()
    members = duplicates.assign(not_train=duplicates["split"].ne("train"))
    if keep == "none":
        kept = set()
    else:
        order = ["group", "not_train", "path"] if keep == "train" else ["group", "path"]
        kept = set(members.sort_values(order).groupby("group")["path"].first())
    dropped = set(members["path"]) - kept
    return manifest[~frame["path"].isin(dropped).to_numpy()].copy()


def leakage_report(duplicates: pd.DataFrame) -> pd.DataFrame:
    """The rows of the duplicate groups whose files lie in more than one split, sorted by
    group, split and path.

    Args:
        duplicates: the table returned by ``find_duplicates`` on a manifest with ``split``.
    """
    _check_duplicates_table(duplicates)
    splits_per_group = duplicates.groupby("group")["split"].nunique(dropna=True)
    leaking = splits_per_group.index[splits_per_group > 1]
    report = duplicates[duplicates["group"].isin(leaking)]
    return report.sort_values(["group", "split", "path"]).reset_index(drop=True)


def hamming_distances(rows: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Differing bits (int32, N x M) between the packed hashes ``rows`` (uint64, N x W words)
    and ``others`` (M x W)."""
    distances = np.zeros((rows.shape[0], others.shape[0]), dtype=np.int32)
    for word in range(rows.shape[1]):  # one 64-bit word at a time keeps the temporaries 2-D
        distances += np.bitwise_count(np.bitwise_xor.outer(rows[:, word], others[:, word]))
    return distances


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Boolean hash bits (N, B) packed into uint64 words (N, ceil(B / 64))."""
    packed = np.packbits(bits.astype(bool), axis=1)
    padding = -packed.shape[1] % 8
    packed = np.pad(packed, ((0, 0), (0, padding)))
    return np.ascontiguousarray(packed).view(np.uint64)


def _check_duplicates_table(duplicates: pd.DataFrame) -> None:
    missing = set(DUPLICATE_COLUMNS) - set(duplicates.columns)
    if missing:
        raise DataError(f"not a find_duplicates table: it lacks the columns {sorted(missing)}")


def _validated_manifest(manifest: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(manifest, pd.DataFrame) or "path" not in manifest.columns:
        raise DataError("the manifest must be a table with a 'path' column")
    frame = pd.DataFrame({"path": manifest["path"].astype(str).to_numpy()})
    frame["split"] = manifest["split"].to_numpy() if "split" in manifest.columns else None
    repeated = frame["path"][frame["path"].duplicated()]
    if not repeated.empty:
        raise DataError(f"{repeated.iloc[0]}: listed more than once in the manifest")
    return frame


def perceptual_hashes(image: Image.Image, hash_size: int = SCAN_HASH_SIZE
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The pHash and dHash bits (two boolean arrays of ``hash_size**2`` bits, in imagehash's
    order) of an upright grey image (``decode_image(grey=True)``; RGB is converted)."""
    grey = image.convert("L")
    # Shrink once to pHash's working size (4 x hash_size, as imagehash does), first by a fast
    # integer box reduction (reducing_gap), then Lanczos: several times faster than letting
    # each hash resize the full image, and as robust to re-encoding and resizing.
    side = 4 * hash_size
    if min(grey.size) > side:
        grey = grey.resize((side, side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    phash = imagehash.phash(grey, hash_size=hash_size).hash.ravel()
    dhash = imagehash.dhash(grey, hash_size=hash_size).hash.ravel()
    return phash, dhash


def hash_to_hex(bits: np.ndarray) -> str:
    """Hash bits as ``str(imagehash.ImageHash)`` writes them (hex, most significant first)."""
    return str(imagehash.ImageHash(np.asarray(bits, dtype=bool).reshape(1, -1)))


def hex_to_hashes(values: Sequence[str], bits: int) -> np.ndarray:
    """Hex strings written by ``hash_to_hex`` back to their bits, shape (len(values), bits);
    ValueError for a value that is not hex."""
    width = 2 * ((bits + 7) // 8)  # whole bytes
    data = bytes.fromhex("".join(value.rjust(width, "0") for value in values))
    packed = np.frombuffer(data, dtype=np.uint8).reshape(len(values), width // 2)
    return np.unpackbits(packed, axis=1)[:, 8 * (width // 2) - bits:].astype(bool)


def fingerprint_bytes(
    data: bytes, *, name: str, near: bool = True, hash_size: int = SCAN_HASH_SIZE
) -> tuple[str, np.ndarray | None, np.ndarray | None]:
    """(SHA-256 hex digest, pHash bits, dHash bits) of file contents; hashes None when not
    near. DataError when near and the file cannot be decoded."""
    digest = hashlib.sha256(data).hexdigest()
    if not near:
        return digest, None, None
    phash, dhash = perceptual_hashes(decode_image(data, name=name, grey=True)[0], hash_size)
    return digest, phash, dhash


def _manifest_hashes(manifest: pd.DataFrame, frame: pd.DataFrame, near: bool, hash_size: int):
    """The SHA-256 digests ("" where the manifest has none) and, with near, the pHash and
    dHash bits (False there) that the manifest carries; DataError for a malformed hash."""
    count = len(frame)
    bits = hash_size**2
    digests = np.full(count, "", dtype=object)
    phashes = np.zeros((count, bits), dtype=bool) if near else None
    dhashes = np.zeros((count, bits), dtype=bool) if near else None
    needed = list(HASH_COLUMNS) if near else ["sha256"]
    if (near and hash_size != SCAN_HASH_SIZE) or not set(needed) <= set(manifest.columns):
        return digests, phashes, dhashes
    values = {column: manifest[column].reset_index(drop=True) for column in needed}
    present = np.logical_and.reduce([
        column.map(lambda value: isinstance(value, str) and value != "").to_numpy(dtype=bool)
        for column in values.values()])
    for name, column in values.items():
        digits = 64 if name == "sha256" else (bits + 3) // 4
        valid = column[present].str.fullmatch(f"[0-9a-f]{{{digits}}}")
        if not valid.all():
            row = valid.index[~valid.to_numpy(dtype=bool)][0]
            raise DataError(f"{frame['path'].iloc[row]}: the manifest's {name} "
                            f"'{column.iloc[row]}' is not {digits} lower-case hex digits")
    digests[present] = values["sha256"][present].to_numpy()
    if near:
        phashes[present] = hex_to_hashes(values["phash"][present].tolist(), bits)
        dhashes[present] = hex_to_hashes(values["dhash"][present].tolist(), bits)
    return digests, phashes, dhashes


def _fingerprints(paths, near, hash_size, workers, progress):
    """(sha256, pHash bits, dHash bits) of every file, in order; hashes None when near=False."""

    def fingerprint(path):
        return fingerprint_bytes(read_bytes(path), name=path, near=near, hash_size=hash_size)

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as executor, \
            progress_bar(len(paths), "hashing", progress) as bar:
        results = []
        for result in executor.map(fingerprint, paths):
            results.append(result)
            bar.update(1)
        return results


def _exact_edges(digests: np.ndarray) -> np.ndarray:
    """Pairs (i, j) linking each file to the first file with the same bytes."""
    _, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
    others = np.flatnonzero(first[inverse] != np.arange(len(digests)))
    return np.stack([first[inverse][others], others], axis=1)


def _near_edges(phashes, dhashes, digests, max_distance, workers=None, d_limit=None
                ) -> np.ndarray:
    """Pairs (i, j), i < j, whose pHash differs in at most max_distance bits and dHash in at
    most ``d_limit`` (default: max_distance).

    Byte-identical files are compared once (the first of each), which keeps datasets with many
    exact copies fast; the exact edges join the other copies.
    """
    _, unique_rows = np.unique(digests, return_index=True)
    unique_rows = np.sort(unique_rows)
    packed_p = pack_bits(phashes[unique_rows])
    use_index = packed_p.shape[1] == 1 and len(unique_rows) >= INDEX_MIN_ROWS \
        and max_distance // INDEX_CHUNKS <= INDEX_MAX_RADIUS
    if use_index:
        candidates = _index_pairs(packed_p[:, 0], max_distance, workers)
    else:
        candidates = _all_pairs(packed_p, max_distance, workers)
    # dHash is checked only for the few pHash candidates.
    packed_d = pack_bits(dhashes[unique_rows])
    d_distance = np.bitwise_count(packed_d[candidates[:, 0]] ^ packed_d[candidates[:, 1]])
    close = d_distance.sum(axis=-1) <= (max_distance if d_limit is None else d_limit)
    return unique_rows[candidates[close]]


def thumbnail(path: str) -> np.ndarray:
    """The upright grey picture of a file shrunk to THUMBNAIL_SIDE squared pixels (float32,
    grey levels 0-255, flattened), followed by its upright width and height; DataError naming
    a file that cannot be read."""
    grey = decode_image(read_bytes(path), name=str(path), grey=True)[0]
    small = grey.resize((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS,
                        reducing_gap=2.0)
    return np.concatenate([np.asarray(small, dtype=np.float32).ravel(),
                           np.array(grey.size, dtype=np.float32)])


def same_shape(first: tuple[float, float], second: tuple[float, float]) -> bool:
    """Whether two (width, height) have one aspect ratio, up to ASPECT_TOLERANCE and the
    rounding of a resize to whole pixels."""
    (w1, h1), (w2, h2) = first, second
    ratio1, ratio2 = w1 / h1, w2 / h2
    rounding = 1.0 / min(w1, h1, w2, h2)
    return abs(ratio1 - ratio2) <= (ASPECT_TOLERANCE + rounding) * max(ratio1, ratio2)


def thumbnails_agree(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether two ``thumbnail`` results show one picture: the same aspect ratio
    (``same_shape``), grey levels that differ by at most MAX_THUMBNAIL_DIFFERENCE on average,
    and a correlation of at least MIN_THUMBNAIL_CORRELATION.

    (Two flat thumbnails, which have no correlation, agree by the difference alone.)
    """
    if not same_shape(tuple(first[-2:]), tuple(second[-2:])):
        return False
    first, second = first[:-2], second[:-2]
    if np.abs(first - second).mean() > MAX_THUMBNAIL_DIFFERENCE:
        return False
    a, b = first - first.mean(), second - second.mean()
    norms = float(np.sqrt((a @ a) * (b @ b)))
    if norms < 1e-6:
        return bool(np.sqrt(a @ a) < 1e-3 and np.sqrt(b @ b) < 1e-3)
    return float(a @ b) / norms >= MIN_THUMBNAIL_CORRELATION


def confirm_pairs(first: Sequence[str], second: Sequence[str], *, workers: int | None = None,
                  progress: bool | None = False) -> np.ndarray:
    """Which candidate pairs of files show one picture by their pixels (``thumbnails_agree``).

    The check is independent of the perceptual hashes that proposed the pairs: a hash keeps
    64 bits of a picture, so among 100,000 distinct web photos some share nearly all of
    them; their pixels still differ. Each file is decoded once, in threads.

    Args:
        first, second: The paths of each pair.
        workers: Threads decoding files (default: the number of CPUs).
        progress: As for ``find_duplicates``.

    Returns:
        A boolean array, one entry per pair.
    """
    files = sorted(set(first) | set(second))
    if not files:
        return np.zeros(len(first), dtype=bool)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as executor, \
            progress_bar(len(files), "confirming near copies", progress) as bar:
        thumbs = {}
        for path, thumb in zip(files, executor.map(thumbnail, files), strict=True):
            thumbs[path] = thumb
            bar.update(1)
    return np.array([thumbnails_agree(thumbs[a], thumbs[b])
                     for a, b in zip(first, second, strict=True)], dtype=bool)


def _all_pairs(packed_p: np.ndarray, max_distance: int, workers: int | None) -> np.ndarray:
    """Pairs (i, j), i < j, of pHashes within ``max_distance``, by comparing all pairs."""
    count = len(packed_p)

    def close_pairs(start: int) -> np.ndarray:
        # Compare a block of rows with itself and every later row only (upper triangle).
        stop = min(start + BLOCK_ROWS, count)
        found = []
        for first in range(start, count, COLUMN_TILE):
            distances = hamming_distances(packed_p[start:stop],
                                          packed_p[first:first + COLUMN_TILE])
            rows, columns = np.nonzero(distances <= max_distance)
            rows, columns = rows + start, columns + first
            later = columns > rows
            found.append(np.stack([rows[later], columns[later]], axis=1))
        return np.concatenate(found)

    # numpy releases the GIL in these loops, so blocks run in parallel threads.
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as executor:
        pairs = list(executor.map(close_pairs, range(0, count, BLOCK_ROWS)))
    return np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)


def _index_pairs(hashes: np.ndarray, max_distance: int, workers: int | None) -> np.ndarray:
    """The pairs of ``_all_pairs`` for 64-bit hashes, by multi-index hashing.

    Pigeonhole: split the 64 bits into ``INDEX_CHUNKS`` chunks of 16; two hashes within
    ``max_distance`` bits agree within ``r = max_distance // INDEX_CHUNKS`` bits on at least
    one chunk. So for every chunk, each hash looks up the hashes whose chunk differs from its
    own in at most r bits (one bucket per such chunk value), and only those candidates are
    compared in full. Nothing is missed; the pairs compared fall from all N^2 / 2 to about
    N^2 / 2 x 4 x (number of chunk values within r) / 65536 for evenly spread hashes.

    Args:
        hashes: One 64-bit hash per row (uint64).
        max_distance: Most differing bits of a pair.
        workers: Threads (one chunk each at a time).
    """
    radius = max_distance // INDEX_CHUNKS
    values = np.arange(1 << INDEX_CHUNK_BITS, dtype=np.int64)
    flips = values[np.bitwise_count(values) <= radius]

    def chunk_pairs(chunk: int) -> np.ndarray:
        keys = ((hashes >> np.uint64(INDEX_CHUNK_BITS * chunk)) &
                np.uint64((1 << INDEX_CHUNK_BITS) - 1)).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        starts = np.zeros((1 << INDEX_CHUNK_BITS) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys, minlength=1 << INDEX_CHUNK_BITS), out=starts[1:])
        found = []
        for block in range(0, len(hashes), INDEX_BLOCK_ROWS):
            rows = np.arange(block, min(block + INDEX_BLOCK_ROWS, len(hashes)))
            # Every row with every chunk value within the radius of its own, flattened.
            wanted = (keys[rows, None] ^ flips[None, :]).ravel()
            first = starts[wanted]
            counts = starts[wanted + 1] - first
            total = int(counts.sum())
            if total == 0:
                continue
            # Each (row, value) paired with every member of that value's bucket.
            query = np.repeat(np.repeat(rows, len(flips)), counts)
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            other = order[np.repeat(first, counts) + offsets]
            later = other > query
            query, other = query[later], other[later]
            close = np.bitwise_count(hashes[query] ^ hashes[other]) <= max_distance
            found.append(query[close] * len(hashes) + other[close])
        return np.concatenate(found) if found else np.empty(0, dtype=np.int64)

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as executor:
        codes = np.unique(np.concatenate(list(executor.map(chunk_pairs,
                                                           range(INDEX_CHUNKS)))))
    return np.stack([codes // len(hashes), codes % len(hashes)], axis=1)


def _groups_table(frame, digests, edges, phashes) -> pd.DataFrame:
    count = len(frame)
    if count == 0 or len(edges) == 0:
        return pd.DataFrame({column: [] for column in DUPLICATE_COLUMNS}).astype(
            {"group": int, "distance": int, "kind": object, "path": object, "split": object})
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count))
    _, component = connected_components(graph, directed=False)
    table = frame.assign(component=component, digest=digests)
    sizes = table["component"].map(table["component"].value_counts())
    table = table[sizes > 1].sort_values("path")
    # Number the groups in order of their first path, so the table is the same on any machine.
    first_paths = table.groupby("component")["path"].first().sort_values()
    table["group"] = table["component"].map(
        pd.Series(np.arange(len(first_paths)), index=first_paths.index))
    copies = table.groupby("digest")["path"].transform("size")
    table["kind"] = np.where(copies > 1, "exact", "near")
    table["distance"] = 0
    if phashes is not None:
        reference = table.groupby("group")["path"].transform("first")
        index_of = pd.Series(np.arange(count), index=frame["path"])
        own = phashes[index_of[table["path"]].to_numpy()]
        first = phashes[index_of[reference].to_numpy()]
        table["distance"] = (own != first).sum(axis=1)
    table = table.sort_values(["group", "path"]).reset_index(drop=True)
    return table[DUPLICATE_COLUMNS]

"""The tf.data input pipeline: files -> batches of 0..255 RGB images and one-hot labels.

Order of the steps, and why:

1. read and decode each file in parallel: "tf" rows with TensorFlow's decoders
   (``images.tf_decode``: JPEGs with the accurate IDCT, pixel-identical to PIL), "pil" rows
   (CMYK, alpha, 16-bit, EXIF-rotated... as marked by the scan) through ``images.load_image``;
2. resize to ``image_size`` ("squash", "crop" or "pad") and keep ``uint8``;
3. optionally cache those small decoded images in memory or on disk, so that later epochs skip
   reading and decoding the JPEGs (the most expensive step);
4. training only: shuffle (seeded), batch, RandAugment on the uint8 batch (each image its own
   operations); then ``float32`` images and one-hot labels; evaluation keeps the file order;
5. prefetch.

Broken files: the data scan (``thesis data scan`` / ``prepare_dataset``) decodes every file
once and drops the ones that fail, so a prepared dataset holds only readable images. Here,
missing files are reported before anything starts, and a file that is not an image at all
(empty, or no JPEG/PNG/GIF/BMP signature) stops the pipeline with an error naming it. Errors
are never skipped silently (no ``ignore_errors``): a silently shrinking dataset is worse.

Reproducibility: with ``deterministic=True`` and a ``seed``, two runs give identical batches,
epoch after epoch: tf.data keeps the element order, the shuffles are seeded, and RandAugment
draws from stateless random ops keyed by a seeded per-batch random stream.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from thesis_lib.data.augment import RandAugment
from thesis_lib.data.images import load_image, tf_decode
from thesis_lib.errors import ConfigError, DataError

RESIZE_MODES = ("squash", "crop", "pad")
DECODERS = ("tf", "pil")
# Extensions TensorFlow's decoders read; anything else goes through PIL by default.
TF_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif"})
# Memory the training shuffle buffer of decoded images may take (it holds uint8 images).
SHUFFLE_BUFFER_BYTES = 256 * 2**20
# Image file signatures TensorFlow can decode: JPEG, PNG, GIF, BMP.
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")


def class_weights(label_indices: Sequence[int], num_classes: int) -> dict[int, float]:
    """Per-class loss weights ``n_samples / (num_classes * n_in_class)`` (sklearn "balanced").

    A class absent from ``label_indices`` gets weight 1.0 (it never contributes to the loss).
    """
    labels = np.asarray(label_indices, dtype=int)
    _check_labels(labels, num_classes)
    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    result = {index: 1.0 for index in range(num_classes)}
    result.update(
        {int(index): float(weight) for index, weight in zip(present, weights, strict=True)}
    )
    return result


def default_decoder(path: str | os.PathLike) -> str:
    """ "tf" for the extensions TensorFlow decodes (.jpg .jpeg .png .bmp .gif), else "pil"."""
    return "tf" if Path(path).suffix.lower() in TF_EXTENSIONS else "pil"


def make_dataset(
    paths: Sequence[str | os.PathLike],
    label_indices: Sequence[int],
    *,
    num_classes: int,
    image_size: int = 256,
    batch_size: int = 32,
    training: bool = False,
    augment: bool | None = None,
    randaugment_ops: int = 3,
    randaugment_magnitude: float = 7,
    resize: str = "squash",
    cache: str | os.PathLike | None = None,
    seed: int | None = None,
    deterministic: bool = False,
    balanced: bool = False,
    decoders: Sequence[str] | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of (images, one-hot labels) batches; one pass is one epoch.

    Args:
        paths: image files, one per example.
        label_indices: class index of each file, in 0..num_classes-1.
        num_classes: width of the one-hot labels.
        image_size: side of the square output images.
        batch_size: images per batch; the last batch may be smaller.
        training: shuffle every epoch (and augment, unless ``augment`` says otherwise).
            Without it the batches follow the order of ``paths``.
        augment: apply RandAugment; defaults to ``training``.
        randaugment_ops: RandAugment's N (operations per image).
        randaugment_magnitude: RandAugment's M on the 0..10 scale.
        resize: "squash" (plain resize, aspect ratio not kept), "crop" (shorter side to
            ``image_size``, then centre crop) or "pad" (longer side to ``image_size``, then
            black borders).
        cache: None; "memory" to keep the decoded, resized images in RAM after the first
            epoch; or a folder for an on-disk cache (a file per set of images and settings, so
            caches of different datasets or sizes never mix). Only the first epoch then reads
            the image files.
        seed: seed of the shuffles, of balanced sampling and of RandAugment.
        deterministic: identical batches on every run with the same seed (needs ``seed``);
            otherwise tf.data may reorder training elements for speed.
        balanced: sample the classes equally: every class is repeated (reshuffled) until it
            has as many examples as the largest one, so an epoch has
            ``num_classes_present * largest_class`` examples and every example of the largest
            class once. Only with ``training``.
        decoders: "tf" or "pil" per path (the ``decoder`` column of a scanned manifest);
            ``None`` picks by file extension (``default_decoder``).

    Returns:
        Batches of ``float32`` images (B, image_size, image_size, 3), RGB, 0..255, and
        ``float32`` one-hot labels (B, num_classes).
    """
    paths = [str(path) for path in paths]
    labels = np.asarray(label_indices, dtype=np.int64)
    decoders = _check_decoders(paths, decoders)
    _check_options(paths, labels, num_classes, image_size, batch_size, resize, seed)
    if deterministic and seed is None:
        raise ConfigError("deterministic=True needs a seed (e.g. seed=0)")
    if balanced and not training:
        raise ConfigError("balanced=True samples training data; it needs training=True")
    _check_files_exist(paths)
    augment = training if augment is None else augment
    # Evaluation batches always follow the order of ``paths`` (predictions are matched to files).
    ordered = deterministic or not training
    randaugment = RandAugment(randaugment_ops, randaugment_magnitude) if augment else None
    use_pil = np.asarray([decoder == "pil" for decoder in decoders])

    def load(path, label, pil):
        return _load_image(path, pil, image_size, resize), label

    def decoded(indices: np.ndarray, cache_name: str) -> tf.data.Dataset:
        """Decoded, resized uint8 images of ``indices`` (in that order), cached if asked."""
        examples = tf.data.Dataset.from_tensor_slices(
            (np.asarray(paths)[indices], labels[indices], use_pil[indices])
        )
        images = examples.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=ordered)
        return _cache(images, cache, cache_name)

    key = _cache_key(paths, labels, decoders, image_size, resize)
    order = np.arange(len(paths))
    if training:
        # A fixed seeded permutation first, so that a cache (read in its stored order) and
        # the bounded shuffle buffer after it never see the files sorted by class.
        order = np.random.default_rng(seed).permutation(len(paths))
    if balanced:
        dataset = _balanced(labels, order, decoded, key, seed, image_size)
    else:
        dataset = decoded(order, key)
        if training:
            dataset = dataset.shuffle(
                _shuffle_buffer(len(paths), image_size), seed=seed, reshuffle_each_iteration=True
            )

    def to_float(images, label):
        return _as_float32(images), tf.one_hot(label, num_classes)

    dataset = dataset.batch(batch_size, num_parallel_calls=tf.data.AUTOTUNE)
    if randaugment is None:
        dataset = dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=ordered)
    else:
        # RandAugment works on uint8 batches. One random key per batch from a seeded stream
        # (new keys every epoch): it then uses only stateless random ops, so the result does
        # not depend on which thread of a parallel map runs it.
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def augment_batch(batch, key):
            images, label = batch
            return to_float(randaugment(images, seed=tf.stack([key, 0])), label)

        dataset = tf.data.Dataset.zip(dataset, keys).map(
            augment_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=ordered
        )
    options = tf.data.Options()
    options.deterministic = ordered
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


@tf.function(jit_compile=True)
def _as_float32(images: tf.Tensor) -> tf.Tensor:
    """uint8 -> float32 batch. XLA's vectorised conversion is about twice as fast as
    TensorFlow's own on a CPU, and it limits the rate of a cached pipeline."""
    return tf.cast(images, tf.float32)


def _load_image(path: tf.Tensor, pil: tf.Tensor, image_size: int, resize: str) -> tf.Tensor:
    """Read, decode (TensorFlow or PIL) and resize one file to (S, S, 3) uint8."""
    image = tf.cond(pil, lambda: _decode_with_pil(path), lambda: _decode_with_tf(path))
    image = _resize(image, image_size, resize)
    return tf.ensure_shape(image, [image_size, image_size, 3])


def _decode_with_tf(path: tf.Tensor) -> tf.Tensor:
    contents = tf.io.read_file(path)
    known = tf.reduce_any([tf.strings.substr(contents, 0, len(sig)) == sig for sig in _SIGNATURES])
    check = tf.debugging.Assert(
        known, ["not a JPEG, PNG, GIF or BMP image (run `thesis data scan`):", path]
    )
    with tf.control_dependencies([check]):
        return tf_decode(contents)


def _decode_with_pil(path: tf.Tensor) -> tf.Tensor:
    def read(path_bytes: bytes) -> np.ndarray:
        return load_image(path_bytes.decode())

    image = tf.numpy_function(read, [path], tf.uint8, stateful=False)
    image.set_shape([None, None, 3])
    return image


def _resize(image: tf.Tensor, size: int, mode: str) -> tf.Tensor:
    """Bilinear resize to (size, size) without antialiasing (as Keras' image loaders do)."""
    if mode == "squash":
        resized = tf.image.resize(image, [size, size])
    else:
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        # "crop" scales the shorter side to ``size``, "pad" the longer one.
        side = tf.reduce_min(shape) if mode == "crop" else tf.reduce_max(shape)
        new_shape = tf.maximum(tf.cast(tf.round(shape * (size / side)), tf.int32), 1)
        resized = tf.image.resize(image, new_shape)
        resized = tf.image.resize_with_crop_or_pad(resized, size, size)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)


def _balanced(labels, order, decoded, key, seed, image_size) -> tf.data.Dataset:
    """Classes interleaved at random, each repeated up to the size of the largest class."""
    classes = [int(index) for index in np.unique(labels)]
    members = {index: order[labels[order] == index] for index in classes}
    largest = max(len(indices) for indices in members.values())
    per_class = []
    for index in classes:
        images = decoded(members[index], f"{key}_class{index}")
        buffer = _shuffle_buffer(len(members[index]), image_size)
        per_class.append(
            images.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat().take(largest)
        )
    return tf.data.Dataset.sample_from_datasets(
        per_class, seed=seed, stop_on_empty_dataset=False, rerandomize_each_iteration=True
    )


def _cache(dataset: tf.data.Dataset, cache, name: str) -> tf.data.Dataset:
    if cache is None:
        return dataset
    if cache == "memory":
        return dataset.cache()
    folder = Path(cache).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create the cache folder {folder}: {error.strerror}") from None
    return dataset.cache(str(folder / name))


def _cache_key(paths, labels, decoders, image_size: int, resize: str) -> str:
    """A name that changes whenever the files, their labels or the image settings change."""
    digest = hashlib.sha1()
    for path, label, decoder in zip(paths, labels, decoders, strict=True):
        digest.update(f"{path}\t{label}\t{decoder}\n".encode())
    return f"images_{image_size}px_{resize}_{digest.hexdigest()[:16]}"


def _shuffle_buffer(num_examples: int, image_size: int) -> int:
    return max(1, min(num_examples, SHUFFLE_BUFFER_BYTES // (image_size * image_size * 3)))


def _check_labels(labels: np.ndarray, num_classes: int) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive integer, got {num_classes!r}")
    if labels.ndim != 1:
        raise ConfigError(f"label_indices must be a flat list, got shape {labels.shape}")
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.size:
        raise ConfigError(
            f"label index {int(bad[0])} is outside 0..{num_classes - 1} (num_classes={num_classes})"
        )


def _check_options(paths, labels, num_classes, image_size, batch_size, resize, seed) -> None:
    if not paths:
        raise DataError("no image files given to make_dataset")
    if len(labels) != len(paths):
        raise ConfigError(f"{len(paths)} paths but {len(labels)} label indices")
    _check_labels(labels, num_classes)
    for name, value in (("image_size", image_size), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if resize not in RESIZE_MODES:
        raise ConfigError(
            f"unknown resize mode {resize!r}; choose one of {', '.join(RESIZE_MODES)}"
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise ConfigError(f"seed must be an integer or None, got {seed!r}")


def _check_decoders(paths: list[str], decoders) -> list[str]:
    if decoders is None:
        return [default_decoder(path) for path in paths]
    decoders = [str(decoder) for decoder in decoders]
    if len(decoders) != len(paths):
        raise ConfigError(f"{len(paths)} paths but {len(decoders)} decoders")
    for path, decoder in zip(paths, decoders, strict=True):
        if decoder not in DECODERS:
            raise ConfigError(f"unknown decoder {decoder!r} for {path}; use 'tf' or 'pil'")
    return decoders


def _check_files_exist(paths: list[str]) -> None:
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        shown = ", ".join(missing[:3]) + (
            f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        )
        raise DataError(f"{len(missing)} image file(s) not found: {shown}")

"""The tf.data input pipeline: files -> batches of 0..255 RGB images and one-hot labels.

Evaluation keeps the file order; training draws each epoch a permutation (or a class-balanced
sample) of the indices from ``(seed, epoch)``. Files are decoded in parallel ("tf" rows by
``images.tf_decode``, pixel-identical to PIL, "pil" rows by ``images.load_image``) or read from
a cache, resized as uint8, batched, augmented per image with a stateless seed from
``(seed, epoch, batch)`` and converted to float32. Because every epoch depends only on the seed
and its number, a resumed run sees the batches an uninterrupted one would have seen. Missing
files are reported before anything starts and a file that is not an image stops the pipeline
naming it: errors are never skipped (a silently shrinking dataset is worse). See docs/data.md.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from thesis_lib.data.augment import RandAugment
from thesis_lib.data.discovery import CACHE_DIR_ENV, cache_home
from thesis_lib.data.images import JPEG_SIGNATURE, RESIZE_MODES, load_image, tf_decode
from thesis_lib.data.progress import progress_bar
from thesis_lib.errors import ConfigError, DataError

DECODERS = ("tf", "pil")
# Extensions TensorFlow's decoders read; anything else goes through PIL by default.
TF_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif"})
# Image file signatures TensorFlow can decode: JPEG, PNG, GIF, BMP.
_SIGNATURES = (JPEG_SIGNATURE, b"\x89PNG", b"GIF8", b"BM")
# What a memory cache does when its images (count x size^2 x 3 bytes) exceed the free memory:
# "disk" (the default) says so in one line and uses an on-disk cache in ``disk_cache_folder()``
# instead; "stop" raises a DataError before anything is decoded.
MEMORY_CACHE_ENV = "THESIS_MEMORY_CACHE"
MEMORY_CACHE_CHOICES = ("disk", "stop")


def class_weights(label_indices: Sequence[int], num_classes: int) -> dict[int, float]:
    """Per-class loss weights ``n_samples / (num_classes * n_in_class)`` (sklearn "balanced");
    1.0 for a class absent from ``label_indices`` (it never contributes to the loss)."""
    labels = np.asarray(label_indices, dtype=int)
    _check_labels(labels, num_classes)
    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    result = dict.fromkeys(range(num_classes), 1.0)
    result.update(zip(present.tolist(), weights.tolist(), strict=True))
    return result


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
    epochs: tuple[int, int] = (0, 1),
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of (images, one-hot labels) batches.

    Args:
        paths: image files, one per example.
        label_indices: class index of each file, in 0..num_classes-1.
        num_classes: width of the one-hot labels.
        image_size: side of the square output images.
        batch_size: images per batch; the last batch of an epoch may be smaller.
        training: the epochs ``epochs``, each in its own order drawn from ``(seed, epoch)``,
            augmented unless ``augment`` says otherwise; without it, one pass in file order.
        augment: apply RandAugment; defaults to ``training``.
        randaugment_ops: RandAugment's N (operations per image).
        randaugment_magnitude: RandAugment's M on the 0..10 scale.
        resize: "squash" (aspect ratio not kept), "crop" (shorter side to ``image_size``, centre
            crop) or "pad" (longer side to ``image_size``, black borders).
        cache: None; "memory" (decoded, resized images in RAM); or a folder for a ``.npy`` per
            set of images and settings. The images are decoded once, when the dataset is made.
            A memory cache larger than the free memory is said in one line and goes to
            ``disk_cache_folder()`` instead (or stops: ``MEMORY_CACHE_ENV``).
        seed: seed of the epoch orders, balanced sampling and RandAugment (None: random).
        deterministic: identical batches on every run with the same seed (needs ``seed``);
            otherwise parallel decoding may deliver elements slightly out of order.
        balanced: every epoch, each class present contributes as many examples as the largest
            one (its images in a fresh order, repeated as needed). Only with ``training``.
        decoders: "tf" or "pil" per path (a scanned manifest's ``decoder`` column); ``None``
            picks "tf" for the extensions in ``TF_EXTENSIONS``.
        epochs: ``(first, stop)``: the training epochs the dataset yields; ``steps_per_epoch``
            tells how many batches each has. Ignored without ``training``.

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
    first_epoch, stop_epoch = _check_epochs(epochs)
    _check_files_exist(paths)
    augment = training if augment is None else augment
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0] % 2**31)
    # Evaluation batches always follow the order of ``paths`` (predictions are matched to files).
    ordered = deterministic or not training
    randaugment = RandAugment(randaugment_ops, randaugment_magnitude) if augment else None
    images_of = _image_source(paths, labels, decoders, image_size, resize, cache, ordered)

    def to_float(images, label):
        return _as_float32(images), tf.one_hot(label, num_classes)

    def batches(order: tf.Tensor, epoch: tf.Tensor) -> tf.data.Dataset:
        """The batches of the examples ``order``, augmented with keys from (seed, epoch, batch)."""
        dataset = images_of(order, batch_size)
        if randaugment is None:
            return dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE,
                               deterministic=ordered)

        def augment_batch(batch_index, batch):
            images, label = batch
            key = tf.random.experimental.stateless_fold_in(
                tf.random.experimental.stateless_fold_in(
                    tf.constant([seed, 0], tf.int64), epoch), batch_index)
            return to_float(randaugment(images, seed=key), label)

        return dataset.enumerate().map(augment_batch, num_parallel_calls=tf.data.AUTOTUNE,
                                       deterministic=ordered)

    if training:
        def epoch_batches(epoch):
            order = tf.numpy_function(
                lambda e: epoch_order(labels, seed, int(e), balanced=balanced), [epoch],
                tf.int64, stateful=False)
            order.set_shape([None])
            return batches(order, epoch)

        dataset = tf.data.Dataset.range(first_epoch, stop_epoch).flat_map(epoch_batches)
    else:
        dataset = batches(tf.range(len(paths), dtype=tf.int64), tf.constant(0, tf.int64))
    options = tf.data.Options()
    options.deterministic = ordered
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def epoch_order(labels: np.ndarray, seed: int, epoch: int, *, balanced: bool = False) -> np.ndarray:
    """The indices of one training epoch, from ``numpy.random.default_rng((seed, epoch))``:
    a permutation of all examples, or balanced: per class ``largest`` indices (its examples in
    fresh orders, repeated as needed), all interleaved by one more permutation."""
    labels = np.asarray(labels)
    rng = np.random.default_rng((int(seed), int(epoch)))
    if not balanced:
        return rng.permutation(len(labels)).astype(np.int64)
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == label) for label in classes]
    largest = max(len(indices) for indices in members)
    picks = []
    for indices in members:
        rounds = -(-largest // len(indices))
        picks.append(np.concatenate([rng.permutation(indices) for _ in range(rounds)])[:largest])
    combined = np.concatenate(picks)
    return combined[rng.permutation(len(combined))].astype(np.int64)


def steps_per_epoch(label_indices: Sequence[int], batch_size: int, *,
                    balanced: bool = False) -> int:
    """Batches in one training epoch of ``make_dataset`` (the last one may be smaller)."""
    labels = np.asarray(label_indices)
    if balanced:
        examples = len(np.unique(labels)) * int(np.bincount(labels).max())
    else:
        examples = len(labels)
    return max(1, -(-examples // batch_size))


def _image_source(paths, labels, decoders, image_size, resize, cache, ordered):
    """A function ``(order, batch_size) -> Dataset`` of (uint8 images, labels) batches of the
    examples ``order``, decoded from the files or read from the cache."""
    use_pil = np.asarray([decoder == "pil" for decoder in decoders])
    path_table = tf.constant(paths)
    label_table = tf.constant(labels)
    pil_table = tf.constant(use_pil)

    def load(index):
        image = _load_image(tf.gather(path_table, index), tf.gather(pil_table, index),
                            image_size, resize)
        return image, tf.gather(label_table, index)

    def decoded(order, batch_size):
        examples = tf.data.Dataset.from_tensor_slices(order)
        images = examples.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=ordered)
        return images.batch(batch_size)

    if cache is None:
        return decoded
    key = _cache_key(paths, labels, decoders, image_size, resize)
    store = _filled_cache(cache, key, len(paths), image_size,
                          lambda: decoded(tf.range(len(paths), dtype=tf.int64), 256))

    def cached(order, batch_size):
        def take(indices):
            return np.asarray(store[np.asarray(indices)])

        def read(indices):
            images = tf.numpy_function(take, [indices], tf.uint8, stateful=False)
            images.set_shape([None, image_size, image_size, 3])
            return images, tf.gather(label_table, indices)

        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        return batches.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=ordered)

    return cached


def _filled_cache(cache, key: str, count: int, image_size: int, decode_all) -> np.ndarray:
    """The decoded, resized uint8 images in file order, from the cache or decoded now.

    A folder cache is ``<folder>/<key>.npy``, written under a temporary name and renamed when
    complete, so an interrupted fill is never taken for a cache.
    """
    shape = (count, image_size, image_size, 3)
    if cache == "memory":
        cache = _memory_or_disk(count, image_size)
    if cache == "memory":
        store = np.empty(shape, dtype=np.uint8)
        _fill(store, decode_all())
        return store
    folder = Path(cache).expanduser()
    path = folder / f"{key}.npy"
    if path.is_file():
        store = np.load(path, mmap_mode="r")
        if store.shape == shape and store.dtype == np.uint8:
            return store
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{key}.{os.getpid()}.partial.npy"
        store = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape)
        _fill(store, decode_all())
        store.flush()
        del store
        os.replace(partial, path)
    except OSError as error:
        raise DataError(f"cannot write the image cache in {folder}: "
                        f"{error.strerror or error}") from None
    return np.load(path, mmap_mode="r")


def memory_cache_bytes(count: int, image_size: int) -> int:
    """Bytes of a memory cache of ``count`` images of ``image_size`` squared RGB pixels."""
    return count * image_size * image_size * 3


def available_memory() -> int | None:
    """Bytes of memory the system can give without swapping (None when not known)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:  # Linux without psutil
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def disk_cache_folder() -> Path:
    """Where a memory cache that does not fit goes: ``$THESIS_CACHE_DIR/images``, else
    ``$XDG_CACHE_HOME/thesis-workbench/images`` (default ``~/.cache/...``)."""
    folder = os.environ.get(CACHE_DIR_ENV)
    if folder:
        return Path(folder).expanduser() / "images"
    return cache_home().expanduser() / "images"


def _memory_or_disk(count: int, image_size: int) -> str:
    """"memory" when the images fit in the free memory, else (by ``MEMORY_CACHE_ENV``) the
    on-disk cache folder, or a DataError; either way said in one line."""
    choice = os.environ.get(MEMORY_CACHE_ENV, "disk").strip().lower() or "disk"
    if choice not in MEMORY_CACHE_CHOICES:
        raise ConfigError(f"{MEMORY_CACHE_ENV} must be one of {list(MEMORY_CACHE_CHOICES)}, "
                          f"got {choice!r}")
    needed, free = memory_cache_bytes(count, image_size), available_memory()
    if free is None or needed <= free:
        return "memory"
    message = (f"cache: memory needs {needed / 1e9:.1f} GB for {count} images of "
               f"{image_size} px, but {free / 1e9:.1f} GB are free")
    if choice == "stop":
        raise DataError(f"{message}; use an on-disk cache (cache: <folder>) or a smaller "
                        f"image_size, or set {MEMORY_CACHE_ENV}=disk")
    folder = disk_cache_folder()
    print(f"{message}: using the on-disk cache {folder} instead", file=sys.stderr)
    return str(folder)


def _fill(store: np.ndarray, batches: tf.data.Dataset) -> None:
    start = 0
    with progress_bar(len(store), "filling the image cache", None) as bar:
        for images, _ in batches.as_numpy_iterator():
            store[start:start + len(images)] = images
            start += len(images)
            bar.update(len(images))


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
    image = tf.numpy_function(lambda path_bytes: load_image(path_bytes.decode()), [path],
                              tf.uint8, stateful=False)
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


def _cache_key(paths, labels, decoders, image_size: int, resize: str) -> str:
    """A name that changes whenever the files, their labels or the image settings change."""
    digest = hashlib.sha1()
    for path, label, decoder in zip(paths, labels, decoders, strict=True):
        digest.update(f"{path}\t{label}\t{decoder}\n".encode())
    return f"images_{image_size}px_{resize}_{digest.hexdigest()[:16]}"


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _check_labels(labels: np.ndarray, num_classes: int) -> None:
    _check_positive_int("num_classes", num_classes)
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
    _check_positive_int("image_size", image_size)
    _check_positive_int("batch_size", batch_size)
    if resize not in RESIZE_MODES:
        raise ConfigError(
            f"unknown resize mode {resize!r}; choose one of {', '.join(RESIZE_MODES)}"
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise ConfigError(f"seed must be an integer or None, got {seed!r}")


def _check_decoders(paths: list[str], decoders) -> list[str]:
    if decoders is None:
        return ["tf" if Path(path).suffix.lower() in TF_EXTENSIONS else "pil" for path in paths]
    decoders = [str(decoder) for decoder in decoders]
    if len(decoders) != len(paths):
        raise ConfigError(f"{len(paths)} paths but {len(decoders)} decoders")
    for path, decoder in zip(paths, decoders, strict=True):
        if decoder not in DECODERS:
            raise ConfigError(f"unknown decoder {decoder!r} for {path}; use 'tf' or 'pil'")
    return decoders


def _check_epochs(epochs) -> tuple[int, int]:
    try:
        first, stop = (int(value) for value in epochs)
    except (TypeError, ValueError):
        raise ConfigError(f"epochs must be (first, stop), got {epochs!r}") from None
    if not 0 <= first < stop:
        raise ConfigError(f"epochs must satisfy 0 <= first < stop, got {epochs!r}")
    return first, stop


def _check_files_exist(paths: list[str]) -> None:
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise DataError(f"{len(missing)} image file(s) not found: {', '.join(missing[:3])}{more}")

"""The tf.data pipeline: shapes, labels, resize modes, decoders, caching, balance, seeds."""

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from sklearn.utils.class_weight import compute_class_weight

from thesis_lib.data.images import load_image
from thesis_lib.data.pipeline import class_weights, epoch_order, make_dataset, steps_per_epoch
from thesis_lib.errors import ConfigError, DataError

SIZE = 32


def noise_image(seed: int, width: int = 48, height: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def write_jpegs(folder: Path, count: int, *, size=(48, 40), first_seed: int = 0) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"image_{index}.jpg"
        Image.fromarray(noise_image(first_seed + index, *size)).save(path, quality=90)
        paths.append(str(path))
    return paths


@pytest.fixture
def jpegs(tmp_path):
    """Ten 48x40 JPEGs, labels 0,1,0,1,..."""
    paths = write_jpegs(tmp_path / "images", 10)
    return paths, [index % 2 for index in range(10)]


def collect(dataset):
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in dataset], strict=True)
    return np.concatenate(images), np.concatenate(labels)


@pytest.mark.parametrize("resize", ["squash", "crop", "pad"])
def test_batches_have_the_promised_shapes_dtypes_and_one_hot_labels(jpegs, resize):
    paths, labels = jpegs
    dataset = make_dataset(
        paths, labels, num_classes=3, image_size=SIZE, batch_size=4, resize=resize
    )
    batches = list(dataset)
    assert [int(x.shape[0]) for x, _ in batches] == [4, 4, 2]  # no repeat, remainder kept
    for images, one_hot in batches:
        assert images.dtype == tf.float32 and images.shape[1:] == (SIZE, SIZE, 3)
        assert one_hot.dtype == tf.float32 and one_hot.shape[1:] == (3,)
        assert 0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255
    _, one_hot = collect(dataset)
    assert np.array_equal(one_hot, np.eye(3)[labels])  # evaluation keeps the file order


def test_tf_rows_decode_exactly_like_load_image(tmp_path):
    paths = write_jpegs(tmp_path, 3, size=(SIZE, SIZE))
    images, _ = collect(make_dataset(paths, [0, 1, 0], num_classes=2, image_size=SIZE))
    for path, image in zip(paths, images, strict=True):
        assert np.array_equal(image, load_image(path))


def test_pil_rows_decode_like_load_image(tmp_path):
    rgba = np.dstack([noise_image(1, SIZE, SIZE), np.tile(np.arange(SIZE) * 8, (SIZE, 1))])
    png = tmp_path / "alpha.png"
    Image.fromarray(rgba.astype(np.uint8), "RGBA").save(png)
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(noise_image(2, SIZE, SIZE)).convert("CMYK").save(cmyk, quality=95)
    paths = [str(png), str(cmyk)]
    dataset = make_dataset(paths, [0, 1], num_classes=2, image_size=SIZE, decoders=["pil", "pil"])
    images, _ = collect(dataset)
    for path, image in zip(paths, images, strict=True):
        assert np.array_equal(image, load_image(path))
    # TensorFlow alone would drop the alpha channel instead of compositing it on white.
    assert images[0][:, 0].mean() > 200


def test_crop_keeps_the_centre_and_pad_adds_black_borders(tmp_path):
    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, 20:60] = (200, 30, 30)  # red centre square, green quarters left and right
    wide[:, :20] = wide[:, 60:] = (30, 200, 30)
    path = tmp_path / "wide.png"
    Image.fromarray(wide).save(path)
    crop, _ = collect(make_dataset([str(path)], [0], num_classes=2, image_size=SIZE, resize="crop"))
    assert np.abs(crop[0] - (200, 30, 30)).max() <= 1
    pad, _ = collect(make_dataset([str(path)], [0], num_classes=2, image_size=SIZE, resize="pad"))
    assert (pad[0][:8] == 0).all() and (pad[0][-8:] == 0).all()  # 80x40 -> 32x16 + borders
    assert np.abs(pad[0][10:22, 12:20] - (200, 30, 30)).max() <= 1


@pytest.mark.parametrize("cache", ["memory", "disk"])
def test_cached_epochs_do_not_read_the_files_again(jpegs, tmp_path, cache):
    paths, labels = jpegs
    cache = tmp_path / "cache" if cache == "disk" else cache
    dataset = make_dataset(paths, labels, num_classes=2, image_size=SIZE, batch_size=4, cache=cache)
    first, first_labels = collect(dataset)
    shutil.rmtree(Path(paths[0]).parent)  # the images are gone...
    second, second_labels = collect(dataset)  # ...and the next epoch still has them all
    assert np.array_equal(first, second) and np.array_equal(first_labels, second_labels)
    if cache != "memory":
        assert any(cache.iterdir())


def test_a_new_disk_cache_is_used_for_other_settings(jpegs, tmp_path):
    paths, labels = jpegs
    for size in (16, 24):
        dataset = make_dataset(paths, labels, num_classes=2, image_size=size, cache=tmp_path)
        images, _ = collect(dataset)
        assert images.shape[1:] == (size, size, 3)
    assert len(list(tmp_path.glob("images_*.npy"))) == 2


@pytest.fixture(scope="module")
def training_stream(tmp_path_factory):
    """``stream(seed, epochs)``: the images and labels of the seeded, deterministic training
    batches of ten JPEGs (RandAugment on), each pipeline made and read once per module."""
    paths = write_jpegs(tmp_path_factory.mktemp("stream") / "images", 10)
    labels = [index % 2 for index in range(10)]
    streams = {}

    def stream(seed, epochs):
        if (seed, epochs) not in streams:
            streams[seed, epochs] = collect(make_dataset(
                paths, labels, num_classes=2, image_size=SIZE, batch_size=4, training=True,
                seed=seed, deterministic=True, epochs=epochs))
        return streams[seed, epochs]

    stream.paths, stream.labels = paths, labels
    return stream


def test_training_shuffles_and_augments_reproducibly(training_stream):
    paths, labels = training_stream.paths, training_stream.labels
    both, both_labels = training_stream(3, (0, 2))
    assert len(both_labels) == 2 * len(paths)  # two epochs, each every image once
    epoch_1, epoch_2 = both[:len(paths)], both[len(paths):]
    # Another pipeline of the same seed (here one that goes on to a third epoch) gives the
    # same batches.
    again, labels_again = training_stream(3, (0, 3))
    assert np.array_equal(both, again[:2 * len(paths)])
    assert np.array_equal(both_labels, labels_again[:2 * len(paths)])
    assert not np.array_equal(epoch_1, epoch_2)  # every epoch is shuffled and augmented anew
    assert not np.array_equal(both, training_stream(4, (0, 2))[0])
    plain, _ = collect(make_dataset(paths, labels, num_classes=2, image_size=SIZE))
    assert not any(np.array_equal(image, plain[0]) for image in epoch_1)


def test_augmentation_differs_between_epochs_for_an_image_in_the_same_place(jpegs):
    """RandAugment is keyed by (seed, epoch, batch): one image at one batch position is
    augmented anew in every epoch. Every example is the same file, so the shuffle cannot
    make the epochs differ; only the augmentation can."""
    paths, _ = jpegs
    same = [paths[0]] * 8
    stream, _ = collect(make_dataset(same, [0] * 8, num_classes=2, image_size=SIZE,
                                     batch_size=4, training=True, seed=3, deterministic=True,
                                     epochs=(0, 3)))
    epochs = stream.reshape(3, 8, SIZE, SIZE, 3)
    for first, second in ((0, 1), (1, 2), (0, 2)):
        unchanged = [np.array_equal(a, b) for a, b in zip(epochs[first], epochs[second],
                                                            strict=True)]
        # 3 of 14 operations per image: two draws agree by chance rarely, never at most places.
        assert sum(unchanged) <= 2, (first, second, unchanged)
    # Within an epoch the batches differ too (the batch is part of the key).
    assert not np.array_equal(epochs[0, :4], epochs[0, 4:])


def test_an_epoch_is_the_same_whether_the_stream_starts_there_or_earlier(training_stream):
    """What a resumed run relies on: epoch k depends on (seed, k) only."""
    stream, _ = training_stream(3, (0, 3))
    resumed, _ = training_stream(3, (2, 3))
    assert np.array_equal(stream[2 * len(training_stream.paths):], resumed)


def test_every_epoch_is_a_full_permutation_of_its_own():
    """Not a window over a fixed order: each epoch's order is drawn anew from (seed, epoch)."""
    labels = np.arange(5000) % 2
    orders = [epoch_order(labels, seed=0, epoch=epoch) for epoch in range(3)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(5000))
    # Two independent permutations of 5,000 items share almost no position (expected: 1).
    assert np.sum(orders[0] == orders[1]) < 10 and np.sum(orders[1] == orders[2]) < 10
    assert np.array_equal(orders[1], epoch_order(labels, seed=0, epoch=1))
    # An image's position moves across the whole epoch, not within a shuffle buffer.
    moves = np.abs(np.argsort(orders[0]) - np.argsort(orders[1]))
    assert np.median(moves) > 1000


def test_augment_can_be_turned_off_for_training(jpegs):
    paths, labels = jpegs
    dataset = make_dataset(
        paths, labels, num_classes=2, image_size=SIZE, training=True, augment=False, seed=0
    )
    images, _ = collect(dataset)
    plain, _ = collect(make_dataset(paths, labels, num_classes=2, image_size=SIZE))
    assert sorted(image.tobytes() for image in images) == sorted(p.tobytes() for p in plain)


def test_balanced_sampling_gives_each_class_the_same_share(tmp_path):
    paths = write_jpegs(tmp_path, 12, size=(16, 16))
    labels = [0] * 9 + [1] * 3
    dataset = make_dataset(
        paths,
        labels,
        num_classes=2,
        image_size=16,
        batch_size=6,
        training=True,
        augment=False,
        balanced=True,
        seed=1,
        cache="memory",
        epochs=(0, 2),
    )
    assert steps_per_epoch(labels, 6, balanced=True) == 3
    images, one_hot = collect(dataset)
    for epoch in range(2):
        part = slice(18 * epoch, 18 * (epoch + 1))
        assert Counter(one_hot[part].argmax(axis=1).tolist()) == {0: 9, 1: 9}
        # every image of the large class appears exactly once per epoch
        large = {image.tobytes() for image, label
                 in zip(images[part], one_hot[part], strict=True) if label[0]}
        assert len(large) == 9


def test_class_weights_match_sklearn():
    labels = [0] * 6 + [1] * 3 + [2]
    expected = compute_class_weight("balanced", classes=np.arange(3), y=labels)
    weights = class_weights(labels, 3)
    assert list(weights) == [0, 1, 2]
    assert np.allclose([weights[index] for index in range(3)], expected)
    assert class_weights([0, 0, 1], 3)[2] == 1.0  # a class with no examples


def test_missing_files_are_named_before_anything_runs(jpegs):
    paths, labels = jpegs
    with pytest.raises(DataError, match="gone.jpg"):
        make_dataset([*paths, "/nowhere/gone.jpg"], [*labels, 0], num_classes=2)


def test_a_file_that_is_not_an_image_is_named_when_read(jpegs, tmp_path):
    paths, labels = jpegs
    fake = tmp_path / "fake.jpg"
    fake.write_text("not an image")
    dataset = make_dataset([*paths, str(fake)], [*labels, 0], num_classes=2, image_size=SIZE)
    with pytest.raises(tf.errors.InvalidArgumentError, match="fake.jpg"):
        collect(dataset)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1}, "outside 0..0"),
        ({"num_classes": 2, "resize": "stretch"}, "resize mode"),
        ({"num_classes": 2, "image_size": 0}, "image_size"),
        ({"num_classes": 2, "decoders": ["tf"]}, "decoders"),
        ({"num_classes": 2, "deterministic": True}, "seed"),
    ],
)
def test_bad_settings_are_config_errors(jpegs, kwargs, message):
    paths, labels = jpegs
    with pytest.raises(ConfigError, match=message):
        make_dataset(paths, labels, **kwargs)


def test_a_memory_cache_larger_than_the_free_memory_goes_to_disk_or_stops(jpegs, tmp_path,
                                                                          monkeypatch, capsys):
    from thesis_lib.data import pipeline

    paths, labels = jpegs
    needed = len(paths) * SIZE * SIZE * 3  # images x size^2 x 3 bytes
    assert pipeline.memory_cache_bytes(len(paths), SIZE) == needed
    monkeypatch.setenv("THESIS_CACHE_DIR", str(tmp_path / "caches"))
    monkeypatch.setattr(pipeline, "available_memory", lambda: needed)  # just fits
    plain = collect(make_dataset(paths, labels, num_classes=2, image_size=SIZE, cache="memory"))
    assert capsys.readouterr().err == "" and not (tmp_path / "caches").exists()

    monkeypatch.setattr(pipeline, "available_memory", lambda: needed - 1)
    moved = collect(make_dataset(paths, labels, num_classes=2, image_size=SIZE, cache="memory"))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "cache: memory needs" in lines[0]
    assert str(tmp_path / "caches" / "images") in lines[0]
    assert len(list((tmp_path / "caches" / "images").glob("*.npy"))) == 1
    assert np.array_equal(plain[0], moved[0]) and np.array_equal(plain[1], moved[1])

    monkeypatch.setenv("THESIS_MEMORY_CACHE", "stop")
    with pytest.raises(DataError, match="cache: memory needs .* GB are free; use an on-disk"):
        make_dataset(paths, labels, num_classes=2, image_size=SIZE, cache="memory")

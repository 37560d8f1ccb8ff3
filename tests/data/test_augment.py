"""RandAugment: each operation against Pillow, the per-image choice, shapes, dtypes, seeds.

Tolerances: the colour operations match Pillow to +-1 grey level (float rounding at exact
halves); the geometric ones use nearest-pixel sampling and match Pillow's ``Image.NEAREST``
except on at most 0.5 % of the interior pixels (ties between two source pixels) and within
two pixels of the edge of the filled area.
"""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageOps
from scipy import ndimage

from thesis_lib.data import augment_ops
from thesis_lib.data.augment import (
    COMPILED_OPERATIONS,
    OPERATION_NAMES,
    RandAugment,
    operation_strengths,
)
from thesis_lib.errors import ConfigError

FILL = (augment_ops.FILL_VALUE,) * 3
STRENGTH = operation_strengths(7)
# One image size for every RandAugment test: its XLA-compiled operations compile once per size;
# and one batch size, for which the RandAugment graph is traced once.
SIDE = 32
BATCH = 8


def textured_image(seed: int = 0, height: int = 48, width: int = 64) -> np.ndarray:
    """Gradients plus noise: every channel uses a wide, uneven range of values."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    channels = [(cols * 3) % 200 + 20, (rows * 4) % 150 + 40, ((cols + rows) * 2) % 180 + 10]
    noisy = np.stack(channels, axis=-1) + rng.integers(-15, 16, (height, width, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def image():
    return textured_image()


def run(operation, image, *args):
    return operation(tf.constant(image[None]), *args).numpy()[0]


ENHANCE_FACTORS = [1 - STRENGTH["enhance"], 1 + STRENGTH["enhance"]]

COLOUR_CASES = [
    ("autocontrast", lambda im: run(augment_ops.autocontrast, im), ImageOps.autocontrast),
    ("equalize", lambda im: run(augment_ops.equalize, im), ImageOps.equalize),
    (
        "solarize",
        lambda im: run(augment_ops.solarize, im, STRENGTH["solarize"]),
        lambda pil: ImageOps.solarize(pil, STRENGTH["solarize"]),
    ),
    (
        "posterize",
        lambda im: run(augment_ops.posterize, im, STRENGTH["posterize"]),
        lambda pil: ImageOps.posterize(pil, STRENGTH["posterize"]),
    ),
]
for _factor in ENHANCE_FACTORS:
    for _name, _enhancer in [
        ("color", ImageEnhance.Color),
        ("contrast", ImageEnhance.Contrast),
        ("brightness", ImageEnhance.Brightness),
        ("sharpness", ImageEnhance.Sharpness),
    ]:
        COLOUR_CASES.append(
            (
                f"{_name}-{_factor:.2f}",
                lambda im, n=_name, f=_factor: run(getattr(augment_ops, n), im, [f]),
                lambda pil, e=_enhancer, f=_factor: e(pil).enhance(f),
            )
        )


@pytest.mark.parametrize("name,ours,pillow", COLOUR_CASES, ids=[c[0] for c in COLOUR_CASES])
def test_colour_operations_match_pillow(image, name, ours, pillow):
    expected = np.asarray(pillow(Image.fromarray(image))).astype(int)
    result = ours(image)
    assert result.dtype == np.uint8 and result.shape == image.shape
    assert np.abs(result.astype(int) - expected).max() <= 1, name


def affine_reference(matrix):
    def transform(pil, fill):
        return pil.transform(pil.size, Image.AFFINE, matrix, Image.NEAREST, fillcolor=fill)

    return transform


GEOMETRIC_CASES = [
    (
        "rotate",
        lambda im, sign: run(augment_ops.rotate, im, sign * STRENGTH["rotate"]),
        lambda sign: (
            lambda pil, fill: pil.rotate(
                sign * STRENGTH["rotate"], resample=Image.NEAREST, fillcolor=fill
            )
        ),
    ),
    (
        "shear_x",
        lambda im, sign: run(augment_ops.shear_x, im, sign * STRENGTH["shear"]),
        lambda sign: affine_reference((1, sign * STRENGTH["shear"], 0, 0, 1, 0)),
    ),
    (
        "shear_y",
        lambda im, sign: run(augment_ops.shear_y, im, sign * STRENGTH["shear"]),
        lambda sign: affine_reference((1, 0, 0, sign * STRENGTH["shear"], 1, 0)),
    ),
    (
        "translate_x",
        lambda im, sign: run(augment_ops.translate_x, im, sign * STRENGTH["translate"] * 64),
        lambda sign: affine_reference((1, 0, sign * STRENGTH["translate"] * 64, 0, 1, 0)),
    ),
    (
        "translate_y",
        lambda im, sign: run(augment_ops.translate_y, im, sign * STRENGTH["translate"] * 48),
        lambda sign: affine_reference((1, 0, 0, 0, 1, sign * STRENGTH["translate"] * 48)),
    ),
]


@pytest.mark.parametrize("sign", [-1.0, 1.0])
@pytest.mark.parametrize("name,ours,pillow", GEOMETRIC_CASES, ids=[c[0] for c in GEOMETRIC_CASES])
def test_geometric_operations_match_pillow(image, name, ours, pillow, sign):
    reference = pillow(sign)
    expected = np.asarray(reference(Image.fromarray(image), FILL)).astype(int)
    # Pixels whose source lies well inside the image (2 px from the filled area).
    source_mask = np.asarray(reference(Image.new("L", (64, 48), 255), 0)) == 255
    inside = ndimage.binary_erosion(source_mask, iterations=2, border_value=1)
    filled = ndimage.binary_erosion(~source_mask, iterations=2, border_value=1)
    result = ours(image, sign)
    assert result.dtype == np.uint8 and result.shape == image.shape
    differs = np.any(result.astype(int) != expected, axis=-1)
    assert inside.mean() > 0.3
    assert differs[inside].mean() <= 0.005, name
    # The area brought into the frame is filled with grey, as Pillow fills it.
    assert (result[filled] == augment_ops.FILL_VALUE).all()


def test_magnitude_maps_to_the_published_ranges():
    # M = 10 is the full range of the AutoAugment paper: 30 degrees, shear 0.3,
    # translation 150/331 of the image, enhance factors 0.1..1.9, 4 posterize bits.
    full = operation_strengths(10)
    assert full["rotate"] == pytest.approx(30.0)
    assert full["shear"] == pytest.approx(0.3)
    assert full["translate"] == pytest.approx(150 / 331, abs=0.005)
    assert full["enhance"] == pytest.approx(0.9)
    assert full["posterize"] == 4 and full["solarize"] == 0
    none = operation_strengths(0)
    assert none["rotate"] == 0 and none["posterize"] == 8 and none["solarize"] == 256


def single_operation_results(images):
    """Every image that one step of RandAugment may produce from each of ``images``: per
    (operation, sign), the operation applied to the whole batch (each image on its own, as
    RandAugment applies it to a group of images)."""
    augment = RandAugment(num_ops=1, magnitude=7)
    batch = tf.constant(images)
    results = {}
    for index, name in enumerate(OPERATION_NAMES):
        operation = augment._operations[index]
        for sign in (-1.0, 1.0):
            results[(name, sign)] = operation(batch, tf.fill([len(images)], sign)).numpy()
    return results


def test_each_image_gets_its_own_operation_and_only_that_one():
    images = np.stack([textured_image(seed, SIDE, SIDE) for seed in range(12)])
    augmented = RandAugment(num_ops=1, magnitude=7)(tf.constant(images), seed=[5, 0]).numpy()
    candidates = single_operation_results(images)
    chosen = []
    for index, result in enumerate(augmented):
        names = [key[0] for key, value in candidates.items()
                 if np.array_equal(value[index], result)]
        assert names, "output is not the result of one single RandAugment operation"
        chosen.append(names[0])
    assert len(set(chosen)) >= 4


def test_identical_images_in_one_batch_come_out_different():
    batch = np.repeat(textured_image(0, SIDE, SIDE)[None], BATCH, axis=0)
    augmented = RandAugment(num_ops=3, magnitude=7, seed=1)(tf.constant(batch)).numpy()
    distinct = {result.tobytes() for result in augmented}
    assert len(distinct) >= 6


@pytest.mark.parametrize("dtype", [tf.uint8, tf.float32])
def test_shape_dtype_and_range_are_kept(dtype):
    batch = tf.cast(np.stack([textured_image(seed, SIDE, SIDE) for seed in range(BATCH)]), dtype)
    augmented = RandAugment(num_ops=3, magnitude=7, seed=0)(batch)
    assert augmented.dtype == dtype and augmented.shape == batch.shape
    values = augmented.numpy()
    assert values.min() >= 0 and values.max() <= 255
    assert np.array_equal(values, np.round(values))


def test_same_seed_same_output_other_seed_other_output():
    batch = tf.constant(np.stack([textured_image(seed, SIDE, SIDE) for seed in range(BATCH)]))
    first = RandAugment(seed=3)(batch).numpy()
    again = RandAugment(seed=3)(batch).numpy()
    other = RandAugment(seed=4)(batch).numpy()
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    stateless = RandAugment()(batch, seed=[7, 1]).numpy()
    assert np.array_equal(stateless, RandAugment(seed=99)(batch, seed=[7, 1]).numpy())


@pytest.mark.parametrize(
    "kwargs", [{"num_ops": -1}, {"num_ops": 1.5}, {"magnitude": 11}, {"magnitude": "7"}]
)
def test_bad_settings_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        RandAugment(**kwargs)


def test_bad_input_shape_is_a_config_error():
    with pytest.raises(ConfigError, match="B, H, W, 3"):
        RandAugment()(tf.zeros([8, 8, 3], tf.uint8))


def plain_operation(name: str, image: tf.Tensor, sign: float) -> tf.Tensor:
    """The operation of ``OPERATION_NAMES`` called directly (no XLA), at magnitude 7."""
    side = float(image.shape[2])
    arguments = {
        "rotate": [sign * STRENGTH["rotate"]],
        "shear_x": [sign * STRENGTH["shear"]],
        "shear_y": [sign * STRENGTH["shear"]],
        "translate_x": [sign * STRENGTH["translate"] * side],
        "translate_y": [sign * STRENGTH["translate"] * side],
        "solarize": [STRENGTH["solarize"]],
        "posterize": [STRENGTH["posterize"]],
    }
    if name in ("color", "contrast", "brightness", "sharpness"):
        arguments[name] = [[1.0 + sign * STRENGTH["enhance"]]]
    return getattr(augment_ops, name)(image, *arguments.get(name, []))


@pytest.mark.parametrize("name", sorted(COMPILED_OPERATIONS))
def test_compiled_operations_match_the_plain_ones(name):
    image = tf.constant(textured_image(3, SIDE, SIDE)[None])
    operation = RandAugment()._operations[OPERATION_NAMES.index(name)]
    for sign in (-1.0, 1.0):
        compiled = operation(image, tf.constant([sign])).numpy().astype(int)
        plain = plain_operation(name, image, sign).numpy().astype(int)
        assert np.abs(compiled - plain).max() <= 1, (name, sign)

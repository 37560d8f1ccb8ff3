"""The image operations of RandAugment, one function per operation.

Every function takes a batch of ``uint8`` images (B, H, W, 3), plus a strength per image (shape
(B,)) where the operation has one, and returns a ``uint8`` batch of the same shape; an empty
batch costs almost nothing, which lets RandAugment run each operation only on the images that
chose it. Only TensorFlow ops, so they run inside ``tf.data`` maps and ``tf.function``.

They follow Pillow's ``ImageOps`` / ``ImageEnhance`` / ``Image.transform`` (the library of the
RandAugment paper and timm), and the tests compare each with Pillow: the colour operations up to
+-1 grey level (float rounding at exact halves), the geometric ones (pixel-centre convention,
nearest-pixel sampling, grey fill) up to float rounding of the source coordinates.
"""

from __future__ import annotations

import math

import tensorflow as tf

# Grey used for the pixels that a rotation, shear or translation brings into the frame
# (timm and tensorflow/models fill with mid-grey as well).
FILL_VALUE = 128

# Pillow's RGB -> L weights in 16-bit fixed point: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.
_LUMA_WEIGHTS = (19595, 38470, 7471)


def autocontrast(image: tf.Tensor) -> tf.Tensor:
    """Stretch each channel to 0..255, as ``PIL.ImageOps.autocontrast`` (a flat one is kept)."""
    pixels = tf.cast(image, tf.float32)
    low = tf.reduce_min(pixels, axis=[1, 2], keepdims=True)
    high = tf.reduce_max(pixels, axis=[1, 2], keepdims=True)
    flat = high <= low
    scale = tf.where(flat, 1.0, 255.0 / tf.maximum(high - low, 1.0))
    offset = tf.where(flat, 0.0, -low * scale)
    # Pillow truncates ``ix * scale + offset`` towards zero when it builds its lookup table.
    return tf.cast(tf.clip_by_value(pixels * scale + offset, 0.0, 255.0), tf.uint8)


def equalize(image: tf.Tensor) -> tf.Tensor:
    """Histogram equalisation of each channel, as ``PIL.ImageOps.equalize``: the lookup table
    ``lut[i] = (step // 2 + sum(hist[:i])) // step`` with
    ``step = (n_pixels - count_of_the_brightest_used_value) // 255``."""
    batch_size = tf.shape(image)[0]
    # Bin of every value: 768 bins per image, 256 per channel.
    bins = tf.cast(image, tf.int32) + tf.constant([0, 256, 512])
    bins = tf.reshape(bins, [batch_size, -1])
    counts = tf.math.bincount(bins, minlength=768, maxlength=768, axis=-1, dtype=tf.int32)
    histograms = tf.reshape(counts, [batch_size, 3, 256])
    # Count of the brightest value present in each channel (the last non-zero bin).
    used = tf.cast(histograms > 0, tf.int32) * tf.range(256)
    last_count = tf.gather(histograms, tf.reduce_max(used, axis=2), batch_dims=2)
    step = (tf.reduce_sum(histograms, axis=2) - last_count) // 255
    below = tf.cumsum(histograms, axis=2, exclusive=True)
    safe_step = tf.maximum(step, 1)[..., None]
    lut = tf.minimum((safe_step // 2 + below) // safe_step, 255)
    # A channel with (almost) a single value has step 0: Pillow leaves it unchanged.
    lut = tf.where(step[..., None] > 0, lut, tf.range(256))
    equalized = tf.gather(tf.reshape(lut, [batch_size, 768]), bins, batch_dims=1)
    return tf.reshape(tf.cast(equalized, tf.uint8), tf.shape(image))


def solarize(image: tf.Tensor, threshold: int) -> tf.Tensor:
    """Invert every value at or above ``threshold`` (an int in 0..256), as
    ``PIL.ImageOps.solarize``."""
    if threshold > 255:
        return image
    return tf.where(image >= tf.constant(threshold, tf.uint8), 255 - image, image)


def posterize(image: tf.Tensor, bits: int) -> tf.Tensor:
    """Keep the ``bits`` most significant bits of every value (``PIL.ImageOps.posterize``)."""
    mask = tf.cast(0xFF ^ (2 ** (8 - bits) - 1), tf.uint8)
    return tf.bitwise.bitwise_and(image, mask)


def _blend(degenerate: tf.Tensor, image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """``PIL.Image.blend(degenerate, image, factor)`` (factor per image; > 1 extrapolates)."""
    degenerate = tf.cast(degenerate, tf.float32)
    factor = tf.reshape(tf.cast(factor, tf.float32), [-1, 1, 1, 1])
    blended = degenerate + factor * (tf.cast(image, tf.float32) - degenerate)
    return tf.cast(tf.clip_by_value(blended, 0.0, 255.0), tf.uint8)


def _grayscale(image: tf.Tensor) -> tf.Tensor:
    """Pillow's ``convert("L")`` in exact integer arithmetic, shape (B, H, W, 1), int32."""
    weighted = tf.cast(image, tf.int32) * tf.constant(_LUMA_WEIGHTS, tf.int32)
    return tf.bitwise.right_shift(tf.reduce_sum(weighted, axis=-1, keepdims=True) + 32768, 16)


def color(image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Saturation: 0 gives grey, 1 the original (``PIL.ImageEnhance.Color``)."""
    return _blend(_grayscale(image), image, factor)


def contrast(image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Contrast around the mean grey level: 0 gives flat grey (``ImageEnhance.Contrast``)."""
    grey = tf.cast(_grayscale(image), tf.float32)
    mean = tf.floor(tf.reduce_mean(grey, axis=[1, 2, 3], keepdims=True) + 0.5)
    return _blend(mean, image, factor)


def brightness(image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """Brightness: 0 gives black, 1 the original (``PIL.ImageEnhance.Brightness``)."""
    return _blend(tf.zeros([], tf.float32), image, factor)


def sharpness(image: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
    """``ImageEnhance.Sharpness``: blend with the SMOOTH-filtered image (the 3x3 kernel
    [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13, rounded, one-pixel border unfiltered)."""
    pixels = tf.cast(image, tf.float32)
    centre = pixels[:, 1:-1, 1:-1]
    # Sum of the 3x3 neighbourhood (an average pool is cheaper than a convolution), plus
    # 4 more times the centre pixel, gives the SMOOTH kernel's numerator.
    neighbourhood = tf.nn.avg_pool2d(pixels, 3, 1, "VALID") * 9.0
    smoothed = tf.floor((neighbourhood + 4.0 * centre) / 13.0 + 0.5)
    # Smoothed interior inside the untouched one-pixel border.
    degenerate = pixels + tf.pad(smoothed - centre, [[0, 0], [1, 1], [1, 1], [0, 0]])
    return _blend(degenerate, image, factor)


def _affine(image: tf.Tensor, matrix: list) -> tf.Tensor:
    """Resample with Pillow's ``Image.AFFINE`` ``matrix`` (a, b, c, d, e, f), nearest pixel.

    As in Pillow, each OUTPUT point (x, y) takes the INPUT pixel containing
    (a x + b y + c, d x + e y + f), pixel centres at i + 0.5; every entry is a scalar or one
    value per image. A plain gather (not ``ImageProjectiveTransformV3``) so that XLA can
    compile it; nearest-pixel as tensorflow/models' RandAugment (bilinear costs twice as much).
    """
    shape = tf.shape(image)
    batch_size, height, width = shape[0], shape[1], shape[2]
    a, b, c, d, e, f = (
        tf.reshape(tf.broadcast_to(tf.cast(value, tf.float32), [batch_size]), [-1, 1, 1])
        for value in matrix
    )
    rows, cols = tf.meshgrid(tf.range(height, dtype=tf.float32) + 0.5,
                             tf.range(width, dtype=tf.float32) + 0.5, indexing="ij")
    source_x = tf.floor(a * cols + b * rows + c)
    source_y = tf.floor(d * cols + e * rows + f)
    inside = (source_x >= 0) & (source_x < tf.cast(width, tf.float32)) \
        & (source_y >= 0) & (source_y < tf.cast(height, tf.float32))
    # Clamped indices keep the gather in bounds; the fill replaces what they read outside.
    source_x = tf.clip_by_value(source_x, 0.0, tf.cast(width - 1, tf.float32))
    source_y = tf.clip_by_value(source_y, 0.0, tf.cast(height - 1, tf.float32))
    index = tf.cast(source_y, tf.int32) * width + tf.cast(source_x, tf.int32)
    pixels = tf.reshape(image, [batch_size, -1, 3])
    resampled = tf.gather(pixels, tf.reshape(index, [batch_size, -1]), batch_dims=1)
    resampled = tf.reshape(resampled, shape)
    return tf.where(inside[..., None], resampled, tf.constant(FILL_VALUE, tf.uint8))


def rotate(image: tf.Tensor, degrees: tf.Tensor) -> tf.Tensor:
    """Rotate counter-clockwise about the centre by ``degrees`` (``Image.rotate``)."""
    height = tf.cast(tf.shape(image)[1], tf.float32)
    width = tf.cast(tf.shape(image)[2], tf.float32)
    radians = -tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    cos, sin = tf.cos(radians), tf.sin(radians)
    centre_x, centre_y = width / 2.0, height / 2.0
    # Output -> input map: rotate about the centre of the image.
    offset_x = centre_x - (cos * centre_x + sin * centre_y)
    offset_y = centre_y - (-sin * centre_x + cos * centre_y)
    return _affine(image, [cos, sin, offset_x, -sin, cos, offset_y])


def shear_x(image: tf.Tensor, shear: tf.Tensor) -> tf.Tensor:
    """Horizontal shear about the top-left corner: input x = x + shear * y (timm, PIL)."""
    return _affine(image, [1.0, shear, 0.0, 0.0, 1.0, 0.0])


def shear_y(image: tf.Tensor, shear: tf.Tensor) -> tf.Tensor:
    """Vertical shear about the top-left corner: input y = shear * x + y."""
    return _affine(image, [1.0, 0.0, 0.0, shear, 1.0, 0.0])


def translate_x(image: tf.Tensor, pixels: tf.Tensor) -> tf.Tensor:
    """Shift the content LEFT by ``pixels`` (input x = x + pixels), as Pillow/timm do."""
    return _affine(image, [1.0, 0.0, pixels, 0.0, 1.0, 0.0])


def translate_y(image: tf.Tensor, pixels: tf.Tensor) -> tf.Tensor:
    """Shift the content UP by ``pixels`` (input y = y + pixels)."""
    return _affine(image, [1.0, 0.0, 0.0, 0.0, 1.0, pixels])

"""The one reference image decoder, and the rule that says which decoder the pipeline may use.

Web-scraped datasets hold CMYK and 16-bit images, palettes with transparency, animations,
photos stored sideways with an EXIF orientation, and broken files. ``load_image`` turns all of
them into 8-bit upright RGB with PIL, or raises ``DataError`` naming the file. TensorFlow's
decoders are faster inside ``tf.data`` but read fewer cases correctly, so ``choose_decoder``
marks a file "tf" only when ``tf_decode`` gives the same pixels as ``load_image``.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from thesis_lib.errors import DataError

# How images become squares of the network's input size (see ``data.pipeline``).
RESIZE_MODES = ("squash", "crop", "pad")
# File name endings read as images; everything else in a dataset folder is ignored.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
# Formats and modes that tf.io.decode_image reads exactly as PIL does.
# (8-bit BMPs store palette indices, which TensorFlow returns as they are: PIL only.)
TF_MODES = {"JPEG": frozenset({"RGB", "L"}), "PNG": frozenset({"RGB", "L"}), "BMP": {"RGB"}}
# EXIF tag 0x0112; values 2-8 mean the stored pixels must be flipped or rotated for display.
EXIF_ORIENTATION_TAG = 0x0112
# The first bytes of every JPEG file; ``tf.io.is_jpeg`` tests exactly these.
JPEG_SIGNATURE = b"\xff\xd8\xff"
# JPEG start-of-frame markers (0xC0-0xCF without DHT 0xC4, JPG 0xC8 and DAC 0xCC): the coding
# process, which decides whether a decoder supports a file at all.
JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

# Short categories for skip reports (the scanner adds its own for paths and labels).
REASON_EMPTY = "empty file"
REASON_NOT_IMAGE = "not an image"
REASON_CORRUPT = "truncated or corrupt"
REASON_TOO_SMALL = "too small"
REASON_UNREADABLE = "unreadable"


class ImageFileError(DataError):
    """A file that cannot be used as an image; ``reason`` is a short category for reports.

    Args:
        name: The file, as named in the message.
        reason: One of the ``REASON_*`` categories.
        detail: What exactly is wrong.
    """

    def __init__(self, name: str, reason: str, detail: str):
        super().__init__(f"{name}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ImageInfo:
    """What a header and a full decode tell about one image file.

    Args:
        format: PIL's format name ("JPEG", "PNG", ...).
        mode: PIL's mode of the stored pixels ("RGB", "L", "P", "CMYK", "I;16", ...).
        width: Width after EXIF orientation is applied (what a viewer shows).
        height: Height after EXIF orientation is applied.
        orientation: The EXIF orientation value (1 = as stored).
        frames: Number of frames (animations; only the first is used).
        has_alpha: Whether transparency has to be composited on white.
        encoding: The file's encoding kind (``encoding_kind``), empty when not known.
    """

    format: str
    mode: str
    width: int
    height: int
    orientation: int = 1
    frames: int = 1
    has_alpha: bool = False
    encoding: str = ""


def is_image_path(path: str | os.PathLike) -> bool:
    """Whether the file name ends like an image this project reads."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_bytes(path: str | os.PathLike) -> bytes:
    """The contents of a file, or ``ImageFileError`` ("unreadable") naming it."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        detail = f"cannot read file ({error.strerror or error})"
        raise ImageFileError(str(path), REASON_UNREADABLE, detail) from error


def _open(data: bytes, name: str) -> Image.Image:
    if not data:
        raise ImageFileError(name, REASON_EMPTY, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Huge or odd files warn; they are either read or rejected by the full decode.
            warnings.simplefilter("ignore")
            return Image.open(io.BytesIO(data))
    except UnidentifiedImageError as error:
        detail = "not an image (PIL cannot identify the file)"
        raise ImageFileError(name, REASON_NOT_IMAGE, detail) from error
    except OSError as error:
        if error.errno is not None:  # the file system refused (permissions, I/O error)
            detail = f"cannot read file ({error.strerror or error})"
            raise ImageFileError(name, REASON_UNREADABLE, detail) from error
        detail = f"truncated or corrupt image ({error})"
        raise ImageFileError(name, REASON_CORRUPT, detail) from error


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
    except Exception:  # a broken EXIF block must not reject an otherwise good image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode as 8-bit RGB; transparency is composited on a white background."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (or 32-bit integer) grey: scale the full range down to 8 bits.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(np.round(values * (255.0 / top)), 0, 255).astype(np.uint8)
        image = Image.fromarray(grey, mode="L")
    elif image.mode == "F":
        grey = np.clip(np.round(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)
        image = Image.fromarray(grey, mode="L")
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # convert() handles CMYK (with Adobe's inverted flag), palettes, 1-bit, grey and YCbCr.
    return image if image.mode == "RGB" else image.convert("RGB")


def _decode(image: Image.Image, name: str, *, grey: bool = False
            ) -> tuple[Image.Image, ImageInfo]:
    """The fully decoded, upright RGB (with ``grey``: L) image and its info."""
    # What the stored file says, read before decoding changes the image.
    stored = {"format": image.format or "unknown", "mode": image.mode,
              "orientation": _orientation(image), "frames": int(getattr(image, "n_frames", 1)),
              "has_alpha": _has_alpha(image)}
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise DataError(
            f"{name}: PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on, so broken files would pass; "
            "turn it off"
        )
    try:
        image.seek(0)
        if grey and image.format == "JPEG" and image.mode == "RGB":
            # Only the luma channel: libjpeg still entropy-decodes every component (broken data
            # fails as in a full decode) but skips most of the chroma work.
            image.draft("L", image.size)
        image.load()  # a full decode: truncated data fails here, not at open
        upright = ImageOps.exif_transpose(image) if stored["orientation"] != 1 else image
        if not grey:
            decoded = _to_rgb(upright)
        else:
            decoded = upright if upright.mode == "L" else _to_rgb(upright).convert("L")
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
        detail = f"truncated or corrupt image ({error})"
        raise ImageFileError(name, REASON_CORRUPT, detail) from error
    width, height = decoded.size
    if decoded.mode != ("L" if grey else "RGB") or width == 0 or height == 0:
        detail = f"decoded to an unusable shape {(height, width, len(decoded.getbands()))}"
        raise ImageFileError(name, REASON_CORRUPT, detail)
    return decoded, ImageInfo(width=int(width), height=int(height), **stored)


def decode_image(
    data: bytes, *, name: str = "<bytes>", min_side: int | None = None, grey: bool = False
) -> tuple[Image.Image, ImageInfo]:
    """Decode file contents in memory as ``load_image`` does, as a PIL image, with its info.

    Args:
        data: The raw file contents.
        name: How the file is named in error messages.
        min_side: Reject images whose shorter side is below this many pixels.
        grey: Return an upright grey (mode L) image: what the scan hashes. A colour JPEG then
            decodes only its luma channel (Y of YCbCr, computed by the encoder with the weights
            of PIL's L conversion); broken files fail exactly as without ``grey``. The
            ``ImageInfo`` keeps the stored mode.
    """
    with _open(data, name) as image:
        encoding = encoding_kind(image, data)  # before decoding: draft() changes the mode
        decoded, info = _decode(image, name, grey=grey)
    if min_side is not None and min(info.width, info.height) < min_side:
        detail = (f"too small ({info.width}x{info.height}, the shorter side must be at least "
                  f"{min_side} px)")
        raise ImageFileError(name, REASON_TOO_SMALL, detail)
    return decoded, replace(info, encoding=encoding)


def encoding_kind(image: Image.Image, data: bytes) -> str:
    """What decides how a decoder reads a file, as one string.

    The format, the stored mode, the parity of width and height (chroma upsampling at odd
    edges); for JPEG the coding process, the sampling factors and the Adobe transform; for PNG
    interlacing and gamma. Decoders built on the same libraries take one code path for all files
    of a kind, so they agree or disagree on a kind as a whole (``discovery.TensorFlowAgreement``).

    Args:
        image: The opened (not yet converted) PIL image of ``data``.
        data: The file's bytes.
    """
    parts = [image.format or "unknown", image.mode, f"{image.width % 2}{image.height % 2}"]
    if image.format == "JPEG":
        marker = _jpeg_frame_marker(data)
        parts.append(f"SOF{marker - 0xC0}" if marker is not None else "SOF?")
        parts.append(",".join(f"{layer[1]}x{layer[2]}" for layer in getattr(image, "layer", [])))
        parts.append(f"adobe{image.info.get('adobe_transform', '-')}")
    elif image.format == "PNG":
        parts.append(f"interlace{image.info.get('interlace', 0)}")
        parts.append("gamma" if "gamma" in image.info else "nogamma")
    return " ".join(parts)


def _jpeg_frame_marker(data: bytes) -> int | None:
    """The start-of-frame marker of a JPEG, found by walking the segments before it."""
    position = 2  # after the start-of-image marker
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker in JPEG_FRAME_MARKERS:
            return marker
        if marker == 0xFF:  # a fill byte before the marker
            position += 1
            continue
        position += 2 + int.from_bytes(data[position + 2:position + 4], "big")
    return None


def load_image(path: str | os.PathLike, *, min_side: int | None = None) -> np.ndarray:
    """Read any supported image file as upright 8-bit RGB.

    Applies the EXIF orientation, takes the first frame of animations, composites transparency
    on white and converts CMYK, 16-bit, palette and grey images to RGB.

    Args:
        path: The image file.
        min_side: Reject images whose shorter side is below this many pixels.

    Returns:
        A uint8 array of shape (height, width, 3).

    Raises:
        DataError: "<path>: <reason>" for an empty, truncated or corrupt file, a file that is
            not an image, or an image that is too small.
    """
    rgb = decode_image(read_bytes(path), name=str(path), min_side=min_side)[0]
    return np.asarray(rgb, dtype=np.uint8)


def probe(path: str | os.PathLike) -> ImageInfo:
    """Format, mode, upright size, orientation and frame count of an image, by a full decode.

    Raises:
        DataError: as ``load_image``.
    """
    with _open(read_bytes(path), str(path)) as image:
        return _decode(image, str(path))[1]


def choose_decoder(info: ImageInfo) -> str:
    """"tf" when ``tf_decode`` gives the same pixels as ``load_image``, else "pil".

    That holds for 8-bit RGB or grey JPEG and PNG and RGB BMP files without an EXIF rotation,
    transparency or animation.
    """
    tf_reads_it = (
        info.mode in TF_MODES.get(info.format, ())
        and info.orientation == 1
        and not info.has_alpha
        and info.frames == 1
    )
    return "tf" if tf_reads_it else "pil"


def tf_decode(contents):
    """The "tf" decoder, as TensorFlow ops for ``tf.data``: a scalar string tensor of file
    contents to a uint8 (height, width, 3) tensor.

    JPEGs use ``dct_method="INTEGER_ACCURATE"``, the IDCT PIL uses; TensorFlow's default is
    off by up to 4 levels.
    """
    import tensorflow as tf

    pixels = tf.cond(
        tf.io.is_jpeg(contents),
        lambda: _tf_decode_jpeg(contents),
        lambda: _tf_decode_other(contents),
    )
    pixels.set_shape([None, None, 3])
    return pixels


def tf_decode_bytes(data: bytes) -> np.ndarray:
    """``tf_decode`` of file contents in memory, run eagerly.

    The op is chosen in Python (an eager ``tf.cond`` costs a third of a JPEG's decoding).

    Raises:
        tensorflow.errors.OpError: TensorFlow cannot decode the file.
    """
    decode = _tf_decode_jpeg if data[:3] == JPEG_SIGNATURE else _tf_decode_other
    return decode(data).numpy()


def _tf_decode_jpeg(contents):
    import tensorflow as tf

    return tf.io.decode_jpeg(contents, channels=3, dct_method="INTEGER_ACCURATE")


def _tf_decode_other(contents):
    import tensorflow as tf

    return tf.io.decode_image(contents, channels=3, expand_animations=False)

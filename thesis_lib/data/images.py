"""The one reference image decoder, and the rule that says which decoder the pipeline may use.

Web-scraped emotion datasets hold every kind of file: CMYK and 16-bit images, palettes with
transparency, animated GIFs, phone photos that are stored sideways with an EXIF orientation tag,
and broken or mislabelled files. ``load_image`` turns all of them into the same thing, an 8-bit
RGB array, with PIL, or raises ``DataError`` naming the file.

TensorFlow's own decoders are much faster inside ``tf.data`` but read fewer cases correctly
(no EXIF orientation, no CMYK, no alpha compositing, no 16-bit). ``choose_decoder`` marks a
file "tf" only when ``tf.io.decode_image`` gives the same pixels as ``load_image``; every other
file is decoded by ``load_image`` in the pipeline.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import asdict, dataclass, replace
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

WHITE = (255, 255, 255)

# The first bytes of every JPEG file; ``tf.io.is_jpeg`` tests exactly these.
JPEG_SIGNATURE = b"\xff\xd8\xff"

# JPEG start-of-frame markers (0xC0-0xCF without DHT 0xC4, JPG 0xC8 and DAC 0xCC): the coding
# process (baseline, extended, progressive, lossless; Huffman or arithmetic), which decides
# whether a decoder supports a file at all.
JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


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


# Short categories for skip reports (the scanner adds its own for paths and labels).
REASON_EMPTY = "empty file"
REASON_NOT_IMAGE = "not an image"
REASON_CORRUPT = "truncated or corrupt"
REASON_TOO_SMALL = "too small"
REASON_UNREADABLE = "unreadable"


@dataclass(frozen=True)
class ImageInfo:
    """What a header and a full decode tell about one image file.

    Args:
        format: PIL's format name ("JPEG", "PNG", ...).
        mode: PIL's mode of the stored pixels ("RGB", "L", "P", "CMYK", "I;16", ...).
        width: Width after EXIF orientation is applied (what a viewer shows).
        height: Height after EXIF orientation is applied.
        orientation: The EXIF orientation value (1 = as stored).
        frames: Number of frames (GIF/WebP/TIFF animations; only the first is used).
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

    def as_dict(self) -> dict:
        return asdict(self)


def is_image_path(path: str | os.PathLike) -> bool:
    """Whether the file name ends like an image this project reads."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_bytes(path: str | os.PathLike) -> bytes:
    """The contents of a file; ``ImageFileError`` ("unreadable") naming it when it cannot be
    read."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        detail = f"cannot read file ({error.strerror or error})"
        raise ImageFileError(str(path), REASON_UNREADABLE, detail) from error


def _open(data: bytes, name: str) -> Image.Image:
    """Open an image from the bytes of its file, with a clear error."""
    if not data:
        raise ImageFileError(name, REASON_EMPTY, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Huge or odd files warn; they are either read or rejected below.
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
        background = Image.new("RGBA", rgba.size, WHITE + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode == "RGB":
        return image  # already what is wanted; convert() would only copy it
    # PIL converts CMYK (with Adobe's inverted flag handled by the JPEG plugin), palettes,
    # 1-bit, grey and YCbCr images to RGB here.
    return image.convert("RGB")


def _to_grey(image: Image.Image) -> Image.Image:
    return image if image.mode == "L" else _to_rgb(image).convert("L")


def _decode(image: Image.Image, name: str, *, grey: bool = False
            ) -> tuple[Image.Image, ImageInfo]:
    """The fully decoded, upright RGB (with ``grey``: L) image and its info."""
    frames = getattr(image, "n_frames", 1)
    orientation = _orientation(image)
    has_alpha = _has_alpha(image)
    stored_format, stored_mode = image.format or "unknown", image.mode
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise DataError(
            f"{name}: PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on, so broken files would pass; "
            "turn it off"
        )
    try:
        image.seek(0)
        if grey and image.format == "JPEG" and image.mode == "RGB":
            # Only the luma channel: libjpeg still reads and entropy-decodes every component
            # (truncated or corrupt data fails as in a full decode) but skips the chroma's
            # inverse DCT, upsampling and colour conversion, most of the decoding work.
            image.draft("L", image.size)
        image.load()  # a full decode: truncated data fails here, not at open
        upright = ImageOps.exif_transpose(image) if orientation != 1 else image
        decoded = _to_grey(upright) if grey else _to_rgb(upright)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
        detail = f"truncated or corrupt image ({error})"
        raise ImageFileError(name, REASON_CORRUPT, detail) from error
    width, height = decoded.size
    if decoded.mode != ("L" if grey else "RGB") or width == 0 or height == 0:
        detail = f"decoded to an unusable shape {(height, width, len(decoded.getbands()))}"
        raise ImageFileError(name, REASON_CORRUPT, detail)
    info = ImageInfo(
        format=stored_format,
        mode=stored_mode,
        width=int(width),
        height=int(height),
        orientation=orientation,
        frames=int(frames),
        has_alpha=has_alpha,
    )
    return decoded, info


def _check_size(info: ImageInfo, min_side: int | None, name: str) -> None:
    if min_side is not None and min(info.width, info.height) < min_side:
        detail = (
            f"too small ({info.width}x{info.height}, the shorter side must be at least "
            f"{min_side} px)"
        )
        raise ImageFileError(name, REASON_TOO_SMALL, detail)


def decode_image(
    data: bytes, *, name: str = "<bytes>", min_side: int | None = None, grey: bool = False
) -> tuple[Image.Image, ImageInfo]:
    """``decode_bytes`` as an upright mode "RGB" PIL image, for callers that go on working
    with PIL (hashing, resizing); returns it and the file's ``ImageInfo``.

    Args:
        grey: Decode as ``decode_grey`` does.
    """
    with _open(data, name) as image:
        encoding = encoding_kind(image, data)  # before decoding: draft() changes the mode
        decoded, info = _decode(image, name, grey=grey)
        info = replace(info, encoding=encoding)
    _check_size(info, min_side, name)
    return decoded, info


def decode_grey(data: bytes, *, name: str = "<bytes>", min_side: int | None = None
                ) -> tuple[Image.Image, ImageInfo]:
    """``decode_image`` as an upright grey (mode L) PIL image: what the scan hashes.

    A colour JPEG decodes only its luma channel (Y of YCbCr, which the encoder computed
    from RGB with the weights PIL's L conversion uses), every other file is fully decoded
    and converted: truncated, corrupt and unusable files fail exactly as in ``decode_image``.
    The ``ImageInfo`` keeps the stored mode (e.g. "RGB").
    """
    return decode_image(data, name=name, min_side=min_side, grey=True)


def encoding_kind(image: Image.Image, data: bytes) -> str:
    """What decides how a decoder reads a file, as one string: the format, the stored mode, the
    parity of width and height (chroma upsampling at odd edges) and, for JPEG, the coding
    process (frame marker), each component's sampling factors and the Adobe colour transform;
    for PNG, interlacing and a gamma chunk.

    Two decoders built on the same libraries take the same code path for all files of one
    kind, so they agree or disagree on a kind as a whole (the scan relies on this, with a
    fallback, see ``discovery.TensorFlowAgreement``).

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
    """The start-of-frame marker of JPEG file contents (0xC0 baseline, 0xC2 progressive, ...),
    found by walking the marker segments that precede it; None if there is none."""
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


def decode_bytes(
    data: bytes, *, name: str = "<bytes>", min_side: int | None = None
) -> tuple[np.ndarray, ImageInfo]:
    """``load_image`` of file contents already in memory, with the file's ``ImageInfo``.

    Args:
        data: The raw file contents.
        name: How the file is named in error messages.
        min_side: Reject images whose shorter side is below this many pixels.
    """
    rgb, info = decode_image(data, name=name, min_side=min_side)
    return np.asarray(rgb, dtype=np.uint8), info


def load_image(path: str | os.PathLike, *, min_side: int | None = None) -> np.ndarray:
    """Read any supported image file as upright 8-bit RGB.

    Applies the EXIF orientation, takes the first frame of animations, composites
    transparency (RGBA, LA, palettes with a transparent colour) on white and converts CMYK,
    16-bit, palette and grey images to RGB.

    Args:
        path: The image file.
        min_side: Reject images whose shorter side is below this many pixels.

    Returns:
        A uint8 array of shape (height, width, 3).

    Raises:
        DataError: "<path>: <reason>" for an empty, truncated or corrupt file, a file that is
            not an image, or an image that is too small.
    """
    return decode_bytes(read_bytes(path), name=str(path), min_side=min_side)[0]


def probe(path: str | os.PathLike) -> ImageInfo:
    """Format, mode, upright size, orientation and frame count of an image, by a full decode.

    Raises:
        DataError: as ``load_image``.
    """
    name = str(path)
    with _open(read_bytes(path), name) as image:
        return _decode(image, name)[1]


def choose_decoder(info: ImageInfo) -> str:
    """"tf" when ``tf.io.decode_image(..., channels=3)`` gives the same pixels as ``load_image``.

    That holds for 8-bit RGB or grey JPEG and PNG files and RGB BMP files without an EXIF
    rotation and without transparency. Everything else ("pil") must go through ``load_image``.
    """
    tf_reads_it = (
        info.mode in TF_MODES.get(info.format, ())
        and info.orientation == 1
        and not info.has_alpha
        and info.frames == 1
    )
    return "tf" if tf_reads_it else "pil"


def tf_decode(contents):
    """The "tf" decoder: TensorFlow ops (usable inside ``tf.data`` maps) giving, for files that
    ``choose_decoder`` routes to "tf", exactly the pixels of ``load_image``.

    JPEGs are decoded with ``dct_method="INTEGER_ACCURATE"``, libjpeg's accurate integer
    IDCT that PIL uses; TensorFlow's default (fast) IDCT is off by up to 4 levels.

    Args:
        contents: A scalar string tensor with the file's bytes.

    Returns:
        A uint8 tensor of shape (height, width, 3).
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
    """``tf_decode`` of file contents in memory, run eagerly, as uint8 (H, W, 3) pixels.

    The op is chosen in Python by the test ``tf.io.is_jpeg`` makes (the first three bytes),
    since an eager ``tf.cond`` costs a third of the decoding of a 500 x 375 JPEG.

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

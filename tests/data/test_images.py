"""The reference decoder: every handled format and mode, every rejected file."""

from __future__ import annotations

import numpy as np
import pytest
from dataset_builders import pattern, write_image
from PIL import Image

from thesis_lib.data import images
from thesis_lib.data.images import choose_decoder, load_image, probe
from thesis_lib.errors import DataError


def composite_on_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The alpha-over-white formula, independent of PIL."""
    a = alpha.astype(np.float64)[..., None] / 255.0
    return np.round(rgb * a + 255.0 * (1 - a)).astype(np.int64)


def test_rgba_png_is_composited_on_white(tmp_path):
    rgb = pattern(32, 32, seed=1)
    alpha = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (32, 1))
    path = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, alpha]), mode="RGBA").save(path)
    pixels = load_image(path)
    assert pixels.dtype == np.uint8 and pixels.shape == (32, 32, 3)
    np.testing.assert_allclose(pixels, composite_on_white(rgb, alpha), atol=1)
    assert (pixels[:, 0] == 255).all()  # fully transparent column is white


def test_la_png_is_composited_on_white(tmp_path):
    grey = np.full((32, 32), 100, np.uint8)
    alpha = np.full((32, 32), 128, np.uint8)
    path = tmp_path / "la.png"
    Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)]).save(path)
    expected = composite_on_white(np.dstack([grey] * 3), alpha)
    np.testing.assert_allclose(load_image(path), expected, atol=1)


def test_palette_with_transparent_index_turns_white(tmp_path):
    indices = np.zeros((32, 32), np.uint8)
    indices[:, 16:] = 1
    image = Image.fromarray(indices, mode="P")
    image.putpalette([200, 10, 10, 0, 0, 255] + [0] * 762)
    path = tmp_path / "palette.png"
    image.save(path, transparency=1)
    pixels = load_image(path)
    assert (pixels[:, :16] == [200, 10, 10]).all()
    assert (pixels[:, 16:] == 255).all()


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    cmyk = np.zeros((32, 32, 4), np.uint8)
    cmyk[..., 0] = 255  # full cyan, no black: RGB (0, 255, 255)
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(cmyk, mode="CMYK").save(path, quality=95)
    assert probe(path).mode == "CMYK"
    pixels = load_image(path).astype(int)
    np.testing.assert_allclose(pixels.mean(axis=(0, 1)), [0, 255, 255], atol=4)


def test_sixteen_bit_png_is_scaled_to_eight_bits(tmp_path):
    values = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert probe(path).mode.startswith("I")
    expected = np.round(values / 65535 * 255).astype(np.uint8)
    np.testing.assert_array_equal(load_image(path), np.dstack([expected] * 3))


def test_grayscale_becomes_three_equal_channels(tmp_path):
    grey = pattern(40, 36)[..., 0]
    path = tmp_path / "grey.png"
    Image.fromarray(grey).save(path)
    np.testing.assert_array_equal(load_image(path), np.dstack([grey] * 3))


def test_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (32, 32), color) for color in [(255, 0, 0), (0, 0, 255)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50)
    assert probe(path).frames == 2
    assert (load_image(path) == [255, 0, 0]).all()


@pytest.mark.parametrize("name, options", [
    ("lossless.webp", {"lossless": True}),
    ("image.tiff", {}),
    ("image.bmp", {}),
    ("image.png", {}),
])
def test_lossless_formats_keep_exact_pixels(tmp_path, name, options):
    path = write_image(tmp_path / name, size=(40, 36), **options)
    np.testing.assert_array_equal(load_image(path), pattern(40, 36))


def test_exif_orientation_rotates_the_pixels(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high: left red, right blue
    stored[:, :20] = [255, 0, 0]
    stored[:, 20:] = [0, 0, 255]
    exif = Image.Exif()
    exif[images.EXIF_ORIENTATION_TAG] = 6  # display rotated 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    pixels = load_image(path).astype(int)
    expected = np.rot90(stored, k=-1).astype(int)  # clockwise: red ends up on top
    assert pixels.shape == (40, 20, 3)
    assert np.abs(pixels - expected).mean() < 8
    info = probe(path)
    assert (info.width, info.height, info.orientation) == (20, 40, 6)


def test_rejected_files_name_the_file_and_the_reason(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.touch()
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture")
    whole = write_image(tmp_path / "whole.jpg", size=(64, 64)).read_bytes()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(whole[: len(whole) // 2])
    small = write_image(tmp_path / "small.png", size=(20, 50))
    cases = [(empty, images.REASON_EMPTY), (text, images.REASON_NOT_IMAGE),
             (truncated, images.REASON_CORRUPT), (small, images.REASON_TOO_SMALL)]
    for path, reason in cases:
        with pytest.raises(DataError, match=str(path)) as caught:
            load_image(path, min_side=32)
        assert caught.value.reason == reason
        # The scan's grey decoding rejects the same files for the same reasons.
        with pytest.raises(DataError, match=str(path)) as caught:
            images.decode_image(path.read_bytes(), name=str(path), min_side=32, grey=True)
        assert caught.value.reason == reason
    with pytest.raises(DataError, match="cannot read"):
        load_image(tmp_path / "missing.jpg")


def test_decoder_rule():
    def info(**changes):
        base = {"format": "JPEG", "mode": "RGB", "width": 8, "height": 8}
        return images.ImageInfo(**{**base, **changes})

    assert choose_decoder(info()) == "tf"
    assert choose_decoder(info(mode="L", format="PNG")) == "tf"
    assert choose_decoder(info(format="BMP")) == "tf"
    for changes in [{"mode": "CMYK"}, {"orientation": 6}, {"format": "PNG", "mode": "RGBA"},
                    {"format": "PNG", "mode": "RGB", "has_alpha": True},
                    {"format": "PNG", "mode": "I;16"}, {"format": "GIF", "mode": "P"},
                    {"format": "WEBP"}, {"format": "TIFF"}, {"format": "BMP", "mode": "P"}]:
        assert choose_decoder(info(**changes)) == "pil", changes


def test_encoding_kind_tells_apart_what_decoders_handle_differently(tmp_path):
    def kind(name, size=(48, 40), **options):
        data = write_image(tmp_path / name, size=size, **options).read_bytes()
        return images.decode_image(data)[1].encoding

    baseline = kind("a.jpg")
    assert baseline == "JPEG RGB 00 SOF0 2x2,1x1,1x1 adobe-"
    assert kind("b.jpg", quality=50) == baseline  # content and quality do not matter
    assert kind("c.jpg", progressive=True) == "JPEG RGB 00 SOF2 2x2,1x1,1x1 adobe-"
    assert kind("d.jpg", subsampling=0) == "JPEG RGB 00 SOF0 1x1,1x1,1x1 adobe-"
    assert kind("e.jpg", size=(47, 40)) == "JPEG RGB 10 SOF0 2x2,1x1,1x1 adobe-"
    assert kind("f.png") == "PNG RGB 00 interlace0 nogamma"
    assert kind("g.bmp") == "BMP RGB 00"


def test_the_frame_marker_is_found_after_any_segments():
    app = b"\xff\xe0\x00\x04ab"  # an APP0 segment of 4 bytes (length included)
    frame = b"\xff\xc2\x00\x11" + bytes(15)
    assert images._jpeg_frame_marker(b"\xff\xd8" + app + app + frame) == 0xC2
    assert images._jpeg_frame_marker(b"\xff\xd8" + app + b"\xff" + frame) == 0xC2  # fill byte
    assert images._jpeg_frame_marker(b"\xff\xd8" + app) is None  # cut before the frame
    assert images._jpeg_frame_marker(b"\xff\xd8\x00\x00junk") is None


def test_grey_decoding_is_the_luma_of_the_reference_decoding(tmp_path):
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, 20:] = [0, 0, 255]
    exif = Image.Exif()
    exif[images.EXIF_ORIENTATION_TAG] = 6
    rotated = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(rotated, exif=exif, quality=95)
    rgba = tmp_path / "alpha.png"
    Image.new("RGBA", (40, 30), (0, 0, 255, 0)).save(rgba)  # transparent: white
    files = [write_image(tmp_path / "a.jpg", size=(63, 41), quality=90), rotated, rgba,
             write_image(tmp_path / "b.png"), write_image(tmp_path / "c.jpg", subsampling=0)]
    for path in files:
        grey, info = images.decode_image(path.read_bytes(), name=str(path), grey=True)
        reference = Image.fromarray(load_image(path)).convert("L")
        assert grey.mode == "L" and grey.size == reference.size, path
        assert (info.width, info.height) == reference.size
        assert info.mode == probe(path).mode  # the stored mode, not the decoded one
        difference = np.abs(np.asarray(grey, int) - np.asarray(reference, int))
        # JPEG luma as the encoder stored it vs the L of the decoded RGB: apart from rounding,
        # and from clipping where upsampled chroma crosses a sharp colour edge.
        if path.suffix == ".jpg":
            assert difference.mean() < 0.5 and difference.max() <= 8, path
        else:
            assert difference.max() == 0, path


def test_files_routed_to_tensorflow_decode_to_the_same_pixels(tmp_path):
    import tensorflow as tf

    files = [write_image(tmp_path / "a.jpg", quality=90), write_image(tmp_path / "b.png"),
             write_image(tmp_path / "c.bmp")]
    grey = tmp_path / "d.jpg"
    Image.fromarray(pattern()[..., 1]).save(grey)
    for path in [*files, grey]:
        assert choose_decoder(probe(path)) == "tf"
        theirs = images.tf_decode(tf.io.read_file(str(path))).numpy()
        np.testing.assert_array_equal(load_image(path), theirs, err_msg=str(path))


def test_eager_tensorflow_decoding_is_the_pipelines_decoding(tmp_path):
    import tensorflow as tf

    files = [write_image(tmp_path / "a.jpg", quality=90), write_image(tmp_path / "b.png"),
             write_image(tmp_path / "c.bmp"), write_image(tmp_path / "d.gif")]
    for path in files:
        data = path.read_bytes()
        np.testing.assert_array_equal(images.tf_decode_bytes(data),
                                      images.tf_decode(tf.constant(data)).numpy(),
                                      err_msg=str(path))
    with pytest.raises(tf.errors.InvalidArgumentError):
        images.tf_decode_bytes(files[0].read_bytes()[:300])  # a truncated JPEG


def test_decode_image_gives_load_images_pixels_as_a_pil_image(tmp_path):
    rgba = np.dstack([pattern(32, 32, seed=2), np.full((32, 32), 90, np.uint8)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    paths = [write_image(tmp_path / "a.jpg"), tmp_path / "rgba.png"]
    for path in paths:
        image, info = images.decode_image(path.read_bytes(), name=str(path))
        assert image.mode == "RGB" and image.size == (info.width, info.height)
        np.testing.assert_array_equal(np.asarray(image), load_image(path))

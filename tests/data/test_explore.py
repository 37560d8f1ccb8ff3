"""Colour statistics against hand-computed values and the standard library; sample grids."""

from __future__ import annotations

import colorsys
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from thesis_lib.data.explore import (
    augmentation_grid,
    class_summary,
    colour_statistics,
    image_statistics,
    plot_statistics_by_class,
    sample_grid,
)
from thesis_lib.errors import DataError


def solid(rgb, width=40, height=30) -> np.ndarray:
    return np.tile(np.array(rgb, dtype=np.uint8), (height, width, 1))


def test_pure_red():
    stats = colour_statistics(solid((255, 0, 0)))
    # rg = 255, yb = 127.5 everywhere: no spread, so M = 0.3 * |(255, 127.5)|.
    assert stats["brightness"] == pytest.approx(1.0)
    assert stats["saturation"] == pytest.approx(1.0)
    assert stats["hue"] == pytest.approx(0.0, abs=1e-9)
    assert stats["colourfulness"] == pytest.approx(0.3 * math.hypot(255.0, 127.5))


def test_grey_has_no_hue_and_no_colour():
    stats = colour_statistics(solid((128, 128, 128)))
    assert stats["brightness"] == pytest.approx(128 / 255)
    assert stats["saturation"] == 0.0
    assert math.isnan(stats["hue"])
    assert stats["colourfulness"] == 0.0


def test_half_red_half_blue_uses_the_circular_mean_of_hue():
    pixels = np.concatenate([solid((255, 0, 0), 20), solid((0, 0, 255), 20)], axis=1)
    stats = colour_statistics(pixels)
    # Hues 0 and 240 degrees: the circular mean lies on the short arc, at 300 (not 120).
    assert stats["hue"] == pytest.approx(300.0)
    # rg takes 255 and 0, yb takes 127.5 and -255, each on half of the pixels.
    sigma = math.hypot(127.5, (127.5 + 255) / 2)
    mu = math.hypot(127.5, (127.5 - 255) / 2)
    assert stats["colourfulness"] == pytest.approx(sigma + 0.3 * mu)


def test_brightness_and_saturation_match_colorsys_on_random_pixels():
    pixels = np.random.default_rng(0).integers(0, 256, size=(6, 7, 3), dtype=np.uint8)
    hsv = [colorsys.rgb_to_hsv(*(pixel / 255.0)) for pixel in pixels.reshape(-1, 3)]
    stats = colour_statistics(pixels)
    assert stats["brightness"] == pytest.approx(np.mean([v for _, _, v in hsv]))
    assert stats["saturation"] == pytest.approx(np.mean([s for _, s, _ in hsv]))


def test_image_statistics_reads_files_with_size_and_format(tmp_path):
    Image.fromarray(solid((255, 0, 0), 300, 200)).save(tmp_path / "red.png")
    Image.fromarray(solid((0, 0, 255), 50, 60)).save(tmp_path / "blue.bmp")
    Image.fromarray(solid((128, 128, 128), 40, 30)).convert("L").save(tmp_path / "grey.png")

    stats = image_statistics([tmp_path / "red.png", tmp_path / "blue.bmp", tmp_path / "grey.png"])

    assert list(stats.columns) == ["path", "width", "height", "format", "brightness",
                                   "saturation", "hue", "colourfulness"]
    assert stats["path"].tolist() == [str(tmp_path / n) for n in ("red.png", "blue.bmp",
                                                                  "grey.png")]
    assert stats[["width", "height"]].values.tolist() == [[300, 200], [50, 60], [40, 30]]
    assert stats["format"].tolist() == ["PNG", "BMP", "PNG"]
    assert stats["hue"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    assert stats["hue"].iloc[1] == pytest.approx(240.0)
    assert stats["saturation"].iloc[2] == 0.0


def test_image_statistics_names_an_unreadable_file(tmp_path):
    (tmp_path / "fake.jpg").write_text("not an image")
    with pytest.raises(DataError, match="fake.jpg"):
        image_statistics([tmp_path / "fake.jpg"])


@pytest.fixture
def two_class_frame(tmp_path) -> pd.DataFrame:
    rows = []
    for label, colour in (("sadness", (40, 60, 120)), ("other", (230, 160, 40))):
        for index in range(5):
            path = tmp_path / label / f"{index}.png"
            path.parent.mkdir(exist_ok=True)
            Image.fromarray(solid(tuple(c + 3 * index for c in colour))).save(path)
            rows.append({"path": str(path), "label": label})
    return pd.DataFrame(rows)


def test_sample_grid_shows_one_row_per_class_reproducibly(two_class_frame):
    figure = sample_grid(two_class_frame, per_class=3, seed=1)
    again = sample_grid(two_class_frame.sample(frac=1.0, random_state=2), per_class=3, seed=1)

    assert isinstance(figure, Figure)
    assert len(figure.axes) == 6
    assert [ax.get_ylabel() for ax in figure.axes[::3]] == ["other", "sadness"]
    shown = [ax.images[0].get_array() for ax in figure.axes]
    shown_again = [ax.images[0].get_array() for ax in again.axes]
    assert all(np.array_equal(a, b) for a, b in zip(shown, shown_again, strict=True))
    # The "sadness" row shows blue images, the "other" row orange ones.
    assert all(image[0, 0, 2] > image[0, 0, 0] for image in shown[3:])
    assert all(image[0, 0, 0] > image[0, 0, 2] for image in shown[:3])


def test_sample_grid_leaves_empty_cells_for_small_classes(two_class_frame):
    figure = sample_grid(two_class_frame, per_class=7)
    assert sum(len(ax.images) for ax in figure.axes) == 10


def test_sample_grid_needs_the_label_column(two_class_frame):
    with pytest.raises(DataError, match="class"):
        sample_grid(two_class_frame, label_column="class")


def test_statistics_plot_has_one_panel_per_statistic(two_class_frame):
    stats = image_statistics(two_class_frame["path"]).assign(label=two_class_frame["label"])
    figure = plot_statistics_by_class(stats)
    assert [ax.get_title() for ax in figure.axes] == ["brightness", "saturation", "hue",
                                                      "colourfulness"]


def test_augmentation_grid_shows_originals_and_their_augmented_copies(two_class_frame):
    paths = two_class_frame["path"].iloc[[0, 5]]
    figure = augmentation_grid(paths, lambda batch: 255 - batch, copies=2, image_size=16)

    assert len(figure.axes) == 6
    shown = [ax.images[0].get_array() for ax in figure.axes]
    assert all(image.shape == (16, 16, 3) for image in shown)
    for row in range(2):
        original, first, second = shown[3 * row: 3 * row + 3]
        np.testing.assert_array_equal(first, 255 - original)
        np.testing.assert_array_equal(second, 255 - original)


def test_class_summary_averages_hue_on_the_circle():
    stats = pd.DataFrame({
        "label": ["a", "a", "b", "b", "b"],
        "brightness": [0.2, 0.4, 0.5, 0.6, 0.7],
        "saturation": [0.1, 0.3, 0.0, 0.5, 1.0],
        "hue": [350.0, 10.0, 100.0, 140.0, np.nan],
        "colourfulness": [10.0, 20.0, 30.0, 30.0, 30.0],
    })
    summary = class_summary(stats)

    assert summary.index.tolist() == ["a", "b"]
    assert summary["images"].tolist() == [2, 3]
    assert summary.loc["a", "hue_mean"] % 360 == pytest.approx(0.0, abs=1e-9)
    assert summary.loc["b", "hue_mean"] == pytest.approx(120.0)
    assert summary.loc["a", "brightness_mean"] == pytest.approx(0.3)
    assert summary.loc["a", "brightness_sd"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert summary.loc["b", "colourfulness_sd"] == 0.0


def test_hue_matches_colorsys_on_random_pixels():
    pixels = np.random.default_rng(1).integers(0, 256, size=(1, 1, 3), dtype=np.uint8)
    for pixel in np.random.default_rng(2).integers(0, 256, size=(50, 3), dtype=np.uint8):
        pixels[0, 0] = pixel
        hue, saturation, _ = colorsys.rgb_to_hsv(*(pixel / 255.0))
        stats = colour_statistics(pixels)
        if saturation == 0:
            assert math.isnan(stats["hue"])
        else:
            assert stats["hue"] == pytest.approx(360.0 * hue, abs=1e-6)

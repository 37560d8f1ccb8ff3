"""Per-image colour statistics and sample grids for looking at a dataset before training.

The statistics are the low-level cues that image-emotion work relates to affect (Machajdik &
Hanbury 2010) and that Gram matrices capture: brightness, saturation, hue and colourfulness.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image
from scipy.stats import circmean, circstd

from thesis_lib.data.images import decode_image, load_image, read_bytes
from thesis_lib.errors import DataError

STATISTICS = ["brightness", "saturation", "hue", "colourfulness"]


def colour_statistics(pixels: np.ndarray) -> dict[str, float]:
    """Brightness, saturation, hue and colourfulness of one uint8 RGB image (H, W, 3).

    Returns:
        brightness: mean HSV value (max of R, G, B) in [0, 1].
        saturation: mean HSV saturation in [0, 1].
        hue: circular mean of the HSV hue in degrees [0, 360), each pixel weighted by its
            saturation (grey pixels have no hue); NaN for an image without any colour.
        colourfulness: the metric M of Hasler & Süsstrunk (2003) on the 0-255 scale: with
            rg = R - G and yb = (R + G) / 2 - B,
            M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2).
    """
    # Channel-first copies: reductions across a trailing axis of 3 are slow in numpy.
    red, green, blue = pixels.reshape(-1, 3).T.astype(np.float64)
    value, saturation, hue_turns = _hsv(red / 255.0, green / 255.0, blue / 255.0)
    angle = 2.0 * np.pi * hue_turns
    sine, cosine = np.sum(saturation * np.sin(angle)), np.sum(saturation * np.cos(angle))
    if np.hypot(sine, cosine) < 1e-9 * max(len(saturation), 1):
        hue = float("nan")
    else:
        hue = float(np.degrees(np.arctan2(sine, cosine)) % 360.0)
    rg = red - green
    yb = 0.5 * (red + green) - blue
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    return {
        "brightness": float(value.mean()),
        "saturation": float(saturation.mean()),
        "hue": hue,
        "colourfulness": float(colourfulness),
    }


def _hsv(red: np.ndarray, green: np.ndarray, blue: np.ndarray):
    """HSV value, saturation and hue (in turns) of RGB values in [0, 1], as ``colorsys``.

    matplotlib's ``rgb_to_hsv`` takes ~40 ms for a 256 px image; PIL's "HSV" mode truncates
    hue to 8 bits (up to 2.8 degrees off).
    """
    value = np.maximum(np.maximum(red, green), blue)
    chroma = value - np.minimum(np.minimum(red, green), blue)
    saturation = np.divide(chroma, value, out=np.zeros_like(value), where=value > 0)
    safe = np.where(chroma > 0, chroma, 1.0)
    sector = np.select(
        [value == red, value == green],
        [((green - blue) / safe) % 6.0, (blue - red) / safe + 2.0],
        (red - green) / safe + 4.0,
    )
    return value, saturation, np.where(chroma > 0, sector / 6.0, 0.0)


def image_statistics(
    paths: Iterable[str | os.PathLike], *, max_side: int | None = 128, workers: int | None = None
) -> pd.DataFrame:
    """Columns path, width, height, format and ``STATISTICS`` of image files, in input order.

    Args:
        paths: image files (any format ``load_image`` reads).
        max_side: the colour statistics are computed on a copy shrunk to this longer side
            (means barely change, and it is much faster); None for full size. width and
            height are always those of the full image.
        workers: threads decoding in parallel (default: the number of CPUs).

    Raises:
        DataError: naming the file, for a file that cannot be read as an image.
    """
    paths = [str(path) for path in paths]
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as executor:
        rows = list(executor.map(lambda path: _one_image(path, max_side), paths))
    return pd.DataFrame(rows, columns=["path", "width", "height", "format", *STATISTICS])


def _one_image(path: str, max_side: int | None) -> dict:
    decoded, info = decode_image(read_bytes(path), name=path)
    pixels = np.asarray(decoded, dtype=np.uint8)
    if max_side is not None and max(pixels.shape[:2]) > max_side:
        pixels = _thumbnail(pixels, max_side)
    return {"path": path, "width": info.width, "height": info.height, "format": info.format,
            **colour_statistics(pixels)}


def class_summary(statistics: pd.DataFrame, *, label_column: str = "label") -> pd.DataFrame:
    """One row per class (sorted): images, then <statistic>_mean and <statistic>_sd.

    Hue uses the circular mean and standard deviation in degrees (the mean of 350 and 10 is 0),
    leaving out images without any colour.

    Args:
        statistics: ``image_statistics`` output joined with a ``label_column``.
        label_column: the column holding the class names.
    """
    _check_columns(statistics, [label_column, *STATISTICS])
    rows = {}
    for name, group in statistics.groupby(label_column, sort=True):
        row = {"images": len(group)}
        for column in STATISTICS:
            values = group[column].dropna().to_numpy(dtype=float)
            if column == "hue":
                mean = circmean(values, high=360.0) if len(values) else np.nan
                spread = circstd(values, high=360.0) if len(values) else np.nan
            else:
                mean, spread = values.mean(), values.std(ddof=1) if len(values) > 1 else np.nan
            row[f"{column}_mean"], row[f"{column}_sd"] = float(mean), float(spread)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis(label_column)


def sample_grid(
    frame: pd.DataFrame,
    *,
    per_class: int = 6,
    seed: int = 0,
    label_column: str = "label",
    thumbnail_size: int = 128,
) -> Figure:
    """A figure (not attached to pyplot) with one row of randomly chosen images per class.

    Args:
        frame: a manifest with columns ``path`` and ``label_column``.
        per_class: images shown per class (fewer if a class has fewer).
        seed: seed of the random choice of images.
        label_column: the column holding the class names.
        thumbnail_size: longer side of each shown image in pixels.
    """
    _check_columns(frame, ["path", label_column])
    if frame.empty:
        raise DataError("sample_grid: the manifest has no images")
    classes = sorted(frame[label_column].unique())
    figure = Figure(figsize=(1.6 * per_class, 1.6 * len(classes)), layout="constrained")
    axes = figure.subplots(len(classes), per_class, squeeze=False)
    for row, class_name in enumerate(classes):
        members = frame[frame[label_column] == class_name].sort_values("path")
        chosen = members.sample(n=min(per_class, len(members)), random_state=seed)
        for column, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)
            if column < len(chosen):
                pixels = load_image(chosen["path"].iloc[column])
                ax.imshow(_thumbnail(pixels, thumbnail_size))
        axes[row, 0].set_ylabel(str(class_name))
    return figure


def augmentation_grid(
    paths: Iterable[str | os.PathLike],
    augment: Callable[[np.ndarray], np.ndarray],
    *,
    copies: int = 5,
    image_size: int = 128,
) -> Figure:
    """Each image next to ``copies`` augmented versions of it (one row per image).

    Args:
        paths: the images to show.
        augment: maps a uint8 batch (B, S, S, 3) to an augmented batch of the same shape,
            e.g. ``thesis_lib.data.augment.RandAugment(3, 7, seed=0)``.
        copies: augmented versions per image.
        image_size: images are squashed to ``image_size`` x ``image_size`` first.
    """
    paths = [str(path) for path in paths]
    if not paths:
        raise DataError("augmentation_grid: no images given")
    squashed = [Image.fromarray(load_image(path)).resize((image_size, image_size),
                                                         Image.Resampling.BILINEAR)
                for path in paths]
    originals = np.stack([np.asarray(image) for image in squashed])
    batch = np.repeat(originals, copies, axis=0)
    augmented = np.asarray(augment(batch)).reshape(len(paths), copies, image_size, image_size, 3)
    figure = Figure(figsize=(1.6 * (copies + 1), 1.6 * len(paths)), layout="constrained")
    axes = figure.subplots(len(paths), copies + 1, squeeze=False)
    for row, original in enumerate(originals):
        for column, ax in enumerate(axes[row]):
            shown = original if column == 0 else augmented[row, column - 1]
            ax.imshow(np.clip(shown, 0, 255).astype(np.uint8))
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("original")
    for column in range(1, copies + 1):
        axes[0, column].set_title(f"augmented {column}")
    return figure


def plot_statistics_by_class(
    statistics: pd.DataFrame, *, label_column: str = "label", columns: list[str] | None = None
) -> Figure:
    """Box plots of each colour statistic per class (one panel per statistic).

    Args:
        statistics: ``image_statistics`` output joined with a ``label_column``.
        label_column: the column holding the class names.
        columns: the statistics to plot (default: ``STATISTICS``).
    """
    columns = columns or STATISTICS
    _check_columns(statistics, [label_column, *columns])
    classes = sorted(statistics[label_column].unique())
    figure = Figure(figsize=(3.2 * len(columns), 3.2), layout="constrained")
    axes = figure.subplots(1, len(columns), squeeze=False)[0]
    for ax, column in zip(axes, columns, strict=True):
        groups = [statistics.loc[statistics[label_column] == name, column].dropna()
                  for name in classes]
        ax.boxplot(groups, tick_labels=[str(name) for name in classes])
        ax.set_title(column)
        ax.tick_params(axis="x", labelrotation=45)
    return figure


def _thumbnail(pixels: np.ndarray, size: int) -> np.ndarray:
    image = Image.fromarray(pixels)
    image.thumbnail((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image)


def _check_columns(frame: pd.DataFrame, required: list[str]) -> None:
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise DataError(f"the table lacks the column(s) {missing}; it has {list(frame.columns)}")

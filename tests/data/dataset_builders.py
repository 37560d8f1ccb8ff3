"""Builders of miniature datasets: tiny images written with PIL by the tests themselves."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image


def pattern(width: int = 48, height: int = 40, seed: int = 0) -> np.ndarray:
    """A smooth uint8 RGB test pattern (smooth, so JPEG keeps it close)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = rng.integers(40, 200, size=3)
    slope = rng.uniform(-1.5, 1.5, size=(3, 2))
    channels = [base[c] + slope[c, 0] * x + slope[c, 1] * y for c in range(3)]
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


def write_image(path: str | os.PathLike, *, size=(48, 40), seed: int = 0, **save_options) -> Path:
    """Write a test pattern of ``size`` (width, height) in the format of the file name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pattern(*size, seed=seed)).save(path, **save_options)
    return path


def make_class_folders(root: Path, classes: dict[str, int], *, size=(48, 40), seed=0) -> Path:
    """``root/<class>/<class>_<i>.jpg`` with the given number of images per class."""
    for class_index, (name, count) in enumerate(sorted(classes.items())):
        for index in range(count):
            write_image(root / name / f"{name}_{index:03d}.jpg", size=size,
                        seed=seed + 1000 * class_index + index)
    return root

"""The embedded demo dataset: procedural JPEGs whose class lives in colour and texture only.

Each image is a smooth background with random shapes (drawn independently of the class); the
class decides the style a Gram matrix captures, drawn around a prototype with a wide spread,
and ``label_noise`` of each class is drawn in another class's style (see docs/data.md).
Everything is drawn from ``numpy.random.default_rng((seed, class, image))``: the same pixels on
any machine, and the first ``n`` images of a class do not depend on ``images_per_class``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from thesis_lib import paths
from thesis_lib.data.labels import MIKELS8
from thesis_lib.errors import ConfigError, DataError

BINARY_CLASSES = ["other", "sadness"]

# Marker written last: a folder holding it with the same parameters is a complete demo set.
MARKER_NAME = ".demo.json"
# Bumped whenever the drawing code changes, so that stale demo folders are regenerated.
GENERATOR_VERSION = 1

DEFAULT_IMAGES_PER_CLASS = 150
DEFAULT_SIZE = (500, 375)
MIN_SIDE = 32


@dataclass(frozen=True)
class Style:
    """The class signal of one image: a point in colour/texture space.

    Args:
        value: mean HSV brightness in [0, 1].
        saturation: mean HSV saturation in [0, 1].
        hue: dominant hue in degrees (0 red, 30 orange, 120 green, 220 blue).
        frequency: texture frequency in stripe cycles per image width.
    """

    value: float
    saturation: float
    hue: float
    frequency: float


# Prototype style of each Mikels category. Positive emotions are brighter and warmer; sadness
# is dark, grey, blue and smooth; anger is saturated red with fine texture.
PROTOTYPES = {
    "amusement": Style(value=0.72, saturation=0.60, hue=40.0, frequency=9.0),
    "awe": Style(value=0.68, saturation=0.45, hue=200.0, frequency=4.0),
    "contentment": Style(value=0.66, saturation=0.45, hue=100.0, frequency=5.0),
    "excitement": Style(value=0.66, saturation=0.70, hue=15.0, frequency=13.0),
    "anger": Style(value=0.48, saturation=0.65, hue=0.0, frequency=15.0),
    "disgust": Style(value=0.48, saturation=0.40, hue=70.0, frequency=11.0),
    "fear": Style(value=0.36, saturation=0.35, hue=250.0, frequency=9.0),
    "sadness": Style(value=0.40, saturation=0.25, hue=215.0, frequency=3.5),
}
# Spread of the per-image style around its prototype; wide enough that classes overlap.
VALUE_SD = 0.12
SATURATION_SD = 0.12
HUE_SD = 35.0
LOG_FREQUENCY_SD = 0.45


@dataclass(frozen=True)
class DemoParameters:
    """Everything that determines the generated files (stored in the marker)."""

    num_classes: int
    images_per_class: int
    size: tuple[int, int]
    seed: int
    label_noise: float
    quality: int

    @property
    def class_names(self) -> list[str]:
        return BINARY_CLASSES if self.num_classes == 2 else MIKELS8[: self.num_classes]

    def as_json(self) -> dict:
        return {**asdict(self), "size": list(self.size), "version": GENERATOR_VERSION}


def make_demo_dataset(
    out_dir: str | os.PathLike,
    *,
    num_classes: int = 2,
    images_per_class: int = DEFAULT_IMAGES_PER_CLASS,
    size: tuple[int, int] = DEFAULT_SIZE,
    seed: int = 0,
    label_noise: float = 0.1,
    quality: int = 90,
    overwrite: bool = False,
) -> Path:
    """Write the demo dataset as ``out_dir/<class>/<class>_<i>.jpg``; the absolute folder.

    Nothing is written when the folder already holds a complete demo dataset of the same
    parameters.

    Args:
        out_dir: the dataset folder (relative paths are taken from the project root).
        num_classes: 2 gives the folders "sadness" and "other"; K in 3..8 the first K Mikels
            categories (``labels.MIKELS8``).
        images_per_class: number of images in each class folder.
        size: (width, height) of every image in pixels.
        seed: seed of every random choice.
        label_noise: fraction of each class drawn in the style of another class.
        quality: JPEG quality (1-95).
        overwrite: replace a demo dataset made with other parameters. A folder that is not a
            demo dataset, or one holding files a user added, is never deleted.
    """
    params = _validated_parameters(num_classes, images_per_class, size, seed, label_noise,
                                   quality)
    out_dir = paths.resolve(out_dir)
    if _is_complete(out_dir, params):
        return out_dir
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / MARKER_NAME).is_file():
            raise DataError(f"{out_dir} exists and is not a demo dataset; refusing to write "
                            "into it")
        _refuse_foreign_files(out_dir)
        if not overwrite:
            raise DataError(f"{out_dir} holds a demo dataset made with other parameters "
                            f"({_differences(read_marker(out_dir), params)}); choose another "
                            "folder or allow overwriting it")
    _generate_into(out_dir, params)
    return out_dir


def ensure_demo_dataset(out_dir: str | os.PathLike | None = None) -> Path:
    """The default demo dataset in ``out_dir`` (default ``paths.demo_data_dir()``), generated
    only when it is missing or incomplete."""
    out_dir = paths.demo_data_dir() if out_dir is None else paths.resolve(out_dir)
    # The defaults are read here, at call time (tests shrink them).
    return make_demo_dataset(out_dir, images_per_class=DEFAULT_IMAGES_PER_CLASS,
                             size=DEFAULT_SIZE, overwrite=True)


def read_marker(out_dir: str | os.PathLike) -> dict | None:
    """The parameters and file list stored with a demo dataset, or None if there is none."""
    marker = Path(out_dir) / MARKER_NAME
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None


def draw_style(class_name: str, rng: np.random.Generator) -> Style:
    """One image's style, drawn by ``rng`` around the prototype of ``class_name`` (a Mikels
    category, or "other": a random non-sad one)."""
    if class_name == "other":
        class_name = MIKELS8[rng.integers(len(MIKELS8) - 1)]
    prototype = PROTOTYPES[class_name]
    return Style(
        value=float(np.clip(rng.normal(prototype.value, VALUE_SD), 0.08, 0.95)),
        saturation=float(np.clip(rng.normal(prototype.saturation, SATURATION_SD), 0.0, 0.95)),
        hue=float(rng.normal(prototype.hue, HUE_SD) % 360.0),
        frequency=float(prototype.frequency * np.exp(rng.normal(0.0, LOG_FREQUENCY_SD))),
    )


def render_image(style: Style, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """One uint8 RGB image of ``size`` (width, height) in ``style``: background, random shapes
    and texture, drawn by ``rng``."""
    width, height = size
    # Coordinates in units of the image width (so texture frequency is per image width), as a
    # row and a column that broadcast to the full grid only where needed.
    x = np.arange(width, dtype=np.float32)[None, :] / np.float32(width)
    y = np.arange(height, dtype=np.float32)[:, None] / np.float32(width)
    hue, saturation, value = _background(style, x, y, rng)
    for _ in range(rng.integers(2, 7)):
        box, mask = _random_shape(x, y, rng)
        hue[box][mask] = (style.hue + rng.normal(0.0, 25.0)) % 360.0
        saturation[box][mask] = np.clip(style.saturation + rng.normal(0.0, 0.12), 0.0, 1.0)
        value[box][mask] = np.clip(style.value + rng.normal(0.0, 0.15), 0.03, 1.0)
    value *= _texture(style.frequency, x, y, rng)
    value += rng.normal(0.0, 0.015, size=value.shape).astype(np.float32)  # sensor-like grain
    hue_byte = np.round(hue * np.float32(256.0 / 360.0)) % 256  # hue wraps around
    planes = [hue_byte, np.round(saturation * 255.0), np.round(value * 255.0)]
    hsv = np.stack([np.clip(plane, 0, 255) for plane in planes], axis=-1)
    # PIL's HSV conversion is exact on 8-bit planes and much faster than a float version.
    return np.asarray(Image.fromarray(hsv.astype(np.uint8), mode="HSV").convert("RGB"))


def _background(style: Style, x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """HSV planes of a smooth background: a linear brightness gradient and a slow hue drift."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    ramp = (x - x.mean()) * np.float32(np.cos(angle)) + (y - y.mean()) * np.float32(np.sin(angle))
    value = np.float32(style.value) + np.float32(rng.uniform(0.1, 0.4)) * ramp
    drift = np.float32(rng.uniform(-20.0, 20.0))
    hue = (np.float32(style.hue) + drift * np.sin(np.float32(2.0 * np.pi) * ramp)) % 360.0
    saturation = np.full_like(ramp, style.saturation)
    return hue, saturation, value


def _random_shape(x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """A rotated ellipse or rectangle at a random place and size: the slices of the image
    holding its bounding square, and its boolean mask inside them."""
    centre_x = rng.uniform(0.0, x.max())
    centre_y = rng.uniform(0.0, y.max())
    half_u, half_v = rng.uniform(0.05, 0.25, size=2)
    angle = rng.uniform(0.0, np.pi)
    width = x.shape[1]
    reach = max(half_u, half_v) * np.sqrt(2.0)  # the shape lies inside this square
    columns = slice(max(0, int((centre_x - reach) * width)), int((centre_x + reach) * width) + 1)
    rows = slice(max(0, int((centre_y - reach) * width)), int((centre_y + reach) * width) + 1)
    dx, dy = x[:, columns] - centre_x, y[rows, :] - centre_y
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    if rng.random() < 0.5:
        mask = (u / half_u) ** 2 + (v / half_v) ** 2 <= 1.0
    else:
        mask = (np.abs(u) <= half_u) & (np.abs(v) <= half_v)
    return (rows, columns), mask


def _texture(frequency: float, x: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """Multiplicative brightness texture: three gratings around ``frequency``, random angles."""
    texture = np.ones((y.shape[0], x.shape[1]), dtype=np.float32)
    for _ in range(3):
        cycles = frequency * rng.uniform(0.8, 1.25)
        angle = rng.uniform(0.0, np.pi)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        # cos(a + b) = cos a cos b - sin a sin b: the grating from 1-D factors of x and y.
        along_x = (2.0 * np.pi * cycles * np.cos(angle)) * x
        along_y = (2.0 * np.pi * cycles * np.sin(angle)) * y + phase
        grating = np.cos(along_x) * np.cos(along_y) - np.sin(along_x) * np.sin(along_y)
        texture += np.float32(0.09) * grating.astype(np.float32)
    return texture


def _validated_parameters(num_classes, images_per_class, size, seed, label_noise, quality):
    if not isinstance(num_classes, int | np.integer) or not 2 <= num_classes <= 8:
        raise ConfigError(f"num_classes must be an integer from 2 to 8, got {num_classes!r}")
    if not isinstance(images_per_class, int | np.integer) or images_per_class < 1:
        raise ConfigError(f"images_per_class must be a positive integer, got {images_per_class!r}")
    try:
        width, height = (int(side) for side in size)
    except (TypeError, ValueError):
        raise ConfigError(f"size must be (width, height), got {size!r}") from None
    if min(width, height) < MIN_SIDE:
        raise ConfigError(f"size must be at least {MIN_SIDE} px on each side, got {size!r}")
    if not 0.0 <= label_noise < 1.0:
        raise ConfigError(f"label_noise must be in [0, 1), got {label_noise!r}")
    if not 1 <= quality <= 95:
        raise ConfigError(f"quality must be from 1 to 95, got {quality!r}")
    return DemoParameters(int(num_classes), int(images_per_class), (width, height), int(seed),
                          float(label_noise), int(quality))


def _refuse_foreign_files(out_dir: Path) -> None:
    """Refuse to replace a demo folder holding files a user put there (anything but the
    generated files and hidden ones)."""
    generated = set((read_marker(out_dir) or {}).get("files", []))
    for path in sorted(out_dir.rglob("*")):
        relative = path.relative_to(out_dir).as_posix()
        hidden = any(part.startswith(".") for part in path.relative_to(out_dir).parts)
        if path.is_file() and not hidden and relative not in generated:
            raise DataError(f"{out_dir} holds {relative}, which is not a generated demo file; "
                            "refusing to replace the folder")


def _differences(marker: dict | None, params: DemoParameters) -> str:
    """E.g. "seed 0 there, 1 asked" for the parameters that differ from the stored ones."""
    stored = (marker or {}).get("parameters", {})
    wanted = params.as_json()
    changed = [f"{key} {stored.get(key)} there, {value} asked" for key, value in wanted.items()
               if stored.get(key) != value]
    return "; ".join(changed) or "incomplete"


def _is_complete(out_dir: Path, params: DemoParameters) -> bool:
    marker = read_marker(out_dir)
    if marker is None or marker.get("parameters") != params.as_json():
        return False
    return all((out_dir / name).is_file() for name in marker.get("files", []))


def _noisy_indices(params: DemoParameters, class_index: int) -> set[int]:
    """Which images of a class are drawn in another class's style (a fixed count per class)."""
    count = int(round(params.label_noise * params.images_per_class))
    rng = np.random.default_rng([params.seed, class_index, 2**31 - 1])
    return set(rng.permutation(params.images_per_class)[:count].tolist())


def _generate_into(out_dir: Path, params: DemoParameters) -> None:
    """Write into a fresh sibling folder, then swap it in: no reader sees a half-written
    dataset, and concurrent callers do not write into the same files."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the dataset is an ordinary folder
    try:
        files, noisy = _write_images(staging, params)
        marker = {"generator": __name__, "parameters": params.as_json(), "files": files,
                  "noisy": noisy}
        (staging / MARKER_NAME).write_text(json.dumps(marker, indent=1))
        _swap_in(staging, out_dir, params)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_images(folder: Path, params: DemoParameters) -> tuple[list[str], list[str]]:
    """Render and save every image; returns the relative paths and those with a flipped style."""
    jobs = []
    for class_index, class_name in enumerate(params.class_names):
        (folder / class_name).mkdir()
        flipped = _noisy_indices(params, class_index)
        for image_index in range(params.images_per_class):
            relative = f"{class_name}/{class_name}_{image_index:04d}.jpg"
            jobs.append((relative, class_index, image_index, image_index in flipped))
    # Every image has its own generator, so the order the threads run in does not matter;
    # numpy and PIL release the GIL in the heavy loops, so threads use both cores.
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as executor:
        list(executor.map(lambda job: _write_one(folder, params, *job), jobs))
    files = [job[0] for job in jobs]
    noisy = [job[0] for job in jobs if job[3]]
    return files, noisy


def _write_one(folder: Path, params: DemoParameters, relative: str, class_index: int,
               image_index: int, flipped: bool) -> None:
    rng = np.random.default_rng([params.seed, class_index, image_index])
    style_class = params.class_names[class_index]
    if flipped:
        others = [name for name in params.class_names if name != style_class]
        style_class = others[rng.integers(len(others))]
    pixels = render_image(draw_style(style_class, rng), params.size, rng)
    Image.fromarray(pixels).save(folder / relative, format="JPEG", quality=params.quality)


def _swap_in(staging: Path, out_dir: Path, params: DemoParameters) -> None:
    if out_dir.exists():
        if _is_complete(out_dir, params):  # another process finished the same job first
            return
        # Only an old demo dataset (checked by the caller) is removed here.
        shutil.rmtree(out_dir)
    try:
        staging.rename(out_dir)
    except OSError:
        if not _is_complete(out_dir, params):
            raise

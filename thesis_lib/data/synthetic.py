"""A web-photo-like dataset with planted copies: the test bed of the data path at scale.

Each picture is a scene of its own: a sky-to-ground gradient, a horizon, a few objects (discs,
boxes, polygons) in random colours with soft shading, texture noise and a blur, saved as a JPEG
of web size (longer side 400-640 px). None of it carries a class signal: the dataset measures
scanning, auditing and deduplication, not learning.

On top, copies are planted with a known answer (``planted`` table):

- ``exact``: the original's bytes, another file name;
- ``resized``: the original at 50-80 % of its size, re-encoded at quality 70-85;
- ``reencoded``: the original at full size, re-encoded at quality 30-50.

A share of the copies (``cross_class``) is filed under another class than the original: the
label conflicts a scraped dataset holds. Every random choice comes from
``numpy.random.default_rng((seed, image))``: the same files on any machine.
"""

from __future__ import annotations

import io
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

from thesis_lib.data.labels import MIKELS8
from thesis_lib.errors import ConfigError

COPY_KINDS = ("exact", "resized", "reencoded")
# Written last into the dataset folder (hidden: the scan ignores it): the spec and the answer.
MARKER_NAME = ".webphoto.json"
PLANTED_COLUMNS = ["copy", "original", "kind", "cross_class"]


@dataclass(frozen=True)
class WebPhotoSpec:
    """What ``make_web_photo_dataset`` writes.

    Args:
        images: Files in all (originals and copies).
        exact_fraction: Share of the files that are byte copies of another.
        near_fraction: Share that are resized or re-encoded copies (half each).
        cross_class: Share of the copies filed under another class than their original.
        long_side: (smallest, largest) longer side of the originals in pixels.
        classes: Class folder names.
        seed: Seed of every random choice.
    """

    images: int = 61_074
    exact_fraction: float = 0.01
    near_fraction: float = 0.01
    cross_class: float = 0.2
    long_side: tuple[int, int] = (400, 640)
    classes: tuple[str, ...] = tuple(MIKELS8)
    seed: int = 0

    def check(self) -> None:
        if self.images < 10:
            raise ConfigError(f"images must be at least 10, got {self.images}")
        for name in ("exact_fraction", "near_fraction", "cross_class"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"{name} must lie in [0, 1], got {value}")
        if self.exact_fraction + self.near_fraction > 0.5:
            raise ConfigError("at most half of the files can be copies")
        if not 32 <= self.long_side[0] <= self.long_side[1]:
            raise ConfigError(f"long_side must be (min, max) with 32 <= min <= max, got "
                              f"{self.long_side}")
        if len(self.classes) < 2:
            raise ConfigError("at least two classes are needed")


def render_photo(rng: np.random.Generator, long_side: tuple[int, int]) -> Image.Image:
    """One random scene as an RGB image (see the module docstring)."""
    width = int(rng.integers(long_side[0], long_side[1] + 1))
    height = int(width * rng.uniform(0.56, 0.8))
    if rng.random() < 0.3:  # portrait
        width, height = height, width
    y = np.linspace(0.0, 1.0, height)[:, None]
    top, bottom = rng.integers(0, 256, size=(2, 3))
    horizon = rng.uniform(0.3, 0.7)
    ground = rng.integers(0, 256, size=3)
    sky = top + (bottom - top) * np.clip(y / horizon, 0, 1)
    land = ground + (bottom - ground) * 0.3 * np.clip((1 - y) / (1 - horizon), 0, 1)
    # One column of the gradient, stretched across (numpy on every pixel is 4 times slower).
    column = np.clip(np.where(y < horizon, sky, land), 0, 255).astype(np.uint8)[:, None, :]
    image = Image.fromarray(column).resize((width, height), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 9))):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x0, y0 = rng.uniform(-0.1, 0.9) * width, rng.uniform(-0.1, 0.9) * height
        w, h = rng.uniform(0.08, 0.5) * width, rng.uniform(0.08, 0.5) * height
        shape = rng.integers(3)
        if shape == 0:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        elif shape == 1:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            points = [(x0 + rng.uniform(0, w), y0 + rng.uniform(0, h)) for _ in range(5)]
            draw.polygon(points, fill=colour)
    # Grain drawn at half size and stretched, then a box blur: the look of a compressed photo.
    # (numpy's generator, not PIL's effect_noise, whose C rand() no seed reaches.)
    grain = 128 + rng.normal(0, rng.uniform(8, 30), size=(height // 2, width // 2))
    noise = Image.fromarray(np.clip(grain, 0, 255).astype(np.uint8))
    noise = noise.resize((width, height), Image.Resampling.BILINEAR).convert("RGB")
    image = Image.blend(image, noise, float(rng.uniform(0.05, 0.2)))
    return image.filter(ImageFilter.BoxBlur(int(rng.integers(0, 2))))


def jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    stream = io.BytesIO()
    image.save(stream, format="JPEG", quality=quality)
    return stream.getvalue()


def plan(spec: WebPhotoSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Which file is what, before anything is drawn.

    Returns:
        (files, planted): files has one row per file (relpath, label, kind "original" or a
        copy kind, original: the index of the file copied, -1 for originals); planted has
        ``PLANTED_COLUMNS`` (relpaths of copy and original).
    """
    spec.check()
    rng = np.random.default_rng([spec.seed, 2**32 - 1])
    exact = int(round(spec.exact_fraction * spec.images))
    near = int(round(spec.near_fraction * spec.images))
    originals = spec.images - exact - near
    labels = rng.integers(len(spec.classes), size=spec.images)
    sources = rng.choice(originals, size=exact + near, replace=False)
    kinds = ["exact"] * exact + [COPY_KINDS[1 + index % 2] for index in range(near)]
    cross = rng.random(exact + near) < spec.cross_class
    for index in np.flatnonzero(cross):  # another class than the original's
        shift = rng.integers(1, len(spec.classes))
        labels[originals + index] = (labels[sources[index]] + shift) % len(spec.classes)
    for index in np.flatnonzero(~cross):
        labels[originals + index] = labels[sources[index]]
    # Copies get numbers among the originals' (a shuffled numbering), as in a scraped folder.
    numbers = rng.permutation(spec.images)
    relpaths = [f"{spec.classes[label]}/img_{number:06d}.jpg"
                for label, number in zip(labels, numbers, strict=True)]
    files = pd.DataFrame({"relpath": relpaths,
                          "label": [spec.classes[label] for label in labels],
                          "kind": ["original"] * originals + kinds,
                          "original": np.concatenate([np.full(originals, -1), sources])})
    copies = files.iloc[originals:]
    planted = pd.DataFrame({"copy": copies["relpath"].to_numpy(),
                            "original": files["relpath"].to_numpy()[sources],
                            "kind": kinds, "cross_class": cross})
    return files, planted


def _write_range(out: str, spec: WebPhotoSpec, files: pd.DataFrame, indices: list[int]) -> None:
    for index in indices:
        row = files.iloc[index]
        source = index if row["original"] < 0 else int(row["original"])
        rng = np.random.default_rng([spec.seed, source])
        photo = render_photo(rng, spec.long_side)
        quality = int(rng.integers(85, 96))
        if row["kind"] in ("original", "exact"):
            data = jpeg_bytes(photo, quality)
        else:
            copy_rng = np.random.default_rng([spec.seed, index, 1])
            if row["kind"] == "resized":
                scale = copy_rng.uniform(0.5, 0.8)
                size = (max(32, round(photo.width * scale)), max(32, round(photo.height * scale)))
                data = jpeg_bytes(photo.resize(size, Image.Resampling.LANCZOS),
                                  int(copy_rng.integers(70, 86)))
            else:
                data = jpeg_bytes(photo, int(copy_rng.integers(30, 51)))
        Path(out, row["relpath"]).write_bytes(data)


def make_web_photo_dataset(out: str | os.PathLike, spec: WebPhotoSpec = WebPhotoSpec(), *,
                           workers: int | None = None) -> pd.DataFrame:
    """Write the dataset of ``spec`` into ``out/<class>/img_NNNNNN.jpg``; returns the planted
    copies (``PLANTED_COLUMNS``). Files already there are overwritten.

    Args:
        out: The dataset folder (created).
        spec: Size, copy shares and seed.
        workers: Processes drawing images (default: all cores).
    """
    files, planted = plan(spec)
    out = Path(out)
    for name in spec.classes:
        (out / name).mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    indices = list(range(len(files)))
    batches = [indices[start::workers * 8] for start in range(workers * 8)]
    if workers == 1:
        for batch in batches:
            _write_range(str(out), spec, files, batch)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_write_range, [str(out)] * len(batches), [spec] * len(batches),
                          [files] * len(batches), batches))
    marker = {"spec": asdict(spec), "planted": planted.to_dict(orient="list")}
    (out / MARKER_NAME).write_text(json.dumps(marker))
    return planted


def read_planted(out: str | os.PathLike, spec: WebPhotoSpec) -> pd.DataFrame | None:
    """The planted copies of a complete dataset of ``spec`` in ``out``, else None."""
    try:
        marker = json.loads(Path(out, MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None
    if marker.get("spec") != json.loads(json.dumps(asdict(spec))):
        return None
    return pd.DataFrame(marker["planted"], columns=PLANTED_COLUMNS)


def ensure_web_photo_dataset(out: str | os.PathLike, spec: WebPhotoSpec = WebPhotoSpec(), *,
                             workers: int | None = None) -> pd.DataFrame:
    """``make_web_photo_dataset`` unless ``out`` already holds that dataset; the planted
    copies."""
    planted = read_planted(out, spec)
    return planted if planted is not None else make_web_photo_dataset(out, spec,
                                                                      workers=workers)

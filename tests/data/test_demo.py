"""The procedural demo dataset: files, determinism, safety of existing folders, a real signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from thesis_lib.data import demo
from thesis_lib.data.explore import image_statistics
from thesis_lib.errors import ConfigError, DataError

SMALL = {"images_per_class": 4, "size": (64, 48)}


def file_bytes(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*.jpg"))}


def test_binary_dataset_is_jpeg_files_in_sadness_and_other_folders(tmp_path):
    out = demo.make_demo_dataset(tmp_path / "demo", images_per_class=3, size=(80, 60))

    assert out == tmp_path / "demo"
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["other", "sadness"]
    files = sorted(out.rglob("*.jpg"))
    assert len(files) == 6
    for path in files:
        with Image.open(path) as image:
            assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (80, 60))


@pytest.mark.parametrize("num_classes", [3, 8])
def test_multiclass_uses_the_first_mikels_categories(tmp_path, num_classes):
    mikels = ["amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear",
              "sadness"]
    out = demo.make_demo_dataset(tmp_path / "demo", num_classes=num_classes, images_per_class=1,
                                 size=(40, 32))
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == sorted(mikels[:num_classes])


def test_same_parameters_give_the_same_bytes_and_another_seed_does_not(tmp_path):
    first = file_bytes(demo.make_demo_dataset(tmp_path / "a", seed=3, **SMALL))
    again = file_bytes(demo.make_demo_dataset(tmp_path / "b", seed=3, **SMALL))
    other_seed = file_bytes(demo.make_demo_dataset(tmp_path / "c", seed=4, **SMALL))

    assert first == again
    assert first.keys() == other_seed.keys()
    assert all(first[name] != other_seed[name] for name in first)


def test_first_images_do_not_depend_on_the_number_per_class(tmp_path):
    few = file_bytes(demo.make_demo_dataset(tmp_path / "few", images_per_class=2,
                                            size=(64, 48), label_noise=0.0))
    more = file_bytes(demo.make_demo_dataset(tmp_path / "more", images_per_class=5,
                                             size=(64, 48), label_noise=0.0))
    assert all(more[name] == data for name, data in few.items())


def test_label_noise_flips_the_style_of_a_fixed_share_of_each_class(tmp_path):
    out = demo.make_demo_dataset(tmp_path / "demo", images_per_class=8, size=(40, 32),
                                 label_noise=0.25)
    noisy = demo.read_marker(out)["noisy"]
    assert sorted(Path(name).parent.name for name in noisy) == ["other"] * 2 + ["sadness"] * 2


def test_existing_dataset_with_same_parameters_is_not_rewritten(tmp_path):
    out = demo.make_demo_dataset(tmp_path / "demo", **SMALL)
    stamps = {path: path.stat().st_mtime_ns for path in out.rglob("*.jpg")}

    demo.make_demo_dataset(tmp_path / "demo", **SMALL)

    assert {path: path.stat().st_mtime_ns for path in out.rglob("*.jpg")} == stamps


def test_a_folder_that_is_not_a_demo_dataset_is_never_touched(tmp_path):
    own = tmp_path / "mine" / "notes.txt"
    own.parent.mkdir()
    own.write_text("keep me")

    with pytest.raises(DataError, match="not a demo dataset"):
        demo.make_demo_dataset(own.parent, overwrite=True, **SMALL)
    assert own.read_text() == "keep me"


def test_other_parameters_need_overwrite(tmp_path):
    out = demo.make_demo_dataset(tmp_path / "demo", **SMALL)

    with pytest.raises(DataError, match="seed 0 there, 1 asked"):
        demo.make_demo_dataset(out, seed=1, **SMALL)
    assert demo.read_marker(out)["parameters"]["seed"] == 0

    demo.make_demo_dataset(out, seed=1, overwrite=True, **SMALL)
    assert demo.read_marker(out)["parameters"]["seed"] == 1
    assert not list(tmp_path.glob(".demo-*")), "the staging folder must be cleaned up"


def test_ensure_generates_once_and_repairs_an_incomplete_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "DEFAULT_IMAGES_PER_CLASS", 3)
    monkeypatch.setattr(demo, "DEFAULT_SIZE", (48, 40))
    out = demo.ensure_demo_dataset(tmp_path / "demo")
    original = file_bytes(out)
    stamps = {path: path.stat().st_mtime_ns for path in out.rglob("*.jpg")}
    assert len(original) == 6

    assert demo.ensure_demo_dataset(tmp_path / "demo") == out
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*.jpg")} == stamps

    (out / "sadness" / "sadness_0001.jpg").unlink()
    demo.ensure_demo_dataset(tmp_path / "demo")
    assert file_bytes(out) == original


def test_ensure_defaults_to_the_project_demo_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "DEFAULT_IMAGES_PER_CLASS", 1)
    monkeypatch.setattr(demo, "DEFAULT_SIZE", (40, 32))
    monkeypatch.setattr(demo.paths, "demo_data_dir", lambda: tmp_path / "data" / "demo")
    assert demo.ensure_demo_dataset() == tmp_path / "data" / "demo"
    assert len(list((tmp_path / "data" / "demo").rglob("*.jpg"))) == 2


@pytest.mark.parametrize(
    "options",
    [{"num_classes": 1}, {"num_classes": 9}, {"images_per_class": 0}, {"size": (20, 64)},
     {"size": "big"}, {"label_noise": 1.0}, {"label_noise": -0.1}, {"quality": 0}],
)
def test_bad_parameters_are_refused_with_the_value(tmp_path, options):
    with pytest.raises(ConfigError):
        demo.make_demo_dataset(tmp_path / "demo", **options)
    assert not (tmp_path / "demo").exists()


def test_class_signal_is_learnable_from_colour_statistics_but_not_trivially(tmp_path):
    out = demo.make_demo_dataset(tmp_path / "demo", images_per_class=60, size=(96, 72))
    files = sorted(out.rglob("*.jpg"))
    stats = image_statistics(files)
    is_sad = np.array([path.parent.name == "sadness" for path in files])
    hue = np.radians(stats["hue"].fillna(0.0))
    features = np.column_stack([stats["brightness"], stats["saturation"],
                                stats["colourfulness"], np.sin(hue), np.cos(hue)])

    model = make_pipeline(StandardScaler(), LogisticRegression())
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    accuracy = cross_val_score(model, features, is_sad, cv=folds).mean()

    assert 0.65 < accuracy < 0.95
    # The documented direction of the signal: sad images are darker and greyer on average.
    assert stats["brightness"][is_sad].mean() < stats["brightness"][~is_sad].mean()
    assert stats["saturation"][is_sad].mean() < stats["saturation"][~is_sad].mean()


def test_files_added_by_a_user_block_the_replacement(tmp_path):
    out = demo.make_demo_dataset(tmp_path / "demo", **SMALL)
    added = out / "sadness" / "my_photo.jpg"
    added.write_bytes(b"mine")
    (out / ".thesis_scan_cache.json").write_text("{}")  # hidden caches do not count

    with pytest.raises(DataError, match="sadness/my_photo.jpg"):
        demo.make_demo_dataset(out, seed=1, overwrite=True, **SMALL)
    assert added.read_bytes() == b"mine"
    assert demo.read_marker(out)["parameters"]["seed"] == 0

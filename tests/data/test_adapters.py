"""Each public dataset layout, on a miniature copy of it built here."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from dataset_builders import make_class_folders, write_image

from thesis_lib.data import adapters
from thesis_lib.data.adapters import detect_adapter, read_dataset
from thesis_lib.errors import ConfigError, DataError


def make_emoset(root):
    items = {"train": [], "val": [], "test": []}
    for emotion in ("amusement", "sadness", "fear"):
        for index in range(5):
            stem = f"{emotion}_{index:05d}"
            write_image(root / "image" / emotion / f"{stem}.jpg", seed=index)
            annotation = root / "annotation" / emotion / f"{stem}.json"
            annotation.parent.mkdir(parents=True, exist_ok=True)
            annotation.write_text(json.dumps({"emotion": emotion, "image_id": stem}))
            split = "train" if index < 3 else ("val" if index == 3 else "test")
            items[split].append([emotion, f"image/{emotion}/{stem}.jpg",
                                 f"annotation/{emotion}/{stem}.json"])
    for split, rows in items.items():
        (root / f"{split}.json").write_text(json.dumps(rows))
    return root


def test_emoset_reads_split_files_and_annotations(tmp_path):
    root = make_emoset(tmp_path / "EmoSet-118K")
    assert detect_adapter(root) == "emoset"
    scan, name = read_dataset(root)
    manifest = scan.manifest.set_index("relpath")
    assert name == "emoset" and len(manifest) == 15
    assert manifest["split"].value_counts().to_dict() == {"train": 9, "val": 3, "test": 3}
    row = manifest.loc["image/fear/fear_00003.jpg"]
    assert (row["label"], row["split"]) == ("fear", "val")
    assert row["annotation"] == "annotation/fear/fear_00003.json"


def test_emoset_split_file_with_a_path_leaving_the_root_is_skipped(tmp_path):
    root = make_emoset(tmp_path / "emoset")
    rows = json.loads((root / "test.json").read_text())
    rows.append(["sadness", "../../etc/passwd.jpg", "x.json"])
    (root / "test.json").write_text(json.dumps(rows))
    scan, _ = read_dataset(root)
    assert scan.skipped["reason"].tolist() == ["outside dataset root"]


GROUND_TRUTH = """[image_filename]\t[valence]\t[arousal]\t[prob. anger]\t[prob. disgust]\t\
[prob. fear]\t[prob. joy]\t[prob. sadness]\t[prob. surprise]\t[prob. neutral]
anger/1.jpg\t3.1\t6.2\t0.5\t0.1\t0.1\t0.0\t0.2\t0.1\t0.0
sadness/1.jpg\t2.0\t4.5\t0.0\t0.0\t0.1\t0.0\t0.8\t0.0\t0.1
"""


def test_emotion6_attaches_the_ground_truth(tmp_path):
    root = tmp_path / "Emotion6"
    for emotion in ("anger", "sadness"):
        for index in (1, 2):
            write_image(root / "images" / emotion / f"{index}.jpg", seed=index)
    (root / "ground_truth.txt").write_text(GROUND_TRUTH)
    scan, name = read_dataset(root)
    assert name == "emotion6"
    manifest = scan.manifest.set_index("relpath")
    sad = manifest.loc["images/sadness/1.jpg"]
    assert (sad["label"], sad["valence"], sad["arousal"], sad["prob_sadness"]) == \
        ("sadness", 2.0, 4.5, 0.8)
    assert manifest.loc["images/anger/1.jpg", "prob_anger"] == 0.5
    assert math.isnan(manifest.loc["images/anger/2.jpg", "valence"])  # not in the file


def test_emotion6_bad_ground_truth_line_names_the_line(tmp_path):
    root = tmp_path / "e6"
    make_class_folders(root / "images", {"anger": 1, "joy": 1})
    (root / "ground_truth.txt").write_text(GROUND_TRUTH + "joy/1.jpg\t5.0\tbroken\n")
    with pytest.raises(DataError, match=r"ground_truth\.txt:4: expected an image name"):
        read_dataset(root)


def test_unbiasedemo_labels_by_emotion_and_keeps_the_object(tmp_path):
    root = tmp_path / "UnBiasedEmo"
    write_image(root / "images" / "sadness" / "dog" / "1.jpg")
    write_image(root / "images" / "sadness" / "city" / "2.jpg", seed=1)
    write_image(root / "images" / "joy" / "dog" / "3.jpg", seed=2)
    scan, name = read_dataset(root)
    assert name == "unbiasedemo"
    manifest = scan.manifest.set_index("relpath")
    assert manifest["label"].to_dict() == {"images/joy/dog/3.jpg": "joy",
                                           "images/sadness/city/2.jpg": "sadness",
                                           "images/sadness/dog/1.jpg": "sadness"}
    assert manifest.loc["images/sadness/city/2.jpg", "object"] == "city"


@pytest.mark.parametrize("subdir", ["emotion_dataset", ""])
def test_fi_layouts(tmp_path, subdir):
    root = tmp_path / "FI"
    make_class_folders(root / subdir, {"amusement": 2, "Sadness": 2, "awe": 1})
    scan, name = read_dataset(root)
    assert name == "fi"
    assert scan.class_counts().to_dict() == {"Sadness": 2, "amusement": 2, "awe": 1}
    prefix = f"{subdir}/" if subdir else ""
    assert scan.manifest["relpath"].iloc[0] == f"{prefix}Sadness/Sadness_000.jpg"


def test_webemo_style_folders_keep_the_fine_grained_category(tmp_path):
    root = make_class_folders(tmp_path / "webemo", {"affection": 2, "disappointment": 2,
                                                    "sadness": 1})
    scan, name = read_dataset(root)
    assert name == "webemo"
    assert set(scan.manifest["category"]) == {"affection", "disappointment", "sadness"}


def test_plain_folders_and_csv_are_detected(tmp_path, binary_folder):
    assert detect_adapter(binary_folder) == "folders"
    csv = binary_folder / "m.csv"
    pd.DataFrame({"path": ["sadness/sadness_000.jpg", "other/other_000.jpg"],
                  "label": ["sadness", "other"]}).to_csv(csv, index=False)
    assert detect_adapter(csv) == "csv"
    scan, _ = read_dataset(csv)
    assert len(scan.manifest) == 2


def test_forced_adapter_and_unknown_names(binary_folder):
    scan, name = read_dataset(binary_folder, adapter="folders")
    assert name == "folders" and len(scan.manifest) == 20
    with pytest.raises(ConfigError, match="unknown dataset adapter 'imagenet'; valid: auto, csv"):
        read_dataset(binary_folder, adapter="imagenet")
    assert list(adapters.ADAPTERS)[-1] == "folders"  # the catch-all comes last


# --- images without labels -------------------------------------------------------------------


def test_read_images_checks_a_plain_folder_at_every_depth(tmp_path):
    folder = tmp_path / "photos"
    write_image(folder / "a.jpg")
    write_image(folder / "2024" / "june" / "b.png", seed=1)
    write_image(folder / ".hidden" / "c.jpg", seed=2)
    (folder / "2024" / "empty.jpg").touch()
    (folder / "notes.txt").write_text("not listed: not an image file name")
    assert adapters.has_loose_images(folder) and not adapters.has_loose_images(tmp_path)
    scan = adapters.read_images([folder])
    assert scan.manifest["path"].tolist() == [str(folder / "2024" / "june" / "b.png"),
                                              str(folder / "a.jpg")]
    assert set(scan.manifest["label"]) == {""}
    assert scan.skipped[["path", "reason"]].values.tolist() == \
        [[str(folder / "2024" / "empty.jpg"), "empty file"]]


def test_read_images_takes_files_and_csv_lists_of_paths(tmp_path):
    write_image(tmp_path / "data" / "x.jpg")
    write_image(tmp_path / "data" / "y.jpg", seed=1)
    named_oddly = write_image(tmp_path / "z.dat", seed=2, format="JPEG")  # given by name
    listing = tmp_path / "data" / "list.csv"
    pd.DataFrame({"path": ["x.jpg", "../z.dat", "gone.jpg"]}).to_csv(listing, index=False)
    scan = adapters.read_images([listing, named_oddly, tmp_path / "data" / "y.jpg"])
    assert sorted(scan.manifest["path"]) == [str(tmp_path / "data" / "x.jpg"),
                                             str(tmp_path / "data" / "y.jpg"), str(named_oddly)]
    assert dict(zip(scan.skipped["path"], scan.skipped["reason"], strict=True)) == {
        str(tmp_path / "data" / "../z.dat"): "outside dataset root",
        str(tmp_path / "data" / "gone.jpg"): "file not found",
    }
    with pytest.raises(DataError, match="no such file or folder"):
        adapters.read_images([tmp_path / "nothing"])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.jpg").write_bytes(b"GIF89a")
    with pytest.raises(DataError, match=r"no readable image found \(1 files skipped"):
        adapters.read_images([tmp_path / "bad"])

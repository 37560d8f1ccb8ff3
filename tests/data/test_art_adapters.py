"""The art datasets, WikiArt Emotions and ArtEmis, on miniature copies written here."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from dataset_builders import write_image

from thesis_lib.cli import main as thesis
from thesis_lib.data import labels, prepare_dataset
from thesis_lib.data.adapters import artemis_votes, detect_adapter, read_dataset
from thesis_lib.data.labels import wikiart_to_mikels
from thesis_lib.errors import ConfigError, DataError

WIKIART_SCENARIO_PREFIXES = ("Art (image+title)", "ImageOnly", "TitleOnly")
WIKIART_INFO = ["ID", "Style", "Category", "Artist", "Title", "Year", "Image URL",
                "Painting Info URL", "Artist Info URL"]


def write_wikiart_tsv(path, rows):
    """A TSV with the distributed columns; ``rows`` are (ID, {scenario prefix: emotions})."""
    emotion_columns = [f"{prefix}: {emotion}" for prefix in WIKIART_SCENARIO_PREFIXES
                       for emotion in labels.WIKIART_EMOTIONS]
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, delimiter="\t")
        writer.writerow(WIKIART_INFO + emotion_columns)
        for image_id, annotations in rows:
            info = [image_id, "Modern Art", "Expressionism", "Edvard Munch", f"Title {image_id}",
                    "1893", f"https://example.org/{image_id}.jpg", "", ""]
            values = []
            for prefix in WIKIART_SCENARIO_PREFIXES:
                present = annotations.get(prefix, {})
                values += [present.get(emotion, 0) if isinstance(present, dict)
                           else int(emotion in present) for emotion in labels.WIKIART_EMOTIONS]
            writer.writerow(info + values)
    return path


@pytest.fixture
def wikiart(tmp_path):
    """WikiArt-Emotions-Ag4.tsv and its downloaded images, one row per labelling rule."""
    root = tmp_path / "WikiArt-Emotions"
    root.mkdir()
    rows = {
        "a1": {"ImageOnly": ["sadness"], "TitleOnly": ["happiness"]},
        "b2": {"ImageOnly": ["sadness", "regret", "neutral"], "TitleOnly": ["fear"]},
        "c3": {"ImageOnly": ["happiness", "surprise"]},          # contentment
        "d4": {"ImageOnly": ["love", "sadness"]},                # both sentiments
        "e5": {"ImageOnly": ["love", "trust"]},                  # no Mikels counterpart
        "f6": {"ImageOnly": ["fear", "sadness"]},                # two Mikels classes
        "g7": {"ImageOnly": ["anger"]},                          # image never downloaded
        "h8": {},                                                # no emotion
        "i9": {"ImageOnly": ["sadness"]},                        # broken download
    }
    write_wikiart_tsv(root / "WikiArt-Emotions-Ag4.tsv", rows.items())
    for index, image_id in enumerate(["a1", "b2", "d4", "e5", "f6", "h8"]):
        write_image(root / "images" / f"part{index % 2}" / f"{image_id}.jpg", seed=index)
    write_image(root / "c3.png", seed=7)
    (root / "images" / "i9.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    return root


def test_wikiart_is_detected_in_its_folder_and_as_the_tsv_itself(wikiart):
    assert detect_adapter(wikiart) == "wikiart"
    assert detect_adapter(wikiart / "WikiArt-Emotions-Ag4.tsv") == "wikiart"


def test_wikiart_labels_follow_the_documented_mapping(wikiart):
    scan, name = read_dataset(wikiart)
    assert name == "wikiart"
    manifest = scan.manifest.set_index("wikiart_id")
    assert manifest["label"].to_dict() == {"a1": "sadness", "b2": "sadness", "c3": "contentment"}
    assert manifest.loc["b2", "emotions"] == "regret;sadness;neutral"
    assert manifest.loc["c3", "sentiment"] == "positive"
    assert manifest.loc["a1", "sentiment"] == "negative"
    assert manifest.loc["a1", "relpath"] == "images/part0/a1.jpg"
    assert manifest.loc["a1", ["style", "artist", "year"]].tolist() == \
        ["Modern Art", "Edvard Munch", "1893"]
    assert set(manifest["scenario"]) == {"image"}


def test_wikiart_reports_every_record_it_cannot_use_with_its_reason(wikiart):
    scan, _ = read_dataset(wikiart)
    reasons = {path.split("/")[-1].split(".")[0]: reason
               for path, reason in zip(scan.skipped["path"], scan.skipped["reason"], strict=True)}
    assert reasons == {
        "d4": labels.REASON_BOTH_SENTIMENTS,
        "e5": labels.REASON_UNMAPPED,
        "f6": labels.REASON_SEVERAL_CLASSES,
        "g7": "file not found",
        "h8": labels.REASON_NO_EMOTION,
        "i9": "truncated or corrupt",
    }
    detail = scan.skipped.set_index("reason").loc[labels.REASON_SEVERAL_CLASSES, "detail"]
    assert detail == "ID f6: emotions fear, sadness map to fear, sadness"


def test_wikiart_scenario_option_reads_other_columns(wikiart):
    scan, name = read_dataset(wikiart, adapter="wikiart:title")
    assert name == "wikiart:title"
    # Only a1 and b2 have title-only annotations: the others have no emotion in that scenario.
    assert scan.manifest.set_index("wikiart_id")["label"].to_dict() == \
        {"a1": "contentment", "b2": "fear"}
    with pytest.raises(ConfigError, match="has no option 'titles'; valid: wikiart:image, "
                                          "wikiart:art, wikiart:title"):
        read_dataset(wikiart, adapter="wikiart:titles")


def test_wikiart_all_file_uses_the_ag4_share_of_annotators(tmp_path):
    root = tmp_path / "wa"
    root.mkdir()
    write_wikiart_tsv(root / "WikiArt-Emotions-All.tsv", [
        ("x1", {"ImageOnly": {"sadness": 0.4, "fear": 0.3}}),   # sadness only
        ("x2", {"ImageOnly": {"fear": 0.6, "love": 0.2}}),       # fear only
    ])
    for image_id in ("x1", "x2"):
        write_image(root / f"{image_id}.jpg")
    scan, _ = read_dataset(root)
    assert scan.manifest.set_index("wikiart_id")["label"].to_dict() == \
        {"x1": "sadness", "x2": "fear"}


def test_wikiart_folder_without_ag4_and_several_files_asks_which(tmp_path):
    root = tmp_path / "wa"
    root.mkdir()
    for level in ("Ag3", "Ag5"):
        write_wikiart_tsv(root / f"WikiArt-Emotions-{level}.tsv", [("x1", {})])
    with pytest.raises(DataError, match="several WikiArt Emotions files"):
        read_dataset(root)
    scan_file = root / "WikiArt-Emotions-Ag5.tsv"
    assert detect_adapter(scan_file) == "wikiart"


def test_wikiart_file_of_another_layout_names_the_missing_columns(tmp_path):
    root = tmp_path / "wa"
    root.mkdir()
    (root / "WikiArt-Emotions-Ag4.tsv").write_text("ID\tStyle\nx1\tModern Art\n")
    with pytest.raises(DataError, match=r"missing column\(s\) 'ImageOnly: agreeableness'"):
        read_dataset(root)


def test_wikiart_images_go_through_the_mikels8_scheme(wikiart):
    with pytest.warns(UserWarning, match="no image of class 'amusement'"):
        prepared = prepare_dataset(wikiart, scheme="mikels8", ratios=(1.0, 0.0, 0.0))
    assert prepared.manifest["label"].value_counts().to_dict() == {"sadness": 2, "contentment": 1}


@pytest.mark.parametrize(("emotions", "label", "reason"), [
    (["sadness"], "sadness", None),
    (["shame", "pessimism", "regret"], "sadness", None),
    (["happiness", "neutral", "anticipation"], "contentment", None),
    (["disgust", "arrogance"], "disgust", None),
    (["optimism", "fear"], None, labels.REASON_BOTH_SENTIMENTS),
    (["gratitude", "humility"], None, labels.REASON_UNMAPPED),
    (["neutral"], None, labels.REASON_UNMAPPED),
    (["anger", "disgust"], None, labels.REASON_SEVERAL_CLASSES),
    ([], None, labels.REASON_NO_EMOTION),
])
def test_wikiart_to_mikels_rules(emotions, label, reason):
    decision = wikiart_to_mikels(emotions)
    assert (decision.label, decision.reason) == (label, reason)
    if label is not None:
        assert decision.sentiment == labels.MIKELS8_SENTIMENT[label]


def test_wikiart_tables_cover_the_20_emotions_and_map_into_mikels8():
    assert len(labels.WIKIART_EMOTIONS) == 20
    assert set(labels.WIKIART_SENTIMENT) == set(labels.WIKIART_EMOTIONS)
    assert set(labels.WIKIART_TO_MIKELS8.values()) <= set(labels.MIKELS8)
    for emotion, mikels in labels.WIKIART_TO_MIKELS8.items():  # a mapping keeps the sentiment
        assert labels.WIKIART_SENTIMENT[emotion] == labels.MIKELS8_SENTIMENT[mikels]
    with pytest.raises(DataError, match="unknown WikiArt emotion"):
        wikiart_to_mikels(["joy"])


# --- ArtEmis ---------------------------------------------------------------------------------

ARTEMIS_VOTES = {
    ("Impressionism", "claude-monet_rain"): ["sadness"] * 3 + ["fear", "something else"],
    ("Impressionism", "claude-monet_garden"): ["awe", "awe", "contentment", "contentment"],
    ("Impressionism", "edgar-degas_dancers"): ["something else"] * 3 + ["amusement"],
    ("Baroque", "rembrandt_self-portrait"): ["amusement"],
    ("Baroque", "caravaggio_never-downloaded"): ["anger", "anger"],
}


def write_artemis(root, image_folder=""):
    root.mkdir(parents=True, exist_ok=True)
    rows = [{"art_style": style, "painting": painting, "emotion": emotion,
             "utterance": f'it feels like "{emotion}", somehow', "repetition": 10}
            for (style, painting), emotions in ARTEMIS_VOTES.items() for emotion in emotions]
    pd.DataFrame(rows).to_csv(root / "artemis_dataset_release_v0.csv", index=False)
    for index, (style, painting) in enumerate(list(ARTEMIS_VOTES)[:4]):
        write_image(root / image_folder / style / f"{painting}.jpg", seed=index)
    return root


def test_artemis_labels_each_painting_by_its_majority_emotion(tmp_path):
    root = write_artemis(tmp_path / "artemis")
    assert detect_adapter(root) == "artemis"
    scan, name = read_dataset(root)
    assert name == "artemis"
    manifest = scan.manifest.set_index("painting")
    assert manifest["label"].to_dict() == {"claude-monet_rain": "sadness",
                                           "rembrandt_self-portrait": "amusement"}
    rain = manifest.loc["claude-monet_rain"]
    assert (rain["relpath"], rain["votes"], rain["agreement"], rain["sentiment"]) == \
        ("Impressionism/claude-monet_rain.jpg", 5, 0.6, "negative")
    assert (rain["votes_sadness"], rain["votes_fear"], rain["votes_something_else"]) == (3, 1, 1)
    reasons = dict(zip(scan.skipped["path"].map(lambda path: path.split("/")[-1]),
                       scan.skipped["reason"], strict=True))
    assert reasons == {"claude-monet_garden.jpg": labels.REASON_TIE,
                       "edgar-degas_dancers.jpg": labels.REASON_SOMETHING_ELSE,
                       "caravaggio_never-downloaded.jpg": "file not found"}


def test_artemis_csv_itself_is_not_taken_for_a_manifest(tmp_path):
    root = write_artemis(tmp_path / "artemis", image_folder="wikiart")
    csv_file = root / "artemis_dataset_release_v0.csv"
    assert detect_adapter(csv_file) == "artemis"
    scan, _ = read_dataset(csv_file)
    assert sorted(scan.manifest["relpath"]) == [
        "wikiart/Baroque/rembrandt_self-portrait.jpg",
        "wikiart/Impressionism/claude-monet_rain.jpg",
    ]


def test_artemis_votes_count_utterances_and_reject_unknown_emotions():
    table = pd.DataFrame({"art_style": ["A", "A", "A", "B"], "painting": ["p", "p", "p", "q"],
                          "emotion": ["sadness", "Something Else", "sadness", "awe"]})
    votes = artemis_votes(table)
    assert list(votes.columns) == labels.ARTEMIS_EMOTIONS
    assert votes.loc[("A", "p")].to_dict() == {**dict.fromkeys(labels.ARTEMIS_EMOTIONS, 0),
                                               "sadness": 2, "something_else": 1}
    table.loc[3, "emotion"] = "boredom"
    with pytest.raises(DataError, match="unknown emotion.*'boredom'"):
        artemis_votes(table)


@pytest.mark.parametrize(("votes", "label", "reason"), [
    ({"sadness": 2, "fear": 1}, "sadness", None),
    ({"sadness": 2, "fear": 2}, None, labels.REASON_TIE),
    ({"sadness": 2, "something_else": 2}, None, labels.REASON_TIE),
    ({"something_else": 3, "awe": 1}, None, labels.REASON_SOMETHING_ELSE),
    ({}, None, labels.REASON_NO_EMOTION),
])
def test_majority_emotion_never_breaks_ties(votes, label, reason):
    decision = labels.majority_emotion(votes)
    assert (decision.label, decision.reason) == (label, reason)


def test_thesis_data_scan_detects_both_art_layouts(wikiart, tmp_path, capsys):
    assert thesis(["data", "scan", str(wikiart), "--report", str(tmp_path / "skipped.csv")]) == 0
    output = capsys.readouterr().out
    assert "layout: wikiart" in output and "6 files skipped" in output
    assert "both sentiments: 1" in output
    assert len(pd.read_csv(tmp_path / "skipped.csv")) == 6
    artemis = write_artemis(tmp_path / "artemis")
    assert thesis(["data", "scan", str(artemis)]) == 0
    assert "layout: artemis" in capsys.readouterr().out

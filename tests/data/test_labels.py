"""Label schemes: names, synonyms, one-vs-rest and dropped labels."""

from __future__ import annotations

import pytest

from thesis_lib.data.labels import MIKELS8, THESIS7, canonical_emotion, get_scheme
from thesis_lib.errors import ConfigError


def test_default_binary_scheme_is_sadness():
    scheme = get_scheme("sadness")
    assert scheme.class_names == ["not_sadness", "sadness"]
    for raw in ["sadness", "Sad", " SADNESS ", "03_sadness", "sorrow", "disappointment"]:
        assert scheme.map_label(raw) == 1, raw
    for raw in ["other", "not_sadness", "joy", "amusement", "anger", "neutral", "whatever"]:
        assert scheme.map_label(raw) == 0, raw
    assert scheme.map_label("") is None


def test_binary_scheme_for_any_emotion():
    scheme = get_scheme("binary:happiness")
    assert scheme.class_names == ["not_joy", "joy"]
    assert scheme.map_label("Happy") == 1 and scheme.map_label("sad") == 0
    with pytest.raises(ConfigError, match="unknown emotion 'boredom'"):
        get_scheme("binary:boredom")


def test_mikels8_keeps_emosets_order_and_drops_other_labels():
    scheme = get_scheme("mikels8")
    assert scheme.class_names == MIKELS8
    assert [scheme.map_label(name) for name in MIKELS8] == list(range(8))
    assert scheme.map_label("Excited") == MIKELS8.index("excitement")
    assert scheme.map_label("joy") is None  # ambiguous between amusement and contentment
    assert "not in scheme 'mikels8'" in scheme.drop_reason("joy")


def test_thesis7_maps_synonyms_and_fine_grained_categories():
    scheme = get_scheme("thesis7")
    assert scheme.class_names == THESIS7
    assert scheme.map_label("happiness") == THESIS7.index("joy")
    assert scheme.map_label("affection") == THESIS7.index("love")
    assert scheme.map_label("nervousness") == THESIS7.index("fear")
    assert scheme.map_label("Confused") == THESIS7.index("confusion")
    assert scheme.map_label("disgust") is None  # not one of the 7


def test_folder_scheme_uses_sorted_raw_names_exactly():
    scheme = get_scheme("folders", raw_labels=["b", "a", "c", "a"])
    assert scheme.class_names == ["a", "b", "c"]
    assert scheme.map_label("c") == 2 and scheme.map_label("C") is None
    with pytest.raises(ConfigError, match="needs the dataset's labels"):
        get_scheme("folders")


def test_unknown_scheme_lists_the_valid_names():
    with pytest.raises(ConfigError, match="valid: sadness, binary:<emotion>, mikels8"):
        get_scheme("emotions9")


def test_canonical_names():
    assert canonical_emotion("Happiness") == "joy"
    assert canonical_emotion("not sad") == "not_sad"
    assert canonical_emotion("Awe") == "awe"

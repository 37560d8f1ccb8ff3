"""Label schemes: which classes a model predicts and how each dataset's raw labels map to them.

Raw labels differ between datasets ("sad", "Sadness", "joy" vs "happiness", WEBEmo's
fine-grained categories). ``canonical_emotion`` normalises them to one vocabulary; a scheme
then maps the canonical emotion to a class index, or to None when the image does not belong
to the scheme (such images are dropped with a reason, never guessed).

Schemes:
    "sadness"            binary, class names ["not_sadness", "sadness"] (the thesis task)
    "binary:<emotion>"   one-vs-rest for any emotion; every raw label maps (emotion -> 1)
    "mikels8"            amusement, awe, contentment, excitement, anger, disgust, fear,
                         sadness (EmoSet's order)
    "thesis7"            joy, love, sadness, surprise, confusion, anger, fear
    "folders"            one class per raw label, sorted by name
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from thesis_lib.errors import ConfigError

MIKELS8 = ["amusement", "awe", "contentment", "excitement", "anger", "disgust", "fear", "sadness"]
THESIS7 = ["joy", "love", "sadness", "surprise", "confusion", "anger", "fear"]

# Spellings seen in public datasets -> one canonical emotion name.
SYNONYMS = {
    "sad": "sadness", "sorrow": "sadness", "unhappy": "sadness",
    "happy": "joy", "happiness": "joy", "joyful": "joy",
    "amused": "amusement", "funny": "amusement",
    "angry": "anger", "anger": "anger",
    "afraid": "fear", "scared": "fear", "fearful": "fear",
    "disgusted": "disgust", "disgusting": "disgust",
    "surprised": "surprise",
    "excited": "excitement",
    "content": "contentment", "contented": "contentment",
    "awed": "awe",
    "loving": "love",
    "confused": "confusion",
}  # fmt: skip

# WEBEmo's 25 fine-grained categories grouped under the 7 thesis emotions, following Parrott's
# (2001) emotion tree, on which WEBEmo's hierarchy is built. Categories that exist in the
# target schemes themselves (sadness, surprise, confusion, contentment, disgust) keep their
# own name so that "mikels8" can still use them; WEBEmo's "disgust" (under anger in Parrott's
# tree) is left out because FI and Emotion6 use "disgust" as a class of its own.
WEBEMO_TO_THESIS7 = {
    "affection": "love", "lust": "love", "gratitude": "love",
    "cheerfulness": "joy", "cheerfullness": "joy", "zest": "joy", "optimism": "joy",
    "pride": "joy", "enthrallment": "joy", "relief": "joy", "contentment": "joy",
    "surprise": "surprise",
    "confusion": "confusion",
    "irritability": "anger", "irritabilty": "anger", "exasperation": "anger", "rage": "anger",
    "envy": "anger",
    "suffering": "sadness", "sadness": "sadness", "disappointment": "sadness",
    "shame": "sadness", "neglect": "sadness", "sympathy": "sadness",
    "horror": "fear", "nervousness": "fear",
}  # fmt: skip

KNOWN_EMOTIONS = sorted(set(MIKELS8) | set(THESIS7) | {"surprise", "neutral"})
SCHEME_NAMES = ["sadness", "binary:<emotion>", "mikels8", "thesis7", "folders"]


def normalize_label(raw: object) -> str:
    """Lower case, words joined by "_", surrounding spaces, digits and punctuation removed."""
    text = str(raw).strip().lower()
    text = re.sub(r"^\d+[\s_.-]*", "", text)  # "01_sadness" -> "sadness"
    return re.sub(r"[\s\-./]+", "_", text).strip("_")


def canonical_emotion(raw: object) -> str:
    """The canonical emotion name of a raw label ("Sad" -> "sadness"); unknown names unchanged
    (normalised)."""
    name = normalize_label(raw)
    return SYNONYMS.get(name, name)


def _to_thesis7(emotion: str) -> str:
    return WEBEMO_TO_THESIS7.get(emotion, emotion)


@dataclass(frozen=True)
class LabelScheme:
    """A set of classes and the rule mapping raw labels onto them.

    Args:
        name: The scheme's name (as given to ``get_scheme``).
        class_names: Class names in index order.
        positive: For binary one-vs-rest schemes, the emotion of index 1.
        aliases: Extra raw-label -> class-name mappings applied after normalisation.
        exact: Match raw labels to class names as written, without normalisation ("folders").
    """

    name: str
    class_names: list[str]
    positive: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    exact: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def map_label(self, raw: object) -> int | None:
        """The class index of a raw label, or None when the label is outside the scheme."""
        if raw is None or not str(raw).strip():
            return None
        if self.exact:
            raw = str(raw)
            return self.class_names.index(raw) if raw in self.class_names else None
        emotion = canonical_emotion(raw)
        if self.positive is not None:
            # One-vs-rest: every label maps; fine-grained names count for their parent emotion.
            hit = emotion == self.positive or self.aliases.get(emotion) == self.positive
            return 1 if hit else 0
        if emotion in self.class_names:
            return self.class_names.index(emotion)
        mapped = self.aliases.get(emotion)
        if mapped in self.class_names:
            return self.class_names.index(mapped)
        return None

    def drop_reason(self, raw: object) -> str:
        """Why ``map_label(raw)`` is None, for skip reports."""
        return f"label '{raw}' is not in scheme '{self.name}' ({', '.join(self.class_names)})"


def binary_scheme(emotion: str) -> LabelScheme:
    """One-vs-rest for ``emotion``: class names ["not_<emotion>", "<emotion>"]."""
    positive = canonical_emotion(emotion)
    known = set(KNOWN_EMOTIONS) | set(WEBEMO_TO_THESIS7)
    if positive not in known:
        raise ConfigError(
            f"unknown emotion '{emotion}' for a binary scheme; known: {', '.join(sorted(known))}"
        )
    name = "sadness" if positive == "sadness" else f"binary:{positive}"
    return LabelScheme(name, [f"not_{positive}", positive], positive=positive,
                       aliases=dict(WEBEMO_TO_THESIS7))


def get_scheme(name: str, raw_labels: Iterable[object] | None = None) -> LabelScheme:
    """A label scheme by name.

    Args:
        name: "sadness", "binary:<emotion>", "mikels8", "thesis7" or "folders".
        raw_labels: The dataset's raw labels; needed by "folders" (one class per label).

    Raises:
        ConfigError: an unknown scheme or emotion, or "folders" without labels.
    """
    key = str(name).strip().lower()
    if key == "sadness":
        return binary_scheme("sadness")
    if key.startswith("binary:"):
        return binary_scheme(key.split(":", 1)[1])
    if key == "mikels8":
        return LabelScheme("mikels8", list(MIKELS8))
    if key == "thesis7":
        return LabelScheme("thesis7", list(THESIS7), aliases=dict(WEBEMO_TO_THESIS7))
    if key == "folders":
        labels = sorted({str(label) for label in (raw_labels if raw_labels is not None else ())
                     if str(label).strip()})
        if len(labels) < 2:
            raise ConfigError(
                "scheme 'folders' needs the dataset's labels (at least two); "
                f"got {labels or 'none'}"
            )
        return LabelScheme("folders", labels, exact=True)
    raise ConfigError(f"unknown label scheme '{name}'; valid: {', '.join(SCHEME_NAMES)}")
